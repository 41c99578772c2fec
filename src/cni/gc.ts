import { goField } from './config-reader';
import { CniError, ErrorCode } from './errors';

/** One attachment a GC must keep (CNI 1.1): a container ID and an interface name. */
export interface ValidAttachment {
  containerId: string;
  ifName: string;
}

/**
 * The `cni.dev/valid-attachments` of a GC configuration (also under `cni.dev/attachments`, the spelling of the 1.1.0
 * spec text; libcni sends both). Undefined when the runtime sent no list, so that nothing may be released.
 */
export function readValidAttachments(config: Record<string, unknown>): ValidAttachment[] | undefined {
  const raw = goField(config, 'cni.dev/valid-attachments') ?? goField(config, 'cni.dev/attachments');
  if (raw === undefined || raw === null) return undefined;
  const bad = (what: string) =>
    new CniError(ErrorCode.DecodingFailure, `invalid "cni.dev/valid-attachments": ${what}`, 'it must be a list of {"containerID", "ifname"}');
  if (!Array.isArray(raw)) throw bad('not a list');
  return raw.map((a: unknown, i) => {
    const o = (typeof a === 'object' && a !== null ? a : {}) as Record<string, unknown>;
    const containerId = goField(o, 'containerID');
    const ifName = goField(o, 'ifname');
    if (typeof containerId !== 'string' || containerId === '' || typeof ifName !== 'string') {
      throw bad(`entry ${i} needs a non-empty "containerID" and an "ifname"`);
    }
    return { containerId, ifName };
  });
}

/** The keys a GC configuration carries the list under, with the list as the spec writes it. */
export function validAttachmentsKeys(valid: readonly ValidAttachment[]): Record<string, unknown> {
  const list = valid.map((a) => ({ containerID: a.containerId, ifname: a.ifName }));
  return { 'cni.dev/valid-attachments': list, 'cni.dev/attachments': list };
}
