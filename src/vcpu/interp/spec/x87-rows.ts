// Instruction-table rows for the x87 FPU escapes D8-DF (Intel SDM Vol. 2 Appendix A Tables A-7..A-22,
// Vol. 1 Ch. 8). Rows with op 'X87' are placeholders: decoded for length (and #NM/#UD by CR0), reported
// as internal_error when executed (never guessed). Executed by src/vcpu/interp/x87.ts (ops FPU_M =
// memory form, FPU_R = register form; arg = (escape - D8h) * 8 + ModRM.reg) and, for the control
// instructions, by system.ts.

import type { InsnRow } from './table.ts';

const rows: InsnRow[] = [];
type Opt = Partial<Omit<InsnRow, 'mnemonic' | 'op' | 'map' | 'opcode' | 'operands'>>;
function x(mnemonic: string, op: string, opcode: number, operands: string, o: Opt = {}): void {
  rows.push({ mnemonic, op, map: '1', opcode, operands: operands === '' ? [] : operands.split(','), ...o });
}
/** an executed memory form (escape, ModRM.reg) */
function m(mnemonic: string, esc: number, digit: number, feature = 'fpu'): void {
  x(mnemonic, 'FPU_M', esc, 'M', { digit, mod: 'mem', feature, arg: (esc - 0xd8) * 8 + digit });
}
/** an executed register form (escape, ModRM.reg, optionally one ModRM.rm) */
function r(mnemonic: string, esc: number, digit: number, rm?: number, feature = 'fpu'): void {
  x(mnemonic, 'FPU_R', esc, '', { digit, mod: 'reg', ...(rm === undefined ? {} : { rm }), feature, arg: (esc - 0xd8) * 8 + digit });
}

// x87 escapes (SDM Table A-7..A-22): every encoding decodes; the forms without a row below stay
// placeholders (op X87): the transcendentals (F2XM1, FYL2X, FPTAN, FPATAN, FYL2XP1,
// FSINCOS, FSIN, FCOS) and the undocumented aliases (FSTP1, FXCH4, FCOM2, FFREEP, …).
// FISTTP needs SSE3 (CPUID.1:ECX[0]); FCMOVcc and FCOMI/FUCOMI(P) need CMOV (CPUID.1:EDX[15]).
for (let op = 0xd8; op <= 0xdf; op++) x('fpu', 'X87', op, 'Ev', { feature: 'fpu' });
x('fldcw', 'FLDCW', 0xd9, 'M', { digit: 5, mod: 'mem', feature: 'fpu' });
x('fnstcw', 'FNSTCW', 0xd9, 'M', { digit: 7, mod: 'mem', feature: 'fpu' });
x('fnclex', 'FNCLEX', 0xdb, '', { digit: 4, mod: 'reg', rm: 2, feature: 'fpu' });
x('fninit', 'FNINIT', 0xdb, '', { digit: 4, mod: 'reg', rm: 3, feature: 'fpu' });
x('fnstsw', 'FNSTSW', 0xdd, 'M', { digit: 7, mod: 'mem', feature: 'fpu' });
x('fnstsw', 'FNSTSW', 0xdf, 'AX', { digit: 4, mod: 'reg', rm: 0, feature: 'fpu' });

// ---- memory forms ----
const ARITH = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
ARITH.forEach((n, d) => { m(n, 0xd8, d); m(n, 0xdc, d); m(`fi${n.slice(1)}`, 0xda, d); m(`fi${n.slice(1)}`, 0xde, d); });
m('fld', 0xd9, 0); m('fst', 0xd9, 2); m('fstp', 0xd9, 3); m('fldenv', 0xd9, 4); m('fnstenv', 0xd9, 6);
m('fild', 0xdb, 0); m('fisttp', 0xdb, 1, 'pni'); m('fist', 0xdb, 2); m('fistp', 0xdb, 3); m('fld', 0xdb, 5); m('fstp', 0xdb, 7);
m('fld', 0xdd, 0); m('fisttp', 0xdd, 1, 'pni'); m('fst', 0xdd, 2); m('fstp', 0xdd, 3); m('frstor', 0xdd, 4); m('fnsave', 0xdd, 6);
m('fild', 0xdf, 0); m('fisttp', 0xdf, 1, 'pni'); m('fist', 0xdf, 2); m('fistp', 0xdf, 3); m('fbld', 0xdf, 4); m('fild', 0xdf, 5); m('fbstp', 0xdf, 6); m('fistp', 0xdf, 7);

// ---- register forms ----
ARITH.forEach((n, d) => { r(n, 0xd8, d); });
['fadd', 'fmul', '', '', 'fsubr', 'fsub', 'fdivr', 'fdiv'].forEach((n, d) => { if (n) { r(n, 0xdc, d); r(`${n}p`, 0xde, d); } });
r('fld', 0xd9, 0); r('fxch', 0xd9, 1); r('fnop', 0xd9, 2, 0);
r('fchs', 0xd9, 4, 0); r('fabs', 0xd9, 4, 1); r('ftst', 0xd9, 4, 4); r('fxam', 0xd9, 4, 5);
['fld1', 'fldl2t', 'fldl2e', 'fldpi', 'fldlg2', 'fldln2', 'fldz'].forEach((n, i) => { r(n, 0xd9, 5, i); });
r('fxtract', 0xd9, 6, 4); r('fprem1', 0xd9, 6, 5); r('fdecstp', 0xd9, 6, 6); r('fincstp', 0xd9, 6, 7);
r('fprem', 0xd9, 7, 0); r('fsqrt', 0xd9, 7, 2); r('frndint', 0xd9, 7, 4); r('fscale', 0xd9, 7, 5);
['fcmovb', 'fcmove', 'fcmovbe', 'fcmovu'].forEach((n, d) => { r(n, 0xda, d, undefined, 'cmov'); r(n.replace('fcmov', 'fcmovn'), 0xdb, d, undefined, 'cmov'); });
r('fucompp', 0xda, 5, 1);
r('fucomi', 0xdb, 5, undefined, 'cmov'); r('fcomi', 0xdb, 6, undefined, 'cmov');
r('ffree', 0xdd, 0); r('fst', 0xdd, 2); r('fstp', 0xdd, 3); r('fucom', 0xdd, 4); r('fucomp', 0xdd, 5);
r('fcompp', 0xde, 3, 1);
r('fucomip', 0xdf, 5, undefined, 'cmov'); r('fcomip', 0xdf, 6, undefined, 'cmov');

export const X87_ROWS: readonly InsnRow[] = rows;
