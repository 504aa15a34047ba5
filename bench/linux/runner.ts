// The Linux boot benchmark (issue 8): boots the same kernel and initramfs on tsvmm's interpreter (its
// CLI, commands.ts) and on QEMU TCG, for each vCPU count, a few runs each, and notes the wall-clock
// time from the process start to the first kernel line, to TSVMM-INIT-OK and to the process's exit at
// power-off (marks.ts). tsvmm first tries the issue's exact command; when that run fails it falls back
// to the known-working options (commands.ts FALLBACK_FORM), and QEMU gets the command line of the
// form that ran so both engines boot the same configuration. Processes are started through an
// injectable `exec` so the logic is tested on recorded output without booting anything.

import { loadavg } from 'node:os';
import { BootMarks, INIT_OK, POWER_DOWN, kernelBanner, lastLines, tsvmmRunSummary } from './marks.ts';
import { FALLBACK_FORM, ISSUE_FORM, qemuCommand, tsvmmCommand, type Command, type LinuxBootConfig, type TsvmmCli, type TsvmmForm } from './commands.ts';
import { median } from '../harness/stats.ts';

export type LinuxEngineId = 'tsvmm-interp' | 'qemu-tcg';

export const LINUX_ENGINE_LABEL: Readonly<Record<LinuxEngineId, string>> = {
  'tsvmm-interp': 'tsvmm interpreter',
  'qemu-tcg': 'QEMU TCG',
};

/** What one started process gave: its output as it arrived (through `onStdout`) and how it ended. */
export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
  readonly signal: string | null;
  readonly wallMs: number;
  readonly timedOut: boolean;
  readonly maxRssKb?: number;
  readonly spawnError?: string;
  /** where the run's serial output was kept, if it was */
  readonly savedAs?: string;
}

/** Starts `c` (cwd = the repository root), calls `onStdout` per chunk with the ms since the start. */
export type Exec = (c: Command, timeoutMs: number, onStdout: (chunk: string, ms: number) => void) => Promise<ExecResult>;

/** One boot, judged. Times are milliseconds from the process's start. */
export interface BootRun {
  readonly firstKernelMs: number | null;
  readonly initOkMs: number | null;
  readonly exitMs: number;
  readonly status: number | null;
  readonly signal?: string;
  readonly peakRssKb: number | null;
  /** tsvmm only: the CLI's own "… after X s wall time" (machine.run, without Node and module start-up) */
  readonly cliRunMs?: number;
  /** the host's 1-minute load average when the run started (other work skews the times) */
  readonly loadAtStart?: number;
  /** the file holding this run's output (stdout; stderr beside it) */
  readonly outputFile?: string;
  /** the kernel's "Linux version …" line as the guest printed it */
  readonly banner?: string;
  /** why the run does not count; absent = TSVMM-INIT-OK, "Power down" and exit status 0 all seen */
  readonly error?: string;
  /** the last lines of the serial output and stderr, kept for failed runs */
  readonly tail?: readonly string[];
}

export interface Stat {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export interface BootGroup {
  readonly engine: LinuxEngineId;
  readonly smp: number;
  /** the tsvmm form that ran (QEMU: the form whose command line it was given) */
  readonly form: TsvmmForm['name'];
  readonly append: string;
  /** the exact command of the counted runs */
  readonly command: string;
  readonly argv: readonly string[];
  readonly runs: readonly BootRun[];
  /** tsvmm forms tried before the one that ran, with why they were given up */
  readonly attempts: readonly { readonly form: TsvmmForm['name']; readonly command: string; readonly error: string; readonly tail?: readonly string[] }[];
  /** over the runs without error; absent when none succeeded */
  readonly stats?: { readonly firstKernelMs: Stat; readonly initOkMs: Stat; readonly exitMs: Stat; readonly peakRssKb: Stat | null; readonly cliRunMs?: Stat };
  readonly error?: string;
}

export interface LinuxPlan {
  readonly kernel: string;
  readonly initrd: string;
  readonly smps: readonly number[];
  readonly memoryMiB: number;
  readonly runs: number;
  readonly timeoutMs: number;
  readonly engines: readonly LinuxEngineId[];
  /** 'auto': the issue's command, then the fallback; or exactly one form */
  readonly forms: 'auto' | TsvmmForm;
  readonly cli: TsvmmCli;
  readonly qemuBin?: string;
  readonly node?: string;
}

/** The tsvmm forms to try, in order. */
export function formsToTry(forms: LinuxPlan['forms']): TsvmmForm[] {
  return forms === 'auto' ? [ISSUE_FORM, FALLBACK_FORM] : [forms];
}

/** Judge one finished boot from its milestones and exit. */
export function judgeBoot(engine: LinuxEngineId, marks: BootMarks, r: ExecResult, timeoutMs: number): BootRun {
  const summary = engine === 'tsvmm-interp' ? tsvmmRunSummary(r.stderr) : undefined;
  const banner = kernelBanner(marks.output);
  let error: string | undefined;
  if (r.spawnError) error = `cannot start: ${r.spawnError}`;
  else if (r.timedOut) error = `timed out after ${(timeoutMs / 1000).toFixed(0)} s${marks.initOkMs !== undefined ? ' (after TSVMM-INIT-OK)' : ''}`;
  else if (marks.initOkMs === undefined) error = `no ${INIT_OK} (exit status ${r.status ?? r.signal}${summary ? `, ${summary.outcome}` : ''})`;
  else if (r.status !== 0) error = `exit status ${r.status ?? r.signal} after ${INIT_OK}${summary ? ` (${summary.outcome})` : ''}`;
  else if (marks.powerDownMs === undefined) error = `exit status 0 but no "${POWER_DOWN}" line`;
  else if (summary && summary.outcome !== 'powered off') error = `tsvmm ended with '${summary.outcome}', not a power-off`;
  return {
    firstKernelMs: marks.firstKernelMs ?? null,
    initOkMs: marks.initOkMs ?? null,
    exitMs: r.wallMs,
    status: r.status,
    ...(r.signal ? { signal: r.signal } : {}),
    peakRssKb: r.maxRssKb ?? null,
    ...(summary ? { cliRunMs: summary.wallMs } : {}),
    ...(banner ? { banner: banner.line } : {}),
    ...(r.savedAs ? { outputFile: r.savedAs } : {}),
    ...(error ? { error, tail: [...lastLines(marks.output, 8), ...lastLines(r.stderr, 6).map((l) => `stderr: ${l}`)] } : {}),
  };
}

export async function bootOnce(engine: LinuxEngineId, c: Command, timeoutMs: number, exec: Exec): Promise<BootRun> {
  const load = loadavg()[0]!;
  const marks = new BootMarks();
  const r = await exec(c, timeoutMs, (chunk, ms) => marks.push(chunk, ms));
  // an exec that gives the output only at the end (no chunks): take the milestones at the exit time
  if (marks.output.length === 0 && r.stdout.length > 0) marks.push(r.stdout, r.wallMs);
  return { ...judgeBoot(engine, marks, r, timeoutMs), loadAtStart: load };
}

function stat(xs: readonly number[]): Stat {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs) };
}

export function groupStats(runs: readonly BootRun[]): BootGroup['stats'] {
  const ok = runs.filter((r) => !r.error);
  if (ok.length === 0) return undefined;
  const rss = ok.map((r) => r.peakRssKb).filter((x): x is number => x !== null);
  const cli = ok.map((r) => r.cliRunMs).filter((x): x is number => x !== undefined);
  return {
    firstKernelMs: stat(ok.map((r) => r.firstKernelMs ?? NaN)),
    initOkMs: stat(ok.map((r) => r.initOkMs!)),
    exitMs: stat(ok.map((r) => r.exitMs)),
    peakRssKb: rss.length ? stat(rss) : null,
    ...(cli.length === ok.length ? { cliRunMs: stat(cli) } : {}),
  };
}

export type Log = (line: string) => void;

const secs = (ms: number | null | undefined): string => (ms === null || ms === undefined || !Number.isFinite(ms) ? '-' : (ms / 1000).toFixed(2));

function runLine(engine: LinuxEngineId, smp: number, i: number, n: number, r: BootRun): string {
  const head = `bench linux: ${LINUX_ENGINE_LABEL[engine]}, ${smp} vCPU${smp > 1 ? 's' : ''}, run ${i + 1}/${n}:`;
  if (r.error) return `${head} FAILED: ${r.error}`;
  return `${head} first line ${secs(r.firstKernelMs)} s, ${INIT_OK} ${secs(r.initOkMs)} s, exit ${secs(r.exitMs)} s`;
}

/**
 * tsvmm at one vCPU count: the forms in order until one boots (the first run of each form decides),
 * then the remaining runs with that form. A form in `failedBefore` (it failed at an earlier vCPU count)
 * is skipped, unless it is the last one left.
 */
export async function runTsvmmGroup(plan: LinuxPlan, smp: number, exec: Exec, log: Log, failedBefore: ReadonlyMap<TsvmmForm['name'], string> = new Map()): Promise<BootGroup> {
  const cfg: LinuxBootConfig = { kernel: plan.kernel, initrd: plan.initrd, smp, memoryMiB: plan.memoryMiB };
  const attempts: BootGroup['attempts'][number][] = [];
  const forms = formsToTry(plan.forms);
  for (const form of forms) {
    const before = failedBefore.get(form.name);
    if (before !== undefined && form !== forms.at(-1)) {
      // a form that failed at an earlier vCPU count is not tried again (a full interpreter boot is minutes of CPU)
      const c = tsvmmCommand(cfg, form, plan.cli, plan.node);
      attempts.push({ form: form.name, command: c.display, error: `not tried: it failed ${before}` });
      log(`bench linux: the ${form.name} form is not tried with ${smp} vCPUs: it failed ${before}`);
      continue;
    }
    const c = tsvmmCommand(cfg, form, plan.cli, plan.node);
    log(`bench linux: ${c.display}`);
    const first = await bootOnce('tsvmm-interp', c, plan.timeoutMs, exec);
    log(runLine('tsvmm-interp', smp, 0, plan.runs, first));
    if (first.error) {
      attempts.push({ form: form.name, command: c.display, error: first.error, ...(first.tail ? { tail: first.tail } : {}) });
      if (form !== forms.at(-1)) log(`bench linux: the ${form.name} form failed; trying the ${forms[forms.indexOf(form) + 1]!.name} form`);
      continue;
    }
    const runs: BootRun[] = [first];
    for (let i = 1; i < plan.runs; i++) {
      const r = await bootOnce('tsvmm-interp', c, plan.timeoutMs, exec);
      log(runLine('tsvmm-interp', smp, i, plan.runs, r));
      runs.push(r);
    }
    const stats = groupStats(runs);
    return { engine: 'tsvmm-interp', smp, form: form.name, append: form.append, command: c.display, argv: [c.cmd, ...c.args], runs, attempts, ...(stats ? { stats } : {}) };
  }
  const last = forms.at(-1)!;
  const c = tsvmmCommand(cfg, last, plan.cli, plan.node);
  return {
    engine: 'tsvmm-interp', smp, form: last.name, append: last.append, command: c.display, argv: [c.cmd, ...c.args], runs: [], attempts,
    error: `no form booted: ${attempts.map((a) => `${a.form}: ${a.error}`).join('; ')}`,
  };
}

export async function runQemuGroup(plan: LinuxPlan, smp: number, form: TsvmmForm, exec: Exec, log: Log): Promise<BootGroup> {
  const cfg: LinuxBootConfig = { kernel: plan.kernel, initrd: plan.initrd, smp, memoryMiB: plan.memoryMiB };
  const c = qemuCommand(cfg, form.append, plan.qemuBin);
  log(`bench linux: ${c.display}`);
  const runs: BootRun[] = [];
  for (let i = 0; i < plan.runs; i++) {
    const r = await bootOnce('qemu-tcg', c, plan.timeoutMs, exec);
    log(runLine('qemu-tcg', smp, i, plan.runs, r));
    runs.push(r);
    if (r.error && i === 0) break; // a first failure will not mend itself
  }
  const stats = groupStats(runs);
  return {
    engine: 'qemu-tcg', smp, form: form.name, append: form.append, command: c.display, argv: [c.cmd, ...c.args], runs, attempts: [],
    ...(stats ? { stats } : { error: runs[0]?.error ?? 'no run' }),
  };
}

/**
 * Every vCPU count: tsvmm (when selected) first, then QEMU with the command line of the tsvmm form that
 * ran (the issue's when tsvmm did not run or no form booted).
 */
export async function runLinuxPlan(plan: LinuxPlan, exec: Exec, log: Log): Promise<BootGroup[]> {
  const groups: BootGroup[] = [];
  const forms = formsToTry(plan.forms);
  const failed = new Map<TsvmmForm['name'], string>();
  for (const smp of plan.smps) {
    let qemuForm = forms[0]!;
    if (plan.engines.includes('tsvmm-interp')) {
      const g = await runTsvmmGroup(plan, smp, exec, log, failed);
      groups.push(g);
      for (const a of g.attempts) if (!failed.has(a.form)) failed.set(a.form, `with ${smp} vCPU${smp > 1 ? 's' : ''} (${a.error})`);
      if (!g.error) qemuForm = forms.find((f) => f.name === g.form)!;
    }
    if (plan.engines.includes('qemu-tcg')) groups.push(await runQemuGroup(plan, smp, qemuForm, exec, log));
  }
  return groups;
}
