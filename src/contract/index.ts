// The architectural contract's public API (DESIGN.md §1: pure functions over the guest CPUID):
// guest model, guest-path checks (MOV CR, WRMSR, XSETBV, MOV DR), the userspace KVM_SET_SREGS check,
// the MSR table rules, nested VMX capability MSRs, and the policy lint.

export type { Accepted, ContractFault, Refusal, Verdict, WriteEffects } from './api.ts';
export {
  MODE_DIFFERENCES,
  deriveGuestModel,
  maxPhysAddrOf,
  type ContractMode,
  type GuestModel,
  type ModeDifference,
  type KvmModule,
  type ModelOptions,
} from './model.ts';
export { RESET_STATE, type ControlState } from './state.ts';
export {
  checkCr0Write,
  checkCr3Write,
  checkCr4Write,
  checkCr8Write,
  checkPdptes,
  cr4ReservedReason,
  lmswValue,
  pdpteReservedMask,
} from './cr.ts';
export { checkEferWrite, type MsrAccessOptions } from './efer.ts';
export {
  checkXsetbv,
  checkXssWrite,
  xcr0UnsupportedReason,
  xssUnsupportedReason,
  type XsetbvOperands,
} from './xsave.ts';
export { checkDr6Write, checkDr7Write, dr6Fixed } from './dr.ts';
export { checkSregs, type SregsControl, type SregsOptions } from './sregs.ts';
export {
  checkMsrRead,
  checkMsrWrite,
  kvmCpuidBase,
  msrDef,
  msrReset,
  pvHas,
  type MsrCheckOptions,
  type MsrReadOptions,
} from './msr.ts';
export { checkX2apicAccess, isX2apicMode } from './x2apic.ts';
export {
  DEFAULT_HOST_VMX,
  checkVmxMsrRestore,
  cr4Fixed1,
  deriveVmxMsrs,
  type ControlAnnotation,
  type DerivedVmx,
  type VmxMsrs,
  type VmxOptions,
} from './vmx.ts';
export { featureText } from './features.ts';
export { contractLint, compactedXsaveSize, standardXsaveSize, type Finding, type Severity } from './lint.ts';
export {
  EXPLAINABLE,
  explainValue,
  type BitExplanation,
  type Explanation,
  type ExplainableRegister,
} from './explain.ts';
