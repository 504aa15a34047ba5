// Instruction-table rows for the integer SIMD instructions: MMX, SSE2 integer, SSSE3, SSE4.1/4.2
// integer and string forms (Intel SDM Vol. 2 Appendix A Tables A-3..A-5 and the per-instruction pages).
// Rows with op 'SSE' are placeholders: decoded for length and CPUID gating, reported as internal_error
// when executed (never guessed). Executed by src/vcpu/interp/simd-int.ts.

import type { InsnRow } from './table.ts';

const rows: InsnRow[] = [];
const two = (op: number, operands: string[], feature: string): void => {
  rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F', opcode: op, operands, feature });
};
// 0F 60-7F (MMX / SSE2 integer; 77 EMMS), 0F C4/C5 (PINSRW/PEXTRW), 0F D1-FF except D0 and E6
for (let op = 0x60; op <= 0x7f; op++) if (op !== 0x77) two(op, op >= 0x70 && op <= 0x73 ? ['Ev', 'Ib'] : ['Ev'], 'xmm');
rows.push({ mnemonic: 'emms', op: 'SSE', map: '0F', opcode: 0x77, operands: [], feature: 'mmx' });
for (const op of [0xc4, 0xc5]) two(op, ['Ev', 'Ib'], 'xmm');
for (let op = 0xd1; op <= 0xfe; op++) if (op !== 0xe6) two(op, ['Ev'], 'xmm2');
// 0F 38 (SSSE3 00-0B, 1C-1E; SSE4.1 integer 17, 20-2B, 30-41), CRC32 (SSE4.2)
const ssse3 = [0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x1c, 0x1d, 0x1e];
const sse41 = [0x17, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x28, 0x29, 0x2a, 0x2b, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35];
for (let op = 0x38; op <= 0x41; op++) sse41.push(op);
for (const op of ssse3) rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F38', opcode: op, operands: ['Ev'], feature: 'ssse3' });
for (const op of sse41) rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F38', opcode: op, operands: ['Ev'], feature: 'sse4_1' });
rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F38', opcode: 0x37, operands: ['Ev'], feature: 'sse4_2' });
rows.push({ mnemonic: 'crc32', op: 'SSE', map: '0F38', opcode: 0xf0, operands: ['Gy', 'Eb'], prefix: 'F2', feature: 'sse4_2' });
rows.push({ mnemonic: 'crc32', op: 'SSE', map: '0F38', opcode: 0xf1, operands: ['Gy', 'Ev'], prefix: 'F2', feature: 'sse4_2' });
// 0F 3A integer forms: PALIGNR 0F (SSSE3); PBLENDW 0E, PEXTRB/W/D/Q 14-16, PINSRB/D/Q 20/22, MPSADBW 42
// (SSE4.1); PCMPESTRM/ESTRI/ISTRM/ISTRI 60-63 (SSE4.2)
for (const op of [0x0e, 0x0f, 0x14, 0x15, 0x16, 0x20, 0x22, 0x42])
  rows.push({ mnemonic: 'sse', op: 'SSE', map: '0F3A', opcode: op, operands: ['Ev', 'Ib'], feature: op === 0x0f ? 'ssse3' : 'sse4_1' });
for (const op of [0x60, 0x61, 0x62, 0x63])
  rows.push({ mnemonic: 'pcmpstr', op: 'SSE', map: '0F3A', opcode: op, operands: ['Ev', 'Ib'], prefix: '66', feature: 'sse4_2' });

export const SIMD_INT_ROWS: readonly InsnRow[] = rows;
