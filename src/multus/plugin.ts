import type { CniPlugin } from '../cni/skel';
import { cmdAdd } from './add';
import { cmdCheck } from './check';
import { cmdDel } from './del';
import { cmdGc } from './gc';
import { cmdStatus } from './status';

export const multusPlugin: CniPlugin = {
  about: 'CNI multus plugin (multus-ts): meta-plugin that delegates to other CNI plugins',
  add: cmdAdd,
  del: cmdDel,
  check: cmdCheck,
  status: cmdStatus,
  gc: cmdGc,
};
