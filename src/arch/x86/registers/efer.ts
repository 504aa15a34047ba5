// IA32_EFER (MSR 0xC0000080), extended feature enables: Intel SDM Vol. 3A §2.2.1 (Figure 2-4), Vol. 4
// (MSR list); AMD APM Vol. 2 §3.1.7 "Extended Feature Enable Register". KVM: spec §3 (set_efer,
// __kvm_valid_efer, efer_reserved_bits in x86.c).

import { masksByName, type RegisterBit } from './bits.ts';

/**
 * 'ungated': valid under KVM without a CPUID check (SCE);
 * 'gated':   valid iff the guest has `requires` (__kvm_valid_efer);
 * 'never':   reserved under every tsvmm policy (LMSLE: spec §3.3; TCE: never enabled by KVM).
 */
export type EferKvmRule = 'ungated' | 'gated' | 'never';

export interface EferBit extends RegisterBit {
  readonly kvm: EferKvmRule;
  readonly readOnly?: true;
}

export const EFER_BITS = [
  { name: 'SCE', bit: 0, requires: 'syscall', kvm: 'ungated', doc: 'APM 2 §3.1.7: SYSCALL/SYSRET enable' },
  { name: 'LME', bit: 8, requires: 'lm', kvm: 'gated', doc: 'APM 2 §3.1.7: long mode enable' },
  {
    name: 'LMA',
    bit: 10,
    requires: 'lm',
    kvm: 'gated',
    readOnly: true,
    doc: 'APM 2 §3.1.7: long mode active (set by CR0.PG with LME; WRMSR keeps it)',
  },
  { name: 'NXE', bit: 11, requires: 'nx', kvm: 'gated', doc: 'APM 2 §3.1.7: no-execute enable' },
  { name: 'SVME', bit: 12, requires: 'svm', kvm: 'gated', doc: 'APM 2 §3.1.7: SVM enable' },
  {
    name: 'LMSLE',
    bit: 13,
    kvm: 'never',
    doc: 'APM 2 §3.1.7: long mode segment limit enable (never virtualized; NO_LMSL advertised)',
  },
  { name: 'FFXSR', bit: 14, requires: 'fxsr_opt', kvm: 'gated', doc: 'APM 2 §3.1.7: fast FXSAVE/FXRSTOR' },
  {
    name: 'TCE',
    bit: 15,
    requires: 'tce',
    kvm: 'never',
    doc: 'APM 2 §3.1.7: translation cache extension (never enabled by KVM)',
  },
  { name: 'AUTOIBRS', bit: 21, requires: 'autoibrs', kvm: 'gated', doc: 'APM 2 §3.1.7: automatic IBRS' },
] as const satisfies readonly EferBit[];

export type EferBitName = (typeof EFER_BITS)[number]['name'];

export const Efer = masksByName(EFER_BITS);

/** EFER bits whose change rebuilds the paging mode (KVM_MMU_EFER_ROLE_BITS, mmu.h). */
export const EFER_MMU_ROLE_BITS = Efer.LME | Efer.NXE;

export const EFER_NOTES = [
  'A bit outside the host-enabled set (efer_reserved_bits) fails for guest and userspace alike; LMSLE and TCE are always in it here.',
  'Guest WRMSR additionally needs the CPUID feature of every set bit (__kvm_valid_efer; SCE is not checked) and may not change LME while CR0.PG=1.',
  'LMA is read-only for WRMSR: the written LMA is discarded and the current one kept.',
  'Userspace (host-initiated KVM_SET_MSRS) skips the CPUID check; KVM_SET_SREGS applies it (kvm_valid_efer).',
] as const;
