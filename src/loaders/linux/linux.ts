// The Linux x86 64-bit boot protocol (Linux Documentation/arch/x86/boot.rst, "The 64-bit boot
// protocol" and "Loading the rest of the kernel"; zero-page.rst): a VMM-as-boot-loader plan.
//
// planLinuxBoot() returns plain data — the guest memory writes and the vCPU state — that the machine
// applies through GuestMemory and the Backend (Vcpu.setRegs / setSregs); applyLinuxBootPlan() does the
// memory part. Nothing here touches a vCPU, so the same plan boots on /dev/kvm and on the interpreter.
//
//   guest physical        what (machine/layout.ts addresses)
//   0x1000  GDT           0x00 null, 0x08 null, 0x10 __BOOT_CS (64-bit code), 0x18 __BOOT_DS (flat
//                         data), 0x20 TSS (16-byte descriptor; the TSS body at 0x1080)
//   0x2000  boot_params   the zero page: setup header copied from the image at 0x1F1, e820 map,
//                         cmd_line_ptr, ramdisk_*, acpi_rsdp_addr
//   0x3000  command line  NUL-terminated (≤ cmdline_size and ≤ 4095 bytes)
//   0x8000  stack top     RSP (the kernel sets its own at once)
//   0x10000 page tables   identity map, 2 MiB pages, of max(4 GiB, top of RAM): PML4, PDPT, PDs
//   0x9FC00 MP tables     when given (platform/mptable.ts), in the e820-reserved EBDA
//   0xE0000 ACPI tables   when given (platform/acpi/tables.ts), reserved in the e820 map
//   load    kernel        the protected-mode kernel at pref_address (or a caller's aligned address),
//                         with init_size bytes of RAM free from there
//   initrd                page-aligned, as high as possible below min(initrd_addr_max + 1, end of
//                         low RAM), above the kernel's init_size
//
// Entry state (boot.rst "64-bit boot protocol"): long mode, paging on with the identity map, CS =
// __BOOT_CS, DS = ES = SS (= FS = GS) = __BOOT_DS, interrupts off, RSI = boot_params, RIP = load
// address + 0x200.

import type { Regs, Sregs } from '../../vcpu/backend.ts';
import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import {
  BOOT_GDT_ADDR,
  BOOT_INFO_ADDR,
  BOOT_PAGING_ADDR,
  BOOT_STACK_TOP,
  BOOT_STRINGS_ADDR,
  BOOT_STRINGS_SIZE,
  GiB,
  HIGH_RAM_START,
  MiB,
  E820,
  type E820Entry,
  type MemoryLayout,
} from '../../machine/layout.ts';
import type { GuestMemory } from '../../machine/memory.ts';
import {
  BOOT_TSS_ADDR,
  BOOT_TSS_LIMIT,
  BootCr0,
  BootCr4,
  BootEfer,
  MAX_MAPPED_GIB,
  Pte,
  RFLAGS_BOOT,
  bootTr,
  seg,
  tssDescriptor,
  unusableLdt,
  zeroRegs,
  type BootState,
} from '../boot/boot-state.ts';
import { setField } from '../layout/struct.ts';
import { buildE820, encodeE820 } from '../../platform/e820.ts';
import type { AcpiTables } from '../../platform/acpi/tables.ts';
import { BOOT_PARAMS, BOOT_PARAMS_SIZE, E820_TABLE_MAX, E820_TABLE_OFFSET } from './boot-params.ts';
import { extractVmlinux } from './payload.ts';
import {
  ENTRY_64_OFFSET,
  LoadFlags,
  LOADER_TYPE_UNDEFINED,
  parseBzImage,
  SETUP_HEADER,
  SETUP_HEADER_START,
  XLoadFlags,
  type BzImage,
} from './bzimage.ts';

/** Linux's boot segment selectors (arch/x86/include/asm/segment.h GDT_ENTRY_BOOT_CS = 2, _DS = 3). */
export const LINUX_BOOT_CS = 0x10;
export const LINUX_BOOT_DS = 0x18;
export const LINUX_BOOT_TSS = 0x20;
export const LINUX_GDT_LIMIT = 0x2f;
/** 64-bit code (L=1, P, DPL 0, type 0xB) and flat data (D/B=1, G=1, type 0x3) descriptors. */
export const LINUX_GDT_CODE64 = 0x00af9b000000ffffn;
export const LINUX_GDT_DATA = 0x00cf93000000ffffn;

export const LINUX_BOOT_PARAMS_ADDR = BOOT_INFO_ADDR;
export const LINUX_CMDLINE_ADDR = BOOT_STRINGS_ADDR;
export const PAGE = 4096;

export interface LinuxBootOptions {
  readonly kernel: Uint8Array;
  readonly initrd?: Uint8Array;
  readonly cmdline?: string;
  readonly layout: MemoryLayout;
  /** ACPI tables to place; their region is reserved in e820 and the RSDP passed in acpi_rsdp_addr */
  readonly acpi?: AcpiTables;
  /** MP tables (platform/mptable.ts) to place, in the EBDA (already e820-reserved) */
  readonly mptable?: { readonly address: number; readonly bytes: Uint8Array };
  /** where to load the protected-mode kernel (default pref_address); relocatable kernels only */
  readonly loadAddress?: number;
  /** for messages */
  readonly kernelName?: string;
  /**
   * Unpack the compressed vmlinux on the host and enter startup_64 directly (payload.ts): skips the
   * kernel's own decompressor (and KASLR). The kernel must then fit at its link address.
   */
  readonly hostDecompress?: boolean;
}

export interface MemoryWrite {
  readonly what: string;
  readonly addr: number;
  readonly bytes: Uint8Array;
}

export interface LinuxBootPlan extends BootState {
  readonly memoryWrites: readonly MemoryWrite[];
  readonly image: BzImage;
  readonly loadAddress: number;
  readonly entry: number;
  readonly bootParamsAddr: number;
  readonly cmdlineAddr: number;
  readonly initrd?: { readonly addr: number; readonly size: number };
  readonly e820: readonly E820Entry[];
}

function u64le(dv: DataView, off: number, v: bigint): void {
  dv.setUint32(off, Number(v & 0xffffffffn), true);
  dv.setUint32(off + 4, Number(v >> 32n), true);
}

/** The boot GDT + TSS page (written at BOOT_GDT_ADDR). */
export function linuxGdtPage(): Uint8Array {
  const page = new Uint8Array(PAGE);
  const dv = new DataView(page.buffer);
  u64le(dv, LINUX_BOOT_CS, LINUX_GDT_CODE64);
  u64le(dv, LINUX_BOOT_DS, LINUX_GDT_DATA);
  const [lo, hi] = tssDescriptor(BOOT_TSS_ADDR, BOOT_TSS_LIMIT);
  u64le(dv, LINUX_BOOT_TSS, lo);
  u64le(dv, LINUX_BOOT_TSS + 8, hi);
  // 64-bit TSS I/O map base (offset 0x66) beyond the limit: no I/O permission bitmap.
  dv.setUint16(BOOT_TSS_ADDR - BOOT_GDT_ADDR + 0x66, BOOT_TSS_LIMIT + 1, true);
  return page;
}

/** Identity map of `gib` GiB with 2 MiB pages: PML4, PDPT, then one PD per GiB (at BOOT_PAGING_ADDR). */
export function identityPageTables(gib: number): Uint8Array {
  if (gib > MAX_MAPPED_GIB)
    throw new TsvmmError(
      'BOOT_PAGING_TOO_LARGE',
      `boot page tables below 1 MiB map at most ${MAX_MAPPED_GIB} GiB, the machine needs ${gib}`,
    );
  const b = new Uint8Array(0x2000 + gib * PAGE);
  const dv = new DataView(b.buffer);
  const pdpt = BOOT_PAGING_ADDR + 0x1000;
  u64le(dv, 0, BigInt(pdpt) | Pte.P | Pte.RW);
  for (let g = 0; g < gib; g++) {
    const pd = BOOT_PAGING_ADDR + 0x2000 + g * PAGE;
    u64le(dv, 0x1000 + g * 8, BigInt(pd) | Pte.P | Pte.RW);
    for (let j = 0; j < 512; j++) {
      u64le(
        dv,
        pd - BOOT_PAGING_ADDR + j * 8,
        (BigInt(g) * BigInt(GiB) + BigInt(j) * BigInt(2 * MiB)) | Pte.P | Pte.RW | Pte.PS,
      );
    }
  }
  return b;
}

/** kvm_sregs for the 64-bit entry with the Linux boot GDT. */
export function linuxEntrySregs(cr3: number): Partial<Sregs> {
  const data = seg(LINUX_BOOT_DS, 0x3, false, true);
  return {
    cs: seg(LINUX_BOOT_CS, 0xb, true, false),
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    tr: bootTr(LINUX_BOOT_TSS),
    ldt: unusableLdt(),
    gdt: { base: BigInt(BOOT_GDT_ADDR), limit: LINUX_GDT_LIMIT },
    idt: { base: 0n, limit: 0 },
    cr0: BootCr0.PE | BootCr0.ET | BootCr0.NE | BootCr0.PG,
    cr3: BigInt(cr3),
    cr4: BootCr4.PAE,
    efer: BootEfer.LME | BootEfer.LMA,
  };
}

/** Is [base, base + size) inside one RAM region below 4 GiB? */
function inLowRam(layout: MemoryLayout, base: number, size: number): boolean {
  return layout.ram.some(
    (r) => r.base <= base && base + size <= r.base + r.size && base + size <= HIGH_RAM_START,
  );
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Build the boot plan. Throws TsvmmError (LINUX_*) for images or configurations it cannot boot. */
export function planLinuxBoot(opts: LinuxBootOptions): LinuxBootPlan {
  const what = opts.kernelName ?? 'kernel image';
  const img = parseBzImage(opts.kernel, what);
  const layout = opts.layout;

  // --- kernel placement
  let load = opts.loadAddress ?? img.prefAddress;
  if (opts.loadAddress !== undefined) {
    if (!img.relocatable && load !== img.prefAddress) {
      throw new TsvmmError(
        'LINUX_NOT_RELOCATABLE',
        `${what}: the kernel is not relocatable; it must load at pref_address ${hex(img.prefAddress)}, not ${hex(load)}`,
      );
    }
    if (img.relocatable && load % img.kernelAlignment !== 0) {
      throw new TsvmmError(
        'LINUX_LOAD_ALIGNMENT',
        `${what}: load address ${hex(load)} is not aligned to kernel_alignment ${hex(img.kernelAlignment)}`,
      );
    }
  }
  if (load < MiB)
    throw new TsvmmError('LINUX_LOAD_ADDRESS', `${what}: load address ${hex(load)} is below 1 MiB`);
  if (!inLowRam(layout, load, img.initSize)) {
    // A relocatable kernel may go lower, at the first aligned address at or above 1 MiB.
    const alt = img.relocatable && opts.loadAddress === undefined ? alignUp(MiB, img.kernelAlignment) : -1;
    if (alt >= 0 && inLowRam(layout, alt, img.initSize)) load = alt;
    else {
      throw new TsvmmError(
        'LINUX_NOT_ENOUGH_MEMORY',
        `${what}: the kernel needs ${hex(img.initSize)} bytes (init_size) of RAM from ${hex(load)}; the machine's low RAM ends at ${hex(layout.lowRamEnd)} — give the guest more memory`,
        { load, initSize: img.initSize, lowRamEnd: layout.lowRamEnd },
      );
    }
  }
  const kernelEnd = load + img.initSize;

  // --- command line
  const cmdline = new TextEncoder().encode(opts.cmdline ?? '');
  const maxCmd = Math.min(img.cmdlineSize || 255, BOOT_STRINGS_SIZE - 1);
  if (cmdline.length > maxCmd) {
    throw new TsvmmError(
      'LINUX_CMDLINE_TOO_LONG',
      `the kernel command line has ${cmdline.length} bytes; this kernel accepts at most ${maxCmd}`,
    );
  }
  if (cmdline.includes(0))
    throw new TsvmmError('LINUX_CMDLINE_INVALID', 'the kernel command line contains a NUL byte');
  const cmdBytes = new Uint8Array(cmdline.length + 1);
  cmdBytes.set(cmdline);

  // --- initrd placement
  let initrd: { addr: number; size: number } | undefined;
  if (opts.initrd && opts.initrd.length > 0) {
    const size = opts.initrd.length;
    const above4g = (img.xloadflags & XLoadFlags.CAN_BE_LOADED_ABOVE_4G) !== 0;
    const limit = Math.min(img.initrdAddrMax + 1, layout.lowRamEnd, above4g ? Infinity : HIGH_RAM_START);
    const addr = Math.floor((limit - size) / PAGE) * PAGE;
    if (addr < kernelEnd) {
      throw new TsvmmError(
        'LINUX_INITRD_TOO_BIG',
        `the initrd (${size} bytes) does not fit between the kernel's end ${hex(kernelEnd)} and ${hex(limit)} (initrd_addr_max ${hex(img.initrdAddrMax)}, low RAM end ${hex(layout.lowRamEnd)})`,
        { size, kernelEnd, limit },
      );
    }
    initrd = { addr, size };
  }

  // --- e820
  const reservations = opts.acpi
    ? [{ base: opts.acpi.region.base, size: opts.acpi.region.size, type: E820.RESERVED }]
    : [];
  const e820 = buildE820(layout, reservations);
  if (e820.length > E820_TABLE_MAX)
    throw new TsvmmError('E820_TOO_MANY', `${e820.length} e820 entries do not fit in boot_params`);

  // --- boot_params
  const bp = new Uint8Array(BOOT_PARAMS_SIZE);
  const bpv = new DataView(bp.buffer);
  bp.set(img.bytes.subarray(SETUP_HEADER_START, img.headerEnd), SETUP_HEADER_START);
  const hdr = (k: keyof typeof SETUP_HEADER, v: number): void => setField(bpv, 0, SETUP_HEADER, k, v);
  hdr('type_of_loader', LOADER_TYPE_UNDEFINED);
  hdr('loadflags', (img.loadflags | LoadFlags.CAN_USE_HEAP) & ~LoadFlags.KEEP_SEGMENTS);
  hdr('heap_end_ptr', 0xfe00);
  hdr('vid_mode', 0xffff); // "normal"
  hdr('code32_start', load);
  hdr('cmd_line_ptr', LINUX_CMDLINE_ADDR);
  setField(bpv, 0, BOOT_PARAMS, 'ext_cmd_line_ptr', 0);
  if (initrd) {
    hdr('ramdisk_image', initrd.addr % 0x100000000);
    hdr('ramdisk_size', initrd.size % 0x100000000);
    setField(bpv, 0, BOOT_PARAMS, 'ext_ramdisk_image', Math.floor(initrd.addr / 0x100000000));
    setField(bpv, 0, BOOT_PARAMS, 'ext_ramdisk_size', Math.floor(initrd.size / 0x100000000));
  }
  if (opts.acpi) setField(bpv, 0, BOOT_PARAMS, 'acpi_rsdp_addr', BigInt(opts.acpi.rsdpAddress));
  setField(
    bpv,
    0,
    BOOT_PARAMS,
    'alt_mem_k',
    Math.min(0xffffffff, Math.floor((layout.lowRamEnd - MiB) / 1024)),
  );
  setField(bpv, 0, BOOT_PARAMS, 'e820_entries', e820.length);
  bp.set(encodeE820(e820), E820_TABLE_OFFSET);

  // --- page tables, GDT
  const gib = Math.ceil(Math.max(HIGH_RAM_START, layout.ramTop) / GiB);
  const pageTables = identityPageTables(gib);

  const writes: MemoryWrite[] = [
    { what: 'boot GDT + TSS', addr: BOOT_GDT_ADDR, bytes: linuxGdtPage() },
    { what: 'boot_params', addr: LINUX_BOOT_PARAMS_ADDR, bytes: bp },
    { what: 'command line', addr: LINUX_CMDLINE_ADDR, bytes: cmdBytes },
    { what: 'identity page tables', addr: BOOT_PAGING_ADDR, bytes: pageTables },
  ];
  let entry = load + ENTRY_64_OFFSET;
  if (opts.hostDecompress) {
    const { elf, bytes } = extractVmlinux(img, what);
    elf.segments.forEach((seg, i) => {
      if (seg.memsz === 0) return;
      if (seg.paddr < load || seg.paddr + seg.memsz > kernelEnd) {
        throw new TsvmmError(
          'LINUX_PAYLOAD_LAYOUT',
          `${what}: vmlinux segment ${i} at ${hex(seg.paddr)}+${hex(seg.memsz)} lies outside the kernel's area ${hex(load)}-${hex(kernelEnd)}; host decompression runs the kernel at its link address (give the guest more memory)`,
        );
      }
      writes.push({ what: `vmlinux segment ${i}`, addr: seg.paddr, bytes: bytes.subarray(seg.offset, seg.offset + seg.filesz) });
    });
    const e = Number(elf.entry);
    if (!(e >= load && e < kernelEnd))
      throw new TsvmmError('LINUX_PAYLOAD_LAYOUT', `${what}: the vmlinux entry ${hex(e)} is outside the kernel's area`);
    entry = e;
  } else {
    writes.push({ what: 'kernel', addr: load, bytes: img.kernel });
  }
  if (initrd) writes.push({ what: 'initrd', addr: initrd.addr, bytes: opts.initrd! });
  for (const b of opts.acpi?.blobs ?? [])
    writes.push({ what: `ACPI ${b.name}`, addr: b.address, bytes: b.bytes });
  if (opts.mptable) writes.push({ what: 'MP tables', addr: opts.mptable.address, bytes: opts.mptable.bytes });
  for (const w of writes) {
    if (!inLowRam(layout, w.addr, w.bytes.length)) {
      throw new TsvmmError(
        'IMAGE_OUTSIDE_RAM',
        `${w.what} at ${hex(w.addr)}+${hex(w.bytes.length)} is outside guest RAM`,
      );
    }
  }

  const regs: Regs = {
    ...zeroRegs(),
    rip: BigInt(entry),
    rsi: BigInt(LINUX_BOOT_PARAMS_ADDR),
    rsp: BigInt(BOOT_STACK_TOP),
    rflags: RFLAGS_BOOT,
  };
  return {
    mode: 'long64',
    regs,
    sregs: linuxEntrySregs(BOOT_PAGING_ADDR),
    written: writes
      .map((w) => ({ what: w.what, base: w.addr, size: w.bytes.length }))
      .concat([{ what: 'kernel init_size', base: load, size: img.initSize }]),
    memoryWrites: writes,
    image: img,
    loadAddress: load,
    entry,
    bootParamsAddr: LINUX_BOOT_PARAMS_ADDR,
    cmdlineAddr: LINUX_CMDLINE_ADDR,
    initrd,
    e820,
  };
}

/** Write a plan's memory into guest RAM (the kernel's init_size area beyond the image is zeroed). */
export function applyLinuxBootPlan(mem: GuestMemory, plan: LinuxBootPlan): BootState {
  mem.fill(plan.loadAddress, plan.image.initSize);
  for (const w of plan.memoryWrites) mem.write(w.addr, w.bytes);
  return plan;
}
