// KVM_SET_SREGS validation, the userspace path (spec §1.6, kvm_is_valid_sregs, now in regs.c): unlike
// the guest MOV path it does not check transitions (LA57 in long mode, LME while paging, PCIDE needs
// CR3[11:0]=0), it does not massage CR0 (no ET forcing, no dropping), and it adds the long-mode
// consistency of EFER.LMA/CS.L with CR0.PG/EFER.LME. IA32_APIC_BASE goes through kvm_apic_set_base.

import type { Verdict } from './api.ts';
import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { Cr4 } from '../arch/x86/registers/cr4.ts';
import { Efer } from '../arch/x86/registers/efer.ts';
import { cr0ValidityRefusal, cr3LegalRefusal, cr4ValidityRefusal } from './cr.ts';
import { eferValidityRefusal } from './efer.ts';
import { apicBaseRefusal } from './msr.ts';
import type { GuestModel } from './model.ts';
import { accept, refuse, u64Arg } from './state.ts';
import { TsvmmError } from '../util/result.ts';

/** The fields of struct kvm_sregs the contract reads (backend Sregs is assignable to it). */
export interface SregsControl {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly cr8?: bigint;
  readonly efer: bigint;
  readonly apicBase?: bigint;
  readonly cs: { readonly l: boolean };
}

export interface SregsOptions {
  /** the vCPU's current IA32_APIC_BASE (for the x2APIC→xAPIC transition rule); default: reset value */
  readonly currentApicBase?: bigint;
  /** the vCPU is post-VMXON (nested_host_cr0/cr4_valid) */
  readonly vmxon?: boolean;
  readonly smm?: boolean;
  /** override the model's sregsEferCheck: validate EFER with kvm_valid_efer (true: the 2026 patch,
   *  spec §1.6) or hand it through unchecked (false: 6.18 and older) */
  readonly validateEfer?: boolean;
}

/**
 * A refusal means KVM_SET_SREGS returns -EINVAL and leaves the vCPU unchanged; the `fault` field is
 * 'GP' by convention (it is not injected). On success `effects.value` is CR0 as given (not
 * massaged), with a full MMU reset and TLB flush, PDPTE load in PAE paging, and dirty CPUID bits.
 */
export function checkSregs(model: GuestModel, s: SregsControl, opts: SregsOptions = {}): Verdict {
  for (const k of ['cr0', 'cr3', 'cr4', 'efer'] as const) u64Arg(s[k], `sregs.${k}`);
  if (typeof s.cs?.l !== 'boolean')
    throw new TsvmmError('CONTRACT_BAD_VALUE', 'sregs.cs.l must be a boolean');
  const lme = (s.efer & Efer.LME) !== 0n;
  const lma = (s.efer & Efer.LMA) !== 0n;
  if (lme && s.cr0 & Cr0.PG) {
    if (!(s.cr4 & Cr4.PAE))
      return refuse('GP', 'sregs.long-mode-needs-pae', 'sregs: EFER.LME=1 and CR0.PG=1 need CR4.PAE=1');
    if (!lma)
      return refuse('GP', 'sregs.long-mode-needs-lma', 'sregs: EFER.LME=1 and CR0.PG=1 need EFER.LMA=1');
    const r = cr3LegalRefusal(model, s.cr3);
    if (r) return r;
  } else {
    if (lma)
      return refuse('GP', 'sregs.lma-without-paging', 'sregs: EFER.LMA=1 needs EFER.LME=1 and CR0.PG=1');
    if (s.cs.l)
      return refuse(
        'GP',
        'sregs.cs-l-outside-long-mode',
        'sregs: CS.L=1 needs long mode (EFER.LME=1, CR0.PG=1)',
      );
  }
  const r4 = cr4ValidityRefusal(model, s.cr4, opts.smm, opts.vmxon);
  if (r4) return r4;
  const r0 = cr0ValidityRefusal(model, s.cr0, opts.vmxon);
  if (r0) return r0;
  // kvm_is_valid_sregs checks EFER only since the 2026 patch (spec §1.6); before it, KVM_SET_SREGS
  // passed any EFER to the vendor set_efer (seen on 6.18.44: bits 0, 11-15, 21 all accepted).
  if (opts.validateEfer ?? model.sregsEferCheck) {
    const re = eferValidityRefusal(model, s.efer, true);
    if (re) return re;
  }
  if (s.cr8 !== undefined && s.cr8 & ~0xfn)
    return refuse('GP', 'cr8.reserved', 'sregs: CR8 bits 63:4 are reserved');
  if (s.apicBase !== undefined) {
    const ra = apicBaseRefusal(model, s.apicBase, opts.currentApicBase, true);
    if (ra) return ra;
  }
  const paePaging = (s.cr0 & Cr0.PG) !== 0n && (s.cr4 & Cr4.PAE) !== 0n && !lma;
  return accept(s.cr0, { mmuReset: true, tlbFlush: 'all', loadPdptrs: paePaging, cpuidDirty: true });
}
