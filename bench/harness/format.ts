// The benchmark's results as data (the JSON written to build/bench/results.json) and as text tables
// for the terminal: MIPS per workload variant and engine, the ratios tsvmm / peer, peak memory.

import { ratio, type MipsSummary } from './stats.ts';

export interface EngineInfo {
  readonly id: string;
  readonly label: string;
  readonly note?: string;
  readonly available: boolean;
  readonly reason?: string;
  readonly tsvmm: boolean;
  readonly reference: boolean;
}

export interface Measurement {
  readonly engine: string;
  readonly variant: string;
  readonly iterations: number;
  /** wl_run instructions of one measured run (workloads.ts instructionCount) less the zero-iteration run's */
  readonly instructions: number;
  readonly zeroRunsMs: readonly number[];
  readonly runsMs: readonly number[];
  readonly startupMs: number;
  readonly mips: MipsSummary;
  readonly peakRssKb: number | null;
  /** the guest's RDTSC delta of the last measured run (instructions on icount-like engines) */
  readonly tsc: number | null;
  /** how the runs were timed: guest marks on live output, or the process's wall time */
  readonly timing: 'marks' | 'wall';
  readonly error?: string;
}

/** The machine a result was measured on. */
export interface BenchHost {
  readonly node: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly platform: string;
  /** 1-minute load average at the start and the end: other work on the machine skews every figure */
  readonly loadavg?: readonly [number, number];
}

export interface Results {
  readonly tool: 'tsvmm-bench';
  readonly version: 1;
  readonly date: string;
  readonly host: BenchHost;
  readonly quick: boolean;
  readonly runs: number;
  readonly engines: readonly EngineInfo[];
  readonly measurements: readonly Measurement[];
  /** engine × variant pairs not run because the engine is known not to support them */
  readonly skipped: readonly { readonly engine: string; readonly variant: string; readonly reason: string }[];
}

export interface RatioEntry {
  readonly variant: string;
  readonly tsvmm: string;
  readonly peer: string;
  readonly ratio: number;
}

/** tsvmm-interp / every non-reference peer, per variant both ran without error. */
export function ratios(r: Results, tsvmmEngine = 'tsvmm-interp'): RatioEntry[] {
  const peers = r.engines.filter((e) => !e.tsvmm && !e.reference).map((e) => e.id);
  const byKey = new Map(r.measurements.map((m) => [`${m.engine}/${m.variant}`, m]));
  const variants = [...new Set(r.measurements.map((m) => m.variant))];
  const out: RatioEntry[] = [];
  for (const v of variants) {
    const t = byKey.get(`${tsvmmEngine}/${v}`);
    if (!t || t.error) continue;
    for (const p of peers) {
      const m = byKey.get(`${p}/${v}`);
      if (!m || m.error) continue;
      const q = ratio(t.mips.median, m.mips.median);
      if (Number.isFinite(q)) out.push({ variant: v, tsvmm: tsvmmEngine, peer: p, ratio: q });
    }
  }
  return out;
}

/** Right-aligned columns (the first left-aligned), header underlined. */
export function textTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const w = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ').trimEnd();
  return [line(headers), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n');
}

export function fmtMips(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 100 ? x.toFixed(0) : x >= 1 ? x.toFixed(1) : x.toPrecision(2);
}

export function fmtRatio(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 0.01 ? x.toFixed(2) : x.toPrecision(2);
}

export function formatResults(r: Results): string {
  const engines = r.engines.filter((e) => e.available);
  const variants = [...new Set(r.measurements.map((m) => m.variant))];
  const get = (e: string, v: string): Measurement | undefined => r.measurements.find((m) => m.engine === e && m.variant === v);
  const out: string[] = [];
  out.push(`MIPS, median (min) over ${r.runs} run(s), start-up subtracted${r.quick ? ' — QUICK smoke run, not a measurement' : ''}`);
  const la = r.host.loadavg;
  if (la && Math.max(...la) > r.host.cpus * 0.75)
    out.push(`(load average ${la[0].toFixed(1)} → ${la[1].toFixed(1)} on ${r.host.cpus} CPUs: other work was running; absolute figures are low, ratios noisy)`);
  out.push(
    textTable(
      ['workload', ...engines.map((e) => e.label)],
      variants.map((v) => [
        v,
        ...engines.map((e) => {
          const m = get(e.id, v);
          if (!m) return r.skipped.some((k) => k.engine === e.id && k.variant === v) ? 'n/a' : '';
          if (m.error) return 'FAIL';
          return `${fmtMips(m.mips.median)} (${fmtMips(m.mips.min)})`;
        }),
      ]),
    ),
  );
  const notes = engines.filter((e) => e.note).map((e) => `  ${e.label}: ${e.note}`);
  if (notes.length) out.push(notes.join('\n'));
  const rs = ratios(r);
  const peers = [...new Set(rs.map((x) => x.peer))];
  if (rs.length) {
    const label = (id: string): string => r.engines.find((e) => e.id === id)?.label ?? id;
    out.push('');
    out.push('ratio tsvmm interpreter / peer (median MIPS; >= 1.0 means tsvmm is as fast or faster)');
    out.push(
      textTable(
        ['workload', ...peers.map(label)],
        variants
          .filter((v) => rs.some((x) => x.variant === v))
          .map((v) => [v, ...peers.map((p) => fmtRatio(rs.find((x) => x.variant === v && x.peer === p)?.ratio ?? NaN))]),
      ),
    );
  }
  out.push('');
  out.push('peak memory (max RSS over all its runs, MiB)');
  out.push(
    textTable(
      ['engine', 'MiB'],
      engines.map((e) => {
        const k = r.measurements.filter((m) => m.engine === e.id).map((m) => m.peakRssKb ?? 0);
        return [e.label, k.length && Math.max(...k) > 0 ? (Math.max(...k) / 1024).toFixed(0) : '-'];
      }),
    ),
  );
  const failed = r.measurements.filter((m) => m.error);
  if (failed.length) {
    out.push('');
    out.push('failures:');
    for (const m of failed) out.push(`  ${m.engine} ${m.variant}: ${m.error!.split('\n')[0]}`);
  }
  if (r.skipped.length) {
    out.push('');
    out.push('n/a:');
    for (const k of r.skipped) out.push(`  ${k.engine} ${k.variant}: ${k.reason}`);
  }
  const missing = r.engines.filter((e) => !e.available);
  if (missing.length) {
    out.push('');
    out.push('not run:');
    for (const e of missing) out.push(`  ${e.label}: ${e.reason ?? 'unavailable'}`);
  }
  return out.join('\n');
}

/** JSON with NaN/Infinity as null. */
export function resultsJson(r: Results): string {
  return JSON.stringify({ ...r, ratios: ratios(r) }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n';
}
