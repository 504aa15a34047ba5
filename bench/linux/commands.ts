// The Linux boot benchmark's command lines (issue 8): tsvmm's interpreter through its CLI
// (`tsvmm run --backend interp --kernel … --initrd … --append …`, src/cli/commands/run.ts) and
// `qemu-system-x86_64 -accel tcg … -kernel … -initrd … -append … -nographic -no-reboot`, with the same
// kernel, initramfs, memory, vCPU count and kernel command line; and the facts recorded with the
// figures: the kernel's version string from its bzImage setup header (Linux boot protocol,
// Documentation/arch/x86/boot.rst: "HdrS" at 0x202, kernel_version at 0x20E points 0x200 bytes before
// a NUL-terminated string).

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TsvmmError } from '../../src/util/result.ts';

/**
 * One way of running tsvmm: extra `tsvmm run` options and the kernel command line. QEMU gets the same
 * command line, so that both engines boot the same kernel configuration.
 */
export interface TsvmmForm {
  readonly name: 'issue' | 'fallback' | 'custom';
  /** options after `tsvmm run --backend interp`, before --kernel */
  readonly tsvmmArgs: readonly string[];
  /** the kernel command line (--append on both engines) */
  readonly append: string;
}

/** Issue 8's exact command: default CPU policy (host), the in-guest decompressor, KASLR on. */
export const ISSUE_FORM: TsvmmForm = { name: 'issue', tsvmmArgs: [], append: 'console=ttyS0' };

/**
 * The known-working options while the issue's command does not boot: the backend's own supported CPUID
 * (no features the interpreter does not execute), the vmlinux unpacked on the host (no in-guest
 * decompressor) and no KASLR.
 */
export const FALLBACK_FORM: TsvmmForm = {
  name: 'fallback',
  tsvmmArgs: ['--cpu', 'supported', '--host-decompress'],
  append: 'console=ttyS0 nokaslr',
};

/** How tsvmm's CLI is started: from the TypeScript sources (tsx) or the compiled dist/ (bin/tsvmm.js). */
export type TsvmmCli = 'src' | 'dist';

export interface LinuxBootConfig {
  readonly kernel: string;
  readonly initrd: string;
  readonly smp: number;
  /** guest RAM in MiB (tsvmm's default is 256) */
  readonly memoryMiB: number;
}

export interface Command {
  /** the program to spawn (absolute for node) */
  readonly cmd: string;
  readonly args: readonly string[];
  /** what a person would type, relative to the repository root */
  readonly display: string;
}

export const TSVMM_DEFAULT_MEMORY_MIB = 256;
export const QEMU_BIN = 'qemu-system-x86_64';

/** POSIX shell quoting for display: single quotes around anything that is not plainly safe. */
export function shellQuote(a: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(a) ? a : `'${a.replace(/'/g, `'\\''`)}'`;
}

export function displayCommand(words: readonly string[]): string {
  return words.map(shellQuote).join(' ');
}

/** `tsvmm run --backend interp [form options] --kernel K --initrd I --append A --smp N [--memory M]` */
export function tsvmmRunArgs(cfg: LinuxBootConfig, form: TsvmmForm): string[] {
  return [
    'run',
    '--backend', 'interp',
    ...form.tsvmmArgs,
    '--kernel', cfg.kernel,
    '--initrd', cfg.initrd,
    '--append', form.append,
    '--smp', String(cfg.smp),
    // tsvmm's default is the same; only a different size is spelt out, so the issue's command stays as written
    ...(cfg.memoryMiB !== TSVMM_DEFAULT_MEMORY_MIB ? ['--memory', `${cfg.memoryMiB}M`] : []),
  ];
}

/** The whole tsvmm command, started the way `cli` says, with the repository root as working directory. */
export function tsvmmCommand(cfg: LinuxBootConfig, form: TsvmmForm, cli: TsvmmCli, node: string = process.execPath): Command {
  const pre = cli === 'src' ? ['--import', 'tsx', 'src/cli/main.ts'] : ['bin/tsvmm.js'];
  const args = [...pre, ...tsvmmRunArgs(cfg, form)];
  return { cmd: node, args, display: displayCommand(['node', ...args]) };
}

/** QEMU TCG on the same kernel, initramfs, RAM, vCPUs and command line; serial on stdio; exits at power-off. */
export function qemuLinuxArgs(cfg: LinuxBootConfig, append: string): string[] {
  return [
    '-accel', 'tcg',
    '-m', String(cfg.memoryMiB),
    '-smp', String(cfg.smp),
    '-kernel', cfg.kernel,
    '-initrd', cfg.initrd,
    '-append', append,
    '-nographic',
    '-no-reboot',
  ];
}

export function qemuCommand(cfg: LinuxBootConfig, append: string, bin: string = QEMU_BIN): Command {
  const args = qemuLinuxArgs(cfg, append);
  return { cmd: bin, args, display: displayCommand([bin, ...args]) };
}

/** Parse `--smp` lists such as "1,2". */
export function parseSmpList(text: string): number[] {
  const parts = text.split(',').map((s) => s.trim());
  const out: number[] = [];
  for (const p of parts) {
    const n = Number(p);
    if (!/^\d+$/.test(p) || !Number.isInteger(n) || n < 1 || n > 64)
      throw new TsvmmError('BENCH_LINUX_SMP', `--smp: '${p}' is not a vCPU count from 1 to 64 (use e.g. 1,2)`);
    if (!out.includes(n)) out.push(n);
  }
  return out;
}

/** A custom tsvmm form from `--linux-args "…"` (options split on spaces) and `--linux-append "…"`. */
export function customForm(args: string | undefined, append: string | undefined): TsvmmForm | undefined {
  if (args === undefined && append === undefined) return undefined;
  const words = (args ?? '').split(/\s+/).filter(Boolean);
  for (const w of ['--kernel', '--initrd', '--append', '--smp', '--backend'])
    if (words.includes(w))
      throw new TsvmmError('BENCH_LINUX_ARGS', `--linux-args: ${w} is set by the runner (use --kernel/--initrd/--linux-append/--smp of the bench)`);
  return { name: 'custom', tsvmmArgs: words, append: append ?? ISSUE_FORM.append };
}

/** Compare two dotted release strings numerically part by part ("6.1.0-56" < "6.10.0-1"). */
function compareRelease(a: string, b: string): number {
  const pa = a.split(/[.-]/);
  const pb = b.split(/[.-]/);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const x = pa[i] ?? '';
    const y = pb[i] ?? '';
    const nx = Number(x);
    const ny = Number(y);
    const c = Number.isFinite(nx) && Number.isFinite(ny) && x !== '' && y !== '' ? nx - ny : x.localeCompare(y);
    if (c !== 0) return c;
  }
  return 0;
}

/** The newest /boot/vmlinuz-<release> (or in `dir`), or undefined when there is none. */
export function findKernel(dir = '/boot'): string | undefined {
  let names: string[];
  try {
    names = readdirSync(dir).filter((n) => /^vmlinuz-\d/.test(n));
  } catch {
    return undefined;
  }
  names.sort((a, b) => compareRelease(a.slice(8), b.slice(8)));
  const last = names.at(-1);
  return last === undefined ? undefined : join(dir, last);
}

/** The kernel_version string of a bzImage's setup header. */
export function bzImageVersion(image: Uint8Array, what = 'the kernel'): string {
  if (image.length < 0x210) throw new TsvmmError('BENCH_LINUX_KERNEL', `${what} is too short to be a bzImage (${image.length} bytes)`);
  const magic = String.fromCharCode(image[0x202]!, image[0x203]!, image[0x204]!, image[0x205]!);
  if (magic !== 'HdrS') throw new TsvmmError('BENCH_LINUX_KERNEL', `${what} is not a bzImage (no "HdrS" setup header at 0x202)`);
  const ptr = image[0x20e]! | (image[0x20f]! << 8);
  const at = ptr + 0x200;
  if (ptr === 0 || at >= image.length) throw new TsvmmError('BENCH_LINUX_KERNEL', `${what} has no kernel_version string (pointer 0x${ptr.toString(16)})`);
  let end = at;
  while (end < image.length && end < at + 256 && image[end] !== 0) end++;
  return String.fromCharCode(...image.subarray(at, end));
}

/** Read a kernel file's version, with a clear error for a missing or unreadable file. */
export function kernelVersionOf(path: string): string {
  if (!existsSync(path)) throw new TsvmmError('BENCH_LINUX_KERNEL', `--kernel: '${path}' does not exist`);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(path));
  } catch (e) {
    throw new TsvmmError('BENCH_LINUX_KERNEL', `cannot read the kernel '${path}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  return bzImageVersion(bytes, `'${path}'`);
}
