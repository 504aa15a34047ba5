// x87 FPU instruction names for the disassembler: the escape opcodes D8-DF with ModRM (Intel SDM
// Vol. 2 Appendix A.4, Tables A-7..A-22 "x87 FPU opcode map"), spelled as GNU objdump -M intel prints
// them. Memory forms are named by ModRM.reg and carry the operand's size; register forms (mod = 11b)
// by ModRM.reg and, for the D9/DA/DB/DE/DF groups without a register operand, by ModRM.rm.

/** the operand formatter of disasm-intel.ts (only the memory operand is needed here) */
export interface X87Fmt {
  mem(size: number, kw?: string): string;
}

const ARITH = ['fadd', 'fmul', 'fcom', 'fcomp', 'fsub', 'fsubr', 'fdiv', 'fdivr'];
const IARITH = ['fiadd', 'fimul', 'ficom', 'ficomp', 'fisub', 'fisubr', 'fidiv', 'fidivr'];

/** memory forms: [mnemonic, size keyword ('' = none)] by opcode D8..DF and ModRM.reg ('' mnemonic = reserved) */
const MEM: readonly (readonly [string, string])[][] = [
  ARITH.map((m) => [m, 'DWORD'] as const),
  [['fld', 'DWORD'], ['', ''], ['fst', 'DWORD'], ['fstp', 'DWORD'], ['fldenv', ''], ['fldcw', 'WORD'], ['fnstenv', ''], ['fnstcw', 'WORD']],
  IARITH.map((m) => [m, 'DWORD'] as const),
  [['fild', 'DWORD'], ['fisttp', 'DWORD'], ['fist', 'DWORD'], ['fistp', 'DWORD'], ['', ''], ['fld', 'TBYTE'], ['', ''], ['fstp', 'TBYTE']],
  ARITH.map((m) => [m, 'QWORD'] as const),
  [['fld', 'QWORD'], ['fisttp', 'QWORD'], ['fst', 'QWORD'], ['fstp', 'QWORD'], ['frstor', ''], ['', ''], ['fnsave', ''], ['fnstsw', 'WORD']],
  IARITH.map((m) => [m, 'WORD'] as const),
  [['fild', 'WORD'], ['fisttp', 'WORD'], ['fist', 'WORD'], ['fistp', 'WORD'], ['fbld', 'TBYTE'], ['fild', 'QWORD'], ['fbstp', 'TBYTE'], ['fistp', 'QWORD']],
];

/** D9 E0-FF and the single-encoding forms: ModRM byte → mnemonic */
const FIXED: Record<number, string> = {
  0xd9d0: 'fnop', 0xd9e0: 'fchs', 0xd9e1: 'fabs', 0xd9e4: 'ftst', 0xd9e5: 'fxam',
  0xd9e8: 'fld1', 0xd9e9: 'fldl2t', 0xd9ea: 'fldl2e', 0xd9eb: 'fldpi', 0xd9ec: 'fldlg2', 0xd9ed: 'fldln2', 0xd9ee: 'fldz',
  0xd9f0: 'f2xm1', 0xd9f1: 'fyl2x', 0xd9f2: 'fptan', 0xd9f3: 'fpatan', 0xd9f4: 'fxtract', 0xd9f5: 'fprem1', 0xd9f6: 'fdecstp', 0xd9f7: 'fincstp',
  0xd9f8: 'fprem', 0xd9f9: 'fyl2xp1', 0xd9fa: 'fsqrt', 0xd9fb: 'fsincos', 0xd9fc: 'frndint', 0xd9fd: 'fscale', 0xd9fe: 'fsin', 0xd9ff: 'fcos',
  0xdae9: 'fucompp',
  // 8087/287 control forms, no-ops on later FPUs (SDM Vol. 1 Appendix "FENI/FDISI/FSETPM")
  0xdbe0: 'fneni(8087 only)', 0xdbe1: 'fndisi(8087 only)', 0xdbe2: 'fnclex', 0xdbe3: 'fninit', 0xdbe4: 'fnsetpm(287 only)', 0xdbe5: 'frstpm(287 only)',
  0xded9: 'fcompp', 0xdfe0: 'fnstsw',
};

/** register forms: [mnemonic, operand shape] by opcode and ModRM.reg; shape 'st,i' = st,st(i), 'i,st' = st(i),st, 'i' = st(i) */
const REG: Record<number, readonly (readonly [string, string] | undefined)[]> = {
  0xd8: ARITH.map((m, i) => [m, i === 2 || i === 3 ? 'i' : 'st,i'] as const),
  0xd9: [['fld', 'i'], ['fxch', 'i']],
  0xda: [['fcmovb', 'st,i'], ['fcmove', 'st,i'], ['fcmovbe', 'st,i'], ['fcmovu', 'st,i']],
  0xdb: [['fcmovnb', 'st,i'], ['fcmovne', 'st,i'], ['fcmovnbe', 'st,i'], ['fcmovnu', 'st,i'], undefined, ['fucomi', 'st,i'], ['fcomi', 'st,i']],
  0xdc: [['fadd', 'i,st'], ['fmul', 'i,st'], undefined, undefined, ['fsubr', 'i,st'], ['fsub', 'i,st'], ['fdivr', 'i,st'], ['fdiv', 'i,st']],
  0xdd: [['ffree', 'i'], undefined, ['fst', 'i'], ['fstp', 'i'], ['fucom', 'i'], ['fucomp', 'i']],
  0xde: [['faddp', 'i,st'], ['fmulp', 'i,st'], undefined, undefined, ['fsubrp', 'i,st'], ['fsubp', 'i,st'], ['fdivrp', 'i,st'], ['fdivp', 'i,st']],
  0xdf: [['ffreep', 'i'], undefined, undefined, undefined, undefined, ['fucomip', 'st,i'], ['fcomip', 'st,i']],
};

/** Name and operands of the x87 instruction with escape `opcode` (D8-DF) and `modrm`; '(bad)' = reserved. */
export function x87Text(f: X87Fmt, opcode: number, modrm: number): { mnemonic: string; operands: string } {
  const reg = (modrm >> 3) & 7;
  if (modrm < 0xc0) {
    const [m, kw] = MEM[opcode - 0xd8]![reg]!;
    if (!m) return { mnemonic: '(bad)', operands: '' };
    return { mnemonic: m, operands: f.mem(0, kw) };
  }
  const fixed = FIXED[(opcode << 8) | modrm];
  if (fixed) return { mnemonic: fixed, operands: opcode === 0xdf ? 'ax' : '' };
  const form = REG[opcode]?.[reg];
  if (!form) return { mnemonic: '(bad)', operands: '' };
  const i = `st(${modrm & 7})`;
  const ops = form[1] === 'st,i' ? `st,${i}` : form[1] === 'i,st' ? `${i},st` : i;
  return { mnemonic: form[0], operands: ops };
}
