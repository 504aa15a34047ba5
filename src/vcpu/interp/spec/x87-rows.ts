// Instruction-table rows for the x87 FPU escapes D8-DF (Intel SDM Vol. 2 Appendix A Tables A-7..A-22,
// Vol. 1 Ch. 8). Rows with op 'X87' are placeholders: decoded for length (and #NM/#UD by CR0), reported
// as internal_error when executed (never guessed). Executed by src/vcpu/interp/x87.ts and, for the
// control instructions, by system.ts.

import type { InsnRow } from './table.ts';

const rows: InsnRow[] = [];
type Opt = Partial<Omit<InsnRow, 'mnemonic' | 'op' | 'map' | 'opcode' | 'operands'>>;
function x(mnemonic: string, op: string, opcode: number, operands: string, o: Opt = {}): void {
  rows.push({ mnemonic, op, map: '1', opcode, operands: operands === '' ? [] : operands.split(','), ...o });
}

// x87 escapes (SDM Table A-7..A-22): only the control instructions are executed now; the rest are
// listed so the decoder knows their length and reports them as unimplemented (not #UD).
for (let op = 0xd8; op <= 0xdf; op++) x('fpu', 'X87', op, 'Ev', { feature: 'fpu' });
x('fldcw', 'FLDCW', 0xd9, 'M', { digit: 5, mod: 'mem', feature: 'fpu' });
x('fnstcw', 'FNSTCW', 0xd9, 'M', { digit: 7, mod: 'mem', feature: 'fpu' });
x('fnstenv', 'X87', 0xd9, 'M', { digit: 6, mod: 'mem', feature: 'fpu' });
x('fnclex', 'FNCLEX', 0xdb, '', { digit: 4, mod: 'reg', rm: 2, feature: 'fpu' });
x('fninit', 'FNINIT', 0xdb, '', { digit: 4, mod: 'reg', rm: 3, feature: 'fpu' });
x('fnstsw', 'FNSTSW', 0xdd, 'M', { digit: 7, mod: 'mem', feature: 'fpu' });
x('fnstsw', 'FNSTSW', 0xdf, 'AX', { digit: 4, mod: 'reg', rm: 0, feature: 'fpu' });

export const X87_ROWS: readonly InsnRow[] = rows;
