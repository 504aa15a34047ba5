// System instructions and event delivery: Intel SDM Vol. 3A ch. 6 "Interrupt and Exception
// Handling" (§6.12 protected-mode delivery, §6.14 64-bit mode, §6.14.5 IST), §20.1.4 real-mode
// IVT; Vol. 2 pages for IRET, far CALL/JMP/RET, IN/OUT/INS/OUTS (§19.5 I/O permission bitmap),
// CPUID, RDMSR/WRMSR, MOV CR/DR, SYSCALL/SYSRET, SYSENTER/SYSEXIT, SWAPGS, FXSAVE/FXRSTOR.

import { execSimdInt } from './simd-int.ts';
import { execSimdFp } from './simd-fp.ts';
import { execX87 } from './x87.ts';
import { readTsc } from './tsc.ts';
import { claimMsrExit } from './msr-exit.ts';
import { CpuFault } from '../../arch/x86/exceptions.ts';
import * as G from './decoder.generated.ts';
import { Cpu, EXIT_SIGNAL, ACC_IMPLICIT, ACC_WRITE } from './cpu.ts';
import { setRip, checkTarget, mulu32, bswap32, mul64, shift64, PROD } from './exec.ts';
import {
  loadSeg, loadSegReal, readDescriptor, descAttr, checkCodeTarget, loadCs, updateMode, setSegFromDesc,
  loadLdt, loadTr, desc, descLimit,
} from './segments.ts';
import {
  RAX, RCX, RDX, RBX, RSP, RBP, RSI, RDI, RIP_LO, RIP_HI, ES, CS, SS, DS, FS, GS, LDTR, TR,
  A_S, A_P, A_L, A_DB, A_UNUSABLE, A_DPL_SHIFT, A_TYPE,
  CF, ZF, OF, IF, TF, DF, NT, RF, VM, AC, IOPL, ID, VIF, VIP, ARITH_FLAGS,
  CR0_PE, CR0_TS, CR0_EM, CR0_MP, CR0_PG, CR4_UMIP, CR4_TSD, CR4_FSGSBASE, CR4_OSXSAVE, CR4_PCIDE,
  EFER_SCE, EFER_LMA, EFER_LME,
  MSR_FS_BASE, MSR_GS_BASE, MSR_EFER, MSR_APIC_BASE, MSR_TSC,
  HM_STAR, HM_LSTAR, HM_CSTAR, HM_FMASK, HM_SYSENTER_CS, HM_SYSENTER_ESP, HM_SYSENTER_EIP, HM_KERNEL_GS_BASE, HM_TSC_AUX,
} from './state.ts';

/** Hooks the backend provides: CPUID answers and the contract checks (one call site each). */
export interface SystemHooks {
  cpuid(c: Cpu, leaf: number, sub: number, out: Int32Array): void;
  /** MOV to CR0/3/4/8 through the contract; commits or throws CpuFault */
  writeCr(c: Cpu, n: number, lo: number, hi: number): void;
  /** RDMSR/WRMSR through the contract; value as bigint (slow path) */
  readMsr(c: Cpu, index: number): bigint;
  writeMsr(c: Cpu, index: number, value: bigint): void;
  xsetbv(c: Cpu, index: number, value: bigint): void;
  /** an instruction the interpreter does not implement yet */
  unimplemented(c: Cpu, what: string): never;
}

function H(c: Cpu): SystemHooks {
  if (!c.sys) throw new Error('interp: system hooks not installed');
  return c.sys;
}

const cpuidOut = new Int32Array(4);

function gp(why: string, ec = 0): CpuFault {
  return new CpuFault(13, ec, 0, 0, why);
}
function ud(why: string): CpuFault {
  return new CpuFault(6, -1, 0, 0, why);
}

function protectedMode(c: Cpu): boolean {
  return (c.cr0 & CR0_PE) !== 0 && (c.fl & VM) === 0;
}

/** Set RFLAGS from a POPF/IRET image honoring the privilege rules (SDM Vol. 2 POPF). */
export function writeFlags(c: Cpu, v: number, osz: number, allowIopl: boolean, allowIf: boolean): void {
  let mask = ARITH_FLAGS | TF | DF | NT | (osz >= 4 ? AC | ID : 0);
  if (allowIopl) mask |= IOPL;
  if (allowIf) mask |= IF;
  if (osz === 2) mask &= 0xffff;
  const old = c.getFlags();
  c.lfOp = 0;
  c.fl = ((old & ~mask) | (v & mask) | 2) & ~(RF | VM);
  c.fl |= old & (VM | VIF | VIP);
  if (c.mmu && (old ^ c.fl) & AC) (c.mmu as unknown as { setAc?(a: boolean): void }).setAc?.((c.fl & AC) !== 0);
}

export function execSystem(c: Cpu, op: number): void {
  const osz = c.d.osz;
  const r = c.r;
  switch (op) {
    case G.OP_PUSHF: {
      if (c.fl & VM && ((c.fl >> 12) & 3) < 3) throw gp('PUSHF in VM86 with IOPL<3');
      const f = c.getFlags() & ~(RF | VM);
      c.push(osz, f, 0);
      return;
    }
    case G.OP_POPF: {
      if (c.fl & VM && ((c.fl >> 12) & 3) < 3) throw gp('POPF in VM86 with IOPL<3');
      const v = c.pop(osz);
      const iopl = (c.fl >> 12) & 3;
      writeFlags(c, v, osz, c.cpl === 0, c.cpl <= iopl);
      c.shadow = 0;
      return;
    }
    case G.OP_CLI: case G.OP_STI: {
      if (protectedMode(c) && c.cpl > ((c.fl >> 12) & 3)) throw gp('CLI/STI with CPL > IOPL');
      if (c.fl & VM && ((c.fl >> 12) & 3) < 3) throw gp('CLI/STI in VM86');
      if (op === G.OP_CLI) c.fl &= ~IF;
      else {
        if (!(c.fl & IF)) c.shadow = 1;
        c.fl |= IF;
      }
      return;
    }
    case G.OP_HLT:
      if (c.cpl !== 0) throw gp('HLT at CPL>0');
      c.halted = true;
      return;
    case G.OP_INT: case G.OP_INT3: case G.OP_INTO: case G.OP_INT1:
      if (op === G.OP_INTO && !c.getOF()) return;
      if (op === G.OP_INT && c.fl & VM && ((c.fl >> 12) & 3) < 3) throw gp('INT n in VM86 with IOPL<3');
      deliver(c, op === G.OP_INT ? c.d.imm & 0xff : op === G.OP_INT3 ? 3 : op === G.OP_INTO ? 4 : 1, -1,
        op === G.OP_INT1 ? KIND_ICEBP : KIND_SOFT);
      return;
    case G.OP_IRET: iret(c); return;
    case G.OP_IN: case G.OP_OUT: case G.OP_INS: case G.OP_OUTS: io(c, op); return;
    case G.OP_CALLF: case G.OP_JMPF: farTransfer(c, op); return;
    case G.OP_RETF: farReturn(c); return;
    case G.OP_PUSH_SEG: c.push(osz, c.segSel[c.d.arg]!, 0); return;
    case G.OP_POP_SEG: {
      const v = c.peek(osz, 0) & 0xffff;
      loadSeg(c, c.d.arg, v);
      c.addSp(osz);
      if (c.d.arg === SS) c.shadow = 1;
      return;
    }
    case G.OP_MOV_EV_SW: {
      if (c.d.reg > 5) throw ud('MOV from segment register > GS');
      const v = c.segSel[c.d.reg & 7]!;
      if (c.d.mod === 3) c.setReg(c.d.rm, osz, v, 0);
      else c.st(G.K_E, 2, v, 0);
      return;
    }
    case G.OP_MOV_SW_EW: {
      const s = c.d.reg & 7;
      if (s === CS || s > 5) throw ud('MOV to CS or invalid segment register');
      loadSeg(c, s, c.ld(G.K_E, 2));
      if (s === SS) c.shadow = 1;
      return;
    }
    case G.OP_LxS: {
      if (c.d.mod === 3) throw ud('LxS with register operand');
      c.calcEa();
      const off = c.rd(c.d.seg, c.eaLo, c.eaHi, osz), offh = c.vh;
      const n = (c.eaLo + osz) | 0;
      const sel = c.rd(c.d.seg, n, c.eaHi, 2);
      loadSeg(c, c.d.arg, sel);
      c.setReg(c.d.reg, osz, off, offh);
      if (c.d.arg === SS) c.shadow = 1;
      return;
    }
    case G.OP_PUSHA: {
      const sp = r[RSP * 2]!;
      const vals = [r[0]!, r[2]!, r[4]!, r[6]!, sp, r[10]!, r[12]!, r[14]!];
      for (const v of vals) c.push(osz, v, 0);
      return;
    }
    case G.OP_POPA: {
      for (const reg of [RDI, RSI, RBP, -1, RBX, RDX, RCX, RAX]) {
        const v = c.pop(osz);
        if (reg >= 0) c.setReg(reg, osz, v, 0);
      }
      return;
    }
    case G.OP_BOUND: {
      c.calcEa();
      const idx = c.getReg(c.d.reg, osz);
      const lo = c.rd(c.d.seg, c.eaLo, 0, osz), hi = c.rd(c.d.seg, (c.eaLo + osz) | 0, 0, osz);
      const s = (x: number): number => (osz === 2 ? (x << 16) >> 16 : x);
      if (s(idx) < s(lo) || s(idx) > s(hi)) throw new CpuFault(5, -1, 0, 0, 'BOUND range exceeded');
      return;
    }
    case G.OP_ARPL: {
      if (!protectedMode(c)) throw ud('ARPL in real mode');
      const d = c.ld(G.K_E, 2), s = c.getReg(c.d.reg, 2);
      c.flatten();
      if ((d & 3) < (s & 3)) { c.st(G.K_E, 2, (d & ~3) | (s & 3), 0); c.fl |= ZF; } else c.fl &= ~ZF;
      return;
    }
    case G.OP_DAA: case G.OP_DAS: case G.OP_AAA: case G.OP_AAS: case G.OP_AAM: case G.OP_AAD: bcd(c, op); return;
    case G.OP_CPUID: {
      H(c).cpuid(c, r[0]!, r[2]!, cpuidOut);
      c.setReg(RAX, 4, cpuidOut[0]!, 0); c.setReg(RBX, 4, cpuidOut[1]!, 0);
      c.setReg(RCX, 4, cpuidOut[2]!, 0); c.setReg(RDX, 4, cpuidOut[3]!, 0);
      return;
    }
    case G.OP_RDTSC: case G.OP_RDTSCP: {
      if (c.cr4 & CR4_TSD && c.cpl !== 0 && protectedMode(c)) throw gp('RDTSC with CR4.TSD at CPL>0');
      // the vCPU's TSC: the machine clock at the set frequency, or the instruction count (tsc.ts)
      const t = readTsc(c);
      c.setReg(RAX, 4, t % 4294967296 | 0, 0);
      c.setReg(RDX, 4, Math.floor(t / 4294967296) | 0, 0);
      if (op === G.OP_RDTSCP) c.setReg(RCX, 4, c.msrHot[HM_TSC_AUX]!, 0);
      return;
    }
    case G.OP_RDPID: {
      c.setReg(c.d.rm, c.code64 ? 8 : 4, c.msrHot[HM_TSC_AUX]!, 0);
      return;
    }
    case G.OP_RDRAND: {
      const v = (Math.random() * 4294967296) | 0;
      c.setReg(c.d.rm, osz, osz === 2 ? v & 0xffff : v, osz === 8 ? (Math.random() * 4294967296) | 0 : 0);
      c.setArith(CF);
      return;
    }
    case G.OP_UD: throw ud('UD0/UD1/UD2');
    case G.OP_RSM: throw ud('RSM outside SMM');
    case G.OP_NOP: return;
    default:
      execPrivileged(c, op);
  }
}

// ---- privileged and control-register instructions ---------------------------------------------

function requireCpl0(c: Cpu, what: string): void {
  if (c.fl & VM) throw gp(`${what} in virtual-8086 mode`);
  if (c.cpl !== 0) throw gp(`${what} at CPL ${c.cpl}`);
}

/** the value of CRn: low half returned, high half in c.vh */
function crValue(c: Cpu, n: number): number {
  switch (n) {
    case 0: c.vh = 0; return c.cr0;
    case 2: c.vh = c.cr2Hi; return c.cr2Lo;
    case 3: c.vh = c.cr3Hi; return c.cr3Lo;
    case 4: c.vh = 0; return c.cr4;
    case 8: c.vh = 0; return c.cr8 & 0xf;
    default: throw ud(`CR${n} does not exist`);
  }
}

function execPrivileged(c: Cpu, op: number): void {
  const r = c.r;
  const osz = c.d.osz;
  switch (op) {
    case G.OP_MOV_R_CR: case G.OP_MOV_CR_R: {
      requireCpl0(c, 'MOV CR');
      const n = c.d.reg;
      if (c.d.lock && !c.code64 && n === 0) { /* AMD LOCK MOV CR0 = CR8: not modelled */ }
      if (op === G.OP_MOV_R_CR) {
        const v = crValue(c, n);
        c.setReg(c.d.rm, c.code64 ? 8 : 4, v, c.code64 ? c.vh : 0);
      } else {
        if (n !== 0 && n !== 2 && n !== 3 && n !== 4 && n !== 8) throw ud(`CR${n} does not exist`);
        const lo = c.r[c.d.rm << 1]!, hi = c.code64 ? c.r[(c.d.rm << 1) + 1]! : 0;
        if (n === 2) { c.cr2Lo = lo; c.cr2Hi = hi; return; }
        H(c).writeCr(c, n, lo, hi);
      }
      return;
    }
    case G.OP_MOV_R_DR: case G.OP_MOV_DR_R: {
      requireCpl0(c, 'MOV DR');
      let n = c.d.reg;
      if (n > 7) throw ud('DR8-15');
      if ((n === 4 || n === 5) && c.cr4 & 8) throw ud('DR4/5 with CR4.DE');
      if (n === 4 || n === 5) n += 2;
      if (op === G.OP_MOV_R_DR) {
        let lo = c.dr[n * 2]!, hi = c.dr[n * 2 + 1]!;
        if (n === 6) { lo = (lo | 0xffff0ff0) & ~0x1000; hi = 0; }
        if (n === 7) { lo = (lo | 0x400) & ~0x1000; hi = 0; }
        c.setReg(c.d.rm, c.code64 ? 8 : 4, lo, c.code64 ? hi : 0);
      } else {
        const lo = c.r[c.d.rm << 1]!, hi = c.code64 ? c.r[(c.d.rm << 1) + 1]! : 0;
        if ((n === 6 || n === 7) && hi !== 0) throw gp(`DR${n} bits 63:32 are reserved`);
        c.dr[n * 2] = lo; c.dr[n * 2 + 1] = hi;
      }
      return;
    }
    case G.OP_LMSW: {
      requireCpl0(c, 'LMSW');
      const v = c.ld(G.K_E, 2);
      // LMSW changes PE (set only), MP, EM, TS
      const nv = (c.cr0 & ~0xe) | (v & 0xf) | (c.cr0 & 1);
      H(c).writeCr(c, 0, nv, 0);
      return;
    }
    case G.OP_SMSW: {
      umipCheck(c, 'SMSW');
      if (c.d.mod === 3) c.setReg(c.d.rm, osz, c.cr0, 0);
      else c.st(G.K_E, 2, c.cr0, 0);
      return;
    }
    case G.OP_CLTS: requireCpl0(c, 'CLTS'); c.cr0 &= ~CR0_TS; return;
    case G.OP_INVD: case G.OP_WBINVD: requireCpl0(c, 'INVD/WBINVD'); return;
    case G.OP_INVLPG: {
      requireCpl0(c, 'INVLPG');
      c.calcEa();
      const lo = c.segLinNoCheck(c.d.seg, c.eaLo, c.eaHi);
      if (c.mmu) (c.mmu as unknown as { invlpg(l: number, h: number): void }).invlpg(lo, c.linHi);
      c.invalidateFetch();
      return;
    }
    case G.OP_INVPCID: {
      requireCpl0(c, 'INVPCID');
      if (!protectedMode(c)) throw ud('INVPCID in real mode');
      c.calcEa();
      const type = c.code64 ? c.r[c.d.reg << 1]! : c.r[c.d.reg << 1]!;
      const typeHi = c.code64 ? c.r[(c.d.reg << 1) + 1]! : 0;
      const pcid = c.rd(c.d.seg, c.eaLo, c.eaHi, 4);
      const pcidHi = c.rd(c.d.seg, (c.eaLo + 4) | 0, c.eaHi, 4);
      const al = c.rd(c.d.seg, (c.eaLo + 8) | 0, c.eaHi, 4), ah = c.rd(c.d.seg, (c.eaLo + 12) | 0, c.eaHi, 4);
      if (typeHi !== 0 || type >>> 0 > 3 || (pcid & ~0xfff) !== 0 || pcidHi !== 0) throw gp('INVPCID operand');
      const m = c.mmu as unknown as { invpcid?(t: number, p: number, l: number, h: number): boolean } | undefined;
      if (m?.invpcid && !m.invpcid(type, pcid, al, ah)) throw gp('INVPCID refused');
      c.invalidateFetch();
      return;
    }
    case G.OP_LGDT: case G.OP_LIDT: {
      requireCpl0(c, 'LGDT/LIDT');
      c.calcEa();
      const limit = c.rd(c.d.seg, c.eaLo, c.eaHi, 2);
      const n = (c.eaLo + 2) | 0;
      const nh = n >>> 0 < c.eaLo >>> 0 ? (c.eaHi + 1) | 0 : c.eaHi;
      let base = c.rd(c.d.seg, c.d.asz === 2 ? n & 0xffff : n, nh, c.code64 ? 8 : 4);
      const baseHi = c.code64 ? c.vh : 0;
      if (!c.code64 && osz === 2) base &= 0xffffff;
      if (c.code64 && (baseHi >> 15) !== (baseHi >> 31) && c.nonCanonical57(baseHi)) throw gp('non-canonical descriptor-table base');
      if (op === G.OP_LGDT) { c.gdtBase = base; c.gdtBaseHi = baseHi; c.gdtLimit = limit; }
      else { c.idtBase = base; c.idtBaseHi = baseHi; c.idtLimit = limit; }
      return;
    }
    case G.OP_SGDT: case G.OP_SIDT: {
      umipCheck(c, 'SGDT/SIDT');
      c.calcEa();
      const isG = op === G.OP_SGDT;
      c.wr(c.d.seg, c.eaLo, c.eaHi, 2, isG ? c.gdtLimit : c.idtLimit, 0);
      const n = (c.eaLo + 2) | 0;
      c.wr(c.d.seg, c.d.asz === 2 ? n & 0xffff : n, c.eaHi, c.code64 ? 8 : 4, isG ? c.gdtBase : c.idtBase, isG ? c.gdtBaseHi : c.idtBaseHi);
      return;
    }
    case G.OP_SLDT: case G.OP_STR: {
      if (!protectedMode(c)) throw ud('SLDT/STR outside protected mode');
      umipCheck(c, 'SLDT/STR');
      const v = c.segSel[op === G.OP_SLDT ? LDTR : TR]!;
      if (c.d.mod === 3) c.setReg(c.d.rm, osz, v, 0);
      else c.st(G.K_E, 2, v, 0);
      return;
    }
    case G.OP_LLDT: case G.OP_LTR: {
      if (!protectedMode(c)) throw ud('LLDT/LTR outside protected mode');
      requireCpl0(c, 'LLDT/LTR');
      const sel = c.ld(G.K_E, 2);
      if (op === G.OP_LLDT) loadLdt(c, sel);
      else loadTr(c, sel);
      return;
    }
    case G.OP_LAR: case G.OP_LSL: case G.OP_VERR: case G.OP_VERW: {
      if (!protectedMode(c)) throw ud('LAR/LSL/VERR/VERW outside protected mode');
      const sel = c.ld(G.K_E, 2);
      let ok = (sel & 0xfffc) !== 0 && readDescriptor(c, sel);
      if (ok) {
        const a = descAttr(), type = a & A_TYPE, dpl = (a >> A_DPL_SHIFT) & 3;
        const conforming = (a & A_S) !== 0 && (type & 0xc) === 0xc;
        if (!conforming && (dpl < c.cpl || dpl < (sel & 3))) ok = false;
        if (op === G.OP_VERR) ok = ok && (a & A_S) !== 0 && ((type & 8) === 0 || (type & 2) !== 0);
        else if (op === G.OP_VERW) ok = ok && (a & A_S) !== 0 && (type & 0xa) === 2;
        else if (!(a & A_S)) {
          const valid64 = [2, 9, 0xb, 0xc];
          const valid32 = [1, 2, 3, 4, 5, 9, 0xb, 0xc];
          const validLsl = c.efer & EFER_LMA ? [2, 9, 0xb] : [1, 2, 3, 9, 0xb];
          ok = ok && (op === G.OP_LSL ? validLsl : c.efer & EFER_LMA ? valid64 : valid32).includes(type);
        }
      }
      c.flatten();
      if (!ok) { c.fl &= ~ZF; return; }
      c.fl |= ZF;
      if (op === G.OP_LAR) c.setReg(c.d.reg, osz, desc.hi & 0x00ffff00 & (osz === 2 ? 0xff00 : 0xf0ff00), 0);
      else if (op === G.OP_LSL) c.setReg(c.d.reg, osz, descLimit(), 0);
      return;
    }
    case G.OP_RDMSR: {
      requireCpl0(c, 'RDMSR');
      claimMsrExit(c, r[2]!, false); // an index the VMM claimed leaves run() here (msr-exit.ts)
      const v = H(c).readMsr(c, r[2]!);
      c.setReg(RAX, 4, Number(v & 0xffffffffn) | 0, 0);
      c.setReg(RDX, 4, Number((v >> 32n) & 0xffffffffn) | 0, 0);
      return;
    }
    case G.OP_WRMSR: {
      requireCpl0(c, 'WRMSR');
      claimMsrExit(c, r[2]!, true);
      H(c).writeMsr(c, r[2]!, (BigInt(r[4]! >>> 0) << 32n) | BigInt(r[0]! >>> 0));
      return;
    }
    case G.OP_RDPMC: throw gp('RDPMC: no performance counters');
    case G.OP_XGETBV: {
      if (!(c.cr4 & CR4_OSXSAVE)) throw ud('XGETBV with CR4.OSXSAVE=0');
      const n = r[2]!;
      if (n === 0) { c.setReg(RAX, 4, c.xcr0Lo, 0); c.setReg(RDX, 4, c.xcr0Hi, 0); return; }
      throw gp(`XGETBV: XCR${n >>> 0} not supported`);
    }
    case G.OP_XSETBV: {
      if (!(c.cr4 & CR4_OSXSAVE)) throw ud('XSETBV with CR4.OSXSAVE=0');
      requireCpl0(c, 'XSETBV');
      H(c).xsetbv(c, r[2]!, (BigInt(r[4]! >>> 0) << 32n) | BigInt(r[0]! >>> 0));
      return;
    }
    case G.OP_CLAC: case G.OP_STAC:
      requireCpl0(c, 'CLAC/STAC');
      if (op === G.OP_CLAC) c.fl &= ~AC; else c.fl |= AC;
      (c.mmu as unknown as { setAc?(a: boolean): void } | undefined)?.setAc?.(op === G.OP_STAC);
      return;
    case G.OP_RDPKRU:
      if (!(c.cr4 & 0x400000)) throw ud('RDPKRU with CR4.PKE=0');
      if (r[2] !== 0) throw gp('RDPKRU ECX != 0');
      c.setReg(RAX, 4, c.pkru, 0); c.setReg(RDX, 4, 0, 0);
      return;
    case G.OP_WRPKRU:
      if (!(c.cr4 & 0x400000)) throw ud('WRPKRU with CR4.PKE=0');
      if (r[2] !== 0 || r[4] !== 0) throw gp('WRPKRU ECX/EDX != 0');
      c.pkru = r[0]!;
      (c.mmu as unknown as { setPkru?(p: number): void } | undefined)?.setPkru?.(c.pkru);
      return;
    case G.OP_SWAPGS: {
      requireCpl0(c, 'SWAPGS');
      const m = c.msrHot, kLo = m[HM_KERNEL_GS_BASE]!, kHi = m[HM_KERNEL_GS_BASE + 1]!;
      m[HM_KERNEL_GS_BASE] = c.segBase[GS]!; m[HM_KERNEL_GS_BASE + 1] = c.segBaseHi[GS]!;
      c.segBase[GS] = kLo; c.segBaseHi[GS] = kHi;
      return;
    }
    case G.OP_RDFSBASE: case G.OP_WRFSBASE: {
      if (!(c.cr4 & CR4_FSGSBASE)) throw ud('RD/WR FS/GS BASE with CR4.FSGSBASE=0');
      const s = c.d.arg;
      if (op === G.OP_RDFSBASE) c.setReg(c.d.rm, osz, c.segBase[s]!, c.segBaseHi[s]!);
      else {
        const lo = c.r[c.d.rm << 1]!, hi = osz === 8 ? c.r[(c.d.rm << 1) + 1]! : 0;
        if ((hi >> 15) !== (hi >> 31) && c.nonCanonical57(hi)) throw gp('non-canonical FS/GS base');
        c.segBase[s] = lo; c.segBaseHi[s] = hi;
      }
      return;
    }
    case G.OP_SYSCALL: syscall(c); return;
    case G.OP_SYSRET: sysret(c); return;
    case G.OP_SYSENTER: case G.OP_SYSEXIT: sysenter(c, op); return;
    case G.OP_MONITOR: case G.OP_MWAIT:
      requireCpl0(c, 'MONITOR/MWAIT');
      return;
    case G.OP_FXSAVE: case G.OP_FXRSTOR: fxsave(c, op === G.OP_FXSAVE); return;
    case G.OP_LDMXCSR: case G.OP_STMXCSR: {
      simdCheck(c);
      c.calcEa();
      if (op === G.OP_STMXCSR) c.wr(c.d.seg, c.eaLo, c.eaHi, 4, fxGet32(c, 24), 0);
      else {
        const v = c.rd(c.d.seg, c.eaLo, c.eaHi, 4);
        if (v & ~0xffff) throw gp('MXCSR reserved bits');
        fxSet32(c, 24, v);
      }
      return;
    }
    case G.OP_FNINIT: case G.OP_FNCLEX: case G.OP_FLDCW: case G.OP_FNSTCW: case G.OP_FNSTSW: {
      if (c.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(7, -1, 0, 0, 'x87 with CR0.EM/TS');
      const fx = c.fx;
      if (op === G.OP_FNINIT) {
        fx[0] = 0x7f; fx[1] = 0x03; fx[2] = 0; fx[3] = 0; fx[4] = 0; // FCW=037F FSW=0 FTW=empty
        fx.fill(0, 5, 24);
      } else if (op === G.OP_FNCLEX) fx[2] &= 0x00; // clears exception flags, ES, B
      else if (op === G.OP_FLDCW) { c.calcEa(); const v = c.rd(c.d.seg, c.eaLo, c.eaHi, 2); fx[0] = v; fx[1] = v >> 8; }
      else if (op === G.OP_FNSTCW) { c.calcEa(); c.wr(c.d.seg, c.eaLo, c.eaHi, 2, fx[0]! | (fx[1]! << 8), 0); }
      else if (c.d.k1 === G.K_RAX) c.setReg(RAX, 2, fx[2]! | (fx[3]! << 8), 0);
      else { c.calcEa(); c.wr(c.d.seg, c.eaLo, c.eaHi, 2, fx[2]! | (fx[3]! << 8), 0); }
      return;
    }
    default:
      execExtended(c, op);
  }
}

function umipCheck(c: Cpu, what: string): void {
  if (c.cr4 & CR4_UMIP && c.cpl > 0 && protectedMode(c)) throw gp(`${what} at CPL>0 with CR4.UMIP`);
}

export function simdCheck(c: Cpu): void {
  if (c.cr0 & CR0_EM || !(c.cr4 & 0x200)) throw ud('SSE with CR0.EM=1 or CR4.OSFXSR=0');
  if (c.cr0 & CR0_TS) throw new CpuFault(7, -1, 0, 0, 'SSE with CR0.TS');
}

function fxGet32(c: Cpu, off: number): number {
  const f = c.fx;
  return f[off]! | (f[off + 1]! << 8) | (f[off + 2]! << 16) | (f[off + 3]! << 24);
}
function fxSet32(c: Cpu, off: number, v: number): void {
  const f = c.fx;
  f[off] = v; f[off + 1] = v >> 8; f[off + 2] = v >> 16; f[off + 3] = v >> 24;
}

/** FXSAVE/FXRSTOR (SDM Vol. 2 "FXSAVE" Table 3-53): the 512-byte image is kept as bytes */
function fxsave(c: Cpu, save: boolean): void {
  if (c.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(7, -1, 0, 0, 'FXSAVE/FXRSTOR with CR0.EM/TS');
  c.calcEa();
  if (c.eaLo & 15) throw gp('FXSAVE/FXRSTOR operand not 16-byte aligned');
  const n = c.code64 ? 16 : 8;
  const top = 160 + 16 * n;
  if (save) {
    for (let i = 0; i < top; i += 4) c.wr(c.d.seg, (c.eaLo + i) | 0, c.eaHi, 4, fxGet32(c, i), 0);
  } else {
    const mx = c.rd(c.d.seg, (c.eaLo + 24) | 0, c.eaHi, 4);
    if (mx & ~0xffff) throw gp('FXRSTOR: MXCSR reserved bits');
    for (let i = 0; i < top; i += 4) fxSet32(c, i, c.rd(c.d.seg, (c.eaLo + i) | 0, c.eaHi, 4));
  }
}

// ---- BCD (SDM Vol. 2 "DAA", "DAS", "AAA", "AAS", "AAM", "AAD") ----------------------------------

function bcd(c: Cpu, op: number): void {
  const f = c.getFlags();
  let al = c.r[0]! & 0xff, ah = (c.r[0]! >> 8) & 0xff;
  let cf = f & CF, af = f & 0x10;
  switch (op) {
    case G.OP_DAA: case G.OP_DAS: {
      const old = al, oldCf = cf;
      cf = 0;
      if ((al & 0xf) > 9 || af) { al = op === G.OP_DAA ? al + 6 : al - 6; cf = oldCf | ((al >> 8) & 1 ? 1 : 0); al &= 0xff; af = 0x10; } else af = 0;
      if (old > 0x99 || oldCf) { al = (op === G.OP_DAA ? al + 0x60 : al - 0x60) & 0xff; cf = 1; }
      c.setReg(RAX, 1, al, 0);
      c.logicFlags(1, al, 0);
      c.flatten();
      c.fl = (c.fl & ~(CF | 0x10)) | cf | af;
      return;
    }
    case G.OP_AAA: case G.OP_AAS: {
      if ((al & 0xf) > 9 || af) {
        // current SDM: AAA is AX ← AX + 106H; AAS is AX ← AX − 6, AH ← AH − 1 (a carry/borrow out of AL
        // reaches AH, as on the hardware), not the older AL ± 6, AH ± 1
        let ax = (ah << 8) | al;
        if (op === G.OP_AAA) ax = (ax + 0x106) & 0xffff;
        else ax = (((ax - 6) & 0xffff) - 0x100) & 0xffff;
        al = ax & 0xff; ah = ax >> 8;
        af = 0x10; cf = 1;
      } else { af = 0; cf = 0; }
      c.setReg(RAX, 2, ((ah << 8) | (al & 0xf)), 0);
      c.setArith((f & ~(CF | 0x10)) | cf | af);
      return;
    }
    case G.OP_AAM: {
      const base = c.d.imm & 0xff;
      if (base === 0) throw new CpuFault(0, -1, 0, 0, 'AAM 0');
      ah = Math.floor(al / base); al = al % base;
      c.setReg(RAX, 2, (ah << 8) | al, 0);
      c.logicFlags(1, al, 0);
      return;
    }
    default: {
      al = (al + ah * (c.d.imm & 0xff)) & 0xff;
      c.setReg(RAX, 2, al, 0);
      c.logicFlags(1, al, 0);
    }
  }
}

// ---- I/O (SDM Vol. 1 ch. 19 "Input/Output"; §19.5.2 I/O permission bit map) ---------------------

function ioAllowed(c: Cpu, port: number, size: number): void {
  if (!protectedMode(c) && !(c.fl & VM)) return;
  if (!(c.fl & VM) && c.cpl <= ((c.fl >> 12) & 3)) return;
  // consult the TSS I/O permission bitmap
  const trAttr = c.segAttr[TR]!;
  const tssType = trAttr & A_TYPE;
  if (trAttr & A_UNUSABLE || (tssType !== 0xb && tssType !== 9)) throw gp('I/O: no 32/64-bit TSS');
  const limit = c.segLimit[TR]! >>> 0;
  if (limit < 0x67) throw gp('I/O: TSS too small for a bitmap');
  const base = c.segBase[TR]!, baseHi = c.segBaseHi[TR]!;
  const mapOff = c.readLin((base + 0x66) | 0, baseHi, 2, ACC_IMPLICIT);
  const byteOff = mapOff + (port >> 3);
  if (byteOff + 1 > limit) throw gp('I/O: bitmap beyond TSS limit');
  const w = c.readLin((base + byteOff) | 0, baseHi, 2, ACC_IMPLICIT);
  const mask = ((1 << size) - 1) << (port & 7);
  if (w & mask) throw gp(`I/O port 0x${port.toString(16)} denied by the TSS bitmap`);
}

function portRead(c: Cpu, port: number, size: number): number {
  if (c.pendInValid && c.pendInPort === port && c.pendInSize === size) {
    c.pendInValid = false;
    return c.pendInValue;
  }
  c.exitKind = 1;
  c.exitIoPort = port; c.exitIoSize = size; c.exitIoIn = true;
  c.exitData.fill(0);
  throw EXIT_SIGNAL;
}

function portWrite(c: Cpu, port: number, size: number, v: number): void {
  if (c.deferredExit !== 0) throw new CpuFault(-1, -1, 0, 0, 'two exits in one instruction');
  c.deferredExit = 1;
  c.exitIoPort = port; c.exitIoSize = size; c.exitIoIn = false;
  const d = c.exitData;
  d[0] = v; d[1] = v >> 8; d[2] = v >> 16; d[3] = v >> 24;
}

function io(c: Cpu, op: number): void {
  const size = c.d.osz === 8 ? 4 : c.d.osz;
  const port = op === G.OP_INS || op === G.OP_OUTS ? c.r[4]! & 0xffff : c.d.k1 === G.K_I || c.d.k2 === G.K_I ? c.d.imm & 0xff : c.r[4]! & 0xffff;
  ioAllowed(c, port, size);
  if (op === G.OP_IN) {
    // like KVM's complete_userspace_io: the instruction retires now and AL/AX/EAX is written with
    // the VMM's data when the next run() starts (no replay, no throw on this frequent path)
    if (c.deferredExit !== 0) throw new CpuFault(-1, -1, 0, 0, 'two exits in one instruction');
    c.deferredExit = 3;
    c.exitIoPort = port; c.exitIoSize = size; c.exitIoIn = true;
    c.exitData.fill(0);
    return;
  }
  if (op === G.OP_OUT) {
    portWrite(c, port, size, c.getReg(RAX, size));
    return;
  }
  // INS/OUTS: one element per exit; REP continues by restarting the instruction
  const asz = c.d.asz;
  const r = c.r;
  if (c.d.rep) {
    const cnt = asz === 8 ? r[2]! | r[3]! : asz === 4 ? r[2]! : r[2]! & 0xffff;
    if (cnt === 0) return;
  }
  const step = c.fl & DF ? -size : size;
  if (op === G.OP_INS) {
    const di = asz === 2 ? r[RDI * 2]! & 0xffff : r[RDI * 2]!;
    c.segLin(ES, di, asz === 8 ? r[RDI * 2 + 1]! : 0, size, true);
    const v = portRead(c, port, size);
    c.wr(ES, di, asz === 8 ? r[RDI * 2 + 1]! : 0, size, v, 0);
    adv(c, RDI, step, asz);
  } else {
    const si = asz === 2 ? r[RSI * 2]! & 0xffff : r[RSI * 2]!;
    const v = c.rd(c.d.segOvr >= 0 ? c.d.segOvr : DS, si, asz === 8 ? r[RSI * 2 + 1]! : 0, size);
    portWrite(c, port, size, v);
    adv(c, RSI, step, asz);
  }
  if (c.d.rep) {
    adv(c, RCX, -1, asz);
    const cnt = asz === 8 ? r[2]! | r[3]! : asz === 4 ? r[2]! : r[2]! & 0xffff;
    if (cnt !== 0) { r[RIP_LO] = c.startLo; r[RIP_HI] = c.startHi; }
  }
}

function adv(c: Cpu, reg: number, d: number, asz: number): void {
  const r = c.r, i = reg * 2, lo = r[i]!, n = (lo + d) | 0;
  if (asz === 8) {
    if (d > 0 ? n >>> 0 < lo >>> 0 : n >>> 0 > lo >>> 0) r[i + 1] = (r[i + 1]! + (d > 0 ? 1 : -1)) | 0;
    r[i] = n;
  } else if (asz === 4) { r[i] = n; if (c.code64) r[i + 1] = 0; }
  else r[i] = (lo & ~0xffff) | (n & 0xffff);
}

// ---- far transfers (SDM Vol. 2 "CALL", "JMP", "RET" far forms; Vol. 3A §5.8 call gates) --------

function farTransfer(c: Cpu, op: number): void {
  const osz = c.d.osz;
  let off: number, offHi = 0, sel: number;
  if (c.d.k1 === G.K_A) { off = c.d.imm; sel = c.d.imm2; }
  else {
    c.calcEa();
    off = c.rd(c.d.seg, c.eaLo, c.eaHi, osz); offHi = osz === 8 ? c.vh : 0;
    const n = (c.eaLo + osz) | 0;
    sel = c.rd(c.d.seg, n, n >>> 0 < c.eaLo >>> 0 ? (c.eaHi + 1) | 0 : c.eaHi, 2);
  }
  if (osz === 2) off &= 0xffff;
  const retSel = c.segSel[CS]!, retLo = c.r[RIP_LO]!, retHi = c.r[RIP_HI]!;
  if (!protectedMode(c)) {
    if (op === G.OP_CALLF) { c.push(osz, retSel, 0); c.push(osz, retLo, 0); }
    loadSegReal(c, CS, sel);
    c.r[RIP_LO] = off;
    updateMode(c);
    return;
  }
  if ((sel & 0xfffc) === 0) throw gp('far transfer to a null selector');
  if (!readDescriptor(c, sel)) throw gp('far transfer selector beyond limit', sel & 0xfffc);
  const a = descAttr();
  if (!(a & A_S)) {
    const type = a & A_TYPE;
    if (type === 0xc) return callGate(c, op, sel, retSel, retLo, retHi);
    throw c.unimplementedFault(`far ${op === G.OP_CALLF ? 'CALL' : 'JMP'} through system descriptor type ${type} (task switch)`);
  }
  checkCodeTarget(c, sel);
  const saveCs = snapshotSeg(c, CS);
  if (op === G.OP_CALLF) {
    // push with the old CS active, then switch
    c.push(osz, retSel, 0);
    c.push(osz, retLo, retHi);
  }
  loadCs(c, sel, c.cpl);
  try {
    checkTarget(c, off, offHi, osz);
  } catch (e) {
    restoreSeg(c, CS, saveCs); updateMode(c);
    throw e;
  }
  setRip(c, off, offHi, c.code64 ? 8 : osz);
}

function callGate(c: Cpu, op: number, sel: number, retSel: number, retLo: number, retHi: number): void {
  const long = (c.efer & EFER_LMA) !== 0;
  if (long && !readDescriptor(c, sel, true)) throw gp('call gate beyond limit', sel & 0xfffc);
  const a = descAttr();
  const dpl = (a >> A_DPL_SHIFT) & 3;
  if (dpl < c.cpl || dpl < (sel & 3)) throw gp('call gate privilege', sel & 0xfffc);
  if (!(a & A_P)) throw new CpuFault(11, sel & 0xfffc, 0, 0, 'call gate not present');
  const tsel = desc.lo >>> 16;
  const toff = (desc.lo & 0xffff) | (desc.hi & 0xffff0000);
  const toffHi = long ? desc.xlo : 0;
  const pcount = desc.hi & 0x1f;
  if (!readDescriptor(c, tsel)) throw gp('call gate target beyond limit', tsel & 0xfffc);
  const ta = descAttr();
  const tdpl = (ta >> A_DPL_SHIFT) & 3;
  if (!(ta & A_S) || !(ta & 8) || tdpl > c.cpl) throw gp('call gate target', tsel & 0xfffc);
  if (!(ta & A_P)) throw new CpuFault(11, tsel & 0xfffc, 0, 0, 'call gate target not present');
  if (long && (!(ta & A_L) || ta & A_DB)) throw gp('call gate target is not a 64-bit code segment', tsel & 0xfffc);
  if (op === G.OP_JMPF && ((ta & 4) ? tdpl > c.cpl : tdpl !== c.cpl)) throw gp('JMP through a call gate may not change privilege', tsel & 0xfffc);
  if (op === G.OP_CALLF && !(ta & 4) && tdpl < c.cpl) {
    callGateInner(c, tsel, tdpl, toff, toffHi, long, pcount, (a & 8) !== 0);
    return;
  }
  const size = long ? 8 : (a & 8) ? 4 : 2;
  if (op === G.OP_CALLF) { c.push(size, retSel, 0); c.push(size, retLo, retHi); }
  loadCs(c, tsel, c.cpl);
  setRip(c, toff, toffHi, size);
}

/**
 * CALL through a call gate to a more privileged non-conforming segment (SDM Vol. 3A §5.8.5,
 * Figure 5-13): new SS:rSP from the TSS (64-bit: RSPn with a null SS), push the caller's SS:rSP, copy
 * `count` parameters (32/16-bit gates only), push CS:rIP.
 */
function callGateInner(c: Cpu, tsel: number, newCpl: number, off: number, offHi: number, long: boolean, count: number, gate32: boolean): void {
  const r = c.r;
  const oldSs = c.segSel[SS]!, oldSpLo = r[RSP * 2]!, oldSpHi = r[RSP * 2 + 1]!;
  const retCs = c.segSel[CS]!, retLo = r[RIP_LO]!, retHi = r[RIP_HI]!;
  const saveSs = snapshotSeg(c, SS), saveCs = snapshotSeg(c, CS);
  const tb = c.segBase[TR]!, tbh = c.segBaseHi[TR]!;
  try {
    if (long) {
      const lo = c.readLin((tb + 4 + newCpl * 8) | 0, tbh, 4, ACC_IMPLICIT), hi = c.readLin((tb + 8 + newCpl * 8) | 0, tbh, 4, ACC_IMPLICIT);
      if ((hi >> 15) !== (hi >> 31) && c.nonCanonical57(hi)) throw new CpuFault(12, 0, 0, 0, 'non-canonical RSPn in the TSS');
      c.segSel[SS] = newCpl; c.segAttr[SS] = A_UNUSABLE | (newCpl << A_DPL_SHIFT);
      r[RSP * 2] = lo; r[RSP * 2 + 1] = hi;
      loadCs(c, tsel, newCpl);
      c.push(8, oldSs, 0); c.push(8, oldSpLo, oldSpHi);
      c.push(8, retCs, 0); c.push(8, retLo, retHi);
      setRip(c, off, offHi, 8);
      return;
    }
    const psz = gate32 ? 4 : 2;
    const nsp = c.readLin((tb + 4 + newCpl * 8) | 0, 0, 4, ACC_IMPLICIT);
    const nss = c.readLin((tb + 8 + newCpl * 8) | 0, 0, 2, ACC_IMPLICIT);
    if ((nss & 0xfffc) === 0 || (nss & 3) !== newCpl) throw new CpuFault(10, nss & 0xfffc, 0, 0, 'TSS SS for the new privilege');
    const params: number[] = [];
    for (let i = 0; i < count; i++) params.push(c.peek(psz, i * psz));
    if (!readDescriptor(c, nss)) throw new CpuFault(10, nss & 0xfffc, 0, 0, 'TSS SS beyond the GDT');
    setSegFromDesc(c, SS, nss);
    c.segAttr[SS] = descAttr() | 1;
    r[RSP * 2] = nsp;
    loadCs(c, tsel, newCpl);
    c.push(psz, oldSs, 0); c.push(psz, oldSpLo, 0);
    for (let i = count - 1; i >= 0; i--) c.push(psz, params[i]!, 0);
    c.push(psz, retCs, 0); c.push(psz, retLo, 0);
    setRip(c, off, 0, psz);
  } catch (e) {
    restoreSeg(c, SS, saveSs); restoreSeg(c, CS, saveCs);
    r[RSP * 2] = oldSpLo; r[RSP * 2 + 1] = oldSpHi; r[RIP_LO] = retLo; r[RIP_HI] = retHi;
    updateMode(c);
    throw e;
  }
}

interface SegSnap { sel: number; base: number; baseHi: number; limit: number; attr: number }
function snapshotSeg(c: Cpu, s: number): SegSnap {
  return { sel: c.segSel[s]!, base: c.segBase[s]!, baseHi: c.segBaseHi[s]!, limit: c.segLimit[s]!, attr: c.segAttr[s]! };
}
function restoreSeg(c: Cpu, s: number, v: SegSnap): void {
  c.segSel[s] = v.sel; c.segBase[s] = v.base; c.segBaseHi[s] = v.baseHi; c.segLimit[s] = v.limit; c.segAttr[s] = v.attr;
}

function farReturn(c: Cpu): void {
  const osz = c.d.osz;
  const off = c.peek(osz, 0), offHi = osz === 8 ? c.vh : 0;
  const sel = c.peek(osz, osz) & 0xffff;
  const extra = c.d.k1 === G.K_I ? c.d.imm & 0xffff : 0;
  if (!protectedMode(c)) {
    c.addSp(2 * osz + extra);
    loadSegReal(c, CS, sel);
    c.r[RIP_LO] = osz === 2 ? off & 0xffff : off;
    updateMode(c);
    return;
  }
  const rpl = sel & 3;
  if ((sel & 0xfffc) === 0) throw gp('RETF to null selector');
  if (rpl < c.cpl) throw gp('RETF to inner privilege', sel & 0xfffc);
  if (!readDescriptor(c, sel)) throw gp('RETF selector beyond limit', sel & 0xfffc);
  const a = descAttr();
  if (!(a & A_S) || !(a & 8)) throw gp('RETF to non-code', sel & 0xfffc);
  if (!(a & A_P)) throw new CpuFault(11, sel & 0xfffc, 0, 0, 'RETF: code not present');
  if (rpl === c.cpl) {
    c.addSp(2 * osz + extra);
    loadCs(c, sel, rpl);
    setRip(c, off, offHi, c.code64 ? 8 : osz);
    return;
  }
  // return to outer privilege: pop SS:rSP too
  const sp = c.peek(osz, 2 * osz + extra), spHi = osz === 8 ? c.vh : 0;
  const ss = c.peek(osz, 3 * osz + extra) & 0xffff;
  loadCs(c, sel, rpl);
  loadSsForOuter(c, ss, rpl);
  c.setReg(RSP, osz === 8 ? 8 : 4, sp, spHi);
  c.addSp(extra);
  setRip(c, off, offHi, c.code64 ? 8 : osz);
  nullifyOuterSegs(c);
}

function loadSsForOuter(c: Cpu, ss: number, rpl: number): void {
  if ((ss & 0xfffc) === 0 && c.code64 && rpl !== 3) {
    c.segSel[SS] = ss; c.segAttr[SS] = A_UNUSABLE | (rpl << A_DPL_SHIFT);
    return;
  }
  loadSeg(c, SS, ss);
}

function nullifyOuterSegs(c: Cpu): void {
  for (const s of [ES, DS, FS, GS]) {
    const a = c.segAttr[s]!;
    const dpl = (a >> A_DPL_SHIFT) & 3;
    if (!(a & A_UNUSABLE) && (a & 0xc) !== 0xc && dpl < c.cpl) {
      c.segSel[s] = 0; c.segAttr[s] = A_UNUSABLE;
    }
  }
}

// ---- events: exceptions, software interrupts, external interrupts, NMI ------------------------

export const KIND_FAULT = 0, KIND_SOFT = 1, KIND_EXT = 2, KIND_NMI = 3, KIND_ICEBP = 4;

/**
 * Deliver an event through the IVT (real mode) or IDT (protected/long mode). RIP must already be
 * the return address (faulting instruction for faults, next instruction for traps/INT n).
 * `ec` < 0: no error code. Throws CpuFault for faults during delivery (the caller escalates).
 */
export function deliver(c: Cpu, vector: number, ec: number, kind: number): void {
  const r = c.r;
  const flags = c.getFlags();
  if (!(c.cr0 & CR0_PE)) {
    // real mode: IVT entry = 4 bytes at IDTR.base + 4*vector
    if (vector * 4 + 3 > c.idtLimit) throw gp('IVT limit');
    const ent = c.readLin((c.idtBase + vector * 4) | 0, 0, 4, ACC_IMPLICIT);
    c.push(2, flags, 0);
    c.push(2, c.segSel[CS]!, 0);
    c.push(2, r[RIP_LO]!, 0);
    c.fl = flags & ~(IF | TF | AC | RF);
    c.lfOp = 0;
    loadSegReal(c, CS, ent >>> 16);
    r[RIP_LO] = ent & 0xffff;
    updateMode(c);
    return;
  }
  if (c.fl & VM) throw c.unimplementedFault('interrupt delivery from virtual-8086 mode');
  const long = (c.efer & EFER_LMA) !== 0;
  const gsz = long ? 16 : 8;
  const ext = kind === KIND_SOFT ? 0 : 1;
  const idtEc = vector * 8 + 2 + ext;
  if (vector * gsz + gsz - 1 > c.idtLimit) throw gp('IDT limit', idtEc);
  const ga = (c.idtBase + vector * gsz) | 0;
  const gh = long ? c.idtBaseHi : 0;
  const g0 = c.readLin(ga, gh, 4, ACC_IMPLICIT), g1 = c.readLin((ga + 4) | 0, gh, 4, ACC_IMPLICIT);
  const g2 = long ? c.readLin((ga + 8) | 0, gh, 4, ACC_IMPLICIT) : 0;
  const type = (g1 >> 8) & 0x1f;
  const gdpl = (g1 >> 13) & 3;
  const present = (g1 & 0x8000) !== 0;
  const validTypes = long ? [0xe, 0xf] : [0x6, 0x7, 0xe, 0xf];
  if (!validTypes.includes(type)) {
    if (!long && type === 5) throw c.unimplementedFault('task gate in the IDT');
    throw gp('bad IDT gate type', idtEc);
  }
  if ((kind === KIND_SOFT) && gdpl < c.cpl) throw gp('INT n: gate DPL < CPL', idtEc);
  if (!present) throw new CpuFault(11, idtEc, 0, 0, 'IDT gate not present');
  const tsel = g0 >>> 16;
  let off = (g0 & 0xffff) | (g1 & 0xffff0000);
  const offHi = long ? g2 : 0;
  const gate32 = (type & 8) !== 0;
  if (!gate32) off &= 0xffff;
  if ((tsel & 0xfffc) === 0) throw gp('IDT gate: null code selector', ext);
  if (!readDescriptor(c, tsel)) throw gp('IDT gate: selector beyond limit', (tsel & 0xfffc) + ext);
  const ca = descAttr();
  const cdpl = (ca >> A_DPL_SHIFT) & 3;
  if (!(ca & A_S) || !(ca & 8) || cdpl > c.cpl) throw gp('IDT gate: bad code segment', (tsel & 0xfffc) + ext);
  if (!(ca & A_P)) throw new CpuFault(11, (tsel & 0xfffc) + ext, 0, 0, 'IDT gate: code not present');
  if (long && (!(ca & A_L) || ca & A_DB)) throw gp('IDT gate: not a 64-bit code segment', (tsel & 0xfffc) + ext);
  const conforming = (ca & 4) !== 0;
  const newCpl = conforming ? c.cpl : cdpl;
  const oldCs = c.segSel[CS]!, oldSs = c.segSel[SS]!;
  const oldRspLo = r[RSP * 2]!, oldRspHi = r[RSP * 2 + 1]!;
  const ripLo = r[RIP_LO]!, ripHi = r[RIP_HI]!;
  const ist = long ? g1 & 7 : 0;
  const saveSs = snapshotSeg(c, SS), saveCs = snapshotSeg(c, CS);
  const priv = newCpl < c.cpl;
  try {
    if (long) {
      // 64-bit delivery: stack from TSS.RSPn or IST, aligned to 16, always push SS:RSP
      if (priv || ist) {
        const tssOff = ist ? 0x24 + (ist - 1) * 8 : 4 + newCpl * 8;
        if (tssOff + 7 > c.segLimit[TR]! >>> 0) throw new CpuFault(10, c.segSel[TR]! & 0xfffc, 0, 0, 'TSS too small');
        const b = c.segBase[TR]!, bh = c.segBaseHi[TR]!;
        const lo = c.readLin((b + tssOff) | 0, bh, 4, ACC_IMPLICIT), hi = c.readLin((b + tssOff + 4) | 0, bh, 4, ACC_IMPLICIT);
        if ((hi >> 15) !== (hi >> 31) && c.nonCanonical57(hi)) throw new CpuFault(12, 0, 0, 0, 'non-canonical stack in TSS');
        r[RSP * 2] = lo; r[RSP * 2 + 1] = hi;
      }
      r[RSP * 2] &= ~15;
      if (priv) {
        c.segSel[SS] = newCpl; c.segAttr[SS] = A_UNUSABLE | (newCpl << A_DPL_SHIFT) | A_DB | 0x13;
        c.segBase[SS] = 0; c.segBaseHi[SS] = 0;
      }
      loadCs(c, tsel, newCpl);
      c.push(8, oldSs, 0);
      c.push(8, oldRspLo, oldRspHi);
      c.push(8, flags, 0);
      c.push(8, oldCs, 0);
      c.push(8, ripLo, ripHi);
      if (ec >= 0) c.push(8, ec, 0);
    } else {
      const psz = gate32 ? 4 : 2;
      if (priv) {
        // inner-privilege stack from the 32-bit TSS (SS at 8*n+8, ESP at 8*n+4)
        const tt = c.segAttr[TR]! & A_TYPE;
        const b = c.segBase[TR]!;
        let nsp: number, nss: number;
        if (tt === 0xb || tt === 9) {
          nsp = c.readLin((b + 4 + newCpl * 8) | 0, 0, 4, ACC_IMPLICIT);
          nss = c.readLin((b + 8 + newCpl * 8) | 0, 0, 2, ACC_IMPLICIT);
        } else {
          nsp = c.readLin((b + 2 + newCpl * 4) | 0, 0, 2, ACC_IMPLICIT);
          nss = c.readLin((b + 4 + newCpl * 4) | 0, 0, 2, ACC_IMPLICIT);
        }
        if ((nss & 3) !== newCpl) throw new CpuFault(10, nss & 0xfffc, 0, 0, 'TSS SS RPL');
        if (!readDescriptor(c, nss)) throw new CpuFault(10, nss & 0xfffc, 0, 0, 'TSS SS beyond limit');
        setSegFromDesc(c, SS, nss);
        c.segAttr[SS] = descAttr() | 1;
        r[RSP * 2] = nsp;
        loadCs(c, tsel, newCpl);
        c.push(psz, oldSs, 0);
        c.push(psz, oldRspLo, 0);
      } else loadCs(c, tsel, newCpl);
      c.push(psz, flags, 0);
      c.push(psz, oldCs, 0);
      c.push(psz, ripLo, 0);
      if (ec >= 0) c.push(psz, ec, 0);
    }
  } catch (e) {
    restoreSeg(c, SS, saveSs); restoreSeg(c, CS, saveCs);
    r[RSP * 2] = oldRspLo; r[RSP * 2 + 1] = oldRspHi;
    r[RIP_LO] = ripLo; r[RIP_HI] = ripHi;
    updateMode(c);
    throw e;
  }
  c.lfOp = 0;
  c.fl = flags & ~(TF | NT | RF | VM | (type & 1 ? 0 : IF));
  if (priv) nullifyOuterSegs(c);
  if (kind === KIND_NMI) c.nmiBlocked = true;
  setRip(c, off, offHi, long ? 8 : 4);
  updateMode(c);
}

/** IRET/IRETD/IRETQ (SDM Vol. 2 "IRET"): real mode, same privilege, outer privilege, 64-bit */
function iret(c: Cpu): void {
  const osz = c.d.osz;
  c.nmiBlocked = false;
  if (!(c.cr0 & CR0_PE)) {
    const ip = c.peek(osz, 0), cs = c.peek(osz, osz), fl = c.peek(osz, 2 * osz);
    c.addSp(3 * osz);
    loadSegReal(c, CS, cs & 0xffff);
    c.r[RIP_LO] = osz === 2 ? ip & 0xffff : ip;
    writeFlags(c, fl, osz, true, true);
    updateMode(c);
    return;
  }
  if (c.fl & VM) throw c.unimplementedFault('IRET in virtual-8086 mode');
  if (c.fl & NT) throw c.unimplementedFault('IRET with NT=1 (task return)');
  const ip = c.peek(osz, 0), ipHi = osz === 8 ? c.vh : 0;
  const cs = c.peek(osz, osz) & 0xffff;
  const fl = c.peek(osz, 2 * osz);
  const rpl = cs & 3;
  if ((cs & 0xfffc) === 0) throw gp('IRET to null CS');
  if (rpl < c.cpl) throw gp('IRET to inner privilege', cs & 0xfffc);
  if (!readDescriptor(c, cs)) throw gp('IRET CS beyond limit', cs & 0xfffc);
  const a = descAttr();
  if (!(a & A_S) || !(a & 8)) throw gp('IRET to non-code', cs & 0xfffc);
  if (!(a & A_P)) throw new CpuFault(11, cs & 0xfffc, 0, 0, 'IRET: CS not present');
  if (!c.code64 && fl & VM && c.cpl === 0) throw c.unimplementedFault('IRET to virtual-8086 mode');
  const oldCpl = c.cpl;
  const iopl = (c.fl >> 12) & 3;
  if (rpl === c.cpl && !c.code64) {
    c.addSp(3 * osz);
    loadCs(c, cs, rpl);
    setRip(c, ip, 0, osz);
    writeFlags(c, fl, osz, oldCpl === 0, oldCpl <= iopl);
    return;
  }
  const sp = c.peek(osz, 3 * osz), spHi = osz === 8 ? c.vh : 0;
  const ss = c.peek(osz, 4 * osz) & 0xffff;
  loadCs(c, cs, rpl);
  loadSsForOuter(c, ss, rpl);
  if (osz === 8) { c.r[RSP * 2] = sp; c.r[RSP * 2 + 1] = spHi; }
  else c.setReg(RSP, c.segAttr[SS]! & A_DB ? 4 : 2, sp, 0);
  setRip(c, ip, ipHi, c.code64 ? 8 : osz);
  writeFlags(c, fl, osz, oldCpl === 0, oldCpl <= iopl);
  if (rpl > oldCpl) nullifyOuterSegs(c);
  updateMode(c);
}

// ---- fast system calls (SDM Vol. 2 "SYSCALL", "SYSRET", "SYSENTER", "SYSEXIT") -----------------

function flatCode(c: Cpu, sel: number, dpl: number, long: boolean): void {
  c.segSel[CS] = sel; c.segBase[CS] = 0; c.segBaseHi[CS] = 0; c.segLimit[CS] = -1;
  c.segAttr[CS] = 0xb | A_S | A_P | (dpl << A_DPL_SHIFT) | 0x8000 | (long ? A_L : A_DB);
}
function flatStack(c: Cpu, sel: number, dpl: number): void {
  c.segSel[SS] = sel; c.segBase[SS] = 0; c.segBaseHi[SS] = 0; c.segLimit[SS] = -1;
  c.segAttr[SS] = 0x3 | A_S | A_P | (dpl << A_DPL_SHIFT) | 0x8000 | A_DB;
}

function syscall(c: Cpu): void {
  if (!(c.efer & EFER_SCE)) throw ud('SYSCALL with EFER.SCE=0');
  if (!(c.efer & EFER_LMA)) throw ud('SYSCALL outside long mode (Intel)');
  const m = c.msrHot;
  const sel = m[HM_STAR + 1]! & 0xffff;
  const r = c.r;
  c.setReg(RCX, 8, r[RIP_LO]!, r[RIP_HI]!);
  const f = c.getFlags();
  c.setReg(11, 8, f & ~RF, 0);
  const t = c.code64 ? HM_LSTAR : HM_CSTAR;
  const targetLo = m[t]!, targetHi = m[t + 1]!;
  const mask = m[HM_FMASK]!;
  c.lfOp = 0;
  c.fl = (f & ~mask & ~RF) | 2;
  flatCode(c, sel & 0xfffc, 0, true);
  flatStack(c, (sel + 8) & 0xfffc, 0);
  updateMode(c);
  r[RIP_LO] = targetLo;
  r[RIP_HI] = targetHi;
}

function sysret(c: Cpu): void {
  if (!(c.efer & EFER_SCE)) throw ud('SYSRET with EFER.SCE=0');
  if (!(c.efer & EFER_LMA) || !c.code64) throw ud('SYSRET outside 64-bit mode');
  if (c.cpl !== 0) throw gp('SYSRET at CPL>0');
  const r = c.r;
  const sel = c.msrHot[HM_STAR + 1]! >>> 16;
  const to64 = c.d.rexW;
  const rcxLo = r[2]!, rcxHi = r[3]!;
  if (to64 && (rcxHi >> 15) !== (rcxHi >> 31) && c.nonCanonical57(rcxHi)) throw gp('SYSRET to non-canonical RCX');
  const fl = r[22]!;
  c.lfOp = 0;
  c.fl = ((fl & 0x3c7fd7) | 2) & ~RF;
  if (to64) { flatCode(c, ((sel + 16) & 0xfffc) | 3, 3, true); r[RIP_LO] = rcxLo; r[RIP_HI] = rcxHi; }
  else { flatCode(c, (sel & 0xfffc) | 3, 3, false); r[RIP_LO] = rcxLo; r[RIP_HI] = 0; }
  c.segSel[SS] = ((sel + 8) & 0xfffc) | 3;
  c.segAttr[SS] = (c.segAttr[SS]! & ~(3 << A_DPL_SHIFT)) | (3 << A_DPL_SHIFT);
  updateMode(c);
}

function sysenter(c: Cpu, op: number): void {
  // AMD: SYSENTER/SYSEXIT are invalid in long mode (APM Vol. 3 "SYSENTER": #UD in long mode)
  if (c.vendorAmd && c.efer & EFER_LMA) throw ud('SYSENTER/SYSEXIT in long mode on an AMD-compatible CPU');
  if (!(c.cr0 & CR0_PE)) throw gp('SYSENTER/SYSEXIT in real mode');
  const m = c.msrHot;
  const cs = m[HM_SYSENTER_CS]! & 0xffff;
  if ((cs & 0xfffc) === 0) throw gp('SYSENTER_CS is null');
  const r = c.r;
  const long = (c.efer & EFER_LMA) !== 0;
  if (op === G.OP_SYSENTER) {

    c.fl &= ~(VM | IF | RF);
    flatCode(c, cs & 0xfffc, 0, long);
    flatStack(c, (cs + 8) & 0xfffc, 0);
    updateMode(c);
    r[RSP * 2] = m[HM_SYSENTER_ESP]!; r[RSP * 2 + 1] = long ? m[HM_SYSENTER_ESP + 1]! : 0;
    r[RIP_LO] = m[HM_SYSENTER_EIP]!; r[RIP_HI] = long ? m[HM_SYSENTER_EIP + 1]! : 0;
    return;
  }
  if (c.cpl !== 0) throw gp('SYSEXIT at CPL>0');
  const to64 = c.d.rexW;
  flatCode(c, ((cs + (to64 ? 32 : 16)) & 0xfffc) | 3, 3, to64);
  flatStack(c, ((cs + (to64 ? 40 : 24)) & 0xfffc) | 3, 3);
  updateMode(c);
  c.setReg(RSP, to64 ? 8 : 4, r[RCX * 2]!, to64 ? r[RCX * 2 + 1]! : 0);
  r[RIP_LO] = r[RDX * 2]!; r[RIP_HI] = to64 ? r[RDX * 2 + 1]! : 0;
}

/** MOVD/MOVQ between a general register or memory and an XMM register (SDM Vol. 2 "MOVD/MOVQ") */
export function sseMovd(c: Cpu): void {
  const osz = c.d.osz;
  simdCheck(c);
  const x = 40 + 4 * c.d.reg;
  const f = c.fx32;
  if (c.d.arg === 0) {
    const v = c.ld(G.K_E, osz), vh = osz === 8 ? c.vh : 0;
    f[x] = v; f[x + 1] = vh; f[x + 2] = 0; f[x + 3] = 0;
  } else c.st(G.K_E, osz, f[x]!, f[x + 1]!);
}

/** ANDPS/ANDNPS/ORPS/XORPS and their PD/PAND/PANDN/POR/PXOR forms (SDM Vol. 2 pages of the same names) */
export function sseLogic(c: Cpu): void {
  simdCheck(c);
  const f = c.fx32;
  const d = 40 + 4 * c.d.reg;
  let s0: number, s1: number, s2: number, s3: number;
  if (c.d.mod === 3) {
    const x = 40 + 4 * c.d.rm;
    s0 = f[x]!; s1 = f[x + 1]!; s2 = f[x + 2]!; s3 = f[x + 3]!;
  } else {
    c.calcEa();
    if (c.eaLo & 15) throw gp('misaligned 16-byte SSE memory operand');
    s0 = c.rd(c.d.seg, c.eaLo, c.eaHi, 8); s1 = c.vh;
    s2 = c.rd(c.d.seg, (c.eaLo + 8) | 0, c.eaHi, 8); s3 = c.vh;
  }
  switch (c.d.arg) {
    case 0: f[d] &= s0; f[d + 1] &= s1; f[d + 2] &= s2; f[d + 3] &= s3; break;
    case 1: f[d] = ~f[d]! & s0; f[d + 1] = ~f[d + 1]! & s1; f[d + 2] = ~f[d + 2]! & s2; f[d + 3] = ~f[d + 3]! & s3; break;
    case 2: f[d] |= s0; f[d + 1] |= s1; f[d + 2] |= s2; f[d + 3] |= s3; break;
    default: f[d] ^= s0; f[d + 1] ^= s1; f[d + 2] ^= s2; f[d + 3] ^= s3;
  }
}

/** SYSCALL, SYSRET, SYSENTER, SYSEXIT, dispatched straight from exec.ts */
export function fastSystemCall(c: Cpu, op: number): void {
  if (op === G.OP_SYSCALL) syscall(c);
  else if (op === G.OP_SYSRET) sysret(c);
  else sysenter(c, op);
}

// ---- VEX/BMI, ADX, MOVBE, CMPXCHG8B/16B (SDM Vol. 2 pages of the same names) --------------------

function execExtended(c: Cpu, op: number): void {
  const osz = c.d.osz;
  switch (op) {
    case G.OP_MOVBE: {
      if (c.d.mod === 3) throw ud('MOVBE register form');
      if (c.d.k1 === G.K_G) {
        const v = c.ld(G.K_M, osz), vh = c.vh;
        if (osz === 2) c.setReg(c.d.reg, 2, ((v & 0xff) << 8) | ((v >> 8) & 0xff), 0);
        else if (osz === 4) c.setReg(c.d.reg, 4, bswap32(v), 0);
        else c.setReg(c.d.reg, 8, bswap32(vh), bswap32(v));
      } else {
        const v = c.getReg(c.d.reg, osz), vh = c.vh;
        if (osz === 2) c.st(G.K_M, 2, ((v & 0xff) << 8) | ((v >> 8) & 0xff), 0);
        else if (osz === 4) c.st(G.K_M, 4, bswap32(v), 0);
        else c.st(G.K_M, 8, bswap32(vh), bswap32(v));
      }
      return;
    }
    case G.OP_ADCX: {
      const f = c.getFlags();
      const bit = c.d.arg === 0 ? CF : OF;
      const cin = f & bit ? 1 : 0;
      const a = c.getReg(c.d.reg, osz), ah = c.vh;
      const b = c.ld(c.d.k2, osz), bh = c.vh;
      let r: number, rh = 0, cout: number;
      if (osz === 8) {
        r = (a + b + cin) | 0;
        const carry = r >>> 0 < a >>> 0 || (cin && r === a) ? 1 : 0;
        rh = (ah + bh + carry) | 0;
        cout = rh >>> 0 < ah >>> 0 || (carry && rh === ah) ? 1 : 0;
      } else {
        const s = (a >>> 0) + (b >>> 0) + cin;
        r = s | 0; cout = s > 0xffffffff ? 1 : 0;
      }
      c.setReg(c.d.reg, osz, r, rh);
      c.lfOp = 0;
      c.fl = (f & ~bit) | (cout ? bit : 0);
      return;
    }
    case G.OP_CMPXCHG8B: {
      const wide = osz === 8;
      if (wide && !c.hasFeature('cx16')) throw ud('CMPXCHG16B without cx16');
      c.calcEa();
      if (wide && c.eaLo & 15) throw gp('CMPXCHG16B operand not 16-byte aligned');
      const n = wide ? 8 : 4;
      const lo = c.rd(c.d.seg, c.eaLo, c.eaHi, n), loH = c.vh;
      const hiAddr = (c.eaLo + n) | 0;
      const hi = c.rd(c.d.seg, hiAddr, c.eaHi, n), hiH = c.vh;
      const r = c.r;
      const eq = wide
        ? lo === r[0] && loH === r[1] && hi === r[4] && hiH === r[5]
        : lo === r[0] && hi === r[4];
      c.flatten();
      if (eq) {
        c.wr(c.d.seg, c.eaLo, c.eaHi, n, r[RBX * 2]!, r[RBX * 2 + 1]!);
        c.wr(c.d.seg, hiAddr, c.eaHi, n, r[RCX * 2]!, r[RCX * 2 + 1]!);
        c.fl |= ZF;
      } else {
        c.wr(c.d.seg, c.eaLo, c.eaHi, n, lo, loH);
        c.wr(c.d.seg, hiAddr, c.eaHi, n, hi, hiH);
        c.setReg(RAX, wide ? 8 : 4, lo, loH);
        c.setReg(RDX, wide ? 8 : 4, hi, hiH);
        c.fl &= ~ZF;
      }
      return;
    }
    case G.OP_ANDN: {
      const a = c.getReg(c.d.vreg, osz), ah = c.vh;
      const b = c.ld(c.d.k3, osz), bh = c.vh;
      const r = ~a & b, rh = ~ah & bh;
      c.setReg(c.d.reg, osz, r, rh);
      c.logicFlags(osz, r, rh);
      return;
    }
    case G.OP_BLS: {
      const a = c.ld(c.d.k2, osz), ah = c.vh;
      // a-1 (64-bit)
      const m = (a - 1) | 0, mh = a === 0 ? (ah - 1) | 0 : ah;
      let r: number, rh: number;
      const zero = osz === 8 ? (a | ah) === 0 : a === 0;
      if (c.d.arg === 1) { r = a & m; rh = ah & mh; } // BLSR
      else if (c.d.arg === 2) { r = a ^ m; rh = ah ^ mh; } // BLSMSK
      else { const n = (-a) | 0, nh = a === 0 ? (-ah) | 0 : ~ah; r = a & n; rh = ah & nh; } // BLSI
      if (osz === 4) rh = 0;
      c.setReg(c.d.vreg, osz, r, rh);
      c.logicFlags(osz, r, rh);
      c.flatten();
      // CF: BLSR/BLSMSK set CF when the source is zero; BLSI sets CF when the source is non-zero
      const cf = c.d.arg === 3 ? !zero : zero;
      c.fl = (c.fl & ~(CF | OF)) | (cf ? CF : 0);
      if (c.d.arg === 2) c.fl &= ~ZF;
      return;
    }
    case G.OP_BEXTR: case G.OP_BZHI: {
      const src = c.ld(c.d.k2, osz), srch = c.vh;
      const ctl = c.getReg(c.d.vreg, osz);
      const bits = osz * 8;
      let r: number, rh = 0, cf = 0;
      if (op === G.OP_BEXTR) {
        const start = ctl & 0xff, len = (ctl >> 8) & 0xff;
        r = extract(src, osz === 8 ? srch : 0, start, len, bits);
        rh = extractHi;
      } else {
        const n = ctl & 0xff;
        cf = n > bits - 1 ? 1 : 0;
        const k = Math.min(n, bits);
        r = extract(src, osz === 8 ? srch : 0, 0, k, bits);
        rh = extractHi;
      }
      c.setReg(c.d.reg, osz, r, rh);
      c.logicFlags(osz, r, rh);
      c.flatten();
      c.fl = (c.fl & ~(CF | OF | 0x80)) | cf | (op === G.OP_BZHI && (osz === 8 ? rh < 0 : r < 0) ? 0x80 : 0);
      return;
    }
    case G.OP_PDEP: {
      const src = c.getReg(c.d.vreg, osz), srch = osz === 8 ? c.vh : 0;
      const mask = c.ld(c.d.k3, osz), maskh = osz === 8 ? c.vh : 0;
      let r = 0, rh = 0, k = 0;
      for (let i = 0; i < osz * 8; i++) {
        const mb = i < 32 ? (mask >>> i) & 1 : (maskh >>> (i - 32)) & 1;
        if (!mb) continue;
        if (c.d.arg === 0) { // PDEP: deposit low source bits at mask positions
          const sb = k < 32 ? (src >>> k) & 1 : (srch >>> (k - 32)) & 1;
          if (sb) { if (i < 32) r |= 1 << i; else rh |= 1 << (i - 32); }
        } else { // PEXT: extract mask positions into low bits
          const sb = i < 32 ? (src >>> i) & 1 : (srch >>> (i - 32)) & 1;
          if (sb) { if (k < 32) r |= 1 << k; else rh |= 1 << (k - 32); }
        }
        k++;
      }
      c.setReg(c.d.reg, osz, r, rh);
      return;
    }
    case G.OP_MULX: {
      const b = c.ld(c.d.k3, osz), bh = c.vh;
      let lo: number, hi: number, hh = 0, lh = 0;
      if (osz === 4) { lo = mulu32(c, c.r[RDX * 2]!, b); hi = c.vh; }
      else {
        mul64(c, c.r[RDX * 2]!, c.r[RDX * 2 + 1]!, b, bh, false);
        lo = PROD[0]!; lh = PROD[1]!; hi = PROD[2]!; hh = PROD[3]!;
      }
      c.setReg(c.d.vreg, osz, lo, lh);
      c.setReg(c.d.reg, osz, hi, hh);
      return;
    }
    case G.OP_SHIFTX: case G.OP_RORX: {
      const a = c.ld(c.d.k2, osz), ah = osz === 8 ? c.vh : 0;
      const n = (op === G.OP_RORX ? c.d.imm : c.getReg(c.d.vreg, osz)) & (osz === 8 ? 63 : 31);
      let r: number, rh = 0;
      if (osz === 4) {
        r = c.d.arg === 4 ? a << n : c.d.arg === 5 ? a >>> n : c.d.arg === 7 ? a >> n : n ? (a >>> n) | (a << (32 - n)) : a;
        if (op === G.OP_RORX) r = n ? (a >>> n) | (a << (32 - n)) : a;
      } else {
        r = shift64(c, op === G.OP_RORX ? 'ror' : c.d.arg === 4 ? 'shl' : c.d.arg === 5 ? 'shr' : 'sar', a, ah, n);
        rh = c.vh;
      }
      c.setReg(c.d.reg, osz, r, rh);
      return;
    }
    case G.OP_SSE_MOV: sseMov(c); return;
    case G.OP_SSE_MOVD: sseMovd(c); return;
    case G.OP_SSE_LOGIC: sseLogic(c); return;
    case G.OP_XSAVE: case G.OP_XRSTOR: xsave(c, op === G.OP_XSAVE); return;
    case G.OP_XSAVEOPT:
      // XSAVEOPT = XSAVE with optional init/modified optimizations (SDM Vol. 1 §13.9): a full
      // standard-format save is a correct execution of it
      xsave(c, true);
      return;
    case G.OP_XSAVE_OTHER:
      // arg: 0 XSAVEC, 1 XSAVES, 2 XRSTORS
      if (c.d.arg === 0) xsave(c, true, XS_COMPACT);
      else if (c.d.arg === 1) xsave(c, true, XS_SUPERVISOR);
      else xsave(c, false, XS_SUPERVISOR);
      return;
    case G.OP_X87:
      if (c.cr0 & (CR0_EM | CR0_TS)) throw new CpuFault(7, -1, 0, 0, 'x87 with CR0.EM/TS');
      throw c.unimplementedFault(`${G.MNEMONICS[c.d.row]} (x87 instruction: decoded, not executed yet)`);
    default:
      if (execSimdInt(c, op) || execSimdFp(c, op) || execX87(c, op)) return;
      throw c.unimplementedFault(`op ${G.OP_NAMES[op] ?? op}`);
  }
}

/** SSE_MOV (arg: width 0=128/1=64/2=32 in bits 0-1, store bit 2, aligned bit 3, zext bit 4) */
export function sseMov(c: Cpu): void {
  simdCheck(c);
  const f = c.fx32;
  const a = c.d.arg;
  const words = (a & 3) === 0 ? 4 : (a & 3) === 1 ? 2 : 1;
  const store = (a & 4) !== 0;
  const v = 40 + 4 * c.d.reg;
  if (c.d.mod === 3) {
    const w = 40 + 4 * c.d.rm;
    const src = store ? v : w, dst = store ? w : v;
    for (let i = 0; i < words; i++) f[dst + i] = f[src + i]!;
    if (a & 16) for (let i = words; i < 4; i++) f[dst + i] = 0;
    return;
  }
  c.calcEa();
  if (a & 8 && c.eaLo & 15) throw gp('misaligned 16-byte SSE memory operand');
  if (store) {
    for (let i = 0; i < words; i += 2) {
      if (words === 1) c.wr(c.d.seg, c.eaLo, c.eaHi, 4, f[v]!, 0);
      else c.wr(c.d.seg, (c.eaLo + 4 * i) | 0, c.eaHi, 8, f[v + i]!, f[v + i + 1]!);
    }
    return;
  }
  // loads: MOVSS/MOVSD/MOVQ from memory zero the rest of the register
  let w0 = 0, w1 = 0, w2 = 0, w3 = 0;
  if (words === 1) w0 = c.rd(c.d.seg, c.eaLo, c.eaHi, 4);
  else {
    w0 = c.rd(c.d.seg, c.eaLo, c.eaHi, 8); w1 = c.vh;
    if (words === 4) { w2 = c.rd(c.d.seg, (c.eaLo + 8) | 0, c.eaHi, 8); w3 = c.vh; }
  }
  f[v] = w0; f[v + 1] = w1; f[v + 2] = w2; f[v + 3] = w3;
}

/**
 * XSAVE family (SDM Vol. 1 §13.4-13.12; Vol. 2 "XSAVE", "XSAVEC", "XSAVES", "XRSTOR", "XRSTORS"):
 * standard and compacted formats for components x87 (0), SSE (1) and AVX YMM_Hi128 (2). RFBM =
 * (XCR0 [| IA32_XSS for XSAVES/XRSTORS]) & EDX:EAX; components outside 0-2 are reported as
 * unimplemented, never silently skipped. XINUSE is reported as RFBM (always allowed: a component in
 * its initial configuration may be reported in use).
 */
const XS_STD = 0, XS_COMPACT = 1, XS_SUPERVISOR = 2;

function xsaveArea(c: Cpu, kind: number): { rfbm: number; seg: number; base: number; bh: number; nXmm: number; avxOff: number } {
  if (!(c.cr4 & CR4_OSXSAVE)) throw ud('XSAVE family with CR4.OSXSAVE=0');
  if (c.cr0 & CR0_TS) throw new CpuFault(7, -1, 0, 0, 'XSAVE family with CR0.TS');
  if (kind === XS_SUPERVISOR && c.cpl !== 0) throw gp('XSAVES/XRSTORS at CPL > 0');
  c.calcEa();
  if (c.eaLo & 63) throw gp('XSAVE area not 64-byte aligned');
  const xss = kind === XS_SUPERVISOR ? c.msrs.get(0xda0) ?? 0n : 0n;
  const mask = c.xcr0Lo | Number(xss & 0xffffffffn);
  const maskHi = c.xcr0Hi | Number(xss >> 32n);
  const rfbm = mask & c.r[0]!;
  if (rfbm & ~7 || (maskHi & c.r[4]!) !== 0) throw c.unimplementedFault(`XSAVE components 0x${((rfbm & ~7) >>> 0).toString(16)} (only x87/SSE/AVX are implemented)`);
  // AVX offset: standard format from CPUID 0xD.2 EBX; compacted: first extended component at 576
  const out = new Int32Array(4);
  H(c).cpuid(c, 0xd, 2, out);
  return { rfbm, seg: c.d.seg, base: c.eaLo, bh: c.eaHi, nXmm: c.code64 ? 16 : 8, avxOff: kind === XS_STD ? out[1]! || 576 : 576 };
}

function xsave(c: Cpu, save: boolean, kind = XS_STD): void {
  const { rfbm, seg, base, bh, nXmm, avxOff: stdAvx } = xsaveArea(c, kind);
  const at = (o: number): number => (base + o) | 0;
  if (save) {
    if (rfbm & 1) {
      for (let i = 0; i < 24; i += 4) c.wr(seg, at(i), bh, 4, fxGet32(c, i), 0);
      for (let i = 32; i < 160; i += 4) c.wr(seg, at(i), bh, 4, fxGet32(c, i), 0);
    }
    if (rfbm & 6) { c.wr(seg, at(24), bh, 4, fxGet32(c, 24), 0); c.wr(seg, at(28), bh, 4, 0xffff, 0); }
    if (rfbm & 2) for (let i = 160; i < 160 + 16 * nXmm; i += 4) c.wr(seg, at(i), bh, 4, fxGet32(c, i), 0);
    if (rfbm & 4) for (let i = 0; i < 16 * nXmm; i++) c.wr(seg, at(stdAvx + i), bh, 1, c.ymmHi[i]!, 0);
    if (kind === XS_STD) {
      const bv = c.rd(seg, at(512), bh, 4);
      c.wr(seg, at(512), bh, 4, (bv & ~rfbm) | (rfbm & 7), 0);
    } else {
      // compacted: XSTATE_BV = XINUSE & RFBM, XCOMP_BV = RFBM | bit 63
      c.wr(seg, at(512), bh, 8, rfbm & 7, 0);
      c.wr(seg, at(520), bh, 8, rfbm, 0x80000000 | 0);
    }
    return;
  }
  const bv = c.rd(seg, at(512), bh, 4), bvHi = c.rd(seg, at(516), bh, 4);
  const comp = c.rd(seg, at(520), bh, 4), compHi = c.rd(seg, at(524), bh, 4);
  const compacted = compHi < 0;
  if (kind === XS_SUPERVISOR && !compacted) throw gp('XRSTORS from a standard-format area');
  const xss = kind === XS_SUPERVISOR ? Number((c.msrs.get(0xda0) ?? 0n) & 0xffffffffn) : 0;
  if (bv & ~(c.xcr0Lo | xss) || bvHi & ~c.xcr0Hi) throw gp('XRSTOR: XSTATE_BV has bits not enabled in XCR0/XSS');
  if (compacted) {
    if (!c.hasFeature('xsavec') && kind !== XS_SUPERVISOR) throw gp('XRSTOR of a compacted area without XSAVEC');
    if (bv & ~comp || (compHi & 0x7fffffff) !== 0 || comp & ~(c.xcr0Lo | xss)) throw gp('XRSTOR: XCOMP_BV does not cover XSTATE_BV or names disabled components');
    for (let o = 528; o < 576; o += 4) if (c.rd(seg, at(o), bh, 4) !== 0) throw gp('XRSTOR: reserved header bytes are not zero');
  } else {
    if (comp !== 0) throw gp('XRSTOR: XCOMP_BV must be 0 in the standard format');
    for (let o = 528; o < 576; o += 4) if (c.rd(seg, at(o), bh, 4) !== 0) throw gp('XRSTOR: reserved header bytes are not zero');
  }
  const avxOff = compacted ? 576 : stdAvx;
  if (rfbm & 6 && (!compacted || bv & 6)) {
    const mx = c.rd(seg, at(24), bh, 4);
    if (mx & ~0xffff) throw gp('XRSTOR: MXCSR reserved bits');
    fxSet32(c, 24, mx);
  }
  if (rfbm & 1) {
    if (bv & 1) {
      for (let i = 0; i < 24; i += 4) fxSet32(c, i, c.rd(seg, at(i), bh, 4));
      for (let i = 32; i < 160; i += 4) fxSet32(c, i, c.rd(seg, at(i), bh, 4));
    } else {
      const mx = fxGet32(c, 24);
      c.fx.fill(0, 0, 24); c.fx.fill(0, 32, 160); c.fx[0] = 0x7f; c.fx[1] = 0x03;
      fxSet32(c, 24, mx);
    }
  }
  if (rfbm & 2) {
    if (bv & 2) for (let i = 160; i < 160 + 16 * nXmm; i += 4) fxSet32(c, i, c.rd(seg, at(i), bh, 4));
    else c.fx.fill(0, 160, 160 + 16 * nXmm);
  }
  if (rfbm & 4) {
    if (bv & 4) for (let i = 0; i < 16 * nXmm; i++) c.ymmHi[i] = c.rd(seg, at(avxOff + i), bh, 1);
    else c.ymmHi.fill(0, 0, 16 * nXmm);
  }
}

let extractHi = 0;
function extract(lo: number, hi: number, start: number, len: number, bits: number): number {
  extractHi = 0;
  if (start >= bits || len === 0) return 0;
  const A = (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
  const n = Math.min(len, bits - start);
  const R = (A >> BigInt(start)) & ((1n << BigInt(n)) - 1n);
  extractHi = Number(R >> 32n) | 0;
  return Number(R & 0xffffffffn) | 0;
}

export { CR0_MP, CR0_PG, CR4_PCIDE, EFER_LME, MSR_TSC, MSR_APIC_BASE, MSR_EFER, MSR_FS_BASE, MSR_GS_BASE, RBP, FS, IF, ID, VIF, VIP, ACC_WRITE, LDTR, DS, ES };
