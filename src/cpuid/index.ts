// Public surface of the CPUID policy engine (see README.md): the pipeline of spec
// shared/spec/kvm-contract.md §5, dump readers/writers, host capture, baseline/compare, explain.

export { buildGuestCpuid, supportedStage } from './pipeline.ts';
export type { GuestCpuid, GuestRequest } from './pipeline.ts';
export { parseCpuSpec } from './guest.ts';
export type { CpuSpec, CpuEdit } from './guest.ts';
export type { Explanation, ExplainStep } from './explain.ts';
export { describeReason, STAGES } from './reasons.ts';
export type { BackendName, Change, PolicyRefusal, Reason, Stage } from './reasons.ts';
export type { StageResult } from './stage.ts';
export { captureHost, loadHostDump } from './host.ts';
export type { HostCapture } from './host.ts';
export { detectFormat, readDumpFile, readDumpText } from './dumps/detect.ts';
export type { DumpFormat, ParsedDump, ReadOptions } from './dumps/format.ts';
export { writeCpuidR } from './dumps/cpuid-r.ts';
export { writeAida64 } from './dumps/aida64.ts';
export { writeKvmJson } from './dumps/kvm-json.ts';
export { KVM_INDEXED_LEAVES } from './dumps/indexed.ts';
export { computeBaseline } from './baseline.ts';
export type { BaselineHost, BaselineOptions, BaselineResult } from './baseline.ts';
export { comparePolicies } from './compare.ts';
export type { Comparison, PolicyInput } from './compare.ts';
export { policyToJson, readPolicy } from './policy.ts';
export type { CpuidPolicy } from './policy.ts';
export { MODELS, findModel, modelNames } from './models/index.ts';
export type { CpuModel } from './models/model.ts';
export { ERRATA, applicableErrata } from './errata/errata.ts';
