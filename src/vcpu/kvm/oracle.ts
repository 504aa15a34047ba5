// The contract "oracle check" layer of the KVM backend: before KVM_SET_SREGS / KVM_SET_MSRS the
// backend asks the contract (src/contract/, spec/kvm-contract.md §1.6, §3, §6) whether the value is
// legal for the vCPU's guest CPUID, then compares that prediction with what KVM actually did.
// KVM is the hardware oracle here; every difference is recorded as a Disagreement.
//
//   mode 'observe': KVM decides; a contract refusal that KVM also refuses is reported with the
//                   contract's reason; a disagreement is only recorded.
//   mode 'enforce': additionally, a value the contract refuses but KVM accepted is rolled back
//                   (the previous sregs / MSR value restored) and refused with the contract's reason.

import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import type { Sregs } from '../backend.ts';

/** The contract's answer, reduced to what the backend needs (contract/api.ts Verdict fits it). */
export type Prediction =
  { readonly ok: true } | { readonly ok: false; readonly rule: string; readonly reason: string };

/** What a prediction may look at: the guest CPUID the VMM set, and the vCPU's current state (lazily). */
export interface OracleContext {
  /** the table passed to the last setCpuid() (empty before) — not KVM's possibly rewritten copy */
  readonly cpuid: readonly CpuidEntry[];
  /** KVM_RUN has been called on this vCPU */
  readonly hasRun: boolean;
  sregs(): Sregs;
  xcr0(): bigint;
  /** the MSR's current value, or undefined when KVM cannot read it */
  msr(index: number): bigint | undefined;
}

export interface ContractOracle {
  /** Would KVM_SET_SREGS accept `sregs`? */
  predictSetSregs(ctx: OracleContext, sregs: Sregs): Prediction;
  /** Would a host-initiated KVM_SET_MSRS of (index, value) be accepted? */
  predictSetMsr(ctx: OracleContext, index: number, value: bigint): Prediction;
}

export type KvmOutcome = { readonly ok: true } | { readonly ok: false; readonly code: string };

export interface Disagreement {
  readonly vcpu: number;
  readonly op: 'KVM_SET_SREGS' | 'KVM_SET_MSRS';
  /** what was written, e.g. "cr4=0x2020 efer=0x0" or "msr 0x10a=0x0" */
  readonly input: string;
  readonly predicted: Prediction;
  readonly kvm: KvmOutcome;
}

export interface OracleOptions {
  readonly oracle: ContractOracle;
  readonly mode?: 'observe' | 'enforce';
  readonly onDisagreement?: (d: Disagreement) => void;
}

/** Holds the options and the disagreement log shared by all vCPUs of one backend. */
export class OracleCheck {
  readonly log: Disagreement[] = [];
  readonly mode: 'observe' | 'enforce';

  constructor(readonly options: OracleOptions) {
    this.mode = options.mode ?? 'observe';
  }

  predictSregs(ctx: OracleContext, sregs: Sregs): Prediction {
    return safePredict(() => this.options.oracle.predictSetSregs(ctx, sregs));
  }

  predictMsr(ctx: OracleContext, index: number, value: bigint): Prediction {
    return safePredict(() => this.options.oracle.predictSetMsr(ctx, index, value));
  }

  /** Record a disagreement if prediction and outcome differ; returns true when they do. */
  compare(
    vcpu: number,
    op: Disagreement['op'],
    input: string,
    predicted: Prediction,
    kvm: KvmOutcome,
  ): boolean {
    if (predicted.ok === kvm.ok) return false;
    const d: Disagreement = { vcpu, op, input, predicted, kvm };
    this.log.push(d);
    this.options.onDisagreement?.(d);
    return true;
  }
}

/** A contract that throws is a bug in the contract, not a KVM refusal: report it as a prediction. */
function safePredict(f: () => Prediction): Prediction {
  try {
    return f();
  } catch (e) {
    return { ok: false, rule: 'contract.threw', reason: `the contract check threw: ${(e as Error).message}` };
  }
}

export function describeDisagreement(d: Disagreement): string {
  const pred = d.predicted.ok
    ? 'contract: accept'
    : `contract: refuse (${d.predicted.rule}: ${d.predicted.reason})`;
  const kvm = d.kvm.ok ? 'KVM: accepted' : `KVM: refused with ${d.kvm.code}`;
  return `vcpu ${d.vcpu} ${d.op} ${d.input}: ${pred}; ${kvm}`;
}
