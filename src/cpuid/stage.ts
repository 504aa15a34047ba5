// The shape every pipeline stage returns (host → supported → guest → normalized; spec
// shared/spec/kvm-contract.md §5): a CPUID table plus the reason for each bit it changed.

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import type { Change, Reason, Stage } from './reasons.ts';

export interface StageResult {
  readonly stage: Stage;
  readonly table: CpuidTable;
  readonly changes: readonly Change[];
  /** field-level remarks (MAXPHYADDR capped, leaves dropped, …) */
  readonly notes: readonly string[];
}

/** Collects changes for one stage. */
export class ChangeLog {
  readonly changes: Change[] = [];
  readonly notes: string[] = [];
  constructor(readonly stage: Stage) {}
  hide(feature: string, reason: Reason): void {
    this.changes.push({ feature, stage: this.stage, action: 'hidden', reason });
  }
  add(feature: string, reason: Reason): void {
    this.changes.push({ feature, stage: this.stage, action: 'added', reason });
  }
  force(feature: string, reason: Reason): void {
    this.changes.push({ feature, stage: this.stage, action: 'forced', reason });
  }
  note(text: string): void {
    this.notes.push(text);
  }
  /** Reasons recorded for `feature` with the given action. */
  reasonsFor(feature: string, action: Change['action'] = 'hidden'): Reason[] {
    return this.changes.filter((c) => c.feature === feature && c.action === action).map((c) => c.reason);
  }
}

export function reasonsIn(
  changes: readonly Change[],
  feature: string,
  action: Change['action'] = 'hidden',
): Reason[] {
  return changes.filter((c) => c.feature === feature && c.action === action).map((c) => c.reason);
}
