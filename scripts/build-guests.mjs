// Builds the conformance guest programs (conformance/programs/*.c + the guest library in
// conformance/guest/) into build/guests/<program>.elf with the machine's gcc/binutils: freestanding,
// no libc, one linker script. Reproducible from the project's sources only (no build ids, no absolute
// paths). Without gcc it prints why and exits 0: the guest-running tests then skip.
// Usage: node scripts/build-guests.mjs [--quiet] [--out DIR] [--no-gen]   (default DIR: build/guests)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const quiet = process.argv.includes('--quiet');
const libDir = join(root, 'conformance/guest');
const progDir = join(root, 'conformance/programs');
const outArg = process.argv.indexOf('--out');
if (outArg >= 0 && !process.argv[outArg + 1]) {
  console.error('build-guests: --out needs a directory');
  process.exit(2);
}
const outDir = outArg >= 0 ? resolve(process.argv[outArg + 1]) : join(root, 'build/guests');
const objDir = join(outDir, 'obj');

const CFLAGS = [
  '-std=gnu11',
  '-O2',
  '-ffreestanding',
  '-nostdlib',
  '-fno-pic',
  '-fno-pie',
  '-fno-stack-protector',
  '-fcf-protection=none',
  '-fno-asynchronous-unwind-tables',
  '-fno-tree-loop-distribute-patterns',
  '-mno-red-zone',
  '-mno-sse',
  '-mno-mmx',
  '-mno-80387',
  '-mgeneral-regs-only',
  '-static',
  '-Wall',
  '-Wextra',
  `-ffile-prefix-map=${root}=.`,
];
const LDFLAGS = ['-nostdlib', '-static', '-no-pie', '-Wl,--build-id=none', '-Wl,-z,max-page-size=0x1000', '-Wl,-z,noexecstack', '-Wl,--no-warn-rwx-segments'];

function log(msg) {
  if (!quiet) console.log(msg);
}

function run(cmd, args) {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8' });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    console.error(`build-guests: ${cmd} ${args.join(' ')}\n${r.stdout}${r.stderr}`);
    process.exit(1);
  }
  if (r.stderr.trim() && !quiet) process.stderr.write(r.stderr);
}

const probe = spawnSync('gcc', ['--version'], { encoding: 'utf8' });
if (probe.error || probe.status !== 0) {
  console.warn('build-guests: gcc not found; conformance guests not built (their tests will skip).');
  process.exit(0);
}

// The guests include conformance/guest/contract-tables.h, generated from the contract's tables
// (tools/gen/conformance-bits.ts): regenerate it first so the guests always decide with the current
// tables (a test checks the committed file is up to date). --no-gen skips this, and so does a source
// tree without the generator or without tsx (e.g. a copy of the guest sources): the committed header is used.
const canGen = existsSync(join(root, 'tools/gen/conformance-bits.ts')) && existsSync(join(root, 'node_modules/tsx'));
if (!process.argv.includes('--no-gen') && canGen) {
  const g = spawnSync(process.execPath, ['--import', 'tsx', 'tools/gen/conformance-bits.ts'], { cwd: root, encoding: 'utf8' });
  if (g.status !== 0) {
    console.error(`build-guests: regenerating contract-tables.h failed:\n${g.stdout}${g.stderr}`);
    process.exit(1);
  }
}

rmSync(outDir, { recursive: true, force: true });
mkdirSync(objDir, { recursive: true });

const libSources = readdirSync(libDir)
  .filter((f) => f.endsWith('.c') || f.endsWith('.S'))
  .sort();
const libObjects = [];
for (const src of libSources) {
  const obj = join(objDir, src.replace(/\.[cS]$/, '.o'));
  run('gcc', [...CFLAGS, '-c', relative(root, join(libDir, src)), '-o', relative(root, obj)]);
  libObjects.push(relative(root, obj));
}

const programs = readdirSync(progDir)
  .filter((f) => f.endsWith('.c'))
  .sort();
for (const src of programs) {
  const name = src.slice(0, -2);
  const obj = relative(root, join(objDir, `prog-${name}.o`));
  run('gcc', [...CFLAGS, '-c', relative(root, join(progDir, src)), '-o', obj]);
  const elf = relative(root, join(outDir, `${name}.elf`));
  run('gcc', [...CFLAGS, ...LDFLAGS, '-T', 'conformance/guest/linker.ld', '-o', elf, obj, ...libObjects]);
  log(`build-guests: ${elf}`);
}
