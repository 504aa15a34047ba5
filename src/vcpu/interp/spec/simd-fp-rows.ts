// Instruction-table rows for the floating-point SSE instructions: SSE, SSE2, SSE3 and SSE4.1 single and
// double precision arithmetic, comparisons, conversions, shuffles and moves (Intel SDM Vol. 2
// Appendix A Tables A-3..A-5 and the per-instruction pages). Every row names its mandatory prefix;
// prefix/opcode combinations the SDM does not define have no row and so raise #UD.
// Executed by src/vcpu/interp/simd-fp.ts (op SSE_FP, `arg` = one of the FP sub-operations below);
// MOVNTPD and LDDQU are plain 128-bit moves executed by the shared SSE_MOV handler (system.ts).
// The MOVUPS/MOVAPS/MOVSS/MOVSD/MOVUPD/MOVAPD/MOVNTPS and ANDPS…XORPD rows live in table.ts.

import type { InsnRow, MandatoryPrefix, OpMap } from './table.ts';

/**
 * FP sub-operations (row `arg`, one byte). Arithmetic: arg = 4*kind + type with kind ADD SUB MUL DIV
 * MIN MAX SQRT (0-6) and type PS SS PD SD (0-3).
 */
export const FP = {
  ADD: 0, SUB: 1, MUL: 2, DIV: 3, MIN: 4, MAX: 5, SQRT: 6,
  RCPPS: 28, RCPSS: 29, RSQRTPS: 30, RSQRTSS: 31,
  CMP: 32, // + type (32-35)
  COMISS: 36, COMISD: 37, UCOMISS: 38, UCOMISD: 39,
  SHUFPS: 40, SHUFPD: 41, UNPCKLPS: 42, UNPCKLPD: 43, UNPCKHPS: 44, UNPCKHPD: 45,
  MOVLP_LOAD: 46, MOVHP_LOAD: 47, MOVLP_STORE: 48, MOVHP_STORE: 49, MOVHLPS: 50, MOVLHPS: 51,
  MOVMSKPS: 52, MOVMSKPD: 53, MOVSHDUP: 54, MOVSLDUP: 55, MOVDDUP: 56,
  ADDSUBPS: 57, ADDSUBPD: 58, HADDPS: 59, HADDPD: 60, HSUBPS: 61, HSUBPD: 62,
  CVTSI2SS: 64, CVTSI2SD: 65, CVTSS2SI: 66, CVTTSS2SI: 67, CVTSD2SI: 68, CVTTSD2SI: 69,
  CVTSS2SD: 70, CVTSD2SS: 71, CVTPS2PD: 72, CVTPD2PS: 73, CVTDQ2PS: 74, CVTPS2DQ: 75, CVTTPS2DQ: 76,
  CVTDQ2PD: 77, CVTPD2DQ: 78, CVTTPD2DQ: 79, CVTPI2PS: 80, CVTPS2PI: 81, CVTTPS2PI: 82,
  CVTPI2PD: 83, CVTPD2PI: 84, CVTTPD2PI: 85,
  ROUNDPS: 88, ROUNDPD: 89, ROUNDSS: 90, ROUNDSD: 91, BLENDPS: 92, BLENDPD: 93,
  BLENDVPS: 94, BLENDVPD: 95, PBLENDVB: 96, DPPS: 97, DPPD: 98, INSERTPS: 99, EXTRACTPS: 100,
} as const;

const rows: InsnRow[] = [];
type Feat = 'xmm' | 'xmm2' | 'pni' | 'sse4_1';
function row(map: OpMap, mnemonic: string, opcode: number, prefix: MandatoryPrefix, operands: string, feature: Feat, arg: number, mod?: 'mem' | 'reg'): void {
  rows.push({ mnemonic, op: 'SSE_FP', map, opcode, prefix, operands: operands.split(','), feature, arg, ...(mod ? { mod } : {}) });
}
const two = (m: string, opc: number, p: MandatoryPrefix, ops: string, f: Feat, arg: number, mod?: 'mem' | 'reg'): void => row('0F', m, opc, p, ops, f, arg, mod);

// ---- arithmetic: 0F 51 SQRT, 58 ADD, 59 MUL, 5C SUB, 5D MIN, 5E DIV, 5F MAX ------------------------
const TYPES: [string, MandatoryPrefix, string, Feat][] = [['ps', 'none', 'Wx', 'xmm'], ['ss', 'F3', 'Wd', 'xmm'], ['pd', '66', 'Wx', 'xmm2'], ['sd', 'F2', 'Wq', 'xmm2']];
const ARITH: [string, number, number][] = [['add', 0x58, FP.ADD], ['sub', 0x5c, FP.SUB], ['mul', 0x59, FP.MUL], ['div', 0x5e, FP.DIV], ['min', 0x5d, FP.MIN], ['max', 0x5f, FP.MAX], ['sqrt', 0x51, FP.SQRT]];
for (const [name, opc, kind] of ARITH) TYPES.forEach(([t, p, w, f], i) => two(name + t, opc, p, `Vx,${w}`, f, 4 * kind + i));
TYPES.forEach(([t, p, w, f], i) => two('cmp' + t, 0xc2, p, `Vx,${w},Ib`, f, FP.CMP + i));
two('rsqrtps', 0x52, 'none', 'Vx,Wx', 'xmm', FP.RSQRTPS);
two('rsqrtss', 0x52, 'F3', 'Vx,Wd', 'xmm', FP.RSQRTSS);
two('rcpps', 0x53, 'none', 'Vx,Wx', 'xmm', FP.RCPPS);
two('rcpss', 0x53, 'F3', 'Vx,Wd', 'xmm', FP.RCPSS);
two('ucomiss', 0x2e, 'none', 'Vx,Wd', 'xmm', FP.UCOMISS);
two('ucomisd', 0x2e, '66', 'Vx,Wq', 'xmm2', FP.UCOMISD);
two('comiss', 0x2f, 'none', 'Vx,Wd', 'xmm', FP.COMISS);
two('comisd', 0x2f, '66', 'Vx,Wq', 'xmm2', FP.COMISD);

// ---- shuffles and partial moves ------------------------------------------------------------------
two('shufps', 0xc6, 'none', 'Vx,Wx,Ib', 'xmm', FP.SHUFPS);
two('shufpd', 0xc6, '66', 'Vx,Wx,Ib', 'xmm2', FP.SHUFPD);
two('unpcklps', 0x14, 'none', 'Vx,Wx', 'xmm', FP.UNPCKLPS);
two('unpcklpd', 0x14, '66', 'Vx,Wx', 'xmm2', FP.UNPCKLPD);
two('unpckhps', 0x15, 'none', 'Vx,Wx', 'xmm', FP.UNPCKHPS);
two('unpckhpd', 0x15, '66', 'Vx,Wx', 'xmm2', FP.UNPCKHPD);
two('movlps', 0x12, 'none', 'Vx,Mq', 'xmm', FP.MOVLP_LOAD, 'mem');
two('movhlps', 0x12, 'none', 'Vx,Ux', 'xmm', FP.MOVHLPS, 'reg');
two('movlpd', 0x12, '66', 'Vx,Mq', 'xmm2', FP.MOVLP_LOAD, 'mem');
two('movsldup', 0x12, 'F3', 'Vx,Wx', 'pni', FP.MOVSLDUP);
two('movddup', 0x12, 'F2', 'Vx,Wq', 'pni', FP.MOVDDUP);
two('movlps', 0x13, 'none', 'Mq,Vx', 'xmm', FP.MOVLP_STORE, 'mem');
two('movlpd', 0x13, '66', 'Mq,Vx', 'xmm2', FP.MOVLP_STORE, 'mem');
two('movhps', 0x16, 'none', 'Vx,Mq', 'xmm', FP.MOVHP_LOAD, 'mem');
two('movlhps', 0x16, 'none', 'Vx,Ux', 'xmm', FP.MOVLHPS, 'reg');
two('movhpd', 0x16, '66', 'Vx,Mq', 'xmm2', FP.MOVHP_LOAD, 'mem');
two('movshdup', 0x16, 'F3', 'Vx,Wx', 'pni', FP.MOVSHDUP);
two('movhps', 0x17, 'none', 'Mq,Vx', 'xmm', FP.MOVHP_STORE, 'mem');
two('movhpd', 0x17, '66', 'Mq,Vx', 'xmm2', FP.MOVHP_STORE, 'mem');
two('movmskps', 0x50, 'none', 'Gd,Ux', 'xmm', FP.MOVMSKPS, 'reg');
two('movmskpd', 0x50, '66', 'Gd,Ux', 'xmm2', FP.MOVMSKPD, 'reg');
// plain moves through the shared SSE_MOV handler (arg: width 128 = 0, store 4, aligned 8)
rows.push({ mnemonic: 'movntpd', op: 'SSE_MOV', map: '0F', opcode: 0x2b, prefix: '66', mod: 'mem', operands: ['Mx', 'Vx'], feature: 'xmm2', arg: 4 | 8 });
rows.push({ mnemonic: 'lddqu', op: 'SSE_MOV', map: '0F', opcode: 0xf0, prefix: 'F2', mod: 'mem', operands: ['Vx', 'Mx'], feature: 'pni', arg: 0 });

// ---- SSE3 horizontal and alternating arithmetic --------------------------------------------------
two('addsubpd', 0xd0, '66', 'Vx,Wx', 'pni', FP.ADDSUBPD);
two('addsubps', 0xd0, 'F2', 'Vx,Wx', 'pni', FP.ADDSUBPS);
two('haddpd', 0x7c, '66', 'Vx,Wx', 'pni', FP.HADDPD);
two('haddps', 0x7c, 'F2', 'Vx,Wx', 'pni', FP.HADDPS);
two('hsubpd', 0x7d, '66', 'Vx,Wx', 'pni', FP.HSUBPD);
two('hsubps', 0x7d, 'F2', 'Vx,Wx', 'pni', FP.HSUBPS);

// ---- conversions ---------------------------------------------------------------------------------
two('cvtpi2ps', 0x2a, 'none', 'Vx,Qq', 'xmm', FP.CVTPI2PS);
two('cvtpi2pd', 0x2a, '66', 'Vx,Qq', 'xmm2', FP.CVTPI2PD);
two('cvtsi2ss', 0x2a, 'F3', 'Vx,Ey', 'xmm', FP.CVTSI2SS);
two('cvtsi2sd', 0x2a, 'F2', 'Vx,Ey', 'xmm2', FP.CVTSI2SD);
two('cvttps2pi', 0x2c, 'none', 'Pq,Wq', 'xmm', FP.CVTTPS2PI);
two('cvttpd2pi', 0x2c, '66', 'Pq,Wx', 'xmm2', FP.CVTTPD2PI);
two('cvttss2si', 0x2c, 'F3', 'Gy,Wd', 'xmm', FP.CVTTSS2SI);
two('cvttsd2si', 0x2c, 'F2', 'Gy,Wq', 'xmm2', FP.CVTTSD2SI);
two('cvtps2pi', 0x2d, 'none', 'Pq,Wq', 'xmm', FP.CVTPS2PI);
two('cvtpd2pi', 0x2d, '66', 'Pq,Wx', 'xmm2', FP.CVTPD2PI);
two('cvtss2si', 0x2d, 'F3', 'Gy,Wd', 'xmm', FP.CVTSS2SI);
two('cvtsd2si', 0x2d, 'F2', 'Gy,Wq', 'xmm2', FP.CVTSD2SI);
two('cvtps2pd', 0x5a, 'none', 'Vx,Wq', 'xmm2', FP.CVTPS2PD);
two('cvtpd2ps', 0x5a, '66', 'Vx,Wx', 'xmm2', FP.CVTPD2PS);
two('cvtss2sd', 0x5a, 'F3', 'Vx,Wd', 'xmm2', FP.CVTSS2SD);
two('cvtsd2ss', 0x5a, 'F2', 'Vx,Wq', 'xmm2', FP.CVTSD2SS);
two('cvtdq2ps', 0x5b, 'none', 'Vx,Wx', 'xmm2', FP.CVTDQ2PS);
two('cvtps2dq', 0x5b, '66', 'Vx,Wx', 'xmm2', FP.CVTPS2DQ);
two('cvttps2dq', 0x5b, 'F3', 'Vx,Wx', 'xmm2', FP.CVTTPS2DQ);
two('cvttpd2dq', 0xe6, '66', 'Vx,Wx', 'xmm2', FP.CVTTPD2DQ);
two('cvtdq2pd', 0xe6, 'F3', 'Vx,Wq', 'xmm2', FP.CVTDQ2PD);
two('cvtpd2dq', 0xe6, 'F2', 'Vx,Wx', 'xmm2', FP.CVTPD2DQ);

// ---- SSE4.1 (0F 38 / 0F 3A, all with the mandatory 66 prefix) --------------------------------------
row('0F38', 'pblendvb', 0x10, '66', 'Vx,Wx', 'sse4_1', FP.PBLENDVB);
row('0F38', 'blendvps', 0x14, '66', 'Vx,Wx', 'sse4_1', FP.BLENDVPS);
row('0F38', 'blendvpd', 0x15, '66', 'Vx,Wx', 'sse4_1', FP.BLENDVPD);
row('0F3A', 'roundps', 0x08, '66', 'Vx,Wx,Ib', 'sse4_1', FP.ROUNDPS);
row('0F3A', 'roundpd', 0x09, '66', 'Vx,Wx,Ib', 'sse4_1', FP.ROUNDPD);
row('0F3A', 'roundss', 0x0a, '66', 'Vx,Wd,Ib', 'sse4_1', FP.ROUNDSS);
row('0F3A', 'roundsd', 0x0b, '66', 'Vx,Wq,Ib', 'sse4_1', FP.ROUNDSD);
row('0F3A', 'blendps', 0x0c, '66', 'Vx,Wx,Ib', 'sse4_1', FP.BLENDPS);
row('0F3A', 'blendpd', 0x0d, '66', 'Vx,Wx,Ib', 'sse4_1', FP.BLENDPD);
row('0F3A', 'extractps', 0x17, '66', 'Ed,Vx,Ib', 'sse4_1', FP.EXTRACTPS);
row('0F3A', 'insertps', 0x21, '66', 'Vx,Wd,Ib', 'sse4_1', FP.INSERTPS);
row('0F3A', 'dpps', 0x40, '66', 'Vx,Wx,Ib', 'sse4_1', FP.DPPS);
row('0F3A', 'dppd', 0x41, '66', 'Vx,Wx,Ib', 'sse4_1', FP.DPPD);

export const SIMD_FP_ROWS: readonly InsnRow[] = rows;
