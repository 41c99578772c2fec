/**
 * A kubeconfig exactly as Go Multus 4.2's thin_entrypoint writes it (cmd/thin_entrypoint, createKubeConfig): YAML,
 * the service host in brackets whatever its family, the CA base64 on one line (or insecure-skip-tls-verify with
 * --skip-tls-verify), and the token file's bytes unchanged inside double quotes, trailing newline included.
 */
export interface ThinKubeconfigInput {
  protocol?: string;
  host: string;
  port: string | number;
  /** The service-account CA (PEM); omitted means --skip-tls-verify. */
  caPem?: string;
  /** The token file's content as read from disk. */
  tokenFileContent: string;
}

export function thinKubeconfig(i: ThinKubeconfigInput): string {
  const tls = i.caPem === undefined
    ? 'insecure-skip-tls-verify: true'
    : `certificate-authority-data: ${Buffer.from(i.caPem).toString('base64')}`;
  return `# Kubeconfig file for Multus CNI plugin.
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${i.protocol ?? 'https'}://[${i.host}]:${i.port}
    ${tls}
users:
- name: multus
  user:
    token: "${i.tokenFileContent}"
contexts:
- name: multus-context
  context:
    cluster: local
    user: multus
current-context: multus-context
`;
}
