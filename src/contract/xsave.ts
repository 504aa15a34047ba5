// XSETBV (XCR0) and WRMSR IA32_XSS: Intel SDM Vol. 2C XSETBV, Vol. 1 §13.3; KVM spec §4.1
// (kvm_emulate_xsetbv, __kvm_set_xcr) and §4.2 (kvm_set_msr_common MSR_IA32_XSS).

import type { Verdict } from './api.ts';
import { Cr4 } from '../arch/x86/registers/cr4.ts';
import { XCR0_AMX, XCR0_AVX512, XCR0_BITS, XCR0_EXTEND, Xcr0 } from '../arch/x86/registers/xcr0.ts';
import { XSS_BITS } from '../arch/x86/registers/xss.ts';
import { rowAt } from '../arch/x86/registers/bits.ts';
import { xcr0EnumText, xssEnumText, type GuestModel } from './model.ts';
import { accept, refuse, u64Arg, type ControlState } from './state.ts';
import type { MsrAccessOptions } from './efer.ts';

function firstBit(m: bigint): number {
  for (let i = 0; i < 64; i++) if ((m >> BigInt(i)) & 1n) return i;
  return -1;
}

/** Why XCR0 bit `bit` is outside guest_supported_xcr0 (undefined when inside). */
export function xcr0UnsupportedReason(model: GuestModel, bit: number): string | undefined {
  if ((model.xcr0Valid >> BigInt(bit)) & 1n) return undefined;
  const row = rowAt(XCR0_BITS, bit);
  const label = row ? `XCR0.${row.name} (bit ${bit})` : `XCR0 bit ${bit}`;
  const enumerated =
    ((BigInt(model.table.reg(0xd, 0, bit < 32 ? 'eax' : 'edx')) >> BigInt(bit % 32)) & 1n) === 1n;
  if (!enumerated) return `${label} is not supported: guest ${xcr0EnumText(bit)} is 0`;
  return `${label} is not supported: outside the backend's supported XCR0${row && !row.kvm && model.mode === 'kvmExact' ? ' (not in KVM_SUPPORTED_XCR0)' : ''}`;
}

/** The value rules of __kvm_set_xcr (dependencies), without the CPL/ECX/OSXSAVE checks. */
export function xcr0ValueRefusal(model: GuestModel, value: bigint): Verdict | undefined {
  if (!(value & Xcr0.X87)) return refuse('GP', 'xcr0.x87', 'XCR0.X87 (bit 0) must be 1');
  if (value & Xcr0.AVX && !(value & Xcr0.SSE))
    return refuse('GP', 'xcr0.avx-without-sse', 'XCR0.AVX (bit 2) needs XCR0.SSE (bit 1)');
  const bad = value & ~model.xcr0Valid;
  if (bad) return refuse('GP', 'xcr0.unsupported', xcr0UnsupportedReason(model, firstBit(bad))!);
  if (!(value & Xcr0.BNDREGS) !== !(value & Xcr0.BNDCSR))
    return refuse(
      'GP',
      'xcr0.mpx-pair',
      'XCR0.BNDREGS (bit 3) and XCR0.BNDCSR (bit 4) must be both set or both clear',
    );
  if (value & XCR0_AVX512) {
    if (!(value & Xcr0.AVX))
      return refuse('GP', 'xcr0.avx512-without-avx', 'XCR0 AVX-512 state (bits 7:5) needs XCR0.AVX (bit 2)');
    if ((value & XCR0_AVX512) !== XCR0_AVX512)
      return refuse(
        'GP',
        'xcr0.avx512-partial',
        'XCR0 AVX-512 bits OPMASK, ZMM_Hi256, Hi16_ZMM (7:5) must be all set or all clear',
      );
  }
  if (value & XCR0_AMX && (value & XCR0_AMX) !== XCR0_AMX)
    return refuse(
      'GP',
      'xcr0.amx-pair',
      'XCR0.XTILECFG (bit 17) and XCR0.XTILEDATA (bit 18) must be both set or both clear',
    );
  return undefined;
}

export interface XsetbvOperands {
  readonly cpl: number;
  /** ECX: the XCR index (only 0 exists) */
  readonly ecx: number;
  /** EDX:EAX */
  readonly value: bigint;
}

/** XSETBV (kvm_emulate_xsetbv → __kvm_set_xcr). */
export function checkXsetbv(model: GuestModel, state: ControlState, op: XsetbvOperands): Verdict {
  u64Arg(op.value, 'XSETBV EDX:EAX');
  if (!(state.cr4 & Cr4.OSXSAVE))
    return refuse('UD', 'xsetbv.osxsave', 'XSETBV with CR4.OSXSAVE (bit 18) = 0 raises #UD');
  if (op.cpl !== 0) return refuse('GP', 'xsetbv.cpl', `XSETBV at CPL ${op.cpl} (must be 0)`);
  if (op.ecx >>> 0 !== 0)
    return refuse('GP', 'xsetbv.index', `XSETBV ECX=${op.ecx >>> 0}: only XCR0 (ECX=0) exists`);
  const r = xcr0ValueRefusal(model, op.value);
  if (r) return r;
  return accept(op.value, { cpuidDirty: ((op.value ^ state.xcr0) & XCR0_EXTEND) !== 0n });
}

/** Why XSS bit `bit` is outside guest_supported_xss (undefined when inside). */
export function xssUnsupportedReason(model: GuestModel, bit: number): string | undefined {
  if ((model.xssValid >> BigInt(bit)) & 1n) return undefined;
  const row = rowAt(XSS_BITS, bit);
  const label = row ? `IA32_XSS.${row.name} (bit ${bit})` : `IA32_XSS bit ${bit}`;
  const enumerated =
    ((BigInt(model.table.reg(0xd, 1, bit < 32 ? 'ecx' : 'edx')) >> BigInt(bit % 32)) & 1n) === 1n;
  if (!enumerated) return `${label} is not supported: guest ${xssEnumText(bit)} is 0`;
  if (row && model.mode === 'kvmExact') {
    if (!row.kvm) return `${label} is not supported: KVM never offers it (not in KVM_SUPPORTED_XSS)`;
    if (row.requires && !model.hasAny(row.requires))
      return `${label} is not supported: ${model.absentReason(row.requires)}`;
  }
  return `${label} is not supported: outside the backend's supported XSS`;
}

/** WRMSR/KVM_SET_MSRS of IA32_XSS (MSR 0xDA0). */
export function checkXssWrite(
  model: GuestModel,
  state: ControlState,
  value: bigint,
  opts: MsrAccessOptions & { readonly advertised?: boolean } = {},
): Verdict {
  u64Arg(value, 'IA32_XSS value');
  const host = opts.hostInitiated ?? false;
  // kvm_set_msr_common: without guest XSAVES the write is KVM_MSR_RET_UNSUPPORTED for the guest (#GP)
  // *and* for userspace; kvm_do_msr_access then lets userspace write 0 only when KVM advertises
  // IA32_XSS, i.e. when kvm_caps.supported_xss ≠ 0 (kvm_probe_msr_to_save, the CET series that put
  // XSS in msrs_to_save_base). Seen on 6.18.44 kvm_pvm: XSS not listed, KVM_SET_MSRS {0xDA0: 0} fails.
  if (!model.has('xsaves')) {
    if (!host) return refuse('GP', 'xss.no-xsaves', `IA32_XSS needs XSAVES: ${model.absentReason('xsaves')}`);
    if (value === 0n && (opts.advertised ?? true))
      return accept(0n, { cpuidDirty: (state.xss ?? 0n) !== 0n });
    if (value === 0n)
      return refuse(
        'GP',
        'xss.not-advertised',
        `IA32_XSS needs XSAVES (${model.absentReason('xsaves')}), and userspace may write 0 only when KVM ` +
          'advertises IA32_XSS (in KVM_GET_MSR_INDEX_LIST: KVM supports at least one XSS component)',
      );
  }
  const bad = value & ~model.xssValid;
  if (bad) return refuse('GP', 'xss.unsupported', xssUnsupportedReason(model, firstBit(bad))!);
  const old = state.xss ?? 0n;
  return accept(value, { cpuidDirty: old !== value });
}
