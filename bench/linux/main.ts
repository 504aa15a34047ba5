// `npm run bench -- --linux`: the Linux boot benchmark's command (runner.ts does the runs): finds the
// kernel (/boot/vmlinuz-*, skipped with the reason when there is none) and the initramfs (built by
// conformance/linux/build-initramfs.mjs when missing), checks that QEMU is installed, runs the plan,
// prints the side-by-side table and writes build/bench/linux-results.json and linux-boot.svg.

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, relative, sep } from 'node:path';
import { TsvmmError } from '../../src/util/result.ts';
import { haveCommand, runProcess } from '../harness/process.ts';
import {
  customForm, FALLBACK_FORM, findKernel, ISSUE_FORM, kernelVersionOf, parseSmpList, QEMU_BIN, TSVMM_DEFAULT_MEMORY_MIB, type TsvmmCli, type TsvmmForm,
} from './commands.ts';
import { formatLinuxResults, linuxChart, type LinuxResults } from './report.ts';
import { runLinuxPlan, type Exec, type LinuxEngineId, type LinuxPlan, type Log } from './runner.ts';

export const ROOT = join(import.meta.dirname, '../..');
export const DEFAULT_INITRD = join(ROOT, 'build/initramfs.cpio.gz');
export const LINUX_ENGINES: readonly LinuxEngineId[] = ['tsvmm-interp', 'qemu-tcg'];

export interface LinuxOptions {
  readonly kernel?: string;
  readonly initrd?: string;
  readonly smp?: string;
  readonly memory?: string;
  readonly runs: number;
  readonly timeoutMs: number;
  readonly engines?: string;
  /** auto | issue | fallback */
  readonly form?: string;
  readonly linuxArgs?: string;
  readonly linuxAppend?: string;
  readonly cli?: string;
  readonly outDir: string;
}

/** What the environment provides; injectable for the tests. */
export interface LinuxEnv {
  findKernel(): string | undefined;
  exists(path: string): boolean;
  /** build the initramfs at `path`; throws with the reason when it cannot */
  buildInitramfs(path: string): void;
  haveQemu(): boolean;
}

export const realEnv: LinuxEnv = {
  findKernel: () => findKernel('/boot'),
  exists: existsSync,
  buildInitramfs(path) {
    const r = runProcessSync(process.execPath, [join(ROOT, 'conformance/linux/build-initramfs.mjs'), path]);
    if (r) throw new Error(r);
  },
  haveQemu: () => haveCommand(QEMU_BIN),
};

function runProcessSync(cmd: string, args: string[]): string | undefined {
  try {
    execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], cwd: ROOT });
    return undefined;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    return (err.stderr?.toString() || err.message).trim();
  }
}

export type Resolved =
  | { readonly ok: true; readonly kernel: string; readonly initrd: string; readonly built: boolean }
  | { readonly ok: false; readonly reason: string };

/**
 * The kernel and initramfs to boot. A missing default kernel or an initramfs that cannot be built is a
 * skip (with the reason); a file named on the command line that does not exist is an error.
 */
export function resolveInputs(o: Pick<LinuxOptions, 'kernel' | 'initrd'>, env: LinuxEnv): Resolved {
  let kernel = o.kernel;
  if (kernel === undefined) {
    kernel = env.findKernel();
    if (kernel === undefined) return { ok: false, reason: 'no kernel: /boot/vmlinuz-* not found (install a Debian linux-image package, or pass --kernel FILE)' };
  } else if (!env.exists(kernel)) throw new TsvmmError('BENCH_LINUX_KERNEL', `--kernel: '${kernel}' does not exist`);
  const initrd = o.initrd ?? DEFAULT_INITRD;
  if (env.exists(initrd)) return { ok: true, kernel, initrd, built: false };
  if (o.initrd !== undefined) throw new TsvmmError('BENCH_LINUX_INITRD', `--initrd: '${initrd}' does not exist`);
  try {
    env.buildInitramfs(initrd);
  } catch (e) {
    return { ok: false, reason: `no initramfs: ${initrd} is missing and building it (npm run linux-initramfs) failed: ${(e as Error).message}` };
  }
  if (!env.exists(initrd)) return { ok: false, reason: `no initramfs: building ${initrd} did not produce it` };
  return { ok: true, kernel, initrd, built: true };
}

/** --linux-form, --linux-args, --linux-append → the forms to try. */
export function chooseForms(o: Pick<LinuxOptions, 'form' | 'linuxArgs' | 'linuxAppend'>): 'auto' | TsvmmForm {
  const custom = customForm(o.linuxArgs, o.linuxAppend);
  if (custom) {
    if (o.form !== undefined) throw new TsvmmError('BENCH_LINUX_FORM', '--linux-form cannot be combined with --linux-args/--linux-append (they define the one form to run)');
    return custom;
  }
  switch (o.form ?? 'auto') {
    case 'auto':
      return 'auto';
    case 'issue':
      return ISSUE_FORM;
    case 'fallback':
      return FALLBACK_FORM;
    default:
      throw new TsvmmError('BENCH_LINUX_FORM', `--linux-form must be auto, issue or fallback, got '${o.form}'`);
  }
}

export function chooseEngines(list: string | undefined): LinuxEngineId[] {
  if (list === undefined) return [...LINUX_ENGINES];
  const want = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of want)
    if (!(LINUX_ENGINES as readonly string[]).includes(w))
      throw new TsvmmError('BENCH_LINUX_ENGINE', `--engines: the Linux boot runs on ${LINUX_ENGINES.join(' and ')}, not '${w}'`);
  return LINUX_ENGINES.filter((e) => want.includes(e));
}

function parseMemoryMiB(text: string | undefined): number {
  if (text === undefined) return TSVMM_DEFAULT_MEMORY_MIB;
  const m = /^(\d+)([MG]?)$/i.exec(text.trim());
  const n = m ? Number(m[1]) * (m[2]!.toUpperCase() === 'G' ? 1024 : 1) : NaN;
  if (!Number.isInteger(n) || n < 64 || n > 65536) throw new TsvmmError('BENCH_LINUX_MEMORY', `--memory must be a size in MiB from 64 (e.g. 256, 256M, 1G), got '${text}'`);
  return n;
}

function chooseCli(text: string | undefined): TsvmmCli {
  if (text === undefined || text === 'src' || text === 'dist') return text ?? 'src';
  throw new TsvmmError('BENCH_LINUX_CLI', `--tsvmm-cli must be src (node --import tsx src/cli/main.ts) or dist (node bin/tsvmm.js), got '${text}'`);
}

function firstLine(cmd: string, args: string[]): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] }).split('\n')[0]!.trim();
  } catch {
    return undefined;
  }
}

function tsvmmVersion(): string {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const rev = firstLine('git', ['rev-parse', '--short', 'HEAD']);
  return rev ? `${pkg.version} (git ${rev}, working tree as run)` : pkg.version;
}

/** Runs through harness/process.ts (GNU time for the peak RSS); keeps each run's output in workDir. */
export function realExec(workDir: string): Exec {
  let n = 0;
  return async (c, timeoutMs, onStdout) => {
    const p = await runProcess(c.cmd, c.args, { timeoutMs, workDir, cwd: ROOT, onStdout });
    const base = join(workDir, `run-${String(++n).padStart(2, '0')}-${c.cmd.includes('qemu') ? 'qemu' : 'tsvmm'}`);
    writeFileSync(`${base}.stdout.txt`, p.stdout, 'latin1');
    writeFileSync(`${base}.stderr.txt`, `${c.display}\n${p.stderr}`, 'latin1');
    return {
      savedAs: `${base}.stdout.txt`,
      stdout: p.stdout, stderr: p.stderr, status: p.status, signal: p.signal, wallMs: p.wallMs, timedOut: p.timedOut,
      ...(p.maxRssKb !== undefined ? { maxRssKb: p.maxRssKb } : {}), ...(p.spawnError ? { spawnError: p.spawnError } : {}),
    };
  };
}

/** The whole --linux run. Returns the exit status: 0 all groups booted (or skipped), 1 a failure. */
export async function linuxMain(o: LinuxOptions, log: Log, env: LinuxEnv = realEnv, exec?: Exec): Promise<number> {
  const smps = parseSmpList(o.smp ?? '1,2');
  const memoryMiB = parseMemoryMiB(o.memory);
  const forms = chooseForms(o);
  const cli = chooseCli(o.cli);
  let engines = chooseEngines(o.engines);
  const skipped: LinuxResults['skipped'][number][] = [];
  const inputs = resolveInputs(o, env);
  if (!inputs.ok) {
    log(`bench linux: skipped: ${inputs.reason}`);
    return 0;
  }
  if (inputs.built) log(`bench linux: built ${inputs.initrd}`);
  if (engines.includes('qemu-tcg') && !env.haveQemu()) {
    const reason = `${QEMU_BIN} not installed (scripts/setup-system.sh --bench-peers, or apt-get install qemu-system-x86)`;
    log(`bench linux: QEMU TCG not run: ${reason}`);
    skipped.push({ engine: 'qemu-tcg', reason });
    engines = engines.filter((e) => e !== 'qemu-tcg');
  }
  const kernelVersion = kernelVersionOf(inputs.kernel);
  const initrdBytes = readFileSync(inputs.initrd);
  mkdirSync(o.outDir, { recursive: true });
  const workDir = join(o.outDir, 'work/linux');
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  // the processes run in the repository root: files under it are named relative to it, as a person would type them
  const rel = (p: string): string => (p.startsWith(ROOT + sep) ? relative(ROOT, p) : p);
  const plan: LinuxPlan = { kernel: rel(inputs.kernel), initrd: rel(inputs.initrd), smps, memoryMiB, runs: o.runs, timeoutMs: o.timeoutMs, engines, forms, cli };
  log(`bench linux: ${kernelVersion.split(' ')[0]}, ${smps.join(' and ')} vCPU(s), ${o.runs} run(s) each on ${engines.join(', ') || 'no engine'}`);
  const loadStart = loadavg()[0]!;
  const groups = await runLinuxPlan(plan, exec ?? realExec(workDir), log);
  const banner = groups.flatMap((g) => g.runs).find((r) => r.banner)?.banner;
  const results: LinuxResults = {
    tool: 'tsvmm-bench-linux',
    version: 1,
    date: new Date().toISOString(),
    host: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', platform: `${process.platform} ${process.arch}`, loadavg: [loadStart, loadavg()[0]!] },
    kernel: { path: inputs.kernel, version: kernelVersion, ...(banner ? { banner } : {}) },
    initrd: { path: inputs.initrd, bytes: initrdBytes.length, sha256: createHash('sha256').update(initrdBytes).digest('hex') },
    memoryMiB,
    runs: o.runs,
    versions: {
      tsvmm: tsvmmVersion(),
      tsvmmCli: cli === 'src' ? 'node --import tsx src/cli/main.ts (the sources as they are)' : 'node bin/tsvmm.js (dist/)',
      ...(engines.includes('qemu-tcg') ? { qemu: firstLine(QEMU_BIN, ['--version']) ?? 'unknown' } : {}),
    },
    groups,
    skipped,
  };
  process.stdout.write(formatLinuxResults(results) + '\n');
  writeFileSync(join(o.outDir, 'linux-results.json'), JSON.stringify(results, null, 2) + '\n');
  writeFileSync(join(o.outDir, 'linux-boot.svg'), linuxChart(results));
  log(`bench linux: wrote ${join(o.outDir, 'linux-results.json')} and ${join(o.outDir, 'linux-boot.svg')}`);
  return groups.some((g) => g.error || g.runs.some((r) => r.error)) ? 1 : 0;
}
