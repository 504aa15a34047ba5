// Nested VMX capability MSRs 480H-491H, derived from the guest CPUID and a host VMX baseline the way
// KVM does (spec §7.2 nested_vmx_setup_ctls_msrs, §7.3 nested_vmx_cr_fixed1_bits_update), the tsvmm
// policy layer that ties feature controls to CPUID (spec §7.5: after the July 2022 reverts 8805875aa473
// and 9389d5774aca KVM no longer rewrites TRUE_ENTRY/EXIT from CPUID, so the VMM must), and the
// userspace-restore rules (spec §7.4, vmx_set_vmx_msr). Layouts: Intel SDM Vol. 3D Appendix A.

import type { Verdict } from './api.ts';
import { CR4_BITS, Cr4, type Cr4Bit } from '../arch/x86/registers/cr4.ts';
import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { maskOf, requiredFeatures, type RegisterBit } from '../arch/x86/registers/bits.ts';
import {
  ENTRY_CONTROLS,
  ENTRY_DEFAULT1,
  EXIT_CONTROLS,
  EXIT_DEFAULT1,
  EntryCtl,
  ExitCtl,
  PIN_CONTROLS,
  PIN_DEFAULT1,
  PROC2_CONTROLS,
  PROC_CONTROLS,
  PROC_DEFAULT1,
  PinCtl,
  Proc2Ctl,
  ProcCtl,
} from '../arch/x86/vmx/controls.ts';
import {
  EptVpidCap,
  VMX_BASIC_RESERVED,
  VMX_MISC_FEATURE_BITS,
  VMX_MISC_RESERVED,
  VmxBasic,
  VmxMisc,
  VmxMsr,
  Vmfunc,
  controlHigh,
  controlLow,
  controlMsr,
  vmxMsrName,
  type VmxMsrName,
} from '../arch/x86/vmx/msrs.ts';
import { featureText, tableHas } from './features.ts';
import type { GuestModel } from './model.ts';
import { accept, hexv, refuse, u64Arg } from './state.ts';

export type VmxMsrs = { readonly [K in VmxMsrName]: bigint };

/** KVM's VMCS12 revision id and size (vmx/vmcs12.h) [R]. */
export const VMCS12_REVISION = 0x11e57ed0n;
export const VMCS12_SIZE = 0x1000n;
/** highest vmcs12 field index << 1 as older KVM hard-coded it [R]; newer KVM computes it. */
export const VMCS12_ENUM = 0x2en;

/**
 * The default host baseline: capability MSRs of a typical modern Intel server core (Sapphire
 * Rapids class) as the host's `rdmsr` reports them. Figures are representative, not one machine's
 * dump [R]: BASIC rev 4, 1 KiB VMCS, WB, dual-monitor, INOUT, TRUE_CTLS, NO_HW_ERROR_CODE_CC;
 * every control in the arch tables except EPT sub-page permissions; MISC 0x7004C1E7 (timer rate 7,
 * SAVE_EFER_LMA, HLT/SHUTDOWN/WAIT_SIPI, PT, RDMSR-in-SMM, 4 CR3 targets, VMXOFF-SMI, VMWRITE-any,
 * zero-length injection); EPT 4/5-level, WB/UC, 2M/1G, INVEPT all types, A/D, advanced exit info,
 * INVVPID all types; VMFUNC EPTP switching.
 */
export const DEFAULT_HOST_VMX: VmxMsrs = (() => {
  const pinHigh = maskOf(PIN_CONTROLS) | PIN_DEFAULT1;
  const procHigh = maskOf(PROC_CONTROLS) | PROC_DEFAULT1;
  const proc2High = maskOf(PROC2_CONTROLS) & ~Proc2Ctl.EPT_SUB_PAGE;
  const exitHigh = maskOf(EXIT_CONTROLS) | EXIT_DEFAULT1;
  const entryHigh = maskOf(ENTRY_CONTROLS) | ENTRY_DEFAULT1;
  const trueProcLow = PROC_DEFAULT1 & ~(ProcCtl.CR3_LOAD_EXITING | ProcCtl.CR3_STORE_EXITING);
  const trueExitLow = EXIT_DEFAULT1 & ~ExitCtl.SAVE_DEBUG_CONTROLS;
  const trueEntryLow = ENTRY_DEFAULT1 & ~EntryCtl.LOAD_DEBUG_CONTROLS;
  return {
    BASIC: 0x01da_0400_0000_0004n,
    PINBASED_CTLS: controlMsr(PIN_DEFAULT1, pinHigh),
    PROCBASED_CTLS: controlMsr(PROC_DEFAULT1, procHigh),
    EXIT_CTLS: controlMsr(EXIT_DEFAULT1, exitHigh),
    ENTRY_CTLS: controlMsr(ENTRY_DEFAULT1, entryHigh),
    MISC: 0x7004_c1e7n,
    CR0_FIXED0: 0x8000_0021n,
    CR0_FIXED1: 0xffff_ffffn,
    CR4_FIXED0: 0x2000n,
    CR4_FIXED1: 0x3ff_7fffn, // VME..SMXE (0-14), FSGSBASE..UINTR (16-25)
    VMCS_ENUM: 0x5an,
    PROCBASED_CTLS2: controlMsr(0n, proc2High),
    EPT_VPID_CAP: 0x0000_0f01_0673_41c1n,
    TRUE_PINBASED_CTLS: controlMsr(PIN_DEFAULT1, pinHigh),
    TRUE_PROCBASED_CTLS: controlMsr(trueProcLow, procHigh),
    TRUE_EXIT_CTLS: controlMsr(trueExitLow, exitHigh),
    TRUE_ENTRY_CTLS: controlMsr(trueEntryLow, entryHigh),
    VMFUNC: Vmfunc.EPTP_SWITCHING,
  };
})();

/** KVM module parameters that shape the nested MSRs (defaults: a TDP host with everything on). */
export interface VmxOptions {
  readonly host?: VmxMsrs;
  readonly ept?: boolean;
  readonly eptAd?: boolean;
  readonly vpid?: boolean;
  readonly unrestrictedGuest?: boolean;
  readonly apicv?: boolean;
  readonly flexpriority?: boolean;
  readonly sgx?: boolean;
}

export interface ControlAnnotation {
  readonly msr: VmxMsrName;
  readonly name: string;
  readonly bit: number;
  /** CPUID feature(s) behind the control, with the location text */
  readonly requires?: readonly string[];
  readonly cpuid?: string;
  /** in KVM's module-wide allowed-1 set */
  readonly kvmAllows: boolean;
  /** allowed-1 after tsvmm's CPUID policy */
  readonly policyAllows: boolean;
  /** why the policy (or KVM's per-vCPU adjustment) removed it */
  readonly removedBecause?: string;
}

export interface DerivedVmx {
  /** the guest has VMX (guest RDMSR of 480H-491H is allowed) */
  readonly available: boolean;
  /** KVM's module-wide maximum (vmcs_config.nested), what userspace restores are checked against */
  readonly kvmMax: VmxMsrs;
  /** what KVM itself reports for this vCPU (CR4_FIXED1 per CPUID; secondary controls adjusted) */
  readonly kvm: VmxMsrs;
  /** what tsvmm programs: `kvm` minus the CPUID-tied controls the guest lacks (spec §7.5) */
  readonly policy: VmxMsrs;
  readonly controls: readonly ControlAnnotation[];
}

function withTrue(
  m: Omit<VmxMsrs, 'PINBASED_CTLS' | 'PROCBASED_CTLS' | 'EXIT_CTLS' | 'ENTRY_CTLS'>,
): VmxMsrs {
  // The non-TRUE MSRs are the TRUE values with the default-1 class forced to 1 (vmx_get_vmx_msr).
  return {
    ...m,
    PINBASED_CTLS: m.TRUE_PINBASED_CTLS | PIN_DEFAULT1,
    PROCBASED_CTLS: m.TRUE_PROCBASED_CTLS | PROC_DEFAULT1,
    EXIT_CTLS: m.TRUE_EXIT_CTLS | EXIT_DEFAULT1,
    ENTRY_CTLS: m.TRUE_ENTRY_CTLS | ENTRY_DEFAULT1,
  };
}

/** nested_vmx_setup_ctls_msrs: the module-wide values from the host baseline. */
function kvmModuleMax(model: GuestModel, o: VmxOptions): VmxMsrs {
  const host = o.host ?? DEFAULT_HOST_VMX;
  const ept = o.ept ?? true;
  const eptAd = ept && (o.eptAd ?? true);
  const hi = (v: bigint): bigint => controlHigh(v);
  // kvm_cpu_cap_has(SHSTK|IBT): KVM's caps, i.e. KVM_GET_SUPPORTED_CPUID when known; otherwise the
  // host VMX baseline's LOAD_CET_STATE (ANDed below) is the only limit.
  const host_ = model.hostSupported;
  const hostCet = host_ ? tableHas(host_, 'shstk') || tableHas(host_, 'ibt') : true;

  let pinHigh =
    hi(host.TRUE_PINBASED_CTLS) &
    (PinCtl.EXT_INTR_EXITING |
      PinCtl.NMI_EXITING |
      PinCtl.VIRTUAL_NMIS |
      ((o.apicv ?? true) ? PinCtl.POSTED_INTR : 0n));
  pinHigh |= PIN_DEFAULT1 | PinCtl.VMX_PREEMPTION_TIMER;

  let exitHigh =
    hi(host.TRUE_EXIT_CTLS) &
    (ExitCtl.HOST_ADDR_SPACE_SIZE |
      ExitCtl.LOAD_IA32_PAT |
      ExitCtl.SAVE_IA32_PAT |
      ExitCtl.CLEAR_BNDCFGS |
      ExitCtl.LOAD_CET_STATE);
  exitHigh |=
    EXIT_DEFAULT1 |
    ExitCtl.LOAD_IA32_EFER |
    ExitCtl.SAVE_IA32_EFER |
    ExitCtl.SAVE_VMX_PREEMPTION_TIMER |
    ExitCtl.ACK_INTR_ON_EXIT |
    ExitCtl.LOAD_IA32_PERF_GLOBAL_CTRL;
  if (!hostCet) exitHigh &= ~ExitCtl.LOAD_CET_STATE;
  const exitLow = EXIT_DEFAULT1 & ~ExitCtl.SAVE_DEBUG_CONTROLS;

  let entryHigh =
    hi(host.TRUE_ENTRY_CTLS) &
    (EntryCtl.IA32E_MODE | EntryCtl.LOAD_IA32_PAT | EntryCtl.LOAD_BNDCFGS | EntryCtl.LOAD_CET_STATE);
  entryHigh |= ENTRY_DEFAULT1 | EntryCtl.LOAD_IA32_EFER | EntryCtl.LOAD_IA32_PERF_GLOBAL_CTRL;
  if (!hostCet) entryHigh &= ~EntryCtl.LOAD_CET_STATE;
  const entryLow = ENTRY_DEFAULT1 & ~EntryCtl.LOAD_DEBUG_CONTROLS;

  const P = ProcCtl;
  let procHigh =
    hi(host.TRUE_PROCBASED_CTLS) &
    (P.INTR_WINDOW_EXITING |
      P.NMI_WINDOW_EXITING |
      P.USE_TSC_OFFSETTING |
      P.HLT_EXITING |
      P.INVLPG_EXITING |
      P.MWAIT_EXITING |
      P.CR3_LOAD_EXITING |
      P.CR3_STORE_EXITING |
      P.CR8_LOAD_EXITING |
      P.CR8_STORE_EXITING |
      P.MOV_DR_EXITING |
      P.UNCOND_IO_EXITING |
      P.USE_IO_BITMAPS |
      P.MONITOR_TRAP_FLAG |
      P.MONITOR_EXITING |
      P.RDPMC_EXITING |
      P.RDTSC_EXITING |
      P.PAUSE_EXITING |
      P.TPR_SHADOW |
      P.ACTIVATE_SECONDARY_CONTROLS);
  procHigh |= PROC_DEFAULT1 | P.USE_MSR_BITMAPS;
  const procLow = PROC_DEFAULT1 & ~(P.CR3_LOAD_EXITING | P.CR3_STORE_EXITING);

  const S = Proc2Ctl;
  const hostProc2 = hi(host.PROCBASED_CTLS2);
  let proc2High =
    hostProc2 &
    (S.DESC |
      S.ENABLE_RDTSCP |
      S.VIRTUALIZE_X2APIC_MODE |
      S.WBINVD_EXITING |
      S.APIC_REGISTER_VIRT |
      S.VIRTUAL_INTR_DELIVERY |
      S.RDRAND_EXITING |
      S.ENABLE_INVPCID |
      S.ENABLE_VMFUNC |
      S.RDSEED_EXITING |
      S.ENABLE_XSAVES |
      S.TSC_SCALING |
      S.ENABLE_USR_WAIT_PAUSE);
  proc2High |= S.SHADOW_VMCS;
  let eptCaps = 0n;
  let vmfunc = 0n;
  if (ept) {
    proc2High |= S.ENABLE_EPT;
    eptCaps =
      (host.EPT_VPID_CAP &
        (EptVpidCap.PAGE_WALK_4 |
          EptVpidCap.PAGE_WALK_5 |
          EptVpidCap.WB |
          EptVpidCap.INVEPT |
          EptVpidCap.EXECUTE_ONLY |
          EptVpidCap.ADVANCED_VMEXIT_INFO)) |
      EptVpidCap.INVEPT_ALL_CONTEXT |
      EptVpidCap.INVEPT_SINGLE_CONTEXT |
      EptVpidCap.PAGE_2M |
      EptVpidCap.PAGE_1G;
    if (eptAd) {
      proc2High |= hostProc2 & S.ENABLE_PML;
      eptCaps |= EptVpidCap.AD;
    }
    if (hostProc2 & S.ENABLE_VMFUNC) vmfunc = host.VMFUNC & Vmfunc.EPTP_SWITCHING;
  }
  if (o.vpid ?? true) {
    proc2High |= hostProc2 & S.ENABLE_VPID;
    eptCaps |=
      EptVpidCap.INVVPID |
      EptVpidCap.INVVPID_INDIVIDUAL_ADDR |
      EptVpidCap.INVVPID_SINGLE_CONTEXT |
      EptVpidCap.INVVPID_ALL_CONTEXT |
      EptVpidCap.INVVPID_SINGLE_CONTEXT_GLOBAL;
  }
  if (o.unrestrictedGuest ?? true) proc2High |= hostProc2 & S.UNRESTRICTED_GUEST;
  if (o.flexpriority ?? true) proc2High |= hostProc2 & S.VIRTUALIZE_APIC_ACCESSES;
  if (o.sgx ?? false) proc2High |= hostProc2 & S.ENCLS_EXITING;

  let basic = VMCS12_REVISION | (VMCS12_SIZE << 32n) | (6n << 50n) | VmxBasic.TRUE_CTLS;
  basic |= host.BASIC & (VmxBasic.INOUT | VmxBasic.NO_HW_ERROR_CODE_CC);
  const misc =
    (host.MISC & VmxMisc.SAVE_EFER_LMA) |
    VmxMisc.VMWRITE_ANY_FIELD |
    5n /* emulated timer rate */ |
    VmxMisc.ACTIVITY_HLT |
    VmxMisc.ACTIVITY_WAIT_SIPI;

  return withTrue({
    BASIC: basic,
    MISC: misc,
    CR0_FIXED0: Cr0.PE | Cr0.PG | Cr0.NE,
    CR0_FIXED1: host.CR0_FIXED1,
    CR4_FIXED0: Cr4.VMXE,
    CR4_FIXED1: host.CR4_FIXED1,
    VMCS_ENUM: VMCS12_ENUM,
    PROCBASED_CTLS2: controlMsr(0n, proc2High),
    EPT_VPID_CAP: eptCaps,
    TRUE_PINBASED_CTLS: controlMsr(PIN_DEFAULT1, pinHigh),
    TRUE_PROCBASED_CTLS: controlMsr(procLow, procHigh),
    TRUE_EXIT_CTLS: controlMsr(exitLow, exitHigh),
    TRUE_ENTRY_CTLS: controlMsr(entryLow, entryHigh),
    VMFUNC: vmfunc,
  });
}

/** CR4_FIXED1 for this guest (spec §7.3): PCE plus every CR4 bit whose feature the guest has,
 *  never a bit the model reserves (KVM enforces its reserved CR4 bits in nested checks, ca58f3aa53d1). */
export function cr4Fixed1(model: GuestModel): bigint {
  let v = Cr4.PCE;
  for (const r of CR4_BITS as readonly Cr4Bit[])
    if (r.nestedFixed1 && r.requires && model.hasAny(r.requires)) v |= 1n << BigInt(r.bit);
  return v & model.cr4Valid;
}

/** Secondary controls KVM adjusts on KVM_SET_CPUID (vmx_adjust_secondary_exec_control, spec §7.5). */
const KVM_ADJUSTED_PROC2 = new Set([
  'ENABLE_RDTSCP',
  'ENABLE_INVPCID',
  'ENABLE_XSAVES',
  'RDRAND_EXITING',
  'RDSEED_EXITING',
  'ENABLE_USR_WAIT_PAUSE',
]);

type CtlMsr =
  'TRUE_PINBASED_CTLS' | 'TRUE_PROCBASED_CTLS' | 'PROCBASED_CTLS2' | 'TRUE_EXIT_CTLS' | 'TRUE_ENTRY_CTLS';
const CONTROL_TABLES: readonly (readonly [CtlMsr, readonly RegisterBit[]])[] = [
  ['TRUE_PINBASED_CTLS', PIN_CONTROLS],
  ['TRUE_PROCBASED_CTLS', PROC_CONTROLS],
  ['PROCBASED_CTLS2', PROC2_CONTROLS],
  ['TRUE_EXIT_CTLS', EXIT_CONTROLS],
  ['TRUE_ENTRY_CTLS', ENTRY_CONTROLS],
];

/** Derive the nested VMX capability MSRs for `model`. */
export function deriveVmxMsrs(model: GuestModel, opts: VmxOptions = {}): DerivedVmx {
  const kvmMax = kvmModuleMax(model, opts);
  const kvmV: Record<string, bigint> = { ...kvmMax, CR4_FIXED1: cr4Fixed1(model) };
  const pol: Record<string, bigint> = { ...kvmV };
  const controls: ControlAnnotation[] = [];
  for (const [msr, rows] of CONTROL_TABLES) {
    for (const r of rows) {
      const m = 1n << BigInt(r.bit + 32);
      const req = r.requires === undefined ? undefined : requiredFeatures(r.requires);
      const kvmAllows = (kvmMax[msr] & m) !== 0n;
      let removedBecause: string | undefined;
      if (kvmAllows && req && !model.hasAny(req)) {
        removedBecause = model.absentReason(req);
        if (msr === 'PROCBASED_CTLS2' && KVM_ADJUSTED_PROC2.has(r.name)) kvmV[msr] = kvmV[msr]! & ~m;
        pol[msr] = pol[msr]! & ~m;
      }
      controls.push({
        msr,
        name: r.name,
        bit: r.bit,
        ...(req ? { requires: req, cpuid: req.map(featureText).join(' or ') } : {}),
        kvmAllows,
        policyAllows: (pol[msr]! & m) !== 0n,
        ...(removedBecause ? { removedBecause } : {}),
      });
    }
  }
  if (!model.has('intel_pt')) pol.MISC = pol.MISC! & ~VmxMisc.INTEL_PT;
  const fin = (v: Record<string, bigint>): VmxMsrs => withTrue(v as unknown as VmxMsrs);
  return { available: model.has('vmx'), kvmMax, kvm: fin(kvmV), policy: fin(pol), controls };
}

function isSubset(superset: bigint, subset: bigint, mask: bigint): boolean {
  return ((superset | subset) & mask) === (superset & mask);
}

function einval(rule: string, reason: string): Verdict {
  return refuse('GP', `vmx-restore.${rule}`, reason);
}

/** First bit of `value & mask` not in `allowed`. */
function extraBit(allowed: bigint, value: bigint, mask: bigint): number {
  const extra = value & mask & ~allowed;
  for (let i = 0; i < 64; i++) if ((extra >> BigInt(i)) & 1n) return i;
  return -1;
}

/**
 * KVM_SET_MSRS of a VMX capability MSR by userspace (vmx_set_vmx_msr, spec §7.4): a value may only
 * restrict KVM's module-wide maximum `kvmMax`. A refusal stands for -EINVAL (-EBUSY when vmxon).
 */
export function checkVmxMsrRestore(
  kvmMax: VmxMsrs,
  index: number,
  value: bigint,
  opts: { vmxon?: boolean } = {},
): Verdict {
  u64Arg(value, 'VMX MSR value');
  const name = vmxMsrName(index);
  if (!name) return einval('unknown', `MSR 0x${index.toString(16)} is not a VMX capability MSR (480H-491H)`);
  if (opts.vmxon) return einval('busy', `IA32_VMX_${name} cannot be written after VMXON (EBUSY)`);
  const sup = kvmMax[name];
  const label = `IA32_VMX_${name}`;
  switch (name) {
    case 'BASIC': {
      const mask =
        VmxBasic.DUAL_MONITOR |
        VmxBasic.INOUT |
        VmxBasic.TRUE_CTLS |
        VmxBasic.NO_HW_ERROR_CODE_CC |
        VMX_BASIC_RESERVED;
      if (!isSubset(sup, value, mask))
        return einval(
          'add-bit',
          `${label}: bit ${extraBit(sup, value, mask)} is not offered by KVM (${hexv(sup)})`,
        );
      if (value & VmxBasic.PHYS_ADDR_32)
        return einval('basic-32bit', `${label}: bit 48 (32-bit physical addresses only) is not emulated`);
      if ((value & 0x7fff_ffffn) !== (sup & 0x7fff_ffffn))
        return einval(
          'basic-revision',
          `${label}: the VMCS revision id must stay ${hexv(sup & 0x7fff_ffffn)}`,
        );
      if (((value >> 32n) & 0x1fffn) < ((sup >> 32n) & 0x1fffn))
        return einval('basic-size', `${label}: the VMCS size cannot shrink below ${(sup >> 32n) & 0x1fffn}`);
      return accept(value);
    }
    case 'PINBASED_CTLS':
    case 'PROCBASED_CTLS':
    case 'EXIT_CTLS':
    case 'ENTRY_CTLS':
      return einval(
        'non-true',
        `${label} is derived from the TRUE MSR; write IA32_VMX_TRUE_${name} with the default-1 bits set instead`,
      );
    case 'CR0_FIXED1':
    case 'CR4_FIXED1':
      return einval('fixed1', `${label} is owned by KVM (follows the guest CPUID) and cannot be written`);
    case 'TRUE_PINBASED_CTLS':
    case 'TRUE_PROCBASED_CTLS':
    case 'TRUE_EXIT_CTLS':
    case 'TRUE_ENTRY_CTLS':
    case 'PROCBASED_CTLS2': {
      const lowMissing = controlLow(sup) & ~controlLow(value);
      if (lowMissing)
        return einval(
          'clear-must-be-1',
          `${label}: must-be-1 bit ${extraBit(0n, lowMissing, 0xffff_ffffn)} cannot be cleared`,
        );
      if (!isSubset(sup, value, 0xffff_ffff_0000_0000n))
        return einval(
          'add-bit',
          `${label}: allowed-1 bit ${extraBit(sup, value, 0xffff_ffff_0000_0000n) - 32} is not offered by KVM`,
        );
      return accept(value);
    }
    case 'MISC': {
      const mask = VMX_MISC_FEATURE_BITS | VMX_MISC_RESERVED;
      if (!isSubset(sup, value, mask))
        return einval('add-bit', `${label}: bit ${extraBit(sup, value, mask)} is not offered by KVM`);
      if (
        controlHigh(kvmMax.TRUE_PINBASED_CTLS) & PinCtl.VMX_PREEMPTION_TIMER &&
        (value & 0x1fn) !== (sup & 0x1fn)
      )
        return einval('misc-timer-rate', `${label}: the preemption-timer rate must stay ${sup & 0x1fn}`);
      if (((value >> 16n) & 0x1ffn) > ((sup >> 16n) & 0x1ffn))
        return einval('misc-cr3-targets', `${label}: more CR3-target values than KVM offers`);
      if (((value >> 25n) & 7n) > ((sup >> 25n) & 7n))
        return einval('misc-msr-list', `${label}: a larger MSR-list size than KVM offers`);
      if (value >> 32n !== sup >> 32n)
        return einval('misc-mseg', `${label}: the MSEG revision must stay ${hexv(sup >> 32n)}`);
      return accept(value);
    }
    case 'CR0_FIXED0':
    case 'CR4_FIXED0':
      if (!isSubset(value, sup, (1n << 64n) - 1n))
        return einval('fixed0', `${label}: must keep KVM's fixed-1 bits ${hexv(sup)}`);
      return accept(value);
    case 'VMCS_ENUM':
      return accept(value);
    case 'EPT_VPID_CAP':
    case 'VMFUNC':
      if (!isSubset(sup, value, (1n << 64n) - 1n))
        return einval(
          'add-bit',
          `${label}: bit ${extraBit(sup, value, (1n << 64n) - 1n)} is not offered by KVM`,
        );
      return accept(value);
  }
}

export { VmxMsr };
