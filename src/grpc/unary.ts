/**
 * One unary gRPC call over HTTP/2 on a unix socket: the request is a 5-byte-prefixed protobuf message on a POST to
 * `/<service>/<method>`, the answer one such message followed by `grpc-status`/`grpc-message` trailers.
 *
 * Written on node:http2 rather than @grpc/grpc-js: the two local APIs we call (kubelet PodResources, CRI) need one
 * request each, and grpc-js plus a protobuf runtime would cost more start-up time than the call itself.
 * No TLS, no compression, no retries, no streaming: local sockets of the kubelet and the runtime need none of them.
 */
import { connect as connectHttp2, type ClientHttp2Session, type IncomingHttpHeaders } from 'node:http2';
import { connect as connectSocket } from 'node:net';

/** gRPC status codes (grpc/doc/statuscodes.md), the ones this client produces or callers test for. */
export const GrpcStatus = {
  OK: 0,
  Cancelled: 1,
  Unknown: 2,
  InvalidArgument: 3,
  DeadlineExceeded: 4,
  NotFound: 5,
  PermissionDenied: 7,
  ResourceExhausted: 8,
  Unimplemented: 12,
  Internal: 13,
  Unavailable: 14,
  Unauthenticated: 16,
} as const;

const STATUS_NAMES = [
  'OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS',
  'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED', 'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED',
  'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED',
];

/** The call did not succeed: the server's status, or one this client chose for a transport failure. */
export class GrpcError extends Error {
  constructor(
    readonly code: number,
    /** The server's grpc-message, or this client's account of what went wrong. */
    readonly details: string,
    /** The errno code (`ENOENT`, `ECONNREFUSED`…) when the socket could not be reached. */
    readonly systemCode?: string,
  ) {
    super(`${STATUS_NAMES[code] ?? `status ${code}`}: ${details}`);
    this.name = 'GrpcError';
  }
}

export interface UnaryCall {
  socketPath: string;
  /** Fully qualified service name, e.g. `v1.PodResourcesLister`. */
  service: string;
  method: string;
  /** The encoded request message. */
  request: Uint8Array;
  /** The whole call, from connecting to the trailers; also sent to the server as `grpc-timeout`. */
  deadlineMs: number;
  /** Largest answer accepted; gRPC's own default is 4 MiB. */
  maxResponseBytes?: number;
}

const DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024;

/** The 5-byte gRPC message prefix: a compressed flag (always 0 here) and the length, big-endian. */
function frame(message: Uint8Array): Buffer {
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

function unframe(body: Buffer): Buffer[] {
  const messages: Buffer[] = [];
  for (let pos = 0; pos < body.length; ) {
    if (body.length - pos < 5) throw new GrpcError(GrpcStatus.Internal, 'the answer ends inside a message prefix');
    if (body[pos] !== 0) throw new GrpcError(GrpcStatus.Internal, 'the server sent a compressed message, which was not negotiated');
    const len = body.readUInt32BE(pos + 1);
    if (len > body.length - pos - 5) throw new GrpcError(GrpcStatus.Internal, `the answer ends inside a message (${len} bytes announced)`);
    messages.push(body.subarray(pos + 5, pos + 5 + len));
    pos += 5 + len;
  }
  return messages;
}

/** grpc-message is percent-encoded (gRPC over HTTP/2 spec); a malformed encoding is shown as it came. */
function decodeGrpcMessage(raw: string | string[] | undefined): string {
  const text = Array.isArray(raw) ? raw.join(',') : (raw ?? '');
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** What gRPC clients report when the HTTP status is not 200 and no grpc-status came (gRPC's http-grpc-status-mapping). */
function statusForHttp(httpStatus: number): number {
  if (httpStatus === 401) return GrpcStatus.Unauthenticated;
  if (httpStatus === 403) return GrpcStatus.PermissionDenied;
  if (httpStatus === 404) return GrpcStatus.Unimplemented;
  if ([429, 502, 503, 504].includes(httpStatus)) return GrpcStatus.Unavailable;
  return GrpcStatus.Unknown;
}

/** grpc-timeout allows at most 8 digits; milliseconds cover 27 hours. */
function grpcTimeout(ms: number): string {
  return `${Math.min(Math.max(1, Math.ceil(ms)), 99_999_999)}m`;
}

export function unaryCall(call: UnaryCall): Promise<Buffer> {
  const maxResponseBytes = call.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  return new Promise<Buffer>((resolve, reject) => {
    let settled = false;
    let session: ClientHttp2Session | undefined;
    const finish = (err: GrpcError | undefined, value?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      session?.destroy();
      if (err) reject(err);
      else resolve(value!);
    };
    const timer = setTimeout(
      () => finish(new GrpcError(GrpcStatus.DeadlineExceeded, `no answer from ${call.socketPath} within ${(call.deadlineMs / 1000).toFixed(1)} s`)),
      call.deadlineMs,
    );

    const connectionFailed = (err: NodeJS.ErrnoException): void => {
      finish(new GrpcError(GrpcStatus.Unavailable, `cannot talk to ${call.socketPath}: ${err.message}`, err.code));
    };
    // The socket's own error comes first and carries the errno (ENOENT, ECONNREFUSED); the stream's is generic.
    const socket = connectSocket(call.socketPath).on('error', connectionFailed);
    session = connectHttp2('http://localhost', { createConnection: () => socket });
    session.on('error', connectionFailed);

    const stream = session.request({
      ':method': 'POST',
      ':path': `/${call.service}/${call.method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
      'grpc-timeout': grpcTimeout(call.deadlineMs),
    });
    let httpStatus = 0;
    let contentType = '';
    let grpcStatus: string | undefined;
    let grpcMessage = '';
    const chunks: Buffer[] = [];
    let received = 0;

    const takeStatus = (headers: IncomingHttpHeaders): void => {
      const status = headers['grpc-status'];
      if (status !== undefined) {
        grpcStatus = Array.isArray(status) ? status[0] : status;
        grpcMessage = decodeGrpcMessage(headers['grpc-message']);
      }
    };
    stream.on('response', (headers) => {
      httpStatus = Number(headers[':status']);
      contentType = String(headers['content-type'] ?? '');
      takeStatus(headers); // a "trailers-only" answer carries its status in the headers
    });
    stream.on('trailers', takeStatus);
    stream.on('data', (chunk: Buffer) => {
      received += chunk.length;
      if (received > maxResponseBytes + 5) {
        finish(new GrpcError(GrpcStatus.ResourceExhausted, `the answer from ${call.socketPath} is larger than ${maxResponseBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    stream.on('error', (err: NodeJS.ErrnoException) => {
      finish(new GrpcError(GrpcStatus.Unavailable, `the call to ${call.socketPath} failed: ${err.message}`, err.code));
    });
    stream.on('close', () => {
      if (settled) return;
      if (grpcStatus === undefined) {
        if (httpStatus !== 200 && httpStatus !== 0) {
          finish(new GrpcError(statusForHttp(httpStatus), `${call.socketPath} answered HTTP ${httpStatus} without a gRPC status`));
        } else {
          finish(new GrpcError(GrpcStatus.Internal, `${call.socketPath} closed the call without a gRPC status (stream code ${stream.rstCode})`));
        }
        return;
      }
      const code = Number(grpcStatus);
      if (!Number.isInteger(code)) {
        finish(new GrpcError(GrpcStatus.Internal, `${call.socketPath} sent an invalid grpc-status ${JSON.stringify(grpcStatus)}`));
        return;
      }
      if (code !== GrpcStatus.OK) {
        finish(new GrpcError(code, grpcMessage || `${call.service}/${call.method} failed without a message`));
        return;
      }
      if (!contentType.startsWith('application/grpc')) {
        finish(new GrpcError(GrpcStatus.Internal, `${call.socketPath} answered with content-type ${JSON.stringify(contentType)}, not application/grpc`));
        return;
      }
      try {
        const messages = unframe(Buffer.concat(chunks));
        if (messages.length !== 1) throw new GrpcError(GrpcStatus.Internal, `a unary call got ${messages.length} messages, expected 1`);
        finish(undefined, messages[0]);
      } catch (err) {
        finish(err as GrpcError);
      }
    });
    stream.end(frame(call.request));
  });
}
