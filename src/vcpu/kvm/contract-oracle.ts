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
  type KvmModule,
  type Verdict,
} from '../../contract/index.ts';
import type { ContractOracle, OracleContext, Prediction } from './oracle.ts';

export interface ContractOracleOptions {
  /** KVM_GET_SUPPORTED_CPUID, as the model's hostSupported layer */
  readonly supported?: readonly CpuidEntry[];
  /** which vendor module runs KVM here (its MSR rules differ: DEBUGCTL, UCODE_REV…); default from the guest vendor */
  readonly kvmModule?: KvmModule;
  /** KVM_GET_MSR_INDEX_LIST ∪ KVM_GET_MSR_FEATURE_INDEX_LIST: the MSRs userspace may always read / write 0 */
  readonly advertised?: ReadonlySet<number>;
  /** KVM_SET_SREGS validates EFER (the 2026 kvm_is_valid_sregs patch; spec §1.6); false on older kernels */
  readonly sregsEferCheck?: boolean;
}

/** The KVM vendor module loaded on this host, from /sys/module (undefined when unknown). */
export function detectKvmModule(exists: (path: string) => boolean): KvmModule | undefined {
  for (const m of ['kvm_pvm', 'kvm_intel', 'kvm_amd'] as const) if (exists(`/sys/module/${m}`)) return m;
  return undefined;
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
      m = deriveGuestModel(CpuidTable.from(cpuid), {
        mode: 'kvmExact',
        hostSupported,
        ...(opts.kvmModule ? { kvmModule: opts.kvmModule } : {}),
        ...(opts.sregsEferCheck !== undefined ? { sregsEferCheck: opts.sregsEferCheck } : {}),
      });
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
          apicBase: ctx.sregs().apicBase,
          // tsvmm creates no in-kernel irqchip: x2APIC MSRs are not KVM's to answer
          lapicInKernel: false,
          ...(opts.advertised ? { advertised: opts.advertised } : {}),
        }),
      );
    },
  };
}
