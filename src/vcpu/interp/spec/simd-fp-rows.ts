// Instruction-table rows for the floating-point SSE instructions: SSE, SSE2, SSE3 and SSE4.1 single and
// double precision arithmetic, comparisons, conversions, shuffles and moves (Intel SDM Vol. 2
// Appendix A Tables A-3..A-5 and the per-instruction pages). Rows with op 'SSE' are placeholders:
// decoded for length and CPUID gating, reported as internal_error when executed (never guessed).
// Executed by src/vcpu/interp/simd-fp.ts.

import type { InsnRow } from './table.ts';

const rows: InsnRow[] = [];
const two = (op: number, operands: string[], feature: string): void => {
  rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F', opcode: op, operands, feature });
};
for (const op of [0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x28, 0x29, 0x2a, 0x2b, 0x2c, 0x2d, 0x2e, 0x2f])
  two(op, ['Ev'], 'xmm');
for (let op = 0x50; op <= 0x5f; op++) two(op, ['Ev'], 'xmm');
for (const op of [0x7c, 0x7d]) two(op, ['Ev'], 'pni');
for (const op of [0xc2, 0xc6]) two(op, ['Ev', 'Ib'], 'xmm');
for (const op of [0xd0, 0xe6]) two(op, ['Ev'], 'xmm2');
rows.push({ mnemonic: 'lddqu', op: 'SSE', map: '0F', opcode: 0xf0, operands: ['Ev'], prefix: 'F2', feature: 'pni' });
// 0F 38 BLENDVPS/PD/PBLENDVB 10/14/15 (SSE4.1; 10 PBLENDVB is integer but shares the XMM0 mask form)
for (const op of [0x10, 0x14, 0x15]) rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F38', opcode: op, operands: ['Ev'], feature: 'sse4_1' });
// 0F 3A ROUNDPS/PD/SS/SD 08-0B, BLENDPS/PD 0C/0D, EXTRACTPS 17, INSERTPS 21, DPPS/DPPD 40/41 (SSE4.1)
for (const op of [0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x17, 0x21, 0x40, 0x41])
  rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F3A', opcode: op, operands: ['Ev', 'Ib'], feature: 'sse4_1' });

export const SIMD_FP_ROWS: readonly InsnRow[] = rows;
