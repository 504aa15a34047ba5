// Guest RDMSR/WRMSR and userspace KVM_GET/SET_MSRS over the MSR table (src/arch/x86/msr): the common
// gating (spec §6, kvm_do_msr_access), reserved bits, canonical checks, value adjustment, feature-MSR
// immutability, and the MSRs with their own rules (EFER §3, XSS §4.2, APIC_BASE, FEATURE_CONTROL,
// MISC_ENABLE, the VMX capability MSRs §7).

import type { Verdict } from './api.ts';
import {
  KVM_DEFAULT_MCG_CAP,
  MCG_CMCI_P,
  MCG_CTL_P,
  MSR_TABLE,
  Msr,
  canonicalize,
  isCanonical,
  msrCanonicalBits,
  msrDef,
  type MsrContext,
  type MsrDef,
} from '../arch/x86/msr/table.ts';
import { requiredFeatures } from '../arch/x86/registers/bits.ts';
import { checkEferWrite } from './efer.ts';
import { featureText, tableHas } from './features.ts';
import type { GuestModel } from './model.ts';
import { accept, hexv, msrIndexArg, refuse, u64Arg, type ControlState } from './state.ts';
import { TsvmmError } from '../util/result.ts';
import { checkVmxMsrRestore, type VmxMsrs } from './vmx.ts';
import { checkXssWrite } from './xsave.ts';
import { checkX2apicAccess } from './x2apic.ts';

export { msrDef, MSR_TABLE, Msr };

export interface MsrCheckOptions {
  /** KVM_GET/SET_MSRS from userspace rather than a guest RDMSR/WRMSR */
  readonly hostInitiated?: boolean;
  /** the MSR's current value (MISC_ENABLE, FEATURE_CONTROL lock, APIC_BASE mode, immutability) */
  readonly current?: bigint;
  /** the vCPU has run (feature MSRs become immutable) */
  readonly vcpuHasRun?: boolean;
  /** KVM's module-wide VMX maximum, for userspace writes of 480H-491H (deriveVmxMsrs().kvmMax) */
  readonly vmxMax?: VmxMsrs;
  /**
   * The MSRs the host's KVM advertises: KVM_GET_MSR_INDEX_LIST (msrs_to_save ∪ emulated_msrs, as
   * probed on that host) ∪ KVM_GET_MSR_FEATURE_INDEX_LIST (for DE_CFG, listed only there). kvm_do_msr_access lets userspace read, and write 0 to, an MSR whose handler
   * says "unsupported" only when it is on this list; rows marked hostProbed do not exist at all
   * when absent from it (kvmExact). Undefined: every MSR in the table is taken as advertised.
   */
  readonly advertised?: ReadonlySet<number>;
  /** IA32_APIC_BASE for the x2APIC range (800H-8FFH); default `state.apicBase` on writes. Undefined:
   *  APIC mode unknown, only the CPUID x2APIC gate applies (backward compatible). */
  readonly apicBase?: bigint;
  /** IA32_MCG_CAP (machine-check bank count, MCG_CTL_P, MCG_CMCI_P, MCG_LMCE_P); default
   *  KVM_DEFAULT_MCG_CAP (32 banks, as KVM creates a vCPU) */
  readonly mcgCap?: bigint;
  /** KVM has the local APIC in the kernel (KVM_CREATE_IRQCHIP / split irqchip); default true. Without
   *  it kvm_x2apic_msr_read/write fail for every MSR in 800H-8FFH (a userspace LAPIC needs
   *  KVM_CAP_X86_USER_SPACE_MSR exits to see them). */
  readonly lapicInKernel?: boolean;
}

/** Options of checkMsrRead (a subset of MsrCheckOptions). */
export type MsrReadOptions = Pick<
  MsrCheckOptions,
  'hostInitiated' | 'advertised' | 'apicBase' | 'mcgCap' | 'current' | 'lapicInKernel'
>;

const U64 = (1n << 64n) - 1n;
const FEAT_CTL = {
  LOCKED: 1n,
  VMX_INSIDE_SMX: 2n,
  VMX_OUTSIDE_SMX: 4n,
  SGX_LC: 1n << 17n,
  SGX: 1n << 18n,
  LMCE: 1n << 20n,
};
const KVM_SUPPORTED_FEATURE_CONTROL =
  FEAT_CTL.LOCKED |
  FEAT_CTL.VMX_INSIDE_SMX |
  FEAT_CTL.VMX_OUTSIDE_SMX |
  FEAT_CTL.SGX_LC |
  FEAT_CTL.SGX |
  FEAT_CTL.LMCE;
const MISC_ENABLE_EMON = 1n << 7n;
const MISC_ENABLE_PMU_RO = (1n << 11n) | (1n << 12n);

function idx(index: number): string {
  return `0x${(index >>> 0).toString(16).toUpperCase()}`;
}

/** The CPUID base of the KVM PV leaves (0x40000000 + n·0x100 with signature "KVMKVMKVM"), or undefined. */
export function kvmCpuidBase(model: GuestModel): number | undefined {
  for (let base = 0x40000000; base < 0x40010000; base += 0x100) {
    const e = model.table.get(base, 0);
    if (e && e.ebx === 0x4b4d564b && e.ecx === 0x564b4d56 && e.edx === 0x4d) return base;
  }
  return undefined;
}

/** Does the guest enumerate KVM PV feature `bit` (CPUID.(KVM base + 1):EAX)? */
export function pvHas(model: GuestModel, bit: number): boolean {
  const base = kvmCpuidBase(model);
  return base !== undefined && ((model.table.reg(base + 1, 0, 'eax') >>> bit) & 1) === 1;
}

/** Why the MSR does not exist for this guest (undefined when it does). */
function gateReason(model: GuestModel, d: MsrDef): string | undefined {
  if (d.absentIn && d.absentIn === model.mode)
    return `${d.name} does not exist under KVM, which never virtualized it${
      d.gate
        ? ` (guest ${requiredFeatures(d.gate)
            .map((f) => `${featureText(f)} is ${tableHas(model.table, f) ? 1 : 0}`)
            .join(', ')})`
        : ''
    }`;
  if (d.gate && !model.hasAny(d.gate))
    return `${d.name} needs ${requiredFeatures(d.gate).map(featureText).join(' or ')}: ${model.absentReason(d.gate)}`;
  if (d.pvGate !== undefined && model.enforcePvCpuid && !pvHas(model, d.pvGate))
    return `${d.name} needs KVM PV feature bit ${d.pvGate} in CPUID.40000001H:EAX (KVM_CAP_ENFORCE_PV_FEATURE_CPUID)`;
  if (d.special === 'feat_ctl' && model.amdLike) return `${d.name} does not exist on AMD-compatible guests`;
  return undefined;
}

/** The row's reset value for this guest / KVM module. */
export function msrReset(model: GuestModel, d: MsrDef): bigint {
  return d.resetOf ? d.resetOf(model) : d.reset;
}

function optsArg(opts: MsrReadOptions): void {
  if (opts.advertised !== undefined && !(opts.advertised instanceof Set))
    throw new TsvmmError(
      'CONTRACT_BAD_VALUE',
      'advertised must be a Set of MSR indices (KVM_GET_MSR_INDEX_LIST)',
    );
  if (opts.apicBase !== undefined) u64Arg(opts.apicBase, 'apicBase');
  if (opts.mcgCap !== undefined) u64Arg(opts.mcgCap, 'mcgCap');
}

/** Is `index` advertised by the host KVM (true when the caller gave no list)? */
function advertisedOk(opts: MsrReadOptions, index: number): boolean {
  return opts.advertised === undefined || opts.advertised.has(index >>> 0);
}

function notAdvertised(index: number): string {
  return ` (${idx(index)} is not in this KVM's KVM_GET_MSR_INDEX_LIST, so kvm_do_msr_access does not excuse userspace either)`;
}

/** kvmExact, hostProbed row, not advertised: KVM has no handler for it on this host. */
function hostProbedRefusal(
  model: GuestModel,
  d: MsrDef,
  index: number,
  opts: MsrReadOptions,
): Verdict | undefined {
  if (model.mode !== 'kvmExact' || !d.hostProbed || advertisedOk(opts, index)) return undefined;
  return refuse(
    'GP',
    'msr.not-implemented-by-host',
    `${d.name} (${idx(index)}) is not implemented by this host's KVM: it is not in KVM_GET_MSR_INDEX_LIST ` +
      `(KVM probes it on the host; e.g. IA32_FEATURE_CONTROL exists only under VMX, or PVM on an Intel host)`,
  );
}

/** kvmExact without an in-kernel LAPIC: KVM has no x2APIC registers (lapic_in_kernel() is false). */
function noLapicRefusal(model: GuestModel, index: number, opts: MsrReadOptions): Verdict | undefined {
  if (opts.lapicInKernel !== undefined && typeof opts.lapicInKernel !== 'boolean')
    throw new TsvmmError('CONTRACT_BAD_VALUE', 'lapicInKernel must be a boolean');
  if (model.mode !== 'kvmExact' || opts.lapicInKernel !== false) return undefined;
  return refuse(
    'GP',
    'x2apic.no-lapic',
    `x2APIC MSR ${idx(index)}: KVM has no in-kernel local APIC (no KVM_CREATE_IRQCHIP), so every x2APIC MSR access fails`,
  );
}

/** Machine-check MSRs (set_msr_mce / get_msr_mce): bank count, MCG_CTL_P, MCG_CMCI_P, CTL values. */
function mceRule(
  d: MsrDef,
  index: number,
  value: bigint | undefined,
  host: boolean,
  mcgCap: bigint,
): Verdict | undefined {
  const i = index >>> 0;
  const banks = Number(mcgCap & 0xffn);
  if (i === Msr.MCG_CAP) {
    // Not writable through WRMSR or KVM_SET_MSRS (no set_msr_mce case, not advertised): userspace
    // sets it with KVM_X86_SETUP_MCE. Seen on 6.18.44: KVM_SET_MSRS {0x179: 0} fails.
    if (value !== undefined)
      return refuse(
        'GP',
        'mce.mcg-cap-read-only',
        'IA32_MCG_CAP is read-only (guest WRMSR #GP; userspace sets it with KVM_X86_SETUP_MCE, not KVM_SET_MSRS)',
      );
    return undefined;
  }
  if (i === Msr.MCG_CTL) {
    if (!(mcgCap & MCG_CTL_P) && (!host || (value !== undefined && value !== 0n)))
      return refuse(
        'GP',
        'mce.no-mcg-ctl',
        `IA32_MCG_CTL needs IA32_MCG_CAP.MCG_CTL_P (bit 8) = 1 (MCG_CAP ${hexv(mcgCap)})${host ? '; userspace may only write 0' : ''}`,
      );
    if (value !== undefined && value !== 0n && value !== U64)
      return refuse('GP', 'mce.ctl-value', `IA32_MCG_CTL value ${hexv(value)}: only 0 or all-ones`);
    return undefined;
  }
  const ctl2 = i >= Msr.MC0_CTL2 && i < Msr.MC0_CTL2 + 32;
  const bank = ctl2 ? i - Msr.MC0_CTL2 : (i - Msr.MC0_CTL) >> 2;
  if (bank >= banks)
    return refuse(
      'GP',
      'mce.no-bank',
      `${d.name}: ${idx(i)} is in machine-check bank ${bank}, but IA32_MCG_CAP.Count (7:0) = ${banks}`,
    );
  if (ctl2) {
    if (!(mcgCap & MCG_CMCI_P) && (!host || (value !== undefined && value !== 0n)))
      return refuse(
        'GP',
        'mce.no-cmci',
        `IA32_MC${bank}_CTL2 needs IA32_MCG_CAP.MCG_CMCI_P (bit 10) = 1${host ? '; userspace may only write 0' : ''}`,
      );
    if (value !== undefined && value & ~((1n << 30n) | 0x7fffn))
      return refuse(
        'GP',
        'mce.reserved',
        `IA32_MC${bank}_CTL2 value ${hexv(value)}: only CMCI_EN (bit 30) and the threshold (14:0) are defined`,
      );
    return undefined;
  }
  if (value === undefined) return undefined;
  const kind = (i - Msr.MC0_CTL) & 3;
  // "Only 0 or all 1s can be written to IA32_MCi_CTL"; KVM tolerates bit 10 (and bit 0) clear for old
  // Linux guests (the AMD K8 GART erratum workaround).
  if (kind === 0 && value !== 0n && (value | (1n << 10n) | 1n) !== U64)
    return refuse('GP', 'mce.ctl-value', `IA32_MC${bank}_CTL value ${hexv(value)}: only 0 or all-ones`);
  if (kind === 1 && !host && value !== 0n)
    return refuse(
      'GP',
      'mce.status-write',
      `IA32_MC${bank}_STATUS: a guest may only write 0 (AMD HWCR.McStatusWrEn is not modelled)`,
    );
  return undefined;
}

/** Guest RDMSR / userspace KVM_GET_MSRS. On success `effects.value` is the MSR's reset value (0 for an
 *  MSR userspace reads while its gate is absent: KVM zeroes the data). */
export function checkMsrRead(model: GuestModel, index: number, opts: MsrReadOptions = {}): Verdict {
  msrIndexArg(index);
  optsArg(opts);
  const d = msrDef(index);
  if (!d) return refuse('GP', 'msr.unknown', `MSR ${idx(index)} is not implemented`);
  const host = opts.hostInitiated ?? false;
  const hp = hostProbedRefusal(model, d, index, opts);
  if (hp) return hp;
  if (d.special === 'x2apic') {
    const r = noLapicRefusal(model, index, opts);
    if (r) return r;
    if (opts.apicBase !== undefined)
      return checkX2apicAccess(model, index, undefined, opts.apicBase, opts.mcgCap ?? KVM_DEFAULT_MCG_CAP);
  }
  if (d.special === 'mce') {
    const r = mceRule(d, index, undefined, host, opts.mcgCap ?? KVM_DEFAULT_MCG_CAP);
    if (r) return r;
  }
  // kvm_get_msr_common IA32_XSS: only a guest read needs XSAVES (returns 1, not "unsupported"), so
  // userspace reads it whether or not KVM advertises it (seen on 6.18.44: 0xDA0 unlisted, read 0).
  if (d.special === 'xss' && host) return accept(0n);
  const why = gateReason(model, d) ?? existsReason(model, d, index, opts);
  if (why) {
    if (model.mode === 'kvmExact' && d.absentIgnored?.(index >>> 0)) return accept(0n);
    if (host && d.hostIgnoresGate && d.access !== 'wo') return accept(msrReset(model, d));
    if (!(host && !d.absentIn)) return refuse('GP', 'msr.absent', why);
    if (!advertisedOk(opts, index)) return refuse('GP', 'msr.absent', why + notAdvertised(index));
    return accept(0n);
  }
  if (!host && d.hostOnly)
    return refuse('GP', 'msr.host-only', `${d.name} (${idx(index)}) is accessible to userspace only`);
  if (d.access === 'wo') {
    // kvm_get_msr_common has no case for write-only MSRs (PRED_CMD, FLUSH_CMD): "unsupported", which
    // userspace may read (as 0) only when KVM advertises the MSR.
    if (!host) return refuse('GP', 'msr.write-only', `${d.name} (${idx(index)}) is write-only`);
    if (model.mode === 'kvmExact' && !d.pvGate && !advertisedOk(opts, index))
      return refuse('GP', 'msr.write-only', `${d.name} (${idx(index)}) is write-only${notAdvertised(index)}`);
  }
  return accept(msrReset(model, d));
}

function existsReason(model: GuestModel, d: MsrDef, index: number, opts: MsrReadOptions): string | undefined {
  if (!d.exists) return undefined;
  const c: MsrContext = { mcgCap: opts.mcgCap ?? KVM_DEFAULT_MCG_CAP };
  return d.exists(model, index >>> 0, c);
}

const DEBUGCTL = { LBR: 1n, BTF: 2n, BUS_LOCK_DETECT: 4n, FREEZE_LBRS_ON_PMI: 1n << 11n, RTM: 1n << 15n };

/**
 * WRMSR IA32_DEBUGCTL. kvmExact follows the vendor module:
 *  - kvm_intel (vmx_set_msr, vmx_get_supported_debugctl): BUS_LOCK_DETECT and RTM_DEBUG (2025) with
 *    the guest feature (userspace: host support); LBR/FREEZE_LBRS_ON_PMI need the PMU's LBRs (not
 *    modelled: treated as unsupported); unsupported BTF/LBR are silently dropped (vmx_is_valid_debugctl),
 *    any other unsupported bit #GPs.
 *  - kvm_amd (svm_set_msr): with LBR virtualization LBR (bit 0) is kept, BTF and bits 5:2 are dropped,
 *    bits 63:6 #GP; without LBR virtualization the write is ignored.
 *  - kvm_pvm (pvm_set_msr "It is ignored now"): every value accepted, the MSR reads 0 (seen on this
 *    machine: KVM_SET_MSRS of 0x1D9 = 1, 0xFFFF, ~0 all accepted, read back 0).
 * architectural: Intel bits LBR, BTF, BUS_LOCK_DETECT (with the feature), RTM (with RTM); AMD bits 5:0.
 */
function debugctlWrite(model: GuestModel, v: bigint, host: boolean, current: bigint | undefined): Verdict {
  const reserved = (bad: bigint, why: string): Verdict =>
    refuse(
      'GP',
      'debugctl.reserved',
      `IA32_DEBUGCTL value ${hexv(v)} sets unsupported bits ${hexv(bad)}: ${why}`,
    );
  if (model.mode === 'architectural') {
    const valid = model.amdLike
      ? 0x3fn
      : DEBUGCTL.LBR |
        DEBUGCTL.BTF |
        (model.has('bus_lock_detect') ? DEBUGCTL.BUS_LOCK_DETECT : 0n) |
        (model.has('rtm') ? DEBUGCTL.RTM : 0n);
    return v & ~valid
      ? reserved(v & ~valid, model.amdLike ? 'AMD defines bits 5:0' : 'reserved or feature absent')
      : accept(v);
  }
  switch (model.kvmModule) {
    case 'kvm_pvm':
      return accept(0n);
    case 'kvm_amd': {
      // `lbrv` is the host's LBR virtualization (svm.c module parameter): KVM_GET_SUPPORTED_CPUID
      // reports it in 8000000AH:EDX[1] when nested SVM is on; without that table assume modern hardware.
      const lbrv = model.hostSupported ? tableHas(model.hostSupported, 'lbrv') : true;
      if (!lbrv) return accept(current ?? 0n);
      // bits 5:2 (old AMD PB0-PB3) and BTF are dropped ("Drop DEBUGCTL[5:2]", d0eac42f5cec "Suppress
      // DEBUGCTL.BTF on AMD", 2025, also in stable); DEBUGCTL_RESERVED_BITS = ~LBR then faults 63:6.
      // (AMD Bus Lock Detect in DEBUGCTL is a Nov-2025 posting, not modelled.)
      if (v & ~0x3fn) return reserved(v & ~0x3fn, 'SVM keeps LBR (bit 0) only and drops bits 5:1');
      return accept(v & DEBUGCTL.LBR);
    }
    case 'kvm_intel': {
      const supported =
        (model.has('bus_lock_detect') ||
        (host && tableHas(model.hostSupported ?? model.table, 'bus_lock_detect'))
          ? DEBUGCTL.BUS_LOCK_DETECT
          : 0n) |
        (model.has('rtm') || (host && tableHas(model.hostSupported ?? model.table, 'rtm'))
          ? DEBUGCTL.RTM
          : 0n);
      const bad = v & ~supported & ~(DEBUGCTL.BTF | DEBUGCTL.LBR);
      if (bad)
        return reserved(
          bad,
          'VMX accepts BUS_LOCK_DETECT and RTM_DEBUG with their features (LBR bits need guest LBRs)',
        );
      return accept(v & supported);
    }
  }
}

/** APIC base validity (kvm_apic_set_base): reserved bits, the invalid EXTD-without-EN mode, and
 *  for the guest the forbidden x2APIC→xAPIC and disabled→x2APIC transitions. */
export function apicBaseRefusal(
  model: GuestModel,
  value: bigint,
  current: bigint | undefined,
  hostInitiated: boolean,
): Verdict | undefined {
  const d = msrDef(Msr.APIC_BASE)!;
  const rsvd = typeof d.reserved === 'function' ? d.reserved(model) : (d.reserved ?? 0n);
  if (value & rsvd) {
    const bad = value & rsvd;
    if (bad & 0x400n && !model.has('x2apic'))
      return refuse(
        'GP',
        'apic-base.reserved',
        `IA32_APIC_BASE.EXTD (bit 10) needs x2APIC: ${model.absentReason('x2apic')}`,
      );
    return refuse(
      'GP',
      'apic-base.reserved',
      `IA32_APIC_BASE value ${hexv(value)} sets reserved bits ${hexv(bad)} (bits 7:0, 9, ≥ MAXPHYADDR ${model.maxPhysAddr})`,
    );
  }
  const en = (value & 0x800n) !== 0n;
  const extd = (value & 0x400n) !== 0n;
  if (extd && !en)
    return refuse('GP', 'apic-base.invalid-mode', 'IA32_APIC_BASE.EXTD=1 with EN=0 is an invalid APIC mode');
  if (!hostInitiated && current !== undefined) {
    const curEn = (current & 0x800n) !== 0n;
    const curExtd = (current & 0x400n) !== 0n;
    if (curEn && curExtd && en && !extd)
      return refuse(
        'GP',
        'apic-base.x2apic-to-xapic',
        'x2APIC → xAPIC without disabling the APIC first is illegal',
      );
    if (!curEn && en && extd)
      return refuse(
        'GP',
        'apic-base.disabled-to-x2apic',
        'disabled → x2APIC without going through xAPIC is illegal',
      );
  }
  return undefined;
}

/** IA32_FEATURE_CONTROL (vmx_feature_control_msr_valid): guest-writable bits follow guest VMX (both
 *  VMX-enable bits [R]), SGX, SGX_LC; LMCE needs MCG_CAP.LMCE_P (not modelled: guest writes refuse it);
 *  userspace may write any KVM_SUPPORTED_FEATURE_CONTROL bit; a locked MSR refuses guest writes. */
function featCtlWrite(model: GuestModel, value: bigint, o: MsrCheckOptions): Verdict {
  const host = o.hostInitiated ?? false;
  if (!host && o.current !== undefined && o.current & FEAT_CTL.LOCKED)
    return refuse('GP', 'feat-ctl.locked', 'IA32_FEATURE_CONTROL is locked (bit 0 set)');
  let valid = FEAT_CTL.LOCKED;
  if (host) valid = KVM_SUPPORTED_FEATURE_CONTROL;
  else {
    if (model.has('vmx')) valid |= FEAT_CTL.VMX_INSIDE_SMX | FEAT_CTL.VMX_OUTSIDE_SMX;
    if (model.has('sgx')) valid |= FEAT_CTL.SGX;
    if (model.has('sgx_lc')) valid |= FEAT_CTL.SGX_LC;
  }
  const bad = value & ~valid;
  if (bad) {
    const why: string[] = [];
    if (bad & (FEAT_CTL.VMX_INSIDE_SMX | FEAT_CTL.VMX_OUTSIDE_SMX))
      why.push(`VMX enable bits (1, 2): ${model.absentReason('vmx')}`);
    if (bad & FEAT_CTL.SGX) why.push(`SGX enable (bit 18): ${model.absentReason('sgx')}`);
    if (bad & FEAT_CTL.SGX_LC) why.push(`SGX launch control (bit 17): ${model.absentReason('sgx_lc')}`);
    if (bad & FEAT_CTL.LMCE)
      why.push('LMCE (bit 20) needs MCG_CAP.LMCE_P, which guest writes cannot rely on');
    const other = bad & ~KVM_SUPPORTED_FEATURE_CONTROL;
    if (other) why.push(`reserved bits ${hexv(other)}`);
    return refuse(
      'GP',
      'feat-ctl.reserved',
      `IA32_FEATURE_CONTROL value ${hexv(value)} is refused: ${why.join('; ')}`,
    );
  }
  return accept(value);
}

function miscEnableWrite(value: bigint, o: MsrCheckOptions): Verdict {
  const cur = o.current ?? 0x1800n;
  if (o.hostInitiated) return accept(value);
  if ((cur ^ value) & MISC_ENABLE_PMU_RO)
    return refuse(
      'GP',
      'misc-enable.read-only',
      'IA32_MISC_ENABLE BTS_UNAVAIL/PEBS_UNAVAIL (bits 11, 12) are read-only',
    );
  // EMON (bit 7) writes are ignored, not faulted.
  return accept((value & ~MISC_ENABLE_EMON) | (cur & MISC_ENABLE_EMON));
}

/**
 * Guest WRMSR / userspace KVM_SET_MSRS. Refusal: guest #GP (or a userspace MSR exit), userspace
 * failure. On success `effects.value` is the value to store (canonicalized, truncated, LMA kept…).
 */
export function checkMsrWrite(
  model: GuestModel,
  state: ControlState,
  index: number,
  value: bigint,
  opts: MsrCheckOptions = {},
): Verdict {
  msrIndexArg(index);
  u64Arg(value, 'MSR value');
  optsArg(opts);
  const d = msrDef(index);
  if (!d) return refuse('GP', 'msr.unknown', `MSR ${idx(index)} is not implemented`);
  const host = opts.hostInitiated ?? false;
  const v = value & U64;
  const hp = hostProbedRefusal(model, d, index, opts);
  if (hp) return hp;
  // IA32_XSS does its own gating (XSAVES → KVM_MSR_RET_UNSUPPORTED, guest_supported_xss).
  if (d.special === 'xss')
    return checkXssWrite(model, state, v, { hostInitiated: host, advertised: advertisedOk(opts, index) });
  const apicBase = opts.apicBase ?? state.apicBase;
  if (d.special === 'x2apic') {
    const r = noLapicRefusal(model, index, opts);
    if (r) return r;
    if (apicBase !== undefined)
      return checkX2apicAccess(model, index, v, apicBase, opts.mcgCap ?? KVM_DEFAULT_MCG_CAP);
  }
  const why = gateReason(model, d) ?? existsReason(model, d, index, opts);
  if (d.special === 'mce') {
    // set_msr_mce reads IA32_MCG_CAP, not CPUID; the row's architectural MCA gate binds the guest only.
    if (why && !host) return refuse('GP', 'msr.absent', why);
    const r = mceRule(d, index, v, host, opts.mcgCap ?? KVM_DEFAULT_MCG_CAP);
    if (r) return r;
    return accept(v);
  }
  if (why) {
    if (model.mode === 'kvmExact' && d.absentIgnored?.(index >>> 0)) return accept(0n);
    if (!(host && d.hostIgnoresGate)) {
      if (!(host && !d.absentIn && v === 0n))
        return refuse('GP', 'msr.absent', why + (host && !d.absentIn ? ' (userspace may only write 0)' : ''));
      if (!advertisedOk(opts, index)) return refuse('GP', 'msr.absent', why + notAdvertised(index));
      return accept(0n);
    }
  }
  if (!host && d.hostOnly)
    return refuse('GP', 'msr.host-only', `${d.name} (${idx(index)}) is accessible to userspace only`);
  if (host && d.hostReadOnly)
    return refuse(
      'GP',
      'msr.read-only',
      `${d.name} (${idx(index)}) is read-only to userspace too (KVM_SET_MSRS has no handler for it)`,
    );
  if (
    d.lapicWrites &&
    model.mode === 'kvmExact' &&
    opts.lapicInKernel === false &&
    (d.lapicWrites === 'any' || v !== 0n)
  )
    return refuse(
      'GP',
      'msr.needs-lapic',
      `${d.name} (${idx(index)}): KVM accepts ${d.lapicWrites === 'any' ? 'no write' : 'only 0'} without an in-kernel local APIC`,
    );
  if (host && d.hostAnyValue) return accept(d.adjust ? d.adjust(model, v) : v);
  if (host && d.feature && opts.vcpuHasRun && opts.current !== undefined && opts.current !== v)
    return refuse(
      'GP',
      'msr.immutable-after-run',
      `${d.name} is a feature MSR: immutable after the first KVM_RUN (kvm_is_immutable_feature_msr)`,
    );
  switch (d.special) {
    case 'efer':
      return checkEferWrite(model, state, v, { hostInitiated: host });
    case 'apic_base': {
      const r = apicBaseRefusal(model, v, opts.current, host);
      if (r) return r;
      const cur = opts.current ?? d.reset;
      return accept(v, { cpuidDirty: ((cur ^ v) & 0x800n) !== 0n });
    }
    case 'vmx':
      if (!host)
        return refuse(
          'GP',
          'msr.vmx-read-only',
          `${d.name}: guest WRMSR of a VMX capability MSR (${idx(index)}) raises #GP`,
        );
      if (!opts.vmxMax) return accept(v);
      return checkVmxMsrRestore(opts.vmxMax, index, v);
    case 'feat_ctl':
      return featCtlWrite(model, v, opts);
    case 'misc_enable':
      return miscEnableWrite(v, opts);
    case 'debugctl':
      return debugctlWrite(model, v, host, opts.current);
    case 'ucode_rev':
      // kvm_set_msr_common: userspace sets the reported revision; guest writes are ignored.
      return accept(host ? v : (opts.current ?? msrReset(model, d)));
    case 'x2apic': // APIC mode unknown (no apicBase): the CPUID gate above is all that is checked
    case undefined:
      break;
  }
  if (!host && d.access === 'ro')
    return refuse('GP', 'msr.read-only', `${d.name} (${idx(index)}) is read-only to the guest`);
  const rsvd = typeof d.reserved === 'function' ? d.reserved(model) : (d.reserved ?? 0n);
  if (v & rsvd)
    return refuse('GP', 'msr.reserved', `${d.name} value ${hexv(v)} sets reserved bits ${hexv(v & rsvd)}`);
  let out = v;
  if (d.canonical) {
    const bits = msrCanonicalBits(model);
    const part = v & (d.canonicalMask ?? U64);
    if (!isCanonical(part, bits)) {
      if (d.canonical === 'gp')
        return refuse(
          'GP',
          'msr.non-canonical',
          `${d.name} value ${hexv(v)} is not canonical (${bits}-bit linear addresses)`,
        );
      out = canonicalize(v, bits);
    }
  }
  if (d.check) {
    const bad = d.check(model, v, index >>> 0);
    if (bad) return refuse('GP', 'msr.invalid', `${d.name} value ${hexv(v)} is refused: ${bad}`);
  }
  if (d.adjust) out = d.adjust(model, out);
  return accept(out);
}
