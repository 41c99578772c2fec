/*
 * Kubernetes' name rules (apimachinery's IsDNS1123Label / IsDNS1123Subdomain). Every namespace and object name that
 * reaches a URL or a message passes one of these first; a small module, so that checking CNI_ARGS costs nothing.
 */

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Kubernetes namespace names. */
export function isDns1123Label(s: string): boolean {
  return s.length <= 63 && DNS1123_LABEL.test(s);
}

/** Kubernetes object names: pods, NetworkAttachmentDefinitions (custom resource names may contain dots). */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= 253 && DNS1123_SUBDOMAIN.test(s);
}

export const LABEL_RULE = 'lower case letters, digits and "-", starting and ending with a letter or digit, at most 63 characters';
export const SUBDOMAIN_RULE = 'lower case letters, digits, "-" and ".", starting and ending with a letter or digit, at most 253 characters';
