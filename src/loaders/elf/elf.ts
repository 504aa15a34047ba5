// ELF executable headers and program headers for loading (System V ABI "gABI" chapter 4 "ELF
// Header" and chapter 5 "Program Header"; x86-64 psABI for EM_X86_64). Only what a boot loader needs:
// class, machine, entry and the PT_LOAD segments. Layouts are offset tables with the spec's offsets.

import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import { getField, getNum, structSize, type StructTable } from '../layout/struct.ts';

export const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const; // "\x7fELF"
export const ElfClass = { ELF32: 1, ELF64: 2 } as const;
export const ElfData = { LSB: 1 } as const;
export const ElfType = { EXEC: 2, DYN: 3 } as const;
export const ElfMachine = { I386: 3, X86_64: 62 } as const;
export const PT_LOAD = 1;

/** e_ident indexes */
export const EI = { CLASS: 4, DATA: 5, VERSION: 6, NIDENT: 16 } as const;

export const ELF32_EHDR = {
  e_type: [0x10, 2],
  e_machine: [0x12, 2],
  e_version: [0x14, 4],
  e_entry: [0x18, 4],
  e_phoff: [0x1c, 4],
  e_shoff: [0x20, 4],
  e_flags: [0x24, 4],
  e_ehsize: [0x28, 2],
  e_phentsize: [0x2a, 2],
  e_phnum: [0x2c, 2],
  e_shentsize: [0x2e, 2],
  e_shnum: [0x30, 2],
  e_shstrndx: [0x32, 2],
} as const satisfies StructTable;

export const ELF64_EHDR = {
  e_type: [0x10, 2],
  e_machine: [0x12, 2],
  e_version: [0x14, 4],
  e_entry: [0x18, 8],
  e_phoff: [0x20, 8],
  e_shoff: [0x28, 8],
  e_flags: [0x30, 4],
  e_ehsize: [0x34, 2],
  e_phentsize: [0x36, 2],
  e_phnum: [0x38, 2],
  e_shentsize: [0x3a, 2],
  e_shnum: [0x3c, 2],
  e_shstrndx: [0x3e, 2],
} as const satisfies StructTable;

export const ELF32_PHDR = {
  p_type: [0x00, 4],
  p_offset: [0x04, 4],
  p_vaddr: [0x08, 4],
  p_paddr: [0x0c, 4],
  p_filesz: [0x10, 4],
  p_memsz: [0x14, 4],
  p_flags: [0x18, 4],
  p_align: [0x1c, 4],
} as const satisfies StructTable;

export const ELF64_PHDR = {
  p_type: [0x00, 4],
  p_flags: [0x04, 4],
  p_offset: [0x08, 8],
  p_vaddr: [0x10, 8],
  p_paddr: [0x18, 8],
  p_filesz: [0x20, 8],
  p_memsz: [0x28, 8],
  p_align: [0x30, 8],
} as const satisfies StructTable;

export const ELF32_EHDR_SIZE = 0x34;
export const ELF64_EHDR_SIZE = 0x40;
export const ELF32_PHDR_SIZE = structSize(ELF32_PHDR);
export const ELF64_PHDR_SIZE = structSize(ELF64_PHDR);

export interface ElfSegment {
  readonly offset: number;
  readonly vaddr: number;
  readonly paddr: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly flags: number;
  readonly align: number;
}

export interface ElfImage {
  readonly class: 32 | 64;
  readonly machine: number;
  /** e_entry (64-bit values may exceed 2^53, hence bigint) */
  readonly entry: bigint;
  /** PT_LOAD segments in file order */
  readonly segments: readonly ElfSegment[];
}

export function isElf(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && ELF_MAGIC.every((b, i) => bytes[i] === b);
}

function bad(code: string, msg: string, details?: Record<string, unknown>): TsvmmError {
  return new TsvmmError(code, msg, details);
}

/** Parse an x86 ELF32/ELF64 executable; refuses truncated or inconsistent files with ELF_* codes. */
export function parseElf(bytes: Uint8Array, what = 'image'): ElfImage {
  if (!isElf(bytes)) throw bad('ELF_MAGIC', `${what}: not an ELF file (no \\x7fELF magic)`);
  if (bytes.length < EI.NIDENT) throw bad('ELF_TRUNCATED', `${what}: ELF file truncated in e_ident`);
  const cls = bytes[EI.CLASS];
  if (cls !== ElfClass.ELF32 && cls !== ElfClass.ELF64)
    throw bad('ELF_CLASS', `${what}: unknown ELF class ${cls}`);
  if (bytes[EI.DATA] !== ElfData.LSB) throw bad('ELF_ENDIAN', `${what}: not a little-endian ELF file`);
  const is64 = cls === ElfClass.ELF64;
  const ehSize = is64 ? ELF64_EHDR_SIZE : ELF32_EHDR_SIZE;
  if (bytes.length < ehSize)
    throw bad('ELF_TRUNCATED', `${what}: ELF header truncated (${bytes.length} of ${ehSize} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eh = is64 ? ELF64_EHDR : ELF32_EHDR;
  const type = getNum(dv, 0, eh, 'e_type');
  if (type !== ElfType.EXEC && type !== ElfType.DYN)
    throw bad('ELF_TYPE', `${what}: ELF type ${type} is not an executable`);
  const machine = getNum(dv, 0, eh, 'e_machine');
  const wantMachine = is64 ? ElfMachine.X86_64 : ElfMachine.I386;
  if (machine !== wantMachine) {
    throw bad(
      'ELF_MACHINE',
      `${what}: ELF${is64 ? 64 : 32} machine ${machine} is not ${is64 ? 'x86-64 (62)' : 'i386 (3)'}`,
    );
  }
  const entry = BigInt(getField(dv, 0, eh, 'e_entry'));
  const phoff = getNum(dv, 0, eh, 'e_phoff');
  const phentsize = getNum(dv, 0, eh, 'e_phentsize');
  const phnum = getNum(dv, 0, eh, 'e_phnum');
  const ph = is64 ? ELF64_PHDR : ELF32_PHDR;
  const phSize = is64 ? ELF64_PHDR_SIZE : ELF32_PHDR_SIZE;
  if (phnum === 0) throw bad('ELF_NO_SEGMENTS', `${what}: ELF file has no program headers`);
  if (phentsize < phSize)
    throw bad('ELF_PHDR', `${what}: e_phentsize ${phentsize} is smaller than ${phSize}`);
  if (phoff + phnum * phentsize > bytes.length) {
    throw bad(
      'ELF_TRUNCATED',
      `${what}: program header table (${phnum} × ${phentsize} at ${hex(phoff)}) runs past the end of the file`,
    );
  }
  const segments: ElfSegment[] = [];
  for (let i = 0; i < phnum; i++) {
    const base = phoff + i * phentsize;
    if (getNum(dv, base, ph, 'p_type') !== PT_LOAD) continue;
    const seg: ElfSegment = {
      offset: getNum(dv, base, ph, 'p_offset'),
      vaddr: getNum(dv, base, ph, 'p_vaddr'),
      paddr: getNum(dv, base, ph, 'p_paddr'),
      filesz: getNum(dv, base, ph, 'p_filesz'),
      memsz: getNum(dv, base, ph, 'p_memsz'),
      flags: getNum(dv, base, ph, 'p_flags'),
      align: getNum(dv, base, ph, 'p_align'),
    };
    if (seg.filesz > seg.memsz) {
      throw bad(
        'ELF_SEGMENT',
        `${what}: segment ${i} has p_filesz ${hex(seg.filesz)} > p_memsz ${hex(seg.memsz)}`,
      );
    }
    if (seg.offset + seg.filesz > bytes.length) {
      throw bad(
        'ELF_TRUNCATED',
        `${what}: segment ${i} (${hex(seg.filesz)} bytes at file offset ${hex(seg.offset)}) runs past the end of the file (${hex(bytes.length)} bytes)`,
      );
    }
    // gABI: loadable segments have p_vaddr ≡ p_offset (mod p_align) when p_align > 1.
    if (
      seg.align > 1 &&
      (seg.align & (seg.align - 1)) === 0 &&
      seg.offset % seg.align !== seg.vaddr % seg.align
    ) {
      throw bad(
        'ELF_SEGMENT_MISALIGNED',
        `${what}: segment ${i} is not aligned: p_vaddr ${hex(seg.vaddr)} and p_offset ${hex(seg.offset)} differ modulo p_align ${hex(seg.align)}`,
      );
    }
    segments.push(seg);
  }
  if (segments.length === 0) throw bad('ELF_NO_SEGMENTS', `${what}: ELF file has no PT_LOAD segment`);
  return { class: is64 ? 64 : 32, machine, entry, segments };
}
