import { CniError, ErrorCode } from './errors';

export const COMMANDS = ['ADD', 'DEL', 'CHECK', 'STATUS', 'GC', 'VERSION'] as const;
export type Command = (typeof COMMANDS)[number];

/** The CNI_* parameters of one invocation, validated. Optional ones are '' when not given. */
export interface CmdArgs {
  command: Command;
  containerId: string;
  netns: string;
  ifName: string;
  args: string;
  path: string[];
}

type EnvName = 'CNI_COMMAND' | 'CNI_CONTAINERID' | 'CNI_NETNS' | 'CNI_IFNAME' | 'CNI_PATH';

// Which variables each verb needs, as the reference skel enforces them (stricter than the spec on CNI_PATH).
const REQUIRED: Record<Command, EnvName[]> = {
  ADD: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  CHECK: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_NETNS', 'CNI_IFNAME', 'CNI_PATH'],
  DEL: ['CNI_COMMAND', 'CNI_CONTAINERID', 'CNI_IFNAME', 'CNI_PATH'],
  STATUS: ['CNI_COMMAND', 'CNI_PATH'],
  GC: ['CNI_COMMAND', 'CNI_PATH'],
  VERSION: ['CNI_COMMAND'],
};

// `/`, `:` and what Go's unicode.IsSpace calls white space (which is not JavaScript's \\s).
const GO_SPACE_SLASH_COLON = /[/:\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

// Container IDs and network names share this rule; both end up in file names.
const SAFE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

export function isSafeName(s: string): boolean {
  return SAFE_NAME.test(s);
}

export function validateContainerId(id: string): void {
  if (id === '') throw new CniError(ErrorCode.InvalidEnvironment, 'missing containerID');
  if (!SAFE_NAME.test(id)) throw new CniError(ErrorCode.InvalidEnvironment, 'invalid characters in containerID', id);
}

export function validateInterfaceName(name: string): void {
  if (name === '') throw new CniError(ErrorCode.InvalidEnvironment, 'interface name is empty');
  // Its UTF-8 length: at least one byte per UTF-16 unit and at most three, so only a name of 6 to 15 units needs
  // counting (Buffer.byteLength is compiled on its first use; eth0 and net1 never need it).
  if (name.length > 15 || (name.length > 5 && Buffer.byteLength(name) > 15)) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'interface name is too long', 'interface name should be less than 16 characters');
  }
  if (name === '.' || name === '..') throw new CniError(ErrorCode.InvalidEnvironment, 'interface name is . or ..');
  if (GO_SPACE_SLASH_COLON.test(name)) {
    throw new CniError(ErrorCode.InvalidEnvironment, 'interface name contains / or : or whitespace characters', name);
  }
}

/** Reads and validates the CNI_* environment in the reference skel's order. */
export function readCmdArgs(env: NodeJS.ProcessEnv): CmdArgs {
  const command = env.CNI_COMMAND ?? '';
  if (command !== '' && !(COMMANDS as readonly string[]).includes(command)) {
    throw new CniError(ErrorCode.InvalidEnvironment, `unknown CNI_COMMAND: ${command}`);
  }
  const required = command === '' ? ['CNI_COMMAND'] : REQUIRED[command as Command];
  const missing = required.filter((name) => !env[name]);
  if (missing.length > 0) {
    throw new CniError(ErrorCode.InvalidEnvironment, `required env variables [${missing.join(',')}] missing`);
  }
  const cmd = command as Command;
  const args: CmdArgs = {
    command: cmd,
    containerId: env.CNI_CONTAINERID ?? '',
    netns: env.CNI_NETNS ?? '',
    ifName: env.CNI_IFNAME ?? '',
    args: env.CNI_ARGS ?? '',
    path: (env.CNI_PATH ?? '').split(':').filter((p) => p !== ''),
  };
  if (cmd === 'ADD' || cmd === 'DEL' || cmd === 'CHECK') {
    validateContainerId(args.containerId);
    validateInterfaceName(args.ifName);
  }
  return args;
}
