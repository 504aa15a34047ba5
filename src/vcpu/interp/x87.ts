// x87 FPU execution: data transfer, arithmetic, comparison and constant instructions on the 80-bit
// register stack, with the control/status/tag words (Intel SDM Vol. 1 Ch. 4.8-4.9 and Ch. 8, Vol. 2
// per-instruction pages). Rows: spec/x87-rows.ts (ops FPU_M / FPU_R, arg = (escape - D8h) * 8 + ModRM.reg).
// Called from execSystem for every op it does not handle.
//
// State: the FXSAVE image c.fx — FCW bytes 0-1, FSW 2-3 (TOP in bits 11-13), abridged tag byte 4 (bit p
// = physical register p valid), registers in stack order: ST(i) at byte 32 + 16*i (the image rotates on
// every TOP change, the convention of simd-int.ts). Arithmetic is exact in software: operands are
// unpacked to sign / unbiased exponent / 64-bit significand (int32 halves), the exact result is formed
// in a fixed-size array of 16-bit limbs (module scratch, no BigInt, no allocation) and rounded once to
// the precision control (FCW.PC: 24/53/64 bits, for FADD/FSUB/FMUL/FDIV/FSQRT only, SDM Vol. 1
// §8.1.5.2) or the destination format under FCW.RC. Masked responses follow SDM Vol. 1 §4.9.1 and
// §8.5 (QNaN indefinite, ±inf/max on overflow, denormals on underflow; tininess is detected before
// rounding, underflow is flagged when masked only if the tiny result is also inexact); C1 reports a
// rounded-up magnitude or the stack-fault direction. Unmasked IE/DE/ZE leave the destination (and
// TOP) alone and set ES/B (compares still set the condition codes but do not pop); unmasked OE/UE
// store the rounded result bias-adjusted by ∓24576 into a register and store nothing to memory (a
// result still out of range after the adjustment is an internal error). A pending unmasked exception
// (FSW.ES) raises #MF before the next waiting x87 instruction of this module when CR0.NE=1 (FERR#/IRQ 13
// for CR0.NE=0 is an internal error; FWAIT itself is executed in exec.ts). FOP/FIP/FDP are not
// updated (stored as zero by FNSTENV/FNSAVE). Behaviour the SDM leaves open (NaN choice for equal
// significands, FPREM's partial step 32 + d mod 32, reserved environment bits stored as ones) follows
// the host CPU the tests compare against (AMD Zen 4).

import type { Cpu } from './cpu.ts';
import * as G from './decoder.generated.ts';
import { CpuFault } from '../../arch/x86/exceptions.ts';

// FSW bits (SDM Vol. 1 Figure 8-4)
const IE = 1, DE = 2, ZE = 4, OE = 8, UE = 0x10, PE = 0x20, SF = 0x40, ES = 0x80;
const C0 = 0x100, C1 = 0x200, C2 = 0x400, C3 = 0x4000, BUSY = 0x8000;
const CR0_EM = 4, CR0_TS = 8, CR0_NE = 0x20;

// operand classes
const K_ZERO = 0, K_FIN = 1, K_INF = 2, K_QNAN = 3, K_SNAN = 4, K_BAD = 5;

/** two unpacked operands: class, sign, unbiased exponent of significand bit 63, significand (normalized for K_FIN), denormal input */
const oK = new Int32Array(2), oS = new Int32Array(2), oE = new Int32Array(2), oH = new Int32Array(2), oL = new Int32Array(2), oD = new Int32Array(2);
/** result register: sign/exponent word and significand */
let rSe = 0, rHi = 0, rLo = 0;
/** exceptions raised by this instruction; C1 (-1 = leave) */
let ex = 0, c1 = 0;
/** rounding output: class (0 zero, 1 finite, 2 inf), unbiased exponent, left-aligned significand */
let oCls = 0, oExp = 0, oMH = 0, oML = 0;
/** the last rounded result was tiny; a bias-adjusted result still out of range (an internal error) */
let oTiny = false, wild = false;
/** shift/temporary 64-bit results */
let tHi = 0, tLo = 0;

const LIMBS = 16;
/** exact value = W × 2^wScale, 16-bit limbs little-endian */
const W = new Int32Array(LIMBS);
let wScale = 0;
const Y = new Int32Array(LIMBS), R = new Int32Array(LIMBS), T = new Int32Array(LIMBS);
const ACC = new Float64Array(LIMBS);
const ROT = new Uint8Array(16);

// ---- 64-bit helpers (int32 halves) --------------------------------------------------------------------

function shr64(hi: number, lo: number, n: number): void {
  if (n === 0) { tHi = hi; tLo = lo; } else if (n < 32) { tLo = (lo >>> n) | (hi << (32 - n)); tHi = hi >>> n; } else if (n < 64) { tLo = hi >>> (n - 32); tHi = 0; } else { tHi = 0; tLo = 0; }
  tHi |= 0; tLo |= 0;
}
function shl64(hi: number, lo: number, n: number): void {
  if (n === 0) { tHi = hi; tLo = lo; } else if (n < 32) { tHi = (hi << n) | (lo >>> (32 - n)); tLo = lo << n; } else if (n < 64) { tHi = lo << (n - 32); tLo = 0; } else { tHi = 0; tLo = 0; }
  tHi |= 0; tLo |= 0;
}
function clz64(hi: number, lo: number): number {
  return hi !== 0 ? Math.clz32(hi) : 32 + Math.clz32(lo);
}

// ---- limb arithmetic ----------------------------------------------------------------------------------

function wClear(a: Int32Array): void { a.fill(0); }
/** a |= (hi:lo) << pos */
function wPut(a: Int32Array, pos: number, hi: number, lo: number): void {
  for (let j = 0; j < 4; j++) {
    const v = (j < 2 ? lo >>> (16 * j) : hi >>> (16 * (j - 2))) & 0xffff;
    const p = pos + 16 * j, li = p >> 4, off = p & 15;
    if (li < LIMBS) a[li] = a[li]! | ((v << off) & 0xffff);
    if (off && li + 1 < LIMBS) a[li + 1] = a[li + 1]! | (v >>> (16 - off));
  }
}
function wCmp(a: Int32Array, b: Int32Array): number {
  for (let i = LIMBS - 1; i >= 0; i--) if (a[i] !== b[i]) return a[i]! > b[i]! ? 1 : -1;
  return 0;
}
function wAdd(a: Int32Array, b: Int32Array): void {
  let c = 0;
  for (let i = 0; i < LIMBS; i++) { const v = a[i]! + b[i]! + c; a[i] = v & 0xffff; c = v >>> 16; }
}
/** a -= b (a ≥ b) */
function wSub(a: Int32Array, b: Int32Array): void {
  let br = 0;
  for (let i = 0; i < LIMBS; i++) { let v = a[i]! - b[i]! - br; br = 0; if (v < 0) { v += 0x10000; br = 1; } a[i] = v; }
}
function wShl(a: Int32Array, n: number): void {
  for (let i = LIMBS - 1; i >= 0; i--) a[i] = ((a[i]! << n) | (i > 0 ? a[i - 1]! >>> (16 - n) : 0)) & 0xffff;
}
function wIsZero(a: Int32Array): boolean {
  for (let i = 0; i < LIMBS; i++) if (a[i]) return false;
  return true;
}
function wTop(a: Int32Array): number {
  for (let i = LIMBS - 1; i >= 0; i--) if (a[i]) return 16 * i + 31 - Math.clz32(a[i]!);
  return -1;
}
function wBit(a: Int32Array, i: number): number {
  return i < 0 || i >= 16 * LIMBS ? 0 : (a[i >> 4]! >> (i & 15)) & 1;
}
/** any bit of a below position n */
function wAnyBelow(a: Int32Array, n: number): boolean {
  if (n <= 0) return false;
  const full = Math.min(n >> 4, LIMBS);
  for (let i = 0; i < full; i++) if (a[i]) return true;
  return full < LIMBS && (n & 15) !== 0 && (a[full]! & ((1 << (n & 15)) - 1)) !== 0;
}

// ---- status/control/tag/stack ---------------------------------------------------------------------------

function fcw(c: Cpu): number { return c.fx[0]! | (c.fx[1]! << 8); }
function fsw(c: Cpu): number { return c.fx[2]! | (c.fx[3]! << 8); }
function setFsw(c: Cpu, v: number): void { c.fx[2] = v; c.fx[3] = v >> 8; }
function top(c: Cpu): number { return (c.fx[3]! >> 3) & 7; }
function setTop(c: Cpu, t: number): void { c.fx[3] = (c.fx[3]! & ~0x38) | ((t & 7) << 3); }
function empty(c: Cpu, i: number): boolean { return ((c.fx[4]! >> ((top(c) + i) & 7)) & 1) === 0; }
function setTag(c: Cpu, i: number, valid: boolean): void {
  const b = 1 << ((top(c) + i) & 7);
  c.fx[4] = valid ? c.fx[4]! | b : c.fx[4]! & ~b;
}
function regSe(c: Cpu, i: number): number { return c.fx[40 + 16 * i]! | (c.fx[41 + 16 * i]! << 8); }
function writeReg(c: Cpu, i: number, se: number, hi: number, lo: number): void {
  const f = c.fx32, x = 8 + 4 * i;
  f[x] = lo; f[x + 1] = hi; f[x + 2] = se & 0xffff; f[x + 3] = 0;
  setTag(c, i, true);
}
function copyReg(c: Cpu, from: number, to: number): void {
  const f = c.fx32, a = 8 + 4 * from, b = 8 + 4 * to;
  f[b] = f[a]!; f[b + 1] = f[a + 1]!; f[b + 2] = f[a + 2]! & 0xffff; f[b + 3] = 0;
  setTag(c, to, true);
}
/** TOP - 1: the image rotates so the old ST(i) becomes ST(i+1) (the new ST(0) is the old ST(7)'s register) */
function decTop(c: Cpu): void {
  const fx = c.fx;
  ROT.set(fx.subarray(144, 160)); fx.copyWithin(48, 32, 144); fx.set(ROT, 32);
  setTop(c, top(c) - 1);
}
function incTop(c: Cpu): void {
  const fx = c.fx;
  ROT.set(fx.subarray(32, 48)); fx.copyWithin(32, 48, 160); fx.set(ROT, 144);
  setTop(c, top(c) + 1);
}
function pop(c: Cpu): void {
  setTag(c, 0, false);
  incTop(c);
}

/** store the result into the new ST(0) (push); stack overflow → masked: QNaN indefinite */
function pushResult(c: Cpu, se: number, hi: number, lo: number): void {
  if (!empty(c, 7)) { ex |= IE | SF; c1 = 1; se = 0xffff; hi = 0xc0000000 | 0; lo = 0; if (fcw(c) & IE) { decTop(c); writeReg(c, 0, se, hi, lo); } return; }
  decTop(c);
  writeReg(c, 0, se, hi, lo);
}

/** merge this instruction's exceptions into FSW (ES/B summarize unmasked flags) */
function finish(c: Cpu): void {
  let s = fsw(c) | ex;
  if (c1 >= 0) s = c1 ? s | C1 : s & ~C1;
  if (s & ~fcw(c) & 0x3f) s |= ES | BUSY;
  setFsw(c, s);
}
/** the unmasked exceptions among `bits` of this instruction (the destination must stay unchanged) */
function unmasked(c: Cpu, bits: number): boolean {
  return (ex & bits & ~fcw(c) & 0x3f) !== 0;
}
function setCc(c: Cpu, cc: number): void {
  setFsw(c, (fsw(c) & ~(C0 | C2 | C3)) | cc);
}

// ---- unpacking --------------------------------------------------------------------------------------

function unpack(k: number, se: number, hi: number, lo: number): void {
  const e = se & 0x7fff;
  oS[k] = (se >> 15) & 1; oD[k] = 0; oH[k] = hi; oL[k] = lo;
  if (e === 0) {
    if ((hi | lo) === 0) { oK[k] = K_ZERO; return; }
    const n = clz64(hi, lo);
    shl64(hi, lo, n);
    oK[k] = K_FIN; oD[k] = 1; oE[k] = -16382 - n; oH[k] = tHi; oL[k] = tLo;
  } else if (e === 0x7fff) {
    if (hi >= 0) oK[k] = K_BAD;
    else if (((hi & 0x7fffffff) | lo) === 0) oK[k] = K_INF;
    else oK[k] = hi & 0x40000000 ? K_QNAN : K_SNAN;
  } else if (hi >= 0) oK[k] = K_BAD;
  else { oK[k] = K_FIN; oE[k] = e - 16383; }
}
function unpackReg(c: Cpu, k: number, i: number): void {
  const f = c.fx32;
  unpack(k, regSe(c, i), f[9 + 4 * i]!, f[8 + 4 * i]!);
}
/** single → extended (exact); SNaN stays signalling (the caller flags it) */
function unpackF32(k: number, v: number): void {
  const e = (v >>> 23) & 0xff, f = v & 0x7fffff, s = v >>> 31;
  if (e === 0) {
    if (f === 0) { unpack(k, s << 15, 0, 0); return; }
    const n = Math.clz32(f) - 8; // shift that makes bit 23 the leading bit
    oK[k] = K_FIN; oS[k] = s; oD[k] = 1; oE[k] = -126 - n; oH[k] = (f << (8 + n)) | 0; oL[k] = 0;
    return;
  }
  if (e === 0xff) { unpack(k, (s << 15) | 0x7fff, (0x80000000 | (f << 8)) | 0, 0); return; }
  unpack(k, (s << 15) | (e - 127 + 16383), (0x80000000 | (f << 8)) | 0, 0);
}
function unpackF64(k: number, lo: number, hi: number): void {
  const e = (hi >>> 20) & 0x7ff, s = hi >>> 31;
  const fh = hi & 0xfffff;
  shl64(fh, lo, 11);
  if (e === 0) {
    if ((fh | lo) === 0) { unpack(k, s << 15, 0, 0); return; }
    const n = clz64(tHi, tLo);
    shl64(tHi, tLo, n);
    oK[k] = K_FIN; oS[k] = s; oD[k] = 1; oE[k] = -1022 - n; oH[k] = tHi; oL[k] = tLo;
    return;
  }
  unpack(k, (s << 15) | (e === 0x7ff ? 0x7fff : e - 1023 + 16383), tHi | 0x80000000, tLo);
}
/** signed integer (lo, hi) → extended (exact) */
function unpackInt(k: number, lo: number, hi: number): void {
  let s = 0;
  if (hi < 0) { s = 1; lo = -lo | 0; hi = (~hi + (lo === 0 ? 1 : 0)) | 0; }
  if ((hi | lo) === 0) { unpack(k, 0, 0, 0); return; }
  const n = clz64(hi, lo);
  shl64(hi, lo, n);
  oK[k] = K_FIN; oS[k] = s; oD[k] = 0; oE[k] = 63 - n; oH[k] = tHi; oL[k] = tLo;
}

// ---- rounding ---------------------------------------------------------------------------------------

/**
 * Round W × 2^wScale (sign s) to `p` significand bits (intMode: to an integer) within the exponent range
 * [emin, emax] of the destination (denormals down to 2^(emin - fp + 1) for the format precision fp)
 * under rounding control rc. Output: oCls/oExp/oMH:oML, flags in ex, C1 in c1.
 */
function round(s: number, p: number, fp: number, emin: number, emax: number, rc: number, intMode: boolean, unm = 0): void {
  const h = wTop(W);
  if (h < 0) { oCls = 0; c1 = 0; return; }
  const e = h + wScale;
  let lsb = intMode ? 0 : e - p + 1;
  if (!intMode && !(unm & UE) && lsb < emin - fp + 1) lsb = emin - fp + 1; // unmasked UE: no denormalization
  const k = lsb - wScale;
  let sl = 0, sh = 0;
  for (let j = 0; j < 32; j++) { sl |= wBit(W, k + j) << j; sh |= wBit(W, k + 32 + j) << j; }
  const rb = wBit(W, k - 1), st = wAnyBelow(W, k - 1);
  const inexact = rb !== 0 || st;
  let inc = false;
  if (inexact) inc = rc === 0 ? rb !== 0 && (st || (sl & 1) !== 0) : rc === 1 ? s === 1 : rc === 2 ? s === 0 : false;
  if (inc) {
    sl = (sl + 1) | 0;
    if (sl === 0) { sh = (sh + 1) | 0; if (sh === 0) { sh = 0x80000000 | 0; lsb++; } }
    if (!intMode && p < 64 && (p >= 32 ? (sh >>> (p - 32)) & 1 : (sl >>> p) & 1)) {
      if (p - 1 >= 32) { sh = 1 << (p - 33); sl = 0; } else { sl = 1 << (p - 1); sh = 0; }
      lsb++;
    }
  }
  // tininess after rounding: tiny unless rounding to p bits with an unbounded exponent reaches 2^emin
  let tiny = !intMode && e < emin;
  if (tiny && e === emin - 1) {
    const k2 = e - p + 1 - wScale;
    let ones = true;
    for (let j = k2; j <= h && ones; j++) if (!wBit(W, j)) ones = false;
    if (ones) {
      const rb2 = wBit(W, k2 - 1), st2 = wAnyBelow(W, k2 - 1);
      if (rb2 || st2) tiny = !(rc === 0 ? rb2 !== 0 : rc === 1 ? s === 1 : rc === 2 ? s === 0 : false);
    }
  }
  if (inexact) ex |= PE;
  c1 = inc ? 1 : 0;
  oTiny = tiny;
  if ((sh | sl) === 0) { oCls = 0; if (tiny && inexact) ex |= UE; return; }
  const n = clz64(sh, sl);
  shl64(sh, sl, n);
  oMH = tHi; oML = tLo; oExp = lsb + 63 - n; oCls = 1;
  if (oExp > emax && unm & OE) {
    // unmasked overflow: the rounded result with the exponent bias-adjusted by 24576 (SDM Vol. 1 §4.9.1.4)
    ex |= OE; oExp -= 24576;
    if (oExp > emax) wild = true;
    return;
  }
  if (tiny && unm & UE) {
    // unmasked underflow: flagged even when exact; the exponent is bias-adjusted by 24576 (§4.9.1.5)
    ex |= UE; oExp += 24576;
    if (oExp < emin) wild = true;
    return;
  }
  if (oExp > emax) {
    ex |= OE | PE;
    const toInf = rc === 0 || (rc === 1 && s === 1) || (rc === 2 && s === 0);
    if (toInf) { oCls = 2; c1 = 1; } else {
      oExp = emax; c1 = 0;
      if (p >= 32) { oMH = -1; oML = p === 64 ? -1 : (~0 << (64 - p)); } else { oMH = ~0 << (32 - p); oML = 0; }
    }
    return;
  }
  // an exact tiny result raises no underflow while UE is masked (SDM Vol. 1 §4.9.1.5)
  if (tiny && inexact) ex |= UE;
}

/** the rounded value as a register word (sign s) into rSe/rHi/rLo */
function packReg(s: number): void {
  if (oCls === 0) { rSe = s << 15; rHi = 0; rLo = 0; return; }
  if (oCls === 2) { rSe = (s << 15) | 0x7fff; rHi = 0x80000000 | 0; rLo = 0; return; }
  if (oExp >= -16382) { rSe = (s << 15) | (oExp + 16383); rHi = oMH; rLo = oML; return; }
  shr64(oMH, oML, -16382 - oExp);
  rSe = s << 15; rHi = tHi; rLo = tLo;
}
/** round W to the register format under FCW (PC applies when `pc`) and pack into rSe/rHi/rLo */
function roundReg(c: Cpu, s: number, pc: boolean): void {
  const cw = fcw(c);
  const pcb = (cw >> 8) & 3;
  const p = !pc || pcb === 3 || pcb === 1 ? 64 : pcb === 2 ? 53 : 24;
  // a denormal result keeps p bits of the significand field (the precision counts from bit 63)
  round(s, p, p, -16382, 16383, (cw >> 10) & 3, false, ~cw & (OE | UE));
  packReg(s);
}

// ---- results for NaN / invalid ------------------------------------------------------------------------

function indefinite(): void { rSe = 0xffff; rHi = 0xc0000000 | 0; rLo = 0; }
/** operand k as a register word, NaNs quieted */
function operandOut(k: number, quiet: boolean): void {
  rSe = (oS[k]! << 15) | (oK[k] === K_ZERO ? 0 : 0x7fff);
  rHi = oH[k]!; rLo = oL[k]!;
  if (oK[k] === K_ZERO) { rHi = 0; rLo = 0; }
  if (oK[k] === K_INF) { rHi = 0x80000000 | 0; rLo = 0; }
  if (quiet && (oK[k] === K_SNAN || oK[k] === K_QNAN)) rHi |= 0x40000000;
}
/**
 * NaN/unsupported operands of a two-operand arithmetic instruction (SDM Vol. 1 Table 4-7): true when
 * the result is decided (in rSe/rHi/rLo, flags in ex).
 */
function nanCheck2(): boolean {
  const a = oK[0]!, b = oK[1]!;
  if (a === K_BAD || b === K_BAD) { ex |= IE; indefinite(); return true; }
  const an = a === K_QNAN || a === K_SNAN, bn = b === K_QNAN || b === K_SNAN;
  if (!an && !bn) return false;
  if (a === K_SNAN || b === K_SNAN) ex |= IE;
  let pick = 0;
  if (an && bn && a !== b) pick = a === K_QNAN ? 0 : 1; // SNaN and QNaN: the QNaN (SDM Vol. 1 Table 4-7)
  else if (an && bn) {
    const ah = oH[0]! | 0x40000000, bh = oH[1]! | 0x40000000;
    const cmp = ah !== bh ? (ah >>> 0 > bh >>> 0 ? 1 : -1) : oL[0] !== oL[1] ? (oL[0]! >>> 0 > oL[1]! >>> 0 ? 1 : -1) : 0;
    pick = cmp > 0 ? 0 : cmp < 0 ? 1 : oS[0] === 0 ? 0 : 1;
  } else pick = an ? 0 : 1;
  operandOut(pick, true);
  return true;
}
/** the denormal-operand flag; true when it is unmasked (the operation stops before computing, SDM Vol. 1 §8.5.2) */
function denormCheck(c: Cpu, n: number): boolean {
  for (let k = 0; k < n; k++) if (oD[k]) ex |= DE;
  return (ex & DE & ~fcw(c)) !== 0;
}

// ---- arithmetic -----------------------------------------------------------------------------------------

/** operand 0 OP operand 1 into rSe/rHi/rLo (op: 0 add, 1 sub, 2 mul, 3 div) */
function arith(c: Cpu, op: number): void {
  if (nanCheck2()) return;
  if (op === 3 && oK[0] === K_FIN && oK[1] === K_ZERO) {
    // divide-by-zero takes precedence over (and suppresses) the denormal-operand flag (SDM Vol. 1 §4.9.2)
    ex |= ZE; rSe = ((oS[0]! ^ oS[1]!) << 15) | 0x7fff; rHi = 0x80000000 | 0; rLo = 0; c1 = 0; return;
  }
  if (denormCheck(c, 2)) return;
  const rc = (fcw(c) >> 10) & 3;
  const a = oK[0]!, b = oK[1]!;
  const sa = oS[0]!, sb = op === 1 ? oS[1]! ^ 1 : oS[1]!;
  if (op <= 1) {
    if (a === K_INF || b === K_INF) {
      if (a === K_INF && b === K_INF && sa !== sb) { ex |= IE; indefinite(); return; }
      rSe = ((a === K_INF ? sa : sb) << 15) | 0x7fff; rHi = 0x80000000 | 0; rLo = 0; c1 = 0; return;
    }
    if (a === K_ZERO && b === K_ZERO) { rSe = (sa === sb ? sa : rc === 1 ? 1 : 0) << 15; rHi = 0; rLo = 0; c1 = 0; return; }
    wClear(W);
    if (a === K_ZERO || b === K_ZERO) {
      const k = a === K_ZERO ? 1 : 0;
      wPut(W, 0, oH[k]!, oL[k]!); wScale = oE[k]! - 63;
      roundReg(c, k === 0 ? sa : sb, true);
      return;
    }
    // larger exponent first
    let x = 0, y = 1;
    if (oE[1]! > oE[0]!) { x = 1; y = 0; }
    const sx = x === 0 ? sa : sb, sy = y === 0 ? sa : sb;
    const d = oE[x]! - oE[y]!;
    wPut(W, 160, oH[x]!, oL[x]!);
    wClear(Y);
    if (d <= 160) wPut(Y, 160 - d, oH[y]!, oL[y]!); else Y[0] = 1;
    wScale = oE[x]! - 63 - 160;
    let s = sx;
    if (sx === sy) wAdd(W, Y);
    else {
      const cmp = wCmp(W, Y);
      if (cmp === 0) { rSe = (rc === 1 ? 1 : 0) << 15; rHi = 0; rLo = 0; c1 = 0; return; }
      if (cmp > 0) wSub(W, Y); else { R.set(Y); wSub(R, W); W.set(R); s = sy; }
    }
    roundReg(c, s, true);
    return;
  }
  const s = sa ^ sb;
  if (op === 2) {
    if ((a === K_INF && b === K_ZERO) || (a === K_ZERO && b === K_INF)) { ex |= IE; indefinite(); return; }
    if (a === K_INF || b === K_INF) { rSe = (s << 15) | 0x7fff; rHi = 0x80000000 | 0; rLo = 0; c1 = 0; return; }
    if (a === K_ZERO || b === K_ZERO) { rSe = s << 15; rHi = 0; rLo = 0; c1 = 0; return; }
    ACC.fill(0);
    for (let i = 0; i < 4; i++) {
      const ai = (i < 2 ? oL[0]! >>> (16 * i) : oH[0]! >>> (16 * (i - 2))) & 0xffff;
      for (let j = 0; j < 4; j++) {
        const bj = (j < 2 ? oL[1]! >>> (16 * j) : oH[1]! >>> (16 * (j - 2))) & 0xffff;
        ACC[i + j] = ACC[i + j]! + ai * bj;
      }
    }
    let carry = 0;
    for (let i = 0; i < LIMBS; i++) { const v = ACC[i]! + carry; carry = Math.floor(v / 65536); W[i] = v - carry * 65536; }
    wScale = oE[0]! - 63 + oE[1]! - 63;
    roundReg(c, s, true);
    return;
  }
  // division
  if ((a === K_INF && b === K_INF) || (a === K_ZERO && b === K_ZERO)) { ex |= IE; indefinite(); return; }
  if (a === K_INF || b === K_ZERO) {
    rSe = (s << 15) | 0x7fff; rHi = 0x80000000 | 0; rLo = 0; c1 = 0; return;
  }
  if (a === K_ZERO || b === K_INF) { rSe = s << 15; rHi = 0; rLo = 0; c1 = 0; return; }
  wClear(R); wPut(R, 0, oH[0]!, oL[0]!);
  wClear(Y); wPut(Y, 0, oH[1]!, oL[1]!);
  wClear(W);
  for (let i = 0; i < 67; i++) {
    if (wCmp(R, Y) >= 0) { wSub(R, Y); W[(67 - i) >> 4] = W[(67 - i) >> 4]! | (1 << ((67 - i) & 15)); }
    wShl(R, 1);
  }
  if (!wIsZero(R)) W[0] = W[0]! | 1;
  wScale = oE[0]! - oE[1]! - 67;
  roundReg(c, s, true);
}

/** FSQRT of operand 0 */
function sqrt(c: Cpu): void {
  const a = oK[0]!;
  if (a === K_BAD) { ex |= IE; indefinite(); return; }
  if (a === K_SNAN || a === K_QNAN) { if (a === K_SNAN) ex |= IE; operandOut(0, true); return; }
  if (a === K_ZERO) { operandOut(0, false); c1 = 0; return; }
  if (oS[0]) { ex |= IE; indefinite(); return; }
  if (a === K_INF) { operandOut(0, false); c1 = 0; return; }
  if (denormCheck(c, 1)) return;
  const e = oE[0]! - 63;
  const sh = ((e - 70) & 1) === 0 ? 70 : 71;
  wClear(T); wPut(T, sh, oH[0]!, oL[0]!);
  wClear(W); wClear(R);
  for (let bitp = 143; bitp >= 1; bitp -= 2) {
    // R = R*4 + next pair; trial Y = W*4 + 1
    wShl(R, 2);
    R[0] = R[0]! | (wBit(T, bitp) << 1) | wBit(T, bitp - 1);
    Y.set(W); wShl(Y, 2); Y[0] = Y[0]! | 1;
    wShl(W, 1);
    if (wCmp(R, Y) >= 0) { wSub(R, Y); W[0] = W[0]! | 1; }
  }
  wShl(W, 1);
  if (!wIsZero(R)) W[0] = W[0]! | 1;
  wScale = (e - sh) / 2 - 1;
  roundReg(c, 0, true);
}

/** FRNDINT of operand 0 (RC, no precision control) */
function rndint(c: Cpu): void {
  const a = oK[0]!;
  if (a === K_BAD) { ex |= IE; indefinite(); return; }
  if (a === K_SNAN || a === K_QNAN) { if (a === K_SNAN) ex |= IE; operandOut(0, true); return; }
  if (a === K_ZERO || a === K_INF) { operandOut(0, false); c1 = 0; return; }
  if (denormCheck(c, 1)) return;
  if (oE[0]! >= 63) { rSe = (oS[0]! << 15) | (oE[0]! + 16383); rHi = oH[0]!; rLo = oL[0]!; c1 = 0; return; }
  wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63;
  round(oS[0]!, 64, 64, -16382, 16383, (fcw(c) >> 10) & 3, true);
  packReg(oS[0]!);
}

/** compare operand 0 with operand 1: 0 greater, 1 less, 2 equal, 3 unordered; `quietOk` = FUCOM (QNaN no IE) */
function compare(c: Cpu, quietOk: boolean): number {
  const a = oK[0]!, b = oK[1]!;
  if (a === K_BAD || b === K_BAD || a === K_SNAN || b === K_SNAN) { ex |= IE; return 3; }
  if (a === K_QNAN || b === K_QNAN) { if (!quietOk) ex |= IE; return 3; }
  denormCheck(c, 2);
  if (a === K_ZERO && b === K_ZERO) return 2;
  if (a === K_ZERO) return oS[1] ? 0 : 1;
  if (b === K_ZERO) return oS[0] ? 1 : 0;
  if (oS[0] !== oS[1]) return oS[0] ? 1 : 0;
  let cm: number;
  if (a === K_INF || b === K_INF) cm = a === b ? 0 : a === K_INF ? 1 : -1;
  else if (oE[0] !== oE[1]) cm = oE[0]! > oE[1]! ? 1 : -1;
  else if (oH[0] !== oH[1]) cm = oH[0]! >>> 0 > oH[1]! >>> 0 ? 1 : -1;
  else if (oL[0] !== oL[1]) cm = oL[0]! >>> 0 > oL[1]! >>> 0 ? 1 : -1;
  else cm = 0;
  if (oS[0]) cm = -cm;
  return cm > 0 ? 0 : cm < 0 ? 1 : 2;
}
const CC = [0, C0, C3, C3 | C2 | C0];

// ---- conversions to memory formats ------------------------------------------------------------------

/** register value (operand 0) → single; returns the bits */
function toF32(c: Cpu): number {
  const a = oK[0]!, s = oS[0]!;
  if (a === K_BAD) { ex |= IE; return 0xffc00000 | 0; }
  if (a === K_SNAN || a === K_QNAN) { if (a === K_SNAN) ex |= IE; return (s << 31) | 0x7fc00000 | ((oH[0]! >>> 8) & 0x7fffff); }
  if (a === K_ZERO) { c1 = 0; return s << 31; }
  if (a === K_INF) { c1 = 0; return (s << 31) | 0x7f800000; }
  wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63;
  round(s, 24, 24, -126, 127, (fcw(c) >> 10) & 3, false);
  if (oCls === 0) return s << 31;
  if (oCls === 2) return (s << 31) | 0x7f800000;
  if (oExp >= -126) return (s << 31) | ((oExp + 127) << 23) | ((oMH >>> 8) & 0x7fffff);
  return (s << 31) | (oMH >>> (8 + (-126 - oExp)));
}
/** register value (operand 0) → double into tHi:tLo */
function toF64(c: Cpu): void {
  const a = oK[0]!, s = oS[0]!;
  if (a === K_BAD) { ex |= IE; tHi = 0xfff80000 | 0; tLo = 0; return; }
  if (a === K_SNAN || a === K_QNAN) {
    if (a === K_SNAN) ex |= IE;
    shr64(oH[0]!, oL[0]!, 11);
    tHi = (s << 31) | 0x7ff80000 | (tHi & 0xfffff); return;
  }
  if (a === K_ZERO) { c1 = 0; tHi = s << 31; tLo = 0; return; }
  if (a === K_INF) { c1 = 0; tHi = (s << 31) | 0x7ff00000; tLo = 0; return; }
  wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63;
  round(s, 53, 53, -1022, 1023, (fcw(c) >> 10) & 3, false);
  if (oCls === 0) { tHi = s << 31; tLo = 0; return; }
  if (oCls === 2) { tHi = (s << 31) | 0x7ff00000; tLo = 0; return; }
  if (oExp >= -1022) { shr64(oMH, oML, 11); tHi = (s << 31) | ((oExp + 1023) << 20) | (tHi & 0xfffff); return; }
  shr64(oMH, oML, 11 + (-1022 - oExp));
  tHi |= s << 31;
}
/** the integer indefinite of `bits` into tHi:tLo, IE */
function intIndef(bits: number): void {
  ex |= IE;
  if (bits === 64) { tHi = 0x80000000 | 0; tLo = 0; } else { tHi = 0; tLo = bits === 32 ? 0x80000000 | 0 : 0x8000; }
}
/** register value (operand 0) → integer of `bits` (16/32/64) into tHi:tLo; chop = FISTTP */
function toInt(c: Cpu, bits: number, chop: boolean): void {
  const a = oK[0]!, s = oS[0]!;
  if (a === K_ZERO) { tHi = 0; tLo = 0; c1 = 0; return; }
  if (a !== K_FIN) { intIndef(bits); return; }
  if (oE[0]! >= 63) {
    if (bits === 64 && s && oE[0] === 63 && oH[0] === (0x80000000 | 0) && oL[0] === 0) { tHi = 0x80000000 | 0; tLo = 0; c1 = 0; return; }
    intIndef(bits); return;
  }
  wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63;
  const saveEx = ex;
  round(s, 64, 64, -16382, 16383, chop ? 3 : (fcw(c) >> 10) & 3, true);
  let mh = 0, ml = 0;
  if (oCls !== 0) { shr64(oMH, oML, 63 - oExp); mh = tHi; ml = tLo; }
  // range: |v| ≤ 2^(bits-1) - 1, or 2^(bits-1) when negative
  const lim = bits - 1;
  let over: boolean;
  if (lim >= 32) over = mh >>> 0 > (1 << (lim - 32)) >>> 0 || (mh >>> 0 === (1 << (lim - 32)) >>> 0 && (ml !== 0 || !s));
  else over = mh !== 0 || ml >>> 0 > 2 ** lim || (ml >>> 0 === 2 ** lim && !s);
  if (over) { ex = saveEx; c1 = 0; intIndef(bits); return; }
  if (s) { ml = -ml | 0; mh = (~mh + (ml === 0 ? 1 : 0)) | 0; }
  tHi = mh; tLo = ml;
}

// ---- constants (SDM Vol. 1 §8.3.8: 66-bit internal constants rounded per RC) ------------------------------

/** [exponent, hi, lo, round-to-nearest goes up] for FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2 */
const CONSTS: readonly (readonly [number, number, number, number])[] = [
  [1, 0xd49a784b, 0xcd1b8afe, 0], [0, 0xb8aa3b29, 0x5c17f0bb, 1], [1, 0xc90fdaa2, 0x2168c234, 1],
  [-2, 0x9a209a84, 0xfbcff798, 1], [-1, 0xb17217f7, 0xd1cf79ab, 1],
];

// ---- dispatch ---------------------------------------------------------------------------------------------

/** Execute `op` if it is an x87 op of this module; false when the op is not one of ours. */
export function execX87(c: Cpu, op: number): boolean {
  if (op !== G.OP_FPU_M && op !== G.OP_FPU_R) return false;
  if (c.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(7, -1, 0, 0, 'x87 with CR0.EM/TS');
  const nowait = op === G.OP_FPU_M && (c.d.arg === 0x0e || c.d.arg === 0x2e); // FNSTENV, FNSAVE
  if (c.fx[2]! & ES && !nowait) {
    if (c.cr0 & CR0_NE) throw new CpuFault(16, -1, 0, 0, 'x87 pending unmasked exception (#MF)');
    throw c.unimplementedFault('x87 pending unmasked exception with CR0.NE=0 (FERR#/IRQ 13)');
  }
  ex = 0; c1 = 0; wild = false; oTiny = false;
  if (op === G.OP_FPU_M) memForm(c, c.d.arg); else regForm(c, c.d.arg, c.d.rm & 7); // REX.B does not extend ST(i)
  return true;
}

/** FCMOVB/E/BE/U condition codes (B, E, BE, P); the DB forms negate them */
const FCMOV_CC = [2, 4, 6, 10];

/** stack underflow on a source: IE|SF, C1=0; masked response is the QNaN indefinite */
function underflow(): void { ex |= IE | SF; c1 = 0; }

/** ST(0) OP operand 1 (already unpacked) with destination ST(dst); `rev` swaps the operands */
function arithTo(c: Cpu, digit: number, dst: number, popAfter: boolean): void {
  // digit: 0 add, 1 mul, 4 sub, 5 subr, 6 div, 7 divr — operand 0 = ST(0)... swapped for reverse forms
  const rev = digit === 5 || digit === 7;
  if (rev) swapOps();
  arith(c, digit === 0 ? 0 : digit === 1 ? 2 : digit <= 5 ? 1 : 3);
  if (unmasked(c, IE | DE | ZE)) { finish(c); return; }
  if (wild) throw c.unimplementedFault('x87 unmasked overflow/underflow beyond the bias-adjusted range');
  writeReg(c, dst, rSe, rHi, rLo);
  if (popAfter) pop(c);
  finish(c);
}
function swapOps(): void {
  let t = oK[0]!; oK[0] = oK[1]!; oK[1] = t;
  t = oS[0]!; oS[0] = oS[1]!; oS[1] = t;
  t = oE[0]!; oE[0] = oE[1]!; oE[1] = t;
  t = oH[0]!; oH[0] = oH[1]!; oH[1] = t;
  t = oL[0]!; oL[0] = oL[1]!; oL[1] = t;
  t = oD[0]!; oD[0] = oD[1]!; oD[1] = t;
}

/** compare ST(0) with operand 1 and set C3/C2/C0 (or ZF/PF/CF); pops `pops` times */
function doCompare(c: Cpu, quietOk: boolean, pops: number, eflags: boolean, srcEmpty: boolean): void {
  let r: number;
  if (srcEmpty) { underflow(); r = 3; } else r = compare(c, quietOk);
  c1 = 0;
  // unmasked invalid/denormal exceptions still set the condition codes (EFLAGS) but do not pop
  if (unmasked(c, IE | DE)) pops = 0;
  if (eflags) c.setArith(r === 0 ? 0 : r === 1 ? 1 : r === 2 ? 0x40 : 0x45);
  else setCc(c, CC[r]!);
  for (let i = 0; i < pops; i++) pop(c);
  finish(c);
}

function memForm(c: Cpu, a: number): void {
  const esc = a >> 3, digit = a & 7;
  c.calcEa();
  const seg = c.d.seg, lo = c.eaLo, hi = c.eaHi;
  if ((esc & 1) === 0) {
    // D8 m32fp, DA m32int, DC m64fp, DE m16int: arithmetic/compare with ST(0)
    if (esc === 0) unpackF32(1, c.rd(seg, lo, hi, 4));
    else if (esc === 4) { const l = c.rd(seg, lo, hi, 8); unpackF64(1, l, c.vh); }
    else if (esc === 2) { const v = c.rd(seg, lo, hi, 4); unpackInt(1, v, v >> 31); }
    else { const v = (c.rd(seg, lo, hi, 2) << 16) >> 16; unpackInt(1, v, v >> 31); }
    const e0 = empty(c, 0);
    if (digit === 2 || digit === 3) {
      if (!e0) unpackReg(c, 0, 0);
      doCompare(c, false, digit === 3 ? 1 : 0, false, e0);
      return;
    }
    if (e0) { underflow(); if (!unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); } finish(c); return; }
    unpackReg(c, 0, 0);
    arithTo(c, digit, 0, false);
    return;
  }
  switch (a) {
    case 0x08: case 0x28: case 0x18: case 0x3d: case 0x38: case 0x18 + 5: { // FLD m32/m64/m80, FILD m16/m32/m64
      let se = 0, h = 0, l = 0;
      if (a === 0x1d) { l = c.rd(seg, lo, hi, 8); h = c.vh; const lo2 = (lo + 8) | 0; se = c.rd(seg, c.d.asz === 2 ? lo2 & 0xffff : lo2, c.d.asz === 8 && lo2 >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, 2); }
      else {
        if (a === 0x08) unpackF32(0, c.rd(seg, lo, hi, 4));
        else if (a === 0x28) { const v = c.rd(seg, lo, hi, 8); unpackF64(0, v, c.vh); }
        else if (a === 0x18) { const v = c.rd(seg, lo, hi, 4); unpackInt(0, v, v >> 31); }
        else if (a === 0x38) { const v = (c.rd(seg, lo, hi, 2) << 16) >> 16; unpackInt(0, v, v >> 31); }
        else { const v = c.rd(seg, lo, hi, 8); unpackInt(0, v, c.vh); }
        if (oK[0] === K_SNAN) ex |= IE;
        if (oD[0]) ex |= DE;
        if (oK[0] === K_FIN) { se = (oS[0]! << 15) | (oE[0]! + 16383); h = oH[0]!; l = oL[0]!; } else { operandOut(0, true); se = rSe; h = rHi; l = rLo; }
      }
      if (unmasked(c, IE | DE)) { finish(c); return; }
      pushResult(c, se, h, l);
      finish(c);
      return;
    }
    case 0x0a: case 0x0b: case 0x2a: case 0x2b: case 0x1f: // FST(P) m32/m64/m80
    case 0x1a: case 0x1b: case 0x3a: case 0x3b: case 0x3f: case 0x19: case 0x29: case 0x39: { // FIST(P)/FISTTP
      const popAfter = a !== 0x0a && a !== 0x2a && a !== 0x1a && a !== 0x3a;
      let v = 0, vh = 0, size = 0;
      if (empty(c, 0)) {
        underflow();
        // masked: the indefinite of the destination format
        if (a === 0x0a || a === 0x0b) { v = 0xffc00000 | 0; size = 4; }
        else if (a === 0x2a || a === 0x2b) { v = 0; vh = 0xfff80000 | 0; size = 8; }
        else if (a === 0x1f) { v = 0; vh = 0xc0000000 | 0; size = 10; }
        else if (a === 0x3a || a === 0x3b || a === 0x39) { v = 0x8000; size = 2; }
        else if (a === 0x3f || a === 0x29) { v = 0; vh = 0x80000000 | 0; size = 8; }
        else { v = 0x80000000 | 0; size = 4; }
      } else {
        unpackReg(c, 0, 0);
        if (a === 0x0a || a === 0x0b) { v = toF32(c); size = 4; }
        else if (a === 0x2a || a === 0x2b) { toF64(c); v = tLo; vh = tHi; size = 8; }
        else if (a === 0x1f) { const f = c.fx32; v = f[8]!; vh = f[9]!; size = 10; }
        else {
          const bits = a === 0x3a || a === 0x3b || a === 0x39 ? 16 : a === 0x3f || a === 0x29 ? 64 : 32;
          toInt(c, bits, a === 0x19 || a === 0x29 || a === 0x39);
          v = tLo; vh = tHi; size = bits / 8;
        }
      }
      // a tiny result is an underflow whenever UE is unmasked, exact or not (SDM Vol. 1 §4.9.1.5)
      if (size === 4 || size === 8) { if (oTiny && !(fcw(c) & UE) && (a === 0x0a || a === 0x0b || a === 0x2a || a === 0x2b)) ex |= UE; }
      // unmasked: nothing is stored and the stack is not popped (an over/underflow then reports no PE/C1)
      if (unmasked(c, OE | UE)) { ex &= ~PE; c1 = 0; }
      if (unmasked(c, IE | OE | UE)) { finish(c); return; }
      if (size === 10) {
        const se = empty(c, 0) ? 0xffff : regSe(c, 0);
        const lo2 = (lo + 8) | 0;
        c.wr(seg, c.d.asz === 2 ? lo2 & 0xffff : lo2, c.d.asz === 8 && lo2 >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, 2, se, 0);
        c.wr(seg, lo, hi, 8, v, vh);
      } else c.wr(seg, lo, hi, size, v, vh);
      if (popAfter) pop(c);
      finish(c);
      return;
    }
    case 0x3c: fbld(c); return;
    case 0x3e: fbstp(c); return;
    case 0x0c: case 0x2c: loadEnv(c, a === 0x2c); return; // FLDENV, FRSTOR
    case 0x0e: case 0x2e: storeEnv(c, a === 0x2e); return; // FNSTENV, FNSAVE
    default:
      throw c.unimplementedFault(`x87 memory form ${(0xd8 + esc).toString(16)} /${digit}`);
  }
}

function regForm(c: Cpu, a: number, i: number): void {
  const esc = a >> 3, digit = a & 7;
  if (esc === 0 || esc === 4 || esc === 6) {
    if (digit === 2 || digit === 3 || (esc === 6 && digit === 3)) {
      // FCOM/FCOMP ST(i) (D8), FCOMPP (DE D9)
      const emp = empty(c, 0) || empty(c, esc === 6 ? 1 : i);
      if (!emp) { unpackReg(c, 0, 0); unpackReg(c, 1, esc === 6 ? 1 : i); }
      doCompare(c, false, esc === 6 ? 2 : digit === 3 ? 1 : 0, false, emp);
      return;
    }
    const dst = esc === 0 ? 0 : i;
    if (empty(c, 0) || empty(c, i)) {
      underflow();
      if (!unmasked(c, IE)) { indefinite(); writeReg(c, dst, rSe, rHi, rLo); if (esc === 6) pop(c); }
      finish(c);
      return;
    }
    // operand 0 = destination's left operand: D8: ST(0) op ST(i); DC/DE: ST(i) op ST(0) (digit 4/5 and 6/7 swapped)
    if (esc === 0) { unpackReg(c, 0, 0); unpackReg(c, 1, i); arithTo(c, digit, 0, false); }
    else { unpackReg(c, 0, i); unpackReg(c, 1, 0); arithTo(c, digit >= 4 ? digit ^ 1 : digit, i, esc === 6); }
    return;
  }
  switch (a) {
    case 0x08: { // FLD ST(i)
      if (empty(c, i)) { underflow(); if (!unmasked(c, IE)) { indefinite(); pushResult(c, rSe, rHi, rLo); } finish(c); return; }
      const f = c.fx32;
      pushResult(c, regSe(c, i), f[9 + 4 * i]!, f[8 + 4 * i]!);
      finish(c);
      return;
    }
    case 0x09: { // FXCH
      const e0 = empty(c, 0), ei = empty(c, i);
      if (e0 || ei) {
        underflow();
        if (unmasked(c, IE)) { finish(c); return; }
        indefinite();
        if (e0) writeReg(c, 0, rSe, rHi, rLo);
        if (ei) writeReg(c, i, rSe, rHi, rLo);
      }
      const f = c.fx32;
      for (let k = 0; k < 3; k++) { const t = f[8 + k]!; f[8 + k] = f[8 + 4 * i + k]!; f[8 + 4 * i + k] = t; }
      finish(c);
      return;
    }
    case 0x0a: return; // FNOP
    case 0x0c: { // FCHS FABS FTST FXAM
      if (i === 5) { fxam(c); return; }
      if (empty(c, 0)) {
        underflow();
        if (i !== 4 && !unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); }
        if (i === 4 && !unmasked(c, IE)) setCc(c, C3 | C2 | C0);
        finish(c);
        return;
      }
      if (i === 4) { unpackReg(c, 0, 0); unpack(1, 0, 0, 0); doCompare(c, false, 0, false, false); return; }
      const se = regSe(c, 0);
      c.fx[40] = se; c.fx[41] = i === 0 ? (se >> 8) ^ 0x80 : (se >> 8) & 0x7f;
      finish(c);
      return;
    }
    case 0x0d: { // FLD1 FLDL2T FLDL2E FLDPI FLDLG2 FLDLN2 FLDZ
      if (i === 0) pushResult(c, 0x3fff, 0x80000000 | 0, 0);
      else if (i === 6) pushResult(c, 0, 0, 0);
      else {
        const k = CONSTS[i - 1]!;
        const rc = (fcw(c) >> 10) & 3;
        const inc = rc === 0 ? k[3] : rc === 2 ? 1 : 0;
        pushResult(c, k[0] + 16383, k[1] | 0, (k[2] + inc) | 0);
      }
      finish(c);
      return;
    }
    case 0x0e: // FXTRACT FPREM1 FDECSTP FINCSTP
      if (i === 4) { fxtract(c); return; }
      if (i === 5) { fprem(c, true); return; }
      if (i === 6) decTop(c); else incTop(c);
      finish(c);
      return;
    case 0x0f: { // FPREM FSQRT FRNDINT FSCALE
      if (i === 0) { fprem(c, false); return; }
      if (i === 5) { fscale(c); return; }
      if (empty(c, 0)) { underflow(); if (!unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); } finish(c); return; }
      unpackReg(c, 0, 0);
      if (i === 2) sqrt(c); else rndint(c);
      if (unmasked(c, IE | DE)) { finish(c); return; }
      if (wild) throw c.unimplementedFault('x87 unmasked underflow beyond the bias-adjusted range');
      writeReg(c, 0, rSe, rHi, rLo);
      finish(c);
      return;
    }
    case 0x10: case 0x11: case 0x12: case 0x13: case 0x18: case 0x19: case 0x1a: case 0x1b: { // FCMOVcc
      const ccs = FCMOV_CC[digit]! ^ (esc === 3 ? 1 : 0);
      if (empty(c, 0) || empty(c, i)) {
        underflow();
        if (!unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); }
      } else if (c.cond(ccs)) copyReg(c, i, 0);
      c1 = -1;
      if (ex) c1 = 0;
      finish(c);
      return;
    }
    case 0x15: // FUCOMPP (DA E9)
    case 0x2c: case 0x2d: { // FUCOM/FUCOMP ST(i)
      const j = a === 0x15 ? 1 : i;
      const emp = empty(c, 0) || empty(c, j);
      if (!emp) { unpackReg(c, 0, 0); unpackReg(c, 1, j); }
      doCompare(c, true, a === 0x15 ? 2 : a === 0x2d ? 1 : 0, false, emp);
      return;
    }
    case 0x1d: case 0x1e: case 0x3d: case 0x3e: { // FUCOMI FCOMI FUCOMIP FCOMIP
      const emp = empty(c, 0) || empty(c, i);
      if (!emp) { unpackReg(c, 0, 0); unpackReg(c, 1, i); }
      doCompare(c, digit === 5, esc === 7 ? 1 : 0, true, emp);
      return;
    }
    case 0x28: setTag(c, i, false); return; // FFREE
    case 0x2a: case 0x2b: // FST/FSTP ST(i)
      if (empty(c, 0)) {
        underflow();
        if (unmasked(c, IE)) { finish(c); return; }
        indefinite(); writeReg(c, i, rSe, rHi, rLo);
      } else if (i !== 0) copyReg(c, 0, i);
      if (a === 0x2b) pop(c);
      finish(c);
      return;
    default:
      throw c.unimplementedFault(`x87 register form ${(0xd8 + esc).toString(16)} /${digit} rm ${i}`);
  }
}

/** FXAM (SDM Vol. 2 "FXAM" Table 3-43): C1 = sign; C3 C2 C0 = class */
function fxam(c: Cpu): void {
  const se = regSe(c, 0);
  c1 = (se >> 15) & 1;
  let cc: number;
  if (empty(c, 0)) cc = C3 | C0;
  else {
    unpackReg(c, 0, 0);
    const k = oK[0]!;
    cc = k === K_BAD ? 0 : k === K_QNAN || k === K_SNAN ? C0 : k === K_INF ? C2 | C0 : k === K_ZERO ? C3 : oD[0] ? C3 | C2 : C2;
  }
  setCc(c, cc);
  finish(c);
}

// ---- FNSTENV/FLDENV/FNSAVE/FRSTOR (SDM Vol. 1 §8.1.10, Figures 8-9..8-12) ------------------------------
// The 16-bit (operand size 16) and 32-bit formats; FIP/FCS/FOP/FDP/FDS are stored as zero (not tracked)
// and ignored on load, which makes the real-mode and protected-mode layouts identical here.

let aLo = 0, aHi = 0;
/** effective address + k (wrapping at the address size) into aLo/aHi */
function at(c: Cpu, k: number): void {
  const lo = (c.eaLo + k) | 0;
  aHi = c.d.asz === 8 && lo >>> 0 < c.eaLo >>> 0 ? (c.eaHi + 1) | 0 : c.eaHi;
  aLo = c.d.asz === 2 ? lo & 0xffff : c.d.asz === 4 ? lo : lo;
}
/** the full tag word (SDM Vol. 1 Figure 8-7): 00 valid, 01 zero, 10 special, 11 empty, per physical register */
function fullTag(c: Cpu): number {
  let t = 0;
  const tp = top(c), f = c.fx32;
  for (let p = 0; p < 8; p++) {
    let tag = 3;
    if ((c.fx[4]! >> p) & 1) {
      const i = (p - tp) & 7, e = regSe(c, i) & 0x7fff, hi = f[9 + 4 * i]!, lo = f[8 + 4 * i]!;
      tag = e === 0x7fff ? 2 : e === 0 ? ((hi | lo) === 0 ? 1 : 2) : hi < 0 ? 0 : 2;
    }
    t |= tag << (2 * p);
  }
  return t;
}
/** environment fields / FRSTOR register image staged before the commit */
const ENV = new Int32Array(3 + 24);
function storeEnv(c: Cpu, save: boolean): void {
  c.calcEa();
  const seg = c.d.seg, w = c.d.osz === 2 ? 2 : 4;
  // the reserved upper halves of the 32-bit format's first three fields read as ones (as the host CPU stores them)
  const up = w === 4 ? 0xffff0000 : 0;
  ENV.fill(0, 0, 7);
  ENV[0] = fcw(c) | up; ENV[1] = fsw(c) | up; ENV[2] = fullTag(c) | up;
  if (save) {
    for (let i = 0; i < 8; i++) {
      const f = c.fx32;
      at(c, 7 * w + 10 * i); c.wr(seg, aLo, aHi, 8, f[8 + 4 * i]!, f[9 + 4 * i]!);
      at(c, 7 * w + 10 * i + 8); c.wr(seg, aLo, aHi, 2, regSe(c, i), 0);
    }
  }
  for (let k = 0; k < 7; k++) { at(c, k * w); c.wr(seg, aLo, aHi, w, ENV[k]!, 0); }
  if (save) { // then FNINIT
    c.fx[0] = 0x7f; c.fx[1] = 0x03; c.fx[2] = 0; c.fx[3] = 0; c.fx[4] = 0;
    c.fx.fill(0, 5, 24);
  } else { c.fx[0] = c.fx[0]! | 0x3f; }
}
function loadEnv(c: Cpu, restore: boolean): void {
  c.calcEa();
  const seg = c.d.seg, w = c.d.osz === 2 ? 2 : 4;
  for (let k = 0; k < 3; k++) { at(c, k * w); ENV[k] = c.rd(seg, aLo, aHi, 2); }
  if (restore) {
    for (let i = 0; i < 8; i++) {
      at(c, 7 * w + 10 * i); ENV[3 + 3 * i] = c.rd(seg, aLo, aHi, 8); ENV[4 + 3 * i] = c.vh;
      at(c, 7 * w + 10 * i + 8); ENV[5 + 3 * i] = c.rd(seg, aLo, aHi, 2);
    }
  }
  // commit: TOP moves without moving the physical registers, so the stack-ordered image rotates
  const newTop = (ENV[1]! >> 11) & 7;
  while (top(c) !== newTop) incTop(c);
  c.fx[0] = ENV[0]!; c.fx[1] = ENV[0]! >> 8;
  setFsw(c, ENV[1]!);
  let abridged = 0;
  for (let p = 0; p < 8; p++) if (((ENV[2]! >> (2 * p)) & 3) !== 3) abridged |= 1 << p;
  c.fx[4] = abridged;
  if (restore) {
    const f = c.fx32;
    for (let i = 0; i < 8; i++) { const x = 8 + 4 * i; f[x] = ENV[3 + 3 * i]!; f[x + 1] = ENV[4 + 3 * i]!; f[x + 2] = ENV[5 + 3 * i]! & 0xffff; f[x + 3] = 0; }
  }
}

// ---- FXTRACT, FSCALE, FPREM, FPREM1 (SDM Vol. 2 per-instruction pages) --------------------------------

function fxtract(c: Cpu): void {
  if (empty(c, 0)) {
    underflow();
    if (!unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); pushResult(c, rSe, rHi, rLo); }
    finish(c); return;
  }
  if (!empty(c, 7)) { // stack overflow: masked, both results are the QNaN indefinite
    ex |= IE | SF; c1 = 1;
    if (!unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); decTop(c); writeReg(c, 0, rSe, rHi, rLo); }
    finish(c); return;
  }
  unpackReg(c, 0, 0);
  const k = oK[0]!, s = oS[0]!;
  let eSe = 0, eHi = 0, eLo = 0; // exponent part (new ST(1))
  if (k === K_BAD) { ex |= IE; indefinite(); eSe = rSe; eHi = rHi; eLo = rLo; }
  else if (k === K_QNAN || k === K_SNAN) { if (k === K_SNAN) ex |= IE; operandOut(0, true); eSe = rSe; eHi = rHi; eLo = rLo; }
  else if (k === K_ZERO) { ex |= ZE; eSe = 0xffff; eHi = 0x80000000 | 0; eLo = 0; operandOut(0, false); }
  else if (k === K_INF) { eSe = 0x7fff; eHi = 0x80000000 | 0; eLo = 0; operandOut(0, false); }
  else {
    if (denormCheck(c, 1)) { finish(c); return; }
    const e = oE[0]!;
    rSe = (s << 15) | 0x3fff; rHi = oH[0]!; rLo = oL[0]!;
    const sh = rSe, h = rHi, l = rLo;
    unpackInt(1, e, e >> 31);
    if (oK[1] === K_ZERO) { eSe = 0; eHi = 0; eLo = 0; } else { eSe = (oS[1]! << 15) | (oE[1]! + 16383); eHi = oH[1]!; eLo = oL[1]!; }
    rSe = sh; rHi = h; rLo = l;
  }
  if (unmasked(c, IE | ZE)) { finish(c); return; }
  c1 = 0;
  writeReg(c, 0, eSe, eHi, eLo);
  pushResult(c, rSe, rHi, rLo);
  finish(c);
}

function fscale(c: Cpu): void {
  if (empty(c, 0) || empty(c, 1)) { underflow(); if (!unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); } finish(c); return; }
  unpackReg(c, 0, 0); unpackReg(c, 1, 1);
  const a = oK[0]!, b = oK[1]!;
  c1 = 0;
  if (!nanCheck2()) {
    if (denormCheck(c, 2)) { finish(c); return; }
    if (b === K_INF) {
      if (oS[1] ? a === K_INF : a === K_ZERO) { ex |= IE; indefinite(); }
      else if (oS[1]) { rSe = oS[0]! << 15; rHi = 0; rLo = 0; }
      else operandOut(0, false);
      if (!oS[1] && a === K_FIN) { rSe = (oS[0]! << 15) | 0x7fff; rHi = 0x80000000 | 0; rLo = 0; }
    } else if (a !== K_FIN) operandOut(0, false);
    else {
      // n = trunc(ST(1)), clamped far beyond the exponent range
      let n = 0;
      if (b === K_FIN && oE[1]! >= 0) n = oE[1]! > 30 ? 1 << 20 : Math.floor((oH[1]! >>> 0) / 2 ** (31 - oE[1]!));
      if (oS[1]) n = -n;
      wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63 + n;
      round(oS[0]!, 64, 64, -16382, 16383, (fcw(c) >> 10) & 3, false, ~fcw(c) & (OE | UE));
      packReg(oS[0]!);
    }
  }
  if (unmasked(c, IE | DE)) { finish(c); return; }
  if (wild) throw c.unimplementedFault('x87 unmasked overflow/underflow beyond the bias-adjusted range');
  writeReg(c, 0, rSe, rHi, rLo);
  finish(c);
}

/** FPREM (truncating quotient) / FPREM1 (IEEE, round to nearest): C0 C3 C1 = Q2 Q1 Q0, C2 = incomplete */
function fprem(c: Cpu, ieee: boolean): void {
  if (empty(c, 0) || empty(c, 1)) { underflow(); if (!unmasked(c, IE)) { indefinite(); writeReg(c, 0, rSe, rHi, rLo); } finish(c); return; }
  unpackReg(c, 0, 0); unpackReg(c, 1, 1);
  const a = oK[0]!, b = oK[1]!;
  let q = 0, partial = false;
  if (nanCheck2()) { /* NaN result */ }
  else if (a === K_INF || b === K_ZERO) { ex |= IE; indefinite(); }
  else {
    if (denormCheck(c, 2)) { finish(c); return; }
    if (a === K_ZERO) operandOut(0, false);
    else if (b === K_INF) { // ST(0) unchanged (a pseudo-denormal comes back normalized)
      wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63;
      round(oS[0]!, 64, 64, -16382, 16383, 0, false); packReg(oS[0]!);
    }
    else {
      const d = oE[0]! - oE[1]!;
      let s = oS[0]!;
      if (d < 0) {
        if (ieee && d === -1 && (oH[0]! >>> 0 > oH[1]! >>> 0 || (oH[0] === oH[1] && oL[0]! >>> 0 > oL[1]! >>> 0))) {
          // |x| > |y|/2: Q = 1, result 2^(Ex-63) * (2 sigY - sigX), sign flipped
          wClear(W); wPut(W, 1, oH[1]!, oL[1]!); wClear(Y); wPut(Y, 0, oH[0]!, oL[0]!); wSub(W, Y);
          wScale = oE[0]! - 63; s ^= 1; q = 1;
        } else { wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63; }
      } else {
        // an exponent difference of 64 or more is reduced by 32 + d mod 32 bits per step (C2 = 1, the
        // quotient bits C0/C3/C1 are cleared), the step the host CPUs and the AMD APM use
        partial = d >= 64;
        const k = partial ? 32 + (d % 32) : d;
        wClear(W); wPut(W, 0, oH[0]!, oL[0]!);
        wClear(Y); wPut(Y, 0, oH[1]!, oL[1]!);
        for (let i = 0; i <= k; i++) {
          let bit = 0;
          if (wCmp(W, Y) >= 0) { wSub(W, Y); bit = 1; }
          q = ((q << 1) | bit) & 7;
          if (i < k) wShl(W, 1);
        }
        if (ieee && !partial) {
          R.set(W); wShl(R, 1);
          const cm = wCmp(R, Y);
          if (cm > 0 || (cm === 0 && (q & 1))) { R.set(Y); wSub(R, W); W.set(R); s ^= 1; q = (q + 1) & 7; }
        }
        wScale = oE[0]! - 63 - k;
      }
      if (wIsZero(W)) { rSe = oS[0]! << 15; rHi = 0; rLo = 0; }
      else { round(s, 64, 64, -16382, 16383, 0, false, ~fcw(c) & UE); packReg(s); }
    }
  }
  if (unmasked(c, IE | DE)) { finish(c); return; }
  if (wild) throw c.unimplementedFault('x87 unmasked underflow beyond the bias-adjusted range');
  writeReg(c, 0, rSe, rHi, rLo);
  if (partial) q = 0;
  c1 = q & 1;
  setCc(c, (q & 4 ? C0 : 0) | (q & 2 ? C3 : 0) | (partial ? C2 : 0));
  finish(c);
}

// ---- FBLD/FBSTP (SDM Vol. 1 §4.7 packed BCD: 18 digits, sign in bit 79) ------------------------------------

const BCD = new Uint8Array(10);
function fbld(c: Cpu): void {
  c.calcEa();
  const seg = c.d.seg;
  for (let k = 0; k < 10; k++) { at(c, k); BCD[k] = c.rd(seg, aLo, aHi, 1); }
  // value = Σ digits; v = v * 10 + d on int32 halves (< 10^18 < 2^60); invalid digits give an undefined result
  let hi = 0, lo = 0;
  for (let k = 8; k >= 0; k--) {
    for (let j = 1; j >= 0; j--) {
      const l8 = lo * 10 + ((BCD[k]! >> (4 * j)) & 15); // < 2^36, exact
      const carry = Math.floor(l8 / 4294967296);
      lo = l8 >>> 0;
      hi = (hi * 10 + carry) >>> 0;
    }
  }
  const s = BCD[9]! >> 7;
  if ((hi | lo) === 0) { pushResult(c, s << 15, 0, 0); finish(c); return; }
  unpackInt(0, lo | 0, hi | 0);
  pushResult(c, (s << 15) | (oE[0]! + 16383), oH[0]!, oL[0]!);
  finish(c);
}

function fbstp(c: Cpu): void {
  c.calcEa();
  const seg = c.d.seg;
  let invalid = false, hi = 0, lo = 0, s = 0;
  if (empty(c, 0)) { underflow(); invalid = true; }
  else {
    unpackReg(c, 0, 0);
    s = oS[0]!;
    const k = oK[0]!;
    if (k === K_ZERO) { /* ±0 */ }
    else if (k !== K_FIN || oE[0]! >= 60) { ex |= IE; invalid = true; }
    else {
      wClear(W); wPut(W, 0, oH[0]!, oL[0]!); wScale = oE[0]! - 63;
      const saveEx = ex;
      round(s, 64, 64, -16382, 16383, (fcw(c) >> 10) & 3, true);
      if (oCls !== 0) { shr64(oMH, oML, 63 - oExp); hi = tHi >>> 0; lo = tLo >>> 0; }
      if (hi > 0x0de0b6b3 || (hi === 0x0de0b6b3 && lo > 0xa763ffff)) { ex = saveEx | IE; c1 = 0; invalid = true; }
    }
  }
  if (unmasked(c, IE)) { finish(c); return; }
  if (invalid) { BCD.fill(0); BCD[7] = 0xc0; BCD[8] = 0xff; BCD[9] = 0xff; }
  else {
    for (let k = 0; k < 9; k++) {
      let d2 = 0;
      for (let j = 0; j < 2; j++) {
        const qh = Math.floor(hi / 10), rh = hi - qh * 10;
        const t = rh * 4294967296 + lo;
        const ql = Math.floor(t / 10);
        d2 |= (t - ql * 10) << (4 * j);
        hi = qh; lo = ql;
      }
      BCD[k] = d2;
    }
    BCD[9] = s << 7;
  }
  for (let k = 0; k < 10; k++) { at(c, k); c.wr(seg, aLo, aHi, 1, BCD[k]!, 0); }
  pop(c);
  finish(c);
}
