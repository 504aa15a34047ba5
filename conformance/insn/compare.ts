// Record-by-record comparison of two backends' runs of the instruction corpus: the outcome (completed,
// or the exception vector with its error code and faulting RIP, Intel SDM Vol. 3A §6.13), every GPR,
// RFLAGS with the case's undefined flags masked, and the case's scratch memory (data and stack).

import type { InsnCase } from './cases.ts';
import { NO_FAULT, OUT_ERROR, OUT_FRIP, OUT_SIZE, OUT_VECTOR, POISON, SCRATCH_SIZE, SLOT_RFLAGS, slotOf } from './layout.ts';
import type { BackendRun } from './run.ts';

export type Outcome =
  | { readonly kind: 'ok' }
  | { readonly kind: 'fault'; readonly vector: number; readonly error: bigint; readonly rip: bigint }
  /** the backend could not execute the case (e.g. KVM emulation failure) */
  | { readonly kind: 'unavailable'; readonly why: string }
  /** the record was never written (the run stopped early) */
  | { readonly kind: 'missing' };

const REG_NAMES = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];

function q(run: BackendRun, i: number, off: number): bigint {
  return new DataView(run.out.buffer, run.out.byteOffset).getBigUint64(i * OUT_SIZE + off, true);
}

export function outcomeOf(run: BackendRun, i: number): Outcome {
  const why = run.failed.get(i);
  if (why !== undefined) return { kind: 'unavailable', why };
  const v = q(run, i, OUT_VECTOR);
  if (v !== NO_FAULT) return { kind: 'fault', vector: Number(v), error: q(run, i, OUT_ERROR), rip: q(run, i, OUT_FRIP) };
  if (q(run, i, SLOT_RFLAGS * 8) === POISON) return { kind: 'missing' };
  return { kind: 'ok' };
}

export function formatOutcome(o: Outcome): string {
  switch (o.kind) {
    case 'ok':
      return 'completed';
    case 'fault':
      return `#${o.vector}`;
    case 'unavailable':
      return `cannot execute (${o.why})`;
    case 'missing':
      return 'not run';
  }
}

/** One field two backends disagree on. */
export interface FieldDiff {
  readonly field: string;
  readonly a: string;
  readonly b: string;
}

const h = (v: bigint): string => '0x' + v.toString(16);

/**
 * Compare case i of two runs (both must have an 'ok' or 'fault' outcome). Returns the fields that
 * differ, after masking what the case says is undefined.
 */
export function compareCase(c: InsnCase, i: number, a: BackendRun, b: BackendRun): FieldDiff[] {
  const oa = outcomeOf(a, i), ob = outcomeOf(b, i);
  const diffs: FieldDiff[] = [];
  if (oa.kind !== ob.kind || (oa.kind === 'fault' && ob.kind === 'fault' && oa.vector !== ob.vector)) {
    return [{ field: 'outcome', a: formatOutcome(oa), b: formatOutcome(ob) }];
  }
  const sa = a.scratch.subarray(i * SCRATCH_SIZE, (i + 1) * SCRATCH_SIZE);
  const sb = b.scratch.subarray(i * SCRATCH_SIZE, (i + 1) * SCRATCH_SIZE);
  if (oa.kind === 'fault' && ob.kind === 'fault') {
    if (oa.error !== ob.error) diffs.push({ field: 'error code', a: h(oa.error), b: h(ob.error) });
    if (oa.rip !== ob.rip) diffs.push({ field: 'fault rip', a: h(oa.rip), b: h(ob.rip) });
    // memory the faulting instruction must not have changed (the stack half holds the exception frame)
    for (let k = 0; k < SCRATCH_SIZE / 2; k++) if (sa[k] !== sb[k]) { diffs.push({ field: `mem[${k}]`, a: h(BigInt(sa[k]!)), b: h(BigInt(sb[k]!)) }); break; }
    return diffs;
  }
  for (let r = 0; r < 16; r++) {
    if (c.undefRegs & (1 << r)) continue;
    const va = q(a, i, slotOf(r) * 8), vb = q(b, i, slotOf(r) * 8);
    if (va !== vb) diffs.push({ field: REG_NAMES[r]!, a: h(va), b: h(vb) });
  }
  const fa = q(a, i, SLOT_RFLAGS * 8) & c.flagMask, fb = q(b, i, SLOT_RFLAGS * 8) & c.flagMask;
  if (fa !== fb) diffs.push({ field: 'rflags', a: h(fa), b: h(fb) });
  if (!c.undefMem) {
    for (let k = 0; k < SCRATCH_SIZE; k += 8) {
      const wa = new DataView(sa.buffer, sa.byteOffset + k, 8).getBigUint64(0, true);
      const wb = new DataView(sb.buffer, sb.byteOffset + k, 8).getBigUint64(0, true);
      if (wa !== wb) diffs.push({ field: `mem[${k}]`, a: h(wa), b: h(wb) });
    }
  }
  return diffs;
}
