// The differential part of the paging conformance matrix (issue 6 item 5): the report lines of the same
// paging program run on two backends, compared line by line. A group line of the paging programs
// (conformance/programs/paging_lib.h) carries "cases=N mismatches=M hash=H chash=C ahash=A": `hash`
// digests every case's checked outcome (vector, #PF error code, the paging entries afterwards) and
// `chash` every fault's CR2, so equal hashes mean the two backends agreed case by case; `ahash` digests
// what Intel SDM Vol. 3A leaves open (upper-level accessed flags after a fault, §4.8; the CR2 of a
// descriptor's accessed-flag write), which may differ. Lines named "*.info.*" report outcomes the manual allows either way (a stale TLB entry,
// §4.10.4.3), so a difference there is allowed too. Pure functions, no I/O.

import type { ReportLine } from '../report.ts';

export interface GroupOutcome {
  readonly cases: number;
  /** cases the guest's reference predicate expected to fault */
  readonly faults: number;
  readonly mismatches: number;
  readonly hash: string;
  readonly chash: string;
  readonly ahash: string;
}

const GROUP_RE =
  /(?:^| )cases=(\d+) faults=(\d+) mismatches=(\d+)(?: cr2-page-base=\d+)? hash=([0-9a-f]{8}) chash=([0-9a-f]{8}) ahash=([0-9a-f]{8})(?: |$)/;

/** The group summary of a paging report line, or undefined for a single check. */
export function parseGroupOutcome(detail: string): GroupOutcome | undefined {
  const m = GROUP_RE.exec(detail);
  if (!m) return undefined;
  return {
    cases: Number(m[1]),
    faults: Number(m[2]),
    mismatches: Number(m[3]),
    hash: m[4]!,
    chash: m[5]!,
    ahash: m[6]!,
  };
}

/** Lines whose outcome the manual leaves to the implementation. */
export function isInfoLine(name: string): boolean {
  return /(^|\.)info\./.test(name);
}

export interface LineDifference {
  readonly name: string;
  readonly a: string;
  readonly b: string;
  readonly why: string;
}

export interface BackendComparison {
  /** names whose outcomes were compared and agree */
  readonly agreed: readonly string[];
  /** compared and different: a backend (or the reference) is wrong */
  readonly disagreements: readonly LineDifference[];
  /** different where the manual allows either outcome */
  readonly allowed: readonly LineDifference[];
  /** not compared, with the reason (SKIP or missing on one side, excluded by the caller) */
  readonly notCompared: readonly { readonly name: string; readonly why: string }[];
  /** group lines compared on their case count and `hash` only (a known CR2 bug on one side), with why */
  readonly partial: readonly { readonly name: string; readonly why: string }[];
}

function outcomeText(l: ReportLine, partial: boolean): string {
  const g = parseGroupOutcome(l.detail);
  if (!g) return `${l.verdict} ${l.detail}`;
  return partial
    ? `cases=${g.cases} faults=${g.faults} hash=${g.hash}`
    : `${l.verdict} cases=${g.cases} faults=${g.faults} mismatches=${g.mismatches} hash=${g.hash} chash=${g.chash}`;
}

/** How a caller wants a line treated: left out, or (group lines) compared without verdict and CR2. */
export interface LineTreatment {
  readonly exclude?: string;
  readonly withoutCr2?: string;
}

/**
 * Compare the lines of two runs of one program (labels name the sides, e.g. ['interp', 'kvm']).
 * `treat(name)` may leave a line out or compare it without its verdict and CR2 digest (e.g. a known
 * CR2 bug on one side: the error codes and A/D bits are still compared case by case).
 */
export function compareBackends(
  a: readonly ReportLine[],
  b: readonly ReportLine[],
  labels: readonly [string, string],
  treat: (name: string) => LineTreatment = () => ({}),
): BackendComparison {
  const agreed: string[] = [];
  const disagreements: LineDifference[] = [];
  const allowed: LineDifference[] = [];
  const notCompared: { name: string; why: string }[] = [];
  const partial: { name: string; why: string }[] = [];
  const byName = (ls: readonly ReportLine[]): Map<string, ReportLine> => new Map(ls.map((l) => [l.name, l]));
  const ma = byName(a);
  const mb = byName(b);
  const names = [...new Set([...ma.keys(), ...mb.keys()])];
  for (const name of names) {
    const la = ma.get(name);
    const lb = mb.get(name);
    if (!la || !lb) {
      notCompared.push({ name, why: `missing on ${la ? labels[1] : labels[0]}` });
      continue;
    }
    if (la.verdict === 'SKIP' || lb.verdict === 'SKIP') {
      const side = la.verdict === 'SKIP' ? labels[0] : labels[1];
      const why = (la.verdict === 'SKIP' ? la : lb).detail;
      if (la.verdict === 'SKIP' && lb.verdict === 'SKIP') agreed.push(name);
      else notCompared.push({ name, why: `SKIP on ${side}: ${why}` });
      continue;
    }
    const how = treat(name);
    if (how.exclude) {
      notCompared.push({ name, why: how.exclude });
      continue;
    }
    const lenient =
      how.withoutCr2 !== undefined &&
      parseGroupOutcome(la.detail) !== undefined &&
      parseGroupOutcome(lb.detail) !== undefined;
    if (how.withoutCr2 && !lenient) {
      notCompared.push({ name, why: how.withoutCr2 });
      continue;
    }
    if (lenient) partial.push({ name, why: how.withoutCr2! });
    const ta = outcomeText(la, lenient);
    const tb = outcomeText(lb, lenient);
    if (ta !== tb) {
      const diff = { name, a: ta, b: tb, why: `${labels[0]}: ${ta} | ${labels[1]}: ${tb}` };
      if (isInfoLine(name)) allowed.push(diff);
      else disagreements.push(diff);
      continue;
    }
    const ga = parseGroupOutcome(la.detail);
    const gb = parseGroupOutcome(lb.detail);
    if (ga && gb && ga.ahash !== gb.ahash) {
      allowed.push({
        name,
        a: `ahash=${ga.ahash}`,
        b: `ahash=${gb.ahash}`,
        why: 'bits the manual leaves open differ (ahash)',
      });
    }
    agreed.push(name);
  }
  return { agreed, disagreements, allowed, notCompared, partial };
}
