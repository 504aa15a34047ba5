// The /dev/kvm backend (Linux Documentation/virt/kvm/api.rst), public surface: createKvmBackend()
// and isKvmAvailable(), plus the contract oracle hooks and the recorded PVM deviations.

export { createKvmBackend, isKvmAvailable, kvmModule, KvmBackend, KVM_DEVICE } from './system.ts';
export type { KvmAvailability, KvmBackendOptions } from './system.ts';
export { KvmVm } from './vm.ts';
export { KvmVcpu, DEFAULT_RUN_SLICE_MS, MAX_RUN_SLICE_MS } from './vcpu.ts';
export { describeDisagreement, OracleCheck } from './oracle.ts';
export type { ContractOracle, Disagreement, OracleOptions, Prediction } from './oracle.ts';
export { kvmExitName } from './exit.ts';
export { contractOracle, type ContractOracleOptions } from './contract-oracle.ts';
export type { OracleContext } from './oracle.ts';
export { PVM_DEVIATIONS, type PvmDeviation } from './pvm-deviations.ts';
