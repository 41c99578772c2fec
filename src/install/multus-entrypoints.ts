import { CniError, ErrorCode } from '../cni/errors';

/*
 * Go Multus's image starts its installer as /thin_entrypoint (the DaemonSet's container) and /install_multus (its
 * init container). Our image links both names to this executable, which turns them into `multus install` with
 * Multus's defaults, so Multus's DaemonSet runs our image unchanged.
 */

export const THIN_ENTRYPOINT = 'thin_entrypoint';
export const INSTALL_MULTUS = 'install_multus';

// thin_entrypoint's defaults: the host's directories under /host. Given first, so the caller's flags override them.
const THIN_DEFAULTS = ['--cni-bin-dir=/host/opt/cni/bin', '--cni-conf-dir=/host/etc/cni/net.d', '--multus-autoconfig-dir=/host/etc/cni/net.d'];

/**
 * The `multus install` arguments for `thin_entrypoint <args>`: like Multus it stays until SIGTERM; unlike Multus it
 * keeps the kubeconfig and 00-multus current meanwhile even without --cleanup-config-on-exit (Multus then never
 * refreshes the token, and pods fail with Unauthorized once it expires).
 */
export function thinEntrypointArgs(args: readonly string[]): string[] {
  return ['install', ...THIN_DEFAULTS, '--watch', '--stay-running', ...args];
}

/** The `multus install` arguments for `install_multus --type thin [--dest-dir DIR]`: the executable only. */
export function installMultusArgs(args: readonly string[]): string[] {
  let type = '';
  let dest = '/host/opt/cni/bin';
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^(--type|-t|--dest-dir|-d)(?:=(.*))?$/.exec(a) ?? /^(-t|-d)(.+)$/.exec(a);
    if (a === '-h' || a === '--help') return ['install', '--help'];
    if (!m) throw new CniError(ErrorCode.InvalidNetworkConfig, `${INSTALL_MULTUS}: unknown argument ${JSON.stringify(a)}`, 'use --type thin and optionally --dest-dir DIR');
    const value = m[2] ?? args[++i] ?? '';
    if (m[1] === '--type' || m[1] === '-t') type = value;
    else dest = value;
  }
  if (type !== 'thin') {
    throw new CniError(ErrorCode.InvalidNetworkConfig, `${INSTALL_MULTUS}: --type ${type === '' ? 'is missing' : `${JSON.stringify(type)} is not supported`}`,
      'multus-ts is a thin plugin only: use --type thin');
  }
  return ['install', '--app-only', `--cni-bin-dir=${dest}`];
}
