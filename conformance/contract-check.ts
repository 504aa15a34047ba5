// Contract cross-check for conformance report lines: for each line whose write can be reconstructed
// from its name and detail (cr4 "bitN", efer "bitN", xcr0 "value=…", msr "rdmsr(…)"/"wrmsr(…,…)",
// cr3/cr8/dr6/dr7 "<reg>=value"),
// ask the contract layer (src/contract, the rules of shared/spec/kvm-contract.md) what the write must
// raise, and compare with what the guest program expected and what the backend did. The runner prints
// every disagreement with both sides and the contract's rule and reason (issue 4 "Done when").

import type { CpuidTable } from '../src/arch/x86/cpuid/table.ts';
import {
  checkCr0Write,
  checkCr3Write,
  checkCr4Write,
  checkCr8Write,
  checkDr6Write,
  checkDr7Write,
  checkEferWrite,
  checkMsrRead,
  checkMsrWrite,
  checkXsetbv,
  deriveGuestModel,
  type ControlState,
  type KvmModule,
  type GuestModel,
  type Verdict,
} from '../src/contract/index.ts';
import type { ReportLine } from './report.ts';

/** The control state the programs run their checks from (guest/desc.c, programs/*.c). */
const CR0 = 0x8001_0033n; // PG | WP | NE | ET | MP | PE
const CR4_BASE = 0x20n; // PAE
const EFER_BASE = 0x500n; // LMA | LME
const CR4_OSXSAVE = 1n << 18n;
const CR0_WP = 1n << 16n;
const BASE_STATE: ControlState = { cr0: CR0, cr3: 0x1000n, cr4: CR4_BASE, efer: EFER_BASE, xcr0: 1n, csL: true, cpl: 0 };

export interface ContractComparison {
  readonly name: string;
  /** what the contract says the guest sees: 'ok', '#GP' or '#UD' */
  readonly contract: string;
  readonly rule?: string;
  readonly reason?: string;
  /** the program's expect= and the backend's got= */
  readonly expect?: string;
  readonly got?: string;
}

function outcome(v: Verdict): Pick<ContractComparison, 'contract' | 'rule' | 'reason'> {
  return v.ok ? { contract: 'ok' } : { contract: `#${v.fault}`, rule: v.rule, reason: v.reason };
}

/** What the contract needs about the backend beside the CPUID. */
export interface PredictContext {
  /** KVM_GET_MSR_INDEX_LIST of the KVM backend (rows KVM probes on the host exist only when listed) */
  readonly advertised?: ReadonlySet<number>;
  /** the VMM created an in-kernel local APIC (KVM_CREATE_IRQCHIP); some KVM PV MSRs need one */
  readonly lapicInKernel?: boolean;
}

/** The contract's verdict for one report line, or undefined when the line's write can't be reconstructed. */
export function predictLine(model: GuestModel, line: ReportLine, ctx: PredictContext = {}): Verdict | undefined {
  const d = line.detail;
  let m: RegExpExecArray | null;
  if (line.name.startsWith('cr0.')) {
    if (line.name === 'cr0.CD-NW') return checkCr0Write(model, BASE_STATE, CR0 | (3n << 29n));
    if ((m = /^bit(\d+)( clear)?(?: |$)/.exec(d))) {
      const bit = 1n << BigInt(m[1]!);
      return checkCr0Write(model, BASE_STATE, m[2] ? CR0 & ~bit : CR0 | bit);
    }
    return undefined;
  }
  if (line.name.startsWith('cr4.')) {
    if (line.name === 'cr4.PCIDE.cr3-low-bits')
      return checkCr4Write(model, { ...BASE_STATE, cr3: BASE_STATE.cr3 | 8n }, CR4_BASE | (1n << 17n));
    if (line.name === 'cr4.CET.needs-WP') return checkCr4Write(model, { ...BASE_STATE, cr0: CR0 & ~CR0_WP }, CR4_BASE | (1n << 23n));
    if ((m = /^bit(\d+)( clear)?(?: |$)/.exec(d))) {
      const bit = 1n << BigInt(m[1]!);
      return checkCr4Write(model, BASE_STATE, m[2] ? CR4_BASE & ~bit : CR4_BASE | bit);
    }
    return undefined;
  }
  if ((m = /^(cr3|cr8|dr6|dr7)\./.exec(line.name))) {
    const reg = m[1]!;
    const v = new RegExp(`(?:^| )${reg}=(0x[0-9a-f]+)(?: |$)`).exec(d);
    if (!v) return undefined;
    const value = BigInt(v[1]!);
    if (reg === 'cr3') return checkCr3Write(model, { ...BASE_STATE, cr3: value & 0xfffff000n }, value);
    if (reg === 'cr8') return checkCr8Write(model, BASE_STATE, value);
    if (reg === 'dr6') return checkDr6Write(model, BASE_STATE, value);
    return checkDr7Write(model, BASE_STATE, value);
  }
  if (line.name.startsWith('efer.')) {
    if ((m = /^bit(\d+)( clear)?(?: |$)/.exec(d))) {
      const bit = 1n << BigInt(m[1]!);
      return checkEferWrite(model, BASE_STATE, m[2] ? EFER_BASE & ~bit : EFER_BASE | bit);
    }
    return undefined;
  }
  if (line.name.startsWith('xcr0.')) {
    const osx = { ...BASE_STATE, cr4: CR4_BASE | CR4_OSXSAVE };
    if (line.name === 'xcr0.ud-without-osxsave' || line.name === 'xcr0.ud-after-clearing-osxsave')
      return checkXsetbv(model, BASE_STATE, { cpl: 0, ecx: 0, value: 1n });
    if (line.name === 'xcr0.ecx-nonzero') return checkXsetbv(model, osx, { cpl: 0, ecx: 1, value: 1n });
    if ((m = /^bit(\d+) /.exec(d))) return checkXsetbv(model, osx, { cpl: 0, ecx: 0, value: 1n | (1n << BigInt(m[1]!)) });
    if ((m = /^value=(0x[0-9a-f]+)(?: |$)/.exec(d))) return checkXsetbv(model, osx, { cpl: 0, ecx: 0, value: BigInt(m[1]!) });
    return undefined;
  }
  if (line.name.startsWith('msr.')) {
    const adv = {
      ...(ctx.advertised ? { advertised: ctx.advertised } : {}),
      ...(ctx.lapicInKernel !== undefined ? { lapicInKernel: ctx.lapicInKernel } : {}),
    };
    if ((m = /^rdmsr\((0x[0-9a-f]+)\)/.exec(d))) return checkMsrRead(model, Number(m[1]), adv);
    if ((m = /^wrmsr\((0x[0-9a-f]+),(0x[0-9a-f]+)\)/.exec(d))) return checkMsrWrite(model, BASE_STATE, Number(m[1]), BigInt(m[2]!), adv);
    return undefined;
  }
  return undefined;
}

/**
 * Compare every reconstructible line (also returns, per line name, the contract rule id of a refusal:
 * the coverage listing uses it) with the contract under `cpuid` (the vCPU's table). Returns the
 * number of lines compared and the disagreements (contract ≠ got, or contract ≠ expect).
 */
export function compareWithContract(
  lines: readonly ReportLine[],
  cpuid: CpuidTable,
  mode: 'kvmExact' | 'architectural' = 'kvmExact',
  kvmModule?: KvmModule,
  ctx: PredictContext = {},
): { compared: number; disagreements: ContractComparison[]; rules: Map<string, string>; predictions: Map<string, ContractComparison>; error?: string } {
  let model: GuestModel;
  const rules = new Map<string, string>();
  const predictions = new Map<string, ContractComparison>();
  try {
    model = deriveGuestModel(cpuid, { mode, ...(kvmModule ? { kvmModule } : {}) });
  } catch (e) {
    return { compared: 0, disagreements: [], rules, predictions, error: `the contract could not model this CPUID: ${(e as Error).message}` };
  }
  let compared = 0;
  const disagreements: ContractComparison[] = [];
  for (const line of lines) {
    if (line.verdict === 'SKIP' || line.got === undefined) continue;
    let v: Verdict | undefined;
    try {
      v = predictLine(model, line, ctx);
    } catch (e) {
      disagreements.push({ name: line.name, contract: 'error', reason: (e as Error).message });
      continue;
    }
    if (!v) continue;
    compared++;
    const c = outcome(v);
    if (!v.ok) rules.set(line.name, v.rule);
    predictions.set(line.name, { name: line.name, ...c });
    if (c.contract !== line.got || (line.expect !== undefined && c.contract !== line.expect)) {
      disagreements.push({ name: line.name, ...c, ...(line.expect !== undefined ? { expect: line.expect } : {}), got: line.got });
    }
  }
  return { compared, disagreements, rules, predictions };
}

/**
 * Lines a guest could not decide (`expect=contract`: e.g. an MSR whose existence depends on the PMU
 * counter count or the MCE bank layout) are judged here: the expectation becomes the contract's verdict
 * under the vCPU's CPUID, and the line passes iff the backend's outcome matches it. Other lines are
 * returned unchanged. A line the contract cannot reconstruct fails, naming why.
 */
export function resolveContractExpectations(
  lines: readonly ReportLine[],
  cpuid: CpuidTable,
  mode: 'kvmExact' | 'architectural' = 'kvmExact',
  kvmModule?: KvmModule,
  ctx: PredictContext = {},
): ReportLine[] {
  if (!lines.some((l) => l.expect === 'contract')) return [...lines];
  let model: GuestModel | undefined;
  let why = '';
  try {
    model = deriveGuestModel(cpuid, { mode, ...(kvmModule ? { kvmModule } : {}) });
  } catch (e) {
    why = (e as Error).message;
  }
  return lines.map((l) => {
    if (l.expect !== 'contract' || l.verdict === 'SKIP') return l;
    let v: Verdict | undefined;
    try {
      v = model ? predictLine(model, l, ctx) : undefined;
    } catch (e) {
      why = (e as Error).message;
    }
    if (!v) return { ...l, verdict: 'FAIL', detail: `${l.detail} (the contract could not judge this line${why ? `: ${why}` : ''})` };
    const c = outcome(v);
    const ok = c.contract === l.got;
    return {
      ...l,
      verdict: ok ? 'PASS' : 'FAIL',
      expect: c.contract,
      detail: l.detail.replace('expect=contract', `expect=${c.contract}`) + (c.rule ? ` by-contract=${c.rule}` : ' by-contract'),
    };
  });
}
