// Coverage of the contract by the conformance programs (issue 7 "Done when"): the rule list is derived
// from the contract itself — every row of the register bit tables (CR0, CR4, EFER, XCR0, XSS:
// src/arch/x86/registers) and of the MSR table (src/arch/x86/msr), and every refusal rule id the
// contract modules can answer with (the `rule` of a Refusal, read from src/contract's sources) — and a
// rule is covered by the programs whose report lines exercised it:
//   - a bit/MSR row `cr4.SMEP`, `msr.IA32_PAT`: a line named `cr4.SMEP` or `msr.IA32_PAT.<anything>`;
//   - a refusal rule `cr4.reserved`: a line the contract cross-check predicts that refusal for
//     (contract-check.ts), or a line whose detail carries `rule=cr4.reserved`.
// Lines reported SKIP with a `rule=` token count as "skipped only" (the program has the check; no
// backend here offers the feature it needs). Rules no guest can observe are listed with the reason.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CR0_BITS } from '../src/arch/x86/registers/cr0.ts';
import { CR4_BITS } from '../src/arch/x86/registers/cr4.ts';
import { EFER_BITS } from '../src/arch/x86/registers/efer.ts';
import { XCR0_BITS } from '../src/arch/x86/registers/xcr0.ts';
import { XSS_BITS } from '../src/arch/x86/registers/xss.ts';
import { MSR_TABLE } from '../src/arch/x86/msr/table.ts';
import { msrCheckName } from '../tools/gen/conformance-bits.ts';
import { REPO_ROOT, type CellResult } from './runner.ts';

export interface ContractRule {
  readonly id: string;
  readonly kind: 'bit' | 'msr' | 'rule';
  /** where the rule comes from */
  readonly source: string;
}

/** The contract modules whose refusals the guest path can produce (and the host-path ones). */
const RULE_SOURCES = ['cr.ts', 'efer.ts', 'xsave.ts', 'msr.ts', 'dr.ts', 'sregs.ts', 'vmx.ts'];
const RULE_ID = /'((?:cr0|cr3|cr4|cr8|efer|xcr0|xsetbv|xss|msr|apic-base|feat-ctl|misc-enable|dr6|dr7|pdpte|sregs|vmx)\.[a-z0-9]+(?:-[a-z0-9]+)*)'/g;

/** Rule ids in contract source text (exported for tests). */
export function ruleIdsIn(text: string): string[] {
  return [...new Set([...text.matchAll(RULE_ID)].map((m) => m[1]!))].sort();
}

/** Rules a guest program cannot observe, with the reason (they are unit-tested in src/contract). */
export const NOT_GUEST_OBSERVABLE: Readonly<Record<string, string>> = {
  'sregs.cs-l-outside-long-mode': 'KVM_SET_SREGS (userspace) check',
  'sregs.lma-without-paging': 'KVM_SET_SREGS (userspace) check',
  'sregs.long-mode-needs-lma': 'KVM_SET_SREGS (userspace) check',
  'sregs.long-mode-needs-pae': 'KVM_SET_SREGS (userspace) check',
  'pdpte.count': 'userspace PDPTE load (KVM_SET_SREGS2)',
  'pdpte.reserved': 'needs 32-bit PAE paging; the guest library runs in long mode',
  'msr.immutable-after-run': 'userspace KVM_SET_MSRS after the first KVM_RUN',
  'xss.not-advertised': 'userspace KVM_SET_MSRS of IA32_XSS = 0 without XSAVES',
  'cr4.vmxe-in-smm': 'needs SMM, which no tsvmm backend enters',
  'cr0.vmx-fixed': 'needs VMX operation (VMXON) inside the guest: no nested VMX on these backends',
  'cr4.vmx-fixed': 'needs VMX operation (VMXON) inside the guest: no nested VMX on these backends',
  'cr0.pg-lme-cs-l': 'needs a guest outside long mode turning paging on (only the multiboot32 entry does, positively)',
  'cr0.pg-lme-without-pae': 'needs a guest outside long mode turning paging on (only the multiboot32 entry does, positively)',
  'cr4.pcide-without-lma': 'needs a guest outside long mode',
};

/** Every rule of the contract, derived from its tables and sources. */
export function contractRules(root = REPO_ROOT): ContractRule[] {
  const rules: ContractRule[] = [];
  const bits = (reg: string, rows: readonly { name: string }[], file: string): void => {
    for (const r of rows) rules.push({ id: `${reg}.${r.name}`, kind: 'bit', source: `src/arch/x86/registers/${file}` });
  };
  bits('cr0', CR0_BITS, 'cr0.ts');
  bits('cr4', CR4_BITS, 'cr4.ts');
  bits('efer', EFER_BITS, 'efer.ts');
  bits('xcr0', XCR0_BITS, 'xcr0.ts');
  bits('xss', XSS_BITS, 'xss.ts');
  for (const d of MSR_TABLE) rules.push({ id: `msr.${msrCheckName(d)}`, kind: 'msr', source: 'src/arch/x86/msr/table.ts' });
  const seen = new Set(rules.map((r) => r.id));
  for (const f of RULE_SOURCES) {
    const text = readFileSync(join(root, 'src/contract', f), 'utf8');
    for (const id of ruleIdsIn(text)) {
      if (seen.has(id)) continue;
      seen.add(id);
      rules.push({ id, kind: 'rule', source: `src/contract/${f}` });
    }
  }
  return rules;
}

export interface RuleCoverage {
  readonly rule: ContractRule;
  /** programs with an executed line exercising it */
  readonly programs: readonly string[];
  /** programs that have the check but only reported it SKIP */
  readonly skippedIn: readonly string[];
  /** set when no guest can observe the rule */
  readonly notObservable?: string;
  /** set when only a backend that did not run here can exercise the rule */
  readonly needsBackend?: string;
}

/**
 * Rules only one backend's configuration can exercise. When that backend is unavailable (no /dev/kvm)
 * they are listed as such instead of failing the run as uncovered.
 */
export const BACKEND_ONLY: Readonly<Record<string, { backend: string; why: string }>> = {
  'msr.write-only': {
    backend: 'kvm',
    why: 'the only write-only MSRs are KVM paravirtual ones (MSR_KVM_WALL_CLOCK*), which the interpreter does not offer',
  },
  'xcr0.avx-without-sse': {
    backend: 'kvm',
    why:
      'needs a guest offered AVX (XCR0 bit 2 valid); the interpreter executes no VEX SIMD, so it does not offer AVX and ' +
      'XCR0 bit 2 is refused there as unsupported instead',
  },
  'msr.not-implemented-by-host': {
    backend: 'kvm',
    why: "decided by KVM_GET_MSR_INDEX_LIST of the host's KVM; the interpreter implements every MSR it advertises",
  },
};

export interface CoverageReport {
  readonly rules: readonly RuleCoverage[];
  /** rules with no program at all (neither executed nor skipped), excluding not-observable ones */
  readonly uncovered: readonly string[];
}

const RULE_TOKEN = /(?:^| )rule=([a-z0-9-]+\.[a-z0-9.-]+)/g;

/** Which rules the cells' report lines exercised. */
export function computeCoverage(
  cells: readonly CellResult[],
  rules: readonly ContractRule[] = contractRules(),
  /** backends that could not run here (their BACKEND_ONLY rules are not counted uncovered) */
  unavailableBackends: ReadonlySet<string> = new Set(),
): CoverageReport {
  const ran = new Map<string, Set<string>>();
  const skipped = new Map<string, Set<string>>();
  const add = (m: Map<string, Set<string>>, id: string, program: string): void => {
    let s = m.get(id);
    if (!s) m.set(id, (s = new Set()));
    s.add(program);
  };
  const rowIds = rules.filter((r) => r.kind !== 'rule').map((r) => r.id);
  for (const c of cells) {
    for (const l of c.lines) {
      const target = l.line.verdict === 'SKIP' ? skipped : ran;
      const name = l.line.name;
      for (const id of rowIds) if (name === id || name.startsWith(id + '.')) add(target, id, c.program);
      for (const m of l.line.detail.matchAll(RULE_TOKEN)) add(target, m[1]!, c.program);
      const predicted = c.contract.rules.get(name);
      if (predicted && l.line.verdict !== 'SKIP') add(ran, predicted, c.program);
    }
  }
  const out: RuleCoverage[] = rules.map((rule) => {
    const programs = [...(ran.get(rule.id) ?? [])].sort();
    const skippedIn = [...(skipped.get(rule.id) ?? [])].filter((p) => !programs.includes(p)).sort();
    const no = NOT_GUEST_OBSERVABLE[rule.id];
    const only = BACKEND_ONLY[rule.id];
    const needs = only && unavailableBackends.has(only.backend) ? `${only.backend} backend (not run here): ${only.why}` : undefined;
    return { rule, programs, skippedIn, ...(no ? { notObservable: no } : {}), ...(needs ? { needsBackend: needs } : {}) };
  });
  const uncovered = out
    .filter((r) => !r.programs.length && !r.skippedIn.length && !r.notObservable && !r.needsBackend)
    .map((r) => r.rule.id);
  return { rules: out, uncovered };
}

/** The coverage listing: one line per rule (rule → programs). */
export function formatCoverage(c: CoverageReport): string[] {
  const out = ['coverage (contract rule → programs):'];
  const w = Math.max(...c.rules.map((r) => r.rule.id.length));
  for (const r of c.rules) {
    let what: string;
    if (r.programs.length) what = r.programs.join(' ');
    else if (r.skippedIn.length) what = `(skipped only: ${r.skippedIn.join(' ')} — the feature is absent on every backend here)`;
    else if (r.notObservable) what = `(not guest-observable: ${r.notObservable})`;
    else if (r.needsBackend) what = `(needs the ${r.needsBackend})`;
    else what = 'UNCOVERED';
    out.push(`  ${r.rule.id.padEnd(w)}  ${what}`);
  }
  const n = c.rules.filter((r) => r.programs.length).length;
  out.push(
    `coverage: ${n}/${c.rules.length} rules exercised, ${c.rules.filter((r) => !r.programs.length && r.skippedIn.length).length} skipped only, ` +
      `${c.rules.filter((r) => !r.programs.length && !r.skippedIn.length && r.notObservable).length} not guest-observable, ` +
      `${c.rules.filter((r) => !r.programs.length && !r.skippedIn.length && !r.notObservable && r.needsBackend).length} need a backend not run here, ${c.uncovered.length} uncovered` +
      (c.uncovered.length ? `: ${c.uncovered.join(' ')}` : ''),
  );
  return out;
}
