// The tests' helpers are TypeScript: benchmark scripts load them through vite (a dev dependency, via vitest),
// giving each module the CommonJS globals (require, __dirname, __filename) it is compiled for.
import { dirname } from 'node:path';
import { runnerImport } from 'vite';

const cjsGlobals = {
  name: 'cjs-globals',
  transform: (code, id) => (id.endsWith('.ts')
    ? `import { createRequire as __createRequire } from 'node:module';\nconst require = __createRequire(${JSON.stringify(id)}), ` +
      `__dirname = ${JSON.stringify(dirname(id))}, __filename = ${JSON.stringify(id)};\n${code}`
    : undefined),
};

/** The module at `path`, relative to the URL `base` (the caller's import.meta.url). */
export async function loadTs(path, base) {
  return (await runnerImport(new URL(path, base).pathname, { configFile: false, plugins: [cjsGlobals], logLevel: 'silent' })).module;
}
