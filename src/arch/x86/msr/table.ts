// The MSR table: index, name, CPUID gate, reserved bits, reset value, guest access and the value rules
// KVM applies. Indices and layouts: Intel SDM Vol. 4 "Model-Specific Registers" (Table 2-2
// "IA-32 Architectural MSRs"), AMD APM Vol. 2 Appendix A; KVM PV MSRs: Linux
// Documentation/virt/kvm/x86/msr.rst. KVM's gating: shared/spec/kvm-contract.md §6 (and §3, §4.2, §7).
//
// Common rules, applied by src/contract/msr.ts for every row:
//  - gate absent → guest RDMSR and WRMSR #GP; userspace may read, and write 0, when KVM advertises
//    the MSR (it is in KVM_GET_MSR_INDEX_LIST: msrs_to_save/emulated_msrs, kvm_do_msr_access).
//  - reserved bits set → #GP (guest) / failure (userspace).
//  - 'feature' rows are immutable after the first KVM_RUN except rewriting the same value
//    (kvm_is_immutable_feature_msr).
//  - 'hostProbed' rows do not exist at all (kvmExact) when the caller's advertised list lacks them.
//  - 'absentIgnored' indices answer even when absent (writes ignored, reads 0: legacy P6/K7 PMU MSRs).
// Every MSR in this machine's KVM_GET_MSR_INDEX_LIST has a row (contract/kvm-disagreements.test.ts).
// The PMU rows are coarse: existence from CPUID.0AH / 80000001H / 80000022H and access only.

import type { Requires } from '../registers/bits.ts';

/** What a rule can ask about the guest (src/contract's GuestModel satisfies it). */
export interface MsrView {
  has(feature: string): boolean;
  hasAny(req: Requires | undefined): boolean;
  readonly amdLike: boolean;
  readonly maxPhysAddr: number;
  readonly mode: 'kvmExact' | 'architectural';
  /** the KVM vendor module (vendor-owned MSR rules; see contract/model.ts KvmModule) */
  readonly kvmModule: 'kvm_intel' | 'kvm_amd' | 'kvm_pvm';
  /** raw guest CPUID (PMU counter counts: leaf 0AH, 80000022H) */
  readonly table: { reg(fn: number, index: number, reg: 'eax' | 'ebx' | 'ecx' | 'edx'): number };
}

/** Per-vCPU state some rows read (MCE bank count from IA32_MCG_CAP). */
export interface MsrContext {
  /** IA32_MCG_CAP: Count (7:0), MCG_CTL_P (8), MCG_CMCI_P (10), MCG_LMCE_P (27) */
  readonly mcgCap: bigint;
}

export type CanonicalRule =
  /** non-canonical → #GP (FS/GS/KERNEL_GS_BASE, LSTAR, CSTAR, SSP MSRs) */
  | 'gp'
  /** silently canonicalized (SYSENTER_ESP/EIP under KVM: spec §6) */
  | 'canonicalize';

export interface MsrDef {
  readonly index: number;
  /** rows covering a range (x2APIC, MTRR variable/fixed) */
  readonly count?: number;
  readonly name: string;
  /** CPUID feature(s) that make the MSR exist (any-of) */
  readonly gate?: Requires;
  /** KVM PV feature bit in CPUID.4000_0001H:EAX (KVM_FEATURE_*) that gates the MSR */
  readonly pvGate?: number;
  /** the MSR never exists under this mode (e.g. PKRS under kvmExact) */
  readonly absentIn?: 'kvmExact';
  readonly reset: bigint;
  /** reserved bits: static or a function of the guest */
  readonly reserved?: bigint | ((m: MsrView) => bigint);
  /** the bits covered by `canonical` (default: all 64) */
  readonly canonical?: CanonicalRule;
  readonly canonicalMask?: bigint;
  /** guest access: 'ro' → WRMSR #GP, 'wo' → RDMSR #GP */
  readonly access: 'rw' | 'ro' | 'wo';
  /** only userspace may access it (guest RDMSR/WRMSR #GP), e.g. IA32_SMBASE */
  readonly hostOnly?: true;
  /** feature MSR: immutable after the first KVM_RUN */
  readonly feature?: true;
  /** extra validity: returns the reason when invalid */
  readonly check?: (m: MsrView, value: bigint, index: number) => string | undefined;
  /** value massaging before commit (e.g. TSC_AUX truncation on AMD) */
  readonly adjust?: (m: MsrView, value: bigint) => bigint;
  /** the rule handled by a dedicated contract function (EFER, XSS, APIC_BASE, VMX, FEAT_CTL,
   *  MISC_ENABLE, DEBUGCTL, UCODE_REV, machine-check banks, x2APIC registers) */
  readonly special?:
    | 'efer'
    | 'xss'
    | 'apic_base'
    | 'vmx'
    | 'feat_ctl'
    | 'misc_enable'
    | 'debugctl'
    | 'ucode_rev'
    | 'mce'
    | 'x2apic';
  /** reset value when it depends on the guest/KVM module (overrides `reset`) */
  readonly resetOf?: (m: MsrView) => bigint;
  /** exists only where KVM implements it for this host: under kvmExact, when the caller gives the
   *  advertised list (KVM_GET_MSR_INDEX_LIST) and the MSR is not on it, every access fails (e.g.
   *  IA32_FEATURE_CONTROL lives in vmx.c/pvm.c-on-Intel only; KVM probes it with RDMSR on the host) */
  readonly hostProbed?: true;
  /** the gate binds the guest only: userspace may read, and write any non-reserved value, without it
   *  (the handler checks `!host_initiated && !guest_cpu_cap_has(...)`: VIRT_SPEC_CTRL, SPEC_CTRL,
   *  PRED_CMD, FLUSH_CMD, TSC_AUX, VM_HSAVE_PA) */
  readonly hostIgnoresGate?: true;
  /** userspace cannot write it either (no KVM_SET_MSRS handler, e.g. IA32_MTRRCAP) */
  readonly hostReadOnly?: true;
  /** userspace writes skip the value checks too (stored as given, `adjust` still applies), e.g.
   *  MSR_VM_HSAVE_PA: "allow KVM_SET_MSR to set an invalid value" for migration from old kernels */
  readonly hostAnyValue?: true;
  /** KVM needs its in-kernel LAPIC for writes: 'nonzero' (only 0 without it, async PF enable) or
   *  'any' (every write fails without it, async PF interrupt vector) */
  readonly lapicWrites?: 'nonzero' | 'any';
  /** existence beyond `gate` (PMU counter counts, MCE bank count): the reason it is absent */
  readonly exists?: (m: MsrView, index: number, c: MsrContext) => string | undefined;
  /** the indices that, when absent (gate/exists), KVM still accepts (any write, reads 0) instead of
   *  failing: the legacy P6/K7 performance MSRs (kvm_set_msr_common "ignore all writes" when the
   *  PMU does not claim them) */
  readonly absentIgnored?: (index: number) => boolean;
  readonly doc: string;
}

export const Msr = {
  TSC: 0x10,
  KVM_WALL_CLOCK: 0x11,
  KVM_SYSTEM_TIME: 0x12,
  APIC_BASE: 0x1b,
  FEAT_CTL: 0x3a,
  TSC_ADJUST: 0x3b,
  SPEC_CTRL: 0x48,
  PRED_CMD: 0x49,
  MTRRCAP: 0xfe,
  ARCH_CAPABILITIES: 0x10a,
  FLUSH_CMD: 0x10b,
  SYSENTER_CS: 0x174,
  SYSENTER_ESP: 0x175,
  SYSENTER_EIP: 0x176,
  MISC_ENABLE: 0x1a0,
  MTRR_PHYS_BASE0: 0x200,
  MTRR_FIX64K_00000: 0x250,
  MTRR_FIX16K_80000: 0x258,
  MTRR_FIX16K_A0000: 0x259,
  MTRR_FIX4K_C0000: 0x268,
  PAT: 0x277,
  MTRR_DEF_TYPE: 0x2ff,
  PERF_CAPABILITIES: 0x345,
  VMX_BASIC: 0x480,
  U_CET: 0x6a0,
  S_CET: 0x6a2,
  PL0_SSP: 0x6a4,
  PL1_SSP: 0x6a5,
  PL2_SSP: 0x6a6,
  PL3_SSP: 0x6a7,
  INT_SSP_TAB: 0x6a8,
  TSC_DEADLINE: 0x6e0,
  PKRS: 0x6e1,
  X2APIC_FIRST: 0x800,
  BNDCFGS: 0xd90,
  XSS: 0xda0,
  EFER: 0xc0000080,
  STAR: 0xc0000081,
  LSTAR: 0xc0000082,
  CSTAR: 0xc0000083,
  SFMASK: 0xc0000084,
  FS_BASE: 0xc0000100,
  GS_BASE: 0xc0000101,
  KERNEL_GS_BASE: 0xc0000102,
  TSC_AUX: 0xc0000103,
  KVM_WALL_CLOCK_NEW: 0x4b564d00,
  KVM_SYSTEM_TIME_NEW: 0x4b564d01,
  KVM_ASYNC_PF_EN: 0x4b564d02,
  KVM_STEAL_TIME: 0x4b564d03,
  KVM_PV_EOI_EN: 0x4b564d04,
  KVM_POLL_CONTROL: 0x4b564d05,
  KVM_ASYNC_PF_INT: 0x4b564d06,
  KVM_ASYNC_PF_ACK: 0x4b564d07,
  KVM_MIGRATION_CONTROL: 0x4b564d08,
  UCODE_REV: 0x8b,
  SMBASE: 0x9e,
  PLATFORM_INFO: 0xce,
  MISC_FEATURES_ENABLES: 0x140,
  MCG_CAP: 0x179,
  MCG_STATUS: 0x17a,
  DEBUGCTL: 0x1d9,
  AMD_HWCR: 0xc0010015,
  AMD_VM_CR: 0xc0010114,
  AMD_VM_HSAVE_PA: 0xc0010117,
  AMD_DE_CFG: 0xc0011029,
  AMD_NB_CFG: 0xc001001f,
  SMI_COUNT: 0x34,
  PMC0: 0xc1,
  MCG_CTL: 0x17b,
  PERFEVTSEL0: 0x186,
  LASTBRANCHFROMIP: 0x1db,
  POWER_CTL: 0x1fc,
  MC0_CTL2: 0x280,
  FIXED_CTR0: 0x309,
  FIXED_CTR_CTRL: 0x38d,
  PERF_GLOBAL_STATUS: 0x38e,
  PERF_GLOBAL_CTRL: 0x38f,
  PERF_GLOBAL_OVF_CTRL: 0x390,
  MC0_CTL: 0x400,
  MCG_EXT_CTL: 0x4d0,
  AMD_PERF_GLOBAL_STATUS: 0xc0000300,
  AMD_PERF_GLOBAL_CTL: 0xc0000301,
  AMD_PERF_GLOBAL_STATUS_CLR: 0xc0000302,
  K7_EVNTSEL0: 0xc0010000,
  K7_PERFCTR0: 0xc0010004,
  F15H_PERF_CTL0: 0xc0010200,
  AMD_VIRT_SPEC_CTRL: 0xc001011f,
} as const;

/** KVM_MAX_MCE_BANKS: KVM's vCPU is created with IA32_MCG_CAP = 32 banks, no CTL_P/CMCI_P/LMCE_P
 *  (read back as 0x20 on this machine) until userspace runs KVM_X86_SETUP_MCE. */
export const KVM_DEFAULT_MCG_CAP = 0x20n;
export const MCG_CTL_P = 1n << 8n;
export const MCG_CMCI_P = 1n << 10n;
export const MCG_LMCE_P = 1n << 27n;

/** Intel architectural PMU (CPUID.0AH): version EAX[7:0], GP counters EAX[15:8], fixed counters EDX[4:0]. */
function intelPmu(m: MsrView): { version: number; gp: number; fixed: number } {
  const eax = m.table.reg(0xa, 0, 'eax');
  const version = eax & 0xff;
  return {
    version,
    gp: version ? (eax >>> 8) & 0xff : 0,
    fixed: version > 1 ? m.table.reg(0xa, 0, 'edx') & 0x1f : 0,
  };
}
const PMU_TEXT = 'CPUID.0AH:EAX[7:0] version';

/** KVM PV feature bits, CPUID.4000_0001H:EAX (include/uapi/asm/kvm_para.h) [R]. */
export const KvmPvFeature = {
  CLOCKSOURCE: 0,
  NOP_IO_DELAY: 1,
  MMU_OP: 2,
  CLOCKSOURCE2: 3,
  ASYNC_PF: 4,
  STEAL_TIME: 5,
  PV_EOI: 6,
  PV_UNHALT: 7,
  PV_TLB_FLUSH: 9,
  ASYNC_PF_VMEXIT: 10,
  PV_SEND_IPI: 11,
  POLL_CONTROL: 12,
  PV_SCHED_YIELD: 13,
  ASYNC_PF_INT: 14,
  MSI_EXT_DEST_ID: 15,
  HC_MAP_GPA_RANGE: 16,
  MIGRATION_CONTROL: 17,
  CLOCKSOURCE_STABLE_BIT: 24,
} as const;

/** Memory types valid in PAT entries (SDM 3A §13.12.2 Table 13-10): UC WC WT WP WB UC-. */
const PAT_TYPES = new Set([0, 1, 4, 5, 6, 7]);
/** Memory types valid in MTRRs (SDM 3A §13.11.2.2): UC WC WT WP WB. */
const MTRR_TYPES = new Set([0, 1, 4, 5, 6]);

function bytesIn(value: bigint, valid: Set<number>, what: string): string | undefined {
  for (let i = 0; i < 8; i++) {
    const b = Number((value >> BigInt(8 * i)) & 0xffn);
    if (!valid.has(b))
      return `${what} byte ${i} = ${b} is not a valid memory type (${[...valid].join(', ')})`;
  }
  return undefined;
}

/** Bits MAXPHYADDR..63 of an address-carrying MSR. */
function physHigh(m: MsrView): bigint {
  return ((1n << 64n) - 1n) & ~((1n << BigInt(m.maxPhysAddr)) - 1n);
}

/** Canonical width for MSR values: 57 bits when the guest can use LA57, else 48 (KVM's
 *  is_noncanonical_msr_address follows CPUID LA57, not CR4.LA57) [R]. */
export function msrCanonicalBits(m: MsrView): number {
  return m.has('la57') ? 57 : 48;
}

export function isCanonical(v: bigint, bits: number): boolean {
  const top = v >> BigInt(bits - 1);
  return top === 0n || top === (1n << BigInt(65 - bits)) - 1n;
}

export function canonicalize(v: bigint, bits: number): bigint {
  const sign = (v >> BigInt(bits - 1)) & 1n;
  const low = v & ((1n << BigInt(bits)) - 1n);
  return sign ? low | (((1n << 64n) - 1n) & ~((1n << BigInt(bits)) - 1n)) : low;
}

const U_S_CET_SHSTK = 0x3n; // SH_STK_EN, WRSS_EN
const U_S_CET_IBT = 0x3cn | (((1n << 64n) - 1n) & ~0x3ffn); // ENDBR_EN..NO_TRACK_EN, SUPPRESS, WAIT_ENDBR, bitmap base
const U_S_CET_RESERVED = 0x3c0n; // bits 9:6

export const MSR_TABLE: readonly MsrDef[] = [
  // Machine/VMM-setup MSRs a VMM restores through KVM_SET_MSRS (rules [R]: recalled, not re-read).
  {
    index: Msr.UCODE_REV,
    name: 'IA32_UCODE_REV',
    reset: 0x1_0000_0000n,
    // kvm_arch_vcpu_create: microcode_version = 0x100000000; svm_vcpu_create: 0x01000065
    // (feature_msrs_test). kvm_pvm on this machine reads 0 after vCPU creation (a PVM difference).
    resetOf: (m) =>
      m.mode === 'kvmExact' && m.kvmModule === 'kvm_amd'
        ? 0x0100_0065n
        : m.mode === 'kvmExact' && m.kvmModule === 'kvm_pvm'
          ? 0n
          : 0x1_0000_0000n,
    access: 'rw',
    special: 'ucode_rev',
    doc:
      'SDM 4 Table 2-2 (8BH); feature MSR, mutable after KVM_RUN (kvm_is_immutable_feature_msr exempts it); ' +
      'kvm_set_msr_common stores userspace writes (any value) and ignores guest writes',
  },
  {
    index: Msr.SMBASE,
    name: 'IA32_SMBASE',
    reset: 0x3_0000n,
    access: 'rw',
    hostOnly: true,
    hostProbed: true,
    doc: "SDM 4 Table 2-2 (9EH); userspace-only (guest RDMSR/WRMSR #GP); exists only with KVM SMM support (emulated_msrs, has_emulated_msr; absent from this KVM's list, KVM_GET_MSRS fails)",
  },
  {
    index: Msr.PLATFORM_INFO,
    name: 'MSR_PLATFORM_INFO',
    reset: 0n,
    access: 'ro',
    feature: true,
    doc: 'SDM 4 (CEH); bit 31 = CPUID faulting supported; read-only to the guest [R]',
  },
  {
    index: Msr.MISC_FEATURES_ENABLES,
    name: 'MSR_MISC_FEATURES_ENABLES',
    reset: 0n,
    access: 'rw',
    reserved: ~0x1n & ((1n << 64n) - 1n),
    doc: 'SDM 4 (140H): bit 0 CPUID faulting [R]',
  },
  {
    index: Msr.MCG_CAP,
    name: 'IA32_MCG_CAP',
    gate: 'mca',
    reset: 0n,
    resetOf: (m) => (m.mode === 'kvmExact' ? KVM_DEFAULT_MCG_CAP : 0n),
    access: 'ro',
    special: 'mce',
    doc: 'SDM 4 Table 2-2 (179H); read-only to WRMSR and KVM_SET_MSRS alike: userspace sets it with KVM_X86_SETUP_MCE',
  },
  {
    index: Msr.MCG_STATUS,
    name: 'IA32_MCG_STATUS',
    gate: 'mca',
    reset: 0n,
    access: 'rw',
    doc: 'SDM 4 Table 2-2 (17AH) [R]',
  },
  {
    index: Msr.DEBUGCTL,
    name: 'IA32_DEBUGCTL',
    reset: 0n,
    access: 'rw',
    special: 'debugctl',
    doc:
      'SDM 4 Table 2-2 (1D9H): LBR(0), BTF(1), BUS_LOCK_DETECT(2), RTM(15); AMD APM 2 §13.1.1.6: bits 5:0. ' +
      'Vendor rules in contract/msr.ts debugctlWrite (vmx_set_msr, svm_set_msr, pvm_set_msr)',
  },
  {
    index: Msr.AMD_HWCR,
    name: 'MSR_K7_HWCR',
    reset: 0x0100_0000n,
    access: 'rw',
    // kvm_set_msr_common MSR_K7_HWCR: bits 3 (TLB cache disable), 6 (flush filter), 8 (IGNNE) are
    // dropped; McStatusWrEn (18) and TscFreqSel (24) are kept; anything else fails (guest and userspace).
    check: (_m, v) =>
      v & ~((1n << 3n) | (1n << 6n) | (1n << 8n) | (1n << 18n) | (1n << 24n))
        ? 'KVM accepts only McStatusWrEn (18) and TscFreqSel (24) (and ignores bits 3, 6, 8)'
        : undefined,
    adjust: (_m, v) => v & ~((1n << 3n) | (1n << 6n) | (1n << 8n)),
    doc: 'APM 2 Appendix A (C001_0015H); kvm_set_msr_common MSR_K7_HWCR (this KVM refuses 1, 0xFFFF, ~0 from userspace)',
  },
  {
    index: Msr.AMD_VM_CR,
    name: 'MSR_VM_CR',
    gate: 'svm',
    reset: 0n,
    access: 'rw',
    doc: 'APM 2 §15.30.1 (C001_0114H) [R]',
  },
  {
    index: Msr.AMD_VM_HSAVE_PA,
    name: 'MSR_VM_HSAVE_PA',
    gate: 'svm',
    hostIgnoresGate: true,
    hostAnyValue: true,
    reset: 0n,
    access: 'rw',
    reserved: 0xfffn,
    check: (m, v) =>
      v & physHigh(m) ? `bits at or above MAXPHYADDR ${m.maxPhysAddr} are reserved` : undefined,
    adjust: (_m, v) => v & ~0xfffn,
    doc:
      'APM 2 §15.30.4 (C001_0117H): 4-KiB aligned; svm_set_msr: the guest needs a valid page address (page_address_valid), ' +
      'userspace may write any value (stored & PAGE_MASK; seen on this KVM: 1, 0xFFFF, ~0 accepted)',
  },
  {
    index: Msr.AMD_DE_CFG,
    name: 'MSR_AMD64_DE_CFG',
    reset: 0n,
    access: 'ro',
    feature: true,
    hostProbed: true,
    doc: 'APM (C001_1029H): LFENCE serializing etc.; read-only to the guest [R]',
  },

  {
    index: Msr.AMD_NB_CFG,
    name: 'MSR_AMD64_NB_CFG',
    reset: 0n,
    access: 'rw',
    // kvm_get_msr_common reads it as 0 and kvm_set_msr_common drops every write, for any guest vendor
    // (Linux's amd_init reads it on family 10h-17h to set up the extended APIC ID / IO-APIC routing)
    adjust: () => 0n,
    doc: 'BKDG fam 10h-17h (C001_001FH) NB_CFG; kvm_get_msr_common → 0, kvm_set_msr_common ignores writes',
  },
  {
    index: Msr.TSC,
    name: 'IA32_TIME_STAMP_COUNTER',
    gate: 'tsc',
    reset: 0n,
    access: 'rw',
    doc: 'SDM 4 Table 2-2 (10H)',
  },
  {
    index: Msr.KVM_WALL_CLOCK,
    name: 'MSR_KVM_WALL_CLOCK',
    pvGate: KvmPvFeature.CLOCKSOURCE,
    reset: 0n,
    access: 'wo',
    doc: 'msr.rst: legacy wall clock (write-only GPA)',
  },
  {
    index: Msr.KVM_SYSTEM_TIME,
    name: 'MSR_KVM_SYSTEM_TIME',
    pvGate: KvmPvFeature.CLOCKSOURCE,
    reset: 0n,
    access: 'rw',
    doc: 'msr.rst: legacy kvmclock system time (GPA | enable)',
  },
  {
    index: Msr.APIC_BASE,
    name: 'IA32_APIC_BASE',
    reset: 0xfee0_0900n,
    access: 'rw',
    special: 'apic_base',
    reserved: (m) => physHigh(m) | 0x2ffn | (m.has('x2apic') ? 0n : 0x400n),
    doc: 'SDM 4 Table 2-2 (1BH), SDM 3A §11.4.4; KVM kvm_apic_set_base',
  },
  {
    index: Msr.FEAT_CTL,
    name: 'IA32_FEATURE_CONTROL',
    reset: 0n,
    access: 'rw',
    special: 'feat_ctl',
    hostProbed: true,
    doc: 'SDM 4 Table 2-2 (3AH); allowed bits follow VMX/SMX/SGX/SGX_LC/LMCE',
  },
  {
    index: Msr.TSC_ADJUST,
    name: 'IA32_TSC_ADJUST',
    gate: 'tsc_adjust',
    reset: 0n,
    access: 'rw',
    doc: 'SDM 4 Table 2-2 (3BH)',
  },
  {
    index: Msr.SPEC_CTRL,
    name: 'IA32_SPEC_CTRL',
    gate: ['spec_ctrl', 'amd_ibrs', 'amd_ssbd', 'virt_ssbd', 'amd_stibp'],
    hostIgnoresGate: true,
    reset: 0n,
    access: 'rw',
    reserved: (m) =>
      ~(
        1n |
        (m.hasAny(['intel_stibp', 'amd_stibp']) ? 2n : 0n) |
        (m.hasAny(['spec_ctrl_ssbd', 'amd_ssbd']) ? 4n : 0n)
      ) &
      ((1n << 64n) - 1n),
    doc: 'SDM 4 Table 2-2 (48H): IBRS(0), STIBP(1), SSBD(2); later bits (IPRED/RRSBA/BHI) not modelled [R]',
  },
  {
    index: Msr.PRED_CMD,
    name: 'IA32_PRED_CMD',
    gate: ['spec_ctrl', 'amd_ibpb'],
    hostIgnoresGate: true,
    reset: 0n,
    access: 'wo',
    reserved: ~1n & ((1n << 64n) - 1n),
    doc: 'SDM 4 Table 2-2 (49H): write-only, IBPB(0); SBPB(7) not modelled',
  },
  {
    index: Msr.MTRRCAP,
    name: 'IA32_MTRRCAP',
    gate: 'mtrr',
    reset: 0x508n,
    access: 'ro',
    hostReadOnly: true,
    doc: 'SDM 4 Table 2-2 (FEH); KVM reports VCNT=8, FIX, WC (0x508)',
  },
  {
    index: Msr.ARCH_CAPABILITIES,
    name: 'IA32_ARCH_CAPABILITIES',
    gate: 'arch_capabilities',
    reset: 0n,
    access: 'ro',
    feature: true,
    doc: 'SDM 4 Table 2-2 (10AH); read-only to the guest, set by the VMM',
  },
  {
    index: Msr.FLUSH_CMD,
    name: 'IA32_FLUSH_CMD',
    gate: 'flush_l1d',
    hostIgnoresGate: true,
    reset: 0n,
    access: 'wo',
    reserved: ~1n & ((1n << 64n) - 1n),
    doc: 'SDM 4 Table 2-2 (10BH): write-only, L1D_FLUSH(0)',
  },
  {
    index: Msr.SYSENTER_CS,
    name: 'IA32_SYSENTER_CS',
    reset: 0n,
    access: 'rw',
    doc: 'SDM 4 Table 2-2 (174H)',
  },
  {
    index: Msr.SYSENTER_ESP,
    name: 'IA32_SYSENTER_ESP',
    reset: 0n,
    access: 'rw',
    canonical: 'canonicalize',
    adjust: (m, v) => (m.amdLike ? v & 0xffff_ffffn : v),
    doc: 'SDM 4 Table 2-2 (175H); KVM canonicalizes silently; AMD keeps only 31:0 (msrs_test)',
  },
  {
    index: Msr.SYSENTER_EIP,
    name: 'IA32_SYSENTER_EIP',
    reset: 0n,
    access: 'rw',
    canonical: 'canonicalize',
    adjust: (m, v) => (m.amdLike ? v & 0xffff_ffffn : v),
    doc: 'SDM 4 Table 2-2 (176H); as SYSENTER_ESP',
  },
  {
    index: Msr.MISC_ENABLE,
    name: 'IA32_MISC_ENABLE',
    reset: 0x1800n,
    access: 'rw',
    special: 'misc_enable',
    doc: 'SDM 4 Table 2-2 (1A0H); KVM reset = BTS_UNAVAIL|PEBS_UNAVAIL',
  },
  {
    index: Msr.MTRR_PHYS_BASE0,
    count: 16,
    name: 'IA32_MTRR_PHYSBASE/PHYSMASK0-7',
    gate: 'mtrr',
    reset: 0n,
    access: 'rw',
    check: (m, v, index) => {
      if (v & physHigh(m)) return `bits at or above MAXPHYADDR ${m.maxPhysAddr} are reserved`;
      if ((index & 1) === 0) {
        if (v & 0xf00n) return 'PHYSBASE bits 11:8 are reserved';
        return MTRR_TYPES.has(Number(v & 0xffn))
          ? undefined
          : `PHYSBASE memory type ${Number(v & 0xffn)} is invalid`;
      }
      return v & 0x7ffn ? 'PHYSMASK bits 10:0 are reserved' : undefined;
    },
    doc: 'SDM 4 Table 2-2 (200H-20FH), SDM 3A §13.11.2.3: even = base (type 7:0), odd = mask (valid 11)',
  },
  {
    index: Msr.MTRR_FIX64K_00000,
    name: 'IA32_MTRR_FIX64K_00000',
    gate: 'mtrr',
    reset: 0n,
    access: 'rw',
    check: (_m, v) => bytesIn(v, MTRR_TYPES, 'MTRR'),
    doc: 'SDM 4 Table 2-2 (250H)',
  },
  {
    index: Msr.MTRR_FIX16K_80000,
    count: 2,
    name: 'IA32_MTRR_FIX16K_80000/A0000',
    gate: 'mtrr',
    reset: 0n,
    access: 'rw',
    check: (_m, v) => bytesIn(v, MTRR_TYPES, 'MTRR'),
    doc: 'SDM 4 Table 2-2 (258H-259H)',
  },
  {
    index: Msr.MTRR_FIX4K_C0000,
    count: 8,
    name: 'IA32_MTRR_FIX4K_C0000-F8000',
    gate: 'mtrr',
    reset: 0n,
    access: 'rw',
    check: (_m, v) => bytesIn(v, MTRR_TYPES, 'MTRR'),
    doc: 'SDM 4 Table 2-2 (268H-26FH)',
  },
  {
    index: Msr.PAT,
    name: 'IA32_PAT',
    reset: 0x0007_0406_0007_0406n,
    access: 'rw',
    check: (_m, v) => bytesIn(v, PAT_TYPES, 'PAT'),
    doc: 'SDM 4 Table 2-2 (277H), SDM 3A §13.12.2; KVM kvm_pat_valid',
  },
  {
    index: Msr.MTRR_DEF_TYPE,
    name: 'IA32_MTRR_DEF_TYPE',
    gate: 'mtrr',
    reset: 0n,
    access: 'rw',
    reserved: ~0xcffn & ((1n << 64n) - 1n),
    check: (_m, v) =>
      MTRR_TYPES.has(Number(v & 0xffn)) ? undefined : `default memory type ${Number(v & 0xffn)} is invalid`,
    doc: 'SDM 4 Table 2-2 (2FFH): type 7:0, FE(10), E(11)',
  },
  {
    index: Msr.PERF_CAPABILITIES,
    name: 'IA32_PERF_CAPABILITIES',
    gate: 'pdcm',
    reset: 0n,
    access: 'ro',
    feature: true,
    doc: 'SDM 4 Table 2-2 (345H)',
  },
  {
    index: Msr.VMX_BASIC,
    count: 0x12,
    name: 'IA32_VMX_BASIC..IA32_VMX_VMFUNC',
    gate: 'vmx',
    reset: 0n,
    access: 'ro',
    feature: true,
    special: 'vmx',
    doc: 'SDM 3D Appendix A; spec §7',
  },
  {
    index: Msr.U_CET,
    name: 'IA32_U_CET',
    gate: ['shstk', 'ibt'],
    reset: 0n,
    access: 'rw',
    check: (m, v) => cetReason(m, v),
    doc: 'SDM 4 Table 2-2 (6A0H); KVM kvm_is_valid_u_s_cet [R]',
  },
  {
    index: Msr.S_CET,
    name: 'IA32_S_CET',
    gate: ['shstk', 'ibt'],
    reset: 0n,
    access: 'rw',
    check: (m, v) => cetReason(m, v),
    doc: 'SDM 4 Table 2-2 (6A2H)',
  },
  {
    index: Msr.PL0_SSP,
    count: 4,
    name: 'IA32_PL0_SSP..PL3_SSP',
    gate: 'shstk',
    reset: 0n,
    access: 'rw',
    canonical: 'gp',
    reserved: 0x3n,
    doc: 'SDM 4 Table 2-2 (6A4H-6A7H): canonical, 4-byte aligned',
  },
  {
    index: Msr.INT_SSP_TAB,
    name: 'IA32_INTERRUPT_SSP_TABLE_ADDR',
    gate: 'shstk',
    reset: 0n,
    access: 'rw',
    canonical: 'gp',
    check: (m) => (m.has('lm') ? undefined : `needs long mode: CPUID.80000001H:EDX[29] LM is 0`),
    doc: 'SDM 4 Table 2-2 (6A8H)',
  },
  {
    index: Msr.TSC_DEADLINE,
    name: 'IA32_TSC_DEADLINE',
    gate: 'tsc_deadline_timer',
    reset: 0n,
    access: 'rw',
    doc: 'SDM 4 Table 2-2 (6E0H)',
  },
  {
    index: Msr.PKRS,
    name: 'IA32_PKRS',
    gate: 'pks',
    absentIn: 'kvmExact',
    reset: 0n,
    access: 'rw',
    reserved: 0xffff_ffff_0000_0000n,
    doc: 'SDM 4 Table 2-2 (6E1H); KVM never virtualized PKS',
  },
  {
    index: Msr.X2APIC_FIRST,
    count: 0x100,
    name: 'x2APIC registers',
    gate: 'x2apic',
    reset: 0n,
    access: 'rw',
    special: 'x2apic',
    doc:
      'SDM 3A §11.12.1.2 Table 11-6 (800H-8FFH); #GP (guest and userspace) unless IA32_APIC_BASE.EN=1 and ' +
      'EXTD=1; per-register rules in x2apic.ts (kvm_x2apic_msr_read/write)',
  },
  {
    index: Msr.BNDCFGS,
    name: 'IA32_BNDCFGS',
    gate: 'mpx',
    reset: 0n,
    access: 'rw',
    reserved: 0xffcn,
    canonical: 'gp',
    canonicalMask: ~0xfffn & ((1n << 64n) - 1n),
    doc: 'SDM 4 Table 2-2 (D90H): EN(0), BNDPRESERVE(1), reserved 11:2, canonical base 63:12',
  },
  {
    index: Msr.XSS,
    name: 'IA32_XSS',
    gate: 'xsaves',
    reset: 0n,
    access: 'rw',
    special: 'xss',
    doc: 'SDM 4 Table 2-2 (DA0H); spec §4.2',
  },
  {
    index: Msr.EFER,
    name: 'IA32_EFER',
    reset: 0n,
    access: 'rw',
    special: 'efer',
    doc: 'SDM 4 Table 2-2 (C0000080H); spec §3',
  },
  { index: Msr.STAR, name: 'IA32_STAR', reset: 0n, access: 'rw', doc: 'SDM 4 Table 2-2 (C0000081H)' },
  {
    index: Msr.LSTAR,
    name: 'IA32_LSTAR',
    reset: 0n,
    access: 'rw',
    canonical: 'gp',
    doc: 'SDM 4 Table 2-2 (C0000082H)',
  },
  {
    index: Msr.CSTAR,
    name: 'IA32_CSTAR',
    reset: 0n,
    access: 'rw',
    canonical: 'gp',
    doc: 'APM 2 §6.1.1 (C0000083H)',
  },
  { index: Msr.SFMASK, name: 'IA32_FMASK', reset: 0n, access: 'rw', doc: 'SDM 4 Table 2-2 (C0000084H)' },
  {
    index: Msr.FS_BASE,
    name: 'IA32_FS_BASE',
    gate: 'lm',
    reset: 0n,
    access: 'rw',
    canonical: 'gp',
    doc: 'SDM 4 Table 2-2 (C0000100H)',
  },
  {
    index: Msr.GS_BASE,
    name: 'IA32_GS_BASE',
    gate: 'lm',
    reset: 0n,
    access: 'rw',
    canonical: 'gp',
    doc: 'SDM 4 Table 2-2 (C0000101H)',
  },
  {
    index: Msr.KERNEL_GS_BASE,
    name: 'IA32_KERNEL_GS_BASE',
    gate: 'lm',
    reset: 0n,
    access: 'rw',
    canonical: 'gp',
    doc: 'SDM 4 Table 2-2 (C0000102H)',
  },
  {
    index: Msr.TSC_AUX,
    name: 'IA32_TSC_AUX',
    gate: ['rdtscp', 'rdpid'],
    hostIgnoresGate: true,
    reset: 0n,
    access: 'rw',
    check: (m, v) =>
      !m.amdLike && v >> 32n ? 'bits 63:32 are reserved for Intel-compatible guests' : undefined,
    adjust: (_m, v) => v & 0xffff_ffffn,
    doc: 'SDM 4 Table 2-2 (C0000103H); AMD ignores 63:32 (KVM truncates)',
  },
  {
    index: Msr.KVM_WALL_CLOCK_NEW,
    name: 'MSR_KVM_WALL_CLOCK_NEW',
    pvGate: KvmPvFeature.CLOCKSOURCE2,
    reset: 0n,
    access: 'wo',
    doc: 'msr.rst: wall clock (write-only GPA)',
  },
  {
    index: Msr.KVM_SYSTEM_TIME_NEW,
    name: 'MSR_KVM_SYSTEM_TIME_NEW',
    pvGate: KvmPvFeature.CLOCKSOURCE2,
    reset: 0n,
    access: 'rw',
    doc: 'msr.rst: kvmclock system time (GPA | enable)',
  },
  {
    index: Msr.KVM_ASYNC_PF_EN,
    name: 'MSR_KVM_ASYNC_PF_EN',
    pvGate: KvmPvFeature.ASYNC_PF,
    reset: 0n,
    access: 'rw',
    reserved: 0x30n,
    lapicWrites: 'nonzero',
    doc: 'msr.rst: async PF (bits 5:4 reserved) [R]',
  },
  {
    index: Msr.KVM_STEAL_TIME,
    name: 'MSR_KVM_STEAL_TIME',
    pvGate: KvmPvFeature.STEAL_TIME,
    reset: 0n,
    access: 'rw',
    reserved: 0x3en,
    doc: 'msr.rst: steal time (64-byte aligned GPA | enable) [R]',
  },
  {
    index: Msr.KVM_PV_EOI_EN,
    name: 'MSR_KVM_PV_EOI_EN',
    pvGate: KvmPvFeature.PV_EOI,
    reset: 0n,
    access: 'rw',
    reserved: 0x2n,
    doc: 'msr.rst: PV EOI (4-byte aligned GPA | enable) [R]',
  },
  {
    index: Msr.KVM_POLL_CONTROL,
    name: 'MSR_KVM_POLL_CONTROL',
    pvGate: KvmPvFeature.POLL_CONTROL,
    reset: 1n,
    access: 'rw',
    reserved: ~1n & ((1n << 64n) - 1n),
    doc: 'msr.rst: host-side haltpoll control [R]',
  },
  {
    index: Msr.KVM_ASYNC_PF_INT,
    name: 'MSR_KVM_ASYNC_PF_INT',
    pvGate: KvmPvFeature.ASYNC_PF_INT,
    reset: 0n,
    access: 'rw',
    reserved: ~0xffn & ((1n << 64n) - 1n),
    lapicWrites: 'any',
    doc: 'msr.rst: async PF interrupt vector [R]',
  },
  {
    index: Msr.KVM_ASYNC_PF_ACK,
    name: 'MSR_KVM_ASYNC_PF_ACK',
    pvGate: KvmPvFeature.ASYNC_PF_INT,
    reset: 0n,
    access: 'rw',
    doc: 'msr.rst: async PF acknowledge [R]',
  },
  {
    index: Msr.KVM_MIGRATION_CONTROL,
    name: 'MSR_KVM_MIGRATION_CONTROL',
    pvGate: KvmPvFeature.MIGRATION_CONTROL,
    reset: 0n,
    access: 'rw',
    doc: 'msr.rst: migration control [R]',
  },
  // ---- MSRs this machine's KVM lists (KVM_GET_MSR_INDEX_LIST, src/vcpu/kvm/fixtures/pvm-msrs.json)
  // that the first table lacked, and the PMU / machine-check families KVM emulates. Value rules are
  // KVM's where stated; the PMU rows model existence and access only (coarse: counter widths and
  // event-select reserved bits are not modelled).
  {
    index: Msr.SMI_COUNT,
    name: 'MSR_SMI_COUNT',
    reset: 0n,
    access: 'ro',
    doc: 'SDM 4 (34H); kvm_set_msr_common: guest WRMSR #GP, userspace may set any value',
  },
  {
    index: Msr.MCG_CTL,
    name: 'IA32_MCG_CTL',
    reset: 0n,
    access: 'rw',
    special: 'mce',
    doc: 'SDM 4 Table 2-2 (17BH); set_msr_mce: exists iff MCG_CAP.MCG_CTL_P (userspace may still write 0); value 0 or all-ones',
  },
  {
    index: Msr.LASTBRANCHFROMIP,
    count: 4,
    name: 'MSR_IA32_LASTBRANCH/LASTINT FROM/TO IP',
    gate: 'lbrv',
    reset: 0n,
    access: 'ro',
    doc:
      'APM 2 §13.1.1.6 (1DBH-1DEH: LastBranchFromIP, LastBranchToIP, LastIntFromIP, LastIntToIP); svm_get_msr ' +
      'reads them with LBR virtualization; without it userspace may read and write 0 (listed by this KVM) [R]',
  },
  {
    index: Msr.POWER_CTL,
    name: 'MSR_IA32_POWER_CTL',
    reset: 0n,
    access: 'rw',
    doc: 'SDM 4 (1FCH); kvm_set_msr_common stores any value (msr_ia32_power_ctl)',
  },
  {
    index: Msr.MC0_CTL2,
    count: 32,
    name: 'IA32_MC0_CTL2..MC31_CTL2',
    reset: 0n,
    access: 'rw',
    special: 'mce',
    doc: 'SDM 4 Table 2-2 (280H+i); set_msr_mce: bank < MCG_CAP.Count, needs MCG_CMCI_P (userspace may write 0), bits other than CMCI_EN(30)/threshold(14:0) reserved',
  },
  {
    index: Msr.MC0_CTL,
    count: 32 * 4,
    name: 'IA32_MCi_CTL/STATUS/ADDR/MISC',
    reset: 0n,
    access: 'rw',
    special: 'mce',
    doc: 'SDM 4 Table 2-2 (400H+4i..403H+4i); set_msr_mce: bank < MCG_CAP.Count; CTL 0 or all-ones (bit 10 and bit 0 may be clear); guest STATUS writes must be 0 (AMD HWCR.McStatusWrEn not modelled)',
  },
  {
    index: Msr.MCG_EXT_CTL,
    name: 'IA32_MCG_EXT_CTL',
    reset: 0n,
    access: 'rw',
    hostProbed: true,
    reserved: ~1n & ((1n << 64n) - 1n),
    exists: (_m, _i, c) =>
      c.mcgCap & MCG_LMCE_P ? undefined : 'IA32_MCG_EXT_CTL needs IA32_MCG_CAP.MCG_LMCE_P (bit 27)',
    doc: 'SDM 4 Table 2-2 (4D0H): LMCE_EN(0); vmx_set_msr only (AMD hosts: unsupported); guest access also needs FEATURE_CONTROL.LMCE (not modelled) [R]',
  },
  {
    index: Msr.PMC0,
    count: 8,
    name: 'IA32_PMC0..PMC7',
    reset: 0n,
    access: 'rw',
    absentIgnored: (i) => i <= Msr.PMC0 + 1,
    exists: (m, i) => {
      const p = intelPmu(m);
      const n = i - Msr.PMC0;
      return n < p.gp
        ? undefined
        : `IA32_PMC${n} needs ${n + 1} general-purpose counters: ${PMU_TEXT} ${p.version}, EAX[15:8] = ${p.gp}`;
    },
    doc: 'SDM 4 Table 2-2 (C1H-C8H); intel_pmu; C1H/C2H are also the legacy P6 PERFCTR0/1 that KVM accepts and ignores when the PMU does not claim them (any write, read 0); C3H-C8H are then unsupported',
  },
  {
    index: Msr.PERFEVTSEL0,
    count: 8,
    name: 'IA32_PERFEVTSEL0..7',
    reset: 0n,
    access: 'rw',
    absentIgnored: (i) => i <= Msr.PERFEVTSEL0 + 1,
    exists: (m, i) => {
      const p = intelPmu(m);
      const n = i - Msr.PERFEVTSEL0;
      return n < p.gp
        ? undefined
        : `IA32_PERFEVTSEL${n} needs ${n + 1} general-purpose counters: ${PMU_TEXT} ${p.version}, EAX[15:8] = ${p.gp}`;
    },
    doc: 'SDM 4 Table 2-2 (186H-18DH); 186H/187H are the legacy P6 EVNTSEL0/1 (ignored as for PMC0/1); event-select reserved bits not modelled',
  },
  {
    index: Msr.FIXED_CTR0,
    count: 3,
    name: 'IA32_FIXED_CTR0..2',
    reset: 0n,
    access: 'rw',
    exists: (m, i) => {
      const p = intelPmu(m);
      const n = i - Msr.FIXED_CTR0;
      return n < p.fixed
        ? undefined
        : `IA32_FIXED_CTR${n} needs PMU version ≥ 2 with ${n + 1} fixed counters: ${PMU_TEXT} ${p.version}, EDX[4:0] = ${p.fixed}`;
    },
    doc: 'SDM 4 Table 2-2 (309H-30BH); KVM lists 3 (msrs_to_save_pmu)',
  },
  {
    index: Msr.FIXED_CTR_CTRL,
    count: 4,
    name: 'IA32_FIXED_CTR_CTRL/PERF_GLOBAL_STATUS/CTRL/OVF_CTRL',
    reset: 0n,
    access: 'rw',
    exists: (m) => {
      const p = intelPmu(m);
      return p.version >= 2 ? undefined : `needs architectural PMU version ≥ 2: ${PMU_TEXT} = ${p.version}`;
    },
    check: (_m, _v, i) =>
      i === Msr.PERF_GLOBAL_STATUS ? 'IA32_PERF_GLOBAL_STATUS is read-only to WRMSR' : undefined,
    doc: 'SDM 4 Table 2-2 (38DH-390H); GLOBAL_STATUS is read-only (userspace may set it: not modelled); reserved bits not modelled',
  },
  {
    index: Msr.K7_EVNTSEL0,
    count: 8,
    name: 'MSR_K7_EVNTSEL0..3/PERFCTR0..3',
    reset: 0n,
    access: 'rw',
    absentIgnored: () => true,
    exists: (m) =>
      m.amdLike ? undefined : 'the legacy AMD counters belong to the AMD PMU (guest vendor is not AMD)',
    doc: 'APM 2 §13.2 (C001_0000H-C001_0007H); kvm_set_msr_common ignores writes (reads 0) when the PMU does not claim them',
  },
  {
    index: Msr.F15H_PERF_CTL0,
    count: 12,
    name: 'MSR_F15H_PERF_CTL0..5/CTR0..5',
    gate: 'perfctr_core',
    reset: 0n,
    access: 'rw',
    doc: 'APM 2 §13.2 (C001_0200H-C001_020BH, CTL/CTR interleaved); amd_pmu with PERFCTR_CORE; values not modelled',
  },
  {
    index: Msr.AMD_PERF_GLOBAL_STATUS,
    count: 3,
    name: 'MSR_AMD64_PERF_CNTR_GLOBAL_STATUS/CTL/STATUS_CLR',
    reset: 0n,
    access: 'rw',
    exists: (m) =>
      m.table.reg(0x80000022, 0, 'eax') & 1
        ? undefined
        : 'needs AMD PerfMonV2: guest CPUID.80000022H:EAX[0] is 0',
    check: (_m, _v, i) =>
      i === Msr.AMD_PERF_GLOBAL_STATUS ? 'PERF_CNTR_GLOBAL_STATUS is read-only to WRMSR' : undefined,
    doc: 'APM 2 §13.2.2 (C000_0300H-C000_0302H); values not modelled',
  },
  {
    index: Msr.AMD_VIRT_SPEC_CTRL,
    name: 'MSR_AMD64_VIRT_SPEC_CTRL',
    gate: 'virt_ssbd',
    hostIgnoresGate: true,
    reset: 0n,
    access: 'rw',
    reserved: ~4n & ((1n << 64n) - 1n),
    doc: 'AMD "Speculative Store Bypass Disable" whitepaper (C001_011FH): SSBD(2); svm_set_msr: guest needs VIRT_SSBD, userspace does not; other bits reserved',
  },
];

function cetReason(m: MsrView, v: bigint): string | undefined {
  if (v & U_S_CET_RESERVED) return 'bits 9:6 are reserved';
  if (!m.has('shstk') && v & U_S_CET_SHSTK)
    return 'SH_STK_EN/WRSS_EN (bits 1:0) need SHSTK: CPUID.(EAX=7,ECX=0):ECX[7] SHSTK is 0';
  if (!m.has('ibt') && v & U_S_CET_IBT)
    return 'IBT bits (5:2, 63:10) need IBT: CPUID.(EAX=7,ECX=0):EDX[20] IBT is 0';
  if (v & (1n << 10n) && v & (1n << 11n))
    return 'SUPPRESS (bit 10) and WAIT_ENDBR (bit 11) cannot both be set';
  return undefined;
}

/** The row covering `index`, or undefined for an MSR the table does not know. */
export function msrDef(index: number): MsrDef | undefined {
  const i = index >>> 0;
  return BY_INDEX.get(i) ?? RANGES.find((d) => i >= d.index && i < d.index + d.count!);
}
const BY_INDEX = new Map<number, MsrDef>(MSR_TABLE.filter((d) => !d.count).map((d) => [d.index, d]));
const RANGES = MSR_TABLE.filter((d) => d.count);

/** The name of one MSR (range rows give the range name). */
export function msrName(index: number): string {
  return msrDef(index)?.name ?? `MSR 0x${(index >>> 0).toString(16)}`;
}
