// The executor for the general-purpose instructions (Intel SDM Vol. 2 instruction pages; flags per
// SDM Vol. 1 Appendix A "EFLAGS Cross-Reference"). One dense switch over decoded op ids
// (DESIGN.md §4); rare and system instructions go out of line to system.ts.

import { CpuFault } from '../../arch/x86/exceptions.ts';
import * as G from './decoder.generated.ts';
import { Cpu, LF_NONE, LF_INC, LF_DEC, LF_SUB, LF_LOGIC, LF_IMUL64, EXIT_SIGNAL } from './cpu.ts';
import { execSystem, fastSystemCall, sseMov, sseMovd, sseLogic } from './system.ts';
import { execSimdInt } from './simd-int.ts';
import { execSimdFp } from './simd-fp.ts';
import { execX87 } from './x87.ts';
import {
  RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, RIP_LO, RIP_HI, CS, SS, DS, ES,
  CF, PF, ZF, SF, OF, DF, ARITH_FLAGS,
} from './state.ts';

const MASK = [0, 0xff, 0xffff, 0, -1, 0, 0, 0, -1];
const BITS = [0, 8, 16, 0, 32, 0, 0, 0, 64];

/** Execute the decoded instruction (RIP already points past it). */
export function execute(c: Cpu): void {
  const d = c.d;
  const osz = d.osz;
  switch (d.op) {
    case G.OP_ALU: {
      const a = c.ld(d.k1, osz), ah = c.vh;
      const b = c.ld(d.k2, osz), bh = c.vh;
      const r = c.alu(d.arg, osz, a, ah, b, bh);
      if (d.arg !== 7) c.st(d.k1, osz, r, c.vh);
      return;
    }
    case G.OP_MOV: {
      const v = c.ld(d.k2, osz);
      c.st(d.k1, osz, v, c.vh);
      return;
    }
    case G.OP_TEST: {
      const a = c.ld(d.k1, osz), ah = c.vh;
      const b = c.ld(d.k2, osz), bh = c.vh;
      c.alu(4, osz, a, ah, b, bh);
      return;
    }
    case G.OP_JCC:
      if (c.cond(d.arg)) relJump(c);
      return;
    case G.OP_LEA:
      c.calcEa();
      c.setReg(d.reg, osz, c.eaLo, c.eaHi);
      return;
    case G.OP_PUSH: {
      const v = c.ld(d.k1, osz);
      c.push(osz, v, c.vh);
      return;
    }
    case G.OP_POP: {
      const v = c.peek(osz, 0), vh = c.vh;
      if (d.k1 === G.K_E && d.mod !== 3) {
        // the address is computed with RSP already incremented (SDM Vol. 2 POP)
        const save = c.r[RSP * 2]!, saveH = c.r[RSP * 2 + 1]!;
        c.addSp(osz);
        try {
          c.st(d.k1, osz, v, vh);
        } catch (e) {
          c.r[RSP * 2] = save; c.r[RSP * 2 + 1] = saveH;
          throw e;
        }
        return;
      }
      c.addSp(osz);
      c.st(d.k1, osz, v, vh);
      return;
    }
    case G.OP_CALL: {
      let tl: number, th: number;
      if (d.k1 === G.K_J) {
        const n = (c.r[RIP_LO]! + d.imm) | 0;
        tl = n; th = c.code64 ? (c.r[RIP_HI]! + d.immHi + (n >>> 0 < c.r[RIP_LO]! >>> 0 ? 1 : 0)) | 0 : 0;
      } else { tl = c.ld(d.k1, osz); th = osz === 8 ? c.vh : 0; }
      checkTarget(c, tl, th, osz);
      c.push(osz, c.r[RIP_LO]!, c.r[RIP_HI]!);
      setRip(c, tl, th, osz);
      return;
    }
    case G.OP_JMP: {
      if (d.k1 === G.K_J) relJump(c);
      else {
        const tl = c.ld(d.k1, osz), th = osz === 8 ? c.vh : 0;
        checkTarget(c, tl, th, osz);
        setRip(c, tl, th, osz);
      }
      return;
    }
    case G.OP_RET: {
      const tl = c.peek(osz, 0), th = osz === 8 ? c.vh : 0;
      checkTarget(c, tl, th, osz);
      c.addSp(osz + (d.k1 === G.K_I ? d.imm & 0xffff : 0));
      setRip(c, tl, th, osz);
      return;
    }
    case G.OP_INC: case G.OP_DEC: {
      const a = c.ld(d.k1, osz), ah = c.vh;
      const cf = c.getCF();
      let r: number, rh = 0;
      if (d.op === G.OP_INC) {
        if (osz === 8) { r = (a + 1) | 0; rh = r === 0 ? (ah + 1) | 0 : ah; } else r = (a + 1) & MASK[osz]!;
      } else if (osz === 8) { r = (a - 1) | 0; rh = a === 0 ? (ah - 1) | 0 : ah; } else r = (a - 1) & MASK[osz]!;
      c.st(d.k1, osz, r, rh);
      c.lfOp = d.op === G.OP_INC ? LF_INC : LF_DEC; c.lfSize = osz;
      c.lfA = a; c.lfAh = ah; c.lfB = 1; c.lfBh = 0; c.lfR = r; c.lfRh = rh; c.lfC = cf;
      return;
    }
    case G.OP_CMOV: {
      const v = c.ld(d.k2, osz), vh = c.vh;
      if (c.cond(d.arg)) c.setReg(d.reg, osz, v, vh);
      else if (osz === 4) c.r[(d.reg << 1) + 1] = 0; // 32-bit CMOV zero-extends even when false
      return;
    }
    case G.OP_SETCC:
      c.st(d.k1, 1, c.cond(d.arg) ? 1 : 0, 0);
      return;
    case G.OP_MOVZX: {
      const v = c.ld(d.k2, d.arg);
      c.setReg(d.reg, osz, v, 0);
      return;
    }
    case G.OP_MOVSX: {
      const s = d.arg;
      let v = c.ld(d.k2, s);
      v = s === 1 ? (v << 24) >> 24 : (v << 16) >> 16;
      c.setReg(d.reg, osz, osz === 2 ? v & 0xffff : v, v >> 31);
      return;
    }
    case G.OP_MOVSXD: {
      // with 66h: MOVSXD r16, r/m16 reads 16 bits (SDM Vol. 2 "MOVSX/MOVSXD")
      const v = c.ld(d.k2, osz === 2 ? 2 : 4);
      c.setReg(d.reg, osz, osz === 2 ? v & 0xffff : v, v >> 31);
      return;
    }
    case G.OP_XCHG: {
      if (d.k1 === G.K_Z && d.zreg === 0) return; // 90 is NOP (no zero-extension in 64-bit mode)
      const a = c.ld(d.k1, osz), ah = c.vh;
      const b = c.ld(d.k2, osz), bh = c.vh;
      c.st(d.k1, osz, b, bh);
      c.st(d.k2, osz, a, ah);
      return;
    }
    case G.OP_NOP: case G.OP_FWAIT:
      if (d.op === G.OP_FWAIT) {
        // WAIT/FWAIT (SDM Vol. 2): #NM when CR0.MP and CR0.TS; a pending unmasked x87 exception
        // (FSW.ES) is #MF with CR0.NE = 1 (FERR#/IRQ 13 with NE = 0 is not modelled)
        if ((c.cr0 & 0xa) === 0xa) throw new CpuFault(7, -1);
        if (c.fx[2]! & 0x80) {
          if (c.cr0 & 0x20) throw new CpuFault(16, -1, 0, 0, 'FWAIT with a pending unmasked x87 exception (#MF)');
          throw c.unimplementedFault('FWAIT with a pending unmasked x87 exception and CR0.NE=0 (FERR#/IRQ 13)');
        }
      }
      return;
    case G.OP_SHIFT: {
      let n = c.ld(d.k2, 1) & (osz === 8 ? 63 : 31);
      const a = c.ld(d.k1, osz), ah = c.vh;
      if (n === 0) {
        if (osz === 4 && d.mod === 3) c.r[(d.rm << 1) + 1] = 0; // a 32-bit register destination is still written
        return;
      }
      const r = shift(c, d.arg, osz, a, ah, n);
      n = 0;
      c.st(d.k1, osz, r, c.vh);
      return;
    }
    case G.OP_NOT: {
      const a = c.ld(d.k1, osz), ah = c.vh;
      c.st(d.k1, osz, ~a & MASK[osz]!, ~ah);
      return;
    }
    case G.OP_NEG: {
      const a = c.ld(d.k1, osz), ah = c.vh;
      const r = c.alu(5, osz, 0, 0, a, ah);
      c.st(d.k1, osz, r, c.vh);
      return;
    }
    case G.OP_IMUL2: case G.OP_IMUL3: {
      const a = c.ld(d.op === G.OP_IMUL2 ? d.k1 : d.k2, osz), ah = c.vh;
      const b = d.op === G.OP_IMUL2 ? c.ld(d.k2, osz) : c.ld(d.k3, osz), bh = c.vh;
      const r = imulTrunc(c, osz, a, ah, b, bh);
      c.setReg(d.reg, osz, r, c.vh);
      return;
    }
    case G.OP_MUL: case G.OP_IMUL1:
      mulWide(c, c.ld(d.k1, osz), c.vh, d.op === G.OP_IMUL1);
      return;
    case G.OP_DIV: case G.OP_IDIV:
      divide(c, c.ld(d.k1, osz), c.vh, d.op === G.OP_IDIV);
      return;
    case G.OP_CBW: {
      const a = c.r[0]!;
      if (osz === 2) c.setReg(RAX, 2, (a << 24) >> 24, 0);
      else if (osz === 4) c.setReg(RAX, 4, (a << 16) >> 16, 0);
      else c.r[1] = a >> 31;
      return;
    }
    case G.OP_CWD: {
      const a = c.r[0]!;
      if (osz === 2) c.setReg(RDX, 2, (a << 16) >> 31, 0);
      else if (osz === 4) c.setReg(RDX, 4, a >> 31, 0);
      else { const s = c.r[1]! >> 31; c.setReg(RDX, 8, s, s); }
      return;
    }
    case G.OP_LOOP: {
      const asz = d.asz;
      let lo = c.r[RCX * 2]!, hi = c.r[RCX * 2 + 1]!;
      if (asz === 8) { if (lo === 0) hi = (hi - 1) | 0; lo = (lo - 1) | 0; c.r[2] = lo; c.r[3] = hi; }
      else if (asz === 4) { lo = (lo - 1) | 0; hi = 0; c.setReg(RCX, 4, lo, 0); c.r[3] = c.code64 ? 0 : c.r[3]!; }
      else { lo = (lo - 1) & 0xffff; hi = 0; c.setReg(RCX, 2, lo, 0); }
      const nz = (lo | (asz === 8 ? hi : 0)) !== 0;
      const z = c.getZF() !== 0;
      if (nz && (d.arg === 2 || (d.arg === 1 ? z : !z))) relJump(c);
      return;
    }
    case G.OP_JRCXZ: {
      const asz = d.asz;
      const v = asz === 8 ? c.r[2]! | c.r[3]! : asz === 4 ? c.r[2]! : c.r[2]! & 0xffff;
      if (v === 0) relJump(c);
      return;
    }
    case G.OP_PUSHF: case G.OP_POPF: case G.OP_CLI: case G.OP_STI: case G.OP_HLT:
      execSystem(c, d.op);
      return;
    case G.OP_CLC: c.setArith(c.getFlags() & ~CF); return;
    case G.OP_STC: c.setArith(c.getFlags() | CF); return;
    case G.OP_CMC: c.setArith(c.getFlags() ^ CF); return;
    case G.OP_CLD: c.fl &= ~DF; return;
    case G.OP_STD: c.fl |= DF; return;
    case G.OP_LAHF: c.setReg(4, 1, (c.getFlags() & 0xd5) | 2, 0); return;
    case G.OP_SAHF: c.setArith((c.getFlags() & ~0xd5) | (c.getReg(4, 1) & 0xd5)); return;
    case G.OP_MOVS: case G.OP_STOS: case G.OP_LODS: case G.OP_SCAS: case G.OP_CMPS:
      stringOp(c);
      return;
    case G.OP_ENTER: enter(c); return;
    case G.OP_LEAVE: {
      const ss = c.stackSize();
      const v = c.rd(SS, ss === 2 ? c.r[RBP * 2]! & 0xffff : c.r[RBP * 2]!, ss === 8 ? c.r[RBP * 2 + 1]! : 0, osz);
      const vh = c.vh;
      c.setReg(RSP, ss, c.r[RBP * 2]!, c.r[RBP * 2 + 1]!);
      c.addSp(osz);
      c.setReg(RBP, osz, v, vh);
      return;
    }
    case G.OP_BT: bitTest(c); return;
    case G.OP_BSF: case G.OP_BSR: case G.OP_TZCNT: case G.OP_LZCNT: case G.OP_POPCNT:
      bitScan(c);
      return;
    case G.OP_BSWAP: {
      const a = c.getReg(d.zreg, osz), ah = c.vh;
      if (osz === 8) c.setReg(d.zreg, 8, bswap32(ah), bswap32(a));
      else if (osz === 4) c.setReg(d.zreg, 4, bswap32(a), 0);
      else c.setReg(d.zreg, 2, 0, 0); // BSWAP r16 is undefined; hardware clears it
      return;
    }
    case G.OP_CMPXCHG: {
      const v = c.ld(d.k1, osz), vh = c.vh;
      const a = c.getReg(RAX, osz), ah = c.vh;
      c.alu(7, osz, a, ah, v, vh);
      if (c.getZF()) {
        c.st(d.k1, osz, c.getReg(d.reg, osz), c.vh);
      } else {
        if (d.mod !== 3) c.st(d.k1, osz, v, vh); // the destination is always written
        c.setReg(RAX, osz, v, vh);
      }
      return;
    }
    case G.OP_XADD: {
      const v = c.ld(d.k1, osz), vh = c.vh;
      const s = c.getReg(d.reg, osz), sh = c.vh;
      const r = c.alu(0, osz, v, vh, s, sh), rh = c.vh;
      c.setReg(d.reg, osz, v, vh);
      c.st(d.k1, osz, r, rh);
      return;
    }
    case G.OP_XLAT: {
      const al = c.r[0]! & 0xff;
      let lo = (c.r[RBX * 2]! + al) | 0, hi = c.r[RBX * 2 + 1]!;
      if (d.asz === 8) { if (lo >>> 0 < al) hi = (hi + 1) | 0; } else { hi = 0; if (d.asz === 2) lo &= 0xffff; }
      c.setReg(RAX, 1, c.rd(d.segOvr >= 0 ? d.segOvr : DS, lo, hi, 1), 0);
      return;
    }
    case G.OP_SHLD: case G.OP_SHRD: doubleShift(c); return;
    // SIMD, x87 and fast system calls go straight to their executors (execSystem would reach them
    // only after three more switches)
    case G.OP_SSE_MOV: sseMov(c); return;
    case G.OP_SSE_MOVD: sseMovd(c); return;
    case G.OP_SSE_LOGIC: sseLogic(c); return;
    case G.OP_PINT: case G.OP_PSHIFTI: case G.OP_PMISC: case G.OP_CRC32: case G.OP_PCMPSTR:
      execSimdInt(c, d.op);
      return;
    case G.OP_SSE_FP: execSimdFp(c, d.op); return;
    case G.OP_FPU_M: case G.OP_FPU_R:
      if (!execX87(c, d.op)) execSystem(c, d.op);
      return;
    case G.OP_SYSCALL: case G.OP_SYSRET: case G.OP_SYSENTER: case G.OP_SYSEXIT:
      fastSystemCall(c, d.op);
      return;
    default:
      execSystem(c, d.op);
  }
}

export function setRip(c: Cpu, lo: number, hi: number, osz: number): void {
  if (c.code64) { c.r[RIP_LO] = lo; c.r[RIP_HI] = hi; }
  else c.r[RIP_LO] = osz === 2 ? lo & 0xffff : lo;
}

/** Branch target checks: CS limit outside 64-bit mode, canonical form in 64-bit mode → #GP(0). */
export function checkTarget(c: Cpu, lo: number, hi: number, osz: number): void {
  if (c.code64) {
    if ((hi >> 15) !== (hi >> 31) && c.nonCanonical57(hi)) throw new CpuFault(13, 0, 0, 0, 'non-canonical branch target');
  } else {
    const t = osz === 2 ? lo & 0xffff : lo >>> 0;
    if (t > c.segLimit[CS]! >>> 0) throw new CpuFault(13, 0, 0, 0, 'branch target beyond CS limit');
  }
}

function relJump(c: Cpu): void {
  const base = c.r[RIP_LO]!;
  const n = (base + c.d.imm) | 0;
  if (c.code64) {
    const hi = (c.r[RIP_HI]! + c.d.immHi + (n >>> 0 < base >>> 0 ? 1 : 0)) | 0;
    checkTarget(c, n, hi, 8);
    c.r[RIP_LO] = n; c.r[RIP_HI] = hi;
  } else {
    checkTarget(c, n, 0, c.d.osz);
    c.r[RIP_LO] = c.d.osz === 2 ? n & 0xffff : n;
  }
}

export function bswap32(x: number): number {
  return ((x & 0xff) << 24) | ((x & 0xff00) << 8) | ((x >>> 8) & 0xff00) | (x >>> 24);
}

// ---- shifts and rotates (SDM Vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR") ------------------------

function shl64(lo: number, hi: number, n: number, c: Cpu): number {
  if (n === 0) { c.vh = hi; return lo; }
  if (n < 32) { c.vh = (hi << n) | (lo >>> (32 - n)); return lo << n; }
  c.vh = lo << (n - 32); return 0;
}
function shr64(lo: number, hi: number, n: number, c: Cpu, arith: boolean): number {
  if (n === 0) { c.vh = hi; return lo; }
  if (n < 32) { c.vh = arith ? hi >> n : hi >>> n; return (lo >>> n) | (hi << (32 - n)); }
  c.vh = arith ? hi >> 31 : 0;
  return arith ? hi >> (n - 32) : hi >>> (n - 32);
}
/** bit `n` of a lo/hi value */
function bitOf(lo: number, hi: number, n: number): number {
  return n < 32 ? (lo >>> n) & 1 : (hi >>> (n - 32)) & 1;
}

function szp(size: number, r: number, rh: number): number {
  const zero = (size === 8 ? r | rh : r & MASK[size]!) === 0;
  const neg = size === 8 ? rh < 0 : ((r >>> (BITS[size]! - 1)) & 1) !== 0;
  return (zero ? ZF : 0) | (neg ? SF : 0) | (PARITY_OF(r));
}
function PARITY_OF(r: number): number {
  let x = r & 0xff;
  x ^= x >> 4; x ^= x >> 2; x ^= x >> 1;
  return x & 1 ? 0 : PF;
}

function msbOf(size: number, lo: number, hi: number): number {
  return size === 8 ? hi >>> 31 : (lo >>> (BITS[size]! - 1)) & 1;
}

/** n is already masked (1..63 or 1..31); returns the result (high half in c.vh) and sets flags */
export function shift(c: Cpu, kind: number, size: number, a: number, ah: number, n: number): number {
  const bits = BITS[size]!;
  const m = MASK[size]!;
  // SHL/SHR/SAR replace every arithmetic flag: the non-arithmetic bits of fl are always valid
  let f = c.fl;
  let r = 0, rh = 0, cf = 0, of = 0;
  switch (kind) {
    case 0: case 1: { // ROL, ROR
      const k = n % bits;
      if (size === 8) {
        if (kind === 0) { const l = shl64(a, ah, k, c), h = c.vh; const l2 = shr64(a, ah, (64 - k) & 63, c, false), h2 = k ? c.vh : 0; r = l | (k ? l2 : 0); rh = h | h2; }
        else { const l = shr64(a, ah, k, c, false), h = c.vh; const l2 = shl64(a, ah, (64 - k) & 63, c), h2 = k ? c.vh : 0; r = l | (k ? l2 : 0); rh = h | h2; }
      } else {
        const v = a & m;
        r = kind === 0 ? ((v << k) | (v >>> (bits - k))) & m : ((v >>> k) | (v << (bits - k))) & m;
        if (k === 0) r = v;
      }
      if (kind === 0) { cf = r & 1; of = msbOf(size, r, rh) ^ cf; }
      else { cf = msbOf(size, r, rh); of = cf ^ (size === 8 ? (rh >>> 30) & 1 : (r >>> (bits - 2)) & 1); }
      c.flatten();
      c.fl = (c.fl & ~(CF | OF)) | cf | (of ? OF : 0);
      c.vh = size === 8 ? rh : 0;
      return r;
    }
    case 2: case 3: { // RCL, RCR: rotate through CF, bit by bit (counts are small)
      const k = size === 8 ? n : n % (bits + 1);
      let lo = a & m, hi = size === 8 ? ah : 0, carry = c.getCF();
      for (let i = 0; i < k; i++) {
        if (kind === 2) {
          const out = msbOf(size, lo, hi);
          if (size === 8) { hi = (hi << 1) | (lo >>> 31); lo = (lo << 1) | carry; } else lo = ((lo << 1) | carry) & m;
          carry = out;
        } else {
          const out = lo & 1;
          if (size === 8) { lo = (lo >>> 1) | (hi << 31); hi = (hi >>> 1) | (carry << 31); } else lo = (lo >>> 1) | (carry << (bits - 1));
          carry = out;
        }
      }
      r = lo; rh = hi; cf = carry;
      of = kind === 2 ? msbOf(size, r, rh) ^ cf : msbOf(size, r, rh) ^ (size === 8 ? (rh >>> 30) & 1 : (r >>> (bits - 2)) & 1);
      c.flatten();
      c.fl = (c.fl & ~(CF | OF)) | cf | (of ? OF : 0);
      c.vh = rh;
      return r;
    }
    case 4: case 6: { // SHL/SAL
      if (size === 8) { r = shl64(a, ah, n, c); rh = c.vh; cf = bitOf(a, ah, 64 - n); }
      else { r = n >= 32 ? 0 : (a << n) & m; cf = n > bits ? 0 : ((a & m) >>> (bits - n)) & 1; if (n === 32) cf = a & 1; }
      of = msbOf(size, r, rh) ^ cf;
      break;
    }
    case 5: { // SHR
      if (size === 8) { r = shr64(a, ah, n, c, false); rh = c.vh; cf = bitOf(a, ah, n - 1); }
      else { r = n >= 32 ? 0 : (a & m) >>> n; cf = n > bits ? 0 : ((a & m) >>> (n - 1)) & 1; }
      of = msbOf(size, a, ah);
      break;
    }
    default: { // SAR
      if (size === 8) { r = shr64(a, ah, n, c, true); rh = c.vh; cf = bitOf(a, ah, n - 1); }
      else {
        const sv = size === 4 ? a : (a << (32 - bits)) >> (32 - bits);
        r = (n >= 32 ? sv >> 31 : sv >> n) & m;
        cf = n - 1 >= 32 ? (sv >>> 31) : (sv >> (n - 1)) & 1;
      }
      of = 0;
      break;
    }
  }
  // SHL/SHR/SAR: CF, OF (defined for count 1), SF ZF PF from the result; AF undefined (cleared)
  f = (f & ~ARITH_FLAGS) | cf | (of ? OF : 0) | szp(size, r, rh);
  c.lfOp = LF_NONE;
  c.fl = f;
  c.vh = size === 8 ? rh : 0;
  return r;
}

function doubleShift(c: Cpu): void {
  const osz = c.d.osz;
  const bits = BITS[osz]!;
  const n = (c.d.k3 === G.K_CL ? c.r[2]! : c.d.imm) & (osz === 8 ? 63 : 31);
  if (n === 0) {
    if (osz === 4 && c.d.mod === 3) c.r[(c.d.rm << 1) + 1] = 0;
    return;
  }
  const a = c.ld(c.d.k1, osz), ah = c.vh;
  const b = c.getReg(c.d.reg, osz), bh = c.vh;
  let r = 0, rh = 0, cf = 0;
  const left = c.d.op === G.OP_SHLD;
  if (osz === 8) {
    if (left) {
      const l = shl64(a, ah, n, c), h = c.vh;
      const l2 = shr64(b, bh, 64 - n, c, false), h2 = c.vh;
      r = l | l2; rh = h | h2; cf = bitOf(a, ah, 64 - n);
    } else {
      const l = shr64(a, ah, n, c, false), h = c.vh;
      const l2 = shl64(b, bh, 64 - n, c), h2 = c.vh;
      r = l | l2; rh = h | h2; cf = bitOf(a, ah, n - 1);
    }
  } else if (osz === 4) {
    if (left) { r = (a << n) | (b >>> (32 - n)); cf = (a >>> (32 - n)) & 1; }
    else { r = (a >>> n) | (b << (32 - n)); cf = (a >>> (n - 1)) & 1; }
  } else {
    // 16-bit: count > 16 is undefined; model the 32-bit concatenation (matches Intel for n <= 16)
    const cat = left ? ((a & 0xffff) << 16) | (b & 0xffff) : ((b & 0xffff) << 16) | (a & 0xffff);
    if (left) { const x = n < 32 ? cat << n : 0; r = (x >>> 16) & 0xffff; cf = ((cat >>> (32 - n)) & 1); }
    else { r = (cat >>> n) & 0xffff; cf = (cat >>> (n - 1)) & 1; }
  }
  const msbR = osz === 8 ? rh >>> 31 : (r >>> (bits - 1)) & 1;
  const msbA = osz === 8 ? ah >>> 31 : (a >>> (bits - 1)) & 1;
  const of = msbR ^ msbA;
  c.flatten();
  c.fl = (c.fl & ~ARITH_FLAGS) | cf | (of ? OF : 0) | szp(osz, r, rh);
  c.st(c.d.k1, osz, osz === 4 ? r : r & MASK[osz]!, rh);
}

// ---- multiply and divide (SDM Vol. 2 "MUL", "IMUL", "DIV", "IDIV") -------------------------------

/** unsigned 32x32 → 64: low half returned, high half in c.vh */
export function mulu32(c: Cpu, a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  c.vh = (hh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536)) | 0;
  return ((mid & 0xffff) << 16) | (ll & 0xffff);
}

/** the 128-bit product of mul64(): words 0 (low) .. 3 (high) */
export const PROD = new Int32Array(4);

/**
 * 64x64 → 128-bit multiply from 32-bit pieces (no BigInt, DESIGN.md §4) into PROD; `signed` treats
 * both operands as two's complement (the high half corrected by subtracting the other operand for each
 * negative one, mod 2^64).
 */
export function mul64(c: Cpu, a: number, ah: number, b: number, bh: number, signed: boolean): void {
  const p0l = mulu32(c, a, b), p0h = c.vh >>> 0;
  const p1l = mulu32(c, a, bh) >>> 0, p1h = c.vh >>> 0;
  const p2l = mulu32(c, ah, b) >>> 0, p2h = c.vh >>> 0;
  const p3l = mulu32(c, ah, bh) >>> 0, p3h = c.vh >>> 0;
  const t1 = p0h + p1l + p2l;
  const c1 = t1 >= 8589934592 ? 2 : t1 >= 4294967296 ? 1 : 0;
  const t2 = p1h + p2h + p3l + c1;
  const c2 = t2 >= 8589934592 ? 2 : t2 >= 4294967296 ? 1 : 0;
  let w2 = t2 | 0, w3 = (p3h + c2) | 0;
  if (signed) {
    if (ah < 0) { const n = (w2 - b) | 0; w3 = (w3 - bh - (w2 >>> 0 < b >>> 0 ? 1 : 0)) | 0; w2 = n; }
    if (bh < 0) { const n = (w2 - a) | 0; w3 = (w3 - ah - (w2 >>> 0 < a >>> 0 ? 1 : 0)) | 0; w2 = n; }
  }
  PROD[0] = p0l; PROD[1] = t1 | 0; PROD[2] = w2; PROD[3] = w3;
}

/** 64-bit shifts on lo/hi halves for out-of-line users (SHLX/SHRX/SARX/RORX): n in 0..63, high half in c.vh */
export function shift64(c: Cpu, kind: 'shl' | 'shr' | 'sar' | 'ror', lo: number, hi: number, n: number): number {
  switch (kind) {
    case 'shl': return shl64(lo, hi, n, c);
    case 'shr': return shr64(lo, hi, n, c, false);
    case 'sar': return shr64(lo, hi, n, c, true);
    default: {
      if (n === 0) { c.vh = hi; return lo; }
      const l = shr64(lo, hi, n, c, false), h = c.vh;
      const l2 = shl64(lo, hi, 64 - n, c), h2 = c.vh;
      c.vh = h | h2;
      return l | l2;
    }
  }
}

/** IMUL r, r/m (, imm): truncated product; CF=OF=1 when the signed result does not fit */
export function imulTrunc(c: Cpu, size: number, a: number, ah: number, b: number, bh: number): number {
  let r: number, rh = 0, ovf: boolean;
  if (size === 2) {
    const p = ((a << 16) >> 16) * ((b << 16) >> 16);
    r = p & 0xffff; ovf = p !== (r << 16) >> 16;
  } else if (size === 4) {
    r = Math.imul(a, b);
    const p = a * b; // exact when |p| < 2^53; otherwise certainly overflowing
    ovf = p !== r;
  } else {
    if ((ah === a >> 31) && (bh === b >> 31)) {
      // both fit in 32 bits: the product fits in 64 bits
      const neg = (a < 0) !== (b < 0);
      let lo = mulu32(c, Math.abs(a) >>> 0 === 0x80000000 ? 0x80000000 | 0 : Math.abs(a), Math.abs(b) === 0x80000000 ? 0x80000000 | 0 : Math.abs(b)), hi = c.vh;
      if (neg) { lo = (~lo + 1) | 0; hi = lo === 0 ? (~hi + 1) | 0 : ~hi; }
      r = lo; rh = hi; ovf = false;
    } else {
      // low 64 bits from 32-bit pieces; CF/OF stay lazy (LF_IMUL64) since they are rarely read
      r = mulu32(c, a, b);
      rh = (c.vh + Math.imul(a, bh) + Math.imul(ah, b)) | 0;
      c.lfOp = LF_IMUL64; c.lfSize = 8;
      c.lfA = a; c.lfAh = ah; c.lfB = b; c.lfBh = bh; c.lfR = r; c.lfRh = rh;
      c.vh = rh;
      return r;
    }
  }
  c.flatten();
  const f = (c.fl & ~ARITH_FLAGS) | (ovf ? CF | OF : 0) | szp(size, r, rh);
  c.fl = f;
  c.vh = rh;
  return r;
}

/** MUL/IMUL one-operand forms: rDX:rAX = rAX * src */
function mulWide(c: Cpu, b: number, bh: number, signed: boolean): void {
  const size = c.d.osz;
  let ovf: boolean;
  let lo = 0, hi = 0;
  if (size === 1) {
    const a = c.r[0]! & 0xff;
    const p = signed ? ((a << 24) >> 24) * ((b << 24) >> 24) : a * b;
    c.setReg(RAX, 2, p, 0);
    ovf = signed ? p !== (p << 24) >> 24 : (p & 0xff00) !== 0;
    lo = p;
  } else if (size === 2) {
    const a = c.r[0]! & 0xffff;
    const p = signed ? ((a << 16) >> 16) * ((b << 16) >> 16) : a * b;
    c.setReg(RAX, 2, p, 0); c.setReg(RDX, 2, p >> 16, 0);
    ovf = signed ? p !== (p << 16) >> 16 : (p >>> 16) !== 0;
    lo = p;
  } else if (size === 4) {
    const a = c.r[0]!;
    if (signed) {
      const neg = (a < 0) !== (b < 0);
      const ua = a < 0 ? (-a) >>> 0 : a, ub = b < 0 ? (-b) >>> 0 : b;
      lo = mulu32(c, ua, ub); hi = c.vh;
      if (neg) { lo = (~lo + 1) | 0; hi = lo === 0 ? (~hi + 1) | 0 : ~hi; }
      ovf = hi !== lo >> 31;
    } else { lo = mulu32(c, a, b); hi = c.vh; ovf = hi !== 0; }
    c.setReg(RAX, 4, lo, 0); c.setReg(RDX, 4, hi, 0);
  } else {
    mul64(c, c.r[0]!, c.r[1]!, b, bh, signed);
    const P = PROD;
    lo = P[0]!;
    c.setReg(RAX, 8, lo, P[1]!);
    c.setReg(RDX, 8, P[2]!, P[3]!);
    const ext = signed ? P[1]! >> 31 : 0;
    ovf = P[2] !== ext || P[3] !== ext;
  }
  // SF ZF AF PF undefined: Intel computes SF/ZF/PF from the low half; we do the same
  c.flatten();
  c.fl = (c.fl & ~ARITH_FLAGS) | (ovf ? CF | OF : 0) | szp(size === 1 ? 1 : size, lo, 0) & ~ZF;
}

/** 64/32 unsigned division by 16-bit chunks in doubles (exact); quotient must fit 32 bits */
function div64by32(c: Cpu, lo: number, hi: number, d: number): number {
  let rem = hi >>> 0;
  const dd = d >>> 0;
  let q = 0;
  for (let s = 16; s >= 0; s -= 16) {
    rem = rem * 65536 + ((lo >>> s) & 0xffff);
    const qd = Math.floor(rem / dd);
    rem -= qd * dd;
    q = q * 65536 + qd;
  }
  c.vh = rem | 0;
  return q;
}

function toBig(lo: number, hi: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}
function toBigS(lo: number, hi: number): bigint {
  return (BigInt(hi) << 32n) | BigInt(lo >>> 0);
}

/** DIV/IDIV (the r64 forms use BigInt: a rare slow path DESIGN.md §4 allows) */
function divide(c: Cpu, d: number, dh: number, signed: boolean): void {
  const size = c.d.osz;
  if ((size === 8 ? d | dh : d) === 0) throw new CpuFault(0, -1, 0, 0, 'divide by zero');
  if (size === 1) {
    const a = c.r[0]! & 0xffff;
    let q: number, r: number;
    if (signed) {
      const n = (a << 16) >> 16, dv = (d << 24) >> 24;
      q = Math.trunc(n / dv); r = n % dv;
      if (q > 127 || q < -128) throw new CpuFault(0, -1, 0, 0, 'quotient overflow');
    } else { q = Math.floor(a / d); r = a % d; if (q > 255) throw new CpuFault(0, -1, 0, 0, 'quotient overflow'); }
    c.setReg(RAX, 2, (q & 0xff) | ((r & 0xff) << 8), 0);
  } else if (size === 2) {
    const n = ((c.r[4]! & 0xffff) << 16) | (c.r[0]! & 0xffff);
    let q: number, r: number;
    if (signed) {
      const dv = (d << 16) >> 16;
      q = Math.trunc(n / dv); r = n % dv;
      if (q > 32767 || q < -32768) throw new CpuFault(0, -1, 0, 0, 'quotient overflow');
    } else {
      const un = n >>> 0;
      q = Math.floor(un / d); r = un % d;
      if (q > 0xffff) throw new CpuFault(0, -1, 0, 0, 'quotient overflow');
    }
    c.setReg(RAX, 2, q, 0); c.setReg(RDX, 2, r, 0);
  } else if (size === 4) {
    let lo = c.r[0]!, hi = c.r[4]!;
    if (!signed) {
      if (hi >>> 0 >= d >>> 0) throw new CpuFault(0, -1, 0, 0, 'quotient overflow');
      const q = div64by32(c, lo, hi, d);
      c.setReg(RAX, 4, q | 0, 0); c.setReg(RDX, 4, c.vh, 0);
    } else {
      const nneg = hi < 0, dneg = d < 0;
      if (nneg) { lo = (~lo + 1) | 0; hi = lo === 0 ? (~hi + 1) | 0 : ~hi; }
      const ud = dneg ? (-d) >>> 0 : d >>> 0;
      if (hi >>> 0 >= ud) throw new CpuFault(0, -1, 0, 0, 'quotient overflow');
      let q = div64by32(c, lo, hi, ud);
      let r = c.vh >>> 0;
      if (nneg !== dneg) { if (q > 0x80000000) throw new CpuFault(0, -1, 0, 0, 'quotient overflow'); q = -q; }
      else if (q > 0x7fffffff) throw new CpuFault(0, -1, 0, 0, 'quotient overflow');
      if (nneg) r = -r;
      c.setReg(RAX, 4, q | 0, 0); c.setReg(RDX, 4, r | 0, 0);
    }
  } else {
    const D = signed ? toBigS(d, dh) : toBig(d, dh);
    const N = signed ? (toBigS(c.r[4]!, c.r[5]!) << 64n) | toBig(c.r[0]!, c.r[1]!) : (toBig(c.r[4]!, c.r[5]!) << 64n) | toBig(c.r[0]!, c.r[1]!);
    const q = N / D, r = N % D;
    if (signed ? BigInt.asIntN(64, q) !== q : q >> 64n !== 0n) throw new CpuFault(0, -1, 0, 0, 'quotient overflow');
    const uq = BigInt.asUintN(64, q), ur = BigInt.asUintN(64, r);
    c.setReg(RAX, 8, Number(uq & 0xffffffffn) | 0, Number(uq >> 32n) | 0);
    c.setReg(RDX, 8, Number(ur & 0xffffffffn) | 0, Number(ur >> 32n) | 0);
  }
}

// ---- bit test / scan (SDM Vol. 2 "BT", "BSF", "BSR", "TZCNT", "LZCNT", "POPCNT") ----------------

function bitTest(c: Cpu): void {
  const osz = c.d.osz;
  const bits = BITS[osz]!;
  let bit: number;
  if (c.d.k2 === G.K_I) {
    bit = c.d.imm & (bits - 1);
    c.calcEa();
  } else {
    const off = c.getReg(c.d.reg, osz), offh = c.vh;
    bit = off & (bits - 1);
    if (c.d.mod !== 3) {
      // register bit offset addresses memory beyond the operand (signed, in operand-size units)
      c.calcEa();
      const sh = osz === 8 ? 6 : osz === 4 ? 5 : 4;
      let wl: number, wh: number;
      if (osz === 8) { wl = (off >>> 6) | (offh << 26); wh = offh >> 6; }
      else if (osz === 4) { wl = off >> 5; wh = off >> 31; }
      else { const s = (off << 16) >> 16; wl = s >> 4; wh = s >> 31; }
      void sh;
      // byte displacement = words * osz
      const mult = osz;
      let dl = Math.imul(wl, mult), dh = (Math.imul(wh, mult) + ((wl >>> 0) * mult > 0xffffffff ? Math.floor(((wl >>> 0) * mult) / 4294967296) : 0)) | 0;
      if (osz === 8) { dl = wl << 3; dh = (wh << 3) | (wl >>> 29); }
      const n = (c.eaLo + dl) | 0;
      let h = (c.eaHi + dh + (n >>> 0 < c.eaLo >>> 0 ? 1 : 0)) | 0;
      let l = n;
      if (c.d.asz === 4) { h = 0; } else if (c.d.asz === 2) { l &= 0xffff; h = 0; }
      c.eaLo = l; c.eaHi = h;
    }
  }
  let v: number, vh = 0;
  if (c.d.mod === 3) { v = c.getReg(c.d.rm, osz); vh = c.vh; }
  else { v = c.rd(c.d.seg, c.eaLo, c.eaHi, osz); vh = c.vh; }
  const cf = bitOf(v, vh, bit);
  c.flatten();
  c.fl = (c.fl & ~CF) | cf;
  if (c.d.arg === 0) return;
  let nl = v, nh = vh;
  const mlo = bit < 32 ? 1 << bit : 0, mhi = bit >= 32 ? 1 << (bit - 32) : 0;
  if (c.d.arg === 1) { nl |= mlo; nh |= mhi; }
  else if (c.d.arg === 2) { nl &= ~mlo; nh &= ~mhi; }
  else { nl ^= mlo; nh ^= mhi; }
  if (c.d.mod === 3) c.setReg(c.d.rm, osz, nl & MASK[osz]!, nh);
  else c.wr(c.d.seg, c.eaLo, c.eaHi, osz, nl, nh);
}

function clz32(x: number): number {
  return Math.clz32(x);
}
function ctz32(x: number): number {
  return x === 0 ? 32 : 31 - Math.clz32(x & -x);
}
function popcnt32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
}

function bitScan(c: Cpu): void {
  const osz = c.d.osz;
  const bits = BITS[osz]!;
  const v0 = c.ld(c.d.k2, osz), vh = osz === 8 ? c.vh : 0;
  const v = osz === 2 ? v0 & 0xffff : v0;
  const zero = (v | vh) === 0;
  c.flatten();
  let f = c.fl;
  switch (c.d.op) {
    case G.OP_BSF: case G.OP_BSR: {
      // source 0: ZF=1 and the destination is left unchanged (AMD documents it; Intel does it)
      f &= ~ARITH_FLAGS;
      if (zero) { c.fl = f | ZF; return; }
      let n: number;
      if (c.d.op === G.OP_BSF) n = v !== 0 ? ctz32(v) : 32 + ctz32(vh);
      else n = vh !== 0 ? 63 - clz32(vh) : 31 - clz32(v);
      c.fl = f | PARITY_OF(n);
      c.setReg(c.d.reg, osz, n, 0);
      return;
    }
    case G.OP_TZCNT: case G.OP_LZCNT: {
      let n: number;
      if (c.d.op === G.OP_TZCNT) n = zero ? bits : v !== 0 ? ctz32(v) : 32 + ctz32(vh);
      else if (osz === 8) n = vh !== 0 ? clz32(vh) : 32 + clz32(v);
      else n = clz32(v) - (32 - bits);
      f = (f & ~(CF | ZF)) | (zero ? CF : 0) | (n === 0 ? ZF : 0);
      c.fl = f;
      c.setReg(c.d.reg, osz, n, 0);
      return;
    }
    default: { // POPCNT: OF SF ZF AF CF PF cleared, ZF = (src == 0)
      const n = popcnt32(v) + popcnt32(vh);
      c.fl = (f & ~ARITH_FLAGS) | (zero ? ZF : 0);
      c.setReg(c.d.reg, osz, n, 0);
    }
  }
}

// ---- string instructions (SDM Vol. 2 "MOVS", "STOS", "LODS", "SCAS", "CMPS", "REP") ----------------

/** iterations per step before the instruction is restarted (lets interrupts in) */
const REP_CHUNK = 4096;

function stringOp(c: Cpu): void {
  const asz = c.d.asz;
  const size = c.d.osz;
  const op = c.d.op;
  const step = c.fl & DF ? -size : size;
  const srcSeg = c.d.segOvr >= 0 ? c.d.segOvr : DS;
  const r = c.r;
  const rep = c.d.rep !== 0;
  let n = REP_CHUNK;
  for (;;) {
    if (rep) {
      const cnt = asz === 8 ? r[2]! | r[3]! : asz === 4 ? r[2]! : r[2]! & 0xffff;
      if (cnt === 0) return;
    }
    const si = asz === 2 ? r[RSI * 2]! & 0xffff : r[RSI * 2]!, sih = asz === 8 ? r[RSI * 2 + 1]! : 0;
    const di = asz === 2 ? r[RDI * 2]! & 0xffff : r[RDI * 2]!, dih = asz === 8 ? r[RDI * 2 + 1]! : 0;
    let cmp = false;
    switch (op) {
      case G.OP_MOVS: {
        const v = c.rd(srcSeg, si, sih, size);
        c.wr(ES, di, dih, size, v, c.vh);
        advance(c, RSI, step, asz); advance(c, RDI, step, asz);
        break;
      }
      case G.OP_STOS:
        c.wr(ES, di, dih, size, c.getReg(RAX, size), c.vh);
        advance(c, RDI, step, asz);
        break;
      case G.OP_LODS: {
        const v = c.rd(srcSeg, si, sih, size);
        c.setReg(RAX, size, v, c.vh);
        advance(c, RSI, step, asz);
        break;
      }
      case G.OP_SCAS: {
        const b = c.rd(ES, di, dih, size), bh = c.vh;
        const a = c.getReg(RAX, size), ah = c.vh;
        c.alu(7, size, a, ah, b, bh);
        advance(c, RDI, step, asz);
        cmp = true;
        break;
      }
      default: { // CMPS: compares [rSI] with [rDI]
        const a = c.rd(srcSeg, si, sih, size), ah = c.vh;
        const b = c.rd(ES, di, dih, size), bh = c.vh;
        c.alu(7, size, a, ah, b, bh);
        advance(c, RSI, step, asz); advance(c, RDI, step, asz);
        cmp = true;
      }
    }
    if (!rep) return;
    advance(c, RCX, -1, asz);
    if (cmp && (c.d.rep === 0xf3 ? c.getZF() === 0 : c.getZF() !== 0)) return;
    if (c.deferredExit !== 0 || --n === 0) {
      // restart the instruction for the remaining iterations
      const cnt = asz === 8 ? r[2]! | r[3]! : asz === 4 ? r[2]! : r[2]! & 0xffff;
      if (cnt !== 0) { r[RIP_LO] = c.startLo; r[RIP_HI] = c.startHi; }
      return;
    }
  }
}

function advance(c: Cpu, reg: number, d: number, asz: number): void {
  const r = c.r;
  const i = reg * 2;
  const lo = r[i]!;
  const n = (lo + d) | 0;
  if (asz === 8) {
    if (d > 0 ? n >>> 0 < lo >>> 0 : n >>> 0 > lo >>> 0) r[i + 1] = (r[i + 1]! + (d > 0 ? 1 : -1)) | 0;
    r[i] = n;
  } else if (asz === 4) { r[i] = n; if (c.code64) r[i + 1] = 0; }
  else r[i] = (lo & ~0xffff) | (n & 0xffff);
}

function enter(c: Cpu): void {
  const osz = c.d.osz;
  const size = c.d.imm & 0xffff;
  const level = c.d.imm2 & 31;
  const ss = c.stackSize();
  const r = c.r;
  const saveSp = r[RSP * 2]!, saveSpH = r[RSP * 2 + 1]!;
  try {
    c.push(osz, r[RBP * 2]!, r[RBP * 2 + 1]!);
    const frame = r[RSP * 2]!, frameH = r[RSP * 2 + 1]!;
    let bp = r[RBP * 2]!, bph = r[RBP * 2 + 1]!;
    if (level > 0) {
      for (let i = 1; i < level; i++) {
        bp = (bp - osz) | 0;
        if (bp >>> 0 > (bp + osz) >>> 0 && ss === 8) bph = (bph - 1) | 0;
        const v = c.rd(SS, ss === 2 ? bp & 0xffff : bp, ss === 8 ? bph : 0, osz);
        c.push(osz, v, c.vh);
      }
      c.push(osz, frame, frameH);
    }
    c.addSp(-size);
    c.setReg(RBP, osz === 2 ? 2 : ss === 8 ? 8 : osz, frame, frameH);
  } catch (e) {
    r[RSP * 2] = saveSp; r[RSP * 2 + 1] = saveSpH;
    throw e;
  }
}

export { EXIT_SIGNAL, LF_SUB, LF_LOGIC };
