// The Multiboot (version 0.6.96) OS image header, spec §3.1 "OS image format": a 4-byte-aligned
// header within the first 8192 bytes of the image, magic 0x1BADB002, and a checksum making
// magic + flags + checksum ≡ 0 (mod 2^32). Flags bits 0-15 are requirements (a loader that does not
// understand one must refuse), bits 16-31 optional features (bit 16: the address fields are valid).
//
//   offset  field           present when
//   0x00    magic           always
//   0x04    flags           always
//   0x08    checksum        always
//   0x0C    header_addr     flags[16]  (physical address the header itself is loaded at)
//   0x10    load_addr       flags[16]  (start of the text segment; file offset = header offset − (header_addr − load_addr))
//   0x14    load_end_addr   flags[16]  (0 = load to the end of the file)
//   0x18    bss_end_addr    flags[16]  (0 = no bss)
//   0x1C    entry_addr      flags[16]  (32-bit entry point)
//   0x20    mode_type       flags[2]
//   0x24    width           flags[2]
//   0x28    height          flags[2]
//   0x2C    depth           flags[2]

import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import { getNum, type StructTable } from '../layout/struct.ts';

export const MULTIBOOT_HEADER_MAGIC = 0x1badb002;
export const MULTIBOOT_BOOTLOADER_MAGIC = 0x2badb002;
export const MULTIBOOT_SEARCH_BYTES = 8192;
export const MULTIBOOT_HEADER_ALIGN = 4;

export const MULTIBOOT_HEADER = {
  magic: [0x00, 4],
  flags: [0x04, 4],
  checksum: [0x08, 4],
  header_addr: [0x0c, 4],
  load_addr: [0x10, 4],
  load_end_addr: [0x14, 4],
  bss_end_addr: [0x18, 4],
  entry_addr: [0x1c, 4],
  mode_type: [0x20, 4],
  width: [0x24, 4],
  height: [0x28, 4],
  depth: [0x2c, 4],
} as const satisfies StructTable;

/** Header flags. */
export const MbHeaderFlag = {
  PAGE_ALIGN: 1 << 0,
  MEMORY_INFO: 1 << 1,
  VIDEO_MODE: 1 << 2,
  AOUT_KLUDGE: 1 << 16,
} as const;

/** Required bits (0-15) this loader understands; any other required bit makes it refuse the image. */
export const MB_SUPPORTED_REQUIRED =
  MbHeaderFlag.PAGE_ALIGN | MbHeaderFlag.MEMORY_INFO | MbHeaderFlag.VIDEO_MODE;

export interface AoutKludge {
  readonly headerAddr: number;
  readonly loadAddr: number;
  readonly loadEndAddr: number;
  readonly bssEndAddr: number;
  readonly entryAddr: number;
}

export interface MultibootHeader {
  /** file offset of the header */
  readonly offset: number;
  readonly flags: number;
  readonly kludge?: AoutKludge;
}

/** Find and validate the multiboot header; MULTIBOOT_NO_HEADER / _BAD_CHECKSUM / _TRUNCATED / _UNSUPPORTED_FLAGS. */
export function findMultibootHeader(image: Uint8Array, what = 'image'): MultibootHeader {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  const limit = Math.min(image.length, MULTIBOOT_SEARCH_BYTES);
  let badChecksumAt = -1;
  for (let off = 0; off + 4 <= limit; off += MULTIBOOT_HEADER_ALIGN) {
    if (dv.getUint32(off, true) !== MULTIBOOT_HEADER_MAGIC) continue;
    if (off + 12 > image.length) {
      throw new TsvmmError(
        'MULTIBOOT_TRUNCATED',
        `${what}: multiboot header at ${hex(off)} is cut off by the end of the file`,
      );
    }
    if (off + 12 > MULTIBOOT_SEARCH_BYTES) continue; // the header must lie wholly in the first 8192 bytes
    const flags = getNum(dv, off, MULTIBOOT_HEADER, 'flags');
    const checksum = getNum(dv, off, MULTIBOOT_HEADER, 'checksum');
    if ((MULTIBOOT_HEADER_MAGIC + flags + checksum) >>> 0 !== 0) {
      if (badChecksumAt < 0) badChecksumAt = off;
      continue;
    }
    const unsupported = flags & 0xffff & ~MB_SUPPORTED_REQUIRED;
    if (unsupported) {
      throw new TsvmmError(
        'MULTIBOOT_UNSUPPORTED_FLAGS',
        `${what}: multiboot header requires features this loader lacks (flags ${hex(unsupported)})`,
      );
    }
    if (!(flags & MbHeaderFlag.AOUT_KLUDGE)) return { offset: off, flags };
    if (off + 32 > image.length) {
      throw new TsvmmError(
        'MULTIBOOT_TRUNCATED',
        `${what}: multiboot header at ${hex(off)} has the address fields flag but the file ends before them`,
      );
    }
    return {
      offset: off,
      flags,
      kludge: {
        headerAddr: getNum(dv, off, MULTIBOOT_HEADER, 'header_addr'),
        loadAddr: getNum(dv, off, MULTIBOOT_HEADER, 'load_addr'),
        loadEndAddr: getNum(dv, off, MULTIBOOT_HEADER, 'load_end_addr'),
        bssEndAddr: getNum(dv, off, MULTIBOOT_HEADER, 'bss_end_addr'),
        entryAddr: getNum(dv, off, MULTIBOOT_HEADER, 'entry_addr'),
      },
    };
  }
  if (badChecksumAt >= 0) {
    throw new TsvmmError(
      'MULTIBOOT_BAD_CHECKSUM',
      `${what}: multiboot header at ${hex(badChecksumAt)} has a bad checksum (magic + flags + checksum must be 0 mod 2^32)`,
    );
  }
  throw new TsvmmError(
    'MULTIBOOT_NO_HEADER',
    `${what}: no multiboot header (magic ${hex(MULTIBOOT_HEADER_MAGIC)}) in the first ${MULTIBOOT_SEARCH_BYTES} bytes`,
  );
}
