// Builds the optional /dev/kvm N-API binding (src/vcpu/kvm/native/tsvmm_kvm.c, plain C with
// node_api.h) into src/vcpu/kvm/native/build/Release/tsvmm_kvm.node. Never fails the install: without
// Linux, a C compiler or Node's headers the KVM backend is simply unavailable and its tests skip.
//
// 1. With Node's headers on disk (node_api.h under <prefix>/include/node) the single C file is
//    compiled directly with $CC (default cc): no network, no node-gyp, well under a second.
// 2. Otherwise node-gyp is tried (npm puts its bundled node-gyp on PATH for install scripts).
import { existsSync, mkdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dir = join(root, 'src/vcpu/kvm/native');
const source = join(dir, 'tsvmm_kvm.c');
const out = join(dir, 'build/Release/tsvmm_kvm.node');

function warn(msg) {
  console.warn(`tsvmm: ${msg}; the KVM backend will be unavailable (the rest of tsvmm works).`);
}

function headerDirs() {
  const prefixes = [
    process.env.npm_config_nodedir,
    process.config?.variables?.node_prefix,
    dirname(dirname(process.execPath)),
    '/usr',
    '/usr/local',
  ].filter(Boolean);
  return [...new Set(prefixes.map((p) => join(p, 'include/node')))].filter((d) =>
    existsSync(join(d, 'node_api.h')),
  );
}

function direct(include) {
  const cc = process.env.CC || 'cc';
  mkdirSync(dirname(out), { recursive: true });
  const args = [
    '-std=gnu11',
    '-O2',
    '-Wall',
    '-Wextra',
    '-shared',
    '-fPIC',
    '-DNODE_GYP_MODULE_NAME=tsvmm_kvm',
    '-DBUILDING_NODE_EXTENSION',
    `-I${include}`,
    source,
    '-o',
    out,
  ];
  const r = spawnSync(cc, args, { stdio: 'inherit' });
  return r.status === 0;
}

function nodeGyp(nodedir) {
  const args = ['rebuild'];
  if (nodedir) args.push(`--nodedir=${nodedir}`);
  const r = spawnSync('node-gyp', args, { cwd: dir, stdio: 'inherit' });
  return r.status === 0 && existsSync(out);
}

function main() {
  if (process.platform !== 'linux') return; // /dev/kvm is Linux-only; nothing to build
  if (!existsSync(source)) return;
  const [include] = headerDirs();
  if (include && direct(include)) {
    console.log(`tsvmm: built the /dev/kvm binding (${out.slice(root.length + 1)})`);
    return;
  }
  if (nodeGyp(include ? dirname(dirname(include)) : undefined)) return;
  warn('the /dev/kvm binding did not build (needs a C compiler and Node headers)');
}

try {
  main();
} catch (e) {
  warn(`building the /dev/kvm binding failed: ${e.message}`);
}
