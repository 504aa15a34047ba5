// Intel-syntax text of one decoded instruction, in the form GNU objdump -M intel prints it: register
// names by operand size, memory operands with their size keyword, segment and base+index*scale+disp,
// immediates, branch targets as absolute addresses. Operand encoding: Intel SDM Vol. 2 ch. 2
// (ModRM/SIB Tables 2-1..2-3, REX §2.2.1, VEX §2.3) and Appendix A.2 (operand kind notation).
// Runs after the interpreter's decoder (cpu.ts decodeFull) has accepted the bytes: the row, sizes and
// immediates come from the decoder; the raw prefix/ModRM/SIB bytes are re-read here (the decoder
// keeps no SIB index=100b or prefix-order detail). Not a hot path.

import type { Insn } from './cpu.ts';
import * as G from './decoder.generated.ts';
import { x87Text } from './disasm-x87.ts';

const R8 = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const R8X = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi'];
const SEGS = ['es', 'cs', 'ss', 'ds', 'fs', 'gs', '?', '?'];
const SIZE_KW: Record<number, string> = { 1: 'BYTE', 2: 'WORD', 4: 'DWORD', 6: 'FWORD', 8: 'QWORD', 10: 'TBYTE', 16: 'XMMWORD' };
const ADDR16 = ['bx+si', 'bx+di', 'bp+si', 'bp+di', 'si', 'di', 'bp', 'bx'];

/** general-purpose register `n` (0-15) of `size` bytes; `rex` selects spl/bpl/sil/dil over ah/ch/dh/bh */
export function gpr(n: number, size: number, rex: boolean): string {
  if (n >= 8) return size === 1 ? `r${n}b` : size === 2 ? `r${n}w` : size === 4 ? `r${n}d` : `r${n}`;
  return size === 1 ? (rex ? R8X : R8)[n]! : size === 2 ? R16[n]! : size === 4 ? R32[n]! : R64[n]!;
}

export function hex(v: number | bigint): string {
  return '0x' + v.toString(16);
}

/** the raw encoding facts the decoder does not keep */
export interface Raw {
  readonly bytes: Uint8Array;
  readonly bits: 16 | 32 | 64;
  readonly address: bigint;
  p66: boolean; p67: boolean; rep: number; lock: boolean; seg: number; rex: number;
  vex: boolean; vexL: number; vexW: boolean;
  /** index of the ModRM byte (-1 none) */
  modrmAt: number;
  map: number; opcode: number;
}

function scan(bytes: Uint8Array, bits: 16 | 32 | 64, address: bigint, vexRow: boolean, hasModrm: boolean): Raw {
  const r: Raw = { bytes, bits, address, p66: false, p67: false, rep: 0, lock: false, seg: -1, rex: 0, vex: false, vexL: 0, vexW: false, modrmAt: -1, map: 0, opcode: 0 };
  let i = 0;
  const SEG_OF: Record<number, number> = { 0x26: 0, 0x2e: 1, 0x36: 2, 0x3e: 3, 0x64: 4, 0x65: 5 };
  for (;;) {
    const b = bytes[i]!;
    if (b in SEG_OF) r.seg = SEG_OF[b]!;
    else if (b === 0x66) r.p66 = true;
    else if (b === 0x67) r.p67 = true;
    else if (b === 0xf0) r.lock = true;
    else if (b === 0xf2 || b === 0xf3) r.rep = b;
    else if (bits === 64 && (b & 0xf0) === 0x40) { r.rex = b; i++; continue; }
    else break;
    r.rex = 0;
    i++;
  }
  let b = bytes[i++]!;
  if (vexRow) {
    r.vex = true;
    const b1 = bytes[i++]!;
    if (b === 0xc5) { r.map = 1; r.vexL = (b1 >> 2) & 1; r.rex = 0x40 | (b1 & 0x80 ? 0 : 4); }
    else {
      const b2 = bytes[i++]!;
      r.map = b1 & 0x1f; r.vexW = (b2 & 0x80) !== 0; r.vexL = (b2 >> 2) & 1;
      r.rex = 0x40 | (b1 & 0x80 ? 0 : 4) | (b1 & 0x40 ? 0 : 2) | (b1 & 0x20 ? 0 : 1) | (r.vexW && bits === 64 ? 8 : 0);
      if (bits !== 64) r.rex &= ~7;
    }
    b = bytes[i++]!;
  } else if (b === 0x0f) {
    b = bytes[i++]!;
    if (b === 0x38) { r.map = 2; b = bytes[i++]!; } else if (b === 0x3a) { r.map = 3; b = bytes[i++]!; } else r.map = 1;
  }
  r.opcode = b;
  if (hasModrm) r.modrmAt = i;
  return r;
}

/** an operand formatter bound to one decoded instruction */
class Fmt {
  /** RIP-relative target, printed as objdump's trailing comment */
  comment = '';
  constructor(readonly d: Insn, readonly raw: Raw, readonly kinds: string[]) {}

  get rexAny(): boolean { return this.raw.rex !== 0; }

  reg(n: number, size: number): string { return gpr(n, size, this.rexAny); }

  /** the ModRM memory operand; `size` 0 = no size keyword */
  mem(size: number, kw?: string): string {
    const { bytes, bits } = this.raw;
    const d = this.d;
    const k = kw ?? (size ? SIZE_KW[size] ?? '' : '');
    const pre = k ? `${k} PTR ` : '';
    const at = this.raw.modrmAt;
    const modrm = bytes[at]!;
    const mod = modrm >> 6, rm = modrm & 7;
    const segName = this.segPrefix();
    if (d.asz === 2) {
      if (mod === 0 && rm === 6) return `${pre}${segName || 'ds:'}${hex(d.eaDisp & 0xffff)}`;
      let s = `[${ADDR16[rm]!}`;
      if (mod !== 0) s += signedDisp(d.eaDisp);
      return `${pre}${segName}${s}]`;
    }
    const rx = this.raw.rex;
    const a = d.asz;
    const sib = rm === 4 ? bytes[at + 1]! : -1;
    let havebase = true, base = rm | (rx & 1 ? 8 : 0), index = -1, scale = 0;
    let rip = false;
    if (sib >= 0) {
      scale = sib >> 6;
      index = ((sib >> 3) & 7) | (rx & 2 ? 8 : 0);
      base = (sib & 7) | (rx & 1 ? 8 : 0);
      if ((sib & 7) === 5 && mod === 0) havebase = false;
    } else if (rm === 5 && mod === 0) {
      havebase = false;
      rip = bits === 64;
    }
    const haveindex = index !== 4 && index !== -1;
    const needindex = sib >= 0 && !havebase && !haveindex && bits !== 16 && a === 4;
    const havedisp = havebase || needindex || (sib >= 0 && (haveindex || scale !== 0));
    const disp = d.eaDisp;
    if (rip) {
      // objdump prints the displacement as an unsigned 64-bit number and the target in a comment
      const s = `[${a === 8 ? 'rip' : 'eip'}+${hex(BigInt.asUintN(64, BigInt(disp)))}]`;
      const next = this.raw.address + BigInt(d.len) + BigInt(disp);
      this.comment = `        # ${hex(BigInt.asUintN(64, next))}`;
      return `${pre}${segName}${s}`;
    }
    if (!havedisp) {
      const v = a === 8 ? BigInt.asUintN(64, BigInt(disp)) : BigInt(disp >>> 0);
      return `${pre}${segName || 'ds:'}${hex(v)}`;
    }
    let s = '[';
    if (havebase) s += this.reg(base, a);
    if (sib >= 0 && (scale !== 0 || needindex || haveindex || (havebase && (base & 7) !== 4))) {
      if (havebase) s += '+';
      s += haveindex ? this.reg(index, a) : a === 8 ? 'riz' : 'eiz';
      s += '*' + (1 << scale);
    }
    if (!havebase && bits === 64 && a === 4) s += '+' + hex(disp >>> 0); // addr32 absolute: objdump shows it unsigned
    else if (disp !== 0 || mod !== 0 || !havebase) s += signedDisp(disp);
    return `${pre}${segName}${s}]`;
  }

  /** the segment override as objdump shows it on a memory operand ('' when none applies) */
  segPrefix(): string {
    const s = this.raw.seg;
    if (s < 0) return '';
    if (this.raw.bits === 64 && s < 4) return ''; // ES/CS/SS/DS overrides are ignored in 64-bit mode
    return SEGS[s] + ':';
  }

  /** E-kind operand: a register (ModRM.rm) when mod = 11b, else memory */
  e(size: number, regSize = size, kw?: string): string {
    if (this.d.mod === 3) return this.reg(this.d.rm, regSize);
    return this.mem(size, kw);
  }

  /** immediate `v` (already sign- or zero-extended to 32 bits by the decoder) shown at `size` bytes */
  imm(v: number, size: number, hi = v >> 31): string {
    if (size === 1) return hex(v & 0xff);
    if (size === 2) return hex(v & 0xffff);
    if (size === 4) return hex(v >>> 0);
    return hex((BigInt(hi >>> 0) << 32n) | BigInt(v >>> 0));
  }

  /** relative branch target (Jb/Jz): next-instruction address + displacement, wrapped to the operand size */
  target(): string {
    const d = this.d;
    let rel = d.imm;
    if (d.osz === 2 && (G.ROW_FLAGS[d.row]! >> G.IMM_SHIFT & 7) !== G.IMM_IBS) rel = (rel << 16) >> 16;
    const t = this.raw.address + BigInt(d.len) + BigInt(rel);
    const bits = this.raw.bits === 64 ? 64 : d.osz === 2 ? 16 : 32;
    return hex(BigInt.asUintN(bits, t));
  }

  /** string-instruction operand: DS:rSI (X, segment overridable) or ES:rDI (Y) */
  str(kind: 'X' | 'Y', size: number): string {
    const a = this.d.asz;
    const r = kind === 'X' ? (a === 2 ? 'si' : a === 4 ? 'esi' : 'rsi') : a === 2 ? 'di' : a === 4 ? 'edi' : 'rdi';
    const seg = kind === 'Y' ? 'es' : this.segPrefix().slice(0, 2) || 'ds';
    return `${SIZE_KW[size]} PTR ${seg}:[${r}]`;
  }
}

function signedDisp(disp: number): string {
  return disp < 0 ? `-${hex(-disp)}` : `+${hex(disp)}`;
}

function sizeOf(suffix: string, d: Insn, bits: number): number {
  switch (suffix) {
    case 'b': return 1;
    case 'w': return 2;
    case 'd': return 4;
    case 'q': return 8;
    case 'x': return 16;
    case 'v': return d.osz;
    case 'z': return d.osz === 2 ? 2 : 4;
    case 'y': return d.osz === 8 ? 8 : 4;
    case 'p': return d.osz === 2 ? 4 : d.osz === 4 ? 6 : 10;
    default: return bits === 64 ? 8 : 4;
  }
}

const STRING_OPS = new Set([G.OP_MOVS, G.OP_CMPS, G.OP_STOS, G.OP_LODS, G.OP_SCAS, G.OP_INS, G.OP_OUTS]);

/** Intel-syntax text (mnemonic and operands) of the instruction the decoder left in `d`. */
export function intelText(d: Insn, bytes: Uint8Array, bits: 16 | 32 | 64, address: bigint): string {
  const row = d.row;
  const rf = G.ROW_FLAGS[row]!;
  const raw = scan(bytes, bits, address, (rf & G.F_VEX) !== 0, (rf & G.F_MODRM) !== 0);
  const op = G.ROW_OP[row]!;
  const kinds = G.ROW_OPERANDS[row]!.split(',').filter((k) => k !== '');
  const f = new Fmt(d, raw, kinds);
  let mn = G.MNEMONICS[row]!;
  let pfx = '';
  if (raw.lock) pfx += 'lock ';
  // every x87 escape (D8-DF) is named from its ModRM byte, whatever op the table gives it
  if (raw.map === 0 && !raw.vex && raw.opcode >= 0xd8 && raw.opcode <= 0xdf) {
    const t = x87Text(f, bytes[raw.modrmAt - 1]!, bytes[raw.modrmAt]!);
    // the environment/state forms name a 16-bit or 32-bit layout when the operand size is not the mode's
    const envSfx = /^(fnstenv|fldenv|fnsave|frstor)$/.test(t.mnemonic) ? sizeSuffix((bits === 16) !== raw.p66 ? 2 : 4, bits === 16 ? 2 : 4) : '';
    return join(pfx, t.mnemonic + envSfx, t.operands) + f.comment;
  }
  if (STRING_OPS.has(op)) {
    if (raw.rep === 0xf2) pfx += 'repnz ';
    else if (raw.rep === 0xf3) pfx += op === G.OP_CMPS || op === G.OP_SCAS ? 'repz ' : 'rep ';
    if (mn.endsWith('b')) mn = mn.slice(0, -1);
  }
  const special = specialText(f, op, mn, kinds, bits);
  if (special !== undefined) return join(pfx, special[0], special[1]) + f.comment;
  const out: string[] = [];
  for (const k of kinds) out.push(operand(f, k, op, bits));
  return join(pfx, mnemonicFor(f, op, mn, bits), out.join(',')) + f.comment;
}

/** the operand size the prefixes select, before any per-instruction rule (SDM Vol. 1 §3.6) */
function natOsz(raw: Raw): number {
  if (raw.bits === 64) return raw.rex & 8 ? 8 : raw.p66 ? 2 : 4;
  return (raw.bits === 32) !== raw.p66 ? 4 : 2;
}

/** objdump's size suffix on a mnemonic whose operand size is not shown by a register */
function sizeSuffix(osz: number, def: number): string {
  return osz === def ? '' : osz === 2 ? 'w' : osz === 4 ? 'd' : 'q';
}

function join(pfx: string, mn: string, ops: string): string {
  const m = pfx + mn;
  return ops ? `${m.padEnd(6)} ${ops}` : m;
}

/** objdump's mnemonic where it depends on the operand size or REX.W */
function mnemonicFor(f: Fmt, op: number, mn: string, bits: number): string {
  const d = f.d;
  const w = d.rexW;
  switch (op) {
    case G.OP_CBW: return d.osz === 2 ? 'cbw' : d.osz === 4 ? 'cwde' : 'cdqe';
    case G.OP_CWD: return d.osz === 2 ? 'cwd' : d.osz === 4 ? 'cdq' : 'cqo';
    case G.OP_JRCXZ: return d.asz === 2 ? 'jcxz' : d.asz === 4 ? 'jecxz' : 'jrcxz';
    case G.OP_CMPXCHG8B: return w ? 'cmpxchg16b' : mn;
    case G.OP_FXSAVE: case G.OP_FXRSTOR: case G.OP_XSAVE: case G.OP_XRSTOR: case G.OP_XSAVEOPT: case G.OP_XSAVE_OTHER:
      return w ? mn + '64' : mn;
    case G.OP_SSE_MOVD: return w ? 'movq' : mn;
    case G.OP_PMISC:
      if (w && (d.arg === 0 || d.arg === 1)) return 'movq'; // MOVD mm, r/m64 (PM.MOVD_MM_E / MOVD_E_MM)
      if (w && mn === 'pextrd') return 'pextrq';
      if (w && mn === 'pinsrd') return 'pinsrq';
      return mn;
    case G.OP_MOV: if (bits === 64 && ((rf(d) & G.F_MOFFS) || (rf(d) & G.F_OPREG && d.osz === 8 && (rf(d) >> G.IMM_SHIFT & 7) === G.IMM_IV)) && (!(rf(d) & G.F_MOFFS) || d.asz === 8)) return 'movabs';
      return mn;
    case G.OP_PUSHF: case G.OP_POPF: case G.OP_PUSHA: case G.OP_POPA: case G.OP_PUSH_SEG: case G.OP_POP_SEG:
    case G.OP_ENTER: case G.OP_LEAVE: case G.OP_RET:
      return mn + sizeSuffix(d.osz, bits === 16 ? 2 : bits === 32 ? 4 : 8);
    case G.OP_PUSH: return (f.kinds[0] === 'Iz' || f.kinds[0] === 'Ibs') ? mn + sizeSuffix(d.osz, bits === 16 ? 2 : bits === 32 ? 4 : 8) : mn;
    case G.OP_IRET: case G.OP_RETF: case G.OP_JMP: case G.OP_CALL:
      if ((op === G.OP_JMP || op === G.OP_CALL) && f.kinds[0] !== 'Jz') return mn;
      return (op === G.OP_RETF ? 'retf' : mn) + sizeSuffix(d.osz, bits === 16 ? 2 : bits === 64 && op !== G.OP_IRET && op !== G.OP_RETF ? 8 : 4);
    case G.OP_SYSRET: case G.OP_SYSEXIT: return bits === 64 ? mn + (d.rexW ? 'q' : 'd') : mn;
    case G.OP_PCMPSTR: return d.rexW && mn.startsWith('pcmpe') ? mn + 'q' : mn;
    case G.OP_SHIFT: return mn === 'sal' ? 'shl' : mn;
    case G.OP_NOP:
      if (mn === 'prefetch') { const r = d.reg & 7; return r < 4 ? ['prefetchnta', 'prefetcht0', 'prefetcht1', 'prefetcht2'][r]! : 'nop'; }
      if (mn === 'prefetchw') { const r = d.reg & 7; return r === 1 ? 'prefetchw' : r === 2 ? 'prefetchwt1' : 'prefetch'; }
      return mn;
    case G.OP_CALLF: return 'call';
    case G.OP_JMPF: return 'jmp';
    default: return mn;
  }
}

function rf(d: Insn): number { return G.ROW_FLAGS[d.row]!; }

/** instructions whose operands do not follow from their kinds alone: [mnemonic, operands] */
function specialText(f: Fmt, op: number, mn: string, kinds: string[], bits: number): [string, string] | undefined {
  const d = f.d;
  switch (op) {
    case G.OP_XCHG:
      // 90 (also with REX.W) is NOP; with 66h objdump spells out the exchange (SDM "NOP", "XCHG")
      if (kinds[0] === 'Zv' && d.zreg === 0) return f.raw.p66 ? ['xchg', `${f.reg(0, d.osz)},${f.reg(0, d.osz)}`] : ['nop', ''];
      return undefined;
    case G.OP_XLAT: {
      const seg = f.segPrefix().slice(0, 2) || 'ds';
      return ['xlat', `BYTE PTR ${seg}:[${d.asz === 2 ? 'bx' : d.asz === 4 ? 'ebx' : 'rbx'}]`];
    }
    case G.OP_LAR: case G.OP_LSL:
      return [mn, `${f.reg(d.reg, d.osz)},${f.e(2, d.osz)}`];
    case G.OP_SLDT: case G.OP_STR: case G.OP_SMSW:
      // register destination: the prefixes' operand size (the row says Ew: the stored value is 16 bits)
      return [mn, f.e(2, natOsz(f.raw))];
    case G.OP_MOV_EV_SW: return ['mov', `${f.e(2, d.osz)},${SEGS[d.reg & 7]}`];
    case G.OP_MOV_SW_EW: return ['mov', `${SEGS[d.reg & 7]},${f.e(2, d.osz)}`];
    case G.OP_ENTER: return [mnemonicFor(f, op, mn, bits), `${hex(d.imm & 0xffff)},${hex(d.imm2 & 0xff)}`];
    case G.OP_CALLF: case G.OP_JMPF:
      if (kinds[0] === 'Ap') return [mnemonicFor(f, op, mn, bits), `${hex(d.imm2 & 0xffff)}:${hex(d.osz === 2 ? d.imm & 0xffff : d.imm >>> 0)}`];
      return undefined;
    case G.OP_MOV_R_CR: case G.OP_MOV_R_DR: case G.OP_MOV_CR_R: case G.OP_MOV_DR_R: {
      // always the full register width of the mode (REX.W and 66h do not matter, SDM "MOV—Move to/from Control Registers")
      const r = f.reg(d.rm, bits === 64 ? 8 : 4), x = `${op === G.OP_MOV_R_CR || op === G.OP_MOV_CR_R ? 'cr' : 'dr'}${d.reg}`;
      return ['mov', op === G.OP_MOV_R_CR || op === G.OP_MOV_R_DR ? `${r},${x}` : `${x},${r}`];
    }
    case G.OP_INVPCID: return ['invpcid', `${f.reg(d.reg, bits === 64 ? 8 : 4)},${f.mem(0)}`];
    case G.OP_RDPID: return ['rdpid', f.reg(d.rm, bits === 64 ? 8 : 4)];
    case G.OP_BSWAP: return ['bswap', f.reg(d.zreg, natOsz(f.raw))];
    case G.OP_MOVSXD: return ['movsxd', `${f.reg(d.reg, d.osz)},${f.e(Math.min(d.osz, 4))}`];
    case G.OP_BOUND: return ['bound', `${f.reg(d.reg, d.osz)},${f.mem(d.osz * 2)}`];
    case G.OP_SGDT: case G.OP_SIDT: case G.OP_LGDT: case G.OP_LIDT:
      // outside 64-bit mode objdump names the operand size (16: 24-bit base, 32: 32-bit base)
      return [bits === 64 ? mn : mn + (d.osz === 2 ? 'w' : 'd'), f.mem(0)];
    case G.OP_CMPXCHG8B: return [mnemonicFor(f, op, mn, bits), f.mem(0, d.rexW ? 'OWORD' : 'QWORD')];
    case G.OP_NOP:
      if ((mn === 'prefetch' && (d.reg & 7) >= 4) || /^nop$/.test(mn)) return ['nop', f.e(natOsz(f.raw))];
      return undefined;
    case G.OP_SSE_MOV: {
      // the row's W operand covers the scalar forms too: the width is in arg bits 0-1 (128/64/32)
      if (mn === 'lddqu') return [mn, `xmm${d.reg},${f.mem(0)}`];
      const w = [16, 8, 4][d.arg & 3]!;
      return [mn, kinds.map((k) => (k[0] === 'W' || k[0] === 'M') && d.mod !== 3 ? f.mem(w) : operand(f, k, op, bits)).join(',')];
    }
    case G.OP_SSE_FP:
      // CMPPS/CMPSS/CMPPD/CMPSD with predicate 0-7: the SDM's pseudo-op names (CMPEQPS … CMPORDSD), no imm8
      if (/^cmp(ps|ss|pd|sd)$/.test(mn) && (d.imm & 0xff) < 8) {
        const pred = ['eq', 'lt', 'le', 'unord', 'neq', 'nlt', 'nle', 'ord'][d.imm & 7]!;
        return ['cmp' + pred + mn.slice(3), kinds.slice(0, 2).map((k) => operand(f, k, op, bits)).join(',')];
      }
      // MOVMSKPS/MOVMSKPD: REX.W names the 64-bit destination (the mask is zero-extended either way)
      if (/^movmskp[sd]$/.test(mn)) return [mn, `${f.reg(d.reg, d.rexW ? 8 : 4)},xmm${d.rm}`];
      // BLENDVPS/BLENDVPD/PBLENDVB: XMM0 is the implicit third operand, shown by objdump
      if (/^(blendvps|blendvpd|pblendvb)$/.test(mn)) return [mn, kinds.map((k) => operand(f, k, op, bits)).join(',') + ',xmm0'];
      return undefined;
    case G.OP_CRC32: return ['crc32', `${f.reg(d.reg, d.rexW ? 8 : 4)},${f.e(kinds[1] === 'Eb' ? 1 : d.osz)}`];
    case G.OP_PMISC:
      // PEXTRB/PEXTRW/PINSRB/PINSRW register forms name the 32-bit (REX.W: 64-bit) register
      if (mn === 'pmovmskb') return [mn, `${f.reg(d.reg, d.rexW ? 8 : 4)},${operand(f, kinds[1]!, op, bits)}`];
      if (/^(pextr[bw]|pinsr[bw])$/.test(mn)) {
        const out = kinds.map((k) => (k === 'Eb' || k === 'Ew') && d.mod === 3 ? f.reg(d.rm, 4) : operand(f, k, op, bits));
        return [mn, out.join(',')];
      }
      return undefined;
    default: return undefined;
  }
}

/** one operand of kind `k` (Intel notation, SDM Appendix A.2) */
function operand(f: Fmt, k: string, op: number, bits: number): string {
  const d = f.d;
  const c = k[0]!;
  const suf = k.slice(1);
  switch (k) {
    case 'AL': return 'al';
    case 'AX': return 'ax';
    case 'rAX': return f.reg(0, d.osz);
    case 'eAX': return f.reg(0, d.osz === 2 ? 2 : 4);
    case 'CL': return 'cl';
    case 'DX': return 'dx';
    case '1': return '1';
    case 'ES': case 'CS': case 'SS': case 'DS': case 'FS': case 'GS': return k.toLowerCase();
    case 'Ib': return hex(d.imm & 0xff);
    case 'Ibs': case 'Iz': return f.imm(d.imm, d.osz, d.immHi);
    case 'Iw': return hex(d.imm & 0xffff);
    case 'Iv': return f.imm(d.imm, d.osz, d.immHi);
    case 'Jb': case 'Jz': return f.target();
  }
  const size = sizeOf(suf, d, bits);
  switch (c) {
    case 'G': return f.reg(d.reg, size);
    case 'E': return f.e(size);
    case 'M': return f.mem(memSize(op, suf, size, d));
    case 'R': return f.reg(d.rm, size);
    case 'Z': return f.reg(d.zreg, size);
    case 'B': return f.reg(d.vreg, size);
    case 'S': return SEGS[d.reg & 7]!;
    case 'C': return `cr${d.reg}`;
    case 'D': return `dr${d.reg}`;
    case 'O': {
      const seg = f.segPrefix() || 'ds:';
      const v = d.asz === 8 ? (BigInt(d.eaDispHi >>> 0) << 32n) | BigInt(d.eaDisp >>> 0) : BigInt(d.eaDisp >>> 0);
      return `${seg}${hex(v)}`;
    }
    case 'X': case 'Y': return f.str(c, size);
    case 'V': return `xmm${d.reg}`;
    case 'U': return `xmm${d.rm}`;
    case 'W': return d.mod === 3 ? `xmm${d.rm}` : f.mem(size);
    case 'P': return `mm${d.reg & 7}`;
    case 'N': return `mm${d.rm & 7}`;
    case 'Q': return d.mod === 3 ? `mm${d.rm & 7}` : f.mem(size);
    default: return `?${k}`;
  }
}

/** size keyword of an M operand: objdump omits it for descriptor-table and state-area operands */
function memSize(op: number, suf: string, size: number, d: Insn): number {
  if (suf === '') {
    switch (op) {
      case G.OP_NOP: case G.OP_INVLPG: return 1; // prefetch*, clflush, invlpg: BYTE PTR
      default: return 0;
    }
  }
  if (op === G.OP_CMPXCHG8B && d.rexW) return 16;
  return size;
}
