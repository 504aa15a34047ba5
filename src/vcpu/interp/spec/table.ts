// The one declarative x86 instruction table (DESIGN.md §3.5): opcode, map, mandatory prefix,
// /digit, operand kinds in Intel notation, operand-size rules, required CPUID feature, lockable,
// flags the manual leaves undefined. Sources: Intel SDM Vol. 2 Appendix A "Opcode Map" (Tables A-2,
// opcode extensions) and the per-instruction pages; AMD APM Vol. 3 Appendix A.
// tools/gen/decoder.ts turns this into src/vcpu/interp/decoder.generated.ts.
//
// Operand kinds (SDM Appendix A.2): E = ModRM r/m (reg or memory), G = ModRM.reg GPR,
// M = ModRM memory only, R = ModRM r/m register only, I = immediate (Ibs = imm8 sign-extended to
// the operand size, Iv = imm16/32/64 of MOV r,imm), J = relative offset, A = far pointer immediate,
// O = moffs, S = ModRM.reg segment register, C/D = ModRM.reg control/debug register,
// Z = register in the opcode's low 3 bits (AMD notation), X/Y = DS:rSI / ES:rDI string operands,
// B = VEX.vvvv GPR. Size suffixes: b byte, w word, d dword, q qword, v 16/32/64 by operand size,
// z 16/32 (imm32 sign-extended in 64-bit mode), y 32/64, p far pointer. Fixed operands: AL, rAX, CL,
// DX, 1.
// Size rules: d64 = defaults to 64-bit in 64-bit mode (66h selects 16), f64 = always 64-bit in
// 64-bit mode (66h ignored, as on Intel).

import { SIMD_INT_ROWS } from './simd-int-rows.ts';
import { SIMD_FP_ROWS } from './simd-fp-rows.ts';
import { X87_ROWS } from './x87-rows.ts';

export type OpMap = '1' | '0F' | '0F38' | '0F3A';
export type MandatoryPrefix = 'none' | '66' | 'F3' | 'F2';

export interface InsnRow {
  readonly mnemonic: string;
  /** semantic operation the executor implements (src/vcpu/interp/ops.ts) */
  readonly op: string;
  readonly map: OpMap;
  readonly opcode: number;
  /** opcode + register in bits 2:0 (eight consecutive opcodes) */
  readonly plusR?: boolean;
  /** mandatory prefix; undefined = any (66/F3/F2 act as ordinary prefixes) */
  readonly prefix?: MandatoryPrefix;
  readonly digit?: number;
  /** ModRM.mod restriction */
  readonly mod?: 'mem' | 'reg';
  /** ModRM.rm when mod = 11b (0F 01 C8 …) */
  readonly rm?: number;
  readonly operands: readonly string[];
  readonly size?: 'd64' | 'f64';
  readonly feature?: string;
  /** without `feature` the encoding executes as this op instead of #UD (LZCNT → BSR) */
  readonly absentOp?: string;
  readonly lock?: boolean;
  /** flags the SDM leaves undefined (the interpreter documents what it produces) */
  readonly undef?: string;
  readonly modes?: 'no64' | 'only64';
  /** VEX-encoded (VEX.L must be 0; VEX.W selects 64-bit operand size in 64-bit mode) */
  readonly vex?: boolean;
  /** extra small constant for the handler (ALU sub-op, condition code, segment, …) */
  readonly arg?: number;
}

const rows: InsnRow[] = [];

type Opt = Partial<Omit<InsnRow, 'mnemonic' | 'op' | 'map' | 'opcode' | 'operands'>>;

function ops(s: string): string[] {
  return s === '' ? [] : s.split(',');
}
function one(mnemonic: string, op: string, opcode: number, operands: string, o: Opt = {}): void {
  rows.push({ mnemonic, op, map: '1', opcode, operands: ops(operands), ...o });
}
function two(mnemonic: string, op: string, opcode: number, operands: string, o: Opt = {}): void {
  rows.push({ mnemonic, op, map: '0F', opcode, operands: ops(operands), ...o });
}
function m38(mnemonic: string, op: string, opcode: number, operands: string, o: Opt = {}): void {
  rows.push({ mnemonic, op, map: '0F38', opcode, operands: ops(operands), ...o });
}

export const CONDITIONS = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];

// ---- one-byte map (SDM Table A-2) ---------------------------------------------------------------
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const ALU_UNDEF = ['', 'AF', '', '', 'AF', '', 'AF', ''];
ALU.forEach((m, i) => {
  const base = i * 8;
  const lock = m !== 'cmp';
  const u = ALU_UNDEF[i] ? { undef: ALU_UNDEF[i] } : {};
  one(m, 'ALU', base + 0, 'Eb,Gb', { arg: i, lock, ...u });
  one(m, 'ALU', base + 1, 'Ev,Gv', { arg: i, lock, ...u });
  one(m, 'ALU', base + 2, 'Gb,Eb', { arg: i, ...u });
  one(m, 'ALU', base + 3, 'Gv,Ev', { arg: i, ...u });
  one(m, 'ALU', base + 4, 'AL,Ib', { arg: i, ...u });
  one(m, 'ALU', base + 5, 'rAX,Iz', { arg: i, ...u });
  one(m, 'ALU', 0x80, 'Eb,Ib', { digit: i, arg: i, lock, ...u });
  one(m, 'ALU', 0x81, 'Ev,Iz', { digit: i, arg: i, lock, ...u });
  one(m, 'ALU', 0x82, 'Eb,Ib', { digit: i, arg: i, lock, modes: 'no64', ...u });
  one(m, 'ALU', 0x83, 'Ev,Ibs', { digit: i, arg: i, lock, ...u });
});
// segment pushes/pops: arg = segment register number (ES=0 CS=1 SS=2 DS=3 FS=4 GS=5)
one('push', 'PUSH_SEG', 0x06, 'ES', { arg: 0, modes: 'no64' });
one('pop', 'POP_SEG', 0x07, 'ES', { arg: 0, modes: 'no64' });
one('push', 'PUSH_SEG', 0x0e, 'CS', { arg: 1, modes: 'no64' });
one('push', 'PUSH_SEG', 0x16, 'SS', { arg: 2, modes: 'no64' });
one('pop', 'POP_SEG', 0x17, 'SS', { arg: 2, modes: 'no64' });
one('push', 'PUSH_SEG', 0x1e, 'DS', { arg: 3, modes: 'no64' });
one('pop', 'POP_SEG', 0x1f, 'DS', { arg: 3, modes: 'no64' });
two('push', 'PUSH_SEG', 0xa0, 'FS', { arg: 4, size: 'd64' });
two('pop', 'POP_SEG', 0xa1, 'FS', { arg: 4, size: 'd64' });
two('push', 'PUSH_SEG', 0xa8, 'GS', { arg: 5, size: 'd64' });
two('pop', 'POP_SEG', 0xa9, 'GS', { arg: 5, size: 'd64' });
one('daa', 'DAA', 0x27, '', { modes: 'no64', undef: 'OF' });
one('das', 'DAS', 0x2f, '', { modes: 'no64', undef: 'OF' });
one('aaa', 'AAA', 0x37, '', { modes: 'no64', undef: 'OF,SF,ZF,PF' });
one('aas', 'AAS', 0x3f, '', { modes: 'no64', undef: 'OF,SF,ZF,PF' });
one('inc', 'INC', 0x40, 'Zv', { plusR: true, modes: 'no64' });
one('dec', 'DEC', 0x48, 'Zv', { plusR: true, modes: 'no64' });
one('push', 'PUSH', 0x50, 'Zv', { plusR: true, size: 'd64' });
one('pop', 'POP', 0x58, 'Zv', { plusR: true, size: 'd64' });
one('pusha', 'PUSHA', 0x60, '', { modes: 'no64' });
one('popa', 'POPA', 0x61, '', { modes: 'no64' });
one('bound', 'BOUND', 0x62, 'Gv,M', { modes: 'no64', mod: 'mem' });
one('arpl', 'ARPL', 0x63, 'Ew,Gw', { modes: 'no64' });
one('movsxd', 'MOVSXD', 0x63, 'Gv,Ed', { modes: 'only64' });
one('push', 'PUSH', 0x68, 'Iz', { size: 'd64' });
one('imul', 'IMUL3', 0x69, 'Gv,Ev,Iz', { undef: 'SF,ZF,AF,PF' });
one('push', 'PUSH', 0x6a, 'Ibs', { size: 'd64' });
one('imul', 'IMUL3', 0x6b, 'Gv,Ev,Ibs', { undef: 'SF,ZF,AF,PF' });
one('insb', 'INS', 0x6c, 'Yb,DX');
one('ins', 'INS', 0x6d, 'Yz,DX');
one('outsb', 'OUTS', 0x6e, 'DX,Xb');
one('outs', 'OUTS', 0x6f, 'DX,Xz');
CONDITIONS.forEach((c, i) => one('j' + c, 'JCC', 0x70 + i, 'Jb', { arg: i, size: 'f64' }));
one('test', 'TEST', 0x84, 'Eb,Gb', { undef: 'AF' });
one('test', 'TEST', 0x85, 'Ev,Gv', { undef: 'AF' });
one('xchg', 'XCHG', 0x86, 'Eb,Gb', { lock: true });
one('xchg', 'XCHG', 0x87, 'Ev,Gv', { lock: true });
one('mov', 'MOV', 0x88, 'Eb,Gb');
one('mov', 'MOV', 0x89, 'Ev,Gv');
one('mov', 'MOV', 0x8a, 'Gb,Eb');
one('mov', 'MOV', 0x8b, 'Gv,Ev');
one('mov', 'MOV_EV_SW', 0x8c, 'Ev,Sw');
one('lea', 'LEA', 0x8d, 'Gv,M', { mod: 'mem' });
one('mov', 'MOV_SW_EW', 0x8e, 'Sw,Ew');
one('pop', 'POP', 0x8f, 'Ev', { digit: 0, size: 'd64' });
one('pause', 'NOP', 0x90, '', { prefix: 'F3' });
one('xchg', 'XCHG', 0x90, 'Zv,rAX', { plusR: true });
one('cbw', 'CBW', 0x98, '');
one('cwd', 'CWD', 0x99, '');
one('lcall', 'CALLF', 0x9a, 'Ap', { modes: 'no64' });
one('fwait', 'FWAIT', 0x9b, '');
one('pushf', 'PUSHF', 0x9c, '', { size: 'd64' });
one('popf', 'POPF', 0x9d, '', { size: 'd64' });
one('sahf', 'SAHF', 0x9e, '', { feature: 'lahf_lm' });
one('lahf', 'LAHF', 0x9f, '', { feature: 'lahf_lm' });
one('mov', 'MOV', 0xa0, 'AL,Ob');
one('mov', 'MOV', 0xa1, 'rAX,Ov');
one('mov', 'MOV', 0xa2, 'Ob,AL');
one('mov', 'MOV', 0xa3, 'Ov,rAX');
one('movsb', 'MOVS', 0xa4, 'Yb,Xb');
one('movs', 'MOVS', 0xa5, 'Yv,Xv');
one('cmpsb', 'CMPS', 0xa6, 'Xb,Yb');
one('cmps', 'CMPS', 0xa7, 'Xv,Yv');
one('test', 'TEST', 0xa8, 'AL,Ib', { undef: 'AF' });
one('test', 'TEST', 0xa9, 'rAX,Iz', { undef: 'AF' });
one('stosb', 'STOS', 0xaa, 'Yb,AL');
one('stos', 'STOS', 0xab, 'Yv,rAX');
one('lodsb', 'LODS', 0xac, 'AL,Xb');
one('lods', 'LODS', 0xad, 'rAX,Xv');
one('scasb', 'SCAS', 0xae, 'AL,Yb');
one('scas', 'SCAS', 0xaf, 'rAX,Yv');
one('mov', 'MOV', 0xb0, 'Zb,Ib', { plusR: true });
one('mov', 'MOV', 0xb8, 'Zv,Iv', { plusR: true });
const SHIFTS = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'sal', 'sar'];
SHIFTS.forEach((m, i) => {
  const u = { undef: i < 4 ? 'OF(count>1)' : 'OF(count>1),AF' };
  one(m, 'SHIFT', 0xc0, 'Eb,Ib', { digit: i, arg: i, ...u });
  one(m, 'SHIFT', 0xc1, 'Ev,Ib', { digit: i, arg: i, ...u });
  one(m, 'SHIFT', 0xd0, 'Eb,1', { digit: i, arg: i, ...u });
  one(m, 'SHIFT', 0xd1, 'Ev,1', { digit: i, arg: i, ...u });
  one(m, 'SHIFT', 0xd2, 'Eb,CL', { digit: i, arg: i, ...u });
  one(m, 'SHIFT', 0xd3, 'Ev,CL', { digit: i, arg: i, ...u });
});
one('ret', 'RET', 0xc2, 'Iw', { size: 'f64' });
one('ret', 'RET', 0xc3, '', { size: 'f64' });
one('les', 'LxS', 0xc4, 'Gz,Mp', { arg: 0, modes: 'no64', mod: 'mem' });
one('lds', 'LxS', 0xc5, 'Gz,Mp', { arg: 3, modes: 'no64', mod: 'mem' });
one('mov', 'MOV', 0xc6, 'Eb,Ib', { digit: 0 });
one('mov', 'MOV', 0xc7, 'Ev,Iz', { digit: 0 });
one('enter', 'ENTER', 0xc8, 'Iw,Ib', { size: 'd64' });
one('leave', 'LEAVE', 0xc9, '', { size: 'd64' });
one('lret', 'RETF', 0xca, 'Iw');
one('lret', 'RETF', 0xcb, '');
one('int3', 'INT3', 0xcc, '');
one('int', 'INT', 0xcd, 'Ib');
one('into', 'INTO', 0xce, '', { modes: 'no64' });
one('iret', 'IRET', 0xcf, '');
one('aam', 'AAM', 0xd4, 'Ib', { modes: 'no64', undef: 'OF,AF,CF' });
one('aad', 'AAD', 0xd5, 'Ib', { modes: 'no64', undef: 'OF,AF,CF' });
one('xlat', 'XLAT', 0xd7, '');
one('loopne', 'LOOP', 0xe0, 'Jb', { arg: 0, size: 'f64' });
one('loope', 'LOOP', 0xe1, 'Jb', { arg: 1, size: 'f64' });
one('loop', 'LOOP', 0xe2, 'Jb', { arg: 2, size: 'f64' });
one('jrcxz', 'JRCXZ', 0xe3, 'Jb', { size: 'f64' });
one('in', 'IN', 0xe4, 'AL,Ib');
one('in', 'IN', 0xe5, 'eAX,Ib');
one('out', 'OUT', 0xe6, 'Ib,AL');
one('out', 'OUT', 0xe7, 'Ib,eAX');
one('call', 'CALL', 0xe8, 'Jz', { size: 'f64' });
one('jmp', 'JMP', 0xe9, 'Jz', { size: 'f64' });
one('ljmp', 'JMPF', 0xea, 'Ap', { modes: 'no64' });
one('jmp', 'JMP', 0xeb, 'Jb', { size: 'f64' });
one('in', 'IN', 0xec, 'AL,DX');
one('in', 'IN', 0xed, 'eAX,DX');
one('out', 'OUT', 0xee, 'DX,AL');
one('out', 'OUT', 0xef, 'DX,eAX');
one('int1', 'INT1', 0xf1, '');
one('hlt', 'HLT', 0xf4, '');
one('cmc', 'CMC', 0xf5, '');
one('test', 'TEST', 0xf6, 'Eb,Ib', { digit: 0, undef: 'AF' });
one('test', 'TEST', 0xf6, 'Eb,Ib', { digit: 1, undef: 'AF' });
one('not', 'NOT', 0xf6, 'Eb', { digit: 2, lock: true });
one('neg', 'NEG', 0xf6, 'Eb', { digit: 3, lock: true });
one('mul', 'MUL', 0xf6, 'Eb', { digit: 4, undef: 'SF,ZF,AF,PF' });
one('imul', 'IMUL1', 0xf6, 'Eb', { digit: 5, undef: 'SF,ZF,AF,PF' });
one('div', 'DIV', 0xf6, 'Eb', { digit: 6, undef: 'all' });
one('idiv', 'IDIV', 0xf6, 'Eb', { digit: 7, undef: 'all' });
one('test', 'TEST', 0xf7, 'Ev,Iz', { digit: 0, undef: 'AF' });
one('test', 'TEST', 0xf7, 'Ev,Iz', { digit: 1, undef: 'AF' });
one('not', 'NOT', 0xf7, 'Ev', { digit: 2, lock: true });
one('neg', 'NEG', 0xf7, 'Ev', { digit: 3, lock: true });
one('mul', 'MUL', 0xf7, 'Ev', { digit: 4, undef: 'SF,ZF,AF,PF' });
one('imul', 'IMUL1', 0xf7, 'Ev', { digit: 5, undef: 'SF,ZF,AF,PF' });
one('div', 'DIV', 0xf7, 'Ev', { digit: 6, undef: 'all' });
one('idiv', 'IDIV', 0xf7, 'Ev', { digit: 7, undef: 'all' });
one('clc', 'CLC', 0xf8, '');
one('stc', 'STC', 0xf9, '');
one('cli', 'CLI', 0xfa, '');
one('sti', 'STI', 0xfb, '');
one('cld', 'CLD', 0xfc, '');
one('std', 'STD', 0xfd, '');
one('inc', 'INC', 0xfe, 'Eb', { digit: 0, lock: true });
one('dec', 'DEC', 0xfe, 'Eb', { digit: 1, lock: true });
one('inc', 'INC', 0xff, 'Ev', { digit: 0, lock: true });
one('dec', 'DEC', 0xff, 'Ev', { digit: 1, lock: true });
one('call', 'CALL', 0xff, 'Ev', { digit: 2, size: 'f64' });
one('lcall', 'CALLF', 0xff, 'Mp', { digit: 3, mod: 'mem' });
one('jmp', 'JMP', 0xff, 'Ev', { digit: 4, size: 'f64' });
one('ljmp', 'JMPF', 0xff, 'Mp', { digit: 5, mod: 'mem' });
one('push', 'PUSH', 0xff, 'Ev', { digit: 6, size: 'd64' });

// ---- two-byte map 0F (SDM Table A-3) ------------------------------------------------------------
two('sldt', 'SLDT', 0x00, 'Ev', { digit: 0 }); // r32/r64: zero-extended (SDM "SLDT"); memory: always 16 bits
two('str', 'STR', 0x00, 'Ev', { digit: 1 });
two('lldt', 'LLDT', 0x00, 'Ew', { digit: 2 });
two('ltr', 'LTR', 0x00, 'Ew', { digit: 3 });
two('verr', 'VERR', 0x00, 'Ew', { digit: 4 });
two('verw', 'VERW', 0x00, 'Ew', { digit: 5 });
two('sgdt', 'SGDT', 0x01, 'M', { digit: 0, mod: 'mem' });
two('sidt', 'SIDT', 0x01, 'M', { digit: 1, mod: 'mem' });
two('lgdt', 'LGDT', 0x01, 'M', { digit: 2, mod: 'mem' });
two('lidt', 'LIDT', 0x01, 'M', { digit: 3, mod: 'mem' });
two('smsw', 'SMSW', 0x01, 'Ev', { digit: 4 });
two('lmsw', 'LMSW', 0x01, 'Ew', { digit: 6 });
two('invlpg', 'INVLPG', 0x01, 'M', { digit: 7, mod: 'mem' });
two('monitor', 'MONITOR', 0x01, '', { digit: 1, mod: 'reg', rm: 0, feature: 'mwait' });
two('mwait', 'MWAIT', 0x01, '', { digit: 1, mod: 'reg', rm: 1, feature: 'mwait' });
two('clac', 'CLAC', 0x01, '', { digit: 1, mod: 'reg', rm: 2, feature: 'smap' });
two('stac', 'STAC', 0x01, '', { digit: 1, mod: 'reg', rm: 3, feature: 'smap' });
two('xgetbv', 'XGETBV', 0x01, '', { digit: 2, mod: 'reg', rm: 0, feature: 'xsave' });
two('xsetbv', 'XSETBV', 0x01, '', { digit: 2, mod: 'reg', rm: 1, feature: 'xsave' });
two('rdpkru', 'RDPKRU', 0x01, '', { prefix: 'none', digit: 5, mod: 'reg', rm: 6, feature: 'pku' });
two('wrpkru', 'WRPKRU', 0x01, '', { prefix: 'none', digit: 5, mod: 'reg', rm: 7, feature: 'pku' });
two('swapgs', 'SWAPGS', 0x01, '', { digit: 7, mod: 'reg', rm: 0, modes: 'only64' });
two('rdtscp', 'RDTSCP', 0x01, '', { digit: 7, mod: 'reg', rm: 1, feature: 'rdtscp' });
two('lar', 'LAR', 0x02, 'Gv,Ew');
two('lsl', 'LSL', 0x03, 'Gv,Ew');
two('syscall', 'SYSCALL', 0x05, '', { feature: 'syscall' });
two('clts', 'CLTS', 0x06, '');
two('sysret', 'SYSRET', 0x07, '', { feature: 'syscall' });
two('invd', 'INVD', 0x08, '');
two('wbinvd', 'WBINVD', 0x09, '');
two('ud2', 'UD', 0x0b, '');
two('prefetchw', 'NOP', 0x0d, 'M', { mod: 'mem' });
two('prefetch', 'NOP', 0x18, 'M', { mod: 'mem' });
// 0F 18 with mod = 11b is a reserved NOP (SDM Table A-3 group 16; the AMD host executes it as NOP)
two('nop', 'NOP', 0x18, 'Ev', { mod: 'reg' });
for (let op = 0x19; op <= 0x1f; op++) two('nop', 'NOP', op, 'Ev');
two('endbr64', 'NOP', 0x1e, '', { prefix: 'F3', digit: 7, mod: 'reg', rm: 2 });
two('endbr32', 'NOP', 0x1e, '', { prefix: 'F3', digit: 7, mod: 'reg', rm: 3 });
two('mov', 'MOV_R_CR', 0x20, 'Ry,Cy');
two('mov', 'MOV_R_DR', 0x21, 'Ry,Dy');
two('mov', 'MOV_CR_R', 0x22, 'Cy,Ry');
two('mov', 'MOV_DR_R', 0x23, 'Dy,Ry');
two('wrmsr', 'WRMSR', 0x30, '', { feature: 'msr' });
two('rdtsc', 'RDTSC', 0x31, '', { feature: 'tsc' });
two('rdmsr', 'RDMSR', 0x32, '', { feature: 'msr' });
two('rdpmc', 'RDPMC', 0x33, '');
two('sysenter', 'SYSENTER', 0x34, '', { feature: 'sep' });
two('sysexit', 'SYSEXIT', 0x35, '', { feature: 'sep' });
CONDITIONS.forEach((c, i) => two('cmov' + c, 'CMOV', 0x40 + i, 'Gv,Ev', { arg: i, feature: 'cmov' }));
CONDITIONS.forEach((c, i) => two('j' + c, 'JCC', 0x80 + i, 'Jz', { arg: i, size: 'f64' }));
CONDITIONS.forEach((c, i) => two('set' + c, 'SETCC', 0x90 + i, 'Eb', { arg: i }));
two('cpuid', 'CPUID', 0xa2, '');
two('bt', 'BT', 0xa3, 'Ev,Gv', { arg: 0, undef: 'OF,SF,AF,PF' });
two('shld', 'SHLD', 0xa4, 'Ev,Gv,Ib', { undef: 'AF,OF(count>1)' });
two('shld', 'SHLD', 0xa5, 'Ev,Gv,CL', { undef: 'AF,OF(count>1)' });
two('rsm', 'RSM', 0xaa, '');
two('bts', 'BT', 0xab, 'Ev,Gv', { arg: 1, lock: true, undef: 'OF,SF,AF,PF' });
two('shrd', 'SHRD', 0xac, 'Ev,Gv,Ib', { undef: 'AF,OF(count>1)' });
two('shrd', 'SHRD', 0xad, 'Ev,Gv,CL', { undef: 'AF,OF(count>1)' });
two('fxsave', 'FXSAVE', 0xae, 'M', { digit: 0, mod: 'mem', feature: 'fxsr' });
two('fxrstor', 'FXRSTOR', 0xae, 'M', { digit: 1, mod: 'mem', feature: 'fxsr' });
two('ldmxcsr', 'LDMXCSR', 0xae, 'Md', { digit: 2, mod: 'mem', feature: 'xmm' });
two('stmxcsr', 'STMXCSR', 0xae, 'Md', { digit: 3, mod: 'mem', feature: 'xmm' });
two('xsave', 'XSAVE', 0xae, 'M', { prefix: 'none', digit: 4, mod: 'mem', feature: 'xsave' });
two('xrstor', 'XRSTOR', 0xae, 'M', { prefix: 'none', digit: 5, mod: 'mem', feature: 'xsave' });
two('clflush', 'NOP', 0xae, 'M', { prefix: 'none', digit: 7, mod: 'mem', feature: 'clflush' });
two('xsaveopt', 'XSAVEOPT', 0xae, 'M', { prefix: 'none', digit: 6, mod: 'mem', feature: 'xsaveopt' });
two('xrstors', 'XSAVE_OTHER', 0xc7, 'M', { digit: 3, mod: 'mem', feature: 'xsaves', arg: 2 });
two('xsavec', 'XSAVE_OTHER', 0xc7, 'M', { digit: 4, mod: 'mem', feature: 'xsavec', arg: 0 });
two('xsaves', 'XSAVE_OTHER', 0xc7, 'M', { digit: 5, mod: 'mem', feature: 'xsaves', arg: 1 });
// NP rows (prefix 'none': LFENCE/MFENCE here, XSAVE/XRSTOR/XSAVEOPT/CLFLUSH above, RDPKRU/WRPKRU,
// MOVNTI; SDM Vol. 2 §3.1.1.1): 66/F2/F3 select other instructions (CLWB, CLFLUSHOPT, PTWRITE,
// CLRSSBSY, INCSSP, TPAUSE, UMONITOR/UMWAIT, CLUI/STUI) or are undefined: #UD without a row
two('lfence', 'NOP', 0xae, '', { prefix: 'none', digit: 5, mod: 'reg', feature: 'xmm2' });
two('mfence', 'NOP', 0xae, '', { prefix: 'none', digit: 6, mod: 'reg', feature: 'xmm2' });
two('sfence', 'NOP', 0xae, '', { digit: 7, mod: 'reg', feature: 'xmm' });
two('rdfsbase', 'RDFSBASE', 0xae, 'Ry', { prefix: 'F3', digit: 0, mod: 'reg', feature: 'fsgsbase', modes: 'only64', arg: 4 });
two('rdgsbase', 'RDFSBASE', 0xae, 'Ry', { prefix: 'F3', digit: 1, mod: 'reg', feature: 'fsgsbase', modes: 'only64', arg: 5 });
two('wrfsbase', 'WRFSBASE', 0xae, 'Ry', { prefix: 'F3', digit: 2, mod: 'reg', feature: 'fsgsbase', modes: 'only64', arg: 4 });
two('wrgsbase', 'WRFSBASE', 0xae, 'Ry', { prefix: 'F3', digit: 3, mod: 'reg', feature: 'fsgsbase', modes: 'only64', arg: 5 });
two('imul', 'IMUL2', 0xaf, 'Gv,Ev', { undef: 'SF,ZF,AF,PF' });
two('cmpxchg', 'CMPXCHG', 0xb0, 'Eb,Gb', { lock: true });
two('cmpxchg', 'CMPXCHG', 0xb1, 'Ev,Gv', { lock: true });
two('lss', 'LxS', 0xb2, 'Gv,Mp', { arg: 2, mod: 'mem' });
two('btr', 'BT', 0xb3, 'Ev,Gv', { arg: 2, lock: true, undef: 'OF,SF,AF,PF' });
two('lfs', 'LxS', 0xb4, 'Gv,Mp', { arg: 4, mod: 'mem' });
two('lgs', 'LxS', 0xb5, 'Gv,Mp', { arg: 5, mod: 'mem' });
two('movzx', 'MOVZX', 0xb6, 'Gv,Eb', { arg: 1 });
two('movzx', 'MOVZX', 0xb7, 'Gv,Ew', { arg: 2 });
two('popcnt', 'POPCNT', 0xb8, 'Gv,Ev', { prefix: 'F3', feature: 'popcnt' });
two('ud1', 'UD', 0xb9, 'Gv,Ev');
two('bt', 'BT', 0xba, 'Ev,Ib', { digit: 4, arg: 0, undef: 'OF,SF,AF,PF' });
two('bts', 'BT', 0xba, 'Ev,Ib', { digit: 5, arg: 1, lock: true, undef: 'OF,SF,AF,PF' });
two('btr', 'BT', 0xba, 'Ev,Ib', { digit: 6, arg: 2, lock: true, undef: 'OF,SF,AF,PF' });
two('btc', 'BT', 0xba, 'Ev,Ib', { digit: 7, arg: 3, lock: true, undef: 'OF,SF,AF,PF' });
two('btc', 'BT', 0xbb, 'Ev,Gv', { arg: 3, lock: true, undef: 'OF,SF,AF,PF' });
two('bsf', 'BSF', 0xbc, 'Gv,Ev', { undef: 'CF,OF,SF,AF,PF' });
two('tzcnt', 'TZCNT', 0xbc, 'Gv,Ev', { prefix: 'F3', feature: 'bmi1', absentOp: 'BSF', undef: 'OF,SF,AF,PF' });
two('bsr', 'BSR', 0xbd, 'Gv,Ev', { undef: 'CF,OF,SF,AF,PF' });
two('lzcnt', 'LZCNT', 0xbd, 'Gv,Ev', { prefix: 'F3', feature: 'abm', absentOp: 'BSR', undef: 'OF,SF,AF,PF' });
two('movsx', 'MOVSX', 0xbe, 'Gv,Eb', { arg: 1 });
two('movsx', 'MOVSX', 0xbf, 'Gv,Ew', { arg: 2 });
two('xadd', 'XADD', 0xc0, 'Eb,Gb', { lock: true });
two('xadd', 'XADD', 0xc1, 'Ev,Gv', { lock: true });
two('cmpxchg8b', 'CMPXCHG8B', 0xc7, 'Mq', { digit: 1, mod: 'mem', lock: true, feature: 'cx8' });
// NFx (SDM Vol. 2 §3.1.1.1): 66h selects r16, F2/F3 select other instructions (SENDUIPI, RDPID)
for (const p of ['none', '66'] as const) {
  two('rdrand', 'RDRAND', 0xc7, 'Rv', { prefix: p, digit: 6, mod: 'reg', feature: 'rdrand' });
  two('rdseed', 'RDRAND', 0xc7, 'Rv', { prefix: p, digit: 7, mod: 'reg', feature: 'rdseed' });
}
two('rdpid', 'RDPID', 0xc7, 'Ry', { prefix: 'F3', digit: 7, mod: 'reg', feature: 'rdpid' });
two('bswap', 'BSWAP', 0xc8, 'Zy', { plusR: true });
two('ud0', 'UD', 0xff, 'Gv,Ev');
// SSE/SSE2 data movement and bitwise logic (SDM Vol. 2 "MOVUPS", "MOVAPS", "MOVDQA/MOVDQU", "MOVSS",
// "MOVSD", "MOVD/MOVQ", "PXOR", "XORPS", …). V = xmm in ModRM.reg, W = xmm or memory in ModRM.rm.
// arg for SSE_MOV: bits 0-1 width (0 = 128, 1 = 64, 2 = 32), bit 2 store (V → W), bit 3 aligned,
// bit 4 zero the rest of the destination register even for register sources (MOVQ forms).
const SM = { w128: 0, w64: 1, w32: 2, store: 4, aligned: 8, zext: 16 };
two('movups', 'SSE_MOV', 0x10, 'Vx,Wx', { prefix: 'none', feature: 'xmm', arg: SM.w128 });
two('movups', 'SSE_MOV', 0x11, 'Wx,Vx', { prefix: 'none', feature: 'xmm', arg: SM.w128 | SM.store });
two('movupd', 'SSE_MOV', 0x10, 'Vx,Wx', { prefix: '66', feature: 'xmm2', arg: SM.w128 });
two('movupd', 'SSE_MOV', 0x11, 'Wx,Vx', { prefix: '66', feature: 'xmm2', arg: SM.w128 | SM.store });
two('movss', 'SSE_MOV', 0x10, 'Vx,Wx', { prefix: 'F3', feature: 'xmm', arg: SM.w32 });
two('movss', 'SSE_MOV', 0x11, 'Wx,Vx', { prefix: 'F3', feature: 'xmm', arg: SM.w32 | SM.store });
two('movsd', 'SSE_MOV', 0x10, 'Vx,Wx', { prefix: 'F2', feature: 'xmm2', arg: SM.w64 });
two('movsd', 'SSE_MOV', 0x11, 'Wx,Vx', { prefix: 'F2', feature: 'xmm2', arg: SM.w64 | SM.store });
two('movaps', 'SSE_MOV', 0x28, 'Vx,Wx', { prefix: 'none', feature: 'xmm', arg: SM.w128 | SM.aligned });
two('movaps', 'SSE_MOV', 0x29, 'Wx,Vx', { prefix: 'none', feature: 'xmm', arg: SM.w128 | SM.aligned | SM.store });
two('movapd', 'SSE_MOV', 0x28, 'Vx,Wx', { prefix: '66', feature: 'xmm2', arg: SM.w128 | SM.aligned });
two('movapd', 'SSE_MOV', 0x29, 'Wx,Vx', { prefix: '66', feature: 'xmm2', arg: SM.w128 | SM.aligned | SM.store });
two('movntps', 'SSE_MOV', 0x2b, 'Mx,Vx', { prefix: 'none', mod: 'mem', feature: 'xmm', arg: SM.w128 | SM.aligned | SM.store });
two('movdqa', 'SSE_MOV', 0x6f, 'Vx,Wx', { prefix: '66', feature: 'xmm2', arg: SM.w128 | SM.aligned });
two('movdqa', 'SSE_MOV', 0x7f, 'Wx,Vx', { prefix: '66', feature: 'xmm2', arg: SM.w128 | SM.aligned | SM.store });
two('movdqu', 'SSE_MOV', 0x6f, 'Vx,Wx', { prefix: 'F3', feature: 'xmm2', arg: SM.w128 });
two('movdqu', 'SSE_MOV', 0x7f, 'Wx,Vx', { prefix: 'F3', feature: 'xmm2', arg: SM.w128 | SM.store });
two('movntdq', 'SSE_MOV', 0xe7, 'Mx,Vx', { prefix: '66', mod: 'mem', feature: 'xmm2', arg: SM.w128 | SM.aligned | SM.store });
two('movq', 'SSE_MOV', 0x7e, 'Vx,Wq', { prefix: 'F3', feature: 'xmm2', arg: SM.w64 | SM.zext });
two('movq', 'SSE_MOV', 0xd6, 'Wq,Vx', { prefix: '66', feature: 'xmm2', arg: SM.w64 | SM.store | SM.zext });
two('movd', 'SSE_MOVD', 0x6e, 'Vx,Ey', { prefix: '66', feature: 'xmm2', arg: 0 });
two('movd', 'SSE_MOVD', 0x7e, 'Ey,Vx', { prefix: '66', feature: 'xmm2', arg: 1 });
// bitwise logic: arg 0 AND, 1 ANDN (dest = ~dest & src), 2 OR, 3 XOR
for (const [pfx, feat, names] of [['none', 'xmm', ['andps', 'andnps', 'orps', 'xorps']], ['66', 'xmm2', ['andpd', 'andnpd', 'orpd', 'xorpd']]] as const) {
  names.forEach((m, i) => two(m, 'SSE_LOGIC', 0x54 + i, 'Vx,Wx', { prefix: pfx, feature: feat, arg: i }));
}
two('pand', 'SSE_LOGIC', 0xdb, 'Vx,Wx', { prefix: '66', feature: 'xmm2', arg: 0 });
two('pandn', 'SSE_LOGIC', 0xdf, 'Vx,Wx', { prefix: '66', feature: 'xmm2', arg: 1 });
two('por', 'SSE_LOGIC', 0xeb, 'Vx,Wx', { prefix: '66', feature: 'xmm2', arg: 2 });
two('pxor', 'SSE_LOGIC', 0xef, 'Vx,Wx', { prefix: '66', feature: 'xmm2', arg: 3 });
two('movnti', 'MOV', 0xc3, 'My,Gy', { prefix: 'none', mod: 'mem', feature: 'xmm2' });

// ---- three-byte map 0F 38 (SDM Table A-4) ---------------------------------------------------------
m38('movbe', 'MOVBE', 0xf0, 'Gv,Mv', { prefix: 'none', mod: 'mem', feature: 'movbe' });
m38('movbe', 'MOVBE', 0xf1, 'Mv,Gv', { prefix: 'none', mod: 'mem', feature: 'movbe' });
m38('movbe', 'MOVBE', 0xf0, 'Gv,Mv', { prefix: '66', mod: 'mem', feature: 'movbe' });
m38('movbe', 'MOVBE', 0xf1, 'Mv,Gv', { prefix: '66', mod: 'mem', feature: 'movbe' });
m38('adcx', 'ADCX', 0xf6, 'Gy,Ey', { prefix: '66', feature: 'adx', arg: 0 });
m38('adox', 'ADCX', 0xf6, 'Gy,Ey', { prefix: 'F3', feature: 'adx', arg: 1 });
m38('invpcid', 'INVPCID', 0x82, 'Gy,M', { prefix: '66', mod: 'mem', feature: 'invpcid' });
// VEX-encoded BMI1/BMI2 (SDM Vol. 2 "ANDN", "BEXTR", "BLSI", … ; VEX.LZ)
m38('andn', 'ANDN', 0xf2, 'Gy,By,Ey', { prefix: 'none', vex: true, feature: 'bmi1', undef: 'AF,PF' });
m38('blsr', 'BLS', 0xf3, 'By,Ey', { prefix: 'none', vex: true, digit: 1, feature: 'bmi1', arg: 1, undef: 'AF,PF' });
m38('blsmsk', 'BLS', 0xf3, 'By,Ey', { prefix: 'none', vex: true, digit: 2, feature: 'bmi1', arg: 2, undef: 'AF,PF' });
m38('blsi', 'BLS', 0xf3, 'By,Ey', { prefix: 'none', vex: true, digit: 3, feature: 'bmi1', arg: 3, undef: 'AF,PF' });
m38('bextr', 'BEXTR', 0xf7, 'Gy,Ey,By', { prefix: 'none', vex: true, feature: 'bmi1', undef: 'AF,SF,PF' });
m38('bzhi', 'BZHI', 0xf5, 'Gy,Ey,By', { prefix: 'none', vex: true, feature: 'bmi2', undef: 'AF,PF' });
m38('pdep', 'PDEP', 0xf5, 'Gy,By,Ey', { prefix: 'F2', vex: true, feature: 'bmi2', arg: 0 });
m38('pext', 'PDEP', 0xf5, 'Gy,By,Ey', { prefix: 'F3', vex: true, feature: 'bmi2', arg: 1 });
m38('mulx', 'MULX', 0xf6, 'Gy,By,Ey', { prefix: 'F2', vex: true, feature: 'bmi2' });
m38('sarx', 'SHIFTX', 0xf7, 'Gy,Ey,By', { prefix: 'F3', vex: true, feature: 'bmi2', arg: 7 });
m38('shlx', 'SHIFTX', 0xf7, 'Gy,Ey,By', { prefix: '66', vex: true, feature: 'bmi2', arg: 4 });
m38('shrx', 'SHIFTX', 0xf7, 'Gy,Ey,By', { prefix: 'F2', vex: true, feature: 'bmi2', arg: 5 });
rows.push({ mnemonic: 'rorx', op: 'RORX', map: '0F3A', opcode: 0xf0, operands: ['Gy', 'Ey', 'Ib'], prefix: 'F2', vex: true, feature: 'bmi2' });

// SIMD execution lives in its own row lists (integer/MMX and floating point), each with the
// placeholder rows for the encodings it does not execute yet (decoded for length, internal_error).
rows.push(...X87_ROWS, ...SIMD_INT_ROWS, ...SIMD_FP_ROWS);

export const INSN_TABLE: readonly InsnRow[] = rows;
