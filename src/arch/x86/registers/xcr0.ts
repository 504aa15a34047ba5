// XCR0, the XSAVE feature-enabled mask: Intel SDM Vol. 1 §13.3 "Enabling the XSAVE Feature Set" and
// Vol. 2B XSETBV; state components: SDM Vol. 1 §13.1 (Table 13-1). KVM: spec §4.1 (__kvm_set_xcr).
// A component is enumerated by CPUID.(EAX=0DH,ECX=0):EDX:EAX bit i (SDM Vol. 1 §13.2).

import { masksByName, type RegisterBit } from './bits.ts';

export interface XcrBit extends RegisterBit {
  /** in KVM_SUPPORTED_XCR0 / KVM_SUPPORTED_XSS */
  readonly kvm: boolean;
}

export const XCR0_BITS = [
  { name: 'X87', bit: 0, requires: 'fpu', kvm: true, doc: 'SDM 1 §13.1: x87 state; XCR0[0] must be 1' },
  { name: 'SSE', bit: 1, requires: 'xmm', kvm: true, doc: 'SDM 1 §13.1: SSE state (XMM, MXCSR)' },
  { name: 'AVX', bit: 2, requires: 'avx', kvm: true, doc: 'SDM 1 §13.1: AVX state (YMM_Hi128); needs SSE' },
  {
    name: 'BNDREGS',
    bit: 3,
    requires: 'mpx',
    kvm: true,
    doc: 'SDM 1 §13.1: MPX BND0-3; with BNDCSR or neither',
  },
  { name: 'BNDCSR', bit: 4, requires: 'mpx', kvm: true, doc: 'SDM 1 §13.1: MPX BNDCFGU/BNDSTATUS' },
  {
    name: 'OPMASK',
    bit: 5,
    requires: 'avx512f',
    kvm: true,
    doc: 'SDM 1 §13.1: AVX-512 k0-k7; bits 7:5 all or none, and AVX',
  },
  {
    name: 'ZMM_HI256',
    bit: 6,
    requires: 'avx512f',
    kvm: true,
    doc: 'SDM 1 §13.1: upper 256 bits of ZMM0-15',
  },
  { name: 'HI16_ZMM', bit: 7, requires: 'avx512f', kvm: true, doc: 'SDM 1 §13.1: ZMM16-31' },
  { name: 'PKRU', bit: 9, requires: 'pku', kvm: true, doc: 'SDM 1 §13.1: PKRU register' },
  {
    name: 'XTILECFG',
    bit: 17,
    requires: 'amx_tile',
    kvm: true,
    doc: 'SDM 1 §13.1: AMX TILECFG; with XTILEDATA or neither',
  },
  {
    name: 'XTILEDATA',
    bit: 18,
    requires: 'amx_tile',
    kvm: true,
    doc: 'SDM 1 §13.1: AMX TILEDATA (dynamic, XFD-capable)',
  },
  {
    name: 'APX',
    bit: 19,
    requires: 'apx',
    kvm: false,
    doc: 'SDM 1 §13.1: APX extended GPRs (not in KVM_SUPPORTED_XCR0 at the read commit)',
  },
] as const satisfies readonly XcrBit[];

export type Xcr0BitName = (typeof XCR0_BITS)[number]['name'];

export const Xcr0 = masksByName(XCR0_BITS);

/** KVM_SUPPORTED_XCR0 (x86.c): x87..AVX-512, PKRU, AMX. */
export const KVM_SUPPORTED_XCR0 = XCR0_BITS.filter((r: XcrBit) => r.kvm).reduce(
  (m, r) => m | (1n << BigInt(r.bit)),
  0n,
);

export const XCR0_AVX512 = Xcr0.OPMASK | Xcr0.ZMM_HI256 | Xcr0.HI16_ZMM;
export const XCR0_MPX = Xcr0.BNDREGS | Xcr0.BNDCSR;
export const XCR0_AMX = Xcr0.XTILECFG | Xcr0.XTILEDATA;
/** XFEATURE_MASK_EXTEND: a change in these bits changes 0xD.0:EBX and marks CPUID dirty. */
export const XCR0_EXTEND = ~(Xcr0.X87 | Xcr0.SSE) & 0xffff_ffff_ffff_ffffn;

/** XCR0 at RESET: x87 only [R] (kvm_vcpu_reset). */
export const XCR0_RESET = Xcr0.X87;

export const XCR0_NOTES = [
  'XSETBV: #UD when CR4.OSXSAVE=0; #GP at CPL>0, for ECX≠0, without X87, for AVX without SSE, for bits outside CPUID.0xD.0 EDX:EAX ∩ the backend mask, for unequal MPX bits, for partial AVX-512 or AVX-512 without AVX, for partial AMX (spec §4.1).',
  'Bit 0 is accepted even when the guest has no XSAVE (guest_supported_xcr0 | FP).',
] as const;
