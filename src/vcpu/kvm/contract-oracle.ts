// The KVM backend's prediction source: the architectural contract (src/contract/, spec/kvm-contract.md
// §1.6 KVM_SET_SREGS validation and §6 MSR gating) evaluated for the vCPU's guest CPUID, in the
// contract's 'kvmExact' mode, with KVM_GET_SUPPORTED_CPUID as the host-supported layer.

import { CpuidTable, type CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import {
  checkMsrWrite,
  checkSregs,
  deriveGuestModel,
  type ControlState,
  type GuestModel,
  type Verdict,
} from '../../contract/index.ts';
import type { ContractOracle, OracleContext, Prediction } from './oracle.ts';

export interface ContractOracleOptions {
  /** KVM_GET_SUPPORTED_CPUID, as the model's hostSupported layer */
  readonly supported?: readonly CpuidEntry[];
}

function toPrediction(v: Verdict): Prediction {
  return v.ok ? { ok: true } : { ok: false, rule: v.rule, reason: v.reason };
}

/** A ContractOracle backed by src/contract: checkSregs and checkMsrWrite({hostInitiated: true}). */
export function contractOracle(opts: ContractOracleOptions = {}): ContractOracle {
  const hostSupported = opts.supported ? CpuidTable.from(opts.supported) : undefined;
  // one model per CPUID table object (a vCPU keeps the same array until its next setCpuid)
  const models = new WeakMap<readonly CpuidEntry[], GuestModel>();
  const model = (cpuid: readonly CpuidEntry[]): GuestModel => {
    let m = models.get(cpuid);
    if (!m) {
      m = deriveGuestModel(CpuidTable.from(cpuid), { mode: 'kvmExact', hostSupported });
      models.set(cpuid, m);
    }
    return m;
  };
  const controlState = (ctx: OracleContext): ControlState => {
    const s = ctx.sregs();
    return { cr0: s.cr0, cr3: s.cr3, cr4: s.cr4, efer: s.efer, xcr0: ctx.xcr0(), csL: s.cs.l, cpl: s.ss.dpl };
  };
  return {
    predictSetSregs(ctx, sregs) {
      return toPrediction(checkSregs(model(ctx.cpuid), sregs, { currentApicBase: ctx.sregs().apicBase }));
    },
    predictSetMsr(ctx, index, value) {
      return toPrediction(
        checkMsrWrite(model(ctx.cpuid), controlState(ctx), index, value, {
          hostInitiated: true,
          current: ctx.msr(index),
          vcpuHasRun: ctx.hasRun,
        }),
      );
    },
  };
}
