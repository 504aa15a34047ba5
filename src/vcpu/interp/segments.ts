// Segment-register loads and descriptor-table access: Intel SDM Vol. 3A §3.4 "Logical and Linear
// Addresses", §3.4.5 "Segment Descriptors", §5.5-5.8 privilege checks, §5.10 gates; Vol. 2 "MOV"
// (segment register), "LDS/LES/LFS/LGS/LSS", "POP", "LLDT", "LTR", "LAR", "LSL", "VERR/VERW".

import { CpuFault } from '../../arch/x86/exceptions.ts';
import { Cpu, ACC_IMPLICIT, ACC_READ } from './cpu.ts';
import {
  CS, SS, DS, ES, FS, GS, LDTR, TR, A_S, A_P, A_L, A_DB, A_G, A_UNUSABLE, A_DPL_SHIFT, A_TYPE,
  VM, CR0_PE, EFER_LMA,
} from './state.ts';

/** scratch descriptor read by readDescriptor: low dword, high dword, and (16-byte) upper qword */
export const desc = { lo: 0, hi: 0, xlo: 0, xhi: 0 };

/** Recompute the execution mode after CS, CR0, EFER or RFLAGS.VM changed. */
export function updateMode(c: Cpu): void {
  const a = c.segAttr[CS]!;
  c.code64 = (c.efer & EFER_LMA) !== 0 && (a & A_L) !== 0;
  c.def32 = !c.code64 && (a & A_DB) !== 0;
  if ((c.cr0 & CR0_PE) === 0) c.cpl = 0;
  else if (c.fl & VM) c.cpl = 3;
  else c.cpl = (c.segAttr[SS]! >> A_DPL_SHIFT) & 3;
  const m = c.mmu;
  if (m !== undefined && m.setCpl !== undefined) m.setCpl(c.cpl);
  c.modeFetch();
}

/** Real-mode / virtual-8086 segment load: base = selector × 16 (SDM Vol. 3A §20.1.1). */
export function loadSegReal(c: Cpu, seg: number, sel: number): void {
  c.segSel[seg] = sel & 0xffff;
  c.segBase[seg] = (sel & 0xffff) << 4;
  c.segBaseHi[seg] = 0;
  if (c.fl & VM) {
    c.segLimit[seg] = 0xffff;
    c.segAttr[seg] = 0xf3 | (seg === CS ? 0x8 : 0);
  } else if (c.segAttr[seg]! & A_UNUSABLE) {
    c.segAttr[seg] = (seg === CS ? 0x9b : 0x93);
  }
}

/** Read the 8-byte descriptor for `sel` (and the next 8 bytes when `wide`) into `desc`.
 *  Returns false when the selector is outside the table limit. */
export function readDescriptor(c: Cpu, sel: number, wide = false): boolean {
  let baseLo: number, baseHi: number, limit: number;
  if (sel & 4) {
    if (c.segAttr[LDTR]! & A_UNUSABLE || (c.segSel[LDTR]! & 0xfffc) === 0) return false;
    baseLo = c.segBase[LDTR]!; baseHi = c.segBaseHi[LDTR]!; limit = c.segLimit[LDTR]! >>> 0;
  } else {
    baseLo = c.gdtBase; baseHi = c.gdtBaseHi; limit = c.gdtLimit >>> 0;
  }
  const off = sel & 0xfff8;
  if (off + (wide ? 15 : 7) > limit) return false;
  const lo = (baseLo + off) | 0;
  const hi = c.code64 || (c.efer & EFER_LMA) ? (baseHi + (lo >>> 0 < baseLo >>> 0 ? 1 : 0)) | 0 : 0;
  desc.lo = c.readLin(lo, hi, 4, ACC_IMPLICIT);
  desc.hi = c.readLin((lo + 4) | 0, hi, 4, ACC_IMPLICIT);
  if (wide) {
    desc.xlo = c.readLin((lo + 8) | 0, hi, 4, ACC_IMPLICIT);
    desc.xhi = c.readLin((lo + 12) | 0, hi, 4, ACC_IMPLICIT);
  }
  return true;
}

/** Write back the descriptor's high dword (accessed / busy bits). */
export function writeDescriptorHi(c: Cpu, sel: number, hiWord: number): void {
  const table = sel & 4 ? c.segBase[LDTR]! : c.gdtBase;
  const tableHi = sel & 4 ? c.segBaseHi[LDTR]! : c.gdtBaseHi;
  const lo = (table + (sel & 0xfff8) + 4) | 0;
  c.writeLin(lo, c.efer & EFER_LMA ? tableHi : 0, 4, hiWord, 0, ACC_IMPLICIT);
}

export function descBase(): number {
  return ((desc.lo >>> 16) | ((desc.hi & 0xff) << 16) | (desc.hi & 0xff000000)) | 0;
}
export function descLimit(): number {
  const raw = (desc.lo & 0xffff) | (desc.hi & 0xf0000);
  return desc.hi & 0x800000 ? ((raw << 12) | 0xfff) | 0 : raw;
}
/** attributes in the A_* packing: type, S, DPL, P from bits 8..15; AVL, L, D/B, G from 20..23 */
export function descAttr(): number {
  return ((desc.hi >>> 8) & 0xff) | ((desc.hi >>> 8) & 0xf000);
}

export function setSegFromDesc(c: Cpu, seg: number, sel: number): void {
  c.segSel[seg] = sel;
  c.segBase[seg] = descBase();
  c.segBaseHi[seg] = 0;
  c.segLimit[seg] = descLimit();
  c.segAttr[seg] = descAttr();
}

function fault(vector: number, sel: number, why: string): CpuFault {
  return new CpuFault(vector, sel & 0xfffc, 0, 0, why);
}

/**
 * Load a data/stack segment register (MOV Sreg, POP Sreg, LxS) in protected mode with the checks
 * of SDM Vol. 2 "MOV" (Operation, protected mode): null selectors, type, RPL/DPL, present.
 */
export function loadSeg(c: Cpu, seg: number, sel: number): void {
  sel &= 0xffff;
  if ((c.cr0 & CR0_PE) === 0 || c.fl & VM) {
    loadSegReal(c, seg, sel);
    return;
  }
  if ((sel & 0xfffc) === 0) {
    if (seg === SS && (!c.code64 || (sel & 3) !== c.cpl)) throw fault(13, 0, 'null SS');
    c.segSel[seg] = sel;
    c.segAttr[seg] = A_UNUSABLE | (seg === SS ? (c.cpl << A_DPL_SHIFT) | (c.segAttr[SS]! & A_DB) : 0);
    c.segBase[seg] = 0; c.segBaseHi[seg] = 0; c.segLimit[seg] = 0;
    return;
  }
  if (!readDescriptor(c, sel)) throw fault(13, sel, 'selector beyond table limit');
  const attr = descAttr();
  const type = attr & A_TYPE;
  const dpl = (attr >> A_DPL_SHIFT) & 3;
  const rpl = sel & 3;
  if (seg === SS) {
    if (rpl !== c.cpl || dpl !== c.cpl || !(attr & A_S) || type & 8 || !(type & 2)) throw fault(13, sel, 'bad SS descriptor');
    if (!(attr & A_P)) throw fault(12, sel, 'SS not present');
  } else {
    if (!(attr & A_S) || (type & 0xa) === 8) throw fault(13, sel, 'not a readable segment');
    // data or non-conforming code: DPL >= max(CPL, RPL)
    if ((type & 0xc) !== 0xc && (dpl < c.cpl || dpl < rpl)) throw fault(13, sel, 'segment privilege');
    if (!(attr & A_P)) throw fault(11, sel, 'segment not present');
  }
  if (!(desc.hi & 0x100)) writeDescriptorHi(c, sel, desc.hi | 0x100);
  setSegFromDesc(c, seg, sel);
  c.segAttr[seg] = descAttr() | 1;
  if (seg === SS) updateMode(c);
}

/** Load CS for a far JMP/CALL/RET/IRET to a code segment at privilege `newCpl` (checks done by the caller). */
export function loadCs(c: Cpu, sel: number, newCpl: number): void {
  setSegFromDesc(c, CS, (sel & 0xfffc) | newCpl);
  c.segAttr[CS] = descAttr() | 1;
  if (!(desc.hi & 0x100)) writeDescriptorHi(c, sel, desc.hi | 0x100);
  // CPL lives in SS.DPL for the MMU/updateMode: keep SS.DPL = CPL
  c.segAttr[SS] = (c.segAttr[SS]! & ~(3 << A_DPL_SHIFT)) | (newCpl << A_DPL_SHIFT);
  updateMode(c);
}

/** Check a code-segment descriptor (in desc) for a far JMP/CALL to it; returns the new CPL. */
export function checkCodeTarget(c: Cpu, sel: number): number {
  const attr = descAttr();
  const type = attr & A_TYPE;
  const dpl = (attr >> A_DPL_SHIFT) & 3;
  if (!(attr & A_S) || !(type & 8)) throw fault(13, sel, 'not a code segment');
  if (type & 4) {
    if (dpl > c.cpl) throw fault(13, sel, 'conforming code DPL > CPL');
  } else if ((sel & 3) > c.cpl || dpl !== c.cpl) throw fault(13, sel, 'code segment privilege');
  if (!(attr & A_P)) throw fault(11, sel, 'code segment not present');
  if ((c.efer & EFER_LMA) && (attr & A_L) && (attr & A_DB)) throw fault(13, sel, 'L and D both set');
  return c.cpl;
}

/** LLDT (SDM Vol. 2 "LLDT") */
export function loadLdt(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0) {
    c.segSel[LDTR] = sel; c.segAttr[LDTR] = A_UNUSABLE; return;
  }
  if (sel & 4) throw fault(13, sel, 'LDT selector in LDT');
  if (!readDescriptor(c, sel, (c.efer & EFER_LMA) !== 0)) throw fault(13, sel, 'beyond GDT limit');
  const attr = descAttr();
  if (attr & A_S || (attr & A_TYPE) !== 2) throw fault(13, sel, 'not an LDT descriptor');
  if (!(attr & A_P)) throw fault(11, sel, 'LDT not present');
  setSegFromDesc(c, LDTR, sel);
  if (c.efer & EFER_LMA) c.segBaseHi[LDTR] = desc.xlo;
}

/** LTR (SDM Vol. 2 "LTR"): marks the TSS busy */
export function loadTr(c: Cpu, sel: number): void {
  if ((sel & 0xfffc) === 0 || sel & 4) throw fault(13, sel, 'bad TSS selector');
  if (!readDescriptor(c, sel, (c.efer & EFER_LMA) !== 0)) throw fault(13, sel, 'beyond GDT limit');
  const attr = descAttr();
  const type = attr & A_TYPE;
  if (attr & A_S || !(type === 9 || (type === 1 && !(c.efer & EFER_LMA)))) throw fault(13, sel, 'not an available TSS');
  if (!(attr & A_P)) throw fault(11, sel, 'TSS not present');
  setSegFromDesc(c, TR, sel);
  if (c.efer & EFER_LMA) c.segBaseHi[TR] = desc.xlo;
  c.segAttr[TR] = attr | 2;
  writeDescriptorHi(c, sel, desc.hi | 0x200);
}

export { ACC_READ, DS, ES, FS, GS, A_G };
