// The guest model: everything the contract needs from a guest CPUID, derived once (spec §10.1 "one
// source of truth"): CR0/CR4/EFER valid masks (KVM: static allowlist ∧ feature gates, §1.1, §3.1),
// guest-supported XCR0/XSS (§4.1-4.2), MAXPHYADDR and the reserved-GPA mask (§5.6), vendor.

import { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { formatBitLocation, type Vendor } from '../arch/x86/cpuid/types.ts';
import {
  maxPhysAddr as cpuidMaxPhysAddr,
  virtAddrBits as cpuidVirtAddrBits,
  xsaveSupportedXcr0,
  xsaveSupportedXss,
} from '../arch/x86/cpuid/fields.ts';
import { isAmdLike, vendorOf } from '../arch/x86/cpuid/vendor.ts';
import { CR0_DEFINED_MASK } from '../arch/x86/registers/cr0.ts';
import { CR4_BITS, type Cr4Bit } from '../arch/x86/registers/cr4.ts';
import { EFER_BITS, type EferBit } from '../arch/x86/registers/efer.ts';
import { KVM_SUPPORTED_XCR0, XCR0_BITS } from '../arch/x86/registers/xcr0.ts';
import { KVM_SUPPORTED_XSS, XSS_BITS, Xss } from '../arch/x86/registers/xss.ts';
import { maskOf, requiredFeatures, type Requires } from '../arch/x86/registers/bits.ts';
import { featureText, tableHas } from './features.ts';
import { TsvmmError } from '../util/result.ts';

/**
 * 'kvmExact' (default): the rules KVM applies (kvm-x86 tree, spec §1-§7).
 * 'architectural': the SDM/APM rules: every bit is valid iff its CPUID feature is enumerated.
 * The differences are listed, with sources, in MODE_DIFFERENCES.
 */
export type ContractMode = 'kvmExact' | 'architectural';

/** Which KVM vendor module serves /dev/kvm (the rules of vendor-owned MSRs such as IA32_DEBUGCTL and
 *  the IA32_UCODE_REV reset value differ): VMX (vmx.c), SVM (svm.c), or PVM (kvm_pvm, pvm.c). */
export type KvmModule = 'kvm_intel' | 'kvm_amd' | 'kvm_pvm';

export interface ModelOptions {
  readonly mode?: ContractMode;
  /** the backend's supported XCR0 (kvm_caps.supported_xcr0); default KVM_SUPPORTED_XCR0 under
   *  kvmExact, every defined component under architectural */
  readonly supportedXcr0?: bigint;
  /** the backend's supported IA32_XSS (kvm_caps.supported_xss); defaults as for XCR0 */
  readonly supportedXss?: bigint;
  /** KVM_GET_SUPPORTED_CPUID: when given, a feature gate needs the bit here *and* in the guest
   *  CPUID (spec §1.1 layer 3, §5.6); when absent, KVM is assumed to support what the guest has */
  readonly hostSupported?: CpuidTable;
  /** KVM_CAP_ENFORCE_PV_FEATURE_CPUID: KVM PV MSRs need their 0x40000001 bit (default true) */
  readonly enforcePvCpuid?: boolean;
  /** two-dimensional paging (EPT/NPT) in use; decides effective GBPAGES (default true) */
  readonly tdp?: boolean;
  /** the KVM vendor module (kvmExact only); default: kvm_amd for an AMD/Hygon guest CPUID, else
   *  kvm_intel (a guest normally mirrors its host's vendor) */
  readonly kvmModule?: KvmModule;
  /** KVM_SET_SREGS validates EFER with kvm_valid_efer (the 2026 "check EFER in kvm_is_valid_sregs"
   *  patch, spec §1.6). Default true (the newest tree); pass false for kernels without it (≤ 6.18,
   *  where KVM_SET_SREGS hands any EFER to the vendor set_efer). */
  readonly sregsEferCheck?: boolean;
}

export interface ModeDifference {
  readonly rule: string;
  readonly kvm: string;
  readonly architectural: string;
  readonly source: string;
}

/** Where kvmExact and architectural disagree (data; printed by `tsvmm contract explain`). */
export const MODE_DIFFERENCES: readonly ModeDifference[] = [
  {
    rule: 'cr4.always-allowed',
    kvm: 'VME, PVI, TSD, DE, PSE, PAE, MCE, PGE, PCE, OSFXSR, OSXMMEXCPT are valid whatever CPUID says',
    architectural:
      'each needs its CPUID.1:EDX bit (VME, TSC, DE, PSE, PAE, MCE, PGE, FXSR, SSE); PCE is always valid',
    source: 'spec §1.1 (CR4_RESERVED_BITS; set_sregs_test KVM_ALWAYS_ALLOWED_CR4); SDM 3A §2.5 Table 2-2',
  },
  {
    rule: 'cr4.kvm-never',
    kvm: 'SMXE, PKS, LASS and FRED are always reserved (outside the static allowlist)',
    architectural: 'SMXE/PKS/LASS/FRED are valid when CPUID enumerates SMX/PKS/LASS/FRED',
    source: 'spec §1.2, §10.4, §11 (LASS/FRED/PKS KVM series not merged)',
  },
  {
    rule: 'efer.sce',
    kvm: 'EFER.SCE is valid without CPUID.80000001H:EDX[11] SYSCALL',
    architectural: 'EFER.SCE needs SYSCALL',
    source: 'spec §3.1 (__kvm_valid_efer does not check SYSCALL)',
  },
  {
    rule: 'xcr0.backend-mask',
    kvm: 'XCR0 bits are limited to KVM_SUPPORTED_XCR0 (no APX) and the backend mask',
    architectural: 'any component CPUID.0xD.0 EDX:EAX enumerates',
    source: 'spec §4.1',
  },
  {
    rule: 'xss.backend-mask',
    kvm: 'IA32_XSS bits are limited to CET_U|CET_S, and those only with SHSTK or IBT',
    architectural: 'any component CPUID.0xD.1 EDX:ECX enumerates',
    source: 'spec §4.2 (KVM_SUPPORTED_XSS, kvm_setup_xss_caps)',
  },
  {
    rule: 'vmx.cr4-fixed1',
    kvm: 'CR4_FIXED1 follows guest CPUID but never has bits KVM reserves (so no LASS/SMXE/PKS/FRED)',
    architectural: 'CR4_FIXED1 has LASS (and SMXE) when the guest has LASS (SMX)',
    source: 'spec §7.3 (nested_vmx_cr_fixed1_bits_update; LASS series [P]); ca58f3aa53d1',
  },
  {
    rule: 'sregs.efer-kvm-version',
    kvm:
      'KVM_SET_SREGS refuses an EFER that kvm_valid_efer refuses only from the 2026 "check EFER in ' +
      'kvm_is_valid_sregs" patch; older kernels (6.18 included) accept every EFER bit there ' +
      '(ModelOptions.sregsEferCheck=false predicts them)',
    architectural: 'not applicable (KVM_SET_SREGS is a KVM interface); the contract checks EFER',
    source: 'spec §1.6; pvm-deviations set-sregs-efer-unchecked (6.18.44 accepts bits 0, 11-15, 21)',
  },
  {
    rule: 'cr.emulator-mov-cr-high-bits',
    kvm:
      "MOV to CR0/CR4 emulated by KVM's instruction emulator drops bits 63:32 instead of faulting: " +
      'emulator_set_cr passes mk_cr_64(current, (u32)value) to kvm_set_cr0/kvm_set_cr4, so the upper ' +
      'half is replaced by the current one. Intercepted MOV CR (VMX handle_cr / SVM cr_interception, ' +
      'the usual path) gives kvm_set_cr0/4 all 64 bits and #GP for bits 63:32. The contract models the ' +
      'intercepted path (#GP); hosts where every MOV CR is emulated (kvm_pvm) show the drop',
    architectural: 'MOV to CR0/CR4 with any of bits 63:32 set raises #GP(0) (SDM Vol. 3A §2.5)',
    source:
      'spec §1.3 (kvm_set_cr4 on the intercept path); arch/x86/kvm/x86.c emulator_set_cr / mk_cr_64 ' +
      '(unchanged since 2.6.x); conformance deviation ' +
      'emulated-mov-cr-drops-high-bits',
  },
  {
    rule: 'msr.x2apic-eoi-nonzero',
    kvm: 'a WRMSR of a nonzero value to the x2APIC EOI register (0x80B) is accepted and performs the EOI',
    architectural: 'the SDM (Vol. 3A §11.12.1.2) requires 0: a nonzero write raises #GP',
    source:
      'SDM Vol. 3A §11.12.1.2; lapic.c kvm_lapic_reg_write (APIC_EOI: apic_set_eoi without a value check) [R]',
  },
  {
    rule: 'msr.pkrs',
    kvm: 'IA32_PKRS (0x6E1) does not exist (#GP)',
    architectural: 'IA32_PKRS exists when CPUID has PKS',
    source: 'spec §1.2 PKS row, §8.3 PKS [P]',
  },
];

export interface GuestModel {
  readonly table: CpuidTable;
  readonly mode: ContractMode;
  readonly vendor: Vendor;
  /** AMD or Hygon vendor string (KVM's guest_cpuid_is_amd_or_hygon) */
  readonly amdLike: boolean;
  /** CPUID.80000008H:EAX[7:0], 36 when the leaf is absent (cpuid_query_maxphyaddr) */
  readonly maxPhysAddr: number;
  /** CPUID.80000008H:EAX[15:8] (48/32 by LM when the leaf is absent) */
  readonly virtAddrBits: number;
  /** bits MAXPHYADDR..63 */
  readonly reservedGpaMask: bigint;
  /** CR0 bits a write may hold in 31:0 (the rest of 31:0 is dropped, 63:32 faults) */
  readonly cr0Valid: bigint;
  /** CR4 bits not reserved for this guest under this mode */
  readonly cr4Valid: bigint;
  /** EFER bits not in efer_reserved_bits (what userspace may set) */
  readonly eferHostValid: bigint;
  /** EFER bits a guest WRMSR may set (adds the CPUID gates) */
  readonly eferGuestValid: bigint;
  /** guest_supported_xcr0 | X87 */
  readonly xcr0Valid: bigint;
  /** guest_supported_xss */
  readonly xssValid: bigint;
  readonly enforcePvCpuid: boolean;
  /** the KVM vendor module whose MSR rules apply (ModelOptions.kvmModule or the guest vendor's) */
  readonly kvmModule: KvmModule;
  /** KVM_SET_SREGS checks EFER (ModelOptions.sregsEferCheck) */
  readonly sregsEferCheck: boolean;
  /** KVM_GET_SUPPORTED_CPUID when given (KVM's capabilities) */
  readonly hostSupported?: CpuidTable;
  /** 1-GiB pages usable by the walker: under kvmExact with TDP the host's support wins whatever the
   *  guest CPUID says ("the hardware page walker doesn't let KVM disable GBPAGES", spec §5.6) */
  readonly gbpages: boolean;
  /** guest has the feature (and KVM supports it when a hostSupported table was given) */
  has(feature: string): boolean;
  /** any of the features */
  hasAny(req: Requires | undefined): boolean;
  /** why `req` is absent, e.g. "guest CPUID.(EAX=7,ECX=1):EAX[6] LASS is 0" */
  absentReason(req: Requires): string;
}

export function maxPhysAddrOf(t: CpuidTable): number {
  return cpuidMaxPhysAddr(t);
}

/** Build the guest model. Throws TsvmmError('CONTRACT_MODEL') on a nonsensical table. */
export function deriveGuestModel(table: CpuidTable, opts: ModelOptions = {}): GuestModel {
  if (!(table instanceof CpuidTable))
    throw new TsvmmError('CONTRACT_MODEL', 'deriveGuestModel needs a CpuidTable');
  if (opts.hostSupported !== undefined && !(opts.hostSupported instanceof CpuidTable))
    throw new TsvmmError('CONTRACT_MODEL', 'hostSupported must be a CpuidTable (KVM_GET_SUPPORTED_CPUID)');
  const mode = opts.mode ?? 'kvmExact';
  if (mode !== 'kvmExact' && mode !== 'architectural')
    throw new TsvmmError(
      'CONTRACT_MODEL',
      `unknown contract mode '${String(mode)}' (kvmExact or architectural)`,
    );
  const host = opts.hostSupported;
  const kvm = mode === 'kvmExact';
  const has = (f: string): boolean => tableHas(table, f) && (!host || !kvm || tableHas(host, f));
  const hasAny = (req: Requires | undefined): boolean => requiredFeatures(req).some(has);
  const absentReason = (req: Requires): string => {
    const fs = requiredFeatures(req);
    const inGuest = fs.filter((f) => tableHas(table, f));
    if (inGuest.length > 0 && host && kvm)
      return `KVM does not support ${inGuest.map(featureText).join(' or ')} (not in KVM_GET_SUPPORTED_CPUID)`;
    if (fs.length === 1) return `guest ${featureText(fs[0]!)} is 0`;
    return `guest ${fs.map(featureText).join(' and ')} are all 0`;
  };

  const vendor = vendorOf(table);
  if (
    opts.kvmModule !== undefined &&
    opts.kvmModule !== 'kvm_intel' &&
    opts.kvmModule !== 'kvm_amd' &&
    opts.kvmModule !== 'kvm_pvm'
  )
    throw new TsvmmError(
      'CONTRACT_MODEL',
      `unknown KVM module '${String(opts.kvmModule)}' (kvm_intel, kvm_amd or kvm_pvm)`,
    );
  if (opts.sregsEferCheck !== undefined && typeof opts.sregsEferCheck !== 'boolean')
    throw new TsvmmError('CONTRACT_MODEL', 'sregsEferCheck must be a boolean');
  const maxPhysAddr = cpuidMaxPhysAddr(table);
  if (maxPhysAddr < 32 || maxPhysAddr > 52)
    throw new TsvmmError(
      'CONTRACT_MODEL',
      `guest MAXPHYADDR ${maxPhysAddr} (CPUID.80000008H:EAX[7:0]) is outside 32..52`,
    );
  const virtAddrBits = cpuidVirtAddrBits(table);

  let cr4Valid = 0n;
  for (const r of CR4_BITS as readonly Cr4Bit[]) {
    const m = 1n << BigInt(r.bit);
    const ok = kvm
      ? r.kvm === 'always' || (r.kvm === 'gated' && hasAny(r.requires))
      : !r.archNever && (r.requires === undefined || hasAny(r.requires));
    if (ok) cr4Valid |= m;
  }

  let eferHostValid = 0n;
  let eferGuestValid = 0n;
  for (const r of EFER_BITS as readonly EferBit[]) {
    const m = 1n << BigInt(r.bit);
    if (r.kvm === 'never') continue;
    // efer_reserved_bits: SCE/LME/LMA always enabled on 64-bit; the others when KVM supports them.
    const hostOk =
      r.kvm === 'ungated' ||
      r.name === 'LME' ||
      r.name === 'LMA' ||
      !host ||
      !kvm ||
      requiredFeatures(r.requires).some((f) => tableHas(host, f));
    if (hostOk) eferHostValid |= m;
    const guestOk = kvm && r.kvm === 'ungated' ? true : hasAny(r.requires);
    if (hostOk && guestOk) eferGuestValid |= m;
  }

  const xcr0Enum = xsaveSupportedXcr0(table);
  const backendXcr0 = opts.supportedXcr0 ?? (kvm ? KVM_SUPPORTED_XCR0 : maskOf(XCR0_BITS));
  const xcr0Valid = (xcr0Enum & backendXcr0) | 1n;

  const xssEnum = xsaveSupportedXss(table);
  let backendXss = opts.supportedXss ?? (kvm ? KVM_SUPPORTED_XSS : maskOf(XSS_BITS));
  // kvm_setup_xss_caps: no CET state without SHSTK or IBT (spec §4.2).
  if (kvm && !hasAny(['shstk', 'ibt'])) backendXss &= ~(Xss.CET_U | Xss.CET_S);
  const xssValid = xssEnum & backendXss;

  return {
    table,
    mode,
    vendor,
    amdLike: isAmdLike(vendor),
    maxPhysAddr,
    virtAddrBits,
    reservedGpaMask: ((1n << 64n) - 1n) & ~((1n << BigInt(maxPhysAddr)) - 1n),
    cr0Valid: CR0_DEFINED_MASK,
    cr4Valid,
    eferHostValid,
    eferGuestValid,
    xcr0Valid,
    xssValid,
    enforcePvCpuid: opts.enforcePvCpuid ?? true,
    kvmModule: opts.kvmModule ?? (isAmdLike(vendor) ? 'kvm_amd' : 'kvm_intel'),
    sregsEferCheck: opts.sregsEferCheck ?? true,
    ...(host ? { hostSupported: host } : {}),
    gbpages: kvm && (opts.tdp ?? true) ? tableHas(host ?? table, 'gbpages') : tableHas(table, 'gbpages'),
    has,
    hasAny,
    absentReason,
  };
}

/** "CPUID.(EAX=0xD,ECX=0):EAX[2]" for XCR0 component i (EDX for i ≥ 32). */
export function xcr0EnumText(bit: number): string {
  return formatBitLocation({ leaf: 0xd, subleaf: 0, reg: bit < 32 ? 'eax' : 'edx', bit: bit % 32 });
}
/** "CPUID.(EAX=0xD,ECX=1):ECX[11]" for XSS component i (EDX for i ≥ 32). */
export function xssEnumText(bit: number): string {
  return formatBitLocation({ leaf: 0xd, subleaf: 1, reg: bit < 32 ? 'ecx' : 'edx', bit: bit % 32 });
}
