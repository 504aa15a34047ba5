// `tsvmm test --insn`: the instruction corpus (corpus.ts) as a command: creates the backends asked
// for, runs the corpus, and returns the report lines and the pass/fail/skip counts of the summary line.

import { createInterpBackend } from '../../src/vcpu/interp/index.ts';
import { createKvmBackend, isKvmAvailable } from '../../src/vcpu/kvm/index.ts';
import { formatInsnReport, runInsnCorpus } from './corpus.ts';
import { haveGcc } from './native.ts';

export interface InsnSuiteResult {
  readonly lines: string[];
  readonly counts: { readonly passed: number; readonly failed: number; readonly skipped: number };
}

/**
 * Counting: every general-purpose row compared on both backends passes;
 * rows KVM cannot execute or run on the interpreter only are skipped; an uncovered row, an unexplained
 * disagreement, an interpreter/host-CPU disagreement or a case the interpreter cannot run fails.
 */
export function runInsnSuite(o: { readonly backends: readonly string[]; readonly verbose?: boolean }): InsnSuiteResult {
  const avail = isKvmAvailable();
  const kvm = !o.backends.includes('kvm') ? { unavailable: 'not requested (--backend interp)' } : avail.ok ? createKvmBackend() : { unavailable: avail.reason };
  const r = runInsnCorpus({ interp: createInterpBackend({ budget: 5_000_000 }), kvm, native: haveGcc() });
  let passed = 0, skipped = 0;
  for (const c of r.coverage) {
    if (c.status === 'compared') passed++;
    else if (c.status === 'kvm-cannot-execute' || c.status === 'interp-only') skipped++;
  }
  const failed = r.uncovered.length + r.unexplained.length + r.hostDisagreements.length + r.interpFailed.length;
  return { lines: formatInsnReport(r, o.verbose).split('\n'), counts: { passed, failed, skipped } };
}
