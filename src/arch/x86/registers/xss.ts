// IA32_XSS (MSR 0DA0H), the supervisor state-component mask used by XSAVES/XRSTORS: Intel SDM Vol. 1
// §13.3 and Vol. 4; components in SDM Vol. 1 Table 13-1. Enumerated by CPUID.(EAX=0DH,ECX=1):EDX:ECX.
// KVM: spec §4.2 (KVM_SUPPORTED_XSS, kvm_set_msr_common).

import { masksByName } from './bits.ts';
import type { XcrBit } from './xcr0.ts';

export const XSS_BITS = [
  {
    name: 'PT',
    bit: 8,
    requires: 'intel_pt',
    kvm: false,
    doc: 'SDM 1 §13.1: Intel PT state (KVM virtualizes PT via perf; never in XSS)',
  },
  { name: 'PASID', bit: 10, requires: 'enqcmd', kvm: false, doc: 'SDM 1 §13.1: PASID state' },
  {
    name: 'CET_U',
    bit: 11,
    requires: ['shstk', 'ibt'],
    kvm: true,
    doc: 'SDM 1 §13.1: user CET state (U_CET, PL3_SSP)',
  },
  {
    name: 'CET_S',
    bit: 12,
    requires: ['shstk', 'ibt'],
    kvm: true,
    doc: 'SDM 1 §13.1: supervisor CET state (PL0-2_SSP)',
  },
  { name: 'HDC', bit: 13, requires: 'hdc', kvm: false, doc: 'SDM 1 §13.1: HDC state' },
  { name: 'UINTR', bit: 14, requires: 'uintr', kvm: false, doc: 'SDM 1 §13.1: user-interrupt state' },
  { name: 'LBR', bit: 15, requires: 'arch_lbr', kvm: false, doc: 'SDM 1 §13.1: architectural LBR state' },
  { name: 'HWP', bit: 16, requires: 'hwp', kvm: false, doc: 'SDM 1 §13.1: HWP state' },
] as const satisfies readonly XcrBit[];

export type XssBitName = (typeof XSS_BITS)[number]['name'];

export const Xss = masksByName(XSS_BITS);

/** KVM_SUPPORTED_XSS (6.18+): CET_USER | CET_KERNEL. */
export const KVM_SUPPORTED_XSS = XSS_BITS.filter((r: XcrBit) => r.kvm).reduce(
  (m, r) => m | (1n << BigInt(r.bit)),
  0n,
);

export const XSS_NOTES = [
  'Guest WRMSR IA32_XSS without XSAVES → #GP; bits outside CPUID.0xD.1 EDX:ECX ∩ the backend mask → #GP; a change marks CPUID dirty (0xD.1:EBX).',
  'KVM offers the CET bits only when SHSTK or IBT is supported; PT is never offered.',
  'Userspace may always write 0.',
] as const;
