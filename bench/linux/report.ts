// The Linux boot benchmark's results: the JSON record (build/bench/linux-results.json: command lines,
// versions, kernel, every run), the side-by-side text table and the SVG chart (harness/svg.ts) of the
// median times to the first kernel line, TSVMM-INIT-OK and exit, per engine and vCPU count.

import { textTable, type BenchHost } from '../harness/format.ts';
import { el, svgDocument } from '../harness/svg.ts';
import { LINUX_ENGINE_LABEL, type BootGroup, type LinuxEngineId } from './runner.ts';

export interface LinuxResults {
  readonly tool: 'tsvmm-bench-linux';
  readonly version: 1;
  readonly date: string;
  readonly host: BenchHost & { readonly loadavg: readonly [number, number] };
  readonly kernel: { readonly path: string; readonly version: string; readonly banner?: string };
  readonly initrd: { readonly path: string; readonly bytes: number; readonly sha256: string };
  readonly memoryMiB: number;
  readonly runs: number;
  readonly versions: { readonly tsvmm: string; readonly tsvmmCli: string; readonly qemu?: string };
  readonly groups: readonly BootGroup[];
  /** engines not run, with why */
  readonly skipped: readonly { readonly engine: LinuxEngineId | 'all'; readonly reason: string }[];
}

const s = (ms: number | undefined): string => (ms === undefined || !Number.isFinite(ms) ? '-' : (ms / 1000).toFixed(ms < 10000 ? 2 : 1));

/** "median (min-max)" in seconds, or the median alone for one run. */
function cell(st: { median: number; min: number; max: number } | undefined, runs: number): string {
  if (!st) return '-';
  return runs > 1 ? `${s(st.median)} (${s(st.min)}-${s(st.max)})` : s(st.median);
}

function okRuns(g: BootGroup): number {
  return g.runs.filter((r) => !r.error).length;
}

function ratioText(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !Number.isFinite(a) || !Number.isFinite(b) || b <= 0) return '-';
  const q = a / b;
  return `${q >= 10 ? q.toFixed(0) : q.toFixed(1)}x`;
}

/** The side-by-side table, the ratio tsvmm / QEMU per milestone, then the commands and failures. */
export function formatLinuxResults(r: LinuxResults): string {
  const out: string[] = [];
  out.push(
    `Linux boot, ${r.kernel.version.split(' ')[0]} + ${r.initrd.path.split('/').at(-1)}, ${r.memoryMiB} MiB: wall-clock seconds from the process start, median (min-max) of the runs`,
  );
  const la = r.host.loadavg;
  const loads = r.groups.flatMap((g) => g.runs.map((x) => x.loadAtStart)).filter((x): x is number => x !== undefined);
  const peak = Math.max(la[0], la[1], ...loads);
  out.push(
    `host: ${r.host.cpus} CPUs (${r.host.cpuModel}), load average ${la[0].toFixed(1)} at the start, ${la[1].toFixed(1)} at the end` +
      (loads.length ? `, ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} at the runs' starts` : ''),
  );
  if (peak > r.host.cpus * 0.75)
    out.push(`(load average up to ${peak.toFixed(1)} on ${r.host.cpus} CPUs: other work was running; the times are long and noisy, read the ratios with care)`);
  for (const sk of r.skipped) out.push(`not run: ${sk.engine === 'all' ? 'the Linux boot' : LINUX_ENGINE_LABEL[sk.engine]}: ${sk.reason}`);
  const rows: string[][] = [];
  const smps = [...new Set(r.groups.map((g) => g.smp))];
  for (const smp of smps) {
    const gs = r.groups.filter((g) => g.smp === smp);
    for (const g of gs) {
      const n = okRuns(g);
      rows.push([
        String(smp),
        LINUX_ENGINE_LABEL[g.engine],
        g.form,
        g.error ? 'FAILED' : cell(g.stats?.firstKernelMs, n),
        g.error ? '' : cell(g.stats?.initOkMs, n),
        g.error ? '' : cell(g.stats?.exitMs, n),
        `${n}/${g.runs.length}`,
        g.stats?.peakRssKb ? String(Math.round(g.stats.peakRssKb.median / 1024)) : '-',
      ]);
    }
    const t = gs.find((g) => g.engine === 'tsvmm-interp' && g.stats);
    const q = gs.find((g) => g.engine === 'qemu-tcg' && g.stats);
    if (t && q)
      rows.push([
        String(smp),
        'ratio tsvmm / QEMU',
        t.form === q.form ? 'same' : 'DIFFERENT',
        ratioText(t.stats!.firstKernelMs.median, q.stats!.firstKernelMs.median),
        ratioText(t.stats!.initOkMs.median, q.stats!.initOkMs.median),
        ratioText(t.stats!.exitMs.median, q.stats!.exitMs.median),
        '',
        '',
      ]);
  }
  out.push(textTable(['vCPUs', 'engine', 'form', 'first kernel line', 'TSVMM-INIT-OK', 'exit (power-off)', 'ok', 'peak MiB'], rows));
  const cliRun = r.groups.filter((g) => g.engine === 'tsvmm-interp' && g.stats?.cliRunMs);
  for (const g of cliRun)
    out.push(`tsvmm, ${g.smp} vCPU${g.smp > 1 ? 's' : ''}: the CLI's own figure (machine run only, Node start-up left out): ${s(g.stats!.cliRunMs!.median)} s median`);
  out.push('');
  out.push('commands (run from the repository root):');
  for (const g of r.groups) out.push(`  ${g.command}`);
  for (const g of r.groups)
    for (const a of g.attempts) {
      out.push(
        a.error.startsWith('not tried')
          ? `tsvmm, ${g.smp} vCPU${g.smp > 1 ? 's' : ''}: the ${a.form} form was ${a.error}`
          : `tsvmm, ${g.smp} vCPU${g.smp > 1 ? 's' : ''}: the ${a.form} form failed (${a.error}): ${a.command}`,
      );
      for (const l of a.tail ?? []) out.push(`    | ${l}`);
    }
  for (const g of r.groups)
    for (const [i, run] of g.runs.entries())
      if (run.error) {
        out.push(`${LINUX_ENGINE_LABEL[g.engine]}, ${g.smp} vCPU${g.smp > 1 ? 's' : ''}, run ${i + 1}: ${run.error}`);
        for (const l of run.tail ?? []) out.push(`    | ${l}`);
      }
  out.push(`versions: tsvmm ${r.versions.tsvmm} (${r.versions.tsvmmCli}); ${r.versions.qemu ?? 'QEMU not run'}; Node ${r.host.node}; kernel ${r.kernel.version}`);
  return out.join('\n');
}

const COLORS = ['#4e79a7', '#f28e2b', '#59a14f'];
const MILESTONES = [
  ['firstKernelMs', 'first kernel line'],
  ['initOkMs', 'TSVMM-INIT-OK'],
  ['exitMs', 'exit (power-off)'],
] as const;

/** Bars of the median seconds per engine and vCPU count, one per milestone, on a log10 axis (0.1 s to 1000 s). */
export function linuxChart(r: LinuxResults): string {
  const groups = r.groups.filter((g) => g.stats);
  const left = 190;
  const plotW = 480;
  const bar = 12;
  const top = 60;
  const lo = -1;
  const hi = 3;
  const x = (ms: number): number => left + ((Math.min(hi, Math.max(lo, Math.log10(ms / 1000))) - lo) / (hi - lo)) * plotW;
  const groupH = MILESTONES.length * bar + 10;
  const height = top + Math.max(1, groups.length) * groupH + 30 + MILESTONES.length * 16;
  const parts: string[] = [
    el('text', { x: 10, y: 20, 'font-size': 14, 'font-weight': 'bold' }, { text: `Linux boot: tsvmm interpreter vs QEMU TCG, ${r.date.slice(0, 10)}` }),
    el('text', { x: 10, y: 38, fill: '#555' }, { text: `${r.kernel.version.split(' ')[0]}; median wall-clock seconds from the process start, log10 scale` }),
  ];
  for (let e = lo; e <= hi; e++) {
    const xv = x(1000 * 10 ** e);
    parts.push(el('line', { x1: xv, y1: top - 5, x2: xv, y2: top + groups.length * groupH, stroke: '#ddd' }));
    parts.push(el('text', { x: xv, y: top - 8, 'text-anchor': 'middle', fill: '#555' }, { text: `${10 ** e} s` }));
  }
  groups.forEach((g, i) => {
    const y0 = top + i * groupH;
    parts.push(el('text', { x: left - 6, y: y0 + (MILESTONES.length * bar) / 2 + 4, 'text-anchor': 'end' }, { text: `${LINUX_ENGINE_LABEL[g.engine]}, ${g.smp} vCPU${g.smp > 1 ? 's' : ''}` }));
    MILESTONES.forEach(([k], j) => {
      const ms = g.stats![k].median;
      if (!Number.isFinite(ms) || ms <= 0) return;
      const x0 = x(100);
      parts.push(el('rect', { x: x0, y: y0 + j * bar, width: Math.max(1, x(ms) - x0), height: bar - 2, fill: COLORS[j] }));
      parts.push(el('text', { x: x(ms) + 3, y: y0 + j * bar + bar - 3, 'font-size': 9 }, { text: s(ms) }));
    });
  });
  const ly = top + groups.length * groupH + 16;
  MILESTONES.forEach(([, label], j) => {
    parts.push(el('rect', { x: left, y: ly + j * 16, width: 12, height: 12, fill: COLORS[j] }));
    parts.push(el('text', { x: left + 18, y: ly + j * 16 + 10 }, { text: label }));
  });
  return svgDocument(left + plotW + 70, height, parts);
}
