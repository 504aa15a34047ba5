// The CPU state a loader hands over at the kernel's first instruction, built the way firmware or a
// boot loader would: a GDT (Intel SDM Vol. 3A §3.4.5 segment descriptors, §8.2.3 TSS descriptor in
// 64-bit mode), flat segments, and for 64-bit entry identity-mapped 2 MiB pages (SDM Vol. 3A §4.5,
// Tables 4-15/4-17) with CR0.PG, CR4.PAE, EFER.LME/LMA set (SDM Vol. 3A §10.8.5 "Initializing IA-32e
// Mode"). The result is plain data: register values plus the parts of kvm_sregs to change.
//
// Boot GDT at BOOT_GDT_ADDR (0x1000), GDTR.limit = 0x2F:
//   selector  descriptor            raw value
//   0x00      null                  0
//   0x08      64-bit code, DPL 0    0x00AF9A000000FFFF  (L=1, D=0, G=1, type 0xA)
//   0x10      flat data, DPL 0      0x00CF92000000FFFF  (D/B=1, G=1, type 0x2, base 0, limit 4 GiB)
//   0x18      32-bit code, DPL 0    0x00CF9A000000FFFF  (D=1, G=1, type 0xA)
//   0x20      TSS (16 bytes in      base BOOT_TSS_ADDR, limit 0x67, type 0xB (busy)
//             long mode)
// The TSS itself (104 zero bytes, I/O map base beyond the limit) sits at BOOT_TSS_ADDR = 0x1080.
//
// long64 page tables at BOOT_PAGING_ADDR (0x10000): PML4 at +0x0000, PDPT at +0x1000, one page
// directory per GiB from +0x2000; PDE = phys | PS | RW | P (0x83). They cover max(4 GiB, top of RAM),
// rounded up to a GiB, so the MMIO hole below 4 GiB is mapped too.

import type { Regs, Segment, Sregs } from '../../vcpu/backend.ts';
import { Cr0 } from '../../arch/x86/registers/cr0.ts';
import { Cr4 } from '../../arch/x86/registers/cr4.ts';
import { Efer } from '../../arch/x86/registers/efer.ts';
import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import {
  BOOT_GDT_ADDR,
  BOOT_PAGING_ADDR,
  BOOT_PAGING_END,
  BOOT_STACK_TOP,
  GiB,
  HIGH_RAM_START,
  MiB,
} from '../../machine/layout.ts';
import type { GuestMemory } from '../../machine/memory.ts';

export const GDT_SELECTOR = { NULL: 0x00, CODE64: 0x08, DATA: 0x10, CODE32: 0x18, TSS: 0x20 } as const;
export const BOOT_GDT_ENTRIES = [0n, 0x00af9a000000ffffn, 0x00cf92000000ffffn, 0x00cf9a000000ffffn] as const;
export const BOOT_GDT_LIMIT = 0x2f;
export const BOOT_TSS_ADDR = BOOT_GDT_ADDR + 0x80;
export const BOOT_TSS_LIMIT = 0x67;
/** 64-bit TSS: offset of the I/O map base field (SDM Vol. 3A Figure 8-11). */
const TSS64_IOMAP_BASE = 0x66;

/** Control-register and EFER bits used at entry (the arch/x86/registers tables; SDM Vol. 3A §2.5). */
export const BootCr0 = { PE: Cr0.PE, ET: Cr0.ET, NE: Cr0.NE, PG: Cr0.PG } as const;
export const BootCr4 = { PAE: Cr4.PAE } as const;
export const BootEfer = { LME: Efer.LME, LMA: Efer.LMA } as const;
/** Paging-structure entry bits (SDM Vol. 3A Table 4-17/4-19). */
export const Pte = { P: 1n << 0n, RW: 1n << 1n, PS: 1n << 7n } as const;
/** RFLAGS bit 1 is reserved and always 1; IF and everything else clear. */
export const RFLAGS_BOOT = 0x2n;

export const PML4_ADDR = BOOT_PAGING_ADDR;
export const PDPT_ADDR = BOOT_PAGING_ADDR + 0x1000;
export const PD_BASE_ADDR = BOOT_PAGING_ADDR + 0x2000;
export const MAX_MAPPED_GIB = (BOOT_PAGING_END - PD_BASE_ADDR) / 0x1000;

export type EntryMode = 'real16' | 'protected32' | 'long64';

/** What a loader hands over: register values plus the kvm_sregs fields to change. */
export interface BootState {
  readonly mode: EntryMode;
  readonly regs: Regs;
  readonly sregs: Partial<Sregs>;
  /** guest physical ranges the loader wrote (image, modules, boot data), for reports and tests */
  readonly written: readonly { what: string; base: number; size: number }[];
}

export function zeroRegs(): Regs {
  return {
    rax: 0n,
    rbx: 0n,
    rcx: 0n,
    rdx: 0n,
    rsi: 0n,
    rdi: 0n,
    rsp: 0n,
    rbp: 0n,
    r8: 0n,
    r9: 0n,
    r10: 0n,
    r11: 0n,
    r12: 0n,
    r13: 0n,
    r14: 0n,
    r15: 0n,
    rip: 0n,
    rflags: RFLAGS_BOOT,
  };
}

/** A real-mode segment: 64 KiB at `base`, present, DPL 0, 16-bit (type 0xB code, 0x3 data). */
export function realSegment(selector: number, base: bigint, type: number): Segment {
  return {
    base,
    limit: 0xffff,
    selector,
    type,
    present: true,
    dpl: 0,
    db: false,
    s: true,
    l: false,
    g: false,
    avl: false,
    unusable: false,
  };
}

/** A flat 4 GiB code or data segment (base 0, G=1, present, DPL 0). */
export function seg(selector: number, type: number, code64: boolean, db: boolean): Segment {
  return {
    base: 0n,
    limit: 0xffffffff,
    selector,
    type,
    present: true,
    dpl: 0,
    db,
    s: true,
    l: code64,
    g: true,
    avl: false,
    unusable: false,
  };
}

/** Flat 4 GiB data segment (type 3 = read/write, accessed). */
export function flatData(): Segment {
  return seg(GDT_SELECTOR.DATA, 0x3, false, true);
}
/** Flat code segment (type 0xB = execute/read, accessed). */
export function flatCode(bits: 32 | 64): Segment {
  return bits === 64
    ? seg(GDT_SELECTOR.CODE64, 0xb, true, false)
    : seg(GDT_SELECTOR.CODE32, 0xb, false, true);
}
/** The busy 64-bit TSS at BOOT_TSS_ADDR, under the given selector. */
export function bootTr(selector: number = GDT_SELECTOR.TSS): Segment {
  return {
    base: BigInt(BOOT_TSS_ADDR),
    limit: BOOT_TSS_LIMIT,
    selector,
    type: 0xb,
    present: true,
    dpl: 0,
    db: false,
    s: false,
    l: false,
    g: false,
    avl: false,
    unusable: false,
  };
}
export function unusableLdt(): Segment {
  return {
    base: 0n,
    limit: 0xffff,
    selector: 0,
    type: 0x2,
    present: true,
    dpl: 0,
    db: false,
    s: false,
    l: false,
    g: false,
    avl: false,
    unusable: false,
  };
}

/** 16-byte 64-bit TSS descriptor (SDM Vol. 3A Figure 8-4), as two quadwords. */
export function tssDescriptor(base: number, limit: number): [bigint, bigint] {
  const b = BigInt(base);
  const l = BigInt(limit);
  const lo =
    (l & 0xffffn) |
    ((b & 0xffffffn) << 16n) |
    (0xbn << 40n) | // type: busy 64-bit TSS
    (1n << 47n) | // P
    (((l >> 16n) & 0xfn) << 48n) |
    (((b >> 24n) & 0xffn) << 56n);
  const hi = (b >> 32n) & 0xffffffffn;
  return [lo, hi];
}

/** The range the boot GDT + TSS occupy. */
export const BOOT_GDT_RANGE = { base: BOOT_GDT_ADDR, size: 0x1000 } as const;

export function writeBootGdt(mem: GuestMemory): void {
  mem.fill(BOOT_GDT_ADDR, 0x1000);
  BOOT_GDT_ENTRIES.forEach((d, i) => mem.writeU64(BOOT_GDT_ADDR + i * 8, d));
  const [lo, hi] = tssDescriptor(BOOT_TSS_ADDR, BOOT_TSS_LIMIT);
  mem.writeU64(BOOT_GDT_ADDR + GDT_SELECTOR.TSS, lo);
  mem.writeU64(BOOT_GDT_ADDR + GDT_SELECTOR.TSS + 8, hi);
  mem.writeU16(BOOT_TSS_ADDR + TSS64_IOMAP_BASE, BOOT_TSS_LIMIT + 1);
}

/** How many GiB the long64 identity map covers for a machine whose RAM ends at `ramTop`. */
export function mappedGib(ramTop: number): number {
  return Math.ceil(Math.max(HIGH_RAM_START, ramTop) / GiB);
}

/** Build the identity map (2 MiB pages) at BOOT_PAGING_ADDR. Returns the CR3 value and the range written. */
export function writeIdentityPageTables(mem: GuestMemory): {
  cr3: number;
  size: number;
  mappedBytes: number;
} {
  const gib = mappedGib(mem.layout.ramTop);
  if (gib > MAX_MAPPED_GIB) {
    throw new TsvmmError(
      'BOOT_PAGING_TOO_LARGE',
      `long64 page tables below 1 MiB can map ${MAX_MAPPED_GIB} GiB, machine needs ${gib} GiB`,
    );
  }
  const size = 0x2000 + gib * 0x1000;
  mem.fill(BOOT_PAGING_ADDR, size);
  mem.writeU64(PML4_ADDR, BigInt(PDPT_ADDR) | Pte.P | Pte.RW);
  for (let g = 0; g < gib; g++) {
    const pd = PD_BASE_ADDR + g * 0x1000;
    mem.writeU64(PDPT_ADDR + g * 8, BigInt(pd) | Pte.P | Pte.RW);
    for (let j = 0; j < 512; j++) {
      const phys = BigInt(g) * BigInt(GiB) + BigInt(j) * BigInt(2 * MiB);
      mem.writeU64(pd + j * 8, phys | Pte.P | Pte.RW | Pte.PS);
    }
  }
  return { cr3: PML4_ADDR, size, mappedBytes: gib * GiB };
}

/** 32-bit protected mode, flat segments, paging off (the multiboot v1 machine state, spec §3.2). */
export function protectedMode32Sregs(): Partial<Sregs> {
  const data = flatData();
  return {
    cs: flatCode(32),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    tr: bootTr(),
    ldt: unusableLdt(),
    gdt: { base: BigInt(BOOT_GDT_ADDR), limit: BOOT_GDT_LIMIT },
    idt: { base: 0n, limit: 0 },
    cr0: BootCr0.PE | BootCr0.ET | BootCr0.NE,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  };
}

/** 64-bit mode with identity paging (tsvmm's long64 entry; see loaders/multiboot/README.md). */
export function longMode64Sregs(cr3: number): Partial<Sregs> {
  const data = flatData();
  return {
    cs: flatCode(64),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    tr: bootTr(),
    ldt: unusableLdt(),
    gdt: { base: BigInt(BOOT_GDT_ADDR), limit: BOOT_GDT_LIMIT },
    idt: { base: 0n, limit: 0 },
    cr0: BootCr0.PE | BootCr0.ET | BootCr0.NE | BootCr0.PG,
    cr3: BigInt(cr3),
    cr4: BootCr4.PAE,
    efer: BootEfer.LME | BootEfer.LMA,
  };
}

/** Real mode at segment `base >> 4` (the state after a far jump to base:0). */
export function realMode16Sregs(base: number): Partial<Sregs> {
  if (base % 16 !== 0 || base >= 0x100000) {
    throw new TsvmmError(
      'FLAT_UNALIGNED',
      `real-mode load address ${hex(base)} must be 16-byte aligned and below 1 MiB`,
    );
  }
  const s = (sel: number, type: number): Segment => realSegment(sel, BigInt(sel << 4), type);
  const data = s(base >> 4, 0x3);
  return {
    cs: s(base >> 4, 0xb),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    cr0: BootCr0.ET,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  };
}

/** Registers at a 32- or 64-bit entry with the multiboot hand-over values. */
export function entryRegs(entry: bigint, magic: number, info: number, mode: EntryMode): Regs {
  const r = zeroRegs();
  r.rip = entry;
  r.rax = BigInt(magic >>> 0);
  r.rbx = BigInt(info >>> 0);
  if (mode === 'long64') {
    r.rdi = BigInt(info >>> 0);
    r.rsi = BigInt(magic >>> 0);
  }
  r.rsp = BigInt(BOOT_STACK_TOP);
  return r;
}
