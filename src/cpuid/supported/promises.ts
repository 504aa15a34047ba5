// What tsvmm itself promises a guest on every backend (added at the end of the supported stage).

import { Feature } from '../../arch/x86/cpuid/features.ts';
import type { Change } from '../reasons.ts';
import type { StageResult } from '../stage.ts';

/**
 * Defeature bits tsvmm promises on every backend, whatever the host or KVM report: they describe
 * behaviour tsvmm itself guarantees, so they are honest without hardware. Named models keep them
 * too (guest.ts), and only an explicit `-feature` edit removes them.
 *  - efer_lmsle_mbz (NO_LMSL, 0x80000008:EBX[20]): EFER.LMSLE is never virtualized and #GPs under every
 *    policy (src/contract, spec §3.3; KVM's PASSTHROUGH_F would only copy a host's bit).
 */
export const TSVMM_PROMISES: Readonly<Record<string, string>> = {
  efer_lmsle_mbz:
    'tsvmm never virtualizes EFER.LMSLE (it #GPs under every policy), so it advertises EferLmsleUnsupported (spec §3.3)',
};

export function withTsvmmPromises(r: StageResult, backend: 'kvm' | 'interp'): StageResult {
  const table = r.table.clone();
  let changes: Change[] = [...r.changes];
  for (const [name, why] of Object.entries(TSVMM_PROMISES)) {
    const f = Feature[name as keyof typeof Feature];
    if (table.hasBit(f)) continue;
    if (table.maxExtendedLeaf() < f.leaf && f.leaf >= 0x80000000) {
      table.put({
        ...(table.get(0x80000000, 0) ?? { function: 0x80000000, index: 0, flags: 0, ebx: 0, ecx: 0, edx: 0 }),
        eax: f.leaf,
      });
    }
    table.setBit(f, true);
    // the bit is offered after all: earlier 'hidden' entries of this stage no longer describe it
    changes = changes.filter((c) => !(c.feature === f.name && c.action === 'hidden'));
    changes.push({
      feature: f.name,
      stage: 'supported',
      action: 'added',
      reason: { kind: 'synthesized', backend, rule: why, source: 'spec §3.3, §10.4' },
    });
  }
  return { ...r, table, changes };
}
