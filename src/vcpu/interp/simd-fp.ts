// Floating-point SSE execution: SSE, SSE2, SSE3 and SSE4.1 single/double precision arithmetic,
// comparisons, conversions and shuffles, with MXCSR rounding, flags and #XM (Intel SDM Vol. 1 Ch. 10-11,
// §4.8-4.9 (formats, NaNs, exceptions), §11.5 (SIMD FP exceptions); Vol. 2 per-instruction pages).
// Rows: spec/simd-fp-rows.ts. Called from execSystem for every op it does not handle itself.
//
// How results are computed (JavaScript has only round-to-nearest doubles): every arithmetic result is
// first reduced to an exactly known form (q, sgn, k): q a double that is the exact result rounded to
// 53 bits, sgn = sign(exact - q) (error-free transforms: TwoSum, Dekker's TwoProduct, the exact
// remainder of a division or square root), and k a power-of-two scale kept outside q so that nothing
// under- or overflows. `roundTo` then rounds that to single or double under MXCSR.RC: any grid point or
// midpoint of a grid of at most 53 bits lies on the 53-bit grid, so q's position plus sgn decides every
// rounding exactly (no double rounding). It also decides the flags as the SDM defines them: tininess
// after rounding (rounding with unbounded exponent, Vol. 1 §4.9.1.5), UE only when tiny and inexact
// while masked, FTZ, overflow to infinity or the largest finite value per RC.
//
// Exceptions (§11.5.1-11.5.3): per element the pre-computation conditions are checked in the SDM's
// precedence (SNaN invalid, QNaN operand, other invalid / divide-by-zero, denormal operand), then the
// post-computation ones (overflow, underflow, precision). All elements are computed into a scratch
// register; an unmasked pre-computation flag raises #XM (or #UD when CR4.OSXMMEXCPT = 0) with only
// the pre-computation flags recorded and the destination unchanged; otherwise an unmasked post-
// computation flag does the same with all flags recorded.
//
// Details the manuals leave open, as measured on the development host (AMD family 1Ah) and checked by
// simd-fp.test.ts: DE is not reported for an element that raises IE or ZE; with DAZ, MIN/MAX return
// the zeroed denormal; ROUND* and the float→integer conversions never report DE; an unmasked OE/UE
// records PE only when the exponent-unbounded result is inexact (and UE even for an exact tiny
// result); DPPS/DPPD report (and trap on) the multiply stage before the additions run; the x87→MMX
// transition happens only for MMX-register operands (not for CVTPI2PS/PD from memory).

import { CpuFault } from '../../arch/x86/exceptions.ts';
import type { Cpu } from './cpu.ts';
import { K_E, OP_SSE_FP } from './decoder.generated.ts';
import { simdCheck } from './system.ts';
import { FP } from './spec/simd-fp-rows.ts';
import { CF, PF, ZF } from './state.ts';

// MXCSR (SDM Vol. 1 §10.2.3 Figure 10-3)
export const MX_IE = 1, MX_DE = 2, MX_ZE = 4, MX_OE = 8, MX_UE = 0x10, MX_PE = 0x20, MX_DAZ = 0x40, MX_FTZ = 0x8000;
const RC_RN = 0, RC_RD = 1, RC_RU = 2, RC_RZ = 3;
const CR0_EM = 4, CR0_TS = 8, CR4_OSXMMEXCPT = 0x400;

// ---- scratch (module-level, no allocation per instruction) ----------------------------------------
const SB = new ArrayBuffer(16);
const sF32 = new Float32Array(SB), sF64 = new Float64Array(SB), sI32 = new Int32Array(SB);
/** source operand words */
const S = new Int32Array(4);
/** result words */
const R = new Int32Array(4);

// ---- per-instruction MXCSR state ------------------------------------------------------------------
let rc = 0, daz = false, ftz = false, masks = 0x3f;
/** pre-computation flags (IE, DE, ZE) and post-computation flags (OE, UE, PE) raised so far */
let pre = 0, post = 0;
/** set by an element op whose result is the default NaN (real indefinite) */
let indef = false;
/** high word of a double produced by a helper; also the high half of an integer conversion */
let outHi = 0;

function pow2(n: number): number {
  // 2^n for -1022 <= n <= 1023, built from the exponent field
  sI32[0] = 0; sI32[1] = (n + 1023) << 20;
  return sF64[0]!;
}
/** x * 2^n exactly (unless the true result over/underflows), in steps that stay in range */
function scale(x: number, n: number): number {
  while (n > 1000) { x *= pow2(1000); n -= 1000; }
  while (n < -1000) { x *= pow2(-1000); n += 1000; }
  return x * pow2(n);
}
let isPow2 = false;
/** floor(log2 |a|) for finite nonzero a (also sets isPow2) */
function expOf(a: number): number {
  sF64[0] = a;
  let e = (sI32[1]! >>> 20) & 0x7ff;
  let adj = 0;
  if (e === 0) { sF64[0] = a * 18446744073709551616; e = (sI32[1]! >>> 20) & 0x7ff; adj = 64; }
  isPow2 = (sI32[1]! & 0xfffff) === 0 && sI32[0] === 0;
  return e - 1023 - adj;
}

// ---- error-free transforms --------------------------------------------------------------------------
let tpErr = 0;
/** a*b = p + tpErr exactly (Dekker/Veltkamp; |a|, |b| < 2^500 and no underflow) */
function twoProd(a: number, b: number): number {
  const p = a * b;
  let t = 134217729 * a;
  const ah = t - (t - a), al = a - ah;
  t = 134217729 * b;
  const bh = t - (t - b), bl = b - bh;
  tpErr = ((ah * bh - p) + ah * bl + al * bh) + al * bl;
  return p;
}

/**
 * Round the exact value (q + ε) * 2^k, sign(ε) = sgn, q = the exact value rounded to 53 bits (finite,
 * nonzero), to single (fmt 0) or double (fmt 1) under MXCSR.RC, FTZ and the masks; records
 * OE/UE/PE in `post`. Returns the result as a double (exactly representable in the format).
 */
function roundTo(q: number, sgn: number, k: number, fmt: number): number {
  if (rc === RC_RN && k === 0) {
    // fast path: round to nearest with a result safely inside the normal range
    const aq = q < 0 ? -q : q;
    if (fmt) {
      if (aq >= 4.450147717014403e-308) { // 2^-1021: q (finite) is the answer, never tiny
        if (sgn !== 0) post |= MX_PE;
        return q;
      }
    } else if (aq >= 2.350988701644575e-38) { // 2^-125
      // Math.fround(q) is right unless q lies exactly halfway between two singles (then sgn decides)
      sF64[0] = q;
      if (sgn === 0 || (sI32[0]! & 0x1fffffff) !== 0x10000000) {
        const r = Math.fround(q);
        if (r !== Infinity && r !== -Infinity) {
          if (sgn !== 0 || r !== q) post |= MX_PE;
          return r;
        }
      }
    }
  }
  const neg = q < 0;
  const a = neg ? -q : q;
  const sm = neg ? -sgn : sgn; // sign of (exact magnitude - a)
  const p = fmt ? 53 : 24, emin = fmt ? -1022 : -126;
  const E = expOf(a) + k;
  const ex = sm < 0 && isPow2 ? E - 1 : E; // exponent of the exact magnitude
  let u = ex - (p - 1);
  const uMin = emin - (p - 1);
  if (u < uMin) u = uMin;
  const away = (rc === RC_RU && !neg) || (rc === RC_RD && neg);
  const toward = rc === RC_RZ || (rc === RC_RU && neg) || (rc === RC_RD && !neg);
  let y = scale(a, k - u);
  if (y < 1.0842021724855044e-19) y = 1.0842021724855044e-19; // far below the grid: only "nonzero, < 1/2" matters
  let f = Math.floor(y);
  const fr = y - f;
  const inexact = fr !== 0 || sm !== 0;
  f = rndInt(f, fr, sm, away, toward);
  let m = scale(f, u);
  // overflow: the rounded value (unbounded exponent) exceeds the largest finite number
  if (fmt ? m === Infinity : m >= 3.402823669209385e38) {
    // unmasked: #XM follows, nothing is stored; PE only if the exponent-unbounded result is inexact
    if (!(masks & MX_OE)) { post |= MX_OE | (inexact ? MX_PE : 0); return neg ? -m : m; }
    post |= MX_OE | MX_PE;
    m = toward ? (fmt ? 1.7976931348623157e308 : 3.4028234663852886e38) : Infinity;
    return neg ? -m : m;
  }
  if (ex < emin) {
    let tiny = true;
    if (ex === emin - 1) {
      // tininess after rounding: round at the unbounded grid and see whether it reaches 2^emin
      const u2 = ex - (p - 1);
      const y2 = scale(a, k - u2);
      const f2 = Math.floor(y2);
      if (rndInt(f2, y2 - f2, sm, away, toward) >= (fmt ? 9007199254740992 : 16777216)) tiny = false;
    }
    if (tiny) {
      if (!(masks & MX_UE)) {
        // unmasked: UE even if exact; PE only if the exponent-unbounded result is inexact
        const y2 = scale(a, k - (ex - (p - 1)));
        post |= MX_UE | (y2 !== Math.floor(y2) || sm !== 0 ? MX_PE : 0);
      }
      else if (ftz) { post |= MX_UE | MX_PE; return neg ? -0 : 0; }
      else if (inexact) post |= MX_UE | MX_PE;
      return neg ? -m : m;
    }
  }
  if (inexact) post |= MX_PE;
  return neg ? -m : m;
}

/** integer part f, fraction fr of a magnitude, exact residual sign sm → rounded magnitude */
function rndInt(f: number, fr: number, sm: number, away: boolean, toward: boolean): number {
  if (fr === 0) {
    if (sm === 0 || rc === RC_RN) return f;
    if (away) return sm > 0 ? f + 1 : f;
    return sm > 0 ? f : f - 1;
  }
  if (away) return f + 1;
  if (toward) return f;
  if (fr > 0.5) return f + 1;
  if (fr < 0.5) return f;
  if (sm !== 0) return sm > 0 ? f + 1 : f;
  return f % 2 === 0 ? f : f + 1;
}

// ---- element operations on non-NaN operands ----------------------------------------------------------

/** a + b (sub: call with -b) */
function add(a: number, b: number, fmt: number): number {
  const s = a + b;
  if (s === 0 || !Number.isFinite(s)) {
    if (s !== s) { pre |= MX_IE; indef = true; return 0; } // inf - inf
    if (!Number.isFinite(a) || !Number.isFinite(b)) return s;
    if (s === 0) {
      if (a === 0 && b === 0 && Object.is(a, b)) return a;
      return rc === RC_RD ? -0 : 0;
    }
    // finite operands whose sum overflows: halve both (exact for such large values)
    const a2 = a * 0.5, b2 = b * 0.5, s2 = a2 + b2, bb = s2 - a2;
    const e = (a2 - (s2 - bb)) + (b2 - bb);
    return roundTo(s2, e > 0 ? 1 : e < 0 ? -1 : 0, 1, fmt);
  }
  const bb = s - a;
  const e = (a - (s - bb)) + (b - bb);
  return roundTo(s, e > 0 ? 1 : e < 0 ? -1 : 0, 0, fmt);
}

function mul(a: number, b: number, fmt: number): number {
  const fa = Number.isFinite(a), fb = Number.isFinite(b);
  if (!fa || !fb) {
    if (a === 0 || b === 0) { pre |= MX_IE; indef = true; return 0; }
    return a * b;
  }
  if (a === 0 || b === 0) return a * b;
  if (fmt === 0) return roundTo(a * b, 0, 0, 0); // exact in double: 24 x 24 bits, exponents in range
  const aa = a < 0 ? -a : a, ab = b < 0 ? -b : b;
  if (aa > 1e-120 && aa < 1e120 && ab > 1e-120 && ab < 1e120) {
    // no scaling needed: the product and its error term are far from under- and overflow
    const pr = twoProd(a, b);
    return roundTo(pr, tpErr > 0 ? 1 : tpErr < 0 ? -1 : 0, 0, 1);
  }
  const ea = expOf(a), eb = expOf(b);
  const ma = scale(a, -ea), mb = scale(b, -eb);
  const pr = twoProd(ma, mb);
  return roundTo(pr, tpErr > 0 ? 1 : tpErr < 0 ? -1 : 0, ea + eb, fmt);
}

function div(a: number, b: number, fmt: number): number {
  const fa = Number.isFinite(a), fb = Number.isFinite(b);
  if (!fa || !fb) {
    if (!fa && !fb) { pre |= MX_IE; indef = true; return 0; }
    return a / b; // inf/x = inf, x/inf = 0
  }
  if (b === 0) {
    if (a === 0) { pre |= MX_IE; indef = true; return 0; }
    pre |= MX_ZE;
    return a / b;
  }
  if (a === 0) return a / b;
  const aa = a < 0 ? -a : a, ab = b < 0 ? -b : b;
  if (fmt === 0 || (aa > 1e-120 && aa < 1e120 && ab > 1e-120 && ab < 1e120)) {
    // unscaled: the quotient, q*b and the remainder stay far from under- and overflow
    const q = a / b;
    const pr = twoProd(q, b);
    const r = (a - pr) - tpErr; // a - pr is exact (Sterbenz); the sign of the exact remainder a - q*b
    const sr = r > 0 ? 1 : r < 0 ? -1 : 0;
    return roundTo(q, b > 0 ? sr : -sr, 0, fmt);
  }
  const ea = expOf(a), eb = expOf(b);
  const ma = scale(a, -ea), mb = scale(b, -eb);
  const q = ma / mb;
  const pr = twoProd(q, mb);
  const r = (ma - pr) - tpErr; // sign of the exact remainder ma - q*mb
  const s = r > 0 ? 1 : r < 0 ? -1 : 0;
  return roundTo(q, mb > 0 ? s : -s, ea - eb, fmt);
}

function sqrt(a: number, fmt: number): number {
  if (a === 0 || a === Infinity) return a;
  if (a < 0) { pre |= MX_IE; indef = true; return 0; }
  if (a > 1e-280 && a < 1e300) {
    const q = Math.sqrt(a);
    const pr = twoProd(q, q);
    const r = (a - pr) - tpErr;
    return roundTo(q, r > 0 ? 1 : r < 0 ? -1 : 0, 0, fmt);
  }
  let e = expOf(a);
  if (e & 1) e -= 1;
  const m = scale(a, -e); // [1, 4)
  const q = Math.sqrt(m);
  const pr = twoProd(q, q);
  const r = (m - pr) - tpErr;
  return roundTo(q, r > 0 ? 1 : r < 0 ? -1 : 0, e / 2, fmt);
}

// ---- operand decoding ------------------------------------------------------------------------------

/** classification of the last decoded operands */
let den = false;

/** single-precision bits → value (NaNs must be handled by the caller from the bits); DAZ applied */
function f32v(bits: number): number {
  if ((bits & 0x7f800000) === 0 && (bits & 0x7fffff) !== 0) {
    if (daz) return bits < 0 ? -0 : 0;
    den = true;
  }
  sI32[0] = bits;
  return sF32[0]!;
}
function f32bits(v: number): number {
  sF32[0] = v;
  return sI32[0]!;
}
function isNaN32(b: number): boolean { return (b & 0x7f800000) === 0x7f800000 && (b & 0x7fffff) !== 0; }
function isSNaN32(b: number): boolean { return isNaN32(b) && (b & 0x400000) === 0; }
function isNaN64(lo: number, hi: number): boolean { return (hi & 0x7ff00000) === 0x7ff00000 && ((hi & 0xfffff) | lo) !== 0; }
function isSNaN64(lo: number, hi: number): boolean { return isNaN64(lo, hi) && (hi & 0x80000) === 0; }
function f64v(lo: number, hi: number): number {
  if ((hi & 0x7ff00000) === 0 && ((hi & 0xfffff) | lo) !== 0) {
    if (daz) return hi < 0 ? -0 : 0;
    den = true;
  }
  sI32[0] = lo; sI32[1] = hi;
  return sF64[0]!;
}
/** writes a double's bits: low word returned, high word in outHi */
function f64bits(v: number): number {
  sF64[0] = v;
  outHi = sI32[1]!;
  return sI32[0]!;
}

// ---- binary element ops with the NaN rules (SDM Vol. 1 Table 4-7 and §11.5.2.1) -----------------------

/** kind ADD SUB MUL DIV MIN MAX SQRT on single-precision bits a (first/destination) and b (source) */
function op32(kind: number, a: number, b: number): number {
  if (kind === FP.SQRT) {
    if (isNaN32(b)) { if (isSNaN32(b)) pre |= MX_IE; return b | 0x400000; }
    den = false; indef = false;
    const v = sqrt(f32v(b), 0);
    if (indef) return 0xffc00000 | 0;
    if (den) pre |= MX_DE;
    return f32bits(v);
  }
  const na = isNaN32(a), nb = isNaN32(b);
  if (na || nb) {
    if (kind === FP.MIN || kind === FP.MAX) { pre |= MX_IE; return daz && (b & 0x7f800000) === 0 ? b & 0x80000000 : b; }
    if ((na && isSNaN32(a)) || (nb && isSNaN32(b))) pre |= MX_IE;
    return (na ? a : b) | 0x400000;
  }
  den = false; indef = false;
  const pz = pre & (MX_IE | MX_ZE);
  pre &= ~(MX_IE | MX_ZE);
  const x = f32v(a), y = f32v(b);
  let v: number;
  switch (kind) {
    case FP.ADD: v = add(x, y, 0); break;
    case FP.SUB: v = add(x, -y, 0); break;
    case FP.MUL: v = mul(x, y, 0); break;
    case FP.DIV: v = div(x, y, 0); break;
    default: v = 0; break;
  }
  if (den && !(pre & (MX_IE | MX_ZE))) pre |= MX_DE;
  pre |= pz;
  if (indef) return 0xffc00000 | 0;
  if (kind >= FP.MIN) {
    // MIN/MAX return the second (source) operand unless the first is strictly smaller/larger
    if (kind === FP.MIN ? x < y : x > y) return daz ? f32bits(x) : a;
    return daz ? f32bits(y) : b;
  }
  return f32bits(v);
}

/** the same on doubles (alo, ahi) and (blo, bhi); high result word in outHi */
function op64(kind: number, alo: number, ahi: number, blo: number, bhi: number): number {
  if (kind === FP.SQRT) {
    if (isNaN64(blo, bhi)) { if (isSNaN64(blo, bhi)) pre |= MX_IE; outHi = bhi | 0x80000; return blo; }
    den = false; indef = false;
    const v = sqrt(f64v(blo, bhi), 1);
    if (indef) { outHi = 0xfff80000 | 0; return 0; }
    if (den) pre |= MX_DE;
    return f64bits(v);
  }
  const na = isNaN64(alo, ahi), nb = isNaN64(blo, bhi);
  if (na || nb) {
    if (kind === FP.MIN || kind === FP.MAX) {
      pre |= MX_IE;
      if (daz && (bhi & 0x7ff00000) === 0) { outHi = bhi & 0x80000000; return 0; }
      outHi = bhi; return blo;
    }
    if ((na && isSNaN64(alo, ahi)) || (nb && isSNaN64(blo, bhi))) pre |= MX_IE;
    if (na) { outHi = ahi | 0x80000; return alo; }
    outHi = bhi | 0x80000; return blo;
  }
  den = false; indef = false;
  const pz = pre & (MX_IE | MX_ZE);
  pre &= ~(MX_IE | MX_ZE);
  const x = f64v(alo, ahi), y = f64v(blo, bhi);
  let v: number;
  switch (kind) {
    case FP.ADD: v = add(x, y, 1); break;
    case FP.SUB: v = add(x, -y, 1); break;
    case FP.MUL: v = mul(x, y, 1); break;
    case FP.DIV: v = div(x, y, 1); break;
    default: v = 0; break;
  }
  if (den && !(pre & (MX_IE | MX_ZE))) pre |= MX_DE;
  pre |= pz;
  if (indef) { outHi = 0xfff80000 | 0; return 0; }
  if (kind >= FP.MIN) {
    if (kind === FP.MIN ? x < y : x > y) { if (daz) return f64bits(x); outHi = ahi; return alo; }
    if (daz) return f64bits(y);
    outHi = bhi; return blo;
  }
  return f64bits(v);
}

/** CMPPS/CMPSS predicate (imm 0-7) on single bits → true/false; IE per the predicate's signalling */
function cmp32(pred: number, a: number, b: number): boolean {
  const na = isNaN32(a), nb = isNaN32(b);
  if (na || nb) {
    if ((pred & 3) === 1 || (pred & 3) === 2 || isSNaN32(a) || isSNaN32(b)) pre |= MX_IE;
    return (pred & 3) === 3 ? pred === 3 : pred >= 4;
  }
  den = false;
  const x = f32v(a), y = f32v(b);
  if (den) pre |= MX_DE;
  return cmpPred(pred, x, y);
}
function cmp64(pred: number, alo: number, ahi: number, blo: number, bhi: number): boolean {
  const na = isNaN64(alo, ahi), nb = isNaN64(blo, bhi);
  if (na || nb) {
    if ((pred & 3) === 1 || (pred & 3) === 2 || isSNaN64(alo, ahi) || isSNaN64(blo, bhi)) pre |= MX_IE;
    return (pred & 3) === 3 ? pred === 3 : pred >= 4;
  }
  den = false;
  const x = f64v(alo, ahi), y = f64v(blo, bhi);
  if (den) pre |= MX_DE;
  return cmpPred(pred, x, y);
}
function cmpPred(pred: number, x: number, y: number): boolean {
  switch (pred) {
    case 0: return x === y;
    case 1: return x < y;
    case 2: return x <= y;
    case 3: return false;
    case 4: return x !== y;
    case 5: return !(x < y);
    case 6: return !(x <= y);
    default: return true;
  }
}

// ---- conversions --------------------------------------------------------------------------------

/** round a finite double to an integer-valued double under `mode` */
function roundIntMode(x: number, mode: number): number {
  switch (mode) {
    case RC_RD: return Math.floor(x);
    case RC_RU: return Math.ceil(x);
    case RC_RZ: return Math.trunc(x);
    default: {
      const f = Math.floor(x), d = x - f;
      if (d > 0.5) return f + 1;
      if (d < 0.5) return f;
      return f % 2 === 0 ? f : f + 1;
    }
  }
}

/** float value (non-NaN, DAZ applied) or NaN flag → int32/int64 with IE/PE; low word returned, high in outHi */
function toInt(x: number, isNan: boolean, trunc: boolean, is64: boolean): number {
  if (isNan || !Number.isFinite(x)) { pre |= MX_IE; outHi = 0x80000000 | 0; return is64 ? 0 : 0x80000000 | 0; }
  const r = roundIntMode(x, trunc ? RC_RZ : rc);
  if (is64 ? r < -9223372036854775808 || r >= 9223372036854775808 : r < -2147483648 || r > 2147483647) {
    pre |= MX_IE; outHi = 0x80000000 | 0; return is64 ? 0 : 0x80000000 | 0;
  }
  if (r !== x) post |= MX_PE;
  const hi = Math.floor(r / 4294967296);
  outHi = hi | 0;
  return (r - hi * 4294967296) | 0;
}

/** int32 or int64 (lo, hi) → single or double, rounded per MXCSR */
function fromInt(lo: number, hi: number, is64: boolean, fmt: number): number {
  if (!is64) {
    if (lo === 0) return 0;
    return fmt ? lo : roundTo(lo, 0, 0, 0);
  }
  const a = hi * 4294967296, b = lo >>> 0;
  const s = a + b;
  if (s === 0) return 0;
  const bb = s - a;
  const e = (a - (s - bb)) + (b - bb);
  return roundTo(s, e > 0 ? 1 : e < 0 ? -1 : 0, 0, fmt);
}

/** single bits → double (CVTSS2SD, CVTPS2PD); high word in outHi */
function cvt32to64(b: number): number {
  if (isNaN32(b)) {
    if (isSNaN32(b)) pre |= MX_IE;
    outHi = (b & 0x80000000) | 0x7ff80000 | ((b & 0x3fffff) >>> 3);
    return (b & 7) << 29;
  }
  den = false;
  const v = f32v(b);
  if (den) pre |= MX_DE;
  return f64bits(v);
}
/** double → single bits (CVTSD2SS, CVTPD2PS) */
function cvt64to32(lo: number, hi: number): number {
  if (isNaN64(lo, hi)) {
    if (isSNaN64(lo, hi)) pre |= MX_IE;
    return (hi & 0x80000000) | 0x7fc00000 | ((hi & 0x7ffff) << 3) | (lo >>> 29);
  }
  den = false;
  const v = f64v(lo, hi);
  if (den) pre |= MX_DE;
  if (v === 0 || !Number.isFinite(v)) return f32bits(v);
  return f32bits(roundTo(v, 0, 0, 0));
}

// ---- SSE4.1 ROUND ------------------------------------------------------------------------------------

function roundVal(x: number, imm: number): number {
  if (x === 0 || !Number.isFinite(x)) return x;
  const r = roundIntMode(x, imm & 4 ? rc : imm & 3);
  if (r !== x && !(imm & 8)) post |= MX_PE;
  return r === 0 ? (x < 0 ? -0 : 0) : r;
}

// ---- RCP / RSQRT approximations ---------------------------------------------------------------------
// The SDM only bounds the relative error (|err| <= 1.5 * 2^-12) and leaves the bits to the implementation.
// These tables reproduce AMD family 1Ah (Zen 5, the development host) exactly, measured with RCPSS/RSQRTSS over all
// inputs: the result depends only on the top 12 fraction bits of the input (RSQRT also on the exponent's
// parity), has 12 fraction bits, and scales with the exponent (verified on 2M random inputs). Stored as
// the first 12-bit value and successive decreases (0-7), two per base64 character.
// Special cases: ±0 and denormals → ±inf, ±inf → ±0, NaNs quieted, negative RSQRT inputs → the default
// NaN, RCP results below the normal range (|x| >= 2^126) → ±0. No MXCSR flags are ever set.
const RCP_FIRST = 0xffe, RSQ_FIRST = [0xfff, 0x6a0];
const RCP_DELTAS = [
  'KSSSKSSiKSSSKSSaKSSSKSSiKSSSKSSSKSSSKSSaKSSSKSSaKSSSKSSSKSSSKSSSKSSSKSSSKSSSKSSSKSSSKSSKKSSSKSSKKSSSKSSKKSSSKSSK',
  'KSSSKSSKKSSSKSSSRKSRKSRaRKSRKSRaRKSRKSRSRKSRKSRaRKSRKSRSRKSRKSRSRKSRKSRSRKSRKSRSRKSRKSRSRKSRKSRKRKSRKSRKRKSRKSRK',
  'RKSRKSRKRKSRKSRKRKSRKSRCRKSRKSRSRJKKKKKaRJKKKKKaRJKKKKKaRJKKKKKSRJKKKKKaRJKKKKKSRJKKKKKSRJKKKKKSRJKKKKKSRJKKKKKK',
  'RJKKKKKSRJKKKKKKRJKKKKKKRJKKKKKKRJKKKKKKRJKKKKKSJKRJKRJSJKRJKRJaJKRJKRJSJKRJKRJSJKRJKRJSJKRJKRJSJKRJKRJSJKRJKRJK',
  'JKRJKRJSJKRJKRJKJKRJKRJKJKRJKRJKJKRJKRJKJKRJKRJKJKRJKRJCJKRJKRJSJJKJKJRRJJKJKJRRJJKJKJRRJJKJKJRRJJKJKJRRJJKJKJRR',
  'JJKJKJRJJJKJKJRRJJKJKJRJJJKJKJRRJJKJKJRJJJKJKJRJJJKJKJRJJJKJKJRJJJKJKJRBJJKJKJRJJKJJJRJJJKJJJRJRJKJJJRJJJKJJJRJJ',
  'JKJJJRJJJKJJJRJJJKJJJRJJJKJJJRJJJKJJJRJBJKJJJRJJJKJJJRJBJKJJJRJJJKJJJRJBJKJJJRJBJKJJJRJBJKJJJRJJJJJJJJJRJJJJJJJJ',
  'JJJJJJJRJJJJJJJRJJJJJJJJJJJJJJJJJJJJJJJRJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJJBJJJJJJJJJJJJJJJJJJJJJJJJ',
  'JJBJJJJJJJBJJJJRJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJBJJBJJJJJJJBJJJJBJJBJJJJJJJBJJJJB',
  'JJBJJJJJJJBJJJJBJIJJBJJJJIJJBJJRJIJJBJJJJIJJBJJBJIJJBJJJJIJJBJJJJIJJBJJJJIJJBJJBJIJJBJJJJIJJBJJJJIJJBJJBJIJJBJJB',
  'JIJJBJJJJIJJBJJBJIJJBJJBJIJJBJJJBJJIJBJJBJJIJBJJBJJIJBJJBJJIJBJBBJJIJBJJBJJIJBJJBJJIJBJJBJJIJBJBBJJIJBJJBJJIJBJB',
  'BJJIJBJJBJJIJBJBBJJIJBJBBJJIJBJJBJJIJBJBBJJIJBJBJIBJBJBJJIBJBJBJJIBJBJBJJIBJBJBJJIBJBJBJJIBJBJBJJIBJBJBBJIBJBJBJ',
  'JIBJBJBJJIBJBJBBJIBJBJBJJIBJBJBBJIBJBJBJJIBJBJBBJIBJBJBBJIBJBJBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJ',
  'BJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBBBJIBJIBJBJIBJIBBBJIBJIBJBJIBJIBJBJIBJIBJIBBJIBBJIBBJIBBJIBBJIBBRIBBJIBBJ',
  'IBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBRIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBBIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIIBBIBBJIIBJ',
  'IBBJIIBJIBBJIIBBIBBJIIBJIBBJIIBBIBBJIIBJIBBJIIBBIBBJIIBJIBBJIIBBIBBJIIBBIBBJIIBBIBBJIIBJIBBJIIBBIBBJIIBBIBBJIIBJ',
  'IIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBBIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBBIIIIBBBJIIIIBBBJIIIIBBBB',
  'IIIIBBBJIIIIBBBBIIIBBBBJIIIBBBBBIIIBBBBJIIIBBBBBIIIBBBBBIIIBBBBJIIIBBBBBIIIBBBBBIIIBBBBBIIIBBBBJIIIBBBBBIIIBBBBB',
  'IIIBBBBBIIIBBBBBIIIBBBBBIIIBBBBB',
].join('');
const RSQ_DELTAS = [[
  'JJJBJJJRJJJBJJJRJJJBJJJJJJJBJJJRJJJBJJJRJJJBJJJJJJJBJJJJJJJBJJJRJJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJJJJBJJJJ',
  'JJJBJJJBJJJBJJJJJBJJJBJRJBJJJBJJJBJJJBJRJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJJBJJ',
  'JBJJJBJBJBJJJBJJJBJJJBJBJBJJJBJJJIJBJJBJJIJBJJBRJIJBJJBJJIJBJJBJJIJBJJBJJIJBJJBJJIJBJJBJJIJBJJBJJIJBJJBJJIJBJJBB',
  'JIJBJJBJJIJBJJBJJIJBJJBBJIJBJJBJJIJBJJBBJIJBJJBJJIBJBJBJJIBJBJBRJIBJBJBJJIBJBJBJJIBJBJBJJIBJBJBJJIBJBJBJJIBJBJBJ',
  'JIBJBJBJJIBJBJBBJIBJBJBJJIBJBJBJJIBJBJBBJIBJBJBJJIBJBJBBJIBJBJBRIBJBJIBJIBJBJIBJIBJBJIBRIBJBJIBJIBJBJIBJIBJBJIBJ',
  'IBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBBIBJBJIBJIBJBJIBJBJIBBJIBBJIBBJIJBJIBBJIBBJIBBJIJ',
  'BJIBBJIBBJIBBJIJBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIJBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBBJIBIBBBJIBJIBBBJIBJ',
  'IBBBJIBJIBBBJIBJIBBBJIBBIBBBJIBJIBBBJIBJIBBBJIBBIBBBJIBJIBBBJIBBIBBBJIBJIBBBJIBBIBBBJIBJIBBBJIBBIBBBJIBBIBBBJIBJ',
  'IIIBBBJIIIIBBBJIIIIBBBJQIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJAIIIBBBJI',
  'IIIBBBJIIIIBBBJABBBBBBBJBBBBBBBJBBBBBBBBBBBBBBBJBBBBBBBBBBBBBBBJBBBBBBBBBBBBBBBJBBBBBBBBBBBBBBBJBBBBBBBBBBBBBBBB',
  'BBBBBBBJBBBBBBBBBBBBBBBBBBBBBBBJIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII',
  'IIIIIIIIIIIIIIIIIIIIIIIAIIIIIIIIIIIIIIIIIIIIIIIIIIIABBBJIIIABBBBIIIABBBJIIIABBBJIIIABBBBIIIABBBJIIIABBBBIIIABBBJ',
  'IIIABBBBIIIABBBJIIIABBBBIIIABBBJIIIABBBBIIIABBBBIIIABBBJIIIABBBBBBIIIIABBBIIIIABBBIIIIABBBIIIIAJBBIIIIABBBIIIIAB',
  'BBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIIIIAJIABBIIIIIABBIIIIIABBIIIAIABBIIII',
  'IABBIIIIIABBIIIIIABBIIIIIABBIIIAIABBIIIIIABBIIIIIABBIIIAIABBIIIIIABBIIIIIABBIIIAIABBIIIIIABBIIIAIIABBIAJIIABBIAB',
  'IIABBIAJIIABBIABIIABBIAJIIABBIABIIABBIAJIIABBIABIIABBIABIIABBIAJIIABBIABIIABBIABIIABBIAJIIABBIABIIABBIABIIABBIAJ',
  'IABBIIABIABBIIABIABBIIABIABBIIABIABBIIABIABBIIABIABBIIAJIABBIIABIABBIIABIABBIIABIABBIIABIABBIIABIABBIIABIABBIIAB',
  'IABBIIABIABBIIABABIIABIIABIIABIIABIIABIIABIIABIIABIIABIAABIIABIIABIIABIIABIIABIIABIIABIIABIIABIAABIIABIIABIIABII',
  'ABIIABIIABIIABIAABIIABIIABIIABIA',
].join(''), [
  'BJIBJIBJBJIBJIBJBJIBJIBRBJIBJIBJBJIBJIBBBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBJBJIBJIBBBJIBJIBJBJIBJIBJBJIBJIBBBJIBJIBJ',
  'BJIBJIBBBJIBJIBJIBBJIBJIIBBJIBJIIBBJIBJQIBBJIBJIIBBJIBJIIBBJIBJIIBBJIBJIIBBJIBJIIBBJIBJAIBBJIBJIIBBJIBJIIBBJIBJI',
  'IBBJIBJAIBBJIBJIIBBJIBJAIBBJIBJIIBBBJIIQIBBBJIIIIBBBJIIIIBBBJIIQIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIII',
  'IBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBJIIIIBBBBBBBIBBBBBBJIBBBBBBJIBBBBBBBIBBBBBBJIBBBBBBBIBBBBBBJIBBBBBBB',
  'IBBBBBBBIBBBBBBJIBBBBBBBIBBBBBBBIBBBBBBJIBBBBBBBIBBBBBBBIBBBBBBBIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIII',
  'IIIIIIIIIIIIIIIIIIIIIIIIIIIIIIIAIIIIIIIIIIIIIIIIIIIIIIIAIIIIIIIIIIIIIIIAIIIIIIIIBIIIIIABBIIIIIAJBIIIIIABBIIIIIAJ',
  'BIIIIIABBIIIIIABBIIIIIAJBIIIIIABBIIIIIABBIIIIIABBIIIIIAJBIIIIIABBIIIIIABBIIIIIABBIIIIIABBIIIIIABIIABBBIIIIABBBII',
  'IIABBBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIIIIABBBIAIIABBBIIIIABBBIIIIABBBIIIIABBBIAIIABBBIIIIABBBIIIIABBBIAIIABBBII',
  'IIABBIIAIIABBIIIIIABBIIAIIABBIIIIIABBIIAIIABBIIIIIABBIIAIIABBIIAIIABBIIIIIABBIIAIIABBIIAIIABBIIIIIABBIIAIIABBIIA',
  'IIABBIIAIIABBIIIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBIABBI',
  'ABBIABBIABBIABBIABBIABBAABBIABBIIABIABIIIABIABIIIABIABIAIABIABIIIABIABIIIABIABIIIABIABIAIABIABIIIABIABIAIABIABII',
  'IABIABIIIABIABIAIABIABIIIABIABIAIABIABIIIABIABIAIABIABIAIABIABIIIABIABIAIABIABIIIABIABIAIABIABIAIABIABIIIABIABIA',
  'IABIABIAIABIABIIIABIABIAIABIABIAIABIABIAIABIABIAIABIABIIIABIABIABIABIAIABIABIAIABIABIAIABIABIAIABIABIAIABIABIAIA',
  'BIABIAIABIABIAIABIABIAIABIABIAIABIABIAIABIABIAIABIABIAIABIABIAIABIABIAIABIABIAIIABIAIABAABIAIABIABIAIABIABIAIABI',
  'ABIAIABIABIAIABIABIAIABAABIAIABIABIAIABIABIAIABIABIAIABAABIAIABIABIAIABIABIAIABAABIAIABIABIAIABIABIAIABAABIAIABI',
  'ABIAIABAABIAIABIABIAIABIABIAIABAABIAIABIABIAIABAABIAIABIABIAIABAABIAIABIABIAIABAABIAIABIABIAIABAABIAIABAABIAIABI',
  'IAIAIAIAIAIAIAIIIAIAIAIAIAIAIAIAIAIAIAIIIAIAIAIAIAIAIAIAIAIAIAIIIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIIIAIAIAIAIAIAIAIA',
  'IAIAIAIAIAIAIAIIIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIIIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIA',
  'IAIAIAIAIAIAIAIAIAIAIAIAIAIAIAIA',
].join('')];

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
function decodeTable(first: number, deltas: string, into: Uint16Array, at: number): void {
  let v = first;
  into[at] = v;
  for (let i = 1; i < 4096; i++) {
    const c = B64.indexOf(deltas[(i - 1) >> 1]!);
    v -= (i - 1) & 1 ? c >> 3 : c & 7;
    into[at + i] = v;
  }
}
/** 12-bit result fractions: RCP by input fraction[22:11]; RSQRT by exponent parity * 4096 + fraction[22:11] */
const RCP_T = new Uint16Array(4096), RSQ_T = new Uint16Array(8192);
decodeTable(RCP_FIRST, RCP_DELTAS, RCP_T, 0);
decodeTable(RSQ_FIRST[0]!, RSQ_DELTAS[0]!, RSQ_T, 0);
decodeTable(RSQ_FIRST[1]!, RSQ_DELTAS[1]!, RSQ_T, 4096);

/** RCPSS on single-precision bits (exported for the bound test) */
export function rcp(b: number): number {
  const e = (b >>> 23) & 0xff, sign = b & 0x80000000;
  if (e === 255) return (b & 0x7fffff) !== 0 ? b | 0x400000 : sign;
  if (e === 0) return sign | 0x7f800000;
  const re = 253 - e; // 1/(1.f * 2^(e-127)) = t * 2^(127-e), t in [0.5, 1)
  if (re <= 0) return sign;
  return sign | (re << 23) | (RCP_T[(b >>> 11) & 0xfff]! << 11);
}
/** RSQRTSS on single-precision bits (exported for the bound test) */
export function rsqrt(b: number): number {
  const e = (b >>> 23) & 0xff;
  if (e === 255) return (b & 0x7fffff) !== 0 ? b | 0x400000 : b & 0x80000000 ? 0xffc00000 | 0 : 0;
  if (e === 0) return (b & 0x80000000) | 0x7f800000;
  if (b & 0x80000000) return 0xffc00000 | 0;
  const ue = e - 127, par = ue & 1; // x = (1 + par).f * 2^(ue - par), ue - par even
  return ((126 - ((ue - par) >> 1)) << 23) | (RSQ_T[(par << 12) | ((b >>> 11) & 0xfff)]! << 11);
}

// ---- operand access ----------------------------------------------------------------------------------

function gp0(why: string): CpuFault { return new CpuFault(13, 0, 0, 0, why); }

/** source operand (ModRM.rm xmm or memory) into S: `bytes` 4/8/16, `align` = 16-byte alignment required */
function loadW(c: Cpu, bytes: number, align: boolean): void {
  if (c.d.mod === 3) {
    const x = 40 + 4 * c.d.rm, f = c.fx32;
    S[0] = f[x]!; S[1] = f[x + 1]!; S[2] = f[x + 2]!; S[3] = f[x + 3]!;
    return;
  }
  c.calcEa();
  if (align && c.eaLo & 15) throw gp0('misaligned 16-byte SSE memory operand');
  S[1] = 0; S[2] = 0; S[3] = 0;
  if (bytes === 4) S[0] = c.rd(c.d.seg, c.eaLo, c.eaHi, 4);
  else {
    S[0] = c.rd(c.d.seg, c.eaLo, c.eaHi, 8); S[1] = c.vh;
    if (bytes === 16) {
      const lo = (c.eaLo + 8) | 0;
      S[2] = c.rd(c.d.seg, lo, lo >>> 0 < c.eaLo >>> 0 ? (c.eaHi + 1) | 0 : c.eaHi, 8); S[3] = c.vh;
    }
  }
}

/** MMX source (ModRM.rm mm register or m64) into S[0..1] */
function loadQ(c: Cpu): void {
  if (c.d.mod === 3) {
    const x = 8 + 4 * (c.d.rm & 7);
    S[0] = c.fx32[x]!; S[1] = c.fx32[x + 1]!;
    return;
  }
  c.calcEa();
  S[0] = c.rd(c.d.seg, c.eaLo, c.eaHi, 8); S[1] = c.vh;
}

/** x87 → MMX transition (SDM Vol. 1 §9.5.1): #MF if an x87 exception is pending, then TOP = 0, all tags valid */
function mmxEnter(c: Cpu): void {
  const fx = c.fx;
  // pending = an exception flag set in FSW whose FCW mask bit is clear (SDM Vol. 1 §8.6)
  if ((fx[2]! & ~fx[0]! & 0x3f) !== 0) throw new CpuFault(16, -1, 0, 0, 'pending x87 exception before an MMX operand');
  // the image holds ST(0)..ST(7); mm i is physical register i = ST(i - TOP): rotate so TOP becomes 0
  const top = (fx[3]! >> 3) & 7;
  if (top !== 0) {
    ROT.set(fx.subarray(32, 160));
    for (let i = 0; i < 8; i++) {
      const d = 32 + 16 * ((i + top) & 7);
      for (let b = 0; b < 16; b++) fx[d + b] = ROT[16 * i + b]!;
    }
    fx[3] = fx[3]! & ~0x38;
  }
  fx[4] = 0xff;
}
const ROT = new Uint8Array(128);
function storeMM(c: Cpu, reg: number, lo: number, hi: number): void {
  const x = 8 + 4 * (reg & 7);
  c.fx32[x] = lo; c.fx32[x + 1] = hi;
  c.fx[32 + 16 * (reg & 7) + 8] = 0xff; c.fx[32 + 16 * (reg & 7) + 9] = 0xff;
}

function begin(c: Cpu): void {
  const mx = c.fx32[6]!;
  rc = (mx >> 13) & 3;
  daz = (mx & MX_DAZ) !== 0;
  ftz = (mx & MX_FTZ) !== 0;
  masks = (mx >> 7) & 0x3f;
  pre = 0; post = 0;
}

/** record the flags; raise #XM/#UD for an unmasked exception (SDM Vol. 1 §11.5.3) */
function finish(c: Cpu): void {
  const un = ~masks & 0x3f;
  if (pre & un) { c.fx32[6] = c.fx32[6]! | pre; throw xm(c); }
  const all = pre | post;
  if (all & un) { c.fx32[6] = c.fx32[6]! | all; throw xm(c); }
  if (all) c.fx32[6] = c.fx32[6]! | all;
}
function xm(c: Cpu): CpuFault {
  return c.cr4 & CR4_OSXMMEXCPT
    ? new CpuFault(19, -1, 0, 0, 'unmasked SIMD floating-point exception')
    : new CpuFault(6, -1, 0, 0, 'unmasked SIMD floating-point exception with CR4.OSXMMEXCPT=0');
}

function dstCopy(c: Cpu): number {
  const d = 40 + 4 * c.d.reg, f = c.fx32;
  R[0] = f[d]!; R[1] = f[d + 1]!; R[2] = f[d + 2]!; R[3] = f[d + 3]!;
  return d;
}
function commit(c: Cpu, d: number): void {
  const f = c.fx32;
  f[d] = R[0]!; f[d + 1] = R[1]!; f[d + 2] = R[2]!; f[d + 3] = R[3]!;
}

// ---- the executor ------------------------------------------------------------------------------------

/** Execute `op` if it is a floating-point SSE op; false when the op is not one of ours. */
export function execSimdFp(c: Cpu, op: number): boolean {
  if (op !== OP_SSE_FP) return false;
  simdCheck(c);
  const arg = c.d.arg;
  if (arg < FP.RCPPS) { arith(c, arg >> 2, arg & 3); return true; }
  if (arg >= FP.CMP && arg < FP.CMP + 4) { compare(c, arg - FP.CMP); return true; }
  if (arg >= FP.CVTSI2SS && arg <= FP.CVTTPD2PI) { convert(c, arg); return true; }
  if (arg >= FP.ROUNDPS) { sse41(c, arg); return true; }
  moves(c, arg);
  return true;
}

function arith(c: Cpu, kind: number, type: number): void {
  loadW(c, type === 1 ? 4 : type === 3 ? 8 : 16, type === 0 || type === 2);
  begin(c);
  const d = dstCopy(c);
  switch (type) {
    case 0: for (let i = 0; i < 4; i++) R[i] = op32(kind, R[i]!, S[i]!); break;
    case 1: R[0] = op32(kind, R[0]!, S[0]!); break;
    case 2:
      for (let i = 0; i < 4; i += 2) { R[i] = op64(kind, R[i]!, R[i + 1]!, S[i]!, S[i + 1]!); R[i + 1] = outHi; }
      break;
    default: R[0] = op64(kind, R[0]!, R[1]!, S[0]!, S[1]!); R[1] = outHi;
  }
  finish(c);
  commit(c, d);
}

function compare(c: Cpu, type: number): void {
  loadW(c, type === 1 ? 4 : type === 3 ? 8 : 16, type === 0 || type === 2);
  begin(c);
  const pred = c.d.imm & 7;
  const d = dstCopy(c);
  switch (type) {
    case 0: for (let i = 0; i < 4; i++) R[i] = cmp32(pred, R[i]!, S[i]!) ? -1 : 0; break;
    case 1: R[0] = cmp32(pred, R[0]!, S[0]!) ? -1 : 0; break;
    case 2: for (let i = 0; i < 4; i += 2) R[i] = R[i + 1] = cmp64(pred, R[i]!, R[i + 1]!, S[i]!, S[i + 1]!) ? -1 : 0; break;
    default: R[0] = R[1] = cmp64(pred, R[0]!, R[1]!, S[0]!, S[1]!) ? -1 : 0;
  }
  finish(c);
  commit(c, d);
}

function moves(c: Cpu, arg: number): void {
  const f = c.fx32;
  switch (arg) {
    case FP.RCPPS: case FP.RSQRTPS: case FP.RCPSS: case FP.RSQRTSS: {
      const scalar = arg === FP.RCPSS || arg === FP.RSQRTSS;
      loadW(c, scalar ? 4 : 16, !scalar);
      const d = dstCopy(c);
      const fn = arg === FP.RCPPS || arg === FP.RCPSS ? rcp : rsqrt;
      for (let i = 0; i < (scalar ? 1 : 4); i++) R[i] = fn(S[i]!);
      commit(c, d);
      return;
    }
    case FP.COMISS: case FP.UCOMISS: case FP.COMISD: case FP.UCOMISD: {
      const dbl = arg === FP.COMISD || arg === FP.UCOMISD;
      loadW(c, dbl ? 8 : 4, false);
      begin(c);
      const x = 40 + 4 * c.d.reg;
      // COMIS signals invalid on any NaN (predicate LT_OS), UCOMIS only on SNaN (EQ_OQ)
      const pred = arg === FP.COMISS || arg === FP.COMISD ? 1 : 0;
      let unord = false, lt = false, eq = false;
      if (dbl ? isNaN64(f[x]!, f[x + 1]!) || isNaN64(S[0]!, S[1]!) : isNaN32(f[x]!) || isNaN32(S[0]!)) {
        unord = true;
        if (dbl) cmp64(pred, f[x]!, f[x + 1]!, S[0]!, S[1]!); else cmp32(pred, f[x]!, S[0]!);
      } else {
        den = false;
        const a = dbl ? f64v(f[x]!, f[x + 1]!) : f32v(f[x]!);
        const b = dbl ? f64v(S[0]!, S[1]!) : f32v(S[0]!);
        if (den) pre |= MX_DE;
        lt = a < b; eq = a === b;
      }
      finish(c);
      c.setArith(unord ? ZF | PF | CF : lt ? CF : eq ? ZF : 0);
      return;
    }
    case FP.SHUFPS: case FP.SHUFPD: case FP.UNPCKLPS: case FP.UNPCKLPD: case FP.UNPCKHPS: case FP.UNPCKHPD:
    case FP.MOVSHDUP: case FP.MOVSLDUP: case FP.MOVDDUP: {
      loadW(c, arg === FP.MOVDDUP ? 8 : 16, arg !== FP.MOVDDUP);
      const d = dstCopy(c);
      const D0 = R[0]!, D1 = R[1]!, D2 = R[2]!, D3 = R[3]!;
      const imm = c.d.imm;
      switch (arg) {
        case FP.SHUFPS: R[0] = pick(imm & 3, D0, D1, D2, D3); R[1] = pick((imm >> 2) & 3, D0, D1, D2, D3); R[2] = S[(imm >> 4) & 3]!; R[3] = S[(imm >> 6) & 3]!; break;
        case FP.SHUFPD: { const i = imm & 1 ? 2 : 0, j = imm & 2 ? 2 : 0; R[0] = i ? D2 : D0; R[1] = i ? D3 : D1; R[2] = S[j]!; R[3] = S[j + 1]!; break; }
        case FP.UNPCKLPS: R[1] = S[0]!; R[2] = D1; R[3] = S[1]!; break;
        case FP.UNPCKHPS: R[0] = D2; R[1] = S[2]!; R[2] = D3; R[3] = S[3]!; break;
        case FP.UNPCKLPD: R[2] = S[0]!; R[3] = S[1]!; break;
        case FP.UNPCKHPD: R[0] = D2; R[1] = D3; R[2] = S[2]!; R[3] = S[3]!; break;
        case FP.MOVSHDUP: R[0] = R[1] = S[1]!; R[2] = R[3] = S[3]!; break;
        case FP.MOVSLDUP: R[0] = R[1] = S[0]!; R[2] = R[3] = S[2]!; break;
        default: R[0] = R[2] = S[0]!; R[1] = R[3] = S[1]!;
      }
      commit(c, d);
      return;
    }
    case FP.MOVLP_LOAD: case FP.MOVHP_LOAD: {
      loadW(c, 8, false);
      const d = 40 + 4 * c.d.reg + (arg === FP.MOVHP_LOAD ? 2 : 0);
      f[d] = S[0]!; f[d + 1] = S[1]!;
      return;
    }
    case FP.MOVLP_STORE: case FP.MOVHP_STORE: {
      const x = 40 + 4 * c.d.reg + (arg === FP.MOVHP_STORE ? 2 : 0);
      c.calcEa();
      c.wr(c.d.seg, c.eaLo, c.eaHi, 8, f[x]!, f[x + 1]!);
      return;
    }
    case FP.MOVHLPS: case FP.MOVLHPS: {
      const d = 40 + 4 * c.d.reg, s = 40 + 4 * c.d.rm;
      if (arg === FP.MOVHLPS) { f[d] = f[s + 2]!; f[d + 1] = f[s + 3]!; }
      else { f[d + 2] = f[s]!; f[d + 3] = f[s + 1]!; }
      return;
    }
    case FP.MOVMSKPS: case FP.MOVMSKPD: {
      const s = 40 + 4 * c.d.rm;
      const v = arg === FP.MOVMSKPS
        ? (f[s]! >>> 31) | ((f[s + 1]! >>> 31) << 1) | ((f[s + 2]! >>> 31) << 2) | ((f[s + 3]! >>> 31) << 3)
        : (f[s + 1]! >>> 31) | ((f[s + 3]! >>> 31) << 1);
      c.setReg(c.d.reg, 4, v, 0);
      return;
    }
    case FP.ADDSUBPS: case FP.HADDPS: case FP.HSUBPS: {
      loadW(c, 16, true);
      begin(c);
      const d = dstCopy(c);
      const D0 = R[0]!, D1 = R[1]!, D2 = R[2]!, D3 = R[3]!;
      if (arg === FP.ADDSUBPS) {
        R[0] = op32(FP.SUB, D0, S[0]!); R[1] = op32(FP.ADD, D1, S[1]!);
        R[2] = op32(FP.SUB, D2, S[2]!); R[3] = op32(FP.ADD, D3, S[3]!);
      } else {
        const k = arg === FP.HADDPS ? FP.ADD : FP.SUB;
        R[0] = op32(k, D0, D1); R[1] = op32(k, D2, D3); R[2] = op32(k, S[0]!, S[1]!); R[3] = op32(k, S[2]!, S[3]!);
      }
      finish(c);
      commit(c, d);
      return;
    }
    case FP.ADDSUBPD: case FP.HADDPD: case FP.HSUBPD: {
      loadW(c, 16, true);
      begin(c);
      const d = dstCopy(c);
      const D0 = R[0]!, D1 = R[1]!, D2 = R[2]!, D3 = R[3]!;
      if (arg === FP.ADDSUBPD) {
        R[0] = op64(FP.SUB, D0, D1, S[0]!, S[1]!); R[1] = outHi;
        R[2] = op64(FP.ADD, D2, D3, S[2]!, S[3]!); R[3] = outHi;
      } else {
        const k = arg === FP.HADDPD ? FP.ADD : FP.SUB;
        R[0] = op64(k, D0, D1, D2, D3); R[1] = outHi;
        R[2] = op64(k, S[0]!, S[1]!, S[2]!, S[3]!); R[3] = outHi;
      }
      finish(c);
      commit(c, d);
      return;
    }
    default:
      throw c.unimplementedFault(`SSE_FP sub-op ${arg}`);
  }
}

function pick(i: number, a: number, b: number, c: number, d: number): number {
  return i === 0 ? a : i === 1 ? b : i === 2 ? c : d;
}

function mmxCheck(c: Cpu): void {
  // MMX register operands: CR0.EM → #UD, CR0.TS → #NM (already covered by simdCheck), pending x87 → #MF
  if (c.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(c.cr0 & CR0_EM ? 6 : 7, -1, 0, 0, 'MMX with CR0.EM/TS');
  mmxEnter(c);
}

function convert(c: Cpu, arg: number): void {
  const f = c.fx32;
  switch (arg) {
    case FP.CVTSI2SS: case FP.CVTSI2SD: {
      const is64 = c.d.osz === 8;
      const lo = c.ld(K_E, is64 ? 8 : 4), hi = is64 ? c.vh : lo >> 31;
      begin(c);
      const d = dstCopy(c);
      if (arg === FP.CVTSI2SS) R[0] = f32bits(fromInt(lo, hi, is64, 0));
      else { R[0] = f64bits(fromInt(lo, hi, is64, 1)); R[1] = outHi; }
      finish(c);
      commit(c, d);
      return;
    }
    case FP.CVTSS2SI: case FP.CVTTSS2SI: case FP.CVTSD2SI: case FP.CVTTSD2SI: {
      const dbl = arg === FP.CVTSD2SI || arg === FP.CVTTSD2SI;
      loadW(c, dbl ? 8 : 4, false);
      begin(c);
      const is64 = c.d.osz === 8;
      const trunc = arg === FP.CVTTSS2SI || arg === FP.CVTTSD2SI;
      const nan = dbl ? isNaN64(S[0]!, S[1]!) : isNaN32(S[0]!);
      const lo = toInt(nan ? 0 : dbl ? f64v(S[0]!, S[1]!) : f32v(S[0]!), nan, trunc, is64);
      const hi = outHi;
      finish(c);
      c.setReg(c.d.reg, is64 ? 8 : 4, lo, hi);
      return;
    }
    case FP.CVTSS2SD: case FP.CVTSD2SS: {
      const toD = arg === FP.CVTSS2SD;
      loadW(c, toD ? 4 : 8, false);
      begin(c);
      const d = dstCopy(c);
      if (toD) { R[0] = cvt32to64(S[0]!); R[1] = outHi; }
      else R[0] = cvt64to32(S[0]!, S[1]!);
      finish(c);
      commit(c, d);
      return;
    }
    case FP.CVTPS2PD: {
      loadW(c, 8, false);
      begin(c);
      const d = dstCopy(c);
      const s0 = S[0]!, s1 = S[1]!;
      R[0] = cvt32to64(s0); R[1] = outHi;
      R[2] = cvt32to64(s1); R[3] = outHi;
      finish(c);
      commit(c, d);
      return;
    }
    case FP.CVTPD2PS: {
      loadW(c, 16, true);
      begin(c);
      const d = dstCopy(c);
      R[0] = cvt64to32(S[0]!, S[1]!); R[1] = cvt64to32(S[2]!, S[3]!); R[2] = 0; R[3] = 0;
      finish(c);
      commit(c, d);
      return;
    }
    case FP.CVTDQ2PS: {
      loadW(c, 16, true);
      begin(c);
      const d = dstCopy(c);
      for (let i = 0; i < 4; i++) R[i] = f32bits(fromInt(S[i]!, S[i]! >> 31, false, 0));
      finish(c);
      commit(c, d);
      return;
    }
    case FP.CVTPS2DQ: case FP.CVTTPS2DQ: {
      loadW(c, 16, true);
      begin(c);
      const d = dstCopy(c);
      for (let i = 0; i < 4; i++) { const b = S[i]!, n = isNaN32(b); R[i] = toInt(n ? 0 : f32v(b), n, arg === FP.CVTTPS2DQ, false); }
      finish(c);
      commit(c, d);
      return;
    }
    case FP.CVTDQ2PD: {
      loadW(c, 8, false);
      const d = dstCopy(c);
      const s0 = S[0]!, s1 = S[1]!;
      R[0] = f64bits(s0); R[1] = outHi; R[2] = f64bits(s1); R[3] = outHi;
      commit(c, d);
      return;
    }
    case FP.CVTPD2DQ: case FP.CVTTPD2DQ: case FP.CVTPD2PI: case FP.CVTTPD2PI: {
      const mm = arg === FP.CVTPD2PI || arg === FP.CVTTPD2PI;
      if (mm) mmxCheck(c);
      loadW(c, 16, true);
      begin(c);
      const trunc = arg === FP.CVTTPD2DQ || arg === FP.CVTTPD2PI;
      let n = isNaN64(S[0]!, S[1]!);
      const r0 = toInt(n ? 0 : f64v(S[0]!, S[1]!), n, trunc, false);
      n = isNaN64(S[2]!, S[3]!);
      const r1 = toInt(n ? 0 : f64v(S[2]!, S[3]!), n, trunc, false);
      finish(c);
      if (mm) storeMM(c, c.d.reg, r0, r1);
      else { const d = 40 + 4 * c.d.reg; f[d] = r0; f[d + 1] = r1; f[d + 2] = 0; f[d + 3] = 0; }
      return;
    }
    case FP.CVTPI2PS: case FP.CVTPI2PD: {
      // the x87→MMX transition happens only with a register source (a memory source is no MMX access)
      if (c.d.mod === 3) mmxCheck(c);
      loadQ(c);
      begin(c);
      const d = dstCopy(c);
      const s0 = S[0]!, s1 = S[1]!;
      if (arg === FP.CVTPI2PS) { R[0] = f32bits(fromInt(s0, s0 >> 31, false, 0)); R[1] = f32bits(fromInt(s1, s1 >> 31, false, 0)); }
      else { R[0] = f64bits(s0); R[1] = outHi; R[2] = f64bits(s1); R[3] = outHi; }
      finish(c);
      commit(c, d);
      return;
    }
    default: { // CVTPS2PI, CVTTPS2PI
      mmxCheck(c);
      loadW(c, 8, false);
      begin(c);
      const trunc = arg === FP.CVTTPS2PI;
      let n = isNaN32(S[0]!);
      const r0 = toInt(n ? 0 : f32v(S[0]!), n, trunc, false);
      n = isNaN32(S[1]!);
      const r1 = toInt(n ? 0 : f32v(S[1]!), n, trunc, false);
      finish(c);
      storeMM(c, c.d.reg, r0, r1);
    }
  }
}

function sse41(c: Cpu, arg: number): void {
  const f = c.fx32;
  const imm = c.d.imm;
  switch (arg) {
    case FP.ROUNDPS: case FP.ROUNDSS: {
      const scalar = arg === FP.ROUNDSS;
      loadW(c, scalar ? 4 : 16, !scalar);
      begin(c);
      const d = dstCopy(c);
      for (let i = 0; i < (scalar ? 1 : 4); i++) {
        const b = S[i]!;
        if (isNaN32(b)) { if (isSNaN32(b)) pre |= MX_IE; R[i] = b | 0x400000; continue; }
        den = false;
        const v = f32v(b);
        R[i] = f32bits(roundVal(v, imm));
      }
      finish(c);
      commit(c, d);
      return;
    }
    case FP.ROUNDPD: case FP.ROUNDSD: {
      const scalar = arg === FP.ROUNDSD;
      loadW(c, scalar ? 8 : 16, !scalar);
      begin(c);
      const d = dstCopy(c);
      for (let i = 0; i < (scalar ? 2 : 4); i += 2) {
        const lo = S[i]!, hi = S[i + 1]!;
        if (isNaN64(lo, hi)) { if (isSNaN64(lo, hi)) pre |= MX_IE; R[i] = lo; R[i + 1] = hi | 0x80000; continue; }
        R[i] = f64bits(roundVal(f64v(lo, hi), imm)); R[i + 1] = outHi;
      }
      finish(c);
      commit(c, d);
      return;
    }
    case FP.BLENDPS: case FP.BLENDPD: case FP.BLENDVPS: case FP.BLENDVPD: case FP.PBLENDVB: {
      loadW(c, 16, true);
      const d = dstCopy(c);
      if (arg === FP.PBLENDVB) {
        for (let i = 0; i < 4; i++) {
          const m = f[40 + i]!;
          let sel = 0;
          for (let j = 0; j < 4; j++) if (m & (0x80 << (8 * j))) sel |= 0xff << (8 * j);
          R[i] = (R[i]! & ~sel) | (S[i]! & sel);
        }
      } else {
        for (let i = 0; i < 4; i++) {
          let take: boolean;
          if (arg === FP.BLENDPS) take = (imm & (1 << i)) !== 0;
          else if (arg === FP.BLENDPD) take = (imm & (1 << (i >> 1))) !== 0;
          else if (arg === FP.BLENDVPS) take = f[40 + i]! < 0;
          else take = f[40 + (i | 1)]! < 0;
          if (take) R[i] = S[i]!;
        }
      }
      commit(c, d);
      return;
    }
    case FP.INSERTPS: {
      loadW(c, 4, false);
      const d = dstCopy(c);
      const v = c.d.mod === 3 ? S[(imm >> 6) & 3]! : S[0]!;
      R[(imm >> 4) & 3] = v;
      for (let i = 0; i < 4; i++) if (imm & (1 << i)) R[i] = 0;
      commit(c, d);
      return;
    }
    case FP.EXTRACTPS: {
      const v = f[40 + 4 * c.d.reg + (imm & 3)]!;
      if (c.d.mod === 3) c.setReg(c.d.rm, c.d.rexW ? 8 : 4, v, 0);
      else { c.calcEa(); c.wr(c.d.seg, c.eaLo, c.eaHi, 4, v, 0); }
      return;
    }
    case FP.DPPS: {
      loadW(c, 16, true);
      begin(c);
      const d = dstCopy(c);
      // products of the selected elements (others are +0.0), then ((p0 + p1) + (p2 + p3)), each rounded
      const p0 = imm & 0x10 ? op32(FP.MUL, R[0]!, S[0]!) : 0;
      const p1 = imm & 0x20 ? op32(FP.MUL, R[1]!, S[1]!) : 0;
      const p2 = imm & 0x40 ? op32(FP.MUL, R[2]!, S[2]!) : 0;
      const p3 = imm & 0x80 ? op32(FP.MUL, R[3]!, S[3]!) : 0;
      finish(c); // the multiply stage reports (and traps) before the additions run
      const s01 = op32(FP.ADD, p0, p1), s23 = op32(FP.ADD, p2, p3);
      const t = op32(FP.ADD, s01, s23);
      for (let i = 0; i < 4; i++) R[i] = imm & (1 << i) ? t : 0;
      finish(c);
      commit(c, d);
      return;
    }
    case FP.DPPD: {
      loadW(c, 16, true);
      begin(c);
      const d = dstCopy(c);
      let p0 = 0, p0h = 0, p1 = 0, p1h = 0;
      if (imm & 0x10) { p0 = op64(FP.MUL, R[0]!, R[1]!, S[0]!, S[1]!); p0h = outHi; }
      if (imm & 0x20) { p1 = op64(FP.MUL, R[2]!, R[3]!, S[2]!, S[3]!); p1h = outHi; }
      finish(c); // the multiply stage reports (and traps) before the addition runs
      const t = op64(FP.ADD, p0, p0h, p1, p1h), th = outHi;
      R[0] = imm & 1 ? t : 0; R[1] = imm & 1 ? th : 0;
      R[2] = imm & 2 ? t : 0; R[3] = imm & 2 ? th : 0;
      finish(c);
      commit(c, d);
      return;
    }
    default:
      throw c.unimplementedFault(`SSE_FP sub-op ${arg}`);
  }
}
