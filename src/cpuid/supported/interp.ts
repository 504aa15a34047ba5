// The TypeScript interpreter backend's own "supported CPUID": the features src/vcpu/interp implements,
// as data. This is the interpreter's answer to KVM_GET_SUPPORTED_CPUID (spec
// shared/spec/kvm-contract.md §5; the feature meanings are in Intel SDM Vol. 2A "CPUID" and AMD APM
// Vol. 3 Appendix E). A bit is offered to an interpreter guest only if it is listed here AND the host
// has it, unless it is in INTERP_SYNTHESIZED (implemented in software whatever the host).
//
// TO BE KEPT IN SYNC WITH src/vcpu/interp: adding an instruction group or a mode there means adding its
// feature here (and removing it here if the implementation is dropped).

/** One group of features and why the interpreter offers it. */
export interface InterpGroup {
  readonly why: string;
  readonly features: readonly string[];
}

export const INTERP_GROUPS: readonly InterpGroup[] = [
  {
    why:
      'baseline x86-64: the architectural core every 64-bit guest assumes (x87 FPU, TSC, CMPXCHG8B, CMOV, PAE/PSE/' +
      'PGE/PAT/PSE-36 paging, MSRs, SYSENTER/SYSCALL, NX, long mode, FXSAVE, MMX and SSE/SSE2 executed by simd-int.ts/simd-fp.ts; x87 executed by x87.ts ' +
      'except the transcendentals); ' +
      'MTRR/MCE/MCA are register-level only (no memory-type or machine-check behaviour)',
    features: [
      'fpu',
      'vme',
      'de',
      'pse',
      'tsc',
      'msr',
      'pae',
      'mce',
      'cx8',
      'apic',
      'sep',
      'mtrr',
      'pge',
      'mca',
      'cmov',
      'pat',
      'pse36',
      'clflush',
      'mmx',
      'fxsr',
      'sse',
      'sse2',
      'syscall',
      'nx',
      'lm',
      'lahf_lm',
    ],
  },
  {
    why:
      'SSE3..SSE4.2 are executed: integer, string and CRC32 forms (src/vcpu/interp/simd-int.ts) and ' +
      'floating point with MXCSR rounding and #XM (simd-fp.ts)',
    features: ['pni', 'ssse3', 'sse4_1', 'sse4_2'],
  },
  { why: 'CMPXCHG16B (needed by every modern 64-bit kernel)', features: ['cx16'] },
  {
    why: 'POPCNT and LZCNT (ABM), TZCNT via BMI1',
    features: ['popcnt', 'abm', 'bmi1', 'bmi2', 'adx', 'movbe'],
  },
  { why: 'RDTSCP/RDPID read IA32_TSC_AUX; FSGSBASE instructions', features: ['rdtscp', 'rdpid', 'fsgsbase'] },
  {
    why: 'IA32_TSC_ADJUST moves with IA32_TSC writes and moves the TSC (SDM Vol. 3B §18.17.3; src/vcpu/interp/tsc.ts)',
    features: ['tsc_adjust'],
  },
  {
    why: 'supervisor protections in the MMU permission check (spec §8.3, §8.6, §8.9): SMEP, SMAP, UMIP, PKU, LASS',
    features: ['smep', 'smap', 'umip', 'pku', 'lass'],
  },
  {
    why: 'paging: 5-level (LA57), PCID/INVPCID tagged TLB, 1 GiB pages',
    features: ['la57', 'pcid', 'invpcid', 'gbpages'],
  },
  {
    why:
      'XSAVE family for x87|SSE state (XCR0 bits 0..1; the instructions also handle the AVX component, but AVX ' +
      'is not offered: no VEX-encoded SIMD arithmetic is executed, so AVX/AVX2/FMA/F16C stay hidden): XSAVE, ' +
      'XSAVEOPT, XSAVEC, XGETBV with ECX=1',
    features: ['xsave', 'xsaveopt', 'xsavec', 'xgetbv1'],
  },
];

/**
 * Bits the interpreter offers whatever the host has: the VMM-synthesized ones (every VMM sets them),
 * and architectural promises the interpreter keeps by construction.
 */
export const INTERP_SYNTHESIZED: Readonly<Record<string, string>> = {
  hypervisor: 'a VMM always sets CPUID.1:ECX[31] HYPERVISOR',
  x2apic:
    'the emulated local APIC implements x2APIC mode; the machine (src/machine/platform.ts) hides it unless the ' +
    'backend forwards the APIC MSRs (Vm.setUserspaceMsrs, which the interpreter implements)',
  tsc_deadline_timer:
    'the emulated local APIC implements TSC-deadline mode; the machine hides it unless the APIC MSRs are forwarded ' +
    'and the guest TSC follows the machine clock (Vm.setTscClock, which the interpreter implements)',
  efer_lmsle_mbz: 'the interpreter never implements EFER.LMSLE; it advertises the MBZ promise (spec §3.3)',
  arat: 'the emulated APIC timer does not stop in deep C-states (there are none): 6:EAX[2] ARAT',
  xsaveerptr:
    'FXSAVE/XSAVE store and FXRSTOR/XRSTOR load the whole x87 image, FIP/FDP/FOP included, whatever the ' +
    'exception state (0x80000008:EBX[2]); without it Linux assumes the AMD FXSAVE leak and runs an x87 FILD ' +
    'on every FPU restore',
};

/**
 * The KVM paravirtual leaves 0x40000000 (signature "KVMKVMKVM", max leaf 0x40000001) and 0x40000001 are
 * present on both backends so guests detect a hypervisor the same way; the interpreter implements no
 * PV feature yet, so its 0x40000001:EAX is 0.
 */
export const INTERP_KVM_PV_FEATURES_EAX = 0;

/** Every feature name the interpreter implements (resolved against the feature database by the stage). */
export function interpFeatureNames(): string[] {
  return INTERP_GROUPS.flatMap((g) => g.features);
}

export const INTERP_SOURCE = 'src/cpuid/supported/interp.ts (kept in sync with src/vcpu/interp)';
