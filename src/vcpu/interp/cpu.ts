// The interpreter's CPU core: register state, segmented and paged memory access, the instruction
// decoder (prefixes, REX, VEX, ModRM/SIB, displacement/immediates; Intel SDM Vol. 2 ch. 2
// "Instruction Format") and the executor for the general-purpose ISA (SDM Vol. 1 ch. 7, Vol. 2
// instruction pages). System instructions, segment loads and event delivery live in system.ts.
// Hot path rules (DESIGN.md §4): int32 lo/hi halves, no BigInt except 128-bit MUL/DIV, no
// allocation per instruction, one dense switch over decoded op ids.

import { CpuFault } from '../../arch/x86/exceptions.ts';
import * as G from './decoder.generated.ts';
import { PhysMemory } from './memory.ts';
import type { SystemHooks } from './system.ts';
import {
  RSP, RIP_LO, RIP_HI, ES, CS, SS, DS, FS, GS, A_DB, A_UNUSABLE,
  CF, PF, AF, ZF, SF, OF, ARITH_FLAGS, CR0_PG, CR0_PE, VM, CR4_LA57, HM_SLOTS,
} from './state.ts';

/** Thrown (never allocated per throw) to abandon the current instruction for a VMM exit. */
export const EXIT_SIGNAL = { exit: true } as const;

// lazy-flags operation kinds
export const LF_NONE = 0, LF_ADD = 1, LF_SUB = 2, LF_LOGIC = 3, LF_INC = 4, LF_DEC = 5;
/** 64-bit IMUL r, r/m (, imm): CF = OF = "the signed product does not fit", computed on demand
 *  (BigInt, slow path) from lfA/lfB; SF ZF PF from the truncated result; AF 0 */
export const LF_IMUL64 = 6;

let mHi = 0;
/** unsigned 32x32 → 64: low half returned (uint32 as a double), high half in mHi */
function mul32(a: number, b: number): number {
  const al = a & 0xffff, ah = a >>> 16, bl = b & 0xffff, bh = b >>> 16;
  const ll = al * bl, lh = al * bh, hl = ah * bl;
  const mid = (ll >>> 16) + (lh & 0xffff) + (hl & 0xffff);
  mHi = ah * bh + (lh >>> 16) + (hl >>> 16) + Math.floor(mid / 65536);
  return ((mid & 0xffff) * 65536) + (ll & 0xffff);
}

/** Does the signed 64x64 product overflow 64 bits? (128-bit product from 32-bit pieces, no BigInt) */
function imulOverflows64(a: number, ah: number, b: number, bh: number): boolean {
  // the product in doubles (relative error below 2^-50) settles every case not near 2^63
  const p = Math.abs((ah * 4294967296 + (a >>> 0)) * (bh * 4294967296 + (b >>> 0)));
  if (p < 9.2233720368547e18 * 0.999) return false;
  if (p > 9.2233720368547e18 * 1.001) return true;
  const p0l = mul32(a >>> 0, b >>> 0), p0h = mHi;
  const p1l = mul32(a >>> 0, bh >>> 0), p1h = mHi;
  const p2l = mul32(ah >>> 0, b >>> 0), p2h = mHi;
  const p3l = mul32(ah >>> 0, bh >>> 0), p3h = mHi;
  void p0l;
  const t1 = p0h + p1l + p2l;
  const w1 = t1 % 4294967296;
  const t2 = p1h + p2h + p3l + Math.floor(t1 / 4294967296);
  let w2 = t2 % 4294967296;
  let w3 = (p3h + Math.floor(t2 / 4294967296)) % 4294967296;
  // signed correction of the high 64 bits: subtract b if a < 0, a if b < 0 (mod 2^64)
  if (ah < 0) { const n = w2 - (b >>> 0); w2 = (n + 4294967296) % 4294967296; w3 = (w3 - (bh >>> 0) - (n < 0 ? 1 : 0) + 2 * 4294967296) % 4294967296; }
  if (bh < 0) { const n = w2 - (a >>> 0); w2 = (n + 4294967296) % 4294967296; w3 = (w3 - (ah >>> 0) - (n < 0 ? 1 : 0) + 2 * 4294967296) % 4294967296; }
  const sign = w1 >= 2147483648 ? 4294967295 : 0;
  return w2 !== sign || w3 !== sign;
}

const PARITY = new Uint8Array(256);
for (let i = 0; i < 256; i++) {
  let p = 1;
  for (let b = i; b; b >>= 1) p ^= b & 1;
  PARITY[i] = p ? PF : 0;
}

const MASK = [0, 0xff, 0xffff, 0, 0xffffffff | 0, 0, 0, 0, -1];
const SIGN = [0, 0x80, 0x8000, 0, 0x80000000 | 0, 0, 0, 0, 0x80000000 | 0];

// access kinds for the MMU (src/mmu/types.ts)
export const ACC_READ = 0, ACC_WRITE = 1, ACC_USER = 2, ACC_FETCH = 4, ACC_IMPLICIT = 8, ACC_STACK = 32;

/** The MMU as the CPU uses it (src/mmu); absent until paging is wired. */
export interface CpuMmu {
  translate(linLo: number, linHi: number, access: number): number;
  /** the CPL changed (segments.ts updateMode) */
  setCpl?(cpl: number): void;
}

export interface ExitIo {
  port: number;
  size: number;
  isIn: boolean;
  count: number;
  data: Uint8Array;
}

/**
 * One decoded instruction (the decode cache holds one per entry; DESIGN.md §4). Fields:
 * op/arg/rf/k1-3 from the table row; osz/asz operand and address size in bytes; seg = effective
 * segment of the memory operand, segOvr = override or -1; rep = 0/0xF2/0xF3; mod/reg/rm from ModRM
 * (reg and rm with REX.R/B); eaBase/eaIndex (-1 none, 16 = RIP), eaScale, eaDisp(Hi); imm(Hi), imm2;
 * zreg = opcode register (+REX.B); vreg = VEX.vvvv; len = instruction length.
 */
export class Insn {
  op = 0; arg = 0; rf = 0; k1 = 0; k2 = 0; k3 = 0; osz = 4; asz = 4; seg = 3; segOvr = -1;
  rep = 0; lock = false; rexW = false; rexPresent = false;
  mod = 0; reg = 0; rm = 0;
  eaBase = -1; eaIndex = -1; eaScale = 0; eaDisp = 0; eaDispHi = 0;
  imm = 0; immHi = 0; imm2 = 0; zreg = 0; vreg = 0; len = 0;
  /** instruction-table row (mnemonic: decoder.generated MNEMONICS[row]) */
  row = 0;
}

export class Cpu {
  // ---- architectural state -------------------------------------------------------------------
  readonly r = new Int32Array(34);
  /** RFLAGS; the arithmetic bits are valid only when lfOp = LF_NONE */
  fl = 2;
  lfOp = LF_NONE;
  lfSize = 4;
  lfA = 0; lfAh = 0; lfB = 0; lfBh = 0; lfR = 0; lfRh = 0;
  /** carry-in (ADC/SBB) or the preserved CF (INC/DEC) */
  lfC = 0;
  readonly segSel = new Int32Array(8);
  readonly segBase = new Int32Array(8);
  readonly segBaseHi = new Int32Array(8);
  readonly segLimit = new Int32Array(8);
  readonly segAttr = new Int32Array(8);
  gdtBase = 0; gdtBaseHi = 0; gdtLimit = 0xffff;
  idtBase = 0; idtBaseHi = 0; idtLimit = 0xffff;
  cr0 = 0x60000010;
  cr2Lo = 0; cr2Hi = 0; cr3Lo = 0; cr3Hi = 0; cr4 = 0; cr8 = 0; efer = 0;
  xcr0Lo = 1; xcr0Hi = 0;
  readonly dr = new Int32Array(16);
  pkru = 0;
  cpl = 0;
  /** 64-bit mode (EFER.LMA and CS.L) */
  code64 = false;
  /** CS.D (default operand/address size 32) outside 64-bit mode */
  def32 = false;
  /** FXSAVE-format image of the x87/SSE state (SDM Vol. 1 §10.5.1 Table 10-2) */
  readonly fx = new Uint8Array(512);
  /** the same image as int32 words: XMMn word k = fx32[40 + 4n + k] */
  readonly fx32 = new Int32Array(this.fx.buffer);
  /** AVX state component 2 (YMM_Hi128): upper halves of YMM0-15, kept for XSAVE/XRSTOR round trips */
  readonly ymmHi = new Uint8Array(256);
  /** MSRs without a home of their own (control.ts msrValue/setMsrValue is the only way in; the hot
   *  ones of state.ts msrHotSlot live in msrHot instead, never here) */
  readonly msrs = new Map<number, bigint>();
  /** hot MSRs as lo/hi int32 pairs (state.ts HM_*) */
  readonly msrHot = new Int32Array(HM_SLOTS);
  /** instructions retired (also the TSC source, one tick per instruction) */
  icount = 0;
  tscOffset = 0;
  /** interrupt shadow: blocks external interrupts for one instruction (MOV SS, POP SS, STI) */
  shadow = 0;
  nmiBlocked = false;
  halted = false;

  // ---- environment ----------------------------------------------------------------------------
  readonly mem = new PhysMemory();
  mmu: CpuMmu | undefined;
  /** CPUID answers and contract checks (control.ts) */
  sys: SystemHooks | undefined;
  /** feature presence by generated feature index (decoder.generated.ts FEATURE_NAMES) */
  feat = new Uint8Array(G.FEATURE_NAMES.length);
  vendorAmd = false;

  // ---- decoded instruction -------------------------------------------------------------------
  /** the instruction being executed (a decode-cache entry or the scratch record) */
  d: Insn = new Insn();
  private readonly scratch = new Insn();
  startLo = 0; startHi = 0;
  /** computed effective address (offset in the segment) */
  eaLo = 0; eaHi = 0;
  /** scratch: high half of the last 64-bit value produced */
  vh = 0;
  linHi = 0;

  // ---- exits ----------------------------------------------------------------------------------
  /** 0 none, 1 io, 2 mmio, 3 hlt … set together with EXIT_SIGNAL or at the end of an instruction */
  exitKind = 0;
  exitIoPort = 0; exitIoSize = 1; exitIoIn = false;
  readonly exitData = new Uint8Array(8);
  exitMmioAddr = 0; exitMmioLen = 0; exitMmioWrite = false;
  /** IN data / MMIO read data supplied by the VMM, consumed when the instruction is replayed */
  pendInValid = false; pendInPort = 0; pendInSize = 0; pendInValue = 0;
  pendMmioValid = false; pendMmioAddr = 0; pendMmioLen = 0;
  readonly pendMmioData = new Uint8Array(8);
  /** a write exit produced by this instruction (OUT, MMIO write): reported after it completes */
  deferredExit = 0;

  // ---- fetch window (current code page) -------------------------------------------------------
  fLinPage = -1; fLinPageHi = 0; fU8: Uint8Array = new Uint8Array(0); fOff = 0;

  // ======================================================================================
  // registers
  // ======================================================================================

  getReg(n: number, size: number): number {
    const r = this.r;
    switch (size) {
      case 1:
        if (n >= 4 && n < 8 && !this.d.rexPresent) return (r[(n - 4) << 1]! >>> 8) & 0xff;
        return r[n << 1]! & 0xff;
      case 2:
        return r[n << 1]! & 0xffff;
      case 4:
        this.vh = 0;
        return r[n << 1]!;
      default:
        this.vh = r[(n << 1) + 1]!;
        return r[n << 1]!;
    }
  }

  setReg(n: number, size: number, lo: number, hi: number): void {
    const r = this.r;
    switch (size) {
      case 1:
        if (n >= 4 && n < 8 && !this.d.rexPresent) {
          const i = (n - 4) << 1;
          r[i] = (r[i]! & ~0xff00) | ((lo & 0xff) << 8);
        } else r[n << 1] = (r[n << 1]! & ~0xff) | (lo & 0xff);
        return;
      case 2:
        r[n << 1] = (r[n << 1]! & ~0xffff) | (lo & 0xffff);
        return;
      case 4:
        r[n << 1] = lo;
        r[(n << 1) + 1] = 0;
        return;
      default:
        r[n << 1] = lo;
        r[(n << 1) + 1] = hi;
    }
  }

  // ======================================================================================
  // flags
  // ======================================================================================

  getCF(): number {
    switch (this.lfOp) {
      case LF_NONE: return this.fl & CF;
      // the high halves only mean something for 64-bit operations (below that they are stale)
      case LF_ADD: return this.ltu(this.lfR, this.lfRh, this.lfA, this.lfAh) ||
        (this.lfC !== 0 && this.lfR === this.lfA && (this.lfSize !== 8 || this.lfRh === this.lfAh)) ? 1 : 0;
      case LF_SUB: return this.ltu(this.lfA, this.lfAh, this.lfB, this.lfBh) ||
        (this.lfC !== 0 && this.lfA === this.lfB && (this.lfSize !== 8 || this.lfAh === this.lfBh)) ? 1 : 0;
      case LF_LOGIC: return 0;
      case LF_IMUL64: return imulOverflows64(this.lfA, this.lfAh, this.lfB, this.lfBh) ? 1 : 0;
      default: return this.lfC;
    }
  }

  private ltu(a: number, ah: number, b: number, bh: number): boolean {
    if (this.lfSize === 8 && ah !== bh) return ah >>> 0 < bh >>> 0;
    return a >>> 0 < b >>> 0;
  }

  getZF(): number {
    if (this.lfOp === LF_NONE) return this.fl & ZF;
    return (this.lfSize === 8 ? this.lfR | this.lfRh : this.lfR) === 0 ? ZF : 0;
  }

  getSF(): number {
    if (this.lfOp === LF_NONE) return this.fl & SF;
    return (this.lfSize === 8 ? this.lfRh < 0 : (this.lfR & SIGN[this.lfSize]!) !== 0) ? SF : 0;
  }

  getOF(): number {
    let x: number;
    switch (this.lfOp) {
      case LF_NONE: return this.fl & OF;
      case LF_ADD: case LF_INC:
        x = this.lfSize === 8 ? (this.lfAh ^ this.lfRh) & (this.lfBh ^ this.lfRh) : (this.lfA ^ this.lfR) & (this.lfB ^ this.lfR);
        break;
      case LF_SUB: case LF_DEC:
        x = this.lfSize === 8 ? (this.lfAh ^ this.lfBh) & (this.lfAh ^ this.lfRh) : (this.lfA ^ this.lfB) & (this.lfA ^ this.lfR);
        break;
      case LF_IMUL64: return imulOverflows64(this.lfA, this.lfAh, this.lfB, this.lfBh) ? OF : 0;
      default: return 0;
    }
    return (x & SIGN[this.lfSize]!) !== 0 ? OF : 0;
  }

  getPF(): number {
    if (this.lfOp === LF_NONE) return this.fl & PF;
    return PARITY[this.lfR & 0xff]!;
  }

  getAF(): number {
    if (this.lfOp === LF_NONE) return this.fl & AF;
    if (this.lfOp === LF_LOGIC || this.lfOp === LF_IMUL64) return 0;
    return (this.lfA ^ this.lfB ^ this.lfR) & AF;
  }

  /** RFLAGS with the arithmetic flags materialized */
  getFlags(): number {
    if (this.lfOp === LF_NONE) return this.fl;
    return (this.fl & ~ARITH_FLAGS) | this.getCF() | this.getPF() | this.getAF() | this.getZF() | this.getSF() | this.getOF();
  }

  /** materialize the lazy flags into fl (before changing single bits) */
  flatten(): void {
    if (this.lfOp !== LF_NONE) {
      this.fl = this.getFlags();
      this.lfOp = LF_NONE;
    }
  }

  setArith(bits: number): void {
    this.flatten();
    this.fl = (this.fl & ~ARITH_FLAGS) | (bits & ARITH_FLAGS);
  }

  cond(cc: number): boolean {
    if (this.lfOp === LF_SUB && this.lfC === 0 && this.lfSize !== 8) {
      // fused CMP/SUB + Jcc/SETcc/CMOVcc: compare the operands directly (SDM Vol. 1 Table B-1)
      const sz = this.lfSize;
      const a = this.lfA, b = this.lfB;
      switch (cc) {
        case 2: return a >>> 0 < b >>> 0;
        case 3: return a >>> 0 >= b >>> 0;
        case 4: return a === b;
        case 5: return a !== b;
        case 6: return a >>> 0 <= b >>> 0;
        case 7: return a >>> 0 > b >>> 0;
      }
      const sh = 32 - 8 * sz;
      const sa = (a << sh) >> sh, sb = (b << sh) >> sh;
      switch (cc) {
        case 12: return sa < sb;
        case 13: return sa >= sb;
        case 14: return sa <= sb;
        case 15: return sa > sb;
      }
    }
    let v: boolean;
    switch (cc >> 1) {
      case 0: v = this.getOF() !== 0; break;
      case 1: v = this.getCF() !== 0; break;
      case 2: v = this.getZF() !== 0; break;
      case 3: v = this.getCF() !== 0 || this.getZF() !== 0; break;
      case 4: v = this.getSF() !== 0; break;
      case 5: v = this.getPF() !== 0; break;
      case 6: v = (this.getSF() !== 0) !== (this.getOF() !== 0); break;
      default: v = this.getZF() !== 0 || (this.getSF() !== 0) !== (this.getOF() !== 0); break;
    }
    return (cc & 1) === 0 ? v : !v;
  }

  private setLazy(op: number, size: number, a: number, ah: number, b: number, bh: number, r: number, rh: number): void {
    this.lfOp = op; this.lfSize = size;
    this.lfA = a; this.lfAh = ah; this.lfB = b; this.lfBh = bh; this.lfR = r; this.lfRh = rh;
  }

  /** ADD/OR/ADC/SBB/AND/SUB/XOR/CMP (SDM Vol. 2 each page); result low half returned, high in vh */
  alu(op: number, size: number, a: number, ah: number, b: number, bh: number): number {
    const m = MASK[size]!;
    let r = 0, rh = 0, c = 0;
    switch (op) {
      case 0: case 2: { // ADD, ADC
        if (op === 2) c = this.getCF();
        if (size === 8) {
          r = (a + b + c) | 0;
          const carry = (r >>> 0 < a >>> 0 || (c !== 0 && r === a)) ? 1 : 0;
          rh = (ah + bh + carry) | 0;
        } else r = (a + b + c) & m;
        this.setLazy(LF_ADD, size, a, ah, b, bh, r, rh);
        this.lfC = c;
        break;
      }
      case 3: case 5: case 7: { // SBB, SUB, CMP
        if (op === 3) c = this.getCF();
        if (size === 8) {
          r = (a - b - c) | 0;
          const borrow = (a >>> 0 < b >>> 0 || (c !== 0 && a === b)) ? 1 : 0;
          rh = (ah - bh - borrow) | 0;
        } else r = (a - b - c) & m;
        this.setLazy(LF_SUB, size, a, ah, b, bh, r, rh);
        this.lfC = c;
        break;
      }
      case 1: r = (a | b) & m; rh = ah | bh; this.setLazy(LF_LOGIC, size, a, ah, b, bh, r, rh); break;
      case 4: r = a & b & m; rh = ah & bh; this.setLazy(LF_LOGIC, size, a, ah, b, bh, r, rh); break;
      default: r = (a ^ b) & m; rh = ah ^ bh; this.setLazy(LF_LOGIC, size, a, ah, b, bh, r, rh); break;
    }
    if (size !== 8) rh = 0;
    this.lfRh = rh;
    this.vh = rh;
    return r;
  }

  logicFlags(size: number, r: number, rh: number): void {
    this.setLazy(LF_LOGIC, size, 0, 0, 0, 0, r & MASK[size]!, size === 8 ? rh : 0);
  }

  // ======================================================================================
  // memory: physical, linear (paging), segmented
  // ======================================================================================

  xlate(lo: number, hi: number, acc: number): number {
    if ((this.cr0 & CR0_PG) === 0 || this.mmu === undefined) return lo >>> 0;
    if (this.cpl === 3 && (acc & ACC_IMPLICIT) === 0) acc |= ACC_USER;
    return this.mmu.translate(lo, hi, acc);
  }

  physRead(pa: number, size: number): number {
    const m = this.mem;
    if (pa + size <= m.ramSize) {
      switch (size) {
        case 1: return m.ramU8[pa]!;
        case 2: return m.ram.getUint16(pa, true);
        default: return m.ram.getInt32(pa, true);
      }
    }
    const s = m.find(pa, size);
    if (s) {
      const o = pa - s.gpa;
      return size === 1 ? s.u8[o]! : size === 2 ? s.dv.getUint16(o, true) : s.dv.getInt32(o, true);
    }
    return this.mmioRead(pa, size);
  }

  physWrite(pa: number, size: number, v: number): void {
    const m = this.mem;
    if (pa + size <= m.ramSize) {
      const cm = this.codeMap;
      if (cm[pa >>> 12] !== 0 || cm[(pa + size - 1) >>> 12] !== 0) this.codeCheck(pa, size);
      switch (size) {
        case 1: m.ramU8[pa] = v; return;
        case 2: m.ram.setUint16(pa, v, true); return;
        default: m.ram.setInt32(pa, v, true); return;
      }
    }
    const s = m.find(pa, size);
    if (s && !s.readonly) {
      const o = pa - s.gpa;
      if (size === 1) s.u8[o] = v;
      else if (size === 2) s.dv.setUint16(o, v, true);
      else s.dv.setInt32(o, v, true);
      return;
    }
    this.mmioWrite(pa, size, v);
  }

  private mmioRead(pa: number, size: number): number {
    if (this.pendMmioValid && this.pendMmioAddr === pa && this.pendMmioLen === size) {
      this.pendMmioValid = false;
      const d = this.pendMmioData;
      this.mmioHi = d[4]! | (d[5]! << 8) | (d[6]! << 16) | (d[7]! << 24);
      return size === 1 ? d[0]! : size === 2 ? d[0]! | (d[1]! << 8) : d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24);
    }
    if (this.deferredExit !== 0) throw new CpuFault(-1, -1, 0, 0, 'MMIO read after a pending write exit');
    this.exitKind = 2;
    this.exitMmioAddr = pa; this.exitMmioLen = size; this.exitMmioWrite = false;
    this.exitData.fill(0);
    throw EXIT_SIGNAL;
  }

  /** high half of an 8-byte MMIO read */
  mmioHi = 0;

  private mmioWrite(pa: number, size: number, v: number, vh = 0): void {
    if (this.deferredExit !== 0) throw new CpuFault(-1, -1, 0, 0, 'two MMIO/IO write exits in one instruction');
    this.deferredExit = 2;
    this.exitMmioAddr = pa; this.exitMmioLen = size; this.exitMmioWrite = true;
    const d = this.exitData;
    d[0] = v; d[1] = v >> 8; d[2] = v >> 16; d[3] = v >> 24;
    d[4] = vh; d[5] = vh >> 8; d[6] = vh >> 16; d[7] = vh >> 24;
  }

  readLin(lo: number, hi: number, size: number, acc: number): number {
    if (size === 8) {
      if ((lo & 0xfff) <= 0xff8) {
        const pa = this.xlate(lo, hi, acc);
        const m = this.mem;
        if (pa + 8 <= m.ramSize) {
          this.vh = m.ram.getInt32(pa + 4, true);
          return m.ram.getInt32(pa, true);
        }
        const s = m.find(pa, 8);
        if (s) {
          this.vh = s.dv.getInt32(pa - s.gpa + 4, true);
          return s.dv.getInt32(pa - s.gpa, true);
        }
        const v = this.mmioRead(pa, 8);
        this.vh = this.mmioHi;
        return v;
      }
      const a = this.readLin(lo, hi, 4, acc);
      const l2 = (lo + 4) | 0;
      const b = this.readLin(l2, l2 >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, 4, acc);
      this.vh = b;
      return a;
    }
    if ((lo & 0xfff) > 0x1000 - size) {
      let v = 0;
      for (let i = 0; i < size; i++) {
        const l = (lo + i) | 0;
        v |= this.physRead(this.xlate(l, l >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, acc), 1) << (8 * i);
      }
      return v;
    }
    return this.physRead(this.xlate(lo, hi, acc), size);
  }

  writeLin(lo: number, hi: number, size: number, v: number, vh: number, acc: number): void {
    acc |= ACC_WRITE;
    if (size === 8 && (lo & 0xfff) <= 0xff8) {
      const pa = this.xlate(lo, hi, acc);
      const m = this.mem;
      if (pa + 8 <= m.ramSize) {
        const cm = this.codeMap;
        if (cm[pa >>> 12] !== 0 || cm[(pa + 7) >>> 12] !== 0) this.codeCheck(pa, 8);
        m.ram.setInt32(pa, v, true);
        m.ram.setInt32(pa + 4, vh, true);
        return;
      }
      const s = m.find(pa, 8);
      if (s && !s.readonly) {
        s.dv.setInt32(pa - s.gpa, v, true);
        s.dv.setInt32(pa - s.gpa + 4, vh, true);
        return;
      }
      this.mmioWrite(pa, 8, v, vh);
      return;
    }
    if (size === 8) {
      // translate both halves first so a fault leaves memory unchanged
      const l2 = (lo + 4) | 0;
      const h2 = l2 >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi;
      this.xlate(lo, hi, acc);
      this.xlate(l2, h2, acc);
      this.writeLin(lo, hi, 4, v, 0, acc);
      this.writeLin(l2, h2, 4, vh, 0, acc);
      return;
    }
    if ((lo & 0xfff) > 0x1000 - size) {
      for (let i = 0; i < size; i++) {
        const l = (lo + i) | 0;
        this.xlate(l, l >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, acc);
      }
      for (let i = 0; i < size; i++) {
        const l = (lo + i) | 0;
        this.physWrite(this.xlate(l, l >>> 0 < lo >>> 0 ? (hi + 1) | 0 : hi, acc), 1, (v >> (8 * i)) & 0xff);
      }
      return;
    }
    this.physWrite(this.xlate(lo, hi, acc), size, v);
  }

  /** Called only when bits 63:47 of an address disagree (not 48-bit canonical): with CR4.LA57 (5-level
   *  paging) an address is canonical when bits 63:56 equal bit 56 (SDM Vol. 3A §3.3.7.1, §4.5). */
  nonCanonical57(hi: number): boolean {
    return (this.cr4 & CR4_LA57) === 0 || (hi >> 24) !== (hi >> 31);
  }

  /** Segment + offset → linear address (low half returned, high half in linHi). SDM Vol. 3A §3.4,
   *  §5.3 (limit checks, expand-down), §3.3.7.1 (canonical addresses in 64-bit mode). */
  segLin(seg: number, off: number, offHi: number, size: number, write: boolean): number {
    if (this.code64) {
      let lo = off, hi = offHi;
      if (seg >= FS) {
        lo = (off + this.segBase[seg]!) | 0;
        hi = (offHi + this.segBaseHi[seg]! + (lo >>> 0 < off >>> 0 ? 1 : 0)) | 0;
      }
      if ((hi >> 15) !== (hi >> 31) && this.nonCanonical57(hi)) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'non-canonical address');
      this.linHi = hi;
      return lo;
    }
    const attr = this.segAttr[seg]!;
    if ((this.cr0 & CR0_PE) !== 0 && (this.fl & VM) === 0) {
      if (attr & A_UNUSABLE) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'null segment');
      if (write && ((attr & 8) !== 0 || (attr & 2) === 0)) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'segment not writable');
      if (!write && (attr & 0xa) === 8) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'execute-only segment');
    }
    const limit = this.segLimit[seg]! >>> 0;
    const o = off >>> 0;
    if ((attr & 0x1c) === 0x14) {
      // expand-down data segment: valid offsets are limit+1 .. 0xFFFF or 0xFFFFFFFF
      const top = attr & A_DB ? 0xffffffff : 0xffff;
      if (o <= limit || o + size - 1 > top) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'expand-down limit');
    } else if (o + size - 1 > limit) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'segment limit');
    this.linHi = 0;
    return (this.segBase[seg]! + off) | 0;
  }

  /** read `size` bytes at seg:offset (8 bytes: high half in vh). The common case (one page, RAM)
   *  is handled here in one piece; the rest goes through readLin. */
  rd(seg: number, off: number, offHi: number, size: number): number {
    let lo: number, hi: number;
    if (this.code64 && seg < FS) {
      if ((offHi >> 15) !== (offHi >> 31) && this.nonCanonical57(offHi)) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'non-canonical address');
      lo = off; hi = offHi;
    } else {
      lo = this.segLin(seg, off, offHi, size, false); hi = this.linHi;
    }
    const acc = seg === SS ? ACC_STACK : ACC_READ;
    if ((lo & 0xfff) <= 0x1000 - size) {
      const pa = (this.cr0 & CR0_PG) === 0 || this.mmu === undefined ? lo >>> 0 : this.mmu.translate(lo, hi, this.cpl === 3 ? acc | ACC_USER : acc);
      const m = this.mem;
      if (pa + size <= m.ramSize) {
        switch (size) {
          case 1: return m.ramU8[pa]!;
          case 2: return m.ram.getUint16(pa, true);
          case 4: return m.ram.getInt32(pa, true);
          default:
            this.vh = m.ram.getInt32(pa + 4, true);
            return m.ram.getInt32(pa, true);
        }
      }
    }
    return this.readLin(lo, hi, size, acc);
  }

  wr(seg: number, off: number, offHi: number, size: number, v: number, vh: number): void {
    let lo: number, hi: number;
    if (this.code64 && seg < FS) {
      if ((offHi >> 15) !== (offHi >> 31) && this.nonCanonical57(offHi)) throw new CpuFault(seg === SS ? 12 : 13, 0, 0, 0, 'non-canonical address');
      lo = off; hi = offHi;
    } else {
      lo = this.segLin(seg, off, offHi, size, true); hi = this.linHi;
    }
    const acc = seg === SS ? ACC_STACK : ACC_READ;
    if ((lo & 0xfff) <= 0x1000 - size) {
      const a = acc | ACC_WRITE;
      const pa = (this.cr0 & CR0_PG) === 0 || this.mmu === undefined ? lo >>> 0 : this.mmu.translate(lo, hi, this.cpl === 3 ? a | ACC_USER : a);
      const m = this.mem;
      if (pa + size <= m.ramSize) {
        const cm = this.codeMap;
        if (cm[pa >>> 12] !== 0 || cm[(pa + size - 1) >>> 12] !== 0) this.codeCheck(pa, size);
        switch (size) {
          case 1: m.ramU8[pa] = v; return;
          case 2: m.ram.setUint16(pa, v, true); return;
          case 4: m.ram.setInt32(pa, v, true); return;
          default:
            m.ram.setInt32(pa, v, true);
            m.ram.setInt32(pa + 4, vh, true);
            return;
        }
      }
    }
    this.writeLin(lo, hi, size, v, vh, acc);
  }

  // ---- stack ---------------------------------------------------------------------------------

  /** stack-pointer width: 8 in 64-bit mode, else SS.B ? 4 : 2 */
  stackSize(): number {
    return this.code64 ? 8 : this.segAttr[SS]! & A_DB ? 4 : 2;
  }

  push(size: number, v: number, vh: number): void {
    const r = this.r;
    const ss = this.stackSize();
    let lo = r[RSP * 2]!, hi = r[RSP * 2 + 1]!;
    const nlo = (lo - size) | 0;
    if (ss === 8) {
      hi = nlo >>> 0 > lo >>> 0 ? (hi - 1) | 0 : hi;
      lo = nlo;
    } else if (ss === 4) lo = nlo;
    else lo = (lo & ~0xffff) | (nlo & 0xffff);
    this.wr(SS, ss === 2 ? lo & 0xffff : lo, ss === 8 ? hi : 0, size, v, vh);
    r[RSP * 2] = lo;
    if (ss === 8) r[RSP * 2 + 1] = hi;
  }

  /** read the value at the top of stack + `skip` bytes without popping */
  peek(size: number, skip: number): number {
    const r = this.r;
    const ss = this.stackSize();
    let lo = r[RSP * 2]!, hi = ss === 8 ? r[RSP * 2 + 1]! : 0;
    if (skip) {
      const n = (lo + skip) | 0;
      if (ss === 8 && n >>> 0 < lo >>> 0) hi = (hi + 1) | 0;
      lo = n;
    }
    if (ss === 2) lo &= 0xffff;
    return this.rd(SS, lo, hi, size);
  }

  /** advance RSP by n bytes (stack-size wrap) */
  addSp(n: number): void {
    const r = this.r;
    const ss = this.stackSize();
    const lo = r[RSP * 2]!;
    const nlo = (lo + n) | 0;
    if (ss === 8) {
      if (n >= 0 ? nlo >>> 0 < lo >>> 0 : nlo >>> 0 > lo >>> 0) r[RSP * 2 + 1] = (r[RSP * 2 + 1]! + (n >= 0 ? 1 : -1)) | 0;
      r[RSP * 2] = nlo;
    } else if (ss === 4) r[RSP * 2] = nlo;
    else r[RSP * 2] = (lo & ~0xffff) | (nlo & 0xffff);
  }

  pop(size: number): number {
    const v = this.peek(size, 0);
    const vh = this.vh;
    this.addSp(size);
    this.vh = vh;
    return v;
  }

  // ======================================================================================
  // decoder
  // ======================================================================================

  invalidateFetch(): void {
    this.fLinPage = -1;
    this.f2LinPage = -1;
    this.sLinPage = -1;
    this.s2LinPage = -1;
  }

  /**
   * After a mode change (segments.ts updateMode): the fetch windows stay valid while the translation
   * regime (CR0, CR3, CR4, EFER) is the same and the CPL class (user = 3, supervisor = 0-2) they were
   * mapped under is the current one; a change of class swaps in the windows last used in the other
   * class (SYSCALL/SYSRET, interrupts and IRET alternate between two code pages). A change of regime
   * drops them all; MOV CR and INVLPG also call invalidateFetch themselves (a reload of the same CR3).
   */
  modeFetch(): void {
    const cls = this.cpl === 3 ? 1 : 0;
    if (this.cr0 !== this.rgCr0 || this.cr4 !== this.rgCr4 || this.efer !== this.rgEfer ||
      this.cr3Lo !== this.rgCr3Lo || this.cr3Hi !== this.rgCr3Hi || this.fetchCls < 0) {
      this.rgCr0 = this.cr0; this.rgCr4 = this.cr4; this.rgEfer = this.efer; this.rgCr3Lo = this.cr3Lo; this.rgCr3Hi = this.cr3Hi;
      this.invalidateFetch();
      this.fetchCls = cls;
      return;
    }
    if (cls === this.fetchCls) return;
    this.fetchCls = cls;
    let p = this.fLinPage, ph = this.fLinPageHi, u = this.fU8, o = this.fOff;
    this.fLinPage = this.sLinPage; this.fLinPageHi = this.sLinPageHi; this.fU8 = this.sU8; this.fOff = this.sOff;
    this.sLinPage = p; this.sLinPageHi = ph; this.sU8 = u; this.sOff = o;
    p = this.f2LinPage; ph = this.f2LinPageHi; u = this.f2U8; o = this.f2Off;
    this.f2LinPage = this.s2LinPage; this.f2LinPageHi = this.s2LinPageHi; this.f2U8 = this.s2U8; this.f2Off = this.s2Off;
    this.s2LinPage = p; this.s2LinPageHi = ph; this.s2U8 = u; this.s2Off = o;
  }

  /** CPL class the fetch windows were mapped under (-1: unknown), and the regime (modeFetch) */
  private fetchCls = -1;
  private rgCr0 = 0; private rgCr4 = 0; private rgEfer = 0; private rgCr3Lo = 0; private rgCr3Hi = 0;
  /** the other CPL class's two fetch windows */
  private sLinPage = -1; private sLinPageHi = 0; private sU8: Uint8Array = new Uint8Array(0); private sOff = 0;
  private s2LinPage = -1; private s2LinPageHi = 0; private s2U8: Uint8Array = new Uint8Array(0); private s2Off = 0;

  /** the current instruction's 15 bytes are all in the fetch window: fU8[fBase + i] */
  fastFetch = false;
  fBase = 0;

  fetch(i: number): number {
    if (this.fastFetch) return this.fU8[this.fBase + i]!;
    let lo = this.startLo, hi = this.startHi;
    if (!this.code64) {
      const o = (lo + i) >>> 0;
      if (o > this.segLimit[CS]! >>> 0) throw new CpuFault(13, 0, 0, 0, 'fetch beyond CS limit');
      lo = (this.segBase[CS]! + lo + i) | 0;
      hi = 0;
    } else {
      const n = (lo + i) | 0;
      if (n >>> 0 < lo >>> 0) hi = (hi + 1) | 0;
      lo = n;
    }
    const page = lo & ~0xfff;
    if (page !== this.fLinPage || hi !== this.fLinPageHi) this.fillFetch(lo, hi);
    return this.fU8[this.fOff + (lo & 0xfff)]!;
  }

  /** Map the code page holding linear lo:hi for the instruction at CS:RIP, as decode() does before
   *  decoding it (a fault is the instruction's: startLo/Hi = RIP); used by the block cache */
  mapFetch(lo: number, hi: number): void {
    this.startLo = this.r[RIP_LO]!; this.startHi = this.r[RIP_HI]!;
    this.fillFetch(lo, hi);
  }

  private fillFetch(lo: number, hi: number): void {
    if (this.code64 && (hi >> 15) !== (hi >> 31) && this.nonCanonical57(hi)) throw new CpuFault(13, 0, 0, 0, 'non-canonical RIP');
    // the previous window (code that calls across two pages switches back and forth)
    const page = lo & ~0xfff;
    if (page === this.f2LinPage && hi === this.f2LinPageHi) {
      const u8 = this.fU8, off = this.fOff, lp = this.fLinPage, lph = this.fLinPageHi;
      this.fU8 = this.f2U8; this.fOff = this.f2Off; this.fLinPage = page; this.fLinPageHi = hi;
      this.f2U8 = u8; this.f2Off = off; this.f2LinPage = lp; this.f2LinPageHi = lph;
      return;
    }
    // translate the byte being fetched (a #PF reports it in CR2), then map its whole page
    const pa = this.xlate(lo, hi, ACC_FETCH) - (lo & 0xfff);
    let u8: Uint8Array, off: number;
    if (pa + 0x1000 <= this.mem.ramSize) {
      u8 = this.mem.ramU8; off = pa;
    } else {
      const s = this.mem.find(pa, 0x1000);
      if (!s) throw new CpuFault(-1, -1, 0, 0, `instruction fetch from unbacked physical address 0x${pa.toString(16)}`);
      u8 = s.u8; off = pa - s.gpa;
    }
    this.f2U8 = this.fU8; this.f2Off = this.fOff; this.f2LinPage = this.fLinPage; this.f2LinPageHi = this.fLinPageHi;
    this.fU8 = u8;
    this.fOff = off;
    this.fLinPage = page;
    this.fLinPageHi = hi;
  }

  /** the window before the current one (valid under the same rules: dropped by invalidateFetch) */
  private f2LinPage = -1;
  private f2LinPageHi = 0;
  private f2U8: Uint8Array = new Uint8Array(0);
  private f2Off = 0;

  // ---- decode cache (DESIGN.md §4) -------------------------------------------------------------
  // Direct-mapped on the physical address of the instruction's first byte (RAM slot only, never an
  // instruction crossing a page). An entry is valid when its tag, mode key (mode bits and the hard
  // epoch) and the page's write generation all match: a guest write to a page holding decoded code
  // bumps the page's generation (self-modifying code is correct). The VMM may write guest memory
  // directly between two run() calls (loaders, DMA), which no generation sees: every run() starts a
  // new soft epoch, and an entry is used in a new soft epoch only after its bytes, kept with it,
  // were compared with memory again. A new memory layout or CPUID bumps the hard epoch (all dropped).
  static readonly DC_BITS = 14;
  readonly dcPa = new Float64Array(1 << Cpu.DC_BITS).fill(-1);
  readonly dcKey = new Int32Array(1 << Cpu.DC_BITS);
  readonly dcInsn: Insn[] = Array.from({ length: 1 << Cpu.DC_BITS }, () => new Insn());
  /** page write generation at fill time, per entry */
  readonly dcGen = new Int32Array(1 << Cpu.DC_BITS);
  /** soft epoch in which the entry's bytes were last checked against memory */
  readonly dcSoft = new Int32Array(1 << Cpu.DC_BITS);
  /** the entry's instruction bytes (16 per entry) */
  readonly dcBytes = new Uint8Array(16 << Cpu.DC_BITS);
  /** hard epoch: part of every entry's key */
  dcEpoch = 1;
  /** soft epoch: bumped at every run() entry (flushDecoded) */
  softEpoch = 1;
  private layoutSeen = -1;
  private featSeen = new Uint8Array(0);
  /** per physical page (RAM slot): write generation, and which 128-byte lines of it hold decoded
   *  code (bit i = bytes 128i..128i+127); a write to such a line invalidates the page's code */
  pageGen = new Int32Array(0);
  codeMap = new Int32Array(0);
  /** set when a write hits a page holding decoded code (compiled blocks stop after the store) */
  codeHit = false;

  constructor() {
    this.mem.onWrite = (pa: number): void => {
      if (this.codeMap[pa >>> 12]) this.codeCheck(pa, 4);
    };
  }

  /** a write of `size` bytes at physical `pa` in a page holding code: invalidate when it hits a code line */
  codeCheck(pa: number, size: number): void {
    const cm = this.codeMap;
    const p = pa >>> 12, e = pa + size - 1, pe = e >>> 12;
    if (((cm[p]! >>> ((pa >>> 7) & 31)) & 1) !== 0) this.codeWrite(p);
    if (((cm[pe]! >>> ((e >>> 7) & 31)) & 1) !== 0) this.codeWrite(pe);
  }

  /** record decoded code at physical [pa, pa + len) (len ≤ 4096, RAM slot) */
  noteCode(pa: number, len: number): void {
    const cm = this.codeMap;
    for (let l = pa >>> 7, le = (pa + len - 1) >>> 7; l <= le; l++) cm[l >>> 5] = cm[l >>> 5]! | (1 << (l & 31));
  }

  /** a guest write hit a page holding decoded instructions */
  codeWrite(page: number): void {
    this.codeMap[page] = 0;
    this.pageGen[page] = (this.pageGen[page]! + 1) | 0;
    if (page === this.blockPage) this.codeHit = true;
  }

  /** physical page of the compiled block running (compile.ts), whose code a store may hit */
  blockPage = -1;
  /** set by a compiled block: 1 = it ended on an inline branch (the next block may follow at once) */
  chain = 0;
  /** what a compiled block caught (a fault or exit signal), handed to the loop without a rethrow
   *  (compile.ts); null when none */
  blockFault: unknown = null;
  /** the Tier-1 block cache (compile.ts tier1Of), untyped here to keep cpu.ts free of compile.ts */
  tier1: object | undefined = undefined;

  /**
   * Called at every run() entry and after a memory-layout or CPUID change: decoded instructions are
   * re-checked against memory before their next use (soft epoch); a new layout or feature set drops
   * them all (hard epoch).
   */
  flushDecoded(): void {
    this.softEpoch = (this.softEpoch + 1) | 0;
    const feat = this.feat;
    let same = this.layoutSeen === this.mem.layoutGen && this.featSeen.length === feat.length;
    for (let i = 0; same && i < feat.length; i++) if (feat[i] !== this.featSeen[i]) same = false;
    if (!same) {
      this.dcEpoch = (this.dcEpoch + 1) & 0xfffffff;
      this.layoutSeen = this.mem.layoutGen;
      this.featSeen = feat.slice();
      this.onHardFlush();
    }
    if (this.pageGen.length !== this.mem.ramSize >>> 12) {
      this.pageGen = new Int32Array(this.mem.ramSize >>> 12);
      this.codeMap = new Int32Array(this.mem.ramSize >>> 12);
    }
  }

  /** hook for the block compiler's cache (compile.ts) */
  onHardFlush(): void {
    /* replaced by the compiler */
  }

  /** Decode the instruction at CS:RIP, from the decode cache when possible. */
  decode(): void {
    const sLo = this.r[RIP_LO]!;
    const code64 = this.code64;
    let lo = sLo, ok = true;
    if (!code64) {
      ok = (sLo >>> 0) + 15 <= this.segLimit[CS]! >>> 0;
      lo = (this.segBase[CS]! + sLo) | 0;
    }
    const hi = code64 ? this.r[RIP_HI]! : 0;
    if (ok && ((lo & ~0xfff) !== this.fLinPage || hi !== this.fLinPageHi)) {
      // map the page of the first byte now (the fault decodeFull would raise at its first fetch)
      this.startLo = sLo; this.startHi = this.r[RIP_HI]!;
      this.fillFetch(lo, hi);
    }
    if (!ok || (lo & 0xfff) > 0xff0 || this.fU8 !== this.mem.ramU8) {
      this.decodeFull(this.scratch);
      return;
    }
    const pa = this.fOff + (lo & 0xfff);
    const key = (code64 ? 1 : 0) | (this.def32 ? 2 : 0) | ((this.cr0 & CR0_PE) !== 0 && (this.fl & VM) === 0 ? 4 : 0) | (this.dcEpoch << 3);
    const h = (pa ^ (pa >>> Cpu.DC_BITS)) & ((1 << Cpu.DC_BITS) - 1);
    const page = pa >>> 12;
    if (this.dcPa[h] === pa && this.dcKey[h] === key &&
      (this.dcGen[h] === this.pageGen[page] ? this.dcSoft[h] === this.softEpoch || this.recheck(h, pa) : this.regen(h, pa, page))) {
      const d = this.dcInsn[h]!;
      this.d = d;
      this.startLo = sLo;
      this.startHi = this.r[RIP_HI]!;
      const n = (sLo + d.len) | 0;
      if (code64) {
        this.r[RIP_LO] = n;
        if (n >>> 0 < sLo >>> 0) this.r[RIP_HI] = (this.startHi + 1) | 0;
      } else this.r[RIP_LO] = this.def32 ? n : n & 0xffff;
      return;
    }
    if (page >= this.codeMap.length) {
      this.decodeFull(this.scratch);
      return;
    }
    this.dcPa[h] = -1;
    this.decodeFull(this.dcInsn[h]!);
    this.dcPa[h] = pa;
    this.dcKey[h] = key;
    this.dcGen[h] = this.pageGen[page]!;
    this.dcSoft[h] = this.softEpoch;
    const len = this.dcInsn[h]!.len;
    const m = this.mem.ramU8, b = this.dcBytes;
    for (let i = 0, j = h << 4; i < len; i++, j++) b[j] = m[pa + i]!;
    this.noteCode(pa, len);
  }

  /** the page of entry h was written since it was decoded (self-modifying code usually rewrites a
   *  few bytes of a page): still valid if its own bytes are unchanged */
  private regen(h: number, pa: number, page: number): boolean {
    if (!this.recheck(h, pa)) return false;
    this.dcGen[h] = this.pageGen[page]!;
    this.noteCode(pa, this.dcInsn[h]!.len);
    return true;
  }

  /** first use of entry h in this soft epoch: are its bytes still the ones in memory? */
  private recheck(h: number, pa: number): boolean {
    const len = this.dcInsn[h]!.len;
    const m = this.mem.ramU8, b = this.dcBytes;
    for (let i = 0, j = h << 4; i < len; i++, j++) if (m[pa + i] !== b[j]) return false;
    this.dcSoft[h] = this.softEpoch;
    return true;
  }

  /** Decode the instruction at CS:RIP into `into` (becomes this.d) (SDM Vol. 2 §2.1-2.3). */
  decodeFull(into: Insn = this.scratch): void {
    this.d = into;
    const sLo = this.r[RIP_LO]!, sHi = this.r[RIP_HI]!;
    this.startLo = sLo;
    this.startHi = sHi;
    const code64 = this.code64;
    this.fastFetch = false;
    {
      let lo = sLo, hi = sHi, ok = true;
      if (!code64) {
        ok = (sLo >>> 0) + 15 <= this.segLimit[CS]! >>> 0;
        lo = (this.segBase[CS]! + sLo) | 0;
        hi = 0;
      }
      if (ok && (lo & ~0xfff) === this.fLinPage && hi === this.fLinPageHi && (lo & 0xfff) <= 0xff0) {
        this.fBase = this.fOff + (lo & 0xfff);
        this.fastFetch = true;
      }
    }
    let i = 0, b = 0, osz16 = false, asz16 = false, rep = 0, lock = false, rex = 0, segOvr = -1;
    for (;;) {
      if (i >= 15) throw new CpuFault(13, 0, 0, 0, 'instruction longer than 15 bytes');
      b = this.fetch(i++);
      switch (b) {
        case 0x26: segOvr = ES; rex = 0; continue;
        case 0x2e: segOvr = CS; rex = 0; continue;
        case 0x36: segOvr = SS; rex = 0; continue;
        case 0x3e: segOvr = DS; rex = 0; continue;
        case 0x64: segOvr = FS; rex = 0; continue;
        case 0x65: segOvr = GS; rex = 0; continue;
        case 0x66: osz16 = true; rex = 0; continue;
        case 0x67: asz16 = true; rex = 0; continue;
        case 0xf0: lock = true; rex = 0; continue;
        case 0xf2: case 0xf3: rep = b; rex = 0; continue;
      }
      if (code64 && (b & 0xf0) === 0x40) {
        rex = b; // a REX prefix must come last; an earlier one is ignored ("last REX wins")
        continue;
      }
      break;
    }
    let map = 0;
    let vex = false, vexW = false, vvvv = 0, vexL = 0, vexPP = 0;
    if (b === 0x0f) {
      b = this.fetch(i++);
      if (b === 0x38) { map = 2; b = this.fetch(i++); }
      else if (b === 0x3a) { map = 3; b = this.fetch(i++); }
      else map = 1;
    } else if ((b === 0xc4 || b === 0xc5) && (code64 || this.fetch(i) >= 0xc0) && (this.cr0 & CR0_PE) !== 0 && (this.fl & VM) === 0) {
      // VEX (SDM Vol. 2 §2.3): 66/F2/F3/REX before VEX → #UD
      if (osz16 || rep !== 0 || rex !== 0) throw new CpuFault(6, -1, 0, 0, 'prefix before VEX');
      vex = true;
      const b1 = this.fetch(i++);
      if (b === 0xc5) {
        rex = 0x40 | (b1 & 0x80 ? 0 : 4);
        map = 1;
        vvvv = (~b1 >> 3) & 0xf; vexL = (b1 >> 2) & 1; vexPP = b1 & 3;
      } else {
        const b2 = this.fetch(i++);
        rex = 0x40 | (b1 & 0x80 ? 0 : 4) | (b1 & 0x40 ? 0 : 2) | (b1 & 0x20 ? 0 : 1);
        map = b1 & 0x1f;
        if (map < 1 || map > 3) throw new CpuFault(6, -1, 0, 0, 'reserved VEX map');
        vexW = (b2 & 0x80) !== 0;
        vvvv = (~b2 >> 3) & 0xf; vexL = (b2 >> 2) & 1; vexPP = b2 & 3;
      }
      if (!code64) { vvvv &= 7; rex &= ~7; }
      b = this.fetch(i++);
    }
    this.d.rexPresent = rex !== 0;
    const rexW = (rex & 8) !== 0 || (vex && vexW && code64);
    this.d.rexW = rexW;
    const mp = vex ? vexPP : rep === 0xf3 ? 2 : rep === 0xf2 ? 3 : osz16 ? 1 : 0;
    // walk the decode tree
    let node = (vex ? G.ROOT_VEX : G.ROOT_LEGACY)[map * 256 + b]!;
    let modrm = -1;
    const N = G.NODES;
    while (node !== 0 && N[node] !== 1) {
      switch (N[node]) {
        case 2: node = N[node + 1 + mp]!; break;
        case 6: node = N[node + 1 + (code64 ? 1 : 0)]!; break;
        default: {
          if (modrm < 0) modrm = this.fetch(i++);
          const k = N[node]!;
          if (k === 3) node = N[node + 1 + ((modrm >> 3) & 7)]!;
          else if (k === 4) node = N[node + 1 + ((modrm >> 6) === 3 ? 1 : 0)]!;
          else node = N[node + 1 + (modrm & 7)]!;
        }
      }
    }
    if (node === 0) {
      this.d.len = i;
      throw new CpuFault(6, -1, 0, 0, 'undefined opcode');
    }
    const row = N[node + 1]!;
    this.d.row = row;
    const rf = G.ROW_FLAGS[row]!;
    let op = G.ROW_OP[row]!;
    const feat = G.ROW_FEATURE[row]!;
    if (feat !== 0 && this.feat[feat] === 0) {
      if (G.ROW_ABSENT_OP[row] !== 0) op = G.ROW_ABSENT_OP[row]!;
      else if (!(op === G.OP_LAHF || op === G.OP_SAHF) || code64) throw new CpuFault(6, -1, 0, 0, `guest CPUID lacks ${G.FEATURE_NAMES[feat]}`);
    }
    if (vex && vexL !== 0) throw new CpuFault(6, -1, 0, 0, 'VEX.L=1');
    // VEX.vvvv must be 1111b when no operand uses it (RORX; SDM Vol. 2 §2.3.6 "VEX.vvvv")
    if (vex && vvvv !== 0 && G.ROW_K1[row] !== G.K_B && G.ROW_K2[row] !== G.K_B && G.ROW_K3[row] !== G.K_B && G.ROW_K1[row] !== G.K_H && G.ROW_K2[row] !== G.K_H && G.ROW_K3[row] !== G.K_H) throw new CpuFault(6, -1, 0, 0, 'VEX.vvvv not 1111b');
    this.d.op = op;
    this.d.arg = G.ROW_ARG[row]!;
    this.d.rf = rf;
    this.d.k1 = G.ROW_K1[row]!; this.d.k2 = G.ROW_K2[row]!; this.d.k3 = G.ROW_K3[row]!;
    this.d.vreg = vvvv;
    this.d.rep = rep;
    this.d.lock = lock;
    this.d.segOvr = segOvr;
    // operand and address size (SDM Vol. 1 §3.6, Vol. 2 §2.2.1.2)
    let osz: number;
    if (rf & G.F_BYTE) osz = 1;
    else if (rf & G.F_SIZE_Y) osz = rexW ? 8 : 4;
    else if (rf & G.F_SIZE_W) osz = 2;
    else if (code64) osz = rexW ? 8 : rf & G.F_F64 ? 8 : osz16 ? 2 : rf & G.F_D64 ? 8 : 4;
    else osz = this.def32 !== osz16 ? 4 : 2;
    this.d.osz = osz;
    const asz = code64 ? (asz16 ? 4 : 8) : this.def32 !== asz16 ? 4 : 2;
    this.d.asz = asz;
    this.d.zreg = (b & 7) | (rex & 1 ? 8 : 0);
    let seg = DS;
    if (rf & G.F_MODRM) {
      if (modrm < 0) modrm = this.fetch(i++);
      const mod = rf & G.F_FORCE_REG ? 3 : modrm >> 6;
      this.d.mod = mod;
      this.d.reg = ((modrm >> 3) & 7) | (rex & 4 ? 8 : 0);
      if (mod === 3) {
        this.d.rm = (modrm & 7) | (rex & 1 ? 8 : 0);
      } else {
        this.d.rm = modrm & 7;
        let base = -1, index = -1, scale = 0, disp = 0;
        if (asz === 2) {
          switch (modrm & 7) {
            case 0: base = 3; index = 6; break;
            case 1: base = 3; index = 7; break;
            case 2: base = 5; index = 6; seg = SS; break;
            case 3: base = 5; index = 7; seg = SS; break;
            case 4: base = 6; break;
            case 5: base = 7; break;
            case 6: if (mod === 0) { disp = this.fetch(i) | (this.fetch(i + 1) << 8); i += 2; } else { base = 5; seg = SS; } break;
            default: base = 3;
          }
          if (mod === 1) { disp = (this.fetch(i++) << 24) >> 24; }
          else if (mod === 2) { disp = ((this.fetch(i) | (this.fetch(i + 1) << 8)) << 16) >> 16; i += 2; }
        } else {
          let rm = modrm & 7;
          if (rm === 4) {
            const sib = this.fetch(i++);
            scale = sib >> 6;
            index = ((sib >> 3) & 7) | (rex & 2 ? 8 : 0);
            if (index === 4) index = -1;
            rm = sib & 7;
            if (rm === 5 && mod === 0) {
              base = -1;
              disp = this.fetch(i) | (this.fetch(i + 1) << 8) | (this.fetch(i + 2) << 16) | (this.fetch(i + 3) << 24);
              i += 4;
            } else base = rm | (rex & 1 ? 8 : 0);
          } else if (rm === 5 && mod === 0) {
            base = code64 ? 16 : -1; // RIP-relative in 64-bit mode
            disp = this.fetch(i) | (this.fetch(i + 1) << 8) | (this.fetch(i + 2) << 16) | (this.fetch(i + 3) << 24);
            i += 4;
          } else base = rm | (rex & 1 ? 8 : 0);
          if (base === 4 || base === 5) seg = SS;
          if (mod === 1) disp = (this.fetch(i++) << 24) >> 24;
          else if (mod === 2) {
            disp = this.fetch(i) | (this.fetch(i + 1) << 8) | (this.fetch(i + 2) << 16) | (this.fetch(i + 3) << 24);
            i += 4;
          }
        }
        this.d.eaBase = base; this.d.eaIndex = index; this.d.eaScale = scale; this.d.eaDisp = disp; this.d.eaDispHi = disp >> 31;
      }
    } else this.d.mod = 3;
    if (lock && (!(rf & G.F_LOCK) || this.d.mod === 3)) throw new CpuFault(6, -1, 0, 0, 'LOCK on a non-lockable instruction');
    // immediates
    if (rf & G.F_MOFFS) {
      this.d.mod = 0; this.d.eaBase = -1; this.d.eaIndex = -1; this.d.eaScale = 0;
      if (asz === 8) {
        this.d.eaDisp = this.fetch32(i); this.d.eaDispHi = this.fetch32(i + 4); i += 8;
      } else if (asz === 4) { this.d.eaDisp = this.fetch32(i); this.d.eaDispHi = 0; i += 4; }
      else { this.d.eaDisp = this.fetch(i) | (this.fetch(i + 1) << 8); this.d.eaDispHi = 0; i += 2; }
    }
    switch ((rf >> G.IMM_SHIFT) & 7) {
      case G.IMM_IB: this.d.imm = this.fetch(i++); this.d.immHi = 0; break;
      case G.IMM_IBS: this.d.imm = (this.fetch(i++) << 24) >> 24; this.d.immHi = this.d.imm >> 31; break;
      case G.IMM_IW: this.d.imm = this.fetch(i) | (this.fetch(i + 1) << 8); this.d.immHi = 0; i += 2; break;
      case G.IMM_IZ:
        if (osz === 2) { this.d.imm = this.fetch(i) | (this.fetch(i + 1) << 8); i += 2; this.d.immHi = 0; }
        else { this.d.imm = this.fetch32(i); this.d.immHi = this.d.imm >> 31; i += 4; }
        break;
      case G.IMM_IV:
        if (osz === 2) { this.d.imm = this.fetch(i) | (this.fetch(i + 1) << 8); i += 2; }
        else if (osz === 4) { this.d.imm = this.fetch32(i); i += 4; }
        else { this.d.imm = this.fetch32(i); this.d.immHi = this.fetch32(i + 4); i += 8; }
        if (osz !== 8) this.d.immHi = 0;
        break;
      case G.IMM_AP:
        if (osz === 2) { this.d.imm = this.fetch(i) | (this.fetch(i + 1) << 8); i += 2; }
        else { this.d.imm = this.fetch32(i); i += 4; }
        this.d.imm2 = this.fetch(i) | (this.fetch(i + 1) << 8); i += 2;
        break;
      case G.IMM_IWIB:
        this.d.imm = this.fetch(i) | (this.fetch(i + 1) << 8); this.d.imm2 = this.fetch(i + 2); i += 3;
        break;
    }
    if (i > 15) throw new CpuFault(13, 0, 0, 0, 'instruction longer than 15 bytes');
    this.d.len = i;
    this.d.seg = segOvr >= 0 ? segOvr : seg;
    // RIP now points to the next instruction
    const n = (this.startLo + i) | 0;
    if (code64) {
      this.r[RIP_LO] = n;
      if (n >>> 0 < this.startLo >>> 0) this.r[RIP_HI] = (this.startHi + 1) | 0;
    } else this.r[RIP_LO] = this.def32 ? n : n & 0xffff;
  }

  private fetch32(i: number): number {
    return this.fetch(i) | (this.fetch(i + 1) << 8) | (this.fetch(i + 2) << 16) | (this.fetch(i + 3) << 24);
  }

  /** effective address of the ModRM memory operand into eaLo/eaHi (SDM Vol. 2 §2.1.5) */
  calcEa(): void {
    let lo = this.d.eaDisp, hi = this.d.eaDispHi;
    const r = this.r;
    const b = this.d.eaBase;
    if (b >= 0) {
      const bl = b === 16 ? r[RIP_LO]! : r[b << 1]!;
      const bh = b === 16 ? r[RIP_HI]! : r[(b << 1) + 1]!;
      const n = (lo + bl) | 0;
      hi = (hi + bh + (n >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
      lo = n;
    }
    const x = this.d.eaIndex;
    if (x >= 0) {
      let xl = r[x << 1]!, xh = r[(x << 1) + 1]!;
      const s = this.d.eaScale;
      if (s) { xh = (xh << s) | (xl >>> (32 - s)); xl <<= s; }
      const n = (lo + xl) | 0;
      hi = (hi + xh + (n >>> 0 < lo >>> 0 ? 1 : 0)) | 0;
      lo = n;
    }
    if (this.d.asz === 8) { this.eaLo = lo; this.eaHi = hi; }
    else if (this.d.asz === 4) { this.eaLo = lo; this.eaHi = 0; }
    else { this.eaLo = lo & 0xffff; this.eaHi = 0; }
  }

  // ======================================================================================
  // operands
  // ======================================================================================

  /** read operand of kind k (decoder.generated K_*) at `size`; 64-bit high half in vh */
  ld(k: number, size: number): number {
    switch (k) {
      case G.K_E: case G.K_M: case G.K_R:
        if (this.d.mod === 3) return this.getReg(this.d.rm, size);
        return this.rdM(size);
      case G.K_G: return this.getReg(this.d.reg, size);
      case G.K_I: case G.K_J: this.vh = this.d.immHi; return size === 1 ? this.d.imm & 0xff : size === 2 ? this.d.imm & 0xffff : this.d.imm;
      case G.K_RAX: return this.getReg(0, size);
      case G.K_Z: return this.getReg(this.d.zreg, size);
      case G.K_O: return this.rdM(size);
      case G.K_B: return this.getReg(this.d.vreg, size);
      case G.K_CL: this.vh = 0; return this.r[2]! & 0xff;
      case G.K_ONE: this.vh = 0; return 1;
      case G.K_DX: this.vh = 0; return this.r[4]! & 0xffff;
      default: throw new CpuFault(-1, -1, 0, 0, `operand kind ${k} not readable`);
    }
  }

  st(k: number, size: number, v: number, vh: number): void {
    switch (k) {
      case G.K_E: case G.K_M: case G.K_R:
        if (this.d.mod === 3) this.setReg(this.d.rm, size, v, vh);
        else this.wrM(size, v, vh);
        return;
      case G.K_G: this.setReg(this.d.reg, size, v, vh); return;
      case G.K_RAX: this.setReg(0, size, v, vh); return;
      case G.K_Z: this.setReg(this.d.zreg, size, v, vh); return;
      case G.K_O: this.wrM(size, v, vh); return;
      case G.K_B: this.setReg(this.d.vreg, size, v, vh); return;
      default: throw new CpuFault(-1, -1, 0, 0, `operand kind ${k} not writable`);
    }
  }

  rdM(size: number): number {
    this.calcEa();
    return this.rd(this.d.seg, this.eaLo, this.eaHi, size);
  }

  wrM(size: number, v: number, vh: number): void {
    this.calcEa();
    this.wr(this.d.seg, this.eaLo, this.eaHi, size, v, vh);
  }

  // ---- helpers for system code ---------------------------------------------------------------

  /** linear address of seg:offset without limit/canonical checks (INVLPG) */
  segLinNoCheck(seg: number, off: number, offHi: number): number {
    if (this.code64) {
      if (seg < FS) { this.linHi = offHi; return off; }
      const lo = (off + this.segBase[seg]!) | 0;
      this.linHi = (offHi + this.segBaseHi[seg]! + (lo >>> 0 < off >>> 0 ? 1 : 0)) | 0;
      return lo;
    }
    this.linHi = 0;
    return (this.segBase[seg]! + off) | 0;
  }

  /** an instruction the interpreter decodes but does not implement: becomes an internal_error exit */
  unimplementedFault(what: string): CpuFault {
    return new CpuFault(-1, -1, 0, 0, `unimplemented: ${what}`);
  }

  hasFeature(name: string): boolean {
    const i = G.FEATURE_NAMES.indexOf(name);
    if (i > 0) return this.feat[i] !== 0;
    return this.extraFeat.has(name);
  }

  /** features gated inside handlers rather than by the table (cx16 …) */
  extraFeat = new Set<string>();
}
