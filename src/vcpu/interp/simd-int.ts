// Integer SIMD execution: MMX, SSE2 integer, SSSE3, SSE4.1/SSE4.2 integer and string instructions
// (Intel SDM Vol. 1 ch. 9 "Programming with MMX Technology", ch. 11-12 SSE2..SSE4.2; Vol. 2
// per-instruction pages; Vol. 3A §12.2 / Table 12-2 MMX effects on the x87 state). Rows:
// spec/simd-int-rows.ts. Called from execSystem for every op it does not handle itself.
//
// MMX register file (SDM Vol. 1 §9.5): mm i is the mantissa (bits 63:0) of physical x87 register Ri.
// The FXSAVE image (c.fx) holds the x87 registers in stack order ST(0)..ST(7) at byte 32 + 16*slot,
// slot = (i - TOP) & 7. Every MMX instruction sets TOP = 0 (the image is rotated so slot i = Ri) and
// marks all tags valid (abridged FTW = 0xFF); EMMS sets TOP = 0 and all tags empty (FTW = 0). A write
// to mm i also sets bits 79:64 of Ri (the exponent and sign) to all ones. Pending x87 exceptions
// (#MF before an MMX instruction) are not modelled: the interpreter's x87 never leaves one pending.
//
// Faults: MMX-register forms (including the SSE/SSSE3 forms on mm registers) raise #UD when CR0.EM=1
// and #NM when CR0.TS=1, whatever CR4.OSFXSR (SDM Vol. 3 "Exception Conditions for SIMD/MMX
// Instructions with Memory Reference" / "Legacy SIMD/MMX Instructions without FP Exception / without
// Memory Reference" tables); forms touching an xmm register also need CR4.OSFXSR=1 (#UD; Vol. 3A
// Table 13-1). The x87 side effects are committed after the memory accesses, so a faulting MMX
// instruction leaves TOP and the tags alone. A 128-bit legacy-SSE memory operand
// must be 16-byte aligned (#GP(0)) except for PCMPESTRx/PCMPISTRx; PMOVSX/PMOVZX read 16-64 bits
// unaligned. CRC32 is a general-purpose instruction (no CR0/CR4 checks).
// Hot path: no allocation, no BigInt; lanes are handled through module-level typed-array views.

import { CpuFault } from '../../arch/x86/exceptions.ts';
import type { Cpu } from './cpu.ts';
import * as G from './decoder.generated.ts';
import { CR0_EM, CR0_TS, CR4_OSFXSR, RAX, RCX, RDX, RDI, ZF, CF, SF, OF } from './state.ts';

// scratch lanes: D = destination, S = source, R = result (32 bytes each; 16 used, PALIGNR uses C)
const BUF = new ArrayBuffer(160);
const D32 = new Int32Array(BUF, 0, 8), D8 = new Uint8Array(BUF, 0, 32), Di8 = new Int8Array(BUF, 0, 32);
const D16 = new Uint16Array(BUF, 0, 16), Di16 = new Int16Array(BUF, 0, 16);
const S32 = new Int32Array(BUF, 32, 8), S8 = new Uint8Array(BUF, 32, 32), Si8 = new Int8Array(BUF, 32, 32);
const S16 = new Uint16Array(BUF, 32, 16), Si16 = new Int16Array(BUF, 32, 16);
const R32 = new Int32Array(BUF, 64, 8), R8 = new Uint8Array(BUF, 64, 32), Ri8 = new Int8Array(BUF, 64, 32);
const R16 = new Uint16Array(BUF, 64, 16), Ri16 = new Int16Array(BUF, 64, 16);
/** PALIGNR composite source:destination (32 bytes) */
const C8 = new Uint8Array(BUF, 96, 32);
/** x87 register image rotation scratch (8 x 16 bytes) */
const ROT = new Uint8Array(128);

/** CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) byte table (SDM Vol. 2 "CRC32") */
const CRC_TABLE = new Int32Array(256);
for (let i = 0; i < 256; i++) {
  let c = i;
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
  CRC_TABLE[i] = c;
}

function ud(why: string): CpuFault {
  return new CpuFault(6, -1, 0, 0, why);
}
function gp(why: string): CpuFault {
  return new CpuFault(13, 0, 0, 0, why);
}

/** SSE form: #UD if CR0.EM or !CR4.OSFXSR, #NM if CR0.TS (SDM Vol. 3A Table 13-1) */
function sseCheck(c: Cpu): void {
  if (c.cr0 & CR0_EM || !(c.cr4 & CR4_OSFXSR)) throw ud('SSE with CR0.EM=1 or CR4.OSFXSR=0');
  if (c.cr0 & CR0_TS) throw new CpuFault(7, -1, 0, 0, 'SSE with CR0.TS');
}

/** MMX form: #UD if CR0.EM, #NM if CR0.TS (SDM Vol. 3A Table 12-1, Vol. 3 Tables 22-7..22-9) */
function mmxCheck(c: Cpu): void {
  if (c.cr0 & CR0_EM) throw ud('MMX with CR0.EM=1');
  if (c.cr0 & CR0_TS) throw new CpuFault(7, -1, 0, 0, 'MMX with CR0.TS');
}

/** the x87 side effects of an MMX instruction: TOP = 0 and all tags valid (SDM Vol. 3A Table 12-2).
 *  Done after the instruction's memory accesses, so a faulting instruction leaves the x87 state alone. */
function mmxCommit(c: Cpu): void {
  mmxTop0(c);
  c.fx[4] = 0xff;
}

/** fx32 index of mm i's low word under the current TOP (before mmxCommit) */
function mmAt(c: Cpu, i: number): number {
  return 8 + 4 * ((i - ((c.fx[3]! >> 3) & 7)) & 7);
}

/** TOP := 0, rotating the stack-ordered register image so slot i holds physical register Ri */
function mmxTop0(c: Cpu): void {
  const fx = c.fx;
  const top = (fx[3]! >> 3) & 7;
  if (top === 0) return;
  ROT.set(fx.subarray(32, 160));
  // physical Ri was at slot (i - top) & 7
  for (let i = 0; i < 8; i++) fx.set(ROT.subarray(16 * ((i - top) & 7), 16 * ((i - top) & 7) + 16), 32 + 16 * i);
  fx[3] = fx[3]! & ~0x38;
}

/** write mm i (after mmxCommit): mantissa = lo:hi, exponent/sign bits 79:64 = all ones */
function setMm(c: Cpu, i: number, lo: number, hi: number): void {
  const f = c.fx32, x = 8 + 4 * i;
  f[x] = lo; f[x + 1] = hi; f[x + 2] = f[x + 2]! | 0xffff;
}

/** 128-bit memory read into S32 (aligned = legacy-SSE 16-byte rule) */
function readM128(c: Cpu, aligned: boolean): void {
  c.calcEa();
  const lo = c.eaLo, hi = c.eaHi;
  if (aligned && lo & 15) throw gp('misaligned 16-byte SSE memory operand');
  S32[0] = c.rd(c.d.seg, lo, hi, 8); S32[1] = c.vh;
  const lo2 = (lo + 8) | 0;
  const hi2 = c.d.asz === 8 && lo2 >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
  S32[2] = c.rd(c.d.seg, c.d.asz === 2 ? lo2 & 0xffff : lo2, hi2, 8); S32[3] = c.vh;
}

/** source operand (ModRM.rm) into S32: mm or xmm register, or `bytes` of memory (rest zero) */
function loadSrc(c: Cpu, mm: boolean, bytes: number): void {
  const d = c.d, f = c.fx32;
  if (d.mod === 3) {
    const x = mm ? 8 + 4 * (d.rm & 7) : 40 + 4 * d.rm;
    S32[0] = f[x]!; S32[1] = f[x + 1]!;
    if (mm) { S32[2] = 0; S32[3] = 0; } else { S32[2] = f[x + 2]!; S32[3] = f[x + 3]!; }
    return;
  }
  if (bytes === 16) { readM128(c, true); return; }
  c.calcEa();
  S32[1] = 0; S32[2] = 0; S32[3] = 0;
  if (bytes === 8) { S32[0] = c.rd(d.seg, c.eaLo, c.eaHi, 8); S32[1] = c.vh; }
  else S32[0] = c.rd(d.seg, c.eaLo, c.eaHi, bytes);
}

function sat8s(v: number): number { return v > 127 ? 127 : v < -128 ? -128 : v; }
function sat8u(v: number): number { return v > 255 ? 255 : v < 0 ? 0 : v; }
function sat16s(v: number): number { return v > 32767 ? 32767 : v < -32768 ? -32768 : v; }
function sat16u(v: number): number { return v > 65535 ? 65535 : v < 0 ? 0 : v; }

/** unsigned 32x32 -> 64 into R32[i], R32[i+1]; signed when `signed` */
function mul32x32(a: number, b: number, signed: boolean, i: number): void {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  let hi = ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536);
  if (signed) hi = hi - (a < 0 ? b >>> 0 : 0) - (b < 0 ? a >>> 0 : 0);
  R32[i] = ((mid & 0xffff) << 16) | (ll & 0xffff);
  R32[i + 1] = hi | 0;
}

/** shift lanes of D32 (n bytes) by `cnt` (0..big) into R */
function shift(op: number, n: number, cnt: number): void {
  const nw = n >> 1, nd = n >> 2;
  switch (op) {
    case 0x60: for (let i = 0; i < nw; i++) R16[i] = cnt > 15 ? 0 : D16[i]! >>> cnt; return; // PSRLW
    case 0x61: for (let i = 0; i < nd; i++) R32[i] = cnt > 31 ? 0 : D32[i]! >>> cnt; return; // PSRLD
    case 0x63: for (let i = 0; i < nw; i++) Ri16[i] = Di16[i]! >> (cnt > 15 ? 15 : cnt); return; // PSRAW
    case 0x64: for (let i = 0; i < nd; i++) R32[i] = D32[i]! >> (cnt > 31 ? 31 : cnt); return; // PSRAD
    case 0x65: for (let i = 0; i < nw; i++) R16[i] = cnt > 15 ? 0 : D16[i]! << cnt; return; // PSLLW
    case 0x66: for (let i = 0; i < nd; i++) R32[i] = cnt > 31 ? 0 : D32[i]! << cnt; return; // PSLLD
    case 0x62: case 0x67: // PSRLQ, PSLLQ
      for (let q = 0; q < nd; q += 2) {
        const lo = D32[q]!, hi = D32[q + 1]!;
        let rl: number, rh: number;
        if (cnt > 63) { rl = 0; rh = 0; }
        else if (cnt === 0) { rl = lo; rh = hi; }
        else if (op === 0x62) {
          if (cnt < 32) { rl = (lo >>> cnt) | (hi << (32 - cnt)); rh = hi >>> cnt; } else { rl = hi >>> (cnt - 32); rh = 0; }
        } else if (cnt < 32) { rh = (hi << cnt) | (lo >>> (32 - cnt)); rl = lo << cnt; } else { rh = lo << (cnt - 32); rl = 0; }
        R32[q] = rl; R32[q + 1] = rh;
      }
      return;
    case 0x68: for (let i = 0; i < 16; i++) R8[i] = i + cnt < 16 ? D8[i + cnt]! : 0; return; // PSRLDQ
    case 0x69: for (let i = 0; i < 16; i++) R8[i] = i >= cnt ? D8[i - cnt]! : 0; return; // PSLLDQ
  }
}

/** R = op(D, S) over n bytes (8 = mm, 16 = xmm); imm = imm8 where the form has one */
function compute(op: number, n: number, imm: number): void {
  const nw = n >> 1, nd = n >> 2;
  switch (op >> 4) {
    case 0x0: {
      if (op < 8) { // PUNPCKL*/PUNPCKH*: interleave the low/high halves, element size e
        const e = 1 << (op & 3), base = op & 4 ? n >> 1 : 0, cnt = (n >> 1) / e;
        for (let i = 0; i < cnt; i++) {
          for (let b = 0; b < e; b++) {
            R8[2 * i * e + b] = D8[base + i * e + b]!;
            R8[(2 * i + 1) * e + b] = S8[base + i * e + b]!;
          }
        }
        return;
      }
      switch (op) {
        case 0x08: for (let i = 0; i < nw; i++) { Ri8[i] = sat8s(Di16[i]!); Ri8[nw + i] = sat8s(Si16[i]!); } return;
        case 0x09: for (let i = 0; i < nd; i++) { Ri16[i] = sat16s(D32[i]!); Ri16[nd + i] = sat16s(S32[i]!); } return;
        case 0x0a: for (let i = 0; i < nw; i++) { R8[i] = sat8u(Di16[i]!); R8[nw + i] = sat8u(Si16[i]!); } return;
        case 0x0b: for (let i = 0; i < nd; i++) { R16[i] = sat16u(D32[i]!); R16[nd + i] = sat16u(S32[i]!); } return;
      }
      break;
    }
    case 0x1:
      switch (op) {
        case 0x10: for (let i = 0; i < n; i++) R8[i] = D8[i] === S8[i] ? 0xff : 0; return;
        case 0x11: for (let i = 0; i < nw; i++) R16[i] = D16[i] === S16[i] ? 0xffff : 0; return;
        case 0x12: for (let i = 0; i < nd; i++) R32[i] = D32[i] === S32[i] ? -1 : 0; return;
        case 0x13: for (let i = 0; i < nd; i += 2) R32[i] = R32[i + 1] = D32[i] === S32[i] && D32[i + 1] === S32[i + 1] ? -1 : 0; return;
        case 0x14: for (let i = 0; i < n; i++) R8[i] = Di8[i]! > Si8[i]! ? 0xff : 0; return;
        case 0x15: for (let i = 0; i < nw; i++) R16[i] = Di16[i]! > Si16[i]! ? 0xffff : 0; return;
        case 0x16: for (let i = 0; i < nd; i++) R32[i] = D32[i]! > S32[i]! ? -1 : 0; return;
        case 0x17: for (let i = 0; i < nd; i += 2) {
          const gt = D32[i + 1]! > S32[i + 1]! || (D32[i + 1] === S32[i + 1] && D32[i]! >>> 0 > S32[i]! >>> 0);
          R32[i] = R32[i + 1] = gt ? -1 : 0;
        }
          return;
        case 0x18: for (let i = 0; i < nd; i++) R32[i] = D32[i]! & S32[i]!; return;
        case 0x19: for (let i = 0; i < nd; i++) R32[i] = ~D32[i]! & S32[i]!; return;
        case 0x1a: for (let i = 0; i < nd; i++) R32[i] = D32[i]! | S32[i]!; return;
        case 0x1b: for (let i = 0; i < nd; i++) R32[i] = D32[i]! ^ S32[i]!; return;
      }
      break;
    case 0x2:
      switch (op) {
        case 0x20: for (let i = 0; i < n; i++) R8[i] = D8[i]! + S8[i]!; return;
        case 0x21: for (let i = 0; i < nw; i++) R16[i] = D16[i]! + S16[i]!; return;
        case 0x22: for (let i = 0; i < nd; i++) R32[i] = (D32[i]! + S32[i]!) | 0; return;
        case 0x23: for (let i = 0; i < nd; i += 2) {
          const lo = (D32[i]! + S32[i]!) | 0;
          R32[i + 1] = (D32[i + 1]! + S32[i + 1]! + (lo >>> 0 < D32[i]! >>> 0 ? 1 : 0)) | 0;
          R32[i] = lo;
        }
          return;
        case 0x24: for (let i = 0; i < n; i++) R8[i] = D8[i]! - S8[i]!; return;
        case 0x25: for (let i = 0; i < nw; i++) R16[i] = D16[i]! - S16[i]!; return;
        case 0x26: for (let i = 0; i < nd; i++) R32[i] = (D32[i]! - S32[i]!) | 0; return;
        case 0x27: for (let i = 0; i < nd; i += 2) {
          R32[i + 1] = (D32[i + 1]! - S32[i + 1]! - (D32[i]! >>> 0 < S32[i]! >>> 0 ? 1 : 0)) | 0;
          R32[i] = (D32[i]! - S32[i]!) | 0;
        }
          return;
        case 0x28: for (let i = 0; i < n; i++) Ri8[i] = sat8s(Di8[i]! + Si8[i]!); return;
        case 0x29: for (let i = 0; i < nw; i++) Ri16[i] = sat16s(Di16[i]! + Si16[i]!); return;
        case 0x2a: for (let i = 0; i < n; i++) R8[i] = sat8u(D8[i]! + S8[i]!); return;
        case 0x2b: for (let i = 0; i < nw; i++) R16[i] = sat16u(D16[i]! + S16[i]!); return;
        case 0x2c: for (let i = 0; i < n; i++) Ri8[i] = sat8s(Di8[i]! - Si8[i]!); return;
        case 0x2d: for (let i = 0; i < nw; i++) Ri16[i] = sat16s(Di16[i]! - Si16[i]!); return;
        case 0x2e: for (let i = 0; i < n; i++) R8[i] = sat8u(D8[i]! - S8[i]!); return;
        case 0x2f: for (let i = 0; i < nw; i++) R16[i] = sat16u(D16[i]! - S16[i]!); return;
      }
      break;
    case 0x4:
      switch (op) {
        case 0x40: for (let i = 0; i < nw; i++) R16[i] = Math.imul(Di16[i]!, Si16[i]!); return;
        case 0x41: for (let i = 0; i < nw; i++) R16[i] = (Di16[i]! * Si16[i]!) >> 16; return;
        case 0x42: for (let i = 0; i < nw; i++) R16[i] = (D16[i]! * S16[i]!) >>> 16; return;
        case 0x43: for (let i = 0; i < nd; i += 2) mul32x32(D32[i]!, S32[i]!, false, i); return;
        case 0x44: for (let i = 0; i < nd; i++) R32[i] = (Di16[2 * i]! * Si16[2 * i]! + Di16[2 * i + 1]! * Si16[2 * i + 1]!) | 0; return;
        case 0x45: for (let i = 0; i < nd; i += 2) mul32x32(D32[i]!, S32[i]!, true, i); return;
        case 0x46: for (let i = 0; i < nd; i++) R32[i] = Math.imul(D32[i]!, S32[i]!); return;
        case 0x47: for (let i = 0; i < nw; i++) R16[i] = (((Di16[i]! * Si16[i]!) >> 14) + 1) >> 1; return;
        case 0x48: for (let i = 0; i < nw; i++) Ri16[i] = sat16s(D8[2 * i]! * Si8[2 * i]! + D8[2 * i + 1]! * Si8[2 * i + 1]!); return;
      }
      break;
    case 0x5:
      switch (op) {
        case 0x50: for (let i = 0; i < n; i++) R8[i] = (D8[i]! + S8[i]! + 1) >> 1; return;
        case 0x51: for (let i = 0; i < nw; i++) R16[i] = (D16[i]! + S16[i]! + 1) >> 1; return;
        case 0x52: for (let i = 0; i < n; i++) R8[i] = Math.min(D8[i]!, S8[i]!); return;
        case 0x53: for (let i = 0; i < n; i++) R8[i] = Math.max(D8[i]!, S8[i]!); return;
        case 0x54: for (let i = 0; i < nw; i++) Ri16[i] = Math.min(Di16[i]!, Si16[i]!); return;
        case 0x55: for (let i = 0; i < nw; i++) Ri16[i] = Math.max(Di16[i]!, Si16[i]!); return;
        case 0x56: for (let i = 0; i < n; i++) Ri8[i] = Math.min(Di8[i]!, Si8[i]!); return;
        case 0x57: for (let i = 0; i < n; i++) Ri8[i] = Math.max(Di8[i]!, Si8[i]!); return;
        case 0x58: for (let i = 0; i < nd; i++) R32[i] = Math.min(D32[i]!, S32[i]!); return;
        case 0x59: for (let i = 0; i < nd; i++) R32[i] = Math.max(D32[i]!, S32[i]!); return;
        case 0x5a: for (let i = 0; i < nw; i++) R16[i] = Math.min(D16[i]!, S16[i]!); return;
        case 0x5b: for (let i = 0; i < nw; i++) R16[i] = Math.max(D16[i]!, S16[i]!); return;
        case 0x5c: for (let i = 0; i < nd; i++) R32[i] = D32[i]! >>> 0 < S32[i]! >>> 0 ? D32[i]! : S32[i]!; return;
        case 0x5d: for (let i = 0; i < nd; i++) R32[i] = D32[i]! >>> 0 > S32[i]! >>> 0 ? D32[i]! : S32[i]!; return;
        case 0x5e: for (let q = 0; q < n; q += 8) {
          let s = 0;
          for (let i = q; i < q + 8; i++) s += Math.abs(D8[i]! - S8[i]!);
          R32[q >> 2] = s; R32[(q >> 2) + 1] = 0;
        }
          return;
      }
      break;
    case 0x6: {
      // shift by the 64-bit count in the source operand's low quadword
      const big = S32[1] !== 0 || S32[0]! >>> 0 > 255;
      shift(op, n, big ? 255 : S32[0]!);
      return;
    }
    case 0x7:
      switch (op) {
        case 0x70: for (let i = 0; i < 4; i++) R16[i] = S16[(imm >> (2 * i)) & 3]!; return;
        case 0x71: for (let i = 0; i < 4; i++) R32[i] = S32[(imm >> (2 * i)) & 3]!; return;
        case 0x72: R32[0] = S32[0]!; R32[1] = S32[1]!; for (let i = 0; i < 4; i++) R16[4 + i] = S16[4 + ((imm >> (2 * i)) & 3)]!; return;
        case 0x73: for (let i = 0; i < 4; i++) R16[i] = S16[(imm >> (2 * i)) & 3]!; R32[2] = S32[2]!; R32[3] = S32[3]!; return;
        case 0x74: for (let i = 0; i < n; i++) R8[i] = S8[i]! & 0x80 ? 0 : D8[S8[i]! & (n - 1)]!; return;
        case 0x75: // PALIGNR: (dest:src) >> (imm8 * 8), low n bytes
          for (let i = 0; i < n; i++) { C8[i] = S8[i]!; C8[n + i] = D8[i]!; }
          for (let i = 0; i < n; i++) R8[i] = i + imm < 2 * n ? C8[i + imm]! : 0;
          return;
        case 0x76: for (let i = 0; i < 8; i++) R16[i] = (imm >> i) & 1 ? S16[i]! : D16[i]!; return;
        case 0x77: { // MPSADBW
          const o1 = imm & 4, o2 = (imm & 3) * 4;
          for (let i = 0; i < 8; i++) {
            let s = 0;
            for (let j = 0; j < 4; j++) s += Math.abs(D8[o1 + i + j]! - S8[o2 + j]!);
            R16[i] = s;
          }
          return;
        }
      }
      break;
    case 0x8:
      switch (op) {
        case 0x80: case 0x82: case 0x83: case 0x85: { // PHADDW PHADDSW PHSUBW PHSUBSW
          const h = nw >> 1;
          for (let i = 0; i < h; i++) {
            const a = op === 0x80 || op === 0x82 ? Di16[2 * i]! + Di16[2 * i + 1]! : Di16[2 * i]! - Di16[2 * i + 1]!;
            const b = op === 0x80 || op === 0x82 ? Si16[2 * i]! + Si16[2 * i + 1]! : Si16[2 * i]! - Si16[2 * i + 1]!;
            Ri16[i] = op === 0x82 || op === 0x85 ? sat16s(a) : a;
            Ri16[h + i] = op === 0x82 || op === 0x85 ? sat16s(b) : b;
          }
          return;
        }
        case 0x81: case 0x84: { // PHADDD PHSUBD
          const h = nd >> 1;
          for (let i = 0; i < h; i++) {
            R32[i] = op === 0x81 ? (D32[2 * i]! + D32[2 * i + 1]!) | 0 : (D32[2 * i]! - D32[2 * i + 1]!) | 0;
            R32[h + i] = op === 0x81 ? (S32[2 * i]! + S32[2 * i + 1]!) | 0 : (S32[2 * i]! - S32[2 * i + 1]!) | 0;
          }
          return;
        }
        case 0x86: for (let i = 0; i < n; i++) Ri8[i] = Si8[i]! < 0 ? -Di8[i]! : Si8[i] === 0 ? 0 : Di8[i]!; return;
        case 0x87: for (let i = 0; i < nw; i++) Ri16[i] = Si16[i]! < 0 ? -Di16[i]! : Si16[i] === 0 ? 0 : Di16[i]!; return;
        case 0x88: for (let i = 0; i < nd; i++) R32[i] = S32[i]! < 0 ? -D32[i]! | 0 : S32[i] === 0 ? 0 : D32[i]!; return;
        case 0x89: for (let i = 0; i < n; i++) Ri8[i] = Math.abs(Si8[i]!); return;
        case 0x8a: for (let i = 0; i < nw; i++) Ri16[i] = Math.abs(Si16[i]!); return;
        case 0x8b: for (let i = 0; i < nd; i++) R32[i] = Math.abs(S32[i]!) | 0; return;
        case 0x8c: { // PHMINPOSUW: lowest index wins ties
          let m = S16[0]!, at = 0;
          for (let i = 1; i < 8; i++) if (S16[i]! < m) { m = S16[i]!; at = i; }
          R32[0] = m | (at << 16); R32[1] = 0; R32[2] = 0; R32[3] = 0;
          return;
        }
      }
      break;
    case 0x9: { // PMOVSX/PMOVZX: element sizes from the low bits (BW BD BQ WD WQ DQ)
      const z = (op & 8) !== 0;
      switch (op & 7) {
        case 0: for (let i = 0; i < 8; i++) R16[i] = z ? S8[i]! : Si8[i]!; return;
        case 1: for (let i = 0; i < 4; i++) R32[i] = z ? S8[i]! : Si8[i]!; return;
        case 2: for (let i = 0; i < 2; i++) { R32[2 * i] = z ? S8[i]! : Si8[i]!; R32[2 * i + 1] = z ? 0 : Si8[i]! >> 31; } return;
        case 3: for (let i = 0; i < 4; i++) R32[i] = z ? S16[i]! : Si16[i]!; return;
        case 4: for (let i = 0; i < 2; i++) { R32[2 * i] = z ? S16[i]! : Si16[i]!; R32[2 * i + 1] = z ? 0 : Si16[i]! >> 31; } return;
        default: for (let i = 0; i < 2; i++) { R32[2 * i] = S32[i]!; R32[2 * i + 1] = z ? 0 : S32[i]! >> 31; } return;
      }
    }
  }
  throw new CpuFault(-1, -1, 0, 0, `simd-int: no operation 0x${op.toString(16)}`);
}

/** memory source size of a PINT form: MMX low unpacks m32, PMOVSX/ZX m16/m32/m64, else the width */
function srcBytes(op: number, mm: boolean): number {
  if (mm) return op <= 2 ? 4 : 8;
  if (op >= 0x90) {
    const k = op & 7;
    return k === 2 ? 2 : k === 1 || k === 4 ? 4 : 8;
  }
  return 16;
}

function pint(c: Cpu): void {
  const d = c.d, op = d.arg, f = c.fx32;
  const mm = d.k1 === G.K_P;
  if (mm) mmxCheck(c); else sseCheck(c);
  if (d.mod !== 3) loadSrc(c, mm, srcBytes(op, mm));
  if (mm) mmxCommit(c);
  if (d.mod === 3) loadSrc(c, mm, 16);
  const x = mm ? 8 + 4 * (d.reg & 7) : 40 + 4 * d.reg;
  D32[0] = f[x]!; D32[1] = f[x + 1]!;
  if (mm) { D32[2] = 0; D32[3] = 0; } else { D32[2] = f[x + 2]!; D32[3] = f[x + 3]!; }
  compute(op, mm ? 8 : 16, d.imm & 0xff);
  if (mm) setMm(c, d.reg & 7, R32[0]!, R32[1]!);
  else { f[x] = R32[0]!; f[x + 1] = R32[1]!; f[x + 2] = R32[2]!; f[x + 3] = R32[3]!; }
}

function pshifti(c: Cpu): void {
  const d = c.d, f = c.fx32;
  const mm = d.k1 === G.K_N;
  if (mm) { mmxCheck(c); mmxCommit(c); } else sseCheck(c);
  const x = mm ? 8 + 4 * (d.rm & 7) : 40 + 4 * d.rm;
  D32[0] = f[x]!; D32[1] = f[x + 1]!;
  if (!mm) { D32[2] = f[x + 2]!; D32[3] = f[x + 3]!; }
  shift(d.arg, mm ? 8 : 16, d.imm & 0xff);
  if (mm) setMm(c, d.rm & 7, R32[0]!, R32[1]!);
  else { f[x] = R32[0]!; f[x + 1] = R32[1]!; f[x + 2] = R32[2]!; f[x + 3] = R32[3]!; }
}

/** MASKMOVQ/MASKMOVDQU: store the bytes of D selected by the sign bits of S at DS:rDI (or override) */
function maskMov(c: Cpu, n: number): void {
  const d = c.d, r = c.r;
  let lo = r[RDI * 2]!;
  const hi = d.asz === 8 ? r[RDI * 2 + 1]! : 0;
  if (d.asz === 2) lo &= 0xffff;
  for (let i = 0; i < n; i++) {
    if (S8[i]! & 0x80) {
      const a = (lo + i) | 0;
      const ah = d.asz === 8 && a >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
      c.wr(d.seg, d.asz === 2 ? a & 0xffff : a, ah, 1, D8[i]!, 0);
    }
  }
}

function pmisc(c: Cpu): void {
  const d = c.d, f = c.fx32;
  switch (d.arg) {
    case 0: { // MOVD/MOVQ mm, r/m32/64
      mmxCheck(c);
      const size = d.rexW ? 8 : 4;
      const v = d.mod === 3 ? c.getReg(d.rm, size) : (c.calcEa(), c.rd(d.seg, c.eaLo, c.eaHi, size));
      const vh = size === 8 ? c.vh : 0;
      mmxCommit(c);
      setMm(c, d.reg & 7, v, vh);
      return;
    }
    case 1: { // MOVD/MOVQ r/m32/64, mm
      mmxCheck(c);
      const size = d.rexW ? 8 : 4, x = mmAt(c, d.reg & 7);
      if (d.mod === 3) c.setReg(d.rm, size, f[x]!, f[x + 1]!);
      else { c.calcEa(); c.wr(d.seg, c.eaLo, c.eaHi, size, f[x]!, f[x + 1]!); }
      mmxCommit(c);
      return;
    }
    case 2: // MOVQ mm, mm/m64
      mmxCheck(c);
      if (d.mod !== 3) loadSrc(c, true, 8);
      mmxCommit(c);
      if (d.mod === 3) loadSrc(c, true, 8);
      setMm(c, d.reg & 7, S32[0]!, S32[1]!);
      return;
    case 3: case 4: { // MOVQ mm/m64, mm; MOVNTQ m64, mm
      mmxCheck(c);
      const x = mmAt(c, d.reg & 7), lo = f[x]!, hi = f[x + 1]!;
      if (d.mod !== 3) { c.calcEa(); c.wr(d.seg, c.eaLo, c.eaHi, 8, lo, hi); }
      mmxCommit(c);
      if (d.mod === 3) setMm(c, d.rm & 7, lo, hi);
      return;
    }
    case 5: { // MOVQ2DQ xmm, mm
      sseCheck(c); mmxCommit(c);
      const x = 40 + 4 * d.reg, m = 8 + 4 * (d.rm & 7);
      f[x] = f[m]!; f[x + 1] = f[m + 1]!; f[x + 2] = 0; f[x + 3] = 0;
      return;
    }
    case 6: { // MOVDQ2Q mm, xmm
      sseCheck(c); mmxCommit(c);
      const x = 40 + 4 * d.rm;
      setMm(c, d.reg & 7, f[x]!, f[x + 1]!);
      return;
    }
    case 7: // EMMS: all tags empty (and TOP = 0, as for every MMX instruction)
      mmxCheck(c);
      mmxTop0(c);
      c.fx[4] = 0;
      return;
    case 8: case 9: { // MASKMOVQ mm, mm; MASKMOVDQU xmm, xmm
      const mm = d.arg === 8;
      if (mm) mmxCheck(c); else sseCheck(c);
      const x = mm ? mmAt(c, d.reg & 7) : 40 + 4 * d.reg, y = mm ? mmAt(c, d.rm & 7) : 40 + 4 * d.rm;
      for (let i = 0; i < 4; i++) { D32[i] = f[x + i]!; S32[i] = f[y + i]!; }
      maskMov(c, mm ? 8 : 16);
      if (mm) mmxCommit(c);
      return;
    }
    case 10: case 11: { // PMOVMSKB r32, mm/xmm
      const mm = d.arg === 10;
      if (mm) { mmxCheck(c); mmxCommit(c); } else sseCheck(c);
      loadSrc(c, mm, 16);
      let m = 0;
      for (let i = mm ? 7 : 15; i >= 0; i--) m = (m << 1) | (S8[i]! >> 7);
      c.setReg(d.reg, 4, m, 0);
      return;
    }
    case 12: case 13: { // PINSRW mm/xmm, r32/m16, imm8
      const mm = d.arg === 12;
      if (mm) mmxCheck(c); else sseCheck(c);
      const v = d.mod === 3 ? c.getReg(d.rm, 4) : (c.calcEa(), c.rd(d.seg, c.eaLo, c.eaHi, 2));
      if (mm) mmxCommit(c);
      const x = mm ? 8 + 4 * (d.reg & 7) : 40 + 4 * d.reg;
      const k = d.imm & (mm ? 3 : 7), w = x + (k >> 1);
      const nv = k & 1 ? (f[w]! & 0xffff) | (v << 16) : (f[w]! & ~0xffff) | (v & 0xffff);
      if (mm) { const lo = w === x ? nv : f[x]!, hi = w === x ? f[x + 1]! : nv; setMm(c, d.reg & 7, lo, hi); }
      else f[w] = nv;
      return;
    }
    case 14: case 15: { // PEXTRW r32, mm/xmm, imm8
      const mm = d.arg === 14;
      if (mm) { mmxCheck(c); mmxCommit(c); } else sseCheck(c);
      loadSrc(c, mm, 16);
      c.setReg(d.reg, 4, S16[d.imm & (mm ? 3 : 7)]!, 0);
      return;
    }
    case 16: case 17: case 18: { // PEXTRB/PEXTRW/PEXTRD/PEXTRQ r/m, xmm, imm8
      sseCheck(c);
      const x = 40 + 4 * d.reg;
      S32[0] = f[x]!; S32[1] = f[x + 1]!; S32[2] = f[x + 2]!; S32[3] = f[x + 3]!;
      let size: number, v: number, vh = 0;
      if (d.arg === 16) { size = 1; v = S8[d.imm & 15]!; }
      else if (d.arg === 17) { size = 2; v = S16[d.imm & 7]!; }
      else if (d.rexW) { size = 8; v = S32[(d.imm & 1) * 2]!; vh = S32[(d.imm & 1) * 2 + 1]!; }
      else { size = 4; v = S32[d.imm & 3]!; }
      if (d.mod === 3) c.setReg(d.rm, size === 8 ? 8 : 4, v, vh);
      else { c.calcEa(); c.wr(d.seg, c.eaLo, c.eaHi, size, v, vh); }
      return;
    }
    case 19: case 20: { // PINSRB xmm, r32/m8, imm8; PINSRD/PINSRQ xmm, r/m32/64, imm8
      sseCheck(c);
      const size = d.arg === 19 ? 1 : d.rexW ? 8 : 4;
      const v = d.mod === 3 ? c.getReg(d.rm, size === 8 ? 8 : 4) : (c.calcEa(), c.rd(d.seg, c.eaLo, c.eaHi, size));
      const vh = c.vh;
      const x = 40 + 4 * d.reg;
      S32[0] = f[x]!; S32[1] = f[x + 1]!; S32[2] = f[x + 2]!; S32[3] = f[x + 3]!;
      if (size === 1) S8[d.imm & 15] = v;
      else if (size === 4) S32[d.imm & 3] = v;
      else { S32[(d.imm & 1) * 2] = v; S32[(d.imm & 1) * 2 + 1] = vh; }
      f[x] = S32[0]!; f[x + 1] = S32[1]!; f[x + 2] = S32[2]!; f[x + 3] = S32[3]!;
      return;
    }
    case 21: { // PTEST: ZF = (dest AND src) = 0, CF = (src AND NOT dest) = 0, others 0
      sseCheck(c);
      loadSrc(c, false, 16);
      const x = 40 + 4 * d.reg;
      let and = 0, andn = 0;
      for (let i = 0; i < 4; i++) { and |= f[x + i]! & S32[i]!; andn |= ~f[x + i]! & S32[i]!; }
      c.setArith((and === 0 ? ZF : 0) | (andn === 0 ? CF : 0));
      return;
    }
    case 22: { // MOVNTDQA xmm, m128 (aligned)
      sseCheck(c);
      readM128(c, true);
      const x = 40 + 4 * d.reg;
      f[x] = S32[0]!; f[x + 1] = S32[1]!; f[x + 2] = S32[2]!; f[x + 3] = S32[3]!;
      return;
    }
  }
  throw c.unimplementedFault(`PMISC ${d.arg}`);
}

/** CRC32 r32/r64, r/m8/16/32/64: CRC-32C update of the destination's low 32 bits, zero-extended */
function crc32(c: Cpu): void {
  const d = c.d;
  const size = d.osz;
  let v: number, vh = 0;
  if (d.mod === 3) { v = c.getReg(d.rm, size); vh = size === 8 ? c.vh : 0; }
  else { c.calcEa(); v = c.rd(d.seg, c.eaLo, c.eaHi, size); vh = size === 8 ? c.vh : 0; }
  let crc = c.r[d.reg * 2]!;
  const n = size > 4 ? 4 : size;
  for (let i = 0; i < n; i++) crc = CRC_TABLE[(crc ^ (v >>> (8 * i))) & 0xff]! ^ (crc >>> 8);
  if (size === 8) for (let i = 0; i < 4; i++) crc = CRC_TABLE[(crc ^ (vh >>> (8 * i))) & 0xff]! ^ (crc >>> 8);
  c.setReg(d.reg, 4, crc, 0);
}

/** element k of the PCMPxSTRx operand in D (1) or S (2), per the imm8[1:0] format */
function elem(src2: boolean, fmt: number, k: number): number {
  switch (fmt) {
    case 0: return src2 ? S8[k]! : D8[k]!;
    case 1: return src2 ? S16[k]! : D16[k]!;
    case 2: return src2 ? Si8[k]! : Di8[k]!;
    default: return src2 ? Si16[k]! : Di16[k]!;
  }
}

/** explicit length: |signed RAX/RDX (REX.W) or EAX/EDX|, saturated to n */
function explicitLen(c: Cpu, reg: number, n: number): number {
  let lo = c.r[reg * 2]!, hi = c.d.rexW ? c.r[reg * 2 + 1]! : lo >> 31;
  if (hi < 0) { lo = -lo | 0; hi = (~hi + (lo === 0 ? 1 : 0)) | 0; }
  if (hi !== 0 || lo < 0) return n;
  return lo < n ? lo : n;
}

/**
 * PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM (SDM Vol. 2 §4.1 "Imm8 control byte operation for
 * PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM"): arg bit 0 = index (ECX) vs mask (XMM0), bit 1 = implicit
 * (null-terminated) lengths. Flags: CF = IntRes2 != 0, ZF = src2 shorter than n, SF = src1 shorter
 * than n, OF = IntRes2[0], AF = PF = 0.
 */
function pcmpstr(c: Cpu): void {
  sseCheck(c);
  const d = c.d, f = c.fx32, imm = d.imm & 0xff;
  const x = 40 + 4 * d.reg;
  D32[0] = f[x]!; D32[1] = f[x + 1]!; D32[2] = f[x + 2]!; D32[3] = f[x + 3]!;
  if (d.mod === 3) { const y = 40 + 4 * d.rm; S32[0] = f[y]!; S32[1] = f[y + 1]!; S32[2] = f[y + 2]!; S32[3] = f[y + 3]!; }
  else readM128(c, false);
  const fmt = imm & 3, n = fmt & 1 ? 8 : 16;
  let la: number, lb: number;
  if (d.arg & 2) {
    la = n; lb = n;
    for (let k = 0; k < n; k++) if (elem(false, fmt, k) === 0) { la = k; break; }
    for (let k = 0; k < n; k++) if (elem(true, fmt, k) === 0) { lb = k; break; }
  } else {
    la = explicitLen(c, RAX, n);
    lb = explicitLen(c, RDX, n);
  }
  let res = 0;
  switch ((imm >> 2) & 3) {
    case 0: // equal any: b[j] is one of a[0..la)
      for (let j = 0; j < lb; j++) {
        const b = elem(true, fmt, j);
        for (let i = 0; i < la; i++) if (elem(false, fmt, i) === b) { res |= 1 << j; break; }
      }
      break;
    case 1: // ranges: a[2k] <= b[j] <= a[2k+1] for a valid pair
      for (let j = 0; j < lb; j++) {
        const b = elem(true, fmt, j);
        for (let i = 0; i + 1 < la; i += 2) if (elem(false, fmt, i) <= b && b <= elem(false, fmt, i + 1)) { res |= 1 << j; break; }
      }
      break;
    case 2: // equal each: both invalid -> true, one invalid -> false
      for (let j = 0; j < n; j++) {
        const va = j < la, vb = j < lb;
        if (va && vb ? elem(false, fmt, j) === elem(true, fmt, j) : !va && !vb) res |= 1 << j;
      }
      break;
    default: // equal ordered: a (needle) occurs at b[j..]; a ending -> true, b ending first -> false
      for (let j = 0; j < n; j++) {
        let ok = true;
        for (let k = 0; k < la && j + k < n; k++) {
          if (j + k >= lb || elem(false, fmt, k) !== elem(true, fmt, j + k)) { ok = false; break; }
        }
        if (ok) res |= 1 << j;
      }
  }
  const all = n === 16 ? 0xffff : 0xff;
  switch ((imm >> 4) & 3) {
    case 1: res = ~res & all; break;
    case 3: res = res ^ ((1 << lb) - 1); break;
  }
  if (d.arg & 1) { // index into ECX
    let idx = n;
    if (res !== 0) idx = imm & 0x40 ? 31 - Math.clz32(res) : 31 - Math.clz32(res & -res);
    c.setReg(RCX, 4, idx, 0);
  } else { // mask into XMM0
    if (imm & 0x40) {
      for (let j = 0; j < n; j++) {
        const m = (res >> j) & 1 ? -1 : 0;
        if (n === 16) R8[j] = m; else R16[j] = m;
      }
      f[40] = R32[0]!; f[41] = R32[1]!; f[42] = R32[2]!; f[43] = R32[3]!;
    } else { f[40] = res; f[41] = 0; f[42] = 0; f[43] = 0; }
  }
  c.setArith((res !== 0 ? CF : 0) | (lb < n ? ZF : 0) | (la < n ? SF : 0) | (res & 1 ? OF : 0));
}

/** Execute `op` if it is an integer SIMD op; false when the op is not one of ours. */
export function execSimdInt(c: Cpu, op: number): boolean {
  switch (op) {
    case G.OP_PINT: pint(c); return true;
    case G.OP_PSHIFTI: pshifti(c); return true;
    case G.OP_PMISC: pmisc(c); return true;
    case G.OP_CRC32: crc32(c); return true;
    case G.OP_PCMPSTR: pcmpstr(c); return true;
    default: return false;
  }
}
