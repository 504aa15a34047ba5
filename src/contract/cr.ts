// MOV to CR0/CR3/CR4/CR8 on the guest path: validity, value massaging and side effects.
// CR0: spec §2 (kvm_is_valid_cr0, kvm_set_cr0, kvm_post_set_cr0); CR4: spec §1.1-1.4 (kvm_is_valid_cr4,
// kvm_set_cr4, kvm_post_set_cr4); CR3: spec §2 "CR3" and §8.2 (kvm_set_cr3, kvm_vcpu_is_legal_cr3);
// CR8: spec §2 "CR8" (kvm_set_cr8). Architectural rules: Intel SDM Vol. 3A §2.5, §4.1.1, §4.10.4.1.

import type { Verdict } from './api.ts';
import { CR0_HIGH_RESERVED, CR0_MMU_ROLE_BITS, CR0_PDPTR_BITS, Cr0 } from '../arch/x86/registers/cr0.ts';
import { CR3_LAM_BITS, CR3_BITS, CR3_PCID_MASK, Cr3 } from '../arch/x86/registers/cr3.ts';
import { CR4_BITS, CR4_MMU_ROLE_BITS, CR4_PDPTR_BITS, Cr4, type Cr4Bit } from '../arch/x86/registers/cr4.ts';
import { Efer } from '../arch/x86/registers/efer.ts';
import { requiredFeatures, rowAt } from '../arch/x86/registers/bits.ts';
import { featureText, tableHas } from './features.ts';
import type { GuestModel } from './model.ts';
import { accept, hexv, refuse, u64Arg, type ControlState } from './state.ts';

const MAXPHYADDR_TEXT = 'CPUID.80000008H:EAX[7:0]';

function lowestBit(m: bigint): number {
  for (let i = 0; i < 64; i++) if ((m >> BigInt(i)) & 1n) return i;
  return -1;
}

/** Why CR4 bit `bit` is reserved for this model (undefined when it is not). */
export function cr4ReservedReason(model: GuestModel, bit: number): string | undefined {
  const m = 1n << BigInt(bit);
  if (model.cr4Valid & m) return undefined;
  const row = rowAt(CR4_BITS as readonly Cr4Bit[], bit);
  if (!row) return `CR4 bit ${bit} is reserved (no architectural meaning)`;
  const label = `CR4.${row.name} (bit ${bit}) is reserved`;
  // "guest CPUID.(EAX=7,ECX=1):EAX[6] LASS is 1" for bits refused whatever CPUID says
  const cpuidState = row.requires
    ? ` (guest ${requiredFeatures(row.requires)
        .map((f) => `${featureText(f)} is ${tableHas(model.table, f) ? 1 : 0}`)
        .join(', ')})`
    : '';
  if (model.mode === 'kvmExact' && row.kvm === 'never')
    return `${label}: KVM keeps it reserved whatever CPUID says, it is outside CR4_RESERVED_BITS' allowlist${cpuidState}`;
  if (row.archNever) return `${label}: ${row.name} is not implemented by KVM or tsvmm${cpuidState}`;
  if (row.requires) return `${label}: ${model.absentReason(row.requires)}`;
  return label;
}

/** The first refused bit of a CR4 value, as a Refusal, or undefined. (kvm_is_valid_cr4 part 1) */
function cr4Reserved(model: GuestModel, value: bigint): Verdict | undefined {
  const bad = value & ~model.cr4Valid;
  if (bad === 0n) return undefined;
  const bit = lowestBit(bad);
  return refuse('GP', 'cr4.reserved', cr4ReservedReason(model, bit)!);
}

/** kvm_is_valid_cr0 (spec §2): 63:32 zero, NW⇒CD, PG⇒PE. */
function cr0Valid(value: bigint): Verdict | undefined {
  if (value & CR0_HIGH_RESERVED)
    return refuse(
      'GP',
      'cr0.high-reserved',
      `CR0 bits 63:32 must be 0 (value ${hexv(value)}): bit ${lowestBit(value & CR0_HIGH_RESERVED)} is set`,
    );
  if (value & Cr0.NW && !(value & Cr0.CD))
    return refuse('GP', 'cr0.nw-without-cd', 'CR0.NW (bit 29) = 1 with CR0.CD (bit 30) = 0 is illegal');
  if (value & Cr0.PG && !(value & Cr0.PE))
    return refuse('GP', 'cr0.pg-without-pe', 'CR0.PG (bit 31) = 1 with CR0.PE (bit 0) = 0 is illegal');
  return undefined;
}

/** CR0 value check used by both paths (KVM_SET_SREGS reuses kvm_is_valid_cr0). */
export function cr0ValidityRefusal(_model: GuestModel, value: bigint, vmxon = false): Verdict | undefined {
  const r = cr0Valid(value);
  if (r) return r;
  // vmx_is_valid_cr0 → nested_host_cr0_valid: post-VMXON CR0 must keep CR0_FIXED0 = PE|PG|NE.
  if (vmxon && (value & (Cr0.PE | Cr0.PG | Cr0.NE)) !== (Cr0.PE | Cr0.PG | Cr0.NE))
    return refuse(
      'GP',
      'cr0.vmx-fixed',
      'in VMX operation CR0.PE, CR0.PG and CR0.NE must stay 1 (IA32_VMX_CR0_FIXED0)',
    );
  return undefined;
}

/** CR4 value check used by both paths (kvm_is_valid_cr4 with the VMX vendor hook). */
export function cr4ValidityRefusal(
  model: GuestModel,
  value: bigint,
  smm = false,
  vmxon = false,
): Verdict | undefined {
  const r = cr4Reserved(model, value);
  if (r) return r;
  if (value & Cr4.VMXE && smm)
    return refuse('GP', 'cr4.vmxe-in-smm', 'CR4.VMXE (bit 13) cannot be set in SMM (vmx_is_valid_cr4)');
  if (vmxon && !(value & Cr4.VMXE))
    return refuse(
      'GP',
      'cr4.vmx-fixed',
      'in VMX operation CR4.VMXE (bit 13) must stay 1 (IA32_VMX_CR4_FIXED0)',
    );
  return undefined;
}

/** Is CR3 legal as a GPA (kvm_vcpu_is_legal_cr3): no bits ≥ MAXPHYADDR except LAM bits with LAM. */
export function cr3LegalRefusal(model: GuestModel, cr3: bigint): Verdict | undefined {
  const lam = model.has('lam');
  const bad = cr3 & model.reservedGpaMask & ~(lam ? CR3_LAM_BITS : 0n);
  if (bad === 0n) return undefined;
  const bit = lowestBit(bad);
  const row = rowAt(CR3_BITS, bit);
  if (row && (row.name === 'LAM_U57' || row.name === 'LAM_U48'))
    return refuse('GP', 'cr3.lam', `CR3.${row.name} (bit ${bit}) needs LAM: ${model.absentReason('lam')}`);
  if (row && row.name === 'NOFLUSH')
    return refuse(
      'GP',
      'cr3.reserved',
      `CR3 bit 63 (NOFLUSH) is reserved while CR4.PCIDE=0 (it is above MAXPHYADDR ${model.maxPhysAddr})`,
    );
  return refuse(
    'GP',
    'cr3.reserved',
    `CR3 bit ${bit} is at or above the guest MAXPHYADDR ${model.maxPhysAddr} (${MAXPHYADDR_TEXT})`,
  );
}

/** MOV to CR0 (kvm_set_cr0 + kvm_post_set_cr0). */
export function checkCr0Write(model: GuestModel, state: ControlState, value: bigint): Verdict {
  u64Arg(value, 'CR0 value');
  const old = state.cr0;
  const r = cr0ValidityRefusal(model, value, state.vmxon);
  if (r) return r;
  // ET forced to 1; undefined low bits dropped ("writes to CR0 reserved bits are ignored, even on Intel").
  const cr0 = (value | Cr0.ET) & model.cr0Valid;
  const lme = (state.efer & Efer.LME) !== 0n;
  const oldPg = (old & Cr0.PG) !== 0n;
  const newPg = (cr0 & Cr0.PG) !== 0n;
  const pae = (state.cr4 & Cr4.PAE) !== 0n;
  if (lme && !oldPg && newPg) {
    if (!pae)
      return refuse(
        'GP',
        'cr0.pg-lme-without-pae',
        'setting CR0.PG with EFER.LME=1 needs CR4.PAE=1 (long-mode activation)',
      );
    if (state.csL)
      return refuse(
        'GP',
        'cr0.pg-lme-cs-l',
        'setting CR0.PG with EFER.LME=1 needs CS.L=0 (long-mode activation from compatibility code)',
      );
  }
  const changed = cr0 ^ old;
  const loadPdptrs = !lme && newPg && pae && (changed & CR0_PDPTR_BITS) !== 0n;
  const lma = (state.efer & Efer.LMA) !== 0n;
  if (!newPg && ((lma && state.csL) || (state.cr4 & Cr4.PCIDE) !== 0n))
    return refuse(
      'GP',
      'cr0.pg-clear',
      lma && state.csL
        ? 'clearing CR0.PG in 64-bit mode (EFER.LMA=1, CS.L=1) is illegal'
        : 'clearing CR0.PG while CR4.PCIDE=1 is illegal',
    );
  if (!(cr0 & Cr0.WP) && state.cr4 & Cr4.CET)
    return refuse('GP', 'cr0.wp-clear-with-cet', 'clearing CR0.WP (bit 16) while CR4.CET=1 is illegal');

  let efer: bigint | undefined;
  if (lme && !oldPg && newPg) efer = state.efer | Efer.LMA;
  else if (oldPg && !newPg && lma) efer = state.efer & ~Efer.LMA;
  const onlyWp = changed === Cr0.WP;
  const mmuReset = (changed & CR0_MMU_ROLE_BITS) !== 0n && !(onlyWp && !newPg);
  return accept(cr0, {
    mmuReset,
    tlbFlush: oldPg && !newPg ? 'all' : 'none',
    loadPdptrs,
    ...(efer !== undefined ? { efer } : {}),
  });
}

/** LMSW (kvm_lmsw): loads PE/MP/EM/TS only; cannot clear PE. Returns the CR0 value to write. */
export function lmswValue(cr0: bigint, operand: number): bigint {
  // the old PE survives because only bits 3:1 of the old value are cleared
  return (cr0 & ~0x0en) | BigInt(operand & 0x0f);
}

/** MOV to CR4 (kvm_set_cr4 + kvm_post_set_cr4). */
export function checkCr4Write(model: GuestModel, state: ControlState, value: bigint): Verdict {
  u64Arg(value, 'CR4 value');
  const old = state.cr4;
  const r = cr4ValidityRefusal(model, value, state.smm, state.vmxon);
  if (r) return r;
  const changed = value ^ old;
  const lma = (state.efer & Efer.LMA) !== 0n;
  let loadPdptrs = false;
  if (lma) {
    if (!(value & Cr4.PAE))
      return refuse(
        'GP',
        'cr4.pae-clear-in-long-mode',
        'clearing CR4.PAE (bit 5) while EFER.LMA=1 is illegal',
      );
    if (changed & Cr4.LA57)
      return refuse('GP', 'cr4.la57-change-in-long-mode', 'CR4.LA57 (bit 12) cannot change while EFER.LMA=1');
  } else if (state.cr0 & Cr0.PG && value & Cr4.PAE && changed & CR4_PDPTR_BITS) {
    loadPdptrs = true;
  }
  if (value & Cr4.PCIDE && !(old & Cr4.PCIDE)) {
    if (!lma) return refuse('GP', 'cr4.pcide-without-lma', 'setting CR4.PCIDE (bit 17) needs EFER.LMA=1');
    if (state.cr3 & CR3_PCID_MASK)
      return refuse(
        'GP',
        'cr4.pcide-cr3-pcid',
        `setting CR4.PCIDE (bit 17) needs CR3[11:0]=0 (CR3 = ${hexv(state.cr3)})`,
      );
  }
  if (value & Cr4.CET && !(state.cr0 & Cr0.WP))
    return refuse('GP', 'cr4.cet-without-wp', 'setting CR4.CET (bit 23) needs CR0.WP=1');

  let tlbFlush: 'all' | 'current' | 'none' = 'none';
  if (changed & Cr4.PGE || (old & Cr4.PCIDE && !(value & Cr4.PCIDE))) tlbFlush = 'all';
  else if (changed & Cr4.PAE || (value & Cr4.SMEP && !(old & Cr4.SMEP))) tlbFlush = 'current';
  return accept(value, {
    mmuReset: (changed & CR4_MMU_ROLE_BITS) !== 0n,
    tlbFlush,
    loadPdptrs,
    cpuidDirty: (changed & (Cr4.OSXSAVE | Cr4.PKE)) !== 0n,
  });
}

/** MOV to CR3 (kvm_set_cr3). */
export function checkCr3Write(model: GuestModel, state: ControlState, value: bigint): Verdict {
  u64Arg(value, 'CR3 value');
  let cr3 = value;
  let noflush = false;
  if (state.cr4 & Cr4.PCIDE) {
    noflush = (cr3 & Cr3.NOFLUSH) !== 0n;
    cr3 &= ~Cr3.NOFLUSH;
  }
  const r = cr3LegalRefusal(model, cr3);
  if (r) return r;
  const paePaging = (state.cr0 & Cr0.PG) !== 0n && (state.cr4 & Cr4.PAE) !== 0n && !(state.efer & Efer.LMA);
  return accept(cr3, { loadPdptrs: paePaging, tlbFlush: noflush ? 'none' : 'current' });
}

/** MOV to CR8 (kvm_set_cr8): only the TPR field 3:0. */
export function checkCr8Write(_model: GuestModel, _state: ControlState, value: bigint): Verdict {
  u64Arg(value, 'CR8 value');
  if (value & ~0xfn)
    return refuse(
      'GP',
      'cr8.reserved',
      `CR8 bits 63:4 are reserved (value ${hexv(value)}); only TPR[3:0] exists`,
    );
  return accept(value);
}

/** Reserved bits of a PAE PDPTE (pdptr_rsvd_bits, spec §8.2): bit 63, bits ≥ MAXPHYADDR, 8:5, 2:1. */
export function pdpteReservedMask(model: GuestModel): bigint {
  return model.reservedGpaMask | 0x1e0n | 0x6n;
}

/** load_pdptrs: any present PDPTE with a reserved bit makes the MOV CR0/CR3/CR4 fail with #GP. */
export function checkPdptes(model: GuestModel, pdptes: readonly bigint[]): Verdict {
  for (const e of pdptes) u64Arg(e, 'PDPTE');
  if (pdptes.length !== 4)
    return refuse('GP', 'pdpte.count', `PAE paging has 4 PDPTEs, got ${pdptes.length}`);
  const rsvd = pdpteReservedMask(model);
  for (let i = 0; i < 4; i++) {
    const e = pdptes[i]!;
    if (e & 1n && e & rsvd)
      return refuse(
        'GP',
        'pdpte.reserved',
        `PDPTE${i} = ${hexv(e)} is present with reserved bit ${lowestBit(e & rsvd)} set (bits 63, ≥MAXPHYADDR ${model.maxPhysAddr}, 8:5, 2:1 are reserved)`,
      );
  }
  return accept(0n);
}
