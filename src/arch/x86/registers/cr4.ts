// CR4, the architectural extension enables: Intel SDM Vol. 3A §2.5 (Figure 2-7, Table 2-2 "CPUID
// feature flags and CR4 bits"); AMD APM Vol. 2 §3.1.3. KVM's reserved-bit computation (static
// allowlist CR4_RESERVED_BITS ∧ __cr4_reserved_bits feature gates): shared/spec/kvm-contract.md §1.1-1.2.
// Positions: arch/x86/include/uapi/asm/processor-flags.h.

import { masksByName, type RegisterBit } from './bits.ts';

/**
 * How KVM treats the bit (spec §1.1):
 *  'always': in the static allowlist and not feature-gated: valid whatever guest CPUID says;
 *  'gated':  in the allowlist and gated by `requires` (`__cr4_reserved_bits`);
 *  'never':  outside the allowlist: always reserved under KVM (SMXE, KL, PKS, LASS, FRED).
 */
export type Cr4KvmRule = 'always' | 'gated' | 'never';

export interface Cr4Bit extends RegisterBit {
  readonly kvm: Cr4KvmRule;
  /** architectural mode also refuses the bit (tsvmm implements no such feature) */
  readonly archNever?: true;
  /** listed in KVM's nested CR4_FIXED1 derivation (nested_vmx_cr_fixed1_bits_update, spec §7.3) */
  readonly nestedFixed1?: true;
}

export const CR4_BITS = [
  {
    name: 'VME',
    bit: 0,
    requires: 'vme',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: virtual-8086 mode extensions',
  },
  {
    name: 'PVI',
    bit: 1,
    requires: 'vme',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: protected-mode virtual interrupts',
  },
  {
    name: 'TSD',
    bit: 2,
    requires: 'tsc',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: RDTSC at CPL>0 → #GP',
  },
  {
    name: 'DE',
    bit: 3,
    requires: 'de',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: debugging extensions (MOV DR4/DR5 → #UD)',
  },
  {
    name: 'PSE',
    bit: 4,
    requires: 'pse',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: 4-MiB pages in 32-bit paging',
  },
  {
    name: 'PAE',
    bit: 5,
    requires: 'pae',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: physical address extension',
  },
  {
    name: 'MCE',
    bit: 6,
    requires: 'mce',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: machine-check enable',
  },
  {
    name: 'PGE',
    bit: 7,
    requires: 'pge',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: global pages',
  },
  {
    name: 'PCE',
    bit: 8,
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: RDPMC at any CPL (no CPUID bit)',
  },
  {
    name: 'OSFXSR',
    bit: 9,
    requires: 'fxsr',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: OS supports FXSAVE/FXRSTOR',
  },
  {
    name: 'OSXMMEXCPT',
    bit: 10,
    requires: 'xmm',
    kvm: 'always',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: OS handles #XM',
  },
  {
    name: 'UMIP',
    bit: 11,
    requires: 'umip',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: user-mode instruction prevention',
  },
  {
    name: 'LA57',
    bit: 12,
    requires: 'la57',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: 5-level paging',
  },
  {
    name: 'VMXE',
    bit: 13,
    requires: 'vmx',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: VMX enable',
  },
  {
    name: 'SMXE',
    bit: 14,
    requires: 'smx',
    kvm: 'never',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: SMX enable (never virtualized by KVM)',
  },
  {
    name: 'FSGSBASE',
    bit: 16,
    requires: 'fsgsbase',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: RD/WR{FS,GS}BASE',
  },
  {
    name: 'PCIDE',
    bit: 17,
    requires: 'pcid',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: process-context identifiers',
  },
  {
    name: 'OSXSAVE',
    bit: 18,
    requires: 'xsave',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: XSAVE and XCR0 enable',
  },
  {
    name: 'KL',
    bit: 19,
    kvm: 'never',
    archNever: true,
    doc: 'SDM 3A §2.5: Key Locker (CPUID.7.0:ECX[23]); not implemented by KVM or tsvmm',
  },
  {
    name: 'SMEP',
    bit: 20,
    requires: 'smep',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: supervisor-mode execution prevention',
  },
  {
    name: 'SMAP',
    bit: 21,
    requires: 'smap',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: supervisor-mode access prevention',
  },
  {
    name: 'PKE',
    bit: 22,
    requires: 'pku',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: protection keys for user pages',
  },
  {
    name: 'CET',
    bit: 23,
    requires: ['shstk', 'ibt'],
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5: control-flow enforcement',
  },
  {
    name: 'PKS',
    bit: 24,
    requires: 'pks',
    kvm: 'never',
    doc: 'SDM 3A §2.5: protection keys for supervisor pages (KVM series never merged)',
  },
  {
    name: 'UINTR',
    bit: 25,
    requires: 'uintr',
    kvm: 'never',
    archNever: true,
    doc: 'SDM 3A §2.5: user interrupts (not implemented by KVM or tsvmm)',
  },
  {
    name: 'LASS',
    bit: 27,
    requires: 'lass',
    kvm: 'never',
    nestedFixed1: true,
    doc: 'SDM 3A §2.5 / ISE: linear address space separation (KVM series posted, not merged)',
  },
  {
    name: 'LAM_SUP',
    bit: 28,
    requires: 'lam',
    kvm: 'gated',
    nestedFixed1: true,
    doc: 'SDM 3A §4.4 (LAM): masking of supervisor pointers',
  },
  {
    name: 'FRED',
    bit: 32,
    requires: 'fred',
    kvm: 'never',
    doc: 'FRED spec §4: flexible return and event delivery (KVM series posted)',
  },
] as const satisfies readonly Cr4Bit[];

export type Cr4BitName = (typeof CR4_BITS)[number]['name'];

export const Cr4 = masksByName(CR4_BITS);

/** The static allowlist: complement of KVM's CR4_RESERVED_BITS (kvm_host.h, spec §1.1). */
export const CR4_KVM_ALLOWLIST = CR4_BITS.filter((r: Cr4Bit) => r.kvm !== 'never').reduce(
  (m, r) => m | (1n << BigInt(r.bit)),
  0n,
);

/** Valid under KVM whatever the guest CPUID (set_sregs_test's KVM_ALWAYS_ALLOWED_CR4). */
export const CR4_KVM_ALWAYS_ALLOWED = CR4_BITS.filter((r: Cr4Bit) => r.kvm === 'always').reduce(
  (m, r) => m | (1n << BigInt(r.bit)),
  0n,
);

/** Bits whose change rebuilds the paging mode/permission tables (KVM_MMU_CR4_ROLE_BITS, mmu.h). */
export const CR4_MMU_ROLE_BITS = Cr4.PSE | Cr4.PAE | Cr4.LA57 | Cr4.SMEP | Cr4.SMAP | Cr4.PKE;

/** Bits whose change reloads the PAE PDPTEs (X86_CR4_PDPTR_BITS, kvm_cache_regs.h). */
export const CR4_PDPTR_BITS = Cr4.PGE | Cr4.PSE | Cr4.PAE | Cr4.SMEP;

export const CR4_NOTES = [
  'KVM: valid = static allowlist ∧ feature gates (both KVM caps and guest CPUID). VME, PVI, TSD, DE, PSE, PAE, MCE, PGE, PCE, OSFXSR, OSXMMEXCPT are accepted whatever CPUID says (spec §1.1).',
  "SMXE, KL, PKS, UINTR, LASS and FRED are outside KVM's allowlist and always #GP under KVM (spec §1.2, §10.4).",
  'With EFER.LMA=1: clearing PAE or changing LA57 → #GP. PCIDE 0→1 needs LMA=1 and CR3[11:0]=0. CET=1 needs CR0.WP=1 (spec §1.3).',
  'OSXSAVE and PKE are mirrored into CPUID.1:ECX[27] and CPUID.7.0:ECX[4] (spec §1.5).',
] as const;
