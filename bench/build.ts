// Builds the benchmark workloads (bench/workloads/*.asm) with nasm into build/bench/: for each workload
// and mode one multiboot/ELF64 image `<id>.elf` (rt.asm + the workload; tsvmm and QEMU -kernel) and one
// bootable disk `<id>.img` (bootsect.asm + the same bytes; Bochs, v86, QEMU -drive). Images carry a
// parameter block whose iteration count the runner patches (harness/image.ts).
// Usage: node --import tsx bench/build.ts [--out DIR] [--quiet]

import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TsvmmError } from '../src/util/result.ts';
import { kludgeInfo, makeDisk, paramOffset, payloadSectors } from './harness/image.ts';
import { variants, type Variant } from './harness/workloads.ts';

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ROOT = join(BENCH_DIR, '..');
export const WORKLOAD_DIR = join(BENCH_DIR, 'workloads');
export const DEFAULT_OUT = join(ROOT, 'build/bench');

export interface BuiltVariant {
  readonly id: string;
  readonly elf: string;
  readonly disk: string;
}

/** nasm's version line, or undefined when nasm is not installed. */
export function nasmVersion(): string | undefined {
  const r = spawnSync('nasm', ['-v'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return r.stdout.trim();
}

function nasm(args: string[], what: string): void {
  const r = spawnSync('nasm', args, { encoding: 'utf8' });
  if (r.error) throw new TsvmmError('BENCH_NASM_MISSING', `nasm cannot be run (${r.error.message}); apt-get install nasm`);
  if (r.status !== 0) throw new TsvmmError('BENCH_NASM_FAILED', `nasm failed on ${what}:\n${r.stdout}${r.stderr}`);
}

export function buildVariant(v: Variant, outDir: string): BuiltVariant {
  const elf = join(outDir, `${v.id}.elf`);
  nasm(
    [
      '-f', 'bin',
      `-DBITS${v.mode}`,
      `-DWL_FILE='${v.workload.name}.asm'`,
      `-DWL_NAME='${v.id}'`,
      '-I', `${WORKLOAD_DIR}/`,
      '-o', elf,
      join(WORKLOAD_DIR, 'rt.asm'),
    ],
    `${v.id}.elf`,
  );
  const payload = new Uint8Array(readFileSync(elf));
  paramOffset(payload, elf);
  const k = kludgeInfo(payload, elf);
  const bootBin = join(outDir, `${v.id}.bootsect`);
  nasm(
    [
      '-f', 'bin',
      `-DPAYLOAD_SECTORS=${payloadSectors(payload)}`,
      `-DLOAD_ADDR=0x${k.loadAddr.toString(16)}`,
      `-DENTRY32=0x${k.entry32.toString(16)}`,
      '-o', bootBin,
      join(WORKLOAD_DIR, 'bootsect.asm'),
    ],
    `${v.id} boot sector`,
  );
  const disk = join(outDir, `${v.id}.img`);
  writeFileSync(disk, makeDisk(new Uint8Array(readFileSync(bootBin)), payload));
  return { id: v.id, elf, disk };
}

export function buildAll(outDir = DEFAULT_OUT, only?: (v: Variant) => boolean): BuiltVariant[] {
  mkdirSync(outDir, { recursive: true });
  return variants()
    .filter((v) => !only || only(v))
    .map((v) => buildVariant(v, outDir));
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) {
  const args = process.argv.slice(2);
  const quiet = args.includes('--quiet');
  const o = args.indexOf('--out');
  const out = o >= 0 ? args[o + 1] : DEFAULT_OUT;
  if (out === undefined) {
    console.error('bench/build: --out needs a directory');
    process.exit(2);
  }
  if (!nasmVersion()) {
    console.error('bench/build: nasm is not installed (apt-get install nasm); nothing built');
    process.exit(1);
  }
  try {
    const built = buildAll(resolve(out));
    if (!quiet) console.log(`bench/build: ${built.length} workload variants (.elf + .img) in ${resolve(out)}`);
  } catch (e) {
    if (e instanceof TsvmmError) {
      console.error(`bench/build: ${e.message} [${e.code}]`);
      process.exit(1);
    }
    throw e;
  }
}
