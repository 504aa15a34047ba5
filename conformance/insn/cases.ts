// The instruction corpus's case generator, driven by the interpreter's instruction table
// (src/vcpu/interp/spec/table.ts INSN_TABLE, Intel SDM Vol. 2 Appendix A): for every general-purpose
// row, every operand size (8/16/32/64 through 66h / REX.W / VEX.W), register and memory forms (several
// addressing forms, LOCK where the row allows it), edge operand values and both initial flag states,
// encoded here from the row (encode.ts). Rows the corpus does not run are listed with the reason
// (classifyRow). The flags the row's `undef` field names, and the results the SDM's instruction pages
// leave undefined (BSF/BSR destination for a zero source, SHLD/SHRD with a count above the operand
// size, CF of SHL/SHR with a count ≥ the operand size), are masked per case.

import { CONDITIONS, INSN_TABLE, type InsnRow } from '../../src/vcpu/interp/spec/table.ts';
import { encode, hex, type EncodeSpec, type MemRef } from './encode.ts';
import { CODE_SEL, DATA_SEL, scratchAddr, SCRATCH_SIZE, type GuestCase } from './layout.ts';

export const CF = 0x1n, PF = 0x4n, AF = 0x10n, ZF = 0x40n, SF = 0x80n, TF = 0x100n, IF = 0x200n, DF = 0x400n, OF = 0x800n;
export const STATUS = CF | PF | AF | ZF | SF | OF;
/** RFLAGS bits compared (bits 0-21; reserved bits included: both must keep them architectural) */
export const RFLAGS_ALL = 0x3fffffn;
const F0 = 0x2n;
const F1 = 0x2n | STATUS;

/** where a case's memory operand lives inside its scratch block, and its stack pointer */
export const MEM_OFF = 64;
export const STACK_OFF = 200;
const RBP_OFF = 160;

export interface InsnCase extends GuestCase {
  /** index of the row in INSN_TABLE */
  readonly row: number;
  readonly desc: string;
  /** RFLAGS bits that must agree */
  readonly flagMask: bigint;
  /** GPRs (bit n = register n) whose result the SDM leaves undefined */
  readonly undefRegs: number;
  /** the memory result is undefined (e.g. SHLD m16 with a count above 16) */
  readonly undefMem: boolean;
}

export type RowClass =
  | { readonly kind: 'run' }
  /** invalid in 64-bit mode: run in the legacy-mode corpus (legacy.ts), and as a 64-bit #UD case when `ud64` */
  | { readonly kind: 'legacy'; readonly ud64: boolean; readonly reason: string }
  | { readonly kind: 'excluded'; readonly reason: string };

const SYSTEM = new Set('SLDT STR LLDT LTR VERR VERW SGDT SIDT LGDT LIDT SMSW LMSW INVLPG MONITOR MWAIT CLAC STAC XGETBV XSETBV RDPKRU WRPKRU SWAPGS RDTSCP LAR LSL SYSCALL CLTS SYSRET INVD WBINVD MOV_R_CR MOV_R_DR MOV_CR_R MOV_DR_R WRMSR RDMSR RDPMC SYSENTER SYSEXIT RSM INVPCID HLT'.split(' '));
const IO = new Set(['IN', 'OUT', 'INS', 'OUTS']);
const X87 = new Set(['X87', 'FLDCW', 'FNSTCW', 'FNCLEX', 'FNINIT', 'FNSTSW', 'FWAIT']);
const SIMD = new Set(['SSE', 'SSE_MOV', 'SSE_MOVD', 'SSE_LOGIC', 'FXSAVE', 'FXRSTOR', 'LDMXCSR', 'STMXCSR', 'XSAVE', 'XRSTOR', 'XSAVEOPT', 'XSAVE_OTHER']);
/** op names of the SIMD row lists, and the SIMD operand kinds (SDM A.2: V W U H x P Q N, VEX.L-sized x) */
const SIMD_OP = /^(SSE|PINT|PMISC|PSHIFT|PCMP|MMX|AVX)/;
const SIMD_OPERAND = /^([VWUHPQN]|[A-Z]x$)/;
/** one-byte opcodes that are prefixes or other instructions in 64-bit mode (no #UD case possible) */
const REUSED_IN_64 = new Set([0x40, 0x48, 0x62, 0x63, 0xc4, 0xc5]);

/** Which rows the corpus runs, and why the others are not run. */
export function classifyRow(r: InsnRow): RowClass {
  if (SYSTEM.has(r.op)) return { kind: 'excluded', reason: 'system/privileged instruction (not general-purpose)' };
  if (IO.has(r.op)) return { kind: 'excluded', reason: 'I/O instruction (exits to the VMM; covered by device tests)' };
  if (X87.has(r.op) || r.feature === 'fpu' || (r.map === '1' && r.opcode >= 0xd8 && r.opcode <= 0xdf))
    return { kind: 'excluded', reason: 'x87 instruction' };
  if (SIMD.has(r.op) || SIMD_OP.test(r.op) || r.operands.some((o) => SIMD_OPERAND.test(o)) || r.feature === 'mmx')
    return { kind: 'excluded', reason: 'SIMD (MMX/SSE/AVX) or extended-state instruction' };
  if (r.op === 'RDRAND') return { kind: 'excluded', reason: 'result is random (RDRAND/RDSEED): nothing comparable' };
  if (r.op === 'RDTSC') return { kind: 'excluded', reason: 'result is the time stamp counter: nothing comparable' };
  if (r.op === 'CPUID')
    return { kind: 'excluded', reason: 'result is the backend CPUID table (checked by the cpuid conformance programs); on kvm_pvm the guest sees bits KVM_GET_CPUID2 does not report (pvm-deviations cpuid-host-bits-merged)' };
  if (r.modes === 'no64') {
    if (r.map === '1' && REUSED_IN_64.has(r.opcode)) return { kind: 'legacy', ud64: false, reason: 'legacy mode only (in 64-bit mode the byte is a REX/VEX/EVEX prefix or MOVSXD)' };
    return { kind: 'legacy', ud64: true, reason: 'legacy mode, and #UD in 64-bit mode' };
  }
  return { kind: 'run' };
}

// ---- values ------------------------------------------------------------------------------------

const PATTERN = 0x8badf00d5a17c3e9n;
function mask(size: number): bigint {
  return (1n << BigInt(size)) - 1n;
}
export function edges(size: number): bigint[] {
  const m = mask(size);
  return [0n, 1n, m >> 1n, (m >> 1n) + 1n, m, (PATTERN * 0x9e3779b97f4a7c15n) & m];
}

/** product of value lists, thinned evenly to at most `cap` combinations */
function combos(lists: bigint[][], cap: number): bigint[][] {
  let all: bigint[][] = [[]];
  for (const l of lists) all = all.flatMap((p) => l.map((v) => [...p, v]));
  if (all.length <= cap) return all;
  const out: bigint[][] = [];
  const step = all.length / cap;
  for (let i = 0; i < cap; i++) out.push(all[Math.min(all.length - 1, Math.floor(i * step + (i % 3)))]!);
  return out;
}

/** deterministic 64-bit pseudo-random values (splitmix64) */
class Rng {
  private s: bigint;
  constructor(seed: number) {
    this.s = BigInt(seed) * 0x9e3779b97f4a7c15n;
  }
  next(): bigint {
    this.s = BigInt.asUintN(64, this.s + 0x9e3779b97f4a7c15n);
    let z = this.s;
    z = BigInt.asUintN(64, (z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n);
    z = BigInt.asUintN(64, (z ^ (z >> 27n)) * 0x94d049bb133111ebn);
    return z ^ (z >> 31n);
  }
}

// ---- registers -----------------------------------------------------------------------------------

const POOL = [0, 1, 2, 3, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];

/** a register operand of some size: GPR `full`, value at bit `shift`; `enc` is the 4-bit encoding */
interface RegPick {
  readonly full: number;
  readonly shift: number;
  readonly enc: number;
  readonly needRex: boolean;
  readonly noRex: boolean;
}

function gpr(n: number): RegPick {
  return { full: n, shift: 0, enc: n, needRex: false, noRex: false };
}
const BYTE_REGS: RegPick[] = [
  gpr(0), gpr(1), gpr(2), gpr(3),
  { full: 0, shift: 8, enc: 4, needRex: false, noRex: true },
  { full: 1, shift: 8, enc: 5, needRex: false, noRex: true },
  { full: 2, shift: 8, enc: 6, needRex: false, noRex: true },
  { full: 3, shift: 8, enc: 7, needRex: false, noRex: true },
  { full: 5, shift: 0, enc: 5, needRex: true, noRex: false },
  { full: 6, shift: 0, enc: 6, needRex: true, noRex: false },
  { full: 7, shift: 0, enc: 7, needRex: true, noRex: false },
  ...[8, 9, 10, 11, 12, 13, 14, 15].map(gpr),
];

// ---- the draft of one case -----------------------------------------------------------------------

interface Draft {
  spec: { -readonly [K in keyof EncodeSpec]: EncodeSpec[K] };
  prefixes: number[];
  regs: bigint[];
  rflags: bigint;
  scratch: Uint8Array;
  sdv: DataView;
  trailer: number[];
  nextFix: NonNullable<GuestCase['nextFix']>[number][];
  flagUndef: bigint;
  undefRegs: number;
  undefMem: boolean;
  desc: string[];
  /** an AH/CH/DH/BH operand: no REX prefix allowed */
  noRex: boolean;
  /** a REX prefix will be present (REX.W, a register ≥ 8, or SPL..DIL) */
  rexUsed: boolean;
  /** SPL/BPL/SIL/DIL: emit REX even without bits */
  forceRex: boolean;
  used: Set<number>;
  ripTarget?: number;
  post?: number[];
}

export interface GenOptions {
  /** guest CPUID features: where an optional feature is absent its encoding runs as absentOp (LZCNT → BSR) */
  readonly has: (feature: string) => boolean;
  /** stop after this many cases (for quick runs) */
  readonly limit?: number;
}

const U = (v: bigint): bigint => BigInt.asUintN(64, v);

class Gen {
  readonly cases: InsnCase[] = [];
  private rng = new Rng(1);
  constructor(readonly opts: GenOptions) {}

  get index(): number {
    return this.cases.length;
  }
  scratchBase(): number {
    return scratchAddr(this.index);
  }

  draft(row: InsnRow): Draft {
    const regs: bigint[] = [];
    for (let r = 0; r < 16; r++) regs.push(this.rng.next());
    const base = this.scratchBase();
    regs[4] = BigInt(base + STACK_OFF);
    const scratch = new Uint8Array(SCRATCH_SIZE);
    for (let i = 0; i < SCRATCH_SIZE; i += 8) new DataView(scratch.buffer).setBigUint64(i, this.rng.next(), true);
    return {
      spec: { map: row.map, opcode: row.opcode },
      prefixes: [],
      regs,
      rflags: F0,
      scratch,
      sdv: new DataView(scratch.buffer),
      trailer: [],
      nextFix: [],
      flagUndef: 0n,
      undefRegs: 0,
      undefMem: false,
      desc: [],
      noRex: false,
      rexUsed: false,
      forceRex: false,
      used: new Set([4]),
    };
  }

  setReg(d: Draft, p: RegPick, size: number, v: bigint): void {
    const m = mask(size) << BigInt(p.shift);
    d.regs[p.full] = U((d.regs[p.full]! & ~m) | ((v & mask(size)) << BigInt(p.shift)));
  }

  /** pick a register for an operand of `size` bits, not in d.used; byte picks respect REX rules */
  pickReg(d: Draft, size: number, salt: number): RegPick {
    if (size === 8) {
      const rex = d.rexUsed || !!d.spec.rexW;
      const ok = BYTE_REGS.filter((p) => !d.used.has(p.full) && !(d.noRex && (p.needRex || p.full >= 8)) && !(rex && p.noRex));
      const p = ok[(this.index * 7 + salt * 5) % ok.length]!;
      d.used.add(p.full);
      if (p.noRex) d.noRex = true;
      if (p.needRex) d.forceRex = true;
      if (p.needRex || p.full >= 8) d.rexUsed = true;
      return p;
    }
    const ok = POOL.filter((n) => !d.used.has(n) && !(d.noRex && n >= 8));
    const n = ok[(this.index * 5 + salt * 3) % ok.length]!;
    d.used.add(n);
    if (n >= 8) d.rexUsed = true;
    return gpr(n);
  }

  /** a memory operand at this case's scratch + off, in one of several addressing forms */
  memRef(d: Draft, off: number, allow67 = true): MemRef {
    const target = this.scratchBase() + off;
    const form = (this.index * 3 + off) % (allow67 ? 7 : 6);
    const free = POOL.filter((n) => !d.used.has(n) && !(d.noRex && n >= 8));
    const take = (k: number): number => {
      const n = free.splice(k % free.length, 1)[0]!;
      d.used.add(n);
      if (n >= 8) d.rexUsed = true;
      return n;
    };
    switch (form) {
      case 0:
        d.ripTarget = target;
        d.desc.push('[rip+d32]');
        return { base: 'rip', disp: 0 };
      case 1: {
        const b = take(this.index);
        d.regs[b] = BigInt(target);
        d.desc.push(`[r${b}]`);
        return { base: b, disp: 0 };
      }
      case 2: {
        const b = take(this.index + 1);
        d.regs[b] = BigInt(target + 0x10);
        d.desc.push(`[r${b}-0x10]`);
        return { base: b, disp: -0x10 };
      }
      case 3: {
        const b = take(this.index + 2);
        const x = take(this.index + 5);
        const scale = ([1, 2, 4, 8] as const)[this.index & 3]!;
        d.regs[x] = -3n & 0xffffffffffffffffn; // index -3
        d.regs[b] = U(BigInt(target) + 3n * BigInt(scale) - 0x1234n);
        d.desc.push(`[r${b}+r${x}*${scale}+0x1234]`);
        return { base: b, index: x, scale, disp: 0x1234, dispSize: 4 };
      }
      case 4:
        d.desc.push('[abs d32]');
        return { disp: target };
      case 5: {
        const x = take(this.index + 3);
        d.regs[x] = BigInt(target - 0x100) / 2n;
        d.desc.push(`[r${x}*2+0x100]`);
        return { index: x, scale: 2, disp: 0x100 + (target % 2) };
      }
      default: {
        // address-size override: [base32 + disp8], the base's upper half is ignored
        const b = take(this.index + 4);
        d.regs[b] = U(0xfedcba9800000000n | BigInt(target - 8));
        d.prefixes.push(0x67);
        d.desc.push(`a32[r${b}d+8]`);
        return { base: b, disp: 8 };
      }
    }
  }

  writeMem(d: Draft, off: number, size: number, v: bigint): void {
    for (let i = 0; i < size / 8; i++) d.scratch[off + i] = Number((v >> BigInt(8 * i)) & 0xffn);
  }

  emit(rowIndex: number, d: Draft, insnLen?: number): void {
    if (this.opts.limit !== undefined && this.cases.length >= this.opts.limit) return;
    if (d.noRex && (d.forceRex || d.spec.rexW)) throw new Error('AH..BH operand with a REX prefix');
    const spec: EncodeSpec = { ...d.spec, prefixes: [...d.prefixes, ...(d.spec.prefixes ?? [])], forceRex: d.forceRex && !d.spec.vex };
    const e = encode(spec);
    const code = Uint8Array.from([...e.bytes, ...d.trailer]);
    const row = INSN_TABLE[rowIndex]!;
    const c: InsnCase = {
      code,
      insnLen: insnLen ?? e.bytes.length,
      ...(e.ripDispAt !== undefined ? { ripDispAt: e.ripDispAt, ripTarget: d.ripTarget ?? 0 } : {}),
      regs: d.regs,
      rflags: d.rflags,
      scratch: d.scratch,
      ...(d.nextFix.length ? { nextFix: d.nextFix } : {}),
      ...(d.post ? { post: d.post } : {}),
      row: rowIndex,
      desc: `${row.mnemonic} ${row.operands.join(',')} [${hex(e.bytes)}] ${d.desc.join(' ')} fl=${d.rflags.toString(16)}`,
      flagMask: RFLAGS_ALL & ~d.flagUndef,
      undefRegs: d.undefRegs,
      undefMem: d.undefMem,
    };
    this.cases.push(c);
  }
}

// ---- operands ------------------------------------------------------------------------------------

interface Operand {
  readonly text: string;
  readonly kind: string;
  /** bits; 0 = no data size (M of LEA/NOP/CLFLUSH) */
  readonly size: number;
  readonly fixedReg?: number;
}

function sizeOf(suffix: string, osz: number, kind: string): number {
  switch (suffix) {
    case 'b': case 'bs': return 8;
    case 'w': return 16;
    case 'd': return 32;
    case 'q': return 64;
    case 'v': case 'y': return osz;
    case 'z': return kind === 'I' ? Math.min(osz, 32) : osz;
    case 'p': return osz; // far pointer: offset size
    case '': return 0;
    default: throw new Error(`operand size '${suffix}'`);
  }
}

function parseOperand(t: string, osz: number): Operand {
  const fixed: Record<string, [number, number]> = { AL: [0, 8], CL: [1, 8], DX: [2, 16], AX: [0, 16], rAX: [0, osz], eAX: [0, Math.min(osz, 32)] };
  const f = fixed[t];
  if (f) return { text: t, kind: 'fixed', size: f[1], fixedReg: f[0] };
  if (t === '1') return { text: t, kind: 'one', size: 8 };
  if (/^[A-Z][A-Z]$/.test(t)) return { text: t, kind: 'seg', size: 16 };
  const kind = t[0]!;
  return { text: t, kind, size: sizeOf(t.slice(1), osz, kind) };
}

/** operand sizes a row is run with */
function sizesOf(r: InsnRow): number[] {
  const ops = r.operands;
  const sized = ops.some((o) => /^[A-Z](v|z)$/.test(o) || o === 'rAX' || o === 'eAX' || o === 'Mp' || o === 'Gz');
  const y = ops.some((o) => /^[A-Z]y$/.test(o));
  if (r.op === 'MOVBE') return r.prefix === '66' ? [16] : [32, 64];
  if (r.size === 'f64') return [64];
  if (y && !sized) return [32, 64];
  if (r.size === 'd64') return sized || ops.length === 0 ? [16, 64] : [64];
  if (sized) return [16, 32, 64];
  if (['CBW', 'CWD', 'MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS'].includes(r.op)) return [16, 32, 64];
  return [ops.some((o) => /^[A-Z]b$/.test(o) || o === 'AL') ? 8 : 32];
}

/** flags each op reads (both initial states are run for every value vector) */
const READS_FLAGS = new Set(['SHIFT', 'CMC', 'SETCC', 'CMOV', 'ADCX', 'LAHF', 'PUSHF', 'INC', 'DEC', 'SHLD', 'SHRD', 'CLC', 'STC', 'NOT']);
const readsFlags = (r: InsnRow): boolean => READS_FLAGS.has(r.op) || (r.op === 'ALU' && (r.arg === 2 || r.arg === 3));

/** the flags the row's `undef` names, for a count (shift/rotate) where it matters */
function undefFlags(r: InsnRow, count?: number): bigint {
  if (!r.undef) return 0n;
  let m = 0n;
  for (const part of r.undef.split(',')) {
    const p = part.trim();
    if (p === 'all') m |= STATUS;
    else if (p === 'OF(count>1)') {
      if (count === undefined || count > 1) m |= OF;
    } else m |= { CF, PF, AF, ZF, SF, OF }[p] ?? 0n;
  }
  return m;
}

// ---- the generic engine: register / memory / immediate operands ------------------------------------

interface Hook {
  /** value lists per valued operand (default: edges of its size) */
  values?: (ops: Operand[], osz: number) => bigint[][] | undefined;
  /** after values are set: implicit registers, masks */
  after?: (g: Gen, d: Draft, vals: bigint[], osz: number, form: 'reg' | 'mem', ops: Operand[]) => void;
  /** implicit GPRs the op reads/writes (kept out of addressing registers) */
  implicit?: number[];
  cap?: number;
}

const SHIFT_COUNTS = [0n, 1n, 2n, 7n, 8n, 9n, 15n, 16n, 17n, 31n, 32n, 33n, 63n, 64n, 0x81n, 0xffn];

function shiftMask(g: Gen, r: InsnRow, d: Draft, raw: bigint, osz: number): void {
  const count = Number(raw & (osz === 64 ? 63n : 31n));
  d.desc.push(`count=${raw}`);
  if (count === 0) {
    d.flagUndef = 0n;
    return;
  }
  d.flagUndef = undefFlags(r, count);
  const digit = r.digit ?? 0;
  // SHL/SHR (and SAL): CF undefined when the count is ≥ the operand size (SDM SAL/SAR/SHL/SHR)
  if ((digit === 4 || digit === 5 || digit === 6) && count >= osz) d.flagUndef |= CF | OF;
  void g;
}

function hookFor(r: InsnRow, g: Gen): Hook {
  const hasCl = r.operands.includes('CL');
  switch (r.op) {
    case 'SHIFT': {
      const countFrom = r.operands[1];
      return {
        implicit: hasCl ? [1] : [],
        values: (ops) => {
          const dst = [0x81n, 0x8001n, PATTERN, 0x80000001n, -1n & mask(64), 0x4000000000000001n].map((v) => v & mask(ops[0]!.size));
          const counts = countFrom === '1' ? [1n] : SHIFT_COUNTS;
          return [dst, counts];
        },
        cap: 48,
        after: (gg, d, vals, osz) => {
          const raw = r.operands[1] === '1' ? 1n : vals[1]!;
          if (hasCl) gg.setReg(d, gpr(1), 8, raw);
          shiftMask(gg, r, d, raw, r.operands[0] === 'Eb' ? 8 : osz);
        },
      };
    }
    case 'SHLD':
    case 'SHRD':
      return {
        implicit: hasCl ? [1] : [],
        values: (ops) => [[0x8123456789abcdefn & mask(ops[0]!.size), 1n, PATTERN & mask(ops[0]!.size)], [0xfedcba9876543210n & mask(ops[1]!.size), 0x8000000000000000n & mask(ops[1]!.size)], [0n, 1n, 4n, 8n, 15n, 16n, 17n, 31n, 32n, 63n, 0xffn]],
        cap: 40,
        after: (gg, d, vals, osz) => {
          const raw = vals[2]!;
          if (hasCl) gg.setReg(d, gpr(1), 8, raw);
          const count = Number(raw & (osz === 64 ? 63n : 31n));
          d.desc.push(`count=${raw}`);
          if (count === 0) d.flagUndef = 0n;
          else {
            d.flagUndef = undefFlags(r, count);
            if (count > osz) {
              // SDM SHLD/SHRD: a count above the operand size leaves the result and flags undefined
              d.flagUndef |= STATUS;
              d.undefMem = true;
              d.undefRegs |= 0xffff & ~(1 << 4);
            }
          }
        },
      };
    case 'BT':
      return {
        values: (ops) => {
          const off = ops[1]!.kind === 'I' ? [0n, 5n, 15n, 16n, 31n, 32n, 63n, 64n, 127n, 255n] : [0n, 5n, 31n, 63n, 64n, 100n, 255n, -1n, -64n, -65n, 511n, -512n].map((v) => v & mask(ops[1]!.size));
          return [edges(ops[0]!.size), off];
        },
        cap: 40,
      };
    case 'MUL':
    case 'IMUL1':
      return {
        implicit: [0, 2],
        values: (ops) => [edges(ops[0]!.size), edges(ops[0]!.size)],
        cap: 36,
        after: (gg, d, vals, _osz, _f, ops) => gg.setReg(d, gpr(0), ops[0]!.size, vals[1]!),
      };
    case 'DIV':
    case 'IDIV':
      return {
        implicit: [0, 2],
        values: (ops) => {
          const s = ops[0]!.size;
          return [[1n, 3n, 7n, mask(s), mask(s) >> 1n, (mask(s) >> 1n) + 1n, 0n, 0x10n], [0n, 1n, 0x55n, mask(s) - 1n]];
        },
        cap: 40,
        after: (gg, d, vals, _osz, _f, ops) => {
          const s = ops[0]!.size;
          // dividend: high half chosen from the second value so some cases overflow (#DE) and most do not
          const lo = (PATTERN * (vals[0]! + 3n)) & mask(s);
          const hi = vals[1]! === 0x55n ? vals[0]! >> 1n : vals[1]!;
          if (s === 8) gg.setReg(d, gpr(0), 16, ((hi & 0xffn) << 8n) | (lo & 0xffn));
          else {
            gg.setReg(d, gpr(0), s, lo);
            gg.setReg(d, gpr(2), s, hi);
          }
          d.flagUndef = STATUS;
        },
      };
    case 'CMPXCHG':
      return {
        implicit: [0],
        cap: 36,
        after: (gg, d, vals, osz, _f, ops) => {
          const s = ops[0]!.size;
          gg.setReg(d, gpr(0), s, g.index % 2 ? vals[0]! : vals[0]! ^ 1n);
          void osz;
        },
      };
    case 'BSF':
    case 'BSR':
    case 'TZCNT':
    case 'LZCNT': {
      const asOp = (r.op === 'TZCNT' || r.op === 'LZCNT') && r.feature && !g.opts.has(r.feature) ? r.absentOp : r.op;
      const bsx = asOp === 'BSF' || asOp === 'BSR';
      return {
        values: (ops) => [edges(ops[0]!.size), [...edges(ops[1]!.size), 0x100n, 0x8000n & mask(ops[1]!.size), 0x60n]],
        cap: 18,
        after: (_gg, d, vals, _osz, _f, ops) => {
          if (!bsx) return;
          // run as BSF/BSR (TZCNT/LZCNT without the feature decode as them): their undefined flags
          d.flagUndef = CF | OF | SF | AF | PF;
          if ((vals[1]! & mask(ops[1]!.size)) === 0n) d.undefRegs |= 1 << (d.spec.modrm!.reg);
        },
      };
    }
    case 'ADCX':
    case 'XADD':
    case 'IMUL2':
    case 'IMUL3':
      return { cap: 36 };
    case 'MULX':
      return {
        implicit: [2],
        after: (gg, d, vals, osz) => gg.setReg(d, gpr(2), osz, vals[0]! ^ PATTERN),
        cap: 36,
      };
    case 'BEXTR':
    case 'BZHI':
    case 'SHIFTX':
      return {
        values: (ops) => [[0n], [0xfedcba9876543210n & mask(ops[1]!.size), 0x8edcba9876543211n & mask(ops[1]!.size), mask(ops[1]!.size)], [0n, 0x0804n, 0x2010n, 0x4000n, 0x20n, 0xff03n, 64n, 31n, 0x1f3fn, 0x1008n]],
        cap: 30,
      };
    case 'RORX':
      return { values: (ops) => [[0n], edges(ops[1]!.size), [0n, 1n, 7n, 31n, 32n, 63n, 0xffn]], cap: 42 };
    case 'XCHG':
    case 'TEST':
    case 'ALU':
    case 'MOV':
    case 'CMOV':
      return { cap: 36 };
    case 'WRFSBASE':
      return { values: () => [[0n, 0x1000n, 0x7fffffffffffn, 0xffff800000000000n, 0x800000000000n, 0xffffffffn]] };
    case 'CBW':
    case 'CWD':
    case 'CMC':
    case 'CLC':
    case 'STC':
    case 'CLD':
    case 'STD':
    case 'CLI':
    case 'STI':
    case 'NOP':
    case 'LAHF':
    case 'SAHF':
      return {
        implicit: [0, 2],
        after: (gg, d) => {
          gg.setReg(d, gpr(0), 64, [0x8080n, 0x80008000n, 0x7f7f7f7f80000000n, 0xd5n, 0xff00n, 0x2a00n, 0n, 0x4100n][gg.index % 8]!);
          if (r.op === 'CLD' || r.op === 'STD') d.rflags |= gg.index % 4 < 2 ? DF : 0n;
        },
      };
    default:
      return {};
  }
}

/** ModRM r/m operand kinds */
function isRm(o: Operand): boolean {
  return o.kind === 'E' || o.kind === 'M' || o.kind === 'R';
}

function formsOf(r: InsnRow, ops: Operand[]): ('reg' | 'mem')[] {
  const rm = ops.find(isRm);
  if (!rm) return r.mod === 'reg' ? ['reg'] : r.mod === 'mem' ? ['mem'] : r.digit !== undefined ? ['reg'] : ['reg'];
  if (r.mod === 'mem' || rm.kind === 'M') return ['mem'];
  if (r.mod === 'reg' || rm.kind === 'R') return ['reg'];
  return ['reg', 'mem'];
}

function hasModrm(r: InsnRow, ops: Operand[]): boolean {
  return r.digit !== undefined || ops.some((o) => isRm(o) || o.kind === 'G' || o.kind === 'S') || r.mod !== undefined;
}

const PREFIX_BYTE: Record<string, number> = { '66': 0x66, F3: 0xf3, F2: 0xf2 };

/** Common encoding fields of a row at an operand size (prefixes, REX.W / VEX). */
function baseSpec(r: InsnRow, d: Draft, osz: number, ops: Operand[]): void {
  const mand = r.prefix && r.prefix !== 'none' ? PREFIX_BYTE[r.prefix] : undefined;
  const sizeFixedByMandatory = r.op === 'MOVBE' && r.prefix === '66';
  const d64 = r.size === 'd64' || r.size === 'f64';
  if (r.vex) {
    const pp = { none: 0, '66': 1, F3: 2, F2: 3 }[r.prefix ?? 'none'];
    d.spec.vex = { pp, w: osz === 64, vvvv: 0 };
  } else {
    if (osz === 16 && !sizeFixedByMandatory && ops.length + 1 > 0 && sizesOf(r).includes(16) && sizesOf(r).length > 1) d.prefixes.push(0x66);
    if (mand !== undefined) d.spec.prefixes = [mand];
    if (osz === 64 && !d64 && sizesOf(r).includes(64) && sizesOf(r).length > 1) d.spec.rexW = true;
  }
}

function genericRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  const hook = hookFor(r, g);
  for (const osz of sizesOf(r)) {
    const ops = r.operands.map((t) => parseOperand(t, osz));
    for (const form of formsOf(r, ops)) {
      // LOCK with a memory destination runs; with a register destination it is #UD (SDM Vol. 2A LOCK).
      // 66h together with REX.W: REX.W wins, the operation is 64-bit (SDM Vol. 2A §2.2.1.2).
      const variants: ('' | 'lock' | '66+w')[] = [''];
      if (r.lock) variants.push('lock');
      if (osz === 64 && !r.vex && r.size === undefined && r.prefix !== '66' && sizesOf(r).includes(16)) variants.push('66+w');
      for (const variant of variants) {
        const lock = variant === 'lock';
        const valued = ops.filter((o) => o.kind !== 'one' && o.kind !== 'J' && o.kind !== 'seg' && o.size > 0);
        const lists = hook.values?.(ops, osz) ?? valued.map((o) => edges(o.size));
        const cap = variant === '66+w' ? 4 : lock ? (form === 'mem' ? 6 : 2) : form === 'mem' ? 12 : (hook.cap ?? 36);
        const vecs = lists.length ? combos(lists, cap) : [[]];
        vecs.forEach((vals, vi) => {
          const flagStates = readsFlags(r) ? [F0, F1] : [vi % 2 ? F1 : F0];
          for (const fl of flagStates) {
            const d = g.draft(r);
            d.rflags = fl;
            d.flagUndef = undefFlags(r);
            baseSpec(r, d, osz, ops);
            if (lock) d.prefixes.unshift(0xf0);
            if (variant === '66+w') d.prefixes.push(0x66);
            for (const x of hook.implicit ?? []) d.used.add(x);
            buildOperands(g, r, d, ops, form, vals, osz);
            hook.after?.(g, d, vals, osz, form, ops);
            d.desc.unshift(`o${osz} ${form}${variant ? ' ' + variant : ''}`);
            g.emit(ri, d);
          }
        });
      }
    }
  }
}

/** Registers, memory and immediates of the generic engine, with values in operand order. */
function buildOperands(g: Gen, r: InsnRow, d: Draft, ops: Operand[], form: 'reg' | 'mem', vals: bigint[], osz: number): void {
  let vi = 0;
  const modrm = hasModrm(r, ops);
  let reg = r.digit ?? 0;
  let rm: number | undefined;
  let mem: MemRef | undefined;
  const imms: { value: bigint; size: 1 | 2 | 4 | 8 }[] = [];
  // choose registers first (byte-register REX constraints), then the memory operand
  const picks = new Map<Operand, RegPick>();
  ops.forEach((o, i) => {
    if (o.kind === 'fixed') {
      picks.set(o, o.fixedReg === 0 && o.size === 8 ? gpr(0) : gpr(o.fixedReg!));
      d.used.add(o.fixedReg!);
    } else if (o.kind === 'G' || o.kind === 'B' || o.kind === 'Z' || (isRm(o) && form === 'reg')) picks.set(o, g.pickReg(d, o.size || osz, i));
  });
  if (r.plusR && r.op === 'XCHG' && g.index % 5 === 0) {
    // 90 = NOP (xchg eax, eax does not zero-extend in 64-bit mode)
    const z = ops.find((o) => o.kind === 'Z')!;
    picks.set(z, gpr(0));
  }
  const rmOp = ops.find(isRm);
  if (rmOp && form === 'mem') mem = g.memRef(d, MEM_OFF);
  for (const o of ops) {
    const p = picks.get(o);
    if (o.kind === 'one' || o.kind === 'J' || o.kind === 'seg') continue;
    const v = o.size > 0 ? (vals[vi++] ?? 0n) : 0n;
    if (p) {
      if (o.size) g.setReg(d, p, o.size, v);
      if (o.kind === 'G') reg = p.enc;
      else if (o.kind === 'B') d.spec.vex = { ...d.spec.vex!, vvvv: p.enc };
      else if (o.kind === 'Z') d.spec.opReg = p.enc;
      else if (isRm(o)) rm = p.enc;
    } else if (isRm(o)) {
      if (o.size) g.writeMem(d, MEM_OFF, o.size, v);
    } else if (o.kind === 'I') {
      const size = (o.text === 'Iw' ? 2 : o.text === 'Iv' ? osz / 8 : o.size / 8) as 1 | 2 | 4 | 8;
      imms.push({ value: v, size });
    } else if (o.kind === 'O') {
      g.writeMem(d, MEM_OFF, o.size, v);
      imms.push({ value: BigInt(g.scratchBase() + MEM_OFF), size: 8 });
    }
  }
  if (modrm) d.spec.modrm = rm !== undefined ? { reg, rm } : mem ? { reg, mem } : { reg, rm: r.rm ?? 0 };
  if (r.mod === 'reg' && r.rm !== undefined) d.spec.modrm = { reg, rm: r.rm };
  d.spec.imms = imms;
  d.desc.push(vals.map((v) => '0x' + v.toString(16)).join(','));
}

// ---- dedicated generators --------------------------------------------------------------------------

const NOT_R11 = [0x49, 0xf7, 0xd3];
/** mov eax, DATA_SEL; mov ds/es/ss/fs/gs, eax: undo a case's segment loads before the next case */
const FLAT_SEGMENTS = [0xb8, DATA_SEL, 0, 0, 0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0x8e, 0xe0, 0x8e, 0xe8];
const FLAG_COMBOS = [0n, CF, ZF, SF, OF, PF, SF | OF, ZF | CF, ZF | SF, STATUS];

/** Jcc / LOOPcc / JrCXZ / JMP / CALL rel: branch over `not r11` (3 bytes): r11 tells taken or not */
function branchRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  const rel8 = r.operands[0] === 'Jb';
  const loops = r.op === 'LOOP' || r.op === 'JRCXZ';
  const rcxVals = loops ? [0n, 1n, 2n, 0x100000000n, 0xffffffffn, 0x100000001n] : [0n];
  const flagSets = r.op === 'JCC' || (r.op === 'LOOP' && r.arg !== 2) ? FLAG_COMBOS : [0n, STATUS];
  for (const a32 of loops ? [false, true] : [false])
    for (const rcx of rcxVals)
      for (const f of flagSets) {
        const d = g.draft(r);
        d.rflags = F0 | f;
        if (a32) d.prefixes.push(0x67);
        d.regs[1] = rcx;
        d.spec.imms = [{ value: 3n, size: rel8 ? 1 : 4 }];
        d.trailer = NOT_R11;
        d.desc.push(`${a32 ? 'a32 ' : ''}rcx=${rcx.toString(16)}`);
        g.emit(ri, d);
      }
}

/** string instructions, with and without REP/REPE/REPNE, both directions, 64- and 32-bit addresses */
function stringRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  const byte = r.operands[0]!.endsWith('b') || r.operands[1]!.endsWith('b');
  const cmp = r.op === 'CMPS' || r.op === 'SCAS';
  const reps = cmp ? [0, 0xf3, 0xf2] : [0, 0xf3];
  for (const osz of byte ? [8] : [16, 32, 64])
    for (const rep of reps)
      for (const df of [0n, DF])
        for (const a32 of [false, true])
          for (const rcx of rep ? (a32 ? [1n, 0x100000003n] : [0n, 1n, 3n]) : [2n]) {
            const d = g.draft(r);
            const n = osz / 8;
            d.rflags = (g.index % 2 ? F1 : F0) | df;
            if (rep) d.prefixes.push(rep);
            if (osz === 16) d.prefixes.push(0x66);
            if (a32) d.prefixes.push(0x67);
            if (osz === 64) d.spec.rexW = true;
            const base = g.scratchBase();
            // source block at +16, destination at +96 (4 elements each); with DF=1 they start at the last element
            const s0 = base + 16 + (df ? 3 * n : 0), d0 = base + 96 + (df ? 3 * n : 0);
            d.regs[6] = a32 ? U(0xabcd000000000000n | BigInt(s0)) : BigInt(s0);
            d.regs[7] = a32 ? U(0x1234000000000000n | BigInt(d0)) : BigInt(d0);
            d.regs[1] = rcx;
            // CMPS/SCAS data: equal for the first two elements, then different
            for (let i = 0; i < 4 * n; i++) d.scratch[96 + i] = d.scratch[16 + i]!;
            d.scratch[96 + (df ? 1 : 2) * n] = (d.scratch[96 + (df ? 1 : 2) * n]! + 1) & 0xff;
            if (r.op === 'SCAS') {
              let v = 0n;
              for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(d.scratch[96 + (df ? 3 * n : 0) + i]!);
              d.regs[0] = g.index % 3 === 0 ? U(d.regs[0]! ^ 1n) : U((d.regs[0]! & ~mask(osz)) | v);
            }
            d.desc.push(`o${osz}${rep ? ` rep${rep.toString(16)}` : ''} df=${df ? 1 : 0} rcx=${rcx.toString(16)}${a32 ? ' a32' : ''}`);
            g.emit(ri, d);
          }
}

/** RET / RETF / IRET / CALL Ev / JMP Ev / CALLF / JMPF: control transfers to the next instruction */
function transferRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  const sp = STACK_OFF;
  const variants: { osz: number; form: 'reg' | 'mem' | 'none'; imm?: number }[] = [];
  if (r.op === 'RET') for (const imm of r.operands.length ? [0, 8, 24] : [undefined]) variants.push({ osz: 64, form: 'none', ...(imm !== undefined ? { imm } : {}) });
  else if (r.op === 'RETF' || r.op === 'IRET') for (const osz of [32, 64]) for (const imm of r.operands.length ? [0, 16] : [undefined]) variants.push({ osz, form: 'none', ...(imm !== undefined ? { imm } : {}) });
  else if (r.op === 'CALL' || r.op === 'JMP') variants.push({ osz: 64, form: 'reg' }, { osz: 64, form: 'mem' });
  else variants.push({ osz: 32, form: 'mem' }); // CALLF/JMPF m16:32 (REX.W m16:64 is Intel-only, AMD ignores REX.W)
  for (const v of variants)
    for (const fl of [F0, F1 | DF]) {
      const d = g.draft(r);
      d.rflags = fl;
      if (v.osz === 64 && (r.op === 'RETF' || r.op === 'IRET')) d.spec.rexW = true;
      if (v.imm !== undefined) d.spec.imms = [{ value: BigInt(v.imm), size: 2 }];
      const w = v.osz / 8;
      if (r.op === 'RET') d.nextFix.push({ off: sp, size: 8 });
      if (r.op === 'RETF') {
        d.nextFix.push({ off: sp, size: w as 4 | 8 });
        g.writeMem(d, sp + w, 64, BigInt(CODE_SEL));
      }
      if (r.op === 'IRET') {
        d.nextFix.push({ off: sp, size: w as 4 | 8 });
        const newSp = BigInt(g.scratchBase() + 232);
        const flags = fl === F0 ? 0x8d7n : 0x246n;
        [BigInt(CODE_SEL), flags, newSp, BigInt(DATA_SEL)].forEach((x, i) => {
          for (let b = 0; b < w; b++) d.scratch[sp + w * (i + 1) + b] = Number((x >> BigInt(8 * b)) & 0xffn);
        });
      }
      if (r.op === 'CALL' || r.op === 'JMP') {
        if (v.form === 'reg') {
          const p = g.pickReg(d, 64, 0);
          d.nextFix.push({ reg: p.full });
          d.spec.modrm = { reg: r.digit!, rm: p.enc };
        } else {
          d.spec.modrm = { reg: r.digit!, mem: g.memRef(d, MEM_OFF, false) };
          d.nextFix.push({ off: MEM_OFF, size: 8 });
        }
      }
      if (r.op === 'CALLF' || r.op === 'JMPF') {
        d.spec.modrm = { reg: r.digit!, mem: g.memRef(d, MEM_OFF, false) };
        d.nextFix.push({ off: MEM_OFF, size: 4 });
        g.writeMem(d, MEM_OFF + 4, 16, BigInt(CODE_SEL));
      }
      if (r.op === 'IRET') d.post = FLAT_SEGMENTS;
      d.desc.push(`o${v.osz} ${v.form}${v.imm !== undefined ? ` imm=${v.imm}` : ''}`);
      g.emit(ri, d);
    }
}

/** PUSH / POP / PUSHF / POPF / ENTER / LEAVE / POP Ev / PUSH Ev / segment pushes and pops */
function stackRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  if (r.op === 'POPF') {
    const vals = [0n, 0x2n, 0x8d5n, 0xcd5n | IF, 0x3000n, 0x4000n, 0x40000n, 0x200000n, 0xfffffeffn, 0xfffffffffffffeffn, 0x10000n, 0x80000n | 0x100000n];
    for (const osz of [16, 64])
      vals.forEach((v, i) => {
        const d = g.draft(r);
        d.rflags = i % 2 ? F1 : F0;
        if (osz === 16) d.prefixes.push(0x66);
        g.writeMem(d, STACK_OFF, 64, v);
        d.desc.push(`o${osz} value=${v.toString(16)}`);
        g.emit(ri, d);
      });
    return;
  }
  if (r.op === 'ENTER') {
    for (const osz of [16, 64])
      for (const size of [0, 8, 0x18])
        for (const level of [0, 1, 2, 3, 33]) {
          const d = g.draft(r);
          d.rflags = F0;
          if (osz === 16) d.prefixes.push(0x66);
          d.regs[5] = BigInt(g.scratchBase() + RBP_OFF);
          d.spec.imms = [{ value: BigInt(size), size: 2 }, { value: BigInt(level), size: 1 }];
          d.desc.push(`o${osz} size=${size} level=${level}`);
          g.emit(ri, d);
        }
    return;
  }
  if (r.op === 'LEAVE') {
    for (const osz of [16, 64])
      for (const rbp of [BigInt(g.scratchBase() + RBP_OFF), BigInt(g.scratchBase() + 8), 0x8000000000000000n, BigInt(g.scratchBase() + 248)]) {
        const d = g.draft(r);
        if (osz === 16) d.prefixes.push(0x66);
        d.regs[5] = rbp;
        d.desc.push(`o${osz} rbp=${rbp.toString(16)}`);
        g.emit(ri, d);
      }
    return;
  }
  if (r.op === 'PUSH_SEG' || r.op === 'POP_SEG') {
    for (const osz of [16, 64])
      for (const sel of [DATA_SEL, 0, 0x18, 0x08]) {
        if (r.op === 'PUSH_SEG' && sel !== DATA_SEL) continue;
        const d = g.draft(r);
        if (osz === 16) d.prefixes.push(0x66);
        // PUSH FS/GS with a 64-bit operand size writes the zero-extended selector or only its 16 bits (SDM
        // Vol. 2B PUSH allows both): the slot's upper bytes start as zero so either agrees
        if (r.op === 'PUSH_SEG') g.writeMem(d, STACK_OFF - 8, 64, 0x5a5an);
        g.writeMem(d, STACK_OFF, 64, BigInt(sel) | 0xabcd0000n);
        d.post = FLAT_SEGMENTS;
        d.desc.push(`o${osz} sel=${sel.toString(16)}`);
        g.emit(ri, d);
      }
    return;
  }
  genericRow(g, ri); // PUSH/POP with register, memory and immediate operands
}

/** MOV Sreg,r/m and MOV r/m,Sreg; LSS/LFS/LGS */
function segmentRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  if (r.op === 'MOV_SW_EW') {
    for (const sreg of [0, 1, 2, 3, 4, 5])
      for (const sel of [DATA_SEL, 0, 0x08, 0x18, 0x13])
        for (const form of ['reg', 'mem'] as const) {
          if (sreg === 1 && sel !== DATA_SEL) continue;
          const d = g.draft(r);
          if (form === 'reg') {
            const p = g.pickReg(d, 16, 0);
            g.setReg(d, p, 16, BigInt(sel));
            d.spec.modrm = { reg: sreg, rm: p.enc };
          } else {
            d.spec.modrm = { reg: sreg, mem: g.memRef(d, MEM_OFF) };
            g.writeMem(d, MEM_OFF, 16, BigInt(sel));
          }
          d.post = FLAT_SEGMENTS;
          d.desc.push(`sreg=${sreg} sel=${sel.toString(16)} ${form}`);
          g.emit(ri, d);
        }
    return;
  }
  if (r.op === 'MOV_EV_SW') {
    for (const osz of [16, 32, 64])
      for (const sreg of [0, 1, 2, 3, 4, 5])
        for (const form of ['reg', 'mem'] as const) {
          if (form === 'mem' && osz !== 16) continue;
          const d = g.draft(r);
          if (osz === 16) d.prefixes.push(0x66);
          if (osz === 64) d.spec.rexW = true;
          if (form === 'reg') d.spec.modrm = { reg: sreg, rm: g.pickReg(d, 64, 0).enc };
          else d.spec.modrm = { reg: sreg, mem: g.memRef(d, MEM_OFF) };
          d.desc.push(`o${osz} sreg=${sreg} ${form}`);
          g.emit(ri, d);
        }
    return;
  }
  // LxS Gv, Mp: offset then selector
  for (const osz of [16, 32, 64])
    for (const sel of [DATA_SEL, 0, 0x08]) {
      if (r.arg === 2 && sel === 0) continue; // LSS null → #GP(0); kept once below
      const d = g.draft(r);
      if (osz === 16) d.prefixes.push(0x66);
      if (osz === 64) d.spec.rexW = true;
      const p = g.pickReg(d, osz, 0);
      d.spec.modrm = { reg: p.enc, mem: g.memRef(d, MEM_OFF) };
      g.writeMem(d, MEM_OFF, osz, PATTERN & mask(osz));
      g.writeMem(d, MEM_OFF + osz / 8, 16, BigInt(sel));
      d.post = FLAT_SEGMENTS;
      d.desc.push(`o${osz} sel=${sel.toString(16)}`);
      g.emit(ri, d);
    }
}

/** CMPXCHG8B / CMPXCHG16B (REX.W) m64/m128, equal and unequal, with and without LOCK */
function cmpxchg8bRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  for (const w of [false, true])
    for (const eq of [true, false])
      for (const lock of [false, true]) {
        const d = g.draft(r);
        d.rflags = eq ? F0 : F1;
        if (lock) d.prefixes.push(0xf0);
        d.spec.rexW = w;
        for (const x of [0, 1, 2, 3]) d.used.add(x);
        d.spec.modrm = { reg: 1, mem: g.memRef(d, MEM_OFF, false) };
        const lo = d.sdv.getBigUint64(MEM_OFF, true), hi = d.sdv.getBigUint64(MEM_OFF + 8, true);
        if (w) {
          d.regs[0] = eq ? lo : lo ^ 0x100n;
          d.regs[2] = hi;
        } else {
          d.regs[0] = U((d.regs[0]! & ~mask(32)) | (eq ? lo & mask(32) : (lo & mask(32)) ^ 1n));
          d.regs[2] = U((d.regs[2]! & ~mask(32)) | (lo >> 32n));
        }
        d.desc.push(`${w ? '16b' : '8b'} ${eq ? 'equal' : 'differ'}${lock ? ' lock' : ''}`);
        g.emit(ri, d);
      }
}

/** instructions whose outcome is an exception or a trap: INT3, INT n, INT1, UD0/1/2, and no64 rows (#UD) */
function trapRow(g: Gen, ri: number, ud64: boolean): void {
  const r = INSN_TABLE[ri]!;
  const extra: number[][] = ud64 ? [[0xc0, 0x0a, 0, 0, 0, 0, 0]] : r.op === 'INT' ? [[3], [0x21], [0x80]] : r.operands.length ? [[0xc0], [0x00]] : [[]];
  for (const tail of extra)
    for (const fl of [F0, F1]) {
      const d = g.draft(r);
      d.rflags = fl;
      const e = encode({ map: r.map, opcode: r.opcode, ...(r.op === 'UD' && r.operands.length ? { modrm: tail[0] === 0 ? { reg: 0, mem: { base: 3, disp: 0 } } : { reg: 0, rm: 0 } } : {}) });
      const bytes = r.op === 'UD' ? [...e.bytes] : [...e.bytes, ...tail];
      if (r.op === 'UD' && tail[0] === 0) d.regs[3] = BigInt(g.scratchBase() + MEM_OFF);
      d.spec = { map: '1', opcode: bytes[0]! };
      d.trailer = bytes.slice(1);
      d.desc.push(ud64 ? '64-bit mode #UD' : `bytes ${hex(Uint8Array.from(bytes))}`);
      g.emit(ri, d, ud64 ? 1 : bytes.length);
    }
}

/** XLAT: AL ← [rBX + AL] */
function xlatRow(g: Gen, ri: number): void {
  const r = INSN_TABLE[ri]!;
  for (const al of [0n, 1n, 0x7fn, 0x80n, 0xffn, 0x3cn])
    for (const a32 of [false, true]) {
      const d = g.draft(r);
      if (a32) d.prefixes.push(0x67);
      d.regs[3] = a32 ? U(0x5555000000000000n | BigInt(g.scratchBase())) : BigInt(g.scratchBase());
      g.setReg(d, gpr(0), 8, al);
      d.desc.push(`al=${al.toString(16)}${a32 ? ' a32' : ''}`);
      g.emit(ri, d);
    }
}

// ---- entry point ---------------------------------------------------------------------------------

const TRANSFER = new Set(['RET', 'RETF', 'IRET', 'CALL', 'JMP', 'CALLF', 'JMPF']);
const STACK = new Set(['PUSH', 'POP', 'PUSHF', 'POPF', 'ENTER', 'LEAVE', 'PUSH_SEG', 'POP_SEG']);

export interface Corpus {
  readonly cases: readonly InsnCase[];
  /** per row index: why it is not run (rows absent here are run) */
  readonly notRun: ReadonlyMap<number, string>;
  /** rows run only as a 64-bit-mode #UD, with why */
  readonly ud64: ReadonlyMap<number, string>;
}

export function generateCorpus(opts: GenOptions): Corpus {
  const g = new Gen(opts);
  const notRun = new Map<number, string>();
  const ud64 = new Map<number, string>();
  INSN_TABLE.forEach((r, ri) => {
    const c = classifyRow(r);
    if (c.kind === 'excluded') {
      notRun.set(ri, c.reason);
      return;
    }
    if (c.kind === 'legacy') {
      if (c.ud64) {
        ud64.set(ri, c.reason);
        trapRow(g, ri, true);
      }
      return;
    }
    if (r.op === 'JCC' || r.op === 'LOOP' || r.op === 'JRCXZ' || ((r.op === 'JMP' || r.op === 'CALL') && r.operands[0]!.startsWith('J'))) branchRow(g, ri);
    else if (['MOVS', 'CMPS', 'STOS', 'LODS', 'SCAS'].includes(r.op)) stringRow(g, ri);
    else if (TRANSFER.has(r.op)) transferRow(g, ri);
    else if (STACK.has(r.op)) stackRow(g, ri);
    else if (r.op === 'MOV_SW_EW' || r.op === 'MOV_EV_SW' || r.op === 'LxS') segmentRow(g, ri);
    else if (r.op === 'CMPXCHG8B') cmpxchg8bRow(g, ri);
    else if (['INT3', 'INT', 'INT1', 'UD'].includes(r.op)) trapRow(g, ri, false);
    else if (r.op === 'XLAT') xlatRow(g, ri);
    else genericRow(g, ri);
  });
  return { cases: g.cases, notRun, ud64 };
}

export { CONDITIONS };
