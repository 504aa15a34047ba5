// The conformance suite end to end (issue 7): pick programs, build the policy matrix for each available
// backend (matrix.ts), run the cells in parallel, compare the backends line by line (differential.ts),
// compute the contract coverage (coverage.ts), and render the result as text or JSON (html.ts for the
// page). Shared by `tsvmm test` (src/cli/commands/test.ts) and `npm test` (backends.test.ts).

import { CONFORMANCE_DEVIATIONS, CPUID_TABLE_DEVIATION, type HostFlavour } from './deviations.ts';
import { computeCoverage, formatCoverage, type CoverageReport } from './coverage.ts';
import { differential, formatDiff, type DiffResult } from './differential.ts';
import {
  buildBackendPolicies,
  DEFAULT_MODELS,
  expandMatrix,
  inProcessSlot,
  mergedBackHere,
  neededPolicySpecs,
  scheduleMatrix,
  workerSlot,
  type BackendPlan,
  type ExecutorSlot,
  type MatrixJob,
  type SuiteMode,
} from './matrix.ts';
import { manifestOf } from './programs/manifest.ts';
import { createSuiteBackend, type SuiteBackendName } from './backends.ts';
import { detectHostFlavour, formatCell, GUESTS_DIR, listPrograms, loadGuestImage, type CellResult } from './runner.ts';
import type { Backend } from '../src/vcpu/backend.ts';
import { TsvmmError } from '../src/util/result.ts';

export interface SuiteOptions {
  readonly backends: readonly SuiteBackendName[];
  /** one policy spec instead of the matrix (e.g. "host,-smep" or "x86-64-v3") */
  readonly cpu?: string;
  /** program name filter: a substring, or a glob with * */
  readonly pattern?: string;
  readonly jobs: number;
  readonly mode?: SuiteMode;
  readonly guestsDir?: string;
  readonly models?: readonly string[];
  readonly timeoutMs?: number;
  readonly onProgress?: (done: number, total: number, cell: CellResult) => void;
  readonly onTimings?: (jobs: readonly MatrixJob[], ms: readonly number[]) => void;
  /** inject slots (tests); default: in-process for jobs=1, worker processes otherwise */
  readonly slots?: (i: number, backends: ReadonlyMap<string, Backend>) => ExecutorSlot;
}

export interface BackendInfo {
  readonly name: string;
  readonly flavour: HostFlavour;
  readonly unavailable?: string;
  readonly note?: string;
  /** feature variants left out because the feature was not in the base policy to turn off */
  readonly sameAsBase?: readonly string[];
  /** feature variants left out because this host's KVM puts the feature back (CPUID_TABLE_DEVIATION) */
  readonly mergedBack?: readonly string[];
  readonly policies: readonly { name: string; description: string }[];
}

export interface SuiteResult {
  readonly mode: SuiteMode;
  readonly programs: readonly string[];
  readonly backends: readonly BackendInfo[];
  readonly jobs: readonly MatrixJob[];
  readonly cells: readonly CellResult[];
  readonly diffs: readonly DiffResult[];
  /** only for a full run (no pattern, no --cpu): a filtered run cannot speak for every rule */
  readonly coverage?: CoverageReport;
  readonly counts: { readonly passed: number; readonly failed: number; readonly skipped: number };
}

/** Does a program name match the CLI pattern (substring, or a * glob matched against the whole name)? */
export function matchesPattern(program: string, pattern: string | undefined): boolean {
  if (!pattern) return true;
  if (!pattern.includes('*')) return program.includes(pattern);
  const re = new RegExp(`^${pattern.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  return re.test(program);
}

/** The counts behind the summary line: cells, differential disagreements, and uncovered rules. */
export function countResults(cells: readonly CellResult[], diffs: readonly DiffResult[], coverage?: CoverageReport): SuiteResult['counts'] {
  let passed = 0;
  let failed = 0;
  let skipped = 0;
  for (const c of cells) {
    if (c.status === 'pass') passed++;
    else if (c.status === 'fail') failed++;
    else skipped++;
  }
  for (const d of diffs) {
    if (d.status === 'disagree') failed++;
    else if (d.status === 'agree') passed++;
  }
  if (coverage) {
    if (coverage.uncovered.length) failed++;
    else passed++;
  }
  return { passed, failed, skipped };
}

/** The summary line, exactly `N passed, N failed` (`, N skipped` when some were). */
export function summaryLine(c: SuiteResult['counts']): string {
  return `${c.passed} passed, ${c.failed} failed${c.skipped ? `, ${c.skipped} skipped` : ''}`;
}

async function allModelNames(): Promise<string[]> {
  const { modelNames } = await import('../src/cpuid/models/index.ts');
  return modelNames();
}

export async function runSuite(o: SuiteOptions): Promise<SuiteResult> {
  const mode = o.mode ?? 'kvm-exact';
  const all = listPrograms();
  const programs = all.filter((p) => matchesPattern(p, o.pattern));
  if (!programs.length) throw new TsvmmError('CONFORMANCE_PATTERN', `no conformance program matches '${o.pattern}' (programs: ${all.join(' ')})`);
  const base = o.cpu ?? 'host';
  // every named model is tried; buildBackendPolicies keeps, per backend, DEFAULT_MODELS and the models
  // it refuses nothing of ("where the backend supports them")
  const models = o.cpu ? [] : (o.models ?? (await allModelNames()));
  const specs = o.cpu ? [{ name: o.cpu, spec: o.cpu }] : neededPolicySpecs(programs, base, models);

  const infos: BackendInfo[] = [];
  const plans: BackendPlan[] = [];
  const live = new Map<string, Backend>();
  for (const name of o.backends) {
    const b = await createSuiteBackend(name, mode);
    const flavour: HostFlavour = name === 'kvm' ? detectHostFlavour() : 'none';
    if (!b.backend) {
      infos.push({ name, flavour, unavailable: b.unavailable ?? 'unavailable', policies: [] });
      continue;
    }
    live.set(name, b.backend);
    const same: string[] = [];
    const merged: string[] = [];
    const policies = await buildBackendPolicies(b.backend, specs, DEFAULT_MODELS, same);
    for (const [pname, p] of [...policies]) {
      if (p.off && mergedBackHere(p.off, flavour)) {
        policies.delete(pname);
        merged.push(pname);
      }
    }
    plans.push({ name, flavour, policies });
    infos.push({
      name,
      flavour,
      ...(b.note ? { note: b.note } : {}),
      ...(same.length ? { sameAsBase: same } : {}),
      ...(merged.length ? { mergedBack: merged } : {}),
      policies: [...policies.values()].map((p) => ({ name: p.name, description: p.description })),
    });
  }

  const jobs = o.cpu
    ? programs.flatMap((program) => plans.map((p) => ({ program, policy: o.cpu!, backend: p.name, entry: 'long64' as const })))
    : expandMatrix(programs, plans, { base, models });
  const dir = o.guestsDir ?? GUESTS_DIR;
  const images = new Map<string, Uint8Array>();
  const image = (p: string): Uint8Array => {
    let i = images.get(p);
    if (!i) images.set(p, (i = loadGuestImage(p, dir)));
    return i;
  };
  for (const p of programs) image(p); // fail early, with the build hint, before any worker starts
  const slots =
    o.slots !== undefined ? (i: number) => o.slots!(i, live) : o.jobs === 1 ? () => inProcessSlot(live) : () => workerSlot(mode);
  const cells = await scheduleMatrix(jobs, {
    jobs: o.jobs,
    slots,
    images: image,
    plans,
    mode,
    ...(o.timeoutMs !== undefined ? { timeoutMs: o.timeoutMs } : {}),
    ...(o.onProgress ? { onDone: o.onProgress } : {}),
    ...(o.onTimings ? { onTimings: (ms: readonly number[]) => o.onTimings!(jobs, ms) } : {}),
  });
  const diffs = differential(cells);
  const full = !o.pattern && !o.cpu && plans.length > 0;
  // backends that did not run (unavailable, or not asked for): rules only they can exercise aren't uncovered
  const ran = new Set(infos.filter((b) => !b.unavailable).map((b) => b.name));
  const down = new Set(['kvm', 'interp'].filter((n) => !ran.has(n)));
  const coverage = full ? computeCoverage(cells, undefined, down) : undefined;
  return {
    mode,
    programs,
    backends: infos,
    jobs,
    cells,
    diffs,
    ...(coverage ? { coverage } : {}),
    counts: countResults(cells, diffs, coverage),
  };
}

// ---- text output ---------------------------------------------------------------------------------

const CELL_WORD = { pass: 'pass', fail: 'FAIL', unavailable: 'unavail' } as const;

/** One word for a cell in the table: pass / FAIL / unavail, with the deviations it needed. */
export function cellWord(c: CellResult | undefined): string {
  if (!c) return '-';
  const dev = c.lines.filter((l) => l.status === 'deviation').length;
  const una = c.unavailable.length;
  return `${CELL_WORD[c.status]}${dev ? ` ${dev}dev` : ''}${una && c.status !== 'unavailable' ? ` ${una}u` : ''}`;
}

/** The matrix as a text table: program × policy rows, one column per backend, plus the differential. */
export function formatMatrix(r: SuiteResult): string[] {
  const backends = r.backends.map((b) => b.name);
  const rows = new Map<string, { program: string; policy: string; cells: Map<string, CellResult> }>();
  for (const c of r.cells) {
    const k = `${c.program}\u0000${c.policy}`;
    let row = rows.get(k);
    if (!row) rows.set(k, (row = { program: c.program, policy: c.policy, cells: new Map() }));
    row.cells.set(c.backend, c);
  }
  const diffOf = new Map(r.diffs.map((d) => [`${d.program}\u0000${d.policy}`, d]));
  const table = [...rows.entries()].map(([k, row]) => [
    row.program,
    row.policy,
    ...backends.map((b) => cellWord(row.cells.get(b))),
    diffOf.get(k)?.status ?? '',
  ]);
  const head = ['program', 'policy', ...backends, backends.length > 1 ? 'kvm≡interp' : ''];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const fmt = (cols: string[]): string => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...table.map(fmt)];
}

/** The full text report: backends and policies, the table, failing cells with their lines and the
 *  contract's reasons, differential disagreements, the coverage listing, and the summary line. */
export function formatSuite(r: SuiteResult, opts: { verbose?: boolean } = {}): string[] {
  const out: string[] = [`conformance suite (${r.mode} mode): ${r.programs.length} programs, ${r.cells.length} cells`];
  for (const b of r.backends) {
    if (b.unavailable) {
      out.push(`backend ${b.name}: unavailable (${b.unavailable}); its cells are skipped`);
      continue;
    }
    out.push(`backend ${b.name} (${b.flavour})${b.note ? ` — note: ${b.note}` : ''}`);
    for (const p of b.policies) out.push(`  policy ${p.name.padEnd(18)} ${p.description}`);
    if (b.sameAsBase?.length) out.push(`  (not run: ${b.sameAsBase.join(' ')} — the base policy lacks the feature already)`);
    if (b.mergedBack?.length)
      out.push(`  (not run: ${b.mergedBack.join(' ')} — ${CPUID_TABLE_DEVIATION.id}: this KVM puts leaf 1/7 features back, the variant would repeat the base)`);
  }
  out.push('', ...formatMatrix(r), '');
  for (const c of r.cells) {
    if (c.status === 'pass' && !opts.verbose) continue;
    out.push(...formatCell(c));
    for (const l of c.lines) {
      if (l.status !== 'fail') continue;
      const p = c.contract.predictions.get(l.line.name);
      if (p) out.push(`      contract for ${l.line.name}: ${p.contract}${p.rule ? ` [${p.rule}] ${p.reason}` : ' (the write is legal)'}`);
    }
  }
  for (const d of r.diffs) if (d.status === 'disagree' || opts.verbose) out.push(...formatDiff(d));
  const flav = r.backends.find((b) => b.name === 'kvm')?.flavour;
  if (flav && CPUID_TABLE_DEVIATION.flavours.includes(flav))
    out.push(`note: ${CPUID_TABLE_DEVIATION.id}: on this host KVM rewrites CPUID leaves 1 and 7, so some "-feature" policies are the full policy on kvm (lines then differ in expectation, not in outcome).`);
  const unused = unusedDeviations(r);
  if (unused.length) out.push(`note: recorded deviations not seen in this run (stale, or for programs/policies not run): ${unused.join(' ')}`);
  if (r.coverage) out.push('', ...formatCoverage(r.coverage));
  else out.push('', 'coverage: not computed (a PATTERN or --cpu run cannot speak for every rule)');
  out.push('', summaryLine(r.counts));
  return out;
}

/** Recorded deviations for the backends and hosts of this run that no line needed (full runs only). */
export function unusedDeviations(r: SuiteResult): string[] {
  if (!r.coverage) return [];
  const used = new Set<string>();
  for (const c of r.cells) for (const l of c.lines) if (l.deviation) used.add(l.deviation.id);
  const ran = r.backends.filter((b) => !b.unavailable);
  return CONFORMANCE_DEVIATIONS.filter(
    (d) => !d.skipCheck && !used.has(d.id) && ran.some((b) => b.name === d.backend && d.flavours.includes(b.flavour)),
  ).map((d) => d.id);
}

// ---- JSON ----------------------------------------------------------------------------------------

/** A plain-data view of the result (no Maps, RegExps or class instances). */
export function suiteToJson(r: SuiteResult): unknown {
  return {
    mode: r.mode,
    programs: r.programs.map((p) => ({ name: p, ...manifestOf(p) })),
    backends: r.backends,
    summary: summaryLine(r.counts),
    counts: r.counts,
    cells: r.cells.map((c) => ({
      program: c.program,
      policy: c.policy,
      backend: c.backend,
      flavour: c.flavour,
      status: c.status,
      why: c.why,
      runs: c.runs,
      outcome: c.last.outcome,
      problems: c.problems,
      notes: c.notes,
      unavailable: c.unavailable,
      lines: c.lines.map((l) => {
        const p = c.contract.predictions.get(l.line.name);
        return {
          status: l.status,
          verdict: l.line.verdict,
          name: l.line.name,
          detail: l.line.detail,
          ...(l.line.expect !== undefined ? { expect: l.line.expect } : {}),
          ...(l.line.got !== undefined ? { got: l.line.got } : {}),
          ...(l.deviation ? { deviation: { id: l.deviation.id, kind: l.deviation.kind, what: l.deviation.what, evidence: l.deviation.evidence } } : {}),
          ...(p ? { contract: { outcome: p.contract, ...(p.rule ? { rule: p.rule, reason: p.reason } : {}) } } : {}),
        };
      }),
      contractDisagreements: c.contract.disagreements,
    })),
    diffs: r.diffs,
    coverage: r.coverage
      ? {
          uncovered: r.coverage.uncovered,
          rules: r.coverage.rules.map((x) => ({
            id: x.rule.id,
            kind: x.rule.kind,
            source: x.rule.source,
            programs: x.programs,
            skippedIn: x.skippedIn,
            ...(x.notObservable ? { notObservable: x.notObservable } : {}),
          })),
        }
      : null,
    deviations: CONFORMANCE_DEVIATIONS.map((d) => ({ id: d.id, kind: d.kind, backend: d.backend, flavours: d.flavours, what: d.what, evidence: d.evidence })),
  };
}
