// WRMSR IA32_EFER: spec §3.2 (set_efer, __kvm_valid_efer, efer_reserved_bits in x86.c); bit meanings
// in APM Vol. 2 §3.1.7. LMSLE and TCE are reserved under every tsvmm policy (spec §3.3, §10.4).

import type { Verdict } from './api.ts';
import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { EFER_BITS, EFER_MMU_ROLE_BITS, Efer, type EferBit } from '../arch/x86/registers/efer.ts';
import { rowAt } from '../arch/x86/registers/bits.ts';
import { featureText } from './features.ts';
import type { GuestModel } from './model.ts';
import { accept, refuse, u64Arg, type ControlState } from './state.ts';

export interface MsrAccessOptions {
  /** KVM_SET_MSRS/KVM_GET_MSRS from userspace rather than a guest RDMSR/WRMSR */
  readonly hostInitiated?: boolean;
}

function firstBit(m: bigint): number {
  for (let i = 0; i < 64; i++) if ((m >> BigInt(i)) & 1n) return i;
  return -1;
}

/** Why EFER bit `bit` is refused on the host path (efer_reserved_bits) or undefined. */
function eferHostReason(model: GuestModel, bit: number): string | undefined {
  if ((model.eferHostValid >> BigInt(bit)) & 1n) return undefined;
  const row = rowAt(EFER_BITS as readonly EferBit[], bit);
  if (!row) return `EFER bit ${bit} is reserved (no architectural meaning)`;
  if (row.name === 'LMSLE')
    return `EFER.LMSLE (bit 13) is reserved: long-mode segment limits are never virtualized (policies advertise ${featureText('efer_lmsle_mbz')} = 1)`;
  if (row.name === 'TCE')
    return `EFER.TCE (bit 15) is reserved: KVM never enables the translation cache extension (${featureText('tce')})`;
  return `EFER.${row.name} (bit ${bit}) is reserved: ${model.absentReason(row.requires ?? [])}`;
}

/** The EFER value validity shared by WRMSR and KVM_SET_SREGS (kvm_valid_efer). */
export function eferValidityRefusal(
  model: GuestModel,
  value: bigint,
  guestGates: boolean,
): Verdict | undefined {
  const hostBad = value & ~model.eferHostValid;
  if (hostBad) {
    const bit = firstBit(hostBad);
    const rule = bit === 13 ? 'efer.lmsle' : 'efer.reserved';
    return refuse('GP', rule, eferHostReason(model, bit)!);
  }
  if (guestGates) {
    // __kvm_valid_efer: each set bit needs its CPUID feature (LMA checked with LME: both need LM).
    const bad = value & ~model.eferGuestValid;
    if (bad) {
      const bit = firstBit(bad);
      const row = rowAt(EFER_BITS as readonly EferBit[], bit)!;
      return refuse(
        'GP',
        'efer.cpuid',
        `EFER.${row.name} (bit ${bit}) needs ${row.requires ?? 'nothing'}: ${model.absentReason(row.requires ?? [])}`,
      );
    }
  }
  return undefined;
}

/** WRMSR/KVM_SET_MSRS of IA32_EFER (set_efer). */
export function checkEferWrite(
  model: GuestModel,
  state: ControlState,
  value: bigint,
  opts: MsrAccessOptions = {},
): Verdict {
  u64Arg(value, 'EFER value');
  const host = opts.hostInitiated ?? false;
  const r = eferValidityRefusal(model, value, !host);
  if (r) return r;
  if (!host && state.cr0 & Cr0.PG && (state.efer & Efer.LME) !== (value & Efer.LME))
    return refuse('GP', 'efer.lme-change-while-paging', 'EFER.LME (bit 8) cannot change while CR0.PG=1');
  // LMA is read-only for WRMSR: keep the current value.
  const efer = (value & ~Efer.LMA) | (state.efer & Efer.LMA);
  return accept(efer, { mmuReset: ((efer ^ state.efer) & EFER_MMU_ROLE_BITS) !== 0n });
}
