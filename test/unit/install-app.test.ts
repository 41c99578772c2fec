import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { appManifest, productionPackages } from '../../src/install/app-files';
import {
  entryScript, installVersion, linkBuiltinPlugins, MULTUS_LINK, pruneVersions, switchMultusLink,
} from '../../src/install/app-install';
import type { InstallOptions } from '../../src/install/options';
import { InstallSandbox } from '../helpers/install';

// The install layout the team decided on: a content-named version directory, the multus symlink switched by
// rename, built-in plugin names linked to multus without replacing reference binaries.

let sb: InstallSandbox;
let o: InstallOptions;
let appRoot: string;
let nodeBinary: string;

function put(path: string, content: string, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { mode });
}

/** A small application with a dependency tree: a → b (nested under a), a dev-only package that must not travel. */
function fakeApp(root: string): void {
  put(join(root, 'package.json'), JSON.stringify({ version: '1.2.3', dependencies: { a: '1' }, devDependencies: { dev: '1' } }));
  put(join(root, 'bin/multus'), '#!/usr/bin/env node\n\'use strict\';\nrequire(\'../dist/main.js\').main();\n', 0o755);
  put(join(root, 'dist/main.js'), 'exports.main = () => undefined;\n');
  put(join(root, 'dist/install/x.js'), '\n');
  put(join(root, 'dist/bundle/builtins.js.12-34.v8cache'), 'code cache of this copy');
  put(join(root, 'build/Release/netns.node'), 'ELF');
  put(join(root, 'build/Release/obj.target/junk.o'), 'object file');
  put(join(root, 'node_modules/a/package.json'), JSON.stringify({ name: 'a', dependencies: { b: '1' }, optionalDependencies: { gone: '1' } }));
  put(join(root, 'node_modules/a/index.js'), '');
  put(join(root, 'node_modules/a/node_modules/b/package.json'), JSON.stringify({ name: 'b', dependencies: { c: '1' } }));
  put(join(root, 'node_modules/c/package.json'), JSON.stringify({ name: 'c' }));
  put(join(root, 'node_modules/dev/package.json'), JSON.stringify({ name: 'dev' }));
}

beforeEach(async () => {
  sb = new InstallSandbox();
  o = await sb.options('--prune-after', '600');
  appRoot = join(sb.dir, 'app');
  fakeApp(appRoot);
  nodeBinary = join(sb.dir, 'fake-node');
  put(nodeBinary, 'node binary', 0o755);
});
afterEach(() => sb.remove());

function install(): string {
  const app = appManifest(appRoot, nodeBinary);
  installVersion(o, app, sb.files());
  switchMultusLink(o, app.id, sb.files());
  return app.id;
}

describe('the application\'s files', () => {
  it('are the runtime files and the production dependency tree, never devDependencies, build leftovers or code caches', () => {
    expect(productionPackages(appRoot).map((d) => d.slice(appRoot.length + 1))).toEqual(['node_modules/a', 'node_modules/a/node_modules/b', 'node_modules/c']);
    const rels = appManifest(appRoot, nodeBinary).files.map((f) => f.rel).sort();
    expect(rels).toEqual([
      'bin/multus', 'build/Release/netns.node', 'dist/install/x.js', 'dist/main.js', 'node',
      'node_modules/a/index.js', 'node_modules/a/node_modules/b/package.json', 'node_modules/a/package.json',
      'node_modules/c/package.json', 'package.json',
    ]);
  });

  it('name their version directory by content', () => {
    const first = appManifest(appRoot, nodeBinary).id;
    expect(first).toMatch(/^1\.2\.3-[0-9a-f]{12}$/);
    expect(appManifest(appRoot, nodeBinary).id).toBe(first);
    put(join(appRoot, 'dist/main.js'), 'exports.main = () => 1;\n');
    expect(appManifest(appRoot, nodeBinary).id).not.toBe(first);
  });

  it('must be complete: a missing required dependency or native helper is named', () => {
    put(join(appRoot, 'package.json'), JSON.stringify({ version: '1.2.3', dependencies: { a: '1', missing: '1' } }));
    expect(() => appManifest(appRoot, nodeBinary)).toThrow('dependency missing of multus-ts is not installed');
  });
});

describe('installing a version', () => {
  it('copies into <install-dir>/<id>, the entry point running the copied node, and links multus to it', () => {
    const id = install();
    const dir = join(sb.installDir, id);
    expect(readFileSync(join(dir, 'bin/multus'), 'utf8')).toBe(`#!${join(dir, 'node')}\n'use strict';\nrequire('../dist/main.js').main();\n`);
    expect(lstatSync(join(dir, 'bin/multus')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(dir, 'node')).mode & 0o777).toBe(0o755);
    expect(lstatSync(join(dir, 'dist/main.js')).mode & 0o777).toBe(0o644);
    expect(readFileSync(join(dir, 'node_modules/a/node_modules/b/package.json'), 'utf8')).toContain('"b"');
    expect(existsSync(join(dir, 'node_modules/dev'))).toBe(false);
    expect(readlinkSync(join(sb.binDir, MULTUS_LINK))).toBe(join(dir, 'bin/multus'));
  });

  it('carries the main bundle inline in the entry point, run as require would run it', () => {
    // The checkout's entry point requires it as the installer expects (otherwise the copy would require it too).
    expect(readFileSync(join(__dirname, '../../bin/multus'), 'utf8')).toContain("\nrequire('../dist/bundle/main.js').main();\n");
    put(join(appRoot, 'bin/multus'), '#!/usr/bin/env -S node --use-openssl-ca\n\'use strict\';\nrequire(\'../dist/bundle/main.js\').main();\n', 0o755);
    put(join(appRoot, 'dist/bundle/main.js'), '"use strict";\nexports.main = () => process.stdout.write(`${require(\'./x.js\').x} ${__dirname} ${__filename} ${typeof require(\'node:path\').join}`);\n//# sourceMappingURL=main.js.map\n');
    put(join(appRoot, 'dist/bundle/x.js'), 'exports.x = 42;\n');
    const id = install();
    const dir = join(sb.installDir, id);
    const entry = readFileSync(join(dir, 'bin/multus'), 'utf8');
    expect(entry).toMatch(new RegExp(`^#!${join(dir, 'node')} --use-openssl-ca\n'use strict';\n`));
    expect(entry).not.toContain('require(\'../dist/bundle/main.js\')');
    expect(entry).not.toContain('sourceMappingURL');
    const r = spawnSync(process.execPath, [join(dir, 'bin/multus')], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe(`42 ${join(dir, 'dist/bundle')} ${join(dir, 'dist/bundle/main.js')} function`);
  });

  it('writes nothing when the version is installed and linked already', () => {
    install();
    sb.io.clear();
    install();
    expect(sb.io.logs).toEqual([]);
  });

  it('--dry-run says what it would install and link, and changes nothing', () => {
    const app = appManifest(appRoot, nodeBinary);
    installVersion(o, app, sb.files(true));
    switchMultusLink(o, app.id, sb.files(true));
    expect(existsSync(sb.installDir)).toBe(false);
    expect(existsSync(join(sb.binDir, MULTUS_LINK))).toBe(false);
    expect(sb.io.outs.join('')).toContain(`would install 10 files`);
    expect(sb.io.outs.join('')).toContain(`would link ${join(sb.binDir, MULTUS_LINK)} -> ${join(sb.installDir, app.id, 'bin/multus')}`);
  });

  it('host paths go into the shebang and the link, the host prefix only into where files are written', async () => {
    const prefixed = await sb.options('--host-prefix', join(sb.dir, 'host'), '--install-dir', '/opt/cni/multus-ts', '--cni-bin-dir', '/opt/cni/bin');
    const app = appManifest(appRoot, nodeBinary);
    installVersion(prefixed, app, sb.files());
    switchMultusLink(prefixed, app.id, sb.files());
    const local = join(sb.dir, 'host/opt/cni/multus-ts', app.id);
    expect(readFileSync(join(local, 'bin/multus'), 'utf8')).toMatch(new RegExp(`^#!/opt/cni/multus-ts/${app.id}/node\n`));
    expect(readlinkSync(join(sb.dir, 'host/opt/cni/bin/multus'))).toBe(`/opt/cni/multus-ts/${app.id}/bin/multus`);
  });

  it('refuses an install dir too long for a #! line', () => {
    expect(() => entryScript('#!/usr/bin/env node\n', `/${'x'.repeat(130)}/node`)).toThrow('is too long for a "#!" line');
  });

  it('keeps the node option of the #! line, which must be a single argument', () => {
    expect(entryScript('#!/usr/bin/env -S node --use-openssl-ca\nmain();\n', '/opt/v1/node')).toBe('#!/opt/v1/node --use-openssl-ca\nmain();\n');
    expect(entryScript('#!/usr/bin/env node\nmain();\n', '/opt/v1/node')).toBe('#!/opt/v1/node\nmain();\n');
    expect(() => entryScript('#!/usr/bin/env -S node --a --b\n', '/opt/v1/node')).toThrow('at most one node option');
    expect(() => entryScript('#!/bin/sh\n', '/opt/v1/node')).toThrow('at most one node option');
    expect(() => entryScript('no shebang\n', '/opt/v1/node')).toThrow('at most one node option');
  });
});

describe('replacing a version', () => {
  it('switches the link and removes the old version only after the grace period', () => {
    const oldId = install();
    put(join(appRoot, 'dist/main.js'), 'exports.main = () => 2;\n');
    const newId = install();
    expect(newId).not.toBe(oldId);
    expect(readlinkSync(join(sb.binDir, MULTUS_LINK))).toBe(join(sb.installDir, newId, 'bin/multus'));
    // Just retired: a running ADD may still be loading its modules.
    expect(pruneVersions(o, newId, sb.files())).toEqual([]);
    expect(pruneVersions(o, newId, sb.files(), Date.now() + 601_000)).toEqual([oldId]);
    expect(existsSync(join(sb.installDir, oldId))).toBe(false);
    expect(existsSync(join(sb.installDir, newId))).toBe(true);
  });

  it('keeps any version a link in the bin dir still points at, and what it did not create', () => {
    const oldId = install();
    symlinkSync(join(sb.installDir, oldId, 'bin/multus'), join(sb.binDir, 'pinned'));
    put(join(appRoot, 'dist/main.js'), 'exports.main = () => 2;\n');
    const newId = install();
    mkdirSync(join(sb.installDir, 'someone-elses'));
    const past = new Date(Date.now() - 3_600_000);
    utimesSync(join(sb.installDir, 'someone-elses'), past, past);
    expect(pruneVersions(o, newId, sb.files(), Date.now() + 601_000)).toEqual([]);
    expect(existsSync(join(sb.installDir, oldId))).toBe(true);
  });

  it('removes an interrupted copy once it is old', () => {
    install();
    const tmp = join(sb.installDir, '.tmp-1.2.3-000000000000-4242');
    mkdirSync(tmp);
    expect(pruneVersions(o, '', sb.files(), Date.now() + 601_000)).toEqual(['.tmp-1.2.3-000000000000-4242']);
  });
});

describe('built-in plugin links', () => {
  it('link missing names to multus and leave reference binaries alone', () => {
    mkdirSync(sb.binDir);
    put(join(sb.binDir, 'macvlan'), 'reference macvlan', 0o755);
    linkBuiltinPlugins(o, ['macvlan', 'ipvlan'], false, sb.files());
    expect(readFileSync(join(sb.binDir, 'macvlan'), 'utf8')).toBe('reference macvlan');
    expect(readlinkSync(join(sb.binDir, 'ipvlan'))).toBe(MULTUS_LINK);
    expect(sb.io.logs.join('\n')).toContain(`kept ${join(sb.binDir, 'macvlan')}: it is a file this installer did not make; --force replaces it`);
  });

  it('keep a symlink someone else made, but re-point their own', () => {
    const id = install();
    symlinkSync('/usr/lib/cni/host-local', join(sb.binDir, 'host-local'));
    symlinkSync(join(sb.installDir, id, 'bin/multus'), join(sb.binDir, 'ipvlan'));
    linkBuiltinPlugins(o, ['host-local', 'ipvlan'], false, sb.files());
    expect(readlinkSync(join(sb.binDir, 'host-local'))).toBe('/usr/lib/cni/host-local');
    expect(readlinkSync(join(sb.binDir, 'ipvlan'))).toBe(MULTUS_LINK);
  });

  it('replace files with --force, atomically', () => {
    mkdirSync(sb.binDir);
    put(join(sb.binDir, 'macvlan'), 'reference macvlan', 0o755);
    linkBuiltinPlugins(o, ['macvlan'], true, sb.files());
    expect(readlinkSync(join(sb.binDir, 'macvlan'))).toBe(MULTUS_LINK);
  });

  it('are left as they are on a second run and only announced by --dry-run', () => {
    mkdirSync(sb.binDir);
    linkBuiltinPlugins(o, ['macvlan'], false, sb.files(true));
    expect(existsSync(join(sb.binDir, 'macvlan'))).toBe(false);
    expect(sb.io.outs).toEqual([`would link ${join(sb.binDir, 'macvlan')} -> multus\n`]);
    linkBuiltinPlugins(o, ['macvlan'], false, sb.files());
    sb.io.clear();
    linkBuiltinPlugins(o, ['macvlan'], false, sb.files());
    expect(sb.io.logs).toEqual([]);
  });

  it('must be plain names of plugins built into this executable', async () => {
    for (const flag of ['--builtin-plugins', '--link-builtin-plugins']) {
      await expect(sb.options(flag, 'macvlan,../evil')).rejects.toThrow('is not a plain plugin name');
      await expect(sb.options(flag, 'multus')).rejects.toThrow('"multus" is always installed');
      await expect(sb.options(flag, 'no-such-plugin')).rejects.toThrow('no-such-plugin is not built into this multus-ts');
    }
  });

  it('are linked only with --link-builtin-plugins; --builtin-plugins writes the key instead', async () => {
    expect((await sb.options('--link-builtin-plugins', 'macvlan')).linkBuiltinPlugins).toEqual(['macvlan']);
    const o2 = await sb.options('--builtin-plugins', 'macvlan,host-local');
    expect(o2.linkBuiltinPlugins).toEqual([]);
    expect(o2.config.builtinPlugins).toEqual(['macvlan', 'host-local']);
  });
});

describe('the host\'s directories', () => {
  it('fail, never spin, where mkdir says ENOENT for a parent that exists (a /host whose directory is gone)', () => {
    // Node's recursive mkdir retries such a parent forever, in one synchronous call that no SIGTERM interrupts.
    const files = sb.files();
    expect(() => files.mkdir('/proc/multus-ts-unit/net.d')).toThrow(/ENOENT/);
    expect(() => files.writeFile('/proc/multus-ts-unit/net.d/00-multus.conf', '{}', { mode: 0o644, dirMode: 0o755 })).toThrow(/ENOENT/);
  });
});
