// The conformance policy matrix (issue 7 item 2): program × CPU policy × backend. Each program names
// the CPU features it is about (programs/manifest.ts); it runs under the base policy, once with each
// of those features turned off (`BASE,-feature` through the CPUID policy engine, src/cpuid), and under
// the named models (src/cpuid MODELS) the backend can provide. Cells are scheduled over N workers
// (child processes, one per core: worker.ts) and come back in job order, so the result does not depend
// on the job count or on which worker finished first.

import { fork, type ChildProcess } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { CpuidTable, type CpuidEntry } from '../src/arch/x86/cpuid/table.ts';
import type { Backend } from '../src/vcpu/backend.ts';
import { TsvmmError } from '../src/util/result.ts';
import { CPUID_TABLE_DEVIATION, type HostFlavour } from './deviations.ts';
import { featureByName } from '../src/arch/x86/cpuid/features.ts';
import { manifestOf } from './programs/manifest.ts';
import {
  machineExecutor,
  runCell,
  type CellResult,
  type GuestEntry,
  type GuestExecutor,
  type GuestRunRequest,
  type GuestRunResult,
  type Policy,
} from './runner.ts';

/** Which behaviour the interpreter (and the contract cross-check) follow; see README "Modes". */
export type SuiteMode = 'kvm-exact' | 'architectural';

export interface MatrixPolicy extends Policy {
  /** the --cpu spec it was built from */
  readonly spec: string;
  /** the feature this policy turns off, when it is a feature variant */
  readonly off?: string;
  /** set when the backend cannot provide the policy as asked (refused features) */
  readonly refused?: readonly string[];
}

export interface BackendPlan {
  readonly name: string;
  readonly flavour: HostFlavour;
  /** every policy this backend will run, by name */
  readonly policies: ReadonlyMap<string, MatrixPolicy>;
}

export interface MatrixJob {
  readonly program: string;
  readonly policy: string;
  readonly backend: string;
  readonly entry: GuestEntry;
}

/** Default named models: x86-64-v2 always; other models where the backend refuses nothing. */
export const DEFAULT_MODELS = ['x86-64-v2'];

/** The policy name of `BASE,-feature`. */
export function offName(base: string, feature: string): string {
  return base === 'host' ? `-${feature}` : `${base},-${feature}`;
}

/**
 * The policy specs a program needs: the base, `base,-f` for each manifest feature, and the models.
 * Pure: the order is the manifest's.
 */
export function programPolicies(program: string, base: string, models: readonly string[]): { name: string; spec: string; off?: string }[] {
  const out: { name: string; spec: string; off?: string }[] = [{ name: base, spec: base }];
  for (const f of manifestOf(program).features) out.push({ name: offName(base, f), spec: `${base},-${f}`, off: f });
  for (const m of models) if (m !== base) out.push({ name: m, spec: m });
  return out;
}

/**
 * Expand programs × policies × backends into jobs (plus the multiboot32 entry where the manifest asks).
 * A policy a backend does not have (not built for it) is left out for that backend. Sorted by program,
 * then policy order, then backend order: deterministic.
 */
export function expandMatrix(
  programs: readonly string[],
  backends: readonly BackendPlan[],
  opts: { base?: string; models?: readonly string[] } = {},
): MatrixJob[] {
  const base = opts.base ?? 'host';
  const models = opts.models ?? DEFAULT_MODELS;
  const jobs: MatrixJob[] = [];
  for (const program of programs) {
    const specs = programPolicies(program, base, models);
    for (const p of specs) {
      for (const b of backends) {
        if (b.policies.has(p.name)) jobs.push({ program, policy: p.name, backend: b.name, entry: 'long64' });
      }
    }
    if (manifestOf(program).multiboot32) {
      for (const b of backends) if (b.policies.has(base)) jobs.push({ program, policy: base, backend: b.name, entry: 'multiboot32' });
    }
  }
  return jobs;
}

/** Every policy spec the programs need (deduplicated, first-seen order). */
export function neededPolicySpecs(programs: readonly string[], base: string, models: readonly string[]): { name: string; spec: string; off?: string }[] {
  const seen = new Map<string, { name: string; spec: string; off?: string }>();
  for (const p of programs) for (const s of programPolicies(p, base, models)) if (!seen.has(s.name)) seen.set(s.name, s);
  return [...seen.values()];
}

/**
 * Build the policies for one backend through the policy engine. A model the backend refuses features
 * of is kept only when it is in `keepModels` (DEFAULT_MODELS). A feature variant whose table is the
 * base policy's (the feature was not there to turn off) is left out and its name pushed on
 * `skippedSame`. The base spec must come before its variants (programPolicies' order).
 */
export async function buildBackendPolicies(
  backend: Backend,
  specs: readonly { name: string; spec: string; off?: string }[],
  keepModels: readonly string[] = DEFAULT_MODELS,
  skippedSame: string[] = [],
): Promise<Map<string, MatrixPolicy>> {
  const { captureHost } = await import('../src/cpuid/host.ts');
  const { buildGuestCpuid } = await import('../src/cpuid/pipeline.ts');
  const host = captureHost();
  const out = new Map<string, MatrixPolicy>();
  let baseTable: CpuidTable | undefined;
  for (const s of specs) {
    let g;
    try {
      g = buildGuestCpuid({
        host: host.dump.table,
        backend: backend.name,
        ...(backend.name === 'kvm' ? { kvmSupported: CpuidTable.from(backend.supportedCpuid()) } : {}),
        ...(host.osDisabled ? { hostOsDisabled: host.osDisabled } : {}),
        cpu: s.spec,
      });
    } catch (e) {
      throw new TsvmmError('CONFORMANCE_POLICY', `--cpu ${s.spec} for the ${backend.name} backend: ${(e as Error).message}`);
    }
    const bad = g.refusals.find((r) => r.code === 'unknown-feature' || r.code === 'bad-spec' || r.code === 'unknown-model');
    if (bad) throw new TsvmmError('CONFORMANCE_POLICY', `--cpu ${s.spec}: ${bad.message}`);
    const refused = g.refusals.map((r) => r.feature ?? r.code).filter((x): x is string => typeof x === 'string');
    const isModel = !s.off && !s.spec.startsWith('host');
    if (s.off && baseTable && sameTable(baseTable, g.table)) {
      skippedSame.push(s.name);
      continue;
    }
    if (!s.off && !isModel) baseTable = g.table;
    if (isModel && refused.length && !keepModels.includes(s.name)) continue;
    out.set(s.name, {
      name: s.name,
      spec: s.spec,
      ...(s.off ? { off: s.off } : {}),
      ...(refused.length ? { refused } : {}),
      description: `--cpu ${s.spec}${refused.length ? ` (${refused.length} features refused by ${backend.name}: ${refused.slice(0, 6).join(' ')}${refused.length > 6 ? ' …' : ''})` : ''}`,
      cpuid: g.table,
    });
  }
  return out;
}

/**
 * On hosts with the recorded set-cpuid2-merges-host-features deviation, turning off a feature that lives
 * in CPUID leaf 1 or 7 has no effect (KVM ORs the host's bits back in), so the variant would only repeat
 * the base policy: such variants are not run there (the interpreter still runs them).
 */
export function mergedBackHere(feature: string, flavour: HostFlavour): boolean {
  if (!CPUID_TABLE_DEVIATION.flavours.includes(flavour) || CPUID_TABLE_DEVIATION.except.includes(feature)) return false;
  const loc = featureByName(feature);
  return loc !== undefined && CPUID_TABLE_DEVIATION.leaves.includes(loc.leaf);
}

function sameTable(a: CpuidTable, b: CpuidTable): boolean {
  return JSON.stringify(a.entries()) === JSON.stringify(b.entries());
}

// ---- scheduling --------------------------------------------------------------------------------

/** Something that runs guests for one backend: in this process or in a worker. */
export interface ExecutorSlot {
  executor(backend: string): GuestExecutor;
  close(): Promise<void>;
}

export interface ScheduleOptions {
  readonly jobs: number;
  readonly slots: (i: number) => ExecutorSlot;
  readonly images: (program: string) => Uint8Array;
  readonly plans: readonly BackendPlan[];
  readonly timeoutMs?: number;
  readonly mode?: SuiteMode;
  readonly onDone?: (done: number, total: number, cell: CellResult) => void;
  /** wall time of each job in ms, in job order (not part of the result: it varies run to run) */
  readonly onTimings?: (ms: readonly number[]) => void;
}

/**
 * Run every job over `jobs` slots. Each slot takes the next job when it is free; the results are
 * returned in job order whatever the completion order.
 */
export async function scheduleMatrix(jobList: readonly MatrixJob[], o: ScheduleOptions): Promise<CellResult[]> {
  if (!Number.isInteger(o.jobs) || o.jobs < 1) throw new TsvmmError('CONFORMANCE_JOBS', `--jobs must be a positive integer, got ${o.jobs}`);
  const results: CellResult[] = new Array<CellResult>(jobList.length);
  const durations: number[] = new Array<number>(jobList.length).fill(0);
  const n = Math.min(o.jobs, Math.max(1, jobList.length));
  const slots = Array.from({ length: n }, (_, i) => o.slots(i));
  let next = 0;
  let done = 0;
  const plan = (name: string): BackendPlan => {
    const p = o.plans.find((x) => x.name === name);
    if (!p) throw new TsvmmError('CONFORMANCE_BACKEND', `no plan for backend '${name}'`);
    return p;
  };
  try {
    await Promise.all(
      slots.map(async (slot) => {
        for (;;) {
          const i = next++;
          if (i >= jobList.length) return;
          const job = jobList[i]!;
          const p = plan(job.backend);
          const policy = p.policies.get(job.policy);
          if (!policy) throw new TsvmmError('CONFORMANCE_POLICY', `backend ${job.backend} has no policy '${job.policy}'`);
          const t0 = performance.now();
          const cell = await runCell(slot.executor(job.backend), {
            program: job.program,
            image: o.images(job.program),
            policy,
            backend: job.backend,
            flavour: p.flavour,
            entry: job.entry,
            timeoutMs: o.timeoutMs ?? 60_000,
            mode: o.mode ?? 'kvm-exact',
          });
          durations[i] = performance.now() - t0;
          results[i] = job.entry === 'long64' ? cell : { ...cell, policy: `${cell.policy}@multiboot32` };
          done++;
          o.onDone?.(done, jobList.length, results[i]);
        }
      }),
    );
  } finally {
    await Promise.all(slots.map((s) => s.close()));
  }
  o.onTimings?.(durations);
  return results;
}

/** A slot running guests in this process on the given backends. */
export function inProcessSlot(backends: ReadonlyMap<string, Backend>): ExecutorSlot {
  const execs = new Map<string, GuestExecutor>();
  return {
    executor(name) {
      let e = execs.get(name);
      if (!e) {
        const b = backends.get(name);
        if (!b) throw new TsvmmError('CONFORMANCE_BACKEND', `backend '${name}' is not available in this process`);
        e = machineExecutor(b);
        execs.set(name, e);
      }
      return e;
    },
    close: async () => {},
  };
}

// ---- worker processes --------------------------------------------------------------------------

/** The message a worker gets: one guest run. */
export interface WorkerRequest {
  readonly id: number;
  readonly backend: string;
  readonly mode: SuiteMode;
  readonly program: string;
  readonly image: Uint8Array;
  readonly cpuid: readonly CpuidEntry[];
  readonly cmdline: string;
  readonly entry: GuestEntry;
  readonly timeoutMs: number;
}

export interface WorkerReply {
  readonly id: number;
  readonly result?: GuestRunResult;
  readonly error?: string;
}

const WORKER_URL = new URL(`./worker${import.meta.url.endsWith('.ts') ? '.ts' : '.js'}`, import.meta.url);

/** A slot backed by one child process (worker.ts), which creates its own backends. */
export function workerSlot(mode: SuiteMode): ExecutorSlot {
  let child: ChildProcess | undefined;
  let seq = 0;
  const pending = new Map<number, { resolve: (r: GuestRunResult) => void }>();
  const fail = (why: string): void => {
    for (const [, p] of pending) p.resolve({ outcome: 'host-error', serial: '', detail: `conformance worker: ${why}` });
    pending.clear();
    child = undefined;
  };
  const start = (): ChildProcess => {
    const isTs = WORKER_URL.pathname.endsWith('.ts');
    const c = fork(fileURLToPath(WORKER_URL), [], {
      serialization: 'advanced',
      // tsx by absolute URL: the worker must find it whatever the current directory is
      execArgv: isTs ? ['--import', import.meta.resolve('tsx')] : [],
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    });
    let stderr = '';
    c.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-2000);
    });
    c.on('message', (m: WorkerReply) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      p.resolve(m.result ?? { outcome: 'host-error', serial: '', detail: `conformance worker: ${m.error ?? 'no result'}` });
    });
    c.on('exit', (code, signal) => {
      if (child === c) fail(`exited (${signal ?? code})${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`);
    });
    return c;
  };
  return {
    executor(backend) {
      return (req: GuestRunRequest) =>
        new Promise<GuestRunResult>((resolve) => {
          child ??= start();
          const id = ++seq;
          pending.set(id, { resolve });
          const msg: WorkerRequest = {
            id,
            backend,
            mode,
            program: req.program,
            image: req.image,
            cpuid: req.cpuid.entries(),
            cmdline: req.cmdline,
            entry: req.entry,
            timeoutMs: req.timeoutMs,
          };
          child.send(msg);
        });
    },
    close: async () => {
      const c = child;
      child = undefined;
      if (!c || c.exitCode !== null) return;
      await new Promise<void>((resolve) => {
        c.once('exit', () => resolve());
        c.disconnect();
        setTimeout(() => c.kill(), 2000).unref();
      });
    },
  };
}

/** Jobs by default: one per core. */
export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}
