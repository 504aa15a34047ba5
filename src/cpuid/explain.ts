// Explain: for one feature and one policy, the full reason chain — host lacks it / the backend cannot
// virtualize it / erratum / dependency / model / baseline / user edit / forced (DESIGN.md §3.4). Reads
// the stage tables and the changes the pipeline recorded.

import { formatBitLocation } from '../arch/x86/cpuid/types.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { requireFeature } from './features.ts';
import { describeReason, type Reason, type Stage } from './reasons.ts';
import type { StageResult } from './stage.ts';

export interface ExplainStep {
  readonly stage: Stage;
  readonly present: boolean;
  readonly action?: 'hidden' | 'added' | 'forced';
  readonly reasons: readonly Reason[];
}

export interface Explanation {
  readonly feature: string;
  readonly location: string;
  readonly meaning: string;
  /** present in the final (normalized) guest table */
  readonly offered: boolean;
  readonly unsafe: boolean;
  readonly steps: readonly ExplainStep[];
  /** the reasons that decide the final answer, outermost first */
  readonly chain: readonly Reason[];
  readonly summary: string;
}

interface PipelineLike {
  readonly stages: {
    readonly host: CpuidTable;
    readonly supported: StageResult;
    readonly guest: StageResult;
    readonly normalized: StageResult;
  };
  readonly refusals: readonly { feature?: string; message: string; reasons: readonly Reason[] }[];
}

export function explainFeature(name: string, p: PipelineLike): Explanation {
  const f = requireFeature(name);
  const steps: ExplainStep[] = [];
  steps.push({
    stage: 'host',
    present: p.stages.host.hasBit(f),
    reasons: p.stages.host.hasBit(f) ? [] : [{ kind: 'host-lacks' }],
  });
  for (const s of [p.stages.supported, p.stages.guest, p.stages.normalized]) {
    const mine = s.changes.filter((c) => c.feature === f.name);
    const action = mine.find((c) => c.action === 'forced')?.action ?? mine[0]?.action;
    steps.push({
      stage: s.stage,
      present: s.table.hasBit(f),
      ...(action ? { action } : {}),
      reasons: mine.map((c) => c.reason),
    });
  }
  const offered = p.stages.normalized.table.hasBit(f);
  const forced = steps.some((s) => s.action === 'forced');
  // the deciding chain: the reasons of the last stage that removed (or forced) the bit, then earlier ones
  const chain: Reason[] = [];
  for (const s of [...steps].reverse()) {
    if (s.stage === 'host') {
      if (!s.present && !chain.some((r) => r.kind === 'host-lacks')) chain.push({ kind: 'host-lacks' });
      continue;
    }
    for (const r of s.reasons) if (!chain.includes(r)) chain.push(r);
  }
  for (const r of p.refusals)
    if (r.feature === f.name) chain.unshift(...r.reasons.filter((x) => !chain.includes(x)));
  // a forced reason already carries the reasons it overrides: do not repeat them
  const overridden = new Set(
    chain.flatMap((r) => (r.kind === 'forced' ? r.overrides.map((o) => JSON.stringify(o)) : [])),
  );
  const seen = new Set<string>();
  for (let i = chain.length - 1; i >= 0; i--) {
    const k = JSON.stringify(chain[i]);
    if ((chain[i]!.kind !== 'forced' && overridden.has(k)) || seen.has(k)) chain.splice(i, 1);
    else seen.add(k);
  }
  const refused = p.refusals.filter((r) => r.feature === f.name).map((r) => r.message);
  let summary: string;
  if (offered && forced)
    summary = `${f.name} is offered but FORCED (unsafe): ${chain.map(describeReason).join('; ')}`;
  else if (offered)
    summary = `${f.name} is offered${chain.length ? ` (${chain.map(describeReason).join('; ')})` : ''}`;
  else if (refused.length)
    summary = `${f.name} is refused: ${refused.join('; ')}${chain.length ? ` — ${chain.map(describeReason).join('; ')}` : ''}`;
  else summary = `${f.name} is not offered: ${chain.map(describeReason).join('; ') || 'not requested'}`;
  return {
    feature: f.name,
    location: formatBitLocation(f),
    meaning: f.meaning,
    offered,
    unsafe: forced && offered,
    steps,
    chain,
    summary,
  };
}
