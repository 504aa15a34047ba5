// Test helpers: build small ELF32/ELF64 executables and multiboot headers from bytes, using the same
// offset tables the loaders read (elf/elf.ts, multiboot/header.ts).

import {
  ELF32_EHDR,
  ELF32_EHDR_SIZE,
  ELF32_PHDR,
  ELF32_PHDR_SIZE,
  ELF64_EHDR,
  ELF64_EHDR_SIZE,
  ELF64_PHDR,
  ELF64_PHDR_SIZE,
  PT_LOAD,
} from '../elf/elf.ts';
import { MULTIBOOT_HEADER, MULTIBOOT_HEADER_MAGIC } from '../multiboot/header.ts';
import { setField } from '../layout/struct.ts';

export interface TestSegment {
  paddr: number;
  vaddr?: number;
  data: Uint8Array;
  memsz?: number;
  align?: number;
  /** file offset (default: packed after the headers, aligned to 16) */
  offset?: number;
}

export function buildElf(opts: {
  bits: 32 | 64;
  entry: number | bigint;
  segments: TestSegment[];
  machine?: number;
}): Uint8Array {
  const is64 = opts.bits === 64;
  const ehSize = is64 ? ELF64_EHDR_SIZE : ELF32_EHDR_SIZE;
  const phSize = is64 ? ELF64_PHDR_SIZE : ELF32_PHDR_SIZE;
  let off = ehSize + phSize * opts.segments.length;
  const placed = opts.segments.map((s) => {
    const o = s.offset ?? Math.ceil(off / 16) * 16;
    off = o + s.data.length;
    return { ...s, offset: o };
  });
  const total = Math.max(off, ...placed.map((s) => s.offset + s.data.length));
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  out.set([0x7f, 0x45, 0x4c, 0x46, is64 ? 2 : 1, 1, 1]);
  const eh = is64 ? ELF64_EHDR : ELF32_EHDR;
  setField(dv, 0, eh, 'e_type', 2);
  setField(dv, 0, eh, 'e_machine', opts.machine ?? (is64 ? 62 : 3));
  setField(dv, 0, eh, 'e_version', 1);
  setField(dv, 0, eh, 'e_entry', BigInt(opts.entry));
  setField(dv, 0, eh, 'e_phoff', ehSize);
  setField(dv, 0, eh, 'e_ehsize', ehSize);
  setField(dv, 0, eh, 'e_phentsize', phSize);
  setField(dv, 0, eh, 'e_phnum', placed.length);
  const ph = is64 ? ELF64_PHDR : ELF32_PHDR;
  placed.forEach((s, i) => {
    const b = ehSize + i * phSize;
    setField(dv, b, ph, 'p_type', PT_LOAD);
    setField(dv, b, ph, 'p_offset', s.offset);
    setField(dv, b, ph, 'p_vaddr', s.vaddr ?? s.paddr);
    setField(dv, b, ph, 'p_paddr', s.paddr);
    setField(dv, b, ph, 'p_filesz', s.data.length);
    setField(dv, b, ph, 'p_memsz', s.memsz ?? s.data.length);
    setField(dv, b, ph, 'p_flags', 7);
    setField(dv, b, ph, 'p_align', s.align ?? 16);
    out.set(s.data, s.offset);
  });
  return out;
}

export interface MbHeaderOpts {
  flags?: number;
  checksum?: number;
  kludge?: {
    headerAddr: number;
    loadAddr: number;
    loadEndAddr: number;
    bssEndAddr: number;
    entryAddr: number;
  };
}

/** A multiboot header (12 bytes, or 32 with the address fields). */
export function multibootHeader(o: MbHeaderOpts = {}): Uint8Array {
  const flags = (o.flags ?? 0) | (o.kludge ? 1 << 16 : 0);
  const out = new Uint8Array(o.kludge ? 32 : 12);
  const dv = new DataView(out.buffer);
  setField(dv, 0, MULTIBOOT_HEADER, 'magic', MULTIBOOT_HEADER_MAGIC);
  setField(dv, 0, MULTIBOOT_HEADER, 'flags', flags);
  setField(dv, 0, MULTIBOOT_HEADER, 'checksum', o.checksum ?? -(MULTIBOOT_HEADER_MAGIC + flags) >>> 0);
  if (o.kludge) {
    setField(dv, 0, MULTIBOOT_HEADER, 'header_addr', o.kludge.headerAddr);
    setField(dv, 0, MULTIBOOT_HEADER, 'load_addr', o.kludge.loadAddr);
    setField(dv, 0, MULTIBOOT_HEADER, 'load_end_addr', o.kludge.loadEndAddr);
    setField(dv, 0, MULTIBOOT_HEADER, 'bss_end_addr', o.kludge.bssEndAddr);
    setField(dv, 0, MULTIBOOT_HEADER, 'entry_addr', o.kludge.entryAddr);
  }
  return out;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
