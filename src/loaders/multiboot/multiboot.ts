// The Multiboot v1 loader (Multiboot Specification 0.6.96 §3): find the header, load the image (ELF32
// or ELF64 PT_LOAD segments at their physical addresses, or the a.out-kludge address fields when
// flags[16] is set), place modules page-aligned above the image, write the information structure
// (info.ts) with cmdline, modules, memory map and loader name, and produce the entry state:
//   multiboot32  — the spec's machine state (§3.2): EAX=0x2BADB002, EBX=info, 32-bit flat protected
//                  mode, paging off, IF=0; entry at the kludge entry_addr, else the ELF e_entry.
//   long64       — tsvmm's direct 64-bit entry for ELF64 images (README.md): identity paging, 64-bit
//                  code segment, RIP = e_entry, RDI = RBX = info, RAX = RSI = magic.

import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import {
  BOOT_STACK_BASE,
  BOOT_STACK_TOP,
  BOOT_INFO_ADDR,
  BOOT_INFO_SIZE,
  BOOT_PAGING_ADDR,
  BOOT_STRINGS_ADDR,
  BOOT_STRINGS_SIZE,
  BIOS_AREA_END,
  EBDA_START,
  KiB,
} from '../../machine/layout.ts';
import type { GuestMemory } from '../../machine/memory.ts';
import { parseElf, isElf, type ElfImage } from '../elf/elf.ts';
import { Placement } from '../boot/placement.ts';
import {
  BOOT_GDT_RANGE,
  entryRegs,
  longMode64Sregs,
  mappedGib,
  protectedMode32Sregs,
  writeBootGdt,
  writeIdentityPageTables,
  type BootState,
} from '../boot/boot-state.ts';
import {
  findMultibootHeader,
  MbHeaderFlag,
  MULTIBOOT_BOOTLOADER_MAGIC,
  type MultibootHeader,
} from './header.ts';
import {
  MB_INFO_LAYOUT,
  MbInfoFlag,
  MULTIBOOT_INFO,
  MULTIBOOT_MMAP_ENTRY,
  MULTIBOOT_MMAP_ENTRY_PAYLOAD,
  MULTIBOOT_MMAP_ENTRY_SIZE,
  MULTIBOOT_MODULE,
  MULTIBOOT_MODULE_SIZE,
} from './info.ts';
import { setField } from '../layout/struct.ts';

export type MultibootEntry = 'multiboot32' | 'long64';

export interface MultibootModule {
  readonly data: Uint8Array;
  /** the module's string (by convention its name and arguments) */
  readonly cmdline?: string;
  /** explicit guest physical address (must be page-aligned when the header asks for it); default: next free page */
  readonly address?: number;
}

export interface MultibootOptions {
  readonly image: Uint8Array;
  /** for messages */
  readonly name?: string;
  readonly cmdline?: string;
  readonly modules?: readonly MultibootModule[];
  readonly entry?: MultibootEntry;
  readonly bootLoaderName?: string;
}

export const PAGE_SIZE = 4096;
export const DEFAULT_BOOT_LOADER_NAME = 'tsvmm';

/** A contiguous piece of the image to copy to guest memory (then zero up to memSize). */
interface LoadPiece {
  readonly what: string;
  readonly addr: number;
  readonly data: Uint8Array;
  readonly memSize: number;
}

function alignUp(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** The pieces to load and the 32-bit entry, from the a.out kludge address fields (spec §3.1.3). */
function kludgePieces(
  image: Uint8Array,
  hdr: MultibootHeader,
  what: string,
): { pieces: LoadPiece[]; entry: number } {
  const k = hdr.kludge!;
  if (k.headerAddr < k.loadAddr) {
    throw new TsvmmError(
      'MULTIBOOT_BAD_ADDRESS',
      `${what}: header_addr ${hex(k.headerAddr)} is below load_addr ${hex(k.loadAddr)}`,
    );
  }
  const fileStart = hdr.offset - (k.headerAddr - k.loadAddr);
  if (fileStart < 0) {
    throw new TsvmmError(
      'MULTIBOOT_BAD_ADDRESS',
      `${what}: header_addr − load_addr (${hex(k.headerAddr - k.loadAddr)}) is larger than the header's file offset ${hex(hdr.offset)}`,
    );
  }
  let loadSize: number;
  if (k.loadEndAddr === 0) loadSize = image.length - fileStart;
  else {
    if (k.loadEndAddr < k.loadAddr) {
      throw new TsvmmError(
        'MULTIBOOT_BAD_ADDRESS',
        `${what}: load_end_addr ${hex(k.loadEndAddr)} is below load_addr ${hex(k.loadAddr)}`,
      );
    }
    loadSize = k.loadEndAddr - k.loadAddr;
    if (fileStart + loadSize > image.length) {
      throw new TsvmmError(
        'MULTIBOOT_TRUNCATED',
        `${what}: load_end_addr asks for ${loadSize} bytes from file offset ${hex(fileStart)} but the file has ${image.length - fileStart}`,
      );
    }
  }
  const loadEnd = k.loadAddr + loadSize;
  let memSize = loadSize;
  if (k.bssEndAddr !== 0) {
    if (k.bssEndAddr < loadEnd) {
      throw new TsvmmError(
        'MULTIBOOT_BAD_ADDRESS',
        `${what}: bss_end_addr ${hex(k.bssEndAddr)} is below the end of the loaded text/data ${hex(loadEnd)}`,
      );
    }
    memSize = k.bssEndAddr - k.loadAddr;
  }
  if (k.entryAddr < k.loadAddr || k.entryAddr >= k.loadAddr + memSize) {
    throw new TsvmmError(
      'MULTIBOOT_BAD_ENTRY',
      `${what}: entry_addr ${hex(k.entryAddr)} is outside the loaded image ${hex(k.loadAddr)}-${hex(k.loadAddr + memSize - 1)}`,
    );
  }
  return {
    pieces: [
      {
        what: `${what} (a.out kludge)`,
        addr: k.loadAddr,
        data: image.subarray(fileStart, fileStart + loadSize),
        memSize,
      },
    ],
    entry: k.entryAddr,
  };
}

function elfPieces(image: Uint8Array, elf: ElfImage, what: string): LoadPiece[] {
  return elf.segments
    .filter((s) => s.memsz > 0)
    .map((s, i) => ({
      what: `${what} segment ${i}`,
      addr: s.paddr,
      data: image.subarray(s.offset, s.offset + s.filesz),
      memSize: s.memsz,
    }));
}

/** Load a multiboot v1 image into guest memory and return the entry state. */
export function loadMultiboot(mem: GuestMemory, opts: MultibootOptions): BootState {
  const what = opts.name ?? 'image';
  const mode: MultibootEntry = opts.entry ?? 'multiboot32';
  const image = opts.image;
  const hdr = findMultibootHeader(image, what);
  const elf = isElf(image) ? parseElf(image, what) : undefined;

  let pieces: LoadPiece[];
  let entry: bigint;
  if (mode === 'long64') {
    if (!elf || elf.class !== 64) {
      throw new TsvmmError(
        'MULTIBOOT_LONG64_NEEDS_ELF64',
        `${what}: the long64 entry needs an ELF64 image (its e_entry is the 64-bit entry point)`,
      );
    }
    pieces = elfPieces(image, elf, what);
    entry = elf.entry;
    const mapped = BigInt(mappedGib(mem.layout.ramTop)) << 30n;
    if (entry >= mapped) {
      throw new TsvmmError(
        'MULTIBOOT_BAD_ENTRY',
        `${what}: e_entry ${hex(entry)} is outside the identity map (0-${hex(mapped - 1n)}) of the long64 entry`,
      );
    }
  } else if (hdr.flags & MbHeaderFlag.AOUT_KLUDGE) {
    const k = kludgePieces(image, hdr, what);
    pieces = k.pieces;
    entry = BigInt(k.entry);
  } else {
    if (!elf) {
      throw new TsvmmError(
        'MULTIBOOT_NOT_ELF',
        `${what}: the multiboot header has no address fields (flags bit 16) and the image is not ELF`,
      );
    }
    pieces = elfPieces(image, elf, what);
    entry = elf.entry;
    if (entry > 0xffffffffn) {
      throw new TsvmmError(
        'MULTIBOOT_BAD_ENTRY',
        `${what}: e_entry ${hex(entry)} is above 4 GiB and cannot be a 32-bit multiboot entry (use --entry long64)`,
      );
    }
  }

  const place = new Placement(mem);
  place.claim('boot GDT', BOOT_GDT_RANGE.base, BOOT_GDT_RANGE.size, 'boot-data');
  place.claim('multiboot info', BOOT_INFO_ADDR, BOOT_INFO_SIZE, 'boot-data');
  place.claim('boot strings', BOOT_STRINGS_ADDR, BOOT_STRINGS_SIZE, 'boot-data');
  place.claim('boot stack', BOOT_STACK_BASE, BOOT_STACK_TOP - BOOT_STACK_BASE, 'boot-data');
  let pagingSize = 0;
  if (mode === 'long64') {
    pagingSize = 0x2000 + mappedGib(mem.layout.ramTop) * 0x1000;
    place.claim('long64 page tables', BOOT_PAGING_ADDR, pagingSize, 'boot-data');
  }
  for (const p of pieces) {
    place.claim(p.what, p.addr, p.memSize, 'image');
  }

  // Modules: page-aligned, above everything placed so far (spec: flags[0] asks for 4 KiB alignment;
  // tsvmm always aligns), addresses below 4 GiB.
  const modules = opts.modules ?? [];
  if (modules.length > MB_INFO_LAYOUT.MODS_MAX) {
    throw new TsvmmError(
      'MULTIBOOT_TOO_MANY_MODULES',
      `${what}: ${modules.length} modules; at most ${MB_INFO_LAYOUT.MODS_MAX} fit in the boot info page`,
    );
  }
  const modPlaced: { start: number; end: number; cmdline: string }[] = [];
  let next = alignUp(Math.max(place.highestEndBelow4G(), BIOS_AREA_END), PAGE_SIZE);
  modules.forEach((m, i) => {
    const name = `module ${i} (${m.cmdline ?? 'unnamed'})`;
    let addr: number;
    if (m.address !== undefined) {
      addr = m.address;
      if (hdr.flags & MbHeaderFlag.PAGE_ALIGN && addr % PAGE_SIZE !== 0) {
        throw new TsvmmError(
          'MULTIBOOT_MODULE_UNALIGNED',
          `${name}: load address ${hex(addr)} is not 4 KiB aligned, which the image's header requires (flags bit 0)`,
        );
      }
    } else {
      addr = next;
    }
    if (addr + m.data.length > 2 ** 32) {
      throw new TsvmmError('IMAGE_TOO_LARGE', `${name}: does not fit below 4 GiB`);
    }
    place.claim(name, addr, Math.max(m.data.length, 1), 'module');
    modPlaced.push({ start: addr, end: addr + m.data.length, cmdline: m.cmdline ?? '' });
    next = alignUp(Math.max(next, addr + m.data.length), PAGE_SIZE);
  });

  // Everything fits: now write guest memory.
  for (const p of pieces) {
    mem.write(p.addr, p.data);
    mem.fill(p.addr + p.data.length, p.memSize - p.data.length);
  }
  modules.forEach((m, i) => mem.write(modPlaced[i]!.start, m.data));

  writeBootGdt(mem);
  const infoAddr = writeMultibootInfo(mem, {
    cmdline: opts.cmdline ?? '',
    bootLoaderName: opts.bootLoaderName ?? DEFAULT_BOOT_LOADER_NAME,
    modules: modPlaced,
    what,
  });

  if (mode === 'long64') {
    const pt = writeIdentityPageTables(mem);
    return {
      mode: 'long64',
      regs: entryRegs(entry, MULTIBOOT_BOOTLOADER_MAGIC, infoAddr, 'long64'),
      sregs: longMode64Sregs(pt.cr3),
      written: place.placed,
    };
  }
  return {
    mode: 'protected32',
    regs: entryRegs(entry, MULTIBOOT_BOOTLOADER_MAGIC, infoAddr, 'protected32'),
    sregs: protectedMode32Sregs(),
    written: place.placed,
  };
}

export interface InfoInput {
  readonly cmdline: string;
  readonly bootLoaderName: string;
  readonly modules: readonly { start: number; end: number; cmdline: string }[];
  readonly what: string;
}

/** Write the information structure, module list, mmap and strings at BOOT_INFO_ADDR; returns its address. */
export function writeMultibootInfo(mem: GuestMemory, input: InfoInput): number {
  const info = BOOT_INFO_ADDR + MB_INFO_LAYOUT.INFO;
  mem.fill(BOOT_INFO_ADDR, BOOT_INFO_SIZE);
  mem.fill(BOOT_STRINGS_ADDR, BOOT_STRINGS_SIZE);

  // Strings, NUL-terminated, packed from BOOT_STRINGS_ADDR.
  const enc = new TextEncoder();
  let strAt = BOOT_STRINGS_ADDR;
  const putString = (s: string, label: string): number => {
    const b = enc.encode(s);
    if (b.includes(0))
      throw new TsvmmError('MULTIBOOT_STRING', `${input.what}: ${label} contains a NUL byte`);
    if (strAt + b.length + 1 > BOOT_STRINGS_ADDR + BOOT_STRINGS_SIZE) {
      throw new TsvmmError(
        'MULTIBOOT_CMDLINE_TOO_LONG',
        `${input.what}: command line and module strings exceed ${BOOT_STRINGS_SIZE} bytes`,
      );
    }
    const at = strAt;
    mem.write(at, b);
    mem.writeU8(at + b.length, 0);
    strAt += b.length + 1;
    return at;
  };

  const view = mem.slice(BOOT_INFO_ADDR, BOOT_INFO_SIZE);
  const dv = new DataView(view.buffer, view.byteOffset, view.byteLength);
  const base = info - BOOT_INFO_ADDR;
  const flags =
    MbInfoFlag.MEMORY |
    MbInfoFlag.CMDLINE |
    MbInfoFlag.MODS |
    MbInfoFlag.MEM_MAP |
    MbInfoFlag.BOOT_LOADER_NAME;

  const layout = mem.layout;
  setField(dv, base, MULTIBOOT_INFO, 'mem_lower', EBDA_START / KiB);
  // mem_upper: KiB of contiguous RAM from 1 MiB up to the first hole.
  setField(dv, base, MULTIBOOT_INFO, 'mem_upper', (layout.lowRamEnd - BIOS_AREA_END) / KiB);
  setField(dv, base, MULTIBOOT_INFO, 'cmdline', putString(input.cmdline, 'the command line'));
  setField(
    dv,
    base,
    MULTIBOOT_INFO,
    'boot_loader_name',
    putString(input.bootLoaderName, 'the boot loader name'),
  );

  const modsAt = BOOT_INFO_ADDR + MB_INFO_LAYOUT.MODS;
  input.modules.forEach((m, i) => {
    const o = MB_INFO_LAYOUT.MODS + i * MULTIBOOT_MODULE_SIZE;
    setField(dv, o, MULTIBOOT_MODULE, 'mod_start', m.start);
    setField(dv, o, MULTIBOOT_MODULE, 'mod_end', m.end);
    setField(dv, o, MULTIBOOT_MODULE, 'string', putString(m.cmdline, `module ${i}'s string`));
  });
  setField(dv, base, MULTIBOOT_INFO, 'mods_count', input.modules.length);
  setField(dv, base, MULTIBOOT_INFO, 'mods_addr', input.modules.length ? modsAt : 0);

  const e820 = layout.e820.filter((e) => e.length > 0);
  if (e820.length > MB_INFO_LAYOUT.MMAP_MAX) throw new TsvmmError('MULTIBOOT_MMAP', 'memory map too long');
  e820.forEach((e, i) => {
    const o = MB_INFO_LAYOUT.MMAP + i * MULTIBOOT_MMAP_ENTRY_SIZE;
    setField(dv, o, MULTIBOOT_MMAP_ENTRY, 'size', MULTIBOOT_MMAP_ENTRY_PAYLOAD);
    setField(dv, o, MULTIBOOT_MMAP_ENTRY, 'base_addr', BigInt(e.base));
    setField(dv, o, MULTIBOOT_MMAP_ENTRY, 'length', BigInt(e.length));
    setField(dv, o, MULTIBOOT_MMAP_ENTRY, 'type', e.type);
  });
  setField(dv, base, MULTIBOOT_INFO, 'mmap_addr', BOOT_INFO_ADDR + MB_INFO_LAYOUT.MMAP);
  setField(dv, base, MULTIBOOT_INFO, 'mmap_length', e820.length * MULTIBOOT_MMAP_ENTRY_SIZE);
  setField(dv, base, MULTIBOOT_INFO, 'flags', flags);
  return info;
}
