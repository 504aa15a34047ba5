// Test helper: put a vCPU straight into one of the x86 operating modes through KVM_SET_SREGS, the
// way Firecracker boots Linux (Intel SDM Vol. 3A §9.8 "Initializing IA-32e mode", §3.4.5 segment
// descriptors, §4.5 4-level paging). Builds a GDT and, for long mode, identity page tables in guest
// memory. Works on any Backend.

import type { Segment, Sregs, Vcpu } from '../../backend.ts';
import { seg } from '../../../loaders/boot/boot-state.ts';

export const GDT_ADDR = 0x500;
/** PML4 at 0x9000, PDPT at 0xa000, PD at 0xb000: 1 GiB identity-mapped with 2 MiB pages. */
export const PML4_ADDR = 0x9000;

const CR0_PE = 1n;
const CR0_ET = 1n << 4n;
const CR0_NE = 1n << 5n;
const CR0_PG = 1n << 31n;
const CR4_PAE = 1n << 5n;
const EFER_LME = 1n << 8n;
const EFER_LMA = 1n << 10n;

export type GuestMode = 'real' | 'protected32' | 'long64';


/** A GDT descriptor for a flat 4 GiB segment (SDM Vol. 3A Figure 3-8). */
function descriptor(type: number, l: boolean, db: boolean): bigint {
  const limit = 0xfffffn;
  const flags = (1n << 3n) /* G */ | (db ? 1n << 2n : 0n) | (l ? 1n << 1n : 0n);
  const access = 0x80n /* P */ | 0x10n /* S */ | BigInt(type);
  return (limit & 0xffffn) | (access << 40n) | (((limit >> 16n) & 0xfn) << 48n) | (flags << 52n);
}

/**
 * Prepare `vcpu` (already created, CPUID set) to execute at `rip` in `mode`, with guest memory
 * `mem` mapped at guest physical 0. Returns the sregs that were set.
 */
export function enterMode(vcpu: Vcpu, mem: ArrayBuffer, mode: GuestMode, rip: number, rsp = 0x8000): Sregs {
  const dv = new DataView(mem);
  const s = vcpu.getSregs();
  if (mode === 'real') {
    const rs: Segment = { ...s.cs, base: 0n, selector: 0 };
    s.cs = rs;
    for (const n of ['ds', 'es', 'ss'] as const) s[n] = { ...s[n], base: 0n, selector: 0 };
  } else {
    // GDT: null, code (0x08), data (0x10)
    const long = mode === 'long64';
    dv.setBigUint64(GDT_ADDR, 0n, true);
    dv.setBigUint64(GDT_ADDR + 8, descriptor(0xb, long, !long), true);
    dv.setBigUint64(GDT_ADDR + 16, descriptor(0x3, false, true), true);
    s.gdt = { base: BigInt(GDT_ADDR), limit: 23 };
    s.cs = seg(0x08, 0xb, long, !long);
    const data = seg(0x10, 0x3, false, true);
    s.ds = data;
    s.es = data;
    s.fs = data;
    s.gs = data;
    s.ss = data;
    s.cr0 = CR0_PE | CR0_ET | CR0_NE;
    if (long) {
      const pdpt = PML4_ADDR + 0x1000;
      const pd = PML4_ADDR + 0x2000;
      dv.setBigUint64(PML4_ADDR, BigInt(pdpt) | 3n, true);
      dv.setBigUint64(pdpt, BigInt(pd) | 3n, true);
      for (let i = 0; i < 512; i++) dv.setBigUint64(pd + 8 * i, (BigInt(i) << 21n) | 0x83n, true);
      s.cr3 = BigInt(PML4_ADDR);
      s.cr4 = CR4_PAE;
      s.cr0 |= CR0_PG;
      s.efer = EFER_LME | EFER_LMA;
    }
  }
  vcpu.setSregs(s);
  const r = vcpu.getRegs();
  r.rip = BigInt(rip);
  r.rsp = BigInt(rsp);
  r.rflags = 2n;
  vcpu.setRegs(r);
  return s;
}
