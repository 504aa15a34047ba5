// Guest RDMSR/WRMSR and userspace KVM_GET/SET_MSRS over the MSR table (src/arch/x86/msr): the common
// gating (spec §6, kvm_do_msr_access), reserved bits, canonical checks, value adjustment, feature-MSR
// immutability, and the MSRs with their own rules (EFER §3, XSS §4.2, APIC_BASE, FEATURE_CONTROL,
// MISC_ENABLE, the VMX capability MSRs §7).

import type { Verdict } from './api.ts';
import {
  MSR_TABLE,
  Msr,
  canonicalize,
  isCanonical,
  msrCanonicalBits,
  msrDef,
  type MsrDef,
} from '../arch/x86/msr/table.ts';
import { requiredFeatures } from '../arch/x86/registers/bits.ts';
import { checkEferWrite } from './efer.ts';
import { featureText, tableHas } from './features.ts';
import type { GuestModel } from './model.ts';
import { accept, hexv, msrIndexArg, refuse, u64Arg, type ControlState } from './state.ts';
import { checkVmxMsrRestore, type VmxMsrs } from './vmx.ts';
import { checkXssWrite } from './xsave.ts';

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
}

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

/** Guest RDMSR / userspace KVM_GET_MSRS. On success `effects.value` is the MSR's reset value. */
export function checkMsrRead(
  model: GuestModel,
  index: number,
  opts: { hostInitiated?: boolean } = {},
): Verdict {
  msrIndexArg(index);
  const d = msrDef(index);
  if (!d) return refuse('GP', 'msr.unknown', `MSR ${idx(index)} is not implemented`);
  const host = opts.hostInitiated ?? false;
  const why = gateReason(model, d);
  if (why && !(host && !d.absentIn)) return refuse('GP', 'msr.absent', why);
  if (!host && d.hostOnly)
    return refuse('GP', 'msr.host-only', `${d.name} (${idx(index)}) is accessible to userspace only`);
  if (!host && d.access === 'wo')
    return refuse('GP', 'msr.write-only', `${d.name} (${idx(index)}) is write-only`);
  return accept(d.reset);
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
  const d = msrDef(index);
  if (!d) return refuse('GP', 'msr.unknown', `MSR ${idx(index)} is not implemented`);
  const host = opts.hostInitiated ?? false;
  const v = value & U64;
  // IA32_XSS does its own gating (userspace skips the XSAVES check but not guest_supported_xss).
  if (d.special === 'xss') return checkXssWrite(model, state, v, { hostInitiated: host });
  const why = gateReason(model, d);
  if (why) {
    if (!(host && !d.absentIn && v === 0n))
      return refuse('GP', 'msr.absent', why + (host && !d.absentIn ? ' (userspace may only write 0)' : ''));
    return accept(0n);
  }
  if (!host && d.hostOnly)
    return refuse('GP', 'msr.host-only', `${d.name} (${idx(index)}) is accessible to userspace only`);
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
