// CPU errata and backend quirks that hide or force CPUID bits, as data with family/model/stepping
// matchers. Family/model are the "display" values of CPUID.1:EAX (Intel SDM Vol. 2A Figure 3-6 "Version
// Information Returned by CPUID in EAX"; AMD APM Vol. 3 E.3.2 Fn0000_0001_EAX). The KVM quirks are those
// of shared/spec/kvm-contract.md §5.2/§5.3 that behave like errata: they depend on the host and on how
// KVM is configured (TDP on/off), not on what the guest asks for.

import type { BackendName } from '../reasons.ts';

export interface CpuMatch {
  readonly vendor?: 'intel' | 'amd' | 'hygon';
  /** display family (base + extended), e.g. 0x17 */
  readonly family?: number;
  /** display models [lo, hi] inclusive, all when absent */
  readonly models?: readonly (readonly [number, number])[];
  readonly steppings?: readonly (readonly [number, number])[];
}

/** Host/VMM configuration a quirk depends on. */
export interface QuirkContext {
  readonly backend: BackendName;
  /** two-dimensional paging (EPT/NPT) in use; KVM's default on every modern host */
  readonly tdp: boolean;
  /** host kernel runs with CR4.PKE (the host dump's 7.0:ECX[4] OSPKE) */
  readonly hostOspke: boolean;
  readonly vendor: 'intel' | 'amd' | 'hygon' | 'other';
  /** KVM module parameter allow_smaller_maxphyaddr */
  readonly allowSmallerMaxphyaddr: boolean;
}

export interface Erratum {
  readonly id: string;
  readonly title: string;
  /** public reference: erratum number, kernel commit, spec section */
  readonly source: string;
  /** 'cpu' = a silicon erratum (applies to any backend through the host kernel); 'kvm' = a KVM rule */
  readonly layer: 'cpu' | 'kvm';
  readonly match?: CpuMatch;
  /** only when this holds for the context (absent = always) */
  readonly when?: (ctx: QuirkContext) => boolean;
  readonly hide?: readonly string[];
  readonly force?: readonly string[];
  /** which backends it concerns (absent = both) */
  readonly backends?: readonly BackendName[];
}

export const ERRATA: readonly Erratum[] = [
  {
    id: 'amd-1386',
    title:
      'AMD erratum 1386: XSAVES may fail to save XMM registers on family 17h (Zen1/Zen2); Linux clears ' +
      'X86_FEATURE_XSAVES (commit b0563468eeac), so KVM_GET_SUPPORTED_CPUID hides it (XSAVEC is unaffected)',
    source:
      'AMD erratum 1386; Linux b0563468eeac "x86/CPU/AMD: Disable XSAVES on AMD family 0x17"; spec §4.4',
    layer: 'cpu',
    match: { vendor: 'amd', family: 0x17 },
    hide: ['xsaves'],
  },
  {
    id: 'amd-zen5-rdseed',
    title:
      'AMD Zen5 (family 1Ah) RDSEED may return 0 with CF=1 (success) for 16/32-bit operands; Linux clears ' +
      'X86_FEATURE_RDSEED on affected parts, so KVM (F(RDSEED)) does not offer it',
    source: 'AMD-SB-7055; Linux "x86/CPU/AMD: Disable RDSEED on AMD Zen5 because of an error" (2025)',
    layer: 'cpu',
    match: { vendor: 'amd', family: 0x1a },
    hide: ['rdseed'],
  },
  {
    id: 'kvm-pku-needs-tdp-ospke',
    title: 'KVM advertises PKU only with TDP enabled and the host kernel running with CR4.PKE (OSPKE)',
    source: 'kvm_initialize_cpu_caps; spec §1.2, §5.3',
    layer: 'kvm',
    backends: ['kvm'],
    when: (c) => !c.tdp || !c.hostOspke,
    hide: ['pku'],
  },
  {
    id: 'kvm-shstk-needs-tdp',
    title: 'KVM hides SHSTK without TDP: the shadow MMU cannot build shadow-stack (W=0,D=1) pages',
    source: 'kvm_initialize_cpu_caps; spec §5.3',
    layer: 'kvm',
    backends: ['kvm'],
    when: (c) => !c.tdp,
    hide: ['shstk'],
  },
  {
    id: 'kvm-cet-smaller-maxphyaddr',
    title: 'KVM hides SHSTK and IBT when allow_smaller_maxphyaddr is set',
    source: 'spec §1.2 (CET row), §5.3',
    layer: 'kvm',
    backends: ['kvm'],
    when: (c) => c.allowSmallerMaxphyaddr,
    hide: ['shstk', 'ibt'],
  },
  {
    id: 'kvm-gbpages-shadow',
    title: 'KVM forces GBPAGES when TDP is off: shadow paging can split 1 GiB guest pages',
    source: 'kvm_initialize_cpu_caps; spec §5.2, §5.6',
    layer: 'kvm',
    backends: ['kvm'],
    when: (c) => !c.tdp,
    force: ['gbpages'],
  },
  {
    id: 'kvm-mpx-amd',
    title: 'MPX is VENDOR_F: SVM never sets it (and strips both MPX XCR0 bits)',
    source: 'svm_hardware_setup; spec §4.1, §5.3',
    layer: 'kvm',
    backends: ['kvm'],
    when: (c) => c.vendor === 'amd' || c.vendor === 'hygon',
    hide: ['mpx'],
  },
  {
    id: 'kvm-umip-emulated-vmx',
    title: 'VMX emulates UMIP with descriptor-table exiting, so KVM sets UMIP even without hardware support',
    source: 'vmx_set_cpu_caps / vmx_umip_emulated; spec §1.2, §5.2',
    layer: 'kvm',
    backends: ['kvm'],
    when: (c) => c.vendor === 'intel',
    force: ['umip'],
  },
];

/** Display family/model/stepping from CPUID.1:EAX. */
export function signatureOf(eax1: number): { family: number; model: number; stepping: number } {
  const base = (eax1 >>> 8) & 0xf;
  const family = base === 0xf ? base + ((eax1 >>> 20) & 0xff) : base;
  const model =
    base === 0xf || base === 6 ? (((eax1 >>> 16) & 0xf) << 4) | ((eax1 >>> 4) & 0xf) : (eax1 >>> 4) & 0xf;
  return { family, model, stepping: eax1 & 0xf };
}

const inRanges = (v: number, rs?: readonly (readonly [number, number])[]): boolean =>
  !rs || rs.some(([lo, hi]) => v >= lo && v <= hi);

/** Does `m` match a CPU with this vendor and CPUID.1:EAX? */
export function matchesCpu(m: CpuMatch | undefined, vendor: string, eax1: number): boolean {
  if (!m) return true;
  if (m.vendor && m.vendor !== vendor) return false;
  const s = signatureOf(eax1);
  if (m.family !== undefined && m.family !== s.family) return false;
  return inRanges(s.model, m.models) && inRanges(s.stepping, m.steppings);
}

/** The errata and quirks that apply to a host (vendor, CPUID.1:EAX) under a context. */
export function applicableErrata(vendor: string, eax1: number, ctx: QuirkContext): Erratum[] {
  return ERRATA.filter(
    (e) =>
      matchesCpu(e.match, vendor, eax1) &&
      (!e.backends || e.backends.includes(ctx.backend)) &&
      (!e.when || e.when(ctx)),
  );
}
