// Differential checking (issue 7 item 3): every (program, policy) cell that ran on both backends is
// compared report line by report line. Two lines are comparable when both backends executed the check
// with the same expectation (the guest derives `expect=` from the CPUID it sees, so different CPUID
// views make a line incomparable, not a disagreement). A comparable line whose outcome (`got=`) or
// verdict differs is a disagreement, unless one side's line is a recorded deviation or known bug
// (deviations.ts, with evidence), or one side could not execute it (oracle unavailable). A line only one
// side reported is a disagreement when both guests saw the same CPUID, and incomparable otherwise.

import { DYNAMIC_MASK, deviationTag, type CellLine, type CellResult } from './runner.ts';
import type { GuestCpuidLeaf } from './report.ts';

/** Did the two guests see the same CPUID (ignoring the run-time bits: OSXSAVE, OSPKE, APIC ID, sizes)? */
export function sameCpuidView(a: readonly GuestCpuidLeaf[], b: readonly GuestCpuidLeaf[]): boolean {
  if (a.length !== b.length) return false;
  for (const x of a) {
    const y = b.find((l) => l.leaf === x.leaf && l.subleaf === x.subleaf);
    if (!y) return false;
    const mask = DYNAMIC_MASK[`${x.leaf}:${x.subleaf}`] ?? {};
    for (const r of ['eax', 'ebx', 'ecx', 'edx'] as const) {
      if (((x[r] ^ y[r]) & ~(mask[r] ?? 0)) !== 0) return false;
    }
  }
  return true;
}

export interface SideLine {
  readonly verdict: string;
  readonly got?: string;
  readonly expect?: string;
  readonly detail: string;
  readonly status: CellLine['status'];
}

export interface LineDisagreement {
  readonly name: string;
  /** by backend name */
  readonly sides: Readonly<Record<string, SideLine | undefined>>;
  readonly why: string;
}

export interface ExplainedDifference {
  readonly name: string;
  /** the deviation id or the reason the line was not compared */
  readonly by: string;
}

export type DiffStatus = 'agree' | 'disagree' | 'unavailable';

export interface DiffResult {
  readonly program: string;
  readonly policy: string;
  readonly backends: readonly [string, string];
  readonly status: DiffStatus;
  readonly compared: number;
  /** lines each backend checked with a different expectation (different CPUID views) */
  readonly incomparable: number;
  readonly disagreements: readonly LineDisagreement[];
  readonly explained: readonly ExplainedDifference[];
  readonly why: string;
}

function side(l: CellLine): SideLine {
  return {
    verdict: l.line.verdict,
    detail: l.line.detail,
    status: l.status,
    ...(l.line.got !== undefined ? { got: l.line.got } : {}),
    ...(l.line.expect !== undefined ? { expect: l.line.expect } : {}),
  };
}

function explainedBy(l: CellLine | undefined): string | undefined {
  if (!l) return undefined;
  if (l.status === 'deviation') return `${deviationTag(l.deviation!)}(${l.deviation!.id})`;
  if (l.status === 'unavailable') return 'oracle-unavailable';
  return undefined;
}

/** Compare one program × policy on two backends. */
export function compareCells(a: CellResult, b: CellResult): DiffResult {
  const base = { program: a.program, policy: a.policy, backends: [a.backend, b.backend] as const };
  if (a.status === 'unavailable' || b.status === 'unavailable') {
    const who = [a, b].filter((c) => c.status === 'unavailable').map((c) => c.backend);
    return { ...base, status: 'unavailable', compared: 0, incomparable: 0, disagreements: [], explained: [], why: `oracle unavailable on ${who.join(' and ')}` };
  }
  const byName = (c: CellResult): Map<string, CellLine> => new Map(c.lines.map((l) => [l.line.name, l]));
  const la = byName(a);
  const lb = byName(b);
  const names = [...new Set([...la.keys(), ...lb.keys()])];
  const sameView = sameCpuidView(a.report.cpuid, b.report.cpuid);
  let compared = 0;
  let incomparable = 0;
  const disagreements: LineDisagreement[] = [];
  const explained: ExplainedDifference[] = [];
  for (const name of names) {
    const x = la.get(name);
    const y = lb.get(name);
    const ex = explainedBy(x) ?? explainedBy(y);
    if (!x || !y) {
      if (ex) explained.push({ name, by: ex });
      else if (!sameView) incomparable++; // the guests took different branches on different CPUID
      else
        disagreements.push({
          name,
          sides: { [a.backend]: x && side(x), [b.backend]: y && side(y) },
          why: `reported only by ${x ? a.backend : b.backend}`,
        });
      continue;
    }
    if (x.line.verdict === 'SKIP' && y.line.verdict === 'SKIP') continue;
    if (x.line.expect !== y.line.expect || (x.line.verdict === 'SKIP') !== (y.line.verdict === 'SKIP')) {
      // The guests decided differently: they saw different CPUID (or one had nothing to check).
      incomparable++;
      continue;
    }
    compared++;
    if (x.line.got === y.line.got && x.line.verdict === y.line.verdict) continue;
    if (ex) {
      explained.push({ name, by: ex });
      continue;
    }
    disagreements.push({
      name,
      sides: { [a.backend]: side(x), [b.backend]: side(y) },
      why: `${a.backend} got=${x.line.got ?? '?'} (${x.line.verdict}), ${b.backend} got=${y.line.got ?? '?'} (${y.line.verdict})`,
    });
  }
  const status: DiffStatus = disagreements.length ? 'disagree' : 'agree';
  const why =
    `${compared} lines compared, ${incomparable} with different expectations (CPUID views differ), ` +
    `${explained.length} explained, ${disagreements.length} disagreements` +
    (disagreements.length ? `; first: ${disagreements[0]!.name}: ${disagreements[0]!.why}` : '');
  return { ...base, status, compared, incomparable, disagreements, explained, why };
}

/** Pair every (program, policy) that ran on both `left` and `right` and compare them. */
export function differential(cells: readonly CellResult[], left = 'kvm', right = 'interp'): DiffResult[] {
  const key = (c: CellResult): string => `${c.program}\u0000${c.policy}`;
  const rights = new Map(cells.filter((c) => c.backend === right).map((c) => [key(c), c]));
  const out: DiffResult[] = [];
  for (const c of cells) {
    if (c.backend !== left) continue;
    const other = rights.get(key(c));
    if (other) out.push(compareCells(c, other));
  }
  return out;
}

/** Printable lines for one differential result (the disagreements with both sides). */
export function formatDiff(d: DiffResult): string[] {
  const out = [`DIFF ${d.status.toUpperCase()} ${d.program} × ${d.policy} (${d.backends.join(' vs ')}) — ${d.why}`];
  for (const x of d.disagreements) {
    out.push(`    DISAGREE ${x.name}: ${x.why}`);
    for (const [b, s] of Object.entries(x.sides)) out.push(`      ${b}: ${s ? `${s.verdict} ${s.detail}` : '(no line)'}`);
  }
  return out;
}
