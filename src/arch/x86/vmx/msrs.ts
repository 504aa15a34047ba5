// The VMX capability MSRs 480H-491H and their field layouts: Intel SDM Vol. 3D Appendix A (A.1 BASIC,
// A.3-A.5 controls, A.6 MISC, A.7-A.8 CR0/CR4 fixed bits, A.9 VMCS enumeration, A.10 EPT/VPID,
// A.11 VM functions). KVM's emulation: shared/spec/kvm-contract.md §7.

import { masksByName, type RegisterBit } from '../registers/bits.ts';

export const VmxMsr = {
  BASIC: 0x480,
  PINBASED_CTLS: 0x481,
  PROCBASED_CTLS: 0x482,
  EXIT_CTLS: 0x483,
  ENTRY_CTLS: 0x484,
  MISC: 0x485,
  CR0_FIXED0: 0x486,
  CR0_FIXED1: 0x487,
  CR4_FIXED0: 0x488,
  CR4_FIXED1: 0x489,
  VMCS_ENUM: 0x48a,
  PROCBASED_CTLS2: 0x48b,
  EPT_VPID_CAP: 0x48c,
  TRUE_PINBASED_CTLS: 0x48d,
  TRUE_PROCBASED_CTLS: 0x48e,
  TRUE_EXIT_CTLS: 0x48f,
  TRUE_ENTRY_CTLS: 0x490,
  VMFUNC: 0x491,
} as const;

export type VmxMsrName = keyof typeof VmxMsr;
export const VMX_MSR_FIRST = 0x480;
export const VMX_MSR_LAST = 0x491;

export function vmxMsrName(index: number): VmxMsrName | undefined {
  for (const [k, v] of Object.entries(VmxMsr)) if (v === index) return k as VmxMsrName;
  return undefined;
}

/** IA32_VMX_BASIC fields (SDM 3D A.1). */
export const VMX_BASIC_FIELDS = [
  { name: 'REVISION', bit: 0, width: 31, doc: 'SDM 3D A.1: VMCS revision identifier' },
  { name: 'VMCS_SIZE', bit: 32, width: 13, doc: 'SDM 3D A.1: bytes to allocate for the VMXON region/VMCS' },
  { name: 'PHYS_ADDR_32', bit: 48, doc: 'SDM 3D A.1: VMX structures limited to 32-bit physical addresses' },
  { name: 'DUAL_MONITOR', bit: 49, doc: 'SDM 3D A.1: dual-monitor treatment of SMI/SMM' },
  { name: 'MEM_TYPE', bit: 50, width: 4, doc: 'SDM 3D A.1: VMCS memory type (6 = WB)' },
  { name: 'INOUT', bit: 54, doc: 'SDM 3D A.1: INS/OUTS exit information' },
  { name: 'TRUE_CTLS', bit: 55, doc: 'SDM 3D A.1: TRUE_* control MSRs exist' },
  {
    name: 'NO_HW_ERROR_CODE_CC',
    bit: 56,
    doc: 'SDM 3D A.1: any exception may be injected with/without error code',
  },
] as const satisfies readonly RegisterBit[];
export const VmxBasic = masksByName(VMX_BASIC_FIELDS);
/** Reserved bits of BASIC that KVM treats as "must be a subset" (31, 47:45, 63:57). */
export const VMX_BASIC_RESERVED = (1n << 31n) | (0x7n << 45n) | (0x7fn << 57n);

/** IA32_VMX_MISC fields (SDM 3D A.6). */
export const VMX_MISC_FIELDS = [
  {
    name: 'PREEMPTION_TIMER_RATE',
    bit: 0,
    width: 5,
    doc: 'SDM 3D A.6: TSC bit that drives the preemption timer',
  },
  {
    name: 'SAVE_EFER_LMA',
    bit: 5,
    doc: 'SDM 3D A.6: VM exits store EFER.LMA into the IA-32e-mode-guest control',
  },
  { name: 'ACTIVITY_HLT', bit: 6, doc: 'SDM 3D A.6: HLT activity state' },
  { name: 'ACTIVITY_SHUTDOWN', bit: 7, doc: 'SDM 3D A.6: shutdown activity state' },
  { name: 'ACTIVITY_WAIT_SIPI', bit: 8, doc: 'SDM 3D A.6: wait-for-SIPI activity state' },
  { name: 'INTEL_PT', bit: 14, doc: 'SDM 3D A.6: Intel PT usable in VMX operation' },
  { name: 'RDMSR_IN_SMM', bit: 15, doc: 'SDM 3D A.6: RDMSR of IA32_SMBASE in SMM' },
  { name: 'CR3_TARGETS', bit: 16, width: 9, doc: 'SDM 3D A.6: number of CR3-target values' },
  { name: 'MAX_MSR_LIST', bit: 25, width: 3, doc: 'SDM 3D A.6: 512*(N+1) MSRs per load/store list' },
  { name: 'VMXOFF_BLOCK_SMI', bit: 28, doc: 'SDM 3D A.6: SMI blocking can be cleared by VMXOFF' },
  { name: 'VMWRITE_ANY_FIELD', bit: 29, doc: 'SDM 3D A.6: VMWRITE to read-only exit-information fields' },
  { name: 'ZERO_LEN_INS', bit: 30, doc: 'SDM 3D A.6: injection with instruction length 0' },
  { name: 'MSEG_REVISION', bit: 32, width: 32, doc: 'SDM 3D A.6: MSEG revision identifier' },
] as const satisfies readonly RegisterBit[];
export const VmxMisc = masksByName(VMX_MISC_FIELDS);
/** MISC feature bits compared as "subset" on restore (vmx_restore_vmx_misc). */
export const VMX_MISC_FEATURE_BITS =
  VmxMisc.SAVE_EFER_LMA |
  VmxMisc.ACTIVITY_HLT |
  VmxMisc.ACTIVITY_SHUTDOWN |
  VmxMisc.ACTIVITY_WAIT_SIPI |
  VmxMisc.INTEL_PT |
  VmxMisc.RDMSR_IN_SMM |
  VmxMisc.VMWRITE_ANY_FIELD |
  VmxMisc.VMXOFF_BLOCK_SMI |
  VmxMisc.ZERO_LEN_INS;
/** MISC reserved bits: 31 and 13:9. */
export const VMX_MISC_RESERVED = (1n << 31n) | (0x1fn << 9n);

/** IA32_VMX_EPT_VPID_CAP bits (SDM 3D A.10). */
export const EPT_VPID_CAP_BITS = [
  { name: 'EXECUTE_ONLY', bit: 0, doc: 'SDM 3D A.10: execute-only EPT translations' },
  { name: 'PAGE_WALK_4', bit: 6, doc: 'SDM 3D A.10: 4-level EPT walk' },
  { name: 'PAGE_WALK_5', bit: 7, doc: 'SDM 3D A.10: 5-level EPT walk' },
  { name: 'UC', bit: 8, doc: 'SDM 3D A.10: EPT paging-structure memory type UC' },
  { name: 'WB', bit: 14, doc: 'SDM 3D A.10: EPT paging-structure memory type WB' },
  { name: 'PAGE_2M', bit: 16, doc: 'SDM 3D A.10: 2-MByte EPT pages' },
  { name: 'PAGE_1G', bit: 17, doc: 'SDM 3D A.10: 1-GByte EPT pages' },
  { name: 'INVEPT', bit: 20, doc: 'SDM 3D A.10: INVEPT supported' },
  { name: 'AD', bit: 21, doc: 'SDM 3D A.10: EPT accessed/dirty flags' },
  { name: 'ADVANCED_VMEXIT_INFO', bit: 22, doc: 'SDM 3D A.10: advanced EPT-violation exit information' },
  { name: 'INVEPT_SINGLE_CONTEXT', bit: 25, doc: 'SDM 3D A.10: single-context INVEPT' },
  { name: 'INVEPT_ALL_CONTEXT', bit: 26, doc: 'SDM 3D A.10: all-context INVEPT' },
  { name: 'INVVPID', bit: 32, doc: 'SDM 3D A.10: INVVPID supported' },
  { name: 'INVVPID_INDIVIDUAL_ADDR', bit: 40, doc: 'SDM 3D A.10: individual-address INVVPID' },
  { name: 'INVVPID_SINGLE_CONTEXT', bit: 41, doc: 'SDM 3D A.10: single-context INVVPID' },
  { name: 'INVVPID_ALL_CONTEXT', bit: 42, doc: 'SDM 3D A.10: all-context INVVPID' },
  {
    name: 'INVVPID_SINGLE_CONTEXT_GLOBAL',
    bit: 43,
    doc: 'SDM 3D A.10: single-context-retaining-globals INVVPID',
  },
] as const satisfies readonly RegisterBit[];
export const EptVpidCap = masksByName(EPT_VPID_CAP_BITS);

/** IA32_VMX_VMFUNC (SDM 3D A.11). */
export const VMFUNC_BITS = [
  { name: 'EPTP_SWITCHING', bit: 0, doc: 'SDM 3D A.11: VM function 0, EPTP switching' },
] as const satisfies readonly RegisterBit[];
export const Vmfunc = masksByName(VMFUNC_BITS);

/** Control MSR value = allowed-1 bits in 63:32, must-be-1 (allowed-0 = 0) bits in 31:0 (SDM 3D A.3). */
export function controlMsr(low: bigint, high: bigint): bigint {
  return ((high & 0xffff_ffffn) << 32n) | (low & 0xffff_ffffn);
}
export function controlLow(v: bigint): bigint {
  return v & 0xffff_ffffn;
}
export function controlHigh(v: bigint): bigint {
  return (v >> 32n) & 0xffff_ffffn;
}
