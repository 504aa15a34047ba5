// Test harness for the interpreter: a flat guest (identity-mapped long mode, 32-bit protected mode or
// real mode) built directly into guest memory, machine code assembled with GNU as when present
// (DESIGN.md §5.3: the machine's own toolchain). Used by the interpreter's unit tests and the bench.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Regs, Segment, Sregs, Vcpu, VcpuExit } from '../../backend.ts';
import type { CpuidEntry } from '../../../arch/x86/cpuid/table.ts';
import { createInterpBackend } from '../index.ts';

export const CODE_BASE = 0x10000;
export const STACK_TOP = 0x80000;
export const MEM_BYTES = 32 << 20;

let asOk: boolean | undefined;
export function haveAssembler(): boolean {
  if (asOk === undefined) {
    asOk = spawnSync('as', ['--version']).status === 0 && spawnSync('objcopy', ['--version']).status === 0;
  }
  return asOk;
}

/** Assemble GNU-syntax (Intel mnemonics, `.intel_syntax noprefix`) source into flat bytes at `org`. */
export function assemble(src: string, bits: 16 | 32 | 64 = 64, org = CODE_BASE): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-as-'));
  try {
    const s = join(dir, 'a.s'), o = join(dir, 'a.o'), b = join(dir, 'a.bin');
    writeFileSync(s, `.intel_syntax noprefix\n.code${bits}\n${src}\n`);
    execFileSync('as', ['--64', '-o', o, s], { stdio: 'pipe' });
    execFileSync('ld', ['-o', join(dir, 'a.elf'), '-Ttext', '0x' + org.toString(16), '-e', '0x' + org.toString(16), '--oformat', 'elf64-x86-64', o], { stdio: 'pipe' });
    execFileSync('objcopy', ['-O', 'binary', '-j', '.text', join(dir, 'a.elf'), b], { stdio: 'pipe' });
    return new Uint8Array(readFileSync(b));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface Guest {
  vcpu: Vcpu;
  mem: Uint8Array;
  dv: DataView;
  /** run until an exit other than 'intr' (at most `maxRuns` runs) */
  run(maxRuns?: number): VcpuExit;
  /** run, answering IN with `inValue`, collecting OUT bytes to port 0xE9, until HLT/shutdown/error */
  runToHalt(inValue?: number): { exit: VcpuExit; out: number[] };
  regs(): Regs;
}

export type GuestMode = 'long' | 'prot32' | 'real';

function seg(selector: number, type: number, l: boolean, db: boolean, dpl = 0): Segment {
  return { base: 0n, limit: 0xffffffff, selector, type, present: true, dpl, db, s: true, l, g: true, avl: false, unusable: false };
}

/** GDT at 0x500: 0x08 code64, 0x10 data, 0x18 code32, 0x20 code64 DPL3, 0x28 data DPL3, 0x30 TSS (64-bit) */
export const GDT_BASE = 0x500;
export const IDT_BASE = 0x1000 * 8;
export const TSS_BASE = 0x700;

export function makeGuest(code: Uint8Array, mode: GuestMode = 'long', cpuid?: CpuidEntry[], budget?: number, org = CODE_BASE): Guest {
  const backend = createInterpBackend(budget ? { budget } : {});
  const vm = backend.createVm();
  const buf = vm.allocateMemory(MEM_BYTES);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: buf });
  const mem = new Uint8Array(buf);
  const dv = new DataView(buf);
  mem.set(code, mode === 'real' ? 0x7c00 : org);
  // GDT
  const gdt = [
    [0, 0],
    [0x0000ffff, 0x00af9a00], // code64
    [0x0000ffff, 0x00cf9200], // data
    [0x0000ffff, 0x00cf9a00], // code32
    [0x0000ffff, 0x00affa00], // code64 DPL3
    [0x0000ffff, 0x00cff200], // data DPL3
    [0x00000067 | (TSS_BASE << 16), 0x00008900], // TSS64 (base < 64K)
    [0, 0],
  ];
  gdt.forEach(([lo, hi], i) => { dv.setUint32(GDT_BASE + 8 * i, lo!, true); dv.setUint32(GDT_BASE + 8 * i + 4, hi!, true); });
  // identity map 1 GiB with 2 MiB pages: PML4 0x2000, PDPT 0x3000, PD 0x4000
  dv.setUint32(0x2000, 0x3007, true); // user-accessible, so SYSRET/IRET to CPL 3 can run here
  dv.setUint32(0x3000, 0x4007, true);
  for (let i = 0; i < 512; i++) dv.setUint32(0x4000 + 8 * i, (i << 21) | 0x87, true);
  const vm0 = vm.createVcpu(0);
  if (cpuid) vm0.setCpuid(cpuid);
  const s = vm0.getSregs();
  const regs = vm0.getRegs();
  const sr: Sregs = { ...s, gdt: { base: BigInt(GDT_BASE), limit: gdt.length * 8 - 1 }, idt: { base: BigInt(IDT_BASE), limit: 0xfff } };
  const tss: Segment = { base: BigInt(TSS_BASE), limit: 0x67, selector: 0x30, type: 11, present: true, dpl: 0, db: false, s: false, l: false, g: false, avl: false, unusable: false };
  if (mode === 'long') {
    Object.assign(sr, {
      cs: seg(0x08, 11, true, false), ds: seg(0x10, 3, false, true), es: seg(0x10, 3, false, true), ss: seg(0x10, 3, false, true),
      fs: seg(0x10, 3, false, true), gs: seg(0x10, 3, false, true), tr: tss,
      cr0: 0x80050033n, cr3: 0x2000n, cr4: 0x6a0n, efer: 0xd01n,
    });
  } else if (mode === 'prot32') {
    Object.assign(sr, {
      cs: seg(0x18, 11, false, true), ds: seg(0x10, 3, false, true), es: seg(0x10, 3, false, true), ss: seg(0x10, 3, false, true),
      fs: seg(0x10, 3, false, true), gs: seg(0x10, 3, false, true), cr0: 0x11n, cr4: 0n, efer: 0n,
    });
  } else {
    const rs = (sel: number, type: number): Segment => ({ ...seg(sel, type, false, false), base: 0n, limit: 0xffff, g: false });
    Object.assign(sr, { cs: rs(0, 11), ds: rs(0, 3), es: rs(0, 3), ss: rs(0, 3), fs: rs(0, 3), gs: rs(0, 3), cr0: 0x60000010n, idt: { base: 0n, limit: 0x3ff } });
  }
  vm0.setSregs(sr);
  vm0.setRegs({ ...regs, rip: BigInt(mode === 'real' ? 0x7c00 : org), rsp: BigInt(mode === 'real' ? 0x7000 : STACK_TOP), rflags: 2n });
  const g: Guest = {
    vcpu: vm0, mem, dv,
    run(maxRuns = 100) {
      let e: VcpuExit = { reason: 'intr' };
      for (let i = 0; i < maxRuns; i++) {
        e = vm0.run();
        if (e.reason !== 'intr') return e;
      }
      return e;
    },
    runToHalt(inValue = 0) {
      const out: number[] = [];
      for (let i = 0; i < 100000; i++) {
        const e = vm0.run();
        if (e.reason === 'intr') continue;
        if (e.reason === 'io') {
          if (e.direction === 'out') { if (e.port === 0xe9) out.push(e.data[0]!); }
          else { e.data[0] = inValue; e.data[1] = inValue >> 8; e.data[2] = inValue >> 16; e.data[3] = inValue >> 24; }
          continue;
        }
        return { exit: e, out };
      }
      throw new Error('guest did not halt');
    },
    regs: () => vm0.getRegs(),
  };
  return g;
}
