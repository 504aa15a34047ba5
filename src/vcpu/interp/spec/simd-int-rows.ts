// Instruction-table rows for the integer SIMD instructions: MMX, SSE2 integer, SSSE3, SSE4.1/4.2
// integer and string forms (Intel SDM Vol. 2 Appendix A Tables A-3..A-5 and the per-instruction pages;
// Vol. 1 ch. 9 MMX, ch. 11-12 SSE2..SSE4). Executed by src/vcpu/interp/simd-int.ts.
//
// Mandatory prefix per form: none (NP) = MMX form on mm registers, 66 = SSE form on xmm registers,
// F2/F3 only where the SDM defines them (PSHUFLW/PSHUFHW, MOVDQ2Q/MOVQ2DQ, CRC32). Every other prefix
// combination has no row and is #UD. The 66 forms of MOVD/MOVQ/MOVDQA/MOVDQU/MOVNTDQ and
// PAND/PANDN/POR/PXOR live in table.ts (SSE_MOV/SSE_MOVD/SSE_LOGIC).
//
// ops and their arg:
//   PINT    dest(mm/xmm in ModRM.reg) = f(dest, src mm/xmm/memory[, imm8]); arg = operation (PI below)
//   PSHIFTI shift the mm/xmm register in ModRM.rm by imm8 (0F 71-73 groups); arg = operation (PI)
//   PMISC   moves, inserts/extracts, masks, EMMS, PTEST; arg = PM below
//   CRC32   F2 0F38 F0/F1
//   PCMPSTR 66 0F3A 60-63; arg = opcode & 3 (bit 0 index (I) vs mask (M), bit 1 implicit length)

import type { InsnRow, MandatoryPrefix, OpMap } from './table.ts';

/** PINT / PSHIFTI operations (the executor's switch uses these numbers) */
export const PI = {
  // 0x00 unpack and pack
  PUNPCKLBW: 0x00, PUNPCKLWD: 0x01, PUNPCKLDQ: 0x02, PUNPCKLQDQ: 0x03,
  PUNPCKHBW: 0x04, PUNPCKHWD: 0x05, PUNPCKHDQ: 0x06, PUNPCKHQDQ: 0x07,
  PACKSSWB: 0x08, PACKSSDW: 0x09, PACKUSWB: 0x0a, PACKUSDW: 0x0b,
  // 0x10 compares and logic
  PCMPEQB: 0x10, PCMPEQW: 0x11, PCMPEQD: 0x12, PCMPEQQ: 0x13,
  PCMPGTB: 0x14, PCMPGTW: 0x15, PCMPGTD: 0x16, PCMPGTQ: 0x17,
  PAND: 0x18, PANDN: 0x19, POR: 0x1a, PXOR: 0x1b,
  // 0x20 add and subtract
  PADDB: 0x20, PADDW: 0x21, PADDD: 0x22, PADDQ: 0x23, PSUBB: 0x24, PSUBW: 0x25, PSUBD: 0x26, PSUBQ: 0x27,
  PADDSB: 0x28, PADDSW: 0x29, PADDUSB: 0x2a, PADDUSW: 0x2b, PSUBSB: 0x2c, PSUBSW: 0x2d, PSUBUSB: 0x2e, PSUBUSW: 0x2f,
  // 0x40 multiply
  PMULLW: 0x40, PMULHW: 0x41, PMULHUW: 0x42, PMULUDQ: 0x43, PMADDWD: 0x44, PMULDQ: 0x45, PMULLD: 0x46,
  PMULHRSW: 0x47, PMADDUBSW: 0x48,
  // 0x50 average, min/max, sum of absolute differences
  PAVGB: 0x50, PAVGW: 0x51, PMINUB: 0x52, PMAXUB: 0x53, PMINSW: 0x54, PMAXSW: 0x55, PMINSB: 0x56, PMAXSB: 0x57,
  PMINSD: 0x58, PMAXSD: 0x59, PMINUW: 0x5a, PMAXUW: 0x5b, PMINUD: 0x5c, PMAXUD: 0x5d, PSADBW: 0x5e,
  // 0x60 shifts (count from the source operand for PINT, from imm8 for PSHIFTI)
  PSRLW: 0x60, PSRLD: 0x61, PSRLQ: 0x62, PSRAW: 0x63, PSRAD: 0x64, PSLLW: 0x65, PSLLD: 0x66, PSLLQ: 0x67,
  PSRLDQ: 0x68, PSLLDQ: 0x69,
  // 0x70 shuffles and imm8-controlled forms
  PSHUFW: 0x70, PSHUFD: 0x71, PSHUFHW: 0x72, PSHUFLW: 0x73, PSHUFB: 0x74, PALIGNR: 0x75, PBLENDW: 0x76, MPSADBW: 0x77,
  // 0x80 horizontal, sign, absolute value, minimum position
  PHADDW: 0x80, PHADDD: 0x81, PHADDSW: 0x82, PHSUBW: 0x83, PHSUBD: 0x84, PHSUBSW: 0x85,
  PSIGNB: 0x86, PSIGNW: 0x87, PSIGND: 0x88, PABSB: 0x89, PABSW: 0x8a, PABSD: 0x8b, PHMINPOSUW: 0x8c,
  // 0x90 sign/zero extension (source m64/m32/m16 per form, no alignment requirement)
  PMOVSXBW: 0x90, PMOVSXBD: 0x91, PMOVSXBQ: 0x92, PMOVSXWD: 0x93, PMOVSXWQ: 0x94, PMOVSXDQ: 0x95,
  PMOVZXBW: 0x98, PMOVZXBD: 0x99, PMOVZXBQ: 0x9a, PMOVZXWD: 0x9b, PMOVZXWQ: 0x9c, PMOVZXDQ: 0x9d,
} as const;

/** PMISC operations */
export const PM = {
  MOVD_MM_E: 0, MOVD_E_MM: 1, MOVQ_MM_Q: 2, MOVQ_Q_MM: 3, MOVNTQ: 4, MOVQ2DQ: 5, MOVDQ2Q: 6, EMMS: 7,
  MASKMOVQ: 8, MASKMOVDQU: 9, PMOVMSKB_MM: 10, PMOVMSKB_XMM: 11, PINSRW_MM: 12, PINSRW_XMM: 13,
  PEXTRW_MM: 14, PEXTRW_XMM: 15, PEXTRB: 16, PEXTRW_E: 17, PEXTRD: 18, PINSRB: 19, PINSRD: 20, PTEST: 21,
  MOVNTDQA: 22,
} as const;

const rows: InsnRow[] = [];

function row(mnemonic: string, op: string, map: OpMap, opcode: number, prefix: MandatoryPrefix, operands: string, feature: string,
  arg: number, extra: Partial<InsnRow> = {}): void {
  rows.push({ mnemonic, op, map, opcode, prefix, operands: operands.split(','), feature, arg, ...extra });
}

/** PINT on both register files: NP form on mm (feature `mmFeat`, null = no MMX form), 66 form on xmm */
function both(mnemonic: string, map: OpMap, opcode: number, arg: number, mmFeat: string | null, xmmFeat: string, imm = false): void {
  const i = imm ? ',Ib' : '';
  if (mmFeat) row(mnemonic, 'PINT', map, opcode, 'none', `Pq,Qq${i}`, mmFeat, arg);
  row(mnemonic, 'PINT', map, opcode, '66', `Vx,Wx${i}`, xmmFeat, arg);
}

// ---- 0F 60-7F, C4/C5, D1-FE: MMX and SSE2 integer (SDM Table A-3) ---------------------------------
// the MMX low unpacks read only 32 bits of a memory source (PUNPCKLBW mm, mm/m32)
row('punpcklbw', 'PINT', '0F', 0x60, 'none', 'Pq,Qd', 'mmx', PI.PUNPCKLBW);
row('punpcklwd', 'PINT', '0F', 0x61, 'none', 'Pq,Qd', 'mmx', PI.PUNPCKLWD);
row('punpckldq', 'PINT', '0F', 0x62, 'none', 'Pq,Qd', 'mmx', PI.PUNPCKLDQ);
both('punpcklbw', '0F', 0x60, PI.PUNPCKLBW, null, 'xmm2');
both('punpcklwd', '0F', 0x61, PI.PUNPCKLWD, null, 'xmm2');
both('punpckldq', '0F', 0x62, PI.PUNPCKLDQ, null, 'xmm2');
both('packsswb', '0F', 0x63, PI.PACKSSWB, 'mmx', 'xmm2');
both('pcmpgtb', '0F', 0x64, PI.PCMPGTB, 'mmx', 'xmm2');
both('pcmpgtw', '0F', 0x65, PI.PCMPGTW, 'mmx', 'xmm2');
both('pcmpgtd', '0F', 0x66, PI.PCMPGTD, 'mmx', 'xmm2');
both('packuswb', '0F', 0x67, PI.PACKUSWB, 'mmx', 'xmm2');
both('punpckhbw', '0F', 0x68, PI.PUNPCKHBW, 'mmx', 'xmm2');
both('punpckhwd', '0F', 0x69, PI.PUNPCKHWD, 'mmx', 'xmm2');
both('punpckhdq', '0F', 0x6a, PI.PUNPCKHDQ, 'mmx', 'xmm2');
both('packssdw', '0F', 0x6b, PI.PACKSSDW, 'mmx', 'xmm2');
both('punpcklqdq', '0F', 0x6c, PI.PUNPCKLQDQ, null, 'xmm2');
both('punpckhqdq', '0F', 0x6d, PI.PUNPCKHQDQ, null, 'xmm2');
row('movd', 'PMISC', '0F', 0x6e, 'none', 'Pq,Ey', 'mmx', PM.MOVD_MM_E);
row('movq', 'PMISC', '0F', 0x6f, 'none', 'Pq,Qq', 'mmx', PM.MOVQ_MM_Q);
row('pshufw', 'PINT', '0F', 0x70, 'none', 'Pq,Qq,Ib', 'xmm', PI.PSHUFW);
row('pshufd', 'PINT', '0F', 0x70, '66', 'Vx,Wx,Ib', 'xmm2', PI.PSHUFD);
row('pshufhw', 'PINT', '0F', 0x70, 'F3', 'Vx,Wx,Ib', 'xmm2', PI.PSHUFHW);
row('pshuflw', 'PINT', '0F', 0x70, 'F2', 'Vx,Wx,Ib', 'xmm2', PI.PSHUFLW);
// shift-by-immediate groups 12-14 (SDM Table A-6): register operand only
const SHIFT_GROUPS: [number, number, string, number][] = [
  [0x71, 2, 'psrlw', PI.PSRLW], [0x71, 4, 'psraw', PI.PSRAW], [0x71, 6, 'psllw', PI.PSLLW],
  [0x72, 2, 'psrld', PI.PSRLD], [0x72, 4, 'psrad', PI.PSRAD], [0x72, 6, 'pslld', PI.PSLLD],
  [0x73, 2, 'psrlq', PI.PSRLQ], [0x73, 6, 'psllq', PI.PSLLQ],
];
for (const [opc, digit, m, arg] of SHIFT_GROUPS) {
  row(m, 'PSHIFTI', '0F', opc, 'none', 'Nq,Ib', 'mmx', arg, { digit, mod: 'reg' });
  row(m, 'PSHIFTI', '0F', opc, '66', 'Ux,Ib', 'xmm2', arg, { digit, mod: 'reg' });
}
row('psrldq', 'PSHIFTI', '0F', 0x73, '66', 'Ux,Ib', 'xmm2', PI.PSRLDQ, { digit: 3, mod: 'reg' });
row('pslldq', 'PSHIFTI', '0F', 0x73, '66', 'Ux,Ib', 'xmm2', PI.PSLLDQ, { digit: 7, mod: 'reg' });
both('pcmpeqb', '0F', 0x74, PI.PCMPEQB, 'mmx', 'xmm2');
both('pcmpeqw', '0F', 0x75, PI.PCMPEQW, 'mmx', 'xmm2');
both('pcmpeqd', '0F', 0x76, PI.PCMPEQD, 'mmx', 'xmm2');
row('emms', 'PMISC', '0F', 0x77, 'none', '', 'mmx', PM.EMMS);
row('movd', 'PMISC', '0F', 0x7e, 'none', 'Ey,Pq', 'mmx', PM.MOVD_E_MM);
row('movq', 'PMISC', '0F', 0x7f, 'none', 'Qq,Pq', 'mmx', PM.MOVQ_Q_MM);
row('pinsrw', 'PMISC', '0F', 0xc4, 'none', 'Pq,Ew,Ib', 'xmm', PM.PINSRW_MM);
row('pinsrw', 'PMISC', '0F', 0xc4, '66', 'Vx,Ew,Ib', 'xmm2', PM.PINSRW_XMM);
row('pextrw', 'PMISC', '0F', 0xc5, 'none', 'Gd,Nq,Ib', 'xmm', PM.PEXTRW_MM, { mod: 'reg' });
row('pextrw', 'PMISC', '0F', 0xc5, '66', 'Gd,Ux,Ib', 'xmm2', PM.PEXTRW_XMM, { mod: 'reg' });
both('psrlw', '0F', 0xd1, PI.PSRLW, 'mmx', 'xmm2');
both('psrld', '0F', 0xd2, PI.PSRLD, 'mmx', 'xmm2');
both('psrlq', '0F', 0xd3, PI.PSRLQ, 'mmx', 'xmm2');
both('paddq', '0F', 0xd4, PI.PADDQ, 'xmm2', 'xmm2');
both('pmullw', '0F', 0xd5, PI.PMULLW, 'mmx', 'xmm2');
row('movq2dq', 'PMISC', '0F', 0xd6, 'F3', 'Vx,Nq', 'xmm2', PM.MOVQ2DQ, { mod: 'reg' });
row('movdq2q', 'PMISC', '0F', 0xd6, 'F2', 'Pq,Ux', 'xmm2', PM.MOVDQ2Q, { mod: 'reg' });
row('pmovmskb', 'PMISC', '0F', 0xd7, 'none', 'Gd,Nq', 'xmm', PM.PMOVMSKB_MM, { mod: 'reg' });
row('pmovmskb', 'PMISC', '0F', 0xd7, '66', 'Gd,Ux', 'xmm2', PM.PMOVMSKB_XMM, { mod: 'reg' });
both('psubusb', '0F', 0xd8, PI.PSUBUSB, 'mmx', 'xmm2');
both('psubusw', '0F', 0xd9, PI.PSUBUSW, 'mmx', 'xmm2');
both('pminub', '0F', 0xda, PI.PMINUB, 'xmm', 'xmm2');
row('pand', 'PINT', '0F', 0xdb, 'none', 'Pq,Qq', 'mmx', PI.PAND);
both('paddusb', '0F', 0xdc, PI.PADDUSB, 'mmx', 'xmm2');
both('paddusw', '0F', 0xdd, PI.PADDUSW, 'mmx', 'xmm2');
both('pmaxub', '0F', 0xde, PI.PMAXUB, 'xmm', 'xmm2');
row('pandn', 'PINT', '0F', 0xdf, 'none', 'Pq,Qq', 'mmx', PI.PANDN);
both('pavgb', '0F', 0xe0, PI.PAVGB, 'xmm', 'xmm2');
both('psraw', '0F', 0xe1, PI.PSRAW, 'mmx', 'xmm2');
both('psrad', '0F', 0xe2, PI.PSRAD, 'mmx', 'xmm2');
both('pavgw', '0F', 0xe3, PI.PAVGW, 'xmm', 'xmm2');
both('pmulhuw', '0F', 0xe4, PI.PMULHUW, 'xmm', 'xmm2');
both('pmulhw', '0F', 0xe5, PI.PMULHW, 'mmx', 'xmm2');
row('movntq', 'PMISC', '0F', 0xe7, 'none', 'Mq,Pq', 'xmm', PM.MOVNTQ, { mod: 'mem' });
both('psubsb', '0F', 0xe8, PI.PSUBSB, 'mmx', 'xmm2');
both('psubsw', '0F', 0xe9, PI.PSUBSW, 'mmx', 'xmm2');
both('pminsw', '0F', 0xea, PI.PMINSW, 'xmm', 'xmm2');
row('por', 'PINT', '0F', 0xeb, 'none', 'Pq,Qq', 'mmx', PI.POR);
both('paddsb', '0F', 0xec, PI.PADDSB, 'mmx', 'xmm2');
both('paddsw', '0F', 0xed, PI.PADDSW, 'mmx', 'xmm2');
both('pmaxsw', '0F', 0xee, PI.PMAXSW, 'xmm', 'xmm2');
row('pxor', 'PINT', '0F', 0xef, 'none', 'Pq,Qq', 'mmx', PI.PXOR);
both('psllw', '0F', 0xf1, PI.PSLLW, 'mmx', 'xmm2');
both('pslld', '0F', 0xf2, PI.PSLLD, 'mmx', 'xmm2');
both('psllq', '0F', 0xf3, PI.PSLLQ, 'mmx', 'xmm2');
both('pmuludq', '0F', 0xf4, PI.PMULUDQ, 'xmm2', 'xmm2');
both('pmaddwd', '0F', 0xf5, PI.PMADDWD, 'mmx', 'xmm2');
both('psadbw', '0F', 0xf6, PI.PSADBW, 'xmm', 'xmm2');
row('maskmovq', 'PMISC', '0F', 0xf7, 'none', 'Pq,Nq', 'xmm', PM.MASKMOVQ, { mod: 'reg' });
row('maskmovdqu', 'PMISC', '0F', 0xf7, '66', 'Vx,Ux', 'xmm2', PM.MASKMOVDQU, { mod: 'reg' });
both('psubb', '0F', 0xf8, PI.PSUBB, 'mmx', 'xmm2');
both('psubw', '0F', 0xf9, PI.PSUBW, 'mmx', 'xmm2');
both('psubd', '0F', 0xfa, PI.PSUBD, 'mmx', 'xmm2');
both('psubq', '0F', 0xfb, PI.PSUBQ, 'xmm2', 'xmm2');
both('paddb', '0F', 0xfc, PI.PADDB, 'mmx', 'xmm2');
both('paddw', '0F', 0xfd, PI.PADDW, 'mmx', 'xmm2');
both('paddd', '0F', 0xfe, PI.PADDD, 'mmx', 'xmm2');

// ---- 0F 38: SSSE3 (NP = mm, 66 = xmm), SSE4.1/4.2 integer (66 only), CRC32 (SDM Table A-4) ---------
const SSSE3: [number, string, number][] = [
  [0x00, 'pshufb', PI.PSHUFB], [0x01, 'phaddw', PI.PHADDW], [0x02, 'phaddd', PI.PHADDD], [0x03, 'phaddsw', PI.PHADDSW],
  [0x04, 'pmaddubsw', PI.PMADDUBSW], [0x05, 'phsubw', PI.PHSUBW], [0x06, 'phsubd', PI.PHSUBD], [0x07, 'phsubsw', PI.PHSUBSW],
  [0x08, 'psignb', PI.PSIGNB], [0x09, 'psignw', PI.PSIGNW], [0x0a, 'psignd', PI.PSIGND], [0x0b, 'pmulhrsw', PI.PMULHRSW],
  [0x1c, 'pabsb', PI.PABSB], [0x1d, 'pabsw', PI.PABSW], [0x1e, 'pabsd', PI.PABSD],
];
for (const [opc, m, arg] of SSSE3) both(m, '0F38', opc, arg, 'ssse3', 'ssse3');
row('ptest', 'PMISC', '0F38', 0x17, '66', 'Vx,Wx', 'sse4_1', PM.PTEST);
const PMOVX: [number, string, string, number][] = [
  [0x20, 'pmovsxbw', 'Wq', PI.PMOVSXBW], [0x21, 'pmovsxbd', 'Wd', PI.PMOVSXBD], [0x22, 'pmovsxbq', 'Ww', PI.PMOVSXBQ],
  [0x23, 'pmovsxwd', 'Wq', PI.PMOVSXWD], [0x24, 'pmovsxwq', 'Wd', PI.PMOVSXWQ], [0x25, 'pmovsxdq', 'Wq', PI.PMOVSXDQ],
  [0x30, 'pmovzxbw', 'Wq', PI.PMOVZXBW], [0x31, 'pmovzxbd', 'Wd', PI.PMOVZXBD], [0x32, 'pmovzxbq', 'Ww', PI.PMOVZXBQ],
  [0x33, 'pmovzxwd', 'Wq', PI.PMOVZXWD], [0x34, 'pmovzxwq', 'Wd', PI.PMOVZXWQ], [0x35, 'pmovzxdq', 'Wq', PI.PMOVZXDQ],
];
for (const [opc, m, src, arg] of PMOVX) row(m, 'PINT', '0F38', opc, '66', `Vx,${src}`, 'sse4_1', arg);
const SSE41: [number, string, number][] = [
  [0x28, 'pmuldq', PI.PMULDQ], [0x29, 'pcmpeqq', PI.PCMPEQQ], [0x2b, 'packusdw', PI.PACKUSDW],
  [0x38, 'pminsb', PI.PMINSB], [0x39, 'pminsd', PI.PMINSD], [0x3a, 'pminuw', PI.PMINUW], [0x3b, 'pminud', PI.PMINUD],
  [0x3c, 'pmaxsb', PI.PMAXSB], [0x3d, 'pmaxsd', PI.PMAXSD], [0x3e, 'pmaxuw', PI.PMAXUW], [0x3f, 'pmaxud', PI.PMAXUD],
  [0x40, 'pmulld', PI.PMULLD], [0x41, 'phminposuw', PI.PHMINPOSUW],
];
for (const [opc, m, arg] of SSE41) both(m, '0F38', opc, arg, null, 'sse4_1');
row('movntdqa', 'PMISC', '0F38', 0x2a, '66', 'Vx,Mx', 'sse4_1', PM.MOVNTDQA, { mod: 'mem' });
both('pcmpgtq', '0F38', 0x37, PI.PCMPGTQ, null, 'sse4_2');
// CRC32 r32/r64, r/m8 and r/m16/32/64: the source size follows 66/REX.W, the destination REX.W
row('crc32', 'CRC32', '0F38', 0xf0, 'F2', 'Gy,Eb', 'sse4_2', 0);
row('crc32', 'CRC32', '0F38', 0xf1, 'F2', 'Gd,Ev', 'sse4_2', 0);

// ---- 0F 3A (SDM Table A-5) -------------------------------------------------------------------------
both('palignr', '0F3A', 0x0f, PI.PALIGNR, 'ssse3', 'ssse3', true);
both('pblendw', '0F3A', 0x0e, PI.PBLENDW, null, 'sse4_1', true);
both('mpsadbw', '0F3A', 0x42, PI.MPSADBW, null, 'sse4_1', true);
row('pextrb', 'PMISC', '0F3A', 0x14, '66', 'Eb,Vx,Ib', 'sse4_1', PM.PEXTRB);
row('pextrw', 'PMISC', '0F3A', 0x15, '66', 'Ew,Vx,Ib', 'sse4_1', PM.PEXTRW_E);
row('pextrd', 'PMISC', '0F3A', 0x16, '66', 'Ey,Vx,Ib', 'sse4_1', PM.PEXTRD);
row('pinsrb', 'PMISC', '0F3A', 0x20, '66', 'Vx,Eb,Ib', 'sse4_1', PM.PINSRB);
row('pinsrd', 'PMISC', '0F3A', 0x22, '66', 'Vx,Ey,Ib', 'sse4_1', PM.PINSRD);
const PCMPSTR = ['pcmpestrm', 'pcmpestri', 'pcmpistrm', 'pcmpistri'];
PCMPSTR.forEach((m, i) => row(m, 'PCMPSTR', '0F3A', 0x60 + i, '66', 'Vx,Wx,Ib', 'sse4_2', i));

export const SIMD_INT_ROWS: readonly InsnRow[] = rows;
