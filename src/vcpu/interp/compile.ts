// Tier 1: hot straight-line code compiled into JavaScript functions (DESIGN.md §4 "Tier 1"). A block
// is a run of decoded instructions inside one 4-KiB page (Intel SDM Vol. 2 ch. 2 instruction format,
// decoded by Cpu.decodeFull), ending at a branch, at an instruction that changes control state, at the
// page end or after MAX_INSNS. Common general-purpose instructions (SDM Vol. 2 pages of ADD…XOR, MOV,
// LEA, TEST, INC/DEC, NOT/NEG, MOVZX/MOVSX, CMOVcc/SETcc, PUSH/POP, shifts, IMUL, Jcc/JMP/CALL rel)
// are emitted inline with their lazy flags (SDM Vol. 1 Appendix A); the others call the interpreter's
// execute() for that one instruction. Exactness rules:
//  - faults: before anything that can throw, the compiled code knows the instruction index; the
//    catch sets startLo/startHi (the faulting instruction) and icount, and the loop delivers the
//    fault exactly as the interpreter would (nothing of the faulting instruction is written first);
//  - instruction boundaries: the budget is checked before each pass of a block; interrupts, TF and the
//    interrupt shadow are handled by the loop between blocks (blocks start only with TF=0, no shadow,
//    and end after any instruction that may change IF, TF, the shadow, the mode or control registers);
//  - self-modifying code and VMM writes: a block is keyed like the decode cache (physical address,
//    mode key, page write generation, soft epoch with a byte re-check); a store that hits a code page or
//    makes an MMIO/IO exit stops the block after that instruction.
// Only 32- and 64-bit code is compiled (16-bit code stays interpreted).

import { CpuFault } from '../../arch/x86/exceptions.ts';
import * as G from './decoder.generated.ts';
import { Cpu, Insn, LF_ADD, LF_SUB, LF_LOGIC, LF_INC, LF_DEC } from './cpu.ts';
import { execute, shift, imulTrunc } from './exec.ts';
import { CS, SS, A_DB, RIP_LO, RIP_HI, CR0_PE, VM } from './state.ts';

/** a compiled block: runs at most `budget` instructions (0 = declined), returns how many retired */
type BlockFn = (c: Cpu, r: Int32Array, budget: number) => number;

const BITS = 12;
const SLOTS = 1 << BITS;
/** executions of a block entry in the interpreter before it is compiled */
const HOT = 24;
/** a page whose code was overwritten more often than this is left to the interpreter */
const SMC_LIMIT = 6;
const MAX_INSNS = 64;

/** instructions the interpreter's execute() may run inside a block without ending it: they change
 *  general registers, arithmetic flags, DF and memory only */
const SAFE = new Set<number>([
  G.OP_ALU, G.OP_MOV, G.OP_TEST, G.OP_LEA, G.OP_INC, G.OP_DEC, G.OP_NOT, G.OP_NEG, G.OP_MOVZX, G.OP_MOVSX,
  G.OP_MOVSXD, G.OP_CMOV, G.OP_SETCC, G.OP_PUSH, G.OP_POP, G.OP_SHIFT, G.OP_IMUL2, G.OP_IMUL3, G.OP_NOP,
  G.OP_XCHG, G.OP_MUL, G.OP_IMUL1, G.OP_DIV, G.OP_IDIV, G.OP_CBW, G.OP_CWD, G.OP_CLC, G.OP_STC, G.OP_CMC,
  G.OP_CLD, G.OP_STD, G.OP_LAHF, G.OP_SAHF, G.OP_BT, G.OP_BSF, G.OP_BSR, G.OP_TZCNT, G.OP_LZCNT,
  G.OP_POPCNT, G.OP_BSWAP, G.OP_CMPXCHG, G.OP_XADD, G.OP_LEAVE, G.OP_SHLD, G.OP_SHRD,
]);

const MASK = [0, 0xff, 0xffff, 0, -1, 0, 0, 0, -1];

/** An operand as the emitter sees it. */
interface Opnd {
  kind: 'reg' | 'mem' | 'imm';
  n: number;
  lo: number;
  hi: number;
}

/** Flag producer of the previous instruction, for inline conditions. */
interface Producer {
  op: number;
  size: number;
  carryIn: boolean;
}

class Emitter {
  readonly out: string[] = [];
  readonly insns: Insn[] = [];
  constructor(readonly code64: boolean) {}

  /** operand of kind k in instruction d at `size`, or undefined (unsupported here) */
  opnd(d: Insn, k: number, size: number): Opnd | undefined {
    switch (k) {
      case G.K_E: case G.K_M: case G.K_R:
        if (d.mod === 3) return { kind: 'reg', n: d.rm, lo: 0, hi: 0 };
        return d.asz === 2 ? undefined : { kind: 'mem', n: 0, lo: 0, hi: 0 };
      case G.K_O: return d.asz === 2 ? undefined : { kind: 'mem', n: 0, lo: 0, hi: 0 };
      case G.K_G: return { kind: 'reg', n: d.reg, lo: 0, hi: 0 };
      case G.K_RAX: return { kind: 'reg', n: 0, lo: 0, hi: 0 };
      case G.K_Z: return { kind: 'reg', n: d.zreg, lo: 0, hi: 0 };
      case G.K_I: return { kind: 'imm', n: 0, lo: size === 1 ? d.imm & 0xff : size === 2 ? d.imm & 0xffff : d.imm, hi: d.immHi };
      case G.K_ONE: return { kind: 'imm', n: 0, lo: 1, hi: 0 };
      default: return undefined;
    }
  }

  /** code computing the effective address of d's memory operand into el/eh (SDM Vol. 2 §2.1.5) */
  ea(d: Insn, end: number): string {
    const base = d.eaBase, x = d.eaIndex, s = d.eaScale;
    const parts: string[] = [];
    if (d.asz === 8) {
      parts.push(`el = ${d.eaDisp | 0}; eh = ${d.eaDispHi | 0};`);
      if (base >= 0) {
        const bl = base === 16 ? `((s0 + ${end}) | 0)` : `r[${base * 2}]`;
        const bh = base === 16 ? 'h0' : `r[${base * 2 + 1}]`;
        parts.push(`{ const t = (el + ${bl}) | 0; eh = (eh + ${bh} + ((t >>> 0) < (el >>> 0) ? 1 : 0)) | 0; el = t; }`);
      }
      if (x >= 0) {
        const xl = s ? `(r[${x * 2}] << ${s})` : `r[${x * 2}]`;
        const xh = s ? `((r[${x * 2 + 1}] << ${s}) | (r[${x * 2}] >>> ${32 - s}))` : `r[${x * 2 + 1}]`;
        parts.push(`{ const t = (el + ${xl}) | 0; eh = (eh + ${xh} + ((t >>> 0) < (el >>> 0) ? 1 : 0)) | 0; el = t; }`);
      }
    } else {
      let e = `${d.eaDisp | 0}`;
      if (base >= 0) e += ` + ${base === 16 ? `(s0 + ${end})` : `r[${base * 2}]`}`;
      if (x >= 0) e += s ? ` + (r[${x * 2}] << ${s})` : ` + r[${x * 2}]`;
      parts.push(`el = (${e}) | 0; eh = 0;`);
    }
    return parts.join(' ');
  }

  /** [lo, hi] expressions reading register n at size (hi is '0' below 8 bytes) */
  rdReg(d: Insn, n: number, size: number): [string, string] {
    switch (size) {
      case 8: return [`r[${n * 2}]`, `r[${n * 2 + 1}]`];
      case 4: return [`r[${n * 2}]`, '0'];
      case 2: return [`(r[${n * 2}] & 0xffff)`, '0'];
      default:
        if (n >= 4 && n < 8 && !d.rexPresent) return [`((r[${(n - 4) * 2}] >>> 8) & 0xff)`, '0'];
        return [`(r[${n * 2}] & 0xff)`, '0'];
    }
  }

  /** statement writing lo/hi expressions to register n at size (SDM Vol. 1 §3.4.1.1 zero-extension) */
  wrReg(d: Insn, n: number, size: number, lo: string, hi: string): string {
    const i = n * 2;
    switch (size) {
      case 8: return `r[${i}] = ${lo}; r[${i + 1}] = ${hi};`;
      case 4: return `r[${i}] = ${lo}; r[${i + 1}] = 0;`;
      case 2: return `r[${i}] = (r[${i}] & ~0xffff) | (${lo} & 0xffff);`;
      default:
        if (n >= 4 && n < 8 && !d.rexPresent) {
          const j = (n - 4) * 2;
          return `r[${j}] = (r[${j}] & ~0xff00) | ((${lo} & 0xff) << 8);`;
        }
        return `r[${i}] = (r[${i}] & ~0xff) | (${lo} & 0xff);`;
    }
  }

  /** statement loading operand o into locals lo/hi names */
  load(d: Insn, o: Opnd, size: number, lo: string, hi: string): string {
    if (o.kind === 'reg') {
      const [a, b] = this.rdReg(d, o.n, size);
      return `${lo} = ${a}; ${hi} = ${b};`;
    }
    if (o.kind === 'imm') return `${lo} = ${o.lo | 0}; ${hi} = ${size === 8 ? o.hi | 0 : 0};`;
    return `${lo} = c.rd(${d.seg}, el, eh, ${size}); ${hi} = ${size === 8 ? 'c.vh' : '0'};`;
  }

  store(d: Insn, o: Opnd, size: number, lo: string, hi: string): string {
    if (o.kind === 'reg') return this.wrReg(d, o.n, size, lo, hi);
    return `c.wr(${d.seg}, el, eh, ${size}, ${lo}, ${hi});`;
  }

  /** condition cc (SDM Vol. 1 Table B-1) inline from the previous producer when possible */
  cond(cc: number, p: Producer | undefined): string {
    if (p === undefined || p.carryIn) return `c.cond(${cc})`;
    const sz = p.size;
    if (p.op === LF_SUB) {
      if (sz === 8) {
        const ltu = '(AH !== BH ? (AH >>> 0) < (BH >>> 0) : (A >>> 0) < (B >>> 0))';
        const eq = '(A === B && AH === BH)';
        const lts = '(AH !== BH ? AH < BH : (A >>> 0) < (B >>> 0))';
        switch (cc) {
          case 2: return ltu;
          case 3: return `!${ltu}`;
          case 4: return eq;
          case 5: return `!${eq}`;
          case 6: return `(${ltu} || ${eq})`;
          case 7: return `!(${ltu} || ${eq})`;
          case 12: return lts;
          case 13: return `!${lts}`;
          case 14: return `(${lts} || ${eq})`;
          case 15: return `!(${lts} || ${eq})`;
          default: return `c.cond(${cc})`;
        }
      }
      const sh = 32 - 8 * sz;
      const sa = sh ? `((A << ${sh}) >> ${sh})` : 'A', sb = sh ? `((B << ${sh}) >> ${sh})` : 'B';
      switch (cc) {
        case 2: return '((A >>> 0) < (B >>> 0))';
        case 3: return '((A >>> 0) >= (B >>> 0))';
        case 4: return '(A === B)';
        case 5: return '(A !== B)';
        case 6: return '((A >>> 0) <= (B >>> 0))';
        case 7: return '((A >>> 0) > (B >>> 0))';
        case 12: return `(${sa} < ${sb})`;
        case 13: return `(${sa} >= ${sb})`;
        case 14: return `(${sa} <= ${sb})`;
        case 15: return `(${sa} > ${sb})`;
        default: return `c.cond(${cc})`;
      }
    }
    if (p.op === LF_LOGIC) {
      const zero = sz === 8 ? '((R | RH) === 0)' : '(R === 0)';
      const neg = sz === 8 ? '(RH < 0)' : sz === 4 ? '(R < 0)' : `((R & ${sz === 1 ? 0x80 : 0x8000}) !== 0)`;
      switch (cc) {
        case 2: case 6: return cc === 2 ? 'false' : zero;
        case 3: return 'true';
        case 4: return zero;
        case 5: return `!${zero}`;
        case 7: return `!${zero}`;
        case 8: case 12: return neg;
        case 9: case 13: return `!${neg}`;
        case 14: return `(${zero} || ${neg})`;
        case 15: return `!(${zero} || ${neg})`;
        default: return `c.cond(${cc})`;
      }
    }
    return `c.cond(${cc})`;
  }

  /** push lo/hi at size (Cpu.push inline: 64-bit mode, or a 32-bit stack (SS.B=1)) */
  push(osz: number, lo: string, hi: string): string {
    if (this.code64) {
      return `{ const sl = (r[8] - ${osz}) | 0; const sh = (sl >>> 0) > (r[8] >>> 0) ? (r[9] - 1) | 0 : r[9]; ` +
        `c.wr(${SS}, sl, sh, ${osz}, ${lo}, ${hi}); r[8] = sl; r[9] = sh; }`;
    }
    return `if ((c.segAttr[${SS}] & ${A_DB}) !== 0) { const sl = (r[8] - ${osz}) | 0; c.wr(${SS}, sl, 0, ${osz}, ${lo}, ${hi}); r[8] = sl; } ` +
      `else c.push(${osz}, ${lo}, ${hi});`;
  }

  /** pop into v/vh, then move the stack pointer by osz + extra (Cpu.peek + addSp inline) */
  pop(osz: number, extra: number): string {
    const n = osz + extra;
    if (this.code64) {
      return `v = c.rd(${SS}, r[8], r[9], ${osz}); vh = ${osz === 8 ? 'c.vh' : '0'}; ` +
        `{ const sl = (r[8] + ${n}) | 0; if ((sl >>> 0) < (r[8] >>> 0)) r[9] = (r[9] + 1) | 0; r[8] = sl; }`;
    }
    return `if ((c.segAttr[${SS}] & ${A_DB}) !== 0) { v = c.rd(${SS}, r[8], 0, ${osz}); vh = 0; r[8] = (r[8] + ${n}) | 0; } ` +
      `else { v = c.peek(${osz}, 0); vh = 0; c.addSp(${n}); }`;
  }

  /** lazy-flag record (the fields Cpu.alu() writes) */
  lazy(op: number, size: number, carry: string | undefined): string {
    return `c.lfOp = ${op}; c.lfSize = ${size}; c.lfA = A; c.lfAh = AH; c.lfB = B; c.lfBh = BH; c.lfR = R; c.lfRh = RH;` +
      (carry !== undefined ? ` c.lfC = ${carry};` : '');
  }
}

/** After a store: stop the block after this instruction if it hit code or made an exit. */
function afterStore(j: number, end: number): string {
  return `if (c.deferredExit !== 0 || c.codeHit) { r[${RIP_LO}] = (s0 + ${end}) | 0; done += ${j + 1}; c.chain = 0; break; }`;
}

/**
 * Emit instruction j (at offset `off`, next instruction at `end`). Returns the code, whether the
 * block ends here, and the flag producer it leaves (for the next instruction's condition).
 */
function emitInsn(e: Emitter, d: Insn, j: number, off: number, end: number, prev: Producer | undefined, last: boolean, follow?: number):
  { code: string; terminal: boolean; prod: Producer | undefined } {
  void off;
  const osz = d.osz;
  const m = MASK[osz]!;
  const fallback = (terminal: boolean): { code: string; terminal: boolean; prod: Producer | undefined } => {
    const code = `k = ${j}; c.startLo = (s0 + ${off}) | 0; c.startHi = h0; r[${RIP_LO}] = (s0 + ${end}) | 0; c.d = D[${j}];` +
      (terminal ? ` c.icount = ic0 + done + ${j}; execute(c); c.icount = ic0 + done + ${j + 1}; c.chain = 0; return done + ${j + 1};`
        : ` execute(c); ${afterStore(j, end)}`);
    return { code, terminal, prod: undefined };
  };
  const safe = SAFE.has(d.op);
  const fb = (): { code: string; terminal: boolean; prod: Producer | undefined } => fallback(!safe || last);
  const ea = (o: Opnd | undefined, o2?: Opnd): string => (o?.kind === 'mem' || o2?.kind === 'mem' ? e.ea(d, end) + ' ' : '');
  const K = `k = ${j}; `;
  switch (d.op) {
    case G.OP_ALU: case G.OP_TEST: {
      const op = d.op === G.OP_TEST ? 4 : d.arg;
      const dst = e.opnd(d, d.k1, osz), src = e.opnd(d, d.k2, osz);
      if (!dst || !src || dst.kind === 'imm') return fb();
      const mem = dst.kind === 'mem' || src.kind === 'mem';
      let c = (mem ? K : '') + ea(dst, src) + e.load(d, dst, osz, 'A', 'AH') + ' ' + e.load(d, src, osz, 'B', 'BH') + ' ';
      let lf: number, carry: string | undefined;
      switch (op) {
        case 0: case 2: {
          const cin = op === 2 ? 'cin' : '0';
          if (op === 2) c += 'cin = c.getCF(); ';
          if (osz === 8) {
            c += `R = (A + B + ${cin}) | 0; RH = (AH + BH + (((R >>> 0) < (A >>> 0) || (${cin} !== 0 && R === A)) ? 1 : 0)) | 0; `;
          } else c += `R = (A + B + ${cin}) & ${m}; RH = 0; `;
          lf = LF_ADD; carry = cin;
          break;
        }
        case 3: case 5: case 7: {
          const cin = op === 3 ? 'cin' : '0';
          if (op === 3) c += 'cin = c.getCF(); ';
          if (osz === 8) {
            c += `R = (A - B - ${cin}) | 0; RH = (AH - BH - (((A >>> 0) < (B >>> 0) || (${cin} !== 0 && A === B)) ? 1 : 0)) | 0; `;
          } else c += `R = (A - B - ${cin}) & ${m}; RH = 0; `;
          lf = LF_SUB; carry = cin;
          break;
        }
        default: {
          const o = op === 1 ? '|' : op === 4 ? '&' : '^';
          c += `R = (A ${o} B) & ${m}; RH = ${osz === 8 ? `AH ${o} BH` : '0'}; `;
          lf = LF_LOGIC; carry = undefined;
        }
      }
      if (op !== 7 && d.op !== G.OP_TEST) {
        c += e.store(d, dst, osz, 'R', 'RH') + ' ';
        if (dst.kind === 'mem') c += e.lazy(lf, osz, carry) + ' ' + afterStore(j, end);
        else c += e.lazy(lf, osz, carry);
      } else c += e.lazy(lf, osz, carry);
      return { code: c, terminal: false, prod: { op: lf, size: osz, carryIn: op === 2 || op === 3 } };
    }
    case G.OP_MOV: {
      const dst = e.opnd(d, d.k1, osz), src = e.opnd(d, d.k2, osz);
      if (!dst || !src || dst.kind === 'imm') return fb();
      const mem = dst.kind === 'mem' || src.kind === 'mem';
      let c = (mem ? K : '') + ea(dst, src) + e.load(d, src, osz, 'v', 'vh') + ' ' + e.store(d, dst, osz, 'v', 'vh');
      if (dst.kind === 'mem') c += ' ' + afterStore(j, end);
      return { code: c, terminal: false, prod: prev };
    }
    case G.OP_LEA: {
      if (d.asz === 2 || d.mod === 3) return fb();
      const c = e.ea(d, end) + ' ' + e.wrReg(d, d.reg, osz, 'el', 'eh');
      return { code: c, terminal: false, prod: prev };
    }
    case G.OP_INC: case G.OP_DEC: {
      const dst = e.opnd(d, d.k1, osz);
      if (!dst || dst.kind === 'imm') return fb();
      const inc = d.op === G.OP_INC;
      let c = (dst.kind === 'mem' ? K : '') + ea(dst) + e.load(d, dst, osz, 'A', 'AH') + ' cin = c.getCF(); B = 1; BH = 0; ';
      if (osz === 8) c += inc ? 'R = (A + 1) | 0; RH = R === 0 ? (AH + 1) | 0 : AH; ' : 'R = (A - 1) | 0; RH = A === 0 ? (AH - 1) | 0 : AH; ';
      else c += `R = (A ${inc ? '+' : '-'} 1) & ${m}; RH = 0; `;
      c += e.store(d, dst, osz, 'R', 'RH') + ' ' + e.lazy(inc ? LF_INC : LF_DEC, osz, 'cin');
      if (dst.kind === 'mem') c += ' ' + afterStore(j, end);
      return { code: c, terminal: false, prod: undefined };
    }
    case G.OP_NOT: case G.OP_NEG: {
      const dst = e.opnd(d, d.k1, osz);
      if (!dst || dst.kind === 'imm') return fb();
      let c = (dst.kind === 'mem' ? K : '') + ea(dst);
      let prod: Producer | undefined = prev;
      // NOT leaves the flags (and the producer's locals) alone
      if (d.op === G.OP_NOT) c += e.load(d, dst, osz, 'v', 'vh') + ` v = ~v & ${m}; vh = ~vh; ` + e.store(d, dst, osz, 'v', 'vh');
      else {
        c += e.load(d, dst, osz, 'B', 'BH') + ' A = 0; AH = 0; ';
        c += osz === 8 ? 'R = (0 - B) | 0; RH = (0 - BH - (B !== 0 ? 1 : 0)) | 0; ' : `R = (0 - B) & ${m}; RH = 0; `;
        c += e.store(d, dst, osz, 'R', 'RH') + ' ' + e.lazy(LF_SUB, osz, '0');
        prod = { op: LF_SUB, size: osz, carryIn: false };
      }
      if (dst.kind === 'mem') c += ' ' + afterStore(j, end);
      return { code: c, terminal: false, prod };
    }
    case G.OP_MOVZX: case G.OP_MOVSX: case G.OP_MOVSXD: {
      const ssz = d.op === G.OP_MOVSXD ? 4 : d.arg;
      const src = e.opnd(d, d.k2, ssz);
      if (!src || src.kind === 'imm') return fb();
      let c = (src.kind === 'mem' ? K : '') + ea(src) + e.load(d, src, ssz, 'v', 'vh') + ' ';
      if (d.op === G.OP_MOVZX) c += e.wrReg(d, d.reg, osz, 'v', '0');
      else {
        if (ssz === 1) c += 'v = (v << 24) >> 24; ';
        else if (ssz === 2) c += 'v = (v << 16) >> 16; ';
        c += e.wrReg(d, d.reg, osz, osz === 2 ? '(v & 0xffff)' : 'v', '(v >> 31)');
      }
      return { code: c, terminal: false, prod: prev };
    }
    case G.OP_CMOV: {
      const src = e.opnd(d, d.k2, osz);
      if (!src || src.kind === 'imm') return fb();
      let c = (src.kind === 'mem' ? K : '') + ea(src) + e.load(d, src, osz, 'v', 'vh') + ' ';
      c += `if (${e.cond(d.arg, prev)}) { ${e.wrReg(d, d.reg, osz, 'v', 'vh')} }`;
      if (osz === 4) c += ` else r[${d.reg * 2 + 1}] = 0;`;
      return { code: c, terminal: false, prod: prev };
    }
    case G.OP_SETCC: {
      const dst = e.opnd(d, d.k1, 1);
      if (!dst || dst.kind === 'imm') return fb();
      let c = (dst.kind === 'mem' ? K : '') + ea(dst) + `v = ${e.cond(d.arg, prev)} ? 1 : 0; ` + e.store(d, dst, 1, 'v', '0');
      if (dst.kind === 'mem') c += ' ' + afterStore(j, end);
      return { code: c, terminal: false, prod: prev };
    }
    case G.OP_SHIFT: {
      const dst = e.opnd(d, d.k1, osz);
      const kind = d.arg;
      if (!dst || dst.kind === 'imm' || (d.k2 !== G.K_I && d.k2 !== G.K_ONE) || kind === 2 || kind === 3) return fb();
      const n = (d.k2 === G.K_ONE ? 1 : d.imm) & (osz === 8 ? 63 : 31);
      if (n === 0) return fb();
      let c = (dst.kind === 'mem' ? K : '') + ea(dst) + e.load(d, dst, osz, 'A', 'AH') + ` R = shift(c, ${kind}, ${osz}, A, AH, ${n}); RH = c.vh; `;
      c += e.store(d, dst, osz, 'R', 'RH');
      if (dst.kind === 'mem') c += ' ' + afterStore(j, end);
      return { code: c, terminal: false, prod: undefined };
    }
    case G.OP_IMUL2: case G.OP_IMUL3: {
      const a = e.opnd(d, d.op === G.OP_IMUL2 ? d.k1 : d.k2, osz), b = e.opnd(d, d.op === G.OP_IMUL2 ? d.k2 : d.k3, osz);
      if (!a || !b) return fb();
      const mem = a.kind === 'mem' || b.kind === 'mem';
      let c = (mem ? K : '') + ea(a, b) + e.load(d, a, osz, 'A', 'AH') + ' ' + e.load(d, b, osz, 'B', 'BH') + ' ';
      c += `R = imulTrunc(c, ${osz}, A, AH, B, BH); RH = c.vh; ` + e.wrReg(d, d.reg, osz, 'R', 'RH');
      return { code: c, terminal: false, prod: undefined };
    }
    case G.OP_PUSH: {
      const src = e.opnd(d, d.k1, osz);
      if (!src) return fb();
      const c = K + ea(src) + e.load(d, src, osz, 'v', 'vh') + ' ' + e.push(osz, 'v', 'vh') + ' ' + afterStore(j, end);
      return { code: c, terminal: false, prod: prev };
    }
    case G.OP_POP: {
      const dst = e.opnd(d, d.k1, osz);
      if (!dst || dst.kind !== 'reg') return fb();
      const c = K + e.pop(osz, 0) + ' ' + e.wrReg(d, dst.n, osz, 'v', 'vh');
      return { code: c, terminal: false, prod: prev };
    }
    case G.OP_NOP:
      return { code: '', terminal: false, prod: prev };
    case G.OP_JCC: case G.OP_JMP: case G.OP_CALL: {
      if (d.k1 !== G.K_J) return fallback(true);
      if (follow !== undefined && d.op !== G.OP_JCC) {
        // a JMP/CALL the block follows into the same page (no RIP update until the block exits)
        if (d.op === G.OP_JMP) return { code: '', terminal: false, prod: prev };
        const c = `k = ${j}; { const nx = (s0 + ${end}) | 0; ` + e.push(osz, 'nx', e.code64 ? 'h0' : '0') + ' } ' +
          `if (c.deferredExit !== 0 || c.codeHit) { r[${RIP_LO}] = (s0 + ${follow}) | 0; done += ${j + 1}; c.chain = 0; break; }`;
        return { code: c, terminal: false, prod: prev };
      }
      // target = next RIP + rel (SDM Vol. 2 Jcc/JMP/CALL), checked like exec.ts checkTarget
      let c = `k = ${j}; `;
      let tgt: string;
      if (e.code64) {
        tgt = `{ const nx = (s0 + ${end}) | 0; const t = (nx + ${d.imm | 0}) | 0; ` +
          `const th = (h0 + ${d.immHi | 0} + ((t >>> 0) < (nx >>> 0) ? 1 : 0)) | 0; ` +
          `if ((th >> 15) !== (th >> 31) && c.nonCanonical57(th)) throw new CpuFault(13, 0, 0, 0, 'non-canonical branch target'); ` +
          (d.op === G.OP_CALL ? e.push(osz, 'nx', 'h0') + ' ' : '') +
          `r[${RIP_LO}] = t; r[${RIP_HI}] = th; ` +
          (d.op === G.OP_CALL ? '' : `if (t === s0 && th === h0 && done + ${j + 1} + NMAX <= n) { done += ${j + 1}; continue; } `) +
          `}`;
      } else {
        const t = osz === 2 ? `((s0 + ${end} + ${d.imm | 0}) & 0xffff)` : `((s0 + ${end} + ${d.imm | 0}) | 0)`;
        tgt = `{ const nx = (s0 + ${end}) | 0; const t = ${t}; ` +
          `if ((t >>> 0) > (c.segLimit[${CS}] >>> 0)) throw new CpuFault(13, 0, 0, 0, 'branch target beyond CS limit'); ` +
          (d.op === G.OP_CALL ? e.push(osz, 'nx', '0') + ' ' : '') +
          `r[${RIP_LO}] = t; ` +
          (d.op === G.OP_CALL ? '' : `if (t === s0 && done + ${j + 1} + NMAX <= n) { done += ${j + 1}; continue; } `) +
          `}`;
      }
      if (d.op === G.OP_JCC && !last) {
        // a side exit: taken leaves the block, not taken goes on with the next instruction
        c += `if (${e.cond(d.arg, prev)}) { ${tgt} done += ${j + 1}; c.chain = 1; break; }`;
        return { code: c, terminal: false, prod: prev };
      }
      if (d.op === G.OP_JCC) c += `if (${e.cond(d.arg, prev)}) ${tgt} else r[${RIP_LO}] = (s0 + ${end}) | 0; `;
      else c += tgt + ' ';
      c += `done += ${j + 1}; c.chain = 1; break;`;
      return { code: c, terminal: true, prod: undefined };
    }
    case G.OP_RET: {
      if (d.k1 !== 0 && d.k1 !== G.K_I) return fallback(true);
      // RET / RET imm16 (SDM Vol. 2 RET, near): target from the stack, checked like exec.ts checkTarget
      const extra = d.k1 === G.K_I ? d.imm & 0xffff : 0;
      // the target is checked before RSP moves (a #GP leaves RSP unchanged)
      let c = `k = ${j}; ` + (e.code64 ? `v = c.rd(${SS}, r[8], r[9], ${osz}); ` : `v = c.peek(${osz}, 0); `) + `vh = ${osz === 8 ? 'c.vh' : '0'}; `;
      if (e.code64) c += `if ((vh >> 15) !== (vh >> 31) && c.nonCanonical57(vh)) throw new CpuFault(13, 0, 0, 0, 'non-canonical branch target'); `;
      else c += `if (${osz === 2 ? '(v & 0xffff)' : '(v >>> 0)'} > (c.segLimit[${CS}] >>> 0)) throw new CpuFault(13, 0, 0, 0, 'branch target beyond CS limit'); `;
      c += e.code64 ? `{ const sl = (r[8] + ${osz + extra}) | 0; if ((sl >>> 0) < (r[8] >>> 0)) r[9] = (r[9] + 1) | 0; r[8] = sl; } ` : `c.addSp(${osz + extra}); `;
      c += e.code64 ? `r[${RIP_LO}] = v; r[${RIP_HI}] = vh; ` : `r[${RIP_LO}] = ${osz === 2 ? 'v & 0xffff' : 'v'}; `;
      c += `done += ${j + 1}; c.chain = 1; break;`;
      return { code: c, terminal: true, prod: undefined };
    }
    default:
      return fb();
  }
}

/** Does the decoder's op end a block in every case (branches, control-state changes)? */
function ends(d: Insn): boolean {
  return d.op === G.OP_JMP || d.op === G.OP_CALL || (d.op !== G.OP_JCC && !SAFE.has(d.op));
}

/** per op id: 1 when an instruction with this op ends a block, so the next one may start one (the
 *  interpreter loop looks for compiled blocks only there) */
export const ENDS_BLOCK = new Uint8Array(G.MNEMONICS.length + 256);
for (let op = 0; op < ENDS_BLOCK.length; op++) {
  ENDS_BLOCK[op] = op === G.OP_JCC || op === G.OP_JMP || op === G.OP_CALL || !SAFE.has(op) ? 1 : 0;
}

/** Build the source of a block from its decoded instructions (offsets from the entry). */
function buildSource(code64: boolean, insns: Insn[], offs: number[], page: number, follow: readonly (number | undefined)[] = []): string {
  const e = new Emitter(code64);
  const body: string[] = [];
  let prev: Producer | undefined;
  let terminal = false;
  for (let j = 0; j < insns.length; j++) {
    const d = insns[j]!;
    const end = offs[j]! + d.len;
    const x = emitInsn(e, d, j, offs[j]!, end, prev, j === insns.length - 1, follow[j]);
    body.push(`/* ${j} op ${G.MNEMONICS[d.row] ?? d.op} */ ${x.code}`);
    prev = x.prod;
    if (x.terminal) { terminal = true; break; }
  }
  if (!terminal) {
    const j = insns.length - 1;
    body.push(`r[${RIP_LO}] = (s0 + ${offs[j]! + insns[j]!.len}) | 0; done += ${j + 1}; c.chain = 1; break;`);
  }
  const len = insns.length;
  const offList = offs.join(', ');
  return `
const OFF = [${offList}];
const PAGE = ${page};
const NMAX = ${len}; // the most instructions one pass can retire
return function block(c, r, n) {
  if (n < ${len}) return 0;
  const s0 = r[${RIP_LO}], h0 = r[${RIP_HI}], ic0 = c.icount;
  let done = 0, k = 0, A = 0, AH = 0, B = 0, BH = 0, R = 0, RH = 0, el = 0, eh = 0, v = 0, vh = 0, cin = 0;
  c.codeHit = false; c.blockPage = PAGE;
  try {
    for (;;) {
${body.join('\n')}
    }
  } catch (x) {
    c.startLo = (s0 + OFF[k]) | 0; c.startHi = h0; c.icount = ic0 + done + k; c.fastFetch = false;
    c.blockFault = x;
    return -1;
  }
  c.icount = ic0 + done;
  return done;
};`;
}

/** Per-vCPU block cache (direct-mapped on the entry's physical address). */
export class Tier1 {
  /** off: everything is interpreted (differential tests; TSVMM_TIER1=0) */
  static enabled = process.env.TSVMM_TIER1 !== '0';
  private readonly pa = new Float64Array(SLOTS).fill(-1);
  private readonly key = new Int32Array(SLOTS);
  private readonly gen = new Int32Array(SLOTS);
  private readonly soft = new Int32Array(SLOTS);
  private readonly span = new Int32Array(SLOTS);
  /** offset of the block's first byte from its entry (≤ 0: a trace may jump backwards) */
  private readonly lo = new Int32Array(SLOTS);
  private readonly fn: (BlockFn | null)[] = new Array<BlockFn | null>(SLOTS).fill(null);
  private readonly bytes: (Uint8Array | null)[] = new Array<Uint8Array | null>(SLOTS).fill(null);
  private readonly hotPa = new Float64Array(SLOTS).fill(-1);
  private readonly hot = new Int32Array(SLOTS);
  /** statistics: blocks compiled, block runs */
  compiled = 0;
  runs = 0;

  constructor(readonly c: Cpu) {}

  /**
   * Run the compiled block at CS:RIP if there is one: returns the instructions retired (RIP, icount
   * and flags updated), or 0 when the caller must interpret the next instruction itself.
   */
  run(budget: number): number {
    const c = this.c;
    const r = c.r;
    let total = 0;
    let key = 0, pageLin = -1, pageHi = 0, pageOff = 0, page = 0, pgen = 0;
    // chain: a block that ended on an inline branch (or ran off its end) changed nothing the loop
    // checks between instructions (IF, TF, shadow, exits, mode), so the next block may follow at once;
    // in the same linear page the fetch window, mode key and page generation are still the ones checked
    for (;;) {
      const sLo = r[RIP_LO]!;
      let lo: number, hi: number;
      if (c.code64) {
        if (sLo >>> 0 > 0xffffefff) return total; // RIP + block never carries into the high half
        lo = sLo; hi = r[RIP_HI]!;
      } else {
        if (!c.def32) return total;
        lo = (c.segBase[CS]! + sLo) | 0; hi = 0;
      }
      if ((lo & ~0xfff) !== pageLin || hi !== pageHi) {
        if ((lo & ~0xfff) !== c.fLinPage || hi !== c.fLinPageHi) {
          // a mode change or far transfer (SYSCALL, IRET, exception delivery) dropped the fetch
          // window: map the page as the interpreter's decode() would (a fault is this instruction's)
          if (!c.code64 && (sLo >>> 0) + 15 > c.segLimit[CS]! >>> 0) return total;
          c.mapFetch(lo, hi);
        }
        if (c.fU8 !== c.mem.ramU8) return total;
        pageLin = lo & ~0xfff; pageHi = hi; pageOff = c.fOff;
        page = pageOff >>> 12;
        if (page >= c.codeMap.length) return total;
        pgen = c.pageGen[page]!;
        key = (c.code64 ? 1 : 0) | (c.def32 ? 2 : 0) | ((c.cr0 & CR0_PE) !== 0 && (c.fl & VM) === 0 ? 4 : 0) | (c.dcEpoch << 3);
      }
      const pa = pageOff + (lo & 0xfff);
      const h = (pa ^ (pa >>> BITS)) & (SLOTS - 1);
      if (this.pa[h] === pa && this.key[h] === key && this.gen[h] === pgen) {
        if (this.soft[h] !== c.softEpoch && !this.recheck(h, pa)) return total;
        const f = this.fn[h];
        if (f === null) return total;
        if (!c.code64 && (sLo >>> 0) + this.span[h]! > c.segLimit[CS]! >>> 0) return total;
        this.runs++;
        const k = f(c, r, budget - total);
        if (k <= 0) return total; // k < 0: c.blockFault holds what the block threw
        total += k;
        if (c.chain === 0) return total;
        // a store may have rewritten code in this page (the block stopped right after it)
        if (c.pageGen[page] !== pgen) pageLin = -1;
        continue;
      }
      if (this.hotPa[h] !== pa) { this.hotPa[h] = pa; this.hot[h] = 0; }
      if (++this.hot[h]! < HOT) return total;
      this.hot[h] = 0;
      if (pgen > SMC_LIMIT) return total;
      this.compile(h, pa, key);
      return total;
    }
  }

  private recheck(h: number, pa: number): boolean {
    const b = this.bytes[h]!;
    const m = this.c.mem.ramU8;
    const at = pa + this.lo[h]!;
    for (let i = 0; i < b.length; i++) {
      if (m[at + i] !== b[i]) {
        this.pa[h] = -1;
        return false;
      }
    }
    this.soft[h] = this.c.softEpoch;
    return true;
  }

  private compile(h: number, pa: number, key: number): void {
    const c = this.c;
    const r = c.r;
    const saveLo = r[RIP_LO]!, saveHi = r[RIP_HI]!, saveD = c.d, saveS = c.startLo, saveSH = c.startHi;
    const insns: Insn[] = [], offs: number[] = [], follow: (number | undefined)[] = [];
    const seen = new Set<number>();
    let off = 0, lo = 0, hi = 0, maxOff = 0;
    const base = pa & 0xfff;
    try {
      while (insns.length < MAX_INSNS && base + off >= 0 && base + off <= 0xff0 && !seen.has(off)) {
        r[RIP_LO] = (saveLo + off) | 0;
        r[RIP_HI] = saveHi;
        const d = new Insn();
        try {
          c.decodeFull(d);
        } catch {
          break;
        }
        if (!c.fastFetch) break;
        insns.push(d); offs.push(off); seen.add(off);
        lo = Math.min(lo, off); hi = Math.max(hi, off + d.len); maxOff = Math.max(maxOff, off);
        // JMP/CALL rel to the same page: the block goes on at the target (a trace)
        let next: number | undefined;
        if ((d.op === G.OP_JMP || d.op === G.OP_CALL) && d.k1 === G.K_J && d.osz !== 2 && d.immHi === d.imm >> 31) {
          const t = off + d.len + d.imm;
          if (base + t >= 0 && base + t <= 0xff0 && !seen.has(t) && t !== 0) next = t;
        }
        follow.push(next);
        if (next !== undefined) { off = next; continue; }
        off += d.len;
        if (ends(d)) break;
      }
    } finally {
      r[RIP_LO] = saveLo; r[RIP_HI] = saveHi; c.d = saveD; c.startLo = saveS; c.startHi = saveSH; c.fastFetch = false;
    }
    // a followed branch must not be the last instruction (nothing after it was decoded)
    while (follow.length && follow[follow.length - 1] !== undefined) { follow.pop(); insns.pop(); offs.pop(); }
    const page = pa >>> 12;
    this.pa[h] = pa; this.key[h] = key; this.gen[h] = c.pageGen[page]!; this.soft[h] = c.softEpoch;
    this.lo[h] = lo;
    this.bytes[h] = c.mem.ramU8.slice(pa + lo, pa + hi);
    this.span[h] = maxOff + 15;
    if (hi > lo) c.noteCode(pa + lo, hi - lo);
    if (insns.length === 0 || (insns.length === 1 && !SAFE.has(insns[0]!.op))) {
      this.fn[h] = null; // nothing to gain
      return;
    }
    const src = buildSource(c.code64, insns, offs, page, follow);
    const make = new Function('execute', 'shift', 'imulTrunc', 'CpuFault', 'D', src) as
      (...a: unknown[]) => BlockFn;
    this.fn[h] = make(execute, shift, imulTrunc, CpuFault, insns);
    this.compiled++;
  }
}

/** the block cache of a CPU (created on first use, kept in Cpu.tier1) */
export function tier1Of(c: Cpu): Tier1 {
  let t = c.tier1 as Tier1 | undefined;
  if (!t) {
    t = new Tier1(c);
    c.tier1 = t;
  }
  return t;
}

/** for tests and tools: the generated source of a block */
export function blockSource(code64: boolean, insns: Insn[], offs: number[], page: number): string {
  return buildSource(code64, insns, offs, page);
}

