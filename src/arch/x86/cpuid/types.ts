// CPUID vocabulary: registers, vendors and the shape of one feature-bit row.
// Intel SDM Vol. 2A "CPUID—CPU Identification"; AMD APM Vol. 3 Appendix E "CPUID".

export type CpuidReg = 'eax' | 'ebx' | 'ecx' | 'edx';
export const CPUID_REGS: readonly CpuidReg[] = ['eax', 'ebx', 'ecx', 'edx'];

export type Vendor = 'intel' | 'amd' | 'hygon' | 'centaur' | 'zhaoxin' | 'unknown';

/** Which vendors define a bit: 'both' = same meaning on Intel and AMD. */
export type VendorScope = 'both' | 'intel' | 'amd';

/**
 * hardware:   a property of the silicon (what host CPUID reports).
 * os:         reflects guest OS state at run time (OSXSAVE mirrors CR4.OSXSAVE, OSPKE mirrors CR4.PKE);
 *             never offered by policy, always computed live.
 * vmm:        synthesized by a hypervisor whatever the hardware (HYPERVISOR, KVM PV bits).
 * software:   a "no-bug"/defeature bit software may set to promise absence of a behaviour
 *             (e.g. EFER_LMSLE_MBZ / NO_LMSL, NULL_SEL_CLR_BASE): safe to advertise without hardware.
 */
export type FeatureKind = 'hardware' | 'os' | 'vmm' | 'software';

/** Location of one feature flag. `subleaf` is undefined when the leaf is not indexed. */
export interface BitLocation {
  readonly leaf: number;
  readonly subleaf?: number;
  readonly reg: CpuidReg;
  readonly bit: number;
}

export interface FeatureDef extends BitLocation {
  /** Stable name: Linux's X86_FEATURE_* suffix, lower case (e.g. 'xsaves', 'avx512f', 'gbpages'). */
  readonly name: string;
  /** Other spellings accepted on input: /proc/cpuinfo ('pdpe1gb'), QEMU ('xsaves'…), AIDA64. */
  readonly aliases?: readonly string[];
  readonly vendor: VendorScope;
  readonly kind: FeatureKind;
  /** Features this one needs to be meaningful (all must be present). */
  readonly depends?: readonly string[];
  /** One line: what the bit means. */
  readonly meaning: string;
  /** Where it is defined, e.g. 'SDM Vol.2A Table 3-8' or 'APM Vol.3 E.4.2'. */
  readonly doc: string;
}

/** Human notation for a bit location: CPUID.(EAX=7,ECX=1):EAX[6]. */
export function formatBitLocation(l: BitLocation): string {
  const leaf = `EAX=${l.leaf > 9 ? '0x' + l.leaf.toString(16).toUpperCase() : l.leaf}`;
  const sub = l.subleaf === undefined ? '' : `,ECX=${l.subleaf}`;
  return `CPUID.(${leaf}${sub}):${l.reg.toUpperCase()}[${l.bit}]`;
}
