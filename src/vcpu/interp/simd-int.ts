// Integer SIMD execution: MMX, SSE2 integer, SSSE3, SSE4.1/SSE4.2 integer and string instructions
// (Intel SDM Vol. 1 Ch. 9-12, Vol. 2 per-instruction pages). Rows: spec/simd-int-rows.ts.
// Called from execSystem for every op it does not handle itself.

import type { Cpu } from './cpu.ts';

/** Execute `op` if it is an integer SIMD op; false when the op is not one of ours. */
export function execSimdInt(_c: Cpu, _op: number): boolean {
  return false;
}
