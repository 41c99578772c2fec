/** Error codes of the CNI spec (SPEC.md "Error codes") plus the Go library's 8 and 999. */
export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnvironment: 4,
  IoFailure: 5,
  DecodingFailure: 6,
  InvalidNetworkConfig: 7,
  InvalidNetns: 8,
  TryAgainLater: 11,
  PluginNotAvailable: 50,
  PluginNotAvailableLimited: 51,
  Internal: 999,
} as const;

/**
 * The one error type that crosses module boundaries: it becomes the CNI error object on stdout.
 * Anything else that is thrown is a bug or an unexpected system error and is reported as 999.
 */
export class CniError extends Error {
  constructor(
    readonly code: number,
    msg: string,
    readonly details = '',
  ) {
    super(msg);
    this.name = 'CniError';
  }

  /** Same code and details, with context put in front of the message. */
  withContext(prefix: string): CniError {
    return new CniError(this.code, `${prefix}: ${this.message}`, this.details);
  }

  toJSON(cniVersion?: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (cniVersion) out.cniVersion = cniVersion;
    out.code = this.code;
    out.msg = this.message;
    if (this.details) out.details = this.details;
    return out;
  }
}

/** Turns anything thrown into a CniError, keeping CNI errors as they are. */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  if (err instanceof Error) return new CniError(ErrorCode.Internal, err.message);
  return new CniError(ErrorCode.Internal, String(err));
}
