// The bzImage file and its setup header: Linux Documentation/arch/x86/boot.rst ("The Linux/x86 Boot
// Protocol": "The real-mode kernel header", "Details of header fields", "The 64-bit boot protocol").
// The header sits at file offset 0x1F1 and is copied verbatim into boot_params at the same offset
// (boot-params.ts). Offsets below are file offsets, as the document lists them.
//
//   file layout:  [ boot sector + setup code: (setup_sects + 1) × 512 bytes ][ protected-mode kernel ]
//   the protected-mode kernel is loaded at its load address; with XLF_KERNEL_64 its 64-bit entry point
//   is load address + 0x200 (protocol ≥ 2.12 carries xloadflags).

import { getField, getNum, type StructTable } from '../layout/struct.ts';
import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';

export const SETUP_HEADER = {
  setup_sects: [0x1f1, 1],
  root_flags: [0x1f2, 2],
  syssize: [0x1f4, 4],
  ram_size: [0x1f8, 2],
  vid_mode: [0x1fa, 2],
  root_dev: [0x1fc, 2],
  boot_flag: [0x1fe, 2],
  jump: [0x200, 2],
  header: [0x202, 4],
  version: [0x206, 2],
  realmode_swtch: [0x208, 4],
  start_sys_seg: [0x20c, 2],
  kernel_version: [0x20e, 2],
  type_of_loader: [0x210, 1],
  loadflags: [0x211, 1],
  setup_move_size: [0x212, 2],
  code32_start: [0x214, 4],
  ramdisk_image: [0x218, 4],
  ramdisk_size: [0x21c, 4],
  bootsect_kludge: [0x220, 4],
  heap_end_ptr: [0x224, 2],
  ext_loader_ver: [0x226, 1],
  ext_loader_type: [0x227, 1],
  cmd_line_ptr: [0x228, 4],
  initrd_addr_max: [0x22c, 4],
  kernel_alignment: [0x230, 4],
  relocatable_kernel: [0x234, 1],
  min_alignment: [0x235, 1],
  xloadflags: [0x236, 2],
  cmdline_size: [0x238, 4],
  hardware_subarch: [0x23c, 4],
  hardware_subarch_data: [0x240, 8],
  payload_offset: [0x248, 4],
  payload_length: [0x24c, 4],
  setup_data: [0x250, 8],
  pref_address: [0x258, 8],
  init_size: [0x260, 4],
  handover_offset: [0x264, 4],
  kernel_info_offset: [0x268, 4],
} as const satisfies StructTable;

export const SETUP_HEADER_START = 0x1f1;
/** The header runs to 0x202 + the byte at 0x201 (the jump's displacement), boot.rst "sentinel". */
export const SETUP_HEADER_END_BASE = 0x202;
export const BOOT_FLAG = 0xaa55;
/** "HdrS" little-endian */
export const HDRS_MAGIC = 0x53726448;
/** 2.12: xloadflags (XLF_KERNEL_64) exists. */
export const MIN_PROTOCOL = 0x020c;
/** The 64-bit entry point's offset from the protected-mode kernel's start. */
export const ENTRY_64_OFFSET = 0x200;
/** type_of_loader 0xFF: "undefined" boot loader (boot.rst, assigned boot loader IDs). */
export const LOADER_TYPE_UNDEFINED = 0xff;
/** The smallest file that holds the protocol 2.12+ header fields read here (through kernel_info_offset). */
export const MIN_HEADER_BYTES = 0x26c;

export const LoadFlags = {
  LOADED_HIGH: 1 << 0,
  KASLR_FLAG: 1 << 1,
  QUIET_FLAG: 1 << 5,
  KEEP_SEGMENTS: 1 << 6,
  CAN_USE_HEAP: 1 << 7,
} as const;
export const XLoadFlags = {
  KERNEL_64: 1 << 0,
  CAN_BE_LOADED_ABOVE_4G: 1 << 1,
  EFI_HANDOVER_32: 1 << 2,
  EFI_HANDOVER_64: 1 << 3,
  EFI_KEXEC: 1 << 4,
  FIVE_LEVEL: 1 << 5,
  FIVE_LEVEL_ENABLED: 1 << 6,
} as const;

export interface BzImage {
  readonly bytes: Uint8Array;
  /** protocol version, e.g. 0x020f */
  readonly version: number;
  readonly setupSects: number;
  /** bytes of boot sector + setup code before the protected-mode kernel */
  readonly setupBytes: number;
  /** the protected-mode kernel (what is loaded at the load address) */
  readonly kernel: Uint8Array;
  readonly loadflags: number;
  readonly xloadflags: number;
  readonly relocatable: boolean;
  readonly kernelAlignment: number;
  readonly prefAddress: number;
  /** bytes the kernel needs from its load address while decompressing and booting */
  readonly initSize: number;
  /** longest command line, without the terminating NUL */
  readonly cmdlineSize: number;
  readonly initrdAddrMax: number;
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** end of the setup header in the file (0x202 + byte at 0x201) */
  readonly headerEnd: number;
  /** the kernel version string the header points at, when present */
  readonly kernelVersion?: string;
}

function bad(code: string, message: string, details?: Record<string, unknown>): TsvmmError {
  return new TsvmmError(code, message, details);
}

/** Parse and check a bzImage for the 64-bit boot protocol. */
export function parseBzImage(bytes: Uint8Array, what = 'kernel image'): BzImage {
  if (bytes.length < SETUP_HEADER.header[0] + 4) {
    throw bad(
      'LINUX_TRUNCATED',
      `${what}: ${bytes.length} bytes is too short to hold a Linux setup header (needs at least ${MIN_HEADER_BYTES})`,
    );
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const g = (name: keyof typeof SETUP_HEADER): number => getNum(dv, 0, SETUP_HEADER, name);
  if (g('boot_flag') !== BOOT_FLAG || g('header') !== HDRS_MAGIC) {
    const isElf = bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46;
    throw bad(
      'LINUX_NOT_BZIMAGE',
      `${what}: not a Linux bzImage (boot_flag ${hex(g('boot_flag'))}, expected 0xaa55 at 0x1fe, and "HdrS" at 0x202)` +
        (isElf
          ? '; this is an ELF file — pass the compressed bzImage (e.g. /boot/vmlinuz-*), not vmlinux'
          : ''),
    );
  }
  const version = g('version');
  if (version < MIN_PROTOCOL) {
    throw bad(
      'LINUX_PROTOCOL_TOO_OLD',
      `${what}: boot protocol ${version >> 8}.${(version & 0xff).toString().padStart(2, '0')} is too old; the 64-bit entry needs 2.12 or later`,
      { version },
    );
  }
  if (bytes.length < MIN_HEADER_BYTES)
    throw bad('LINUX_TRUNCATED', `${what}: truncated inside the setup header (${bytes.length} bytes)`);
  const setupSects = g('setup_sects') || 4;
  const setupBytes = (setupSects + 1) * 512;
  if (bytes.length <= setupBytes) {
    throw bad(
      'LINUX_TRUNCATED',
      `${what}: ${bytes.length} bytes end inside the ${setupBytes}-byte setup code (setup_sects ${setupSects}); no protected-mode kernel`,
    );
  }
  const syssize = g('syssize') * 16;
  if (syssize > bytes.length - setupBytes) {
    throw bad(
      'LINUX_TRUNCATED',
      `${what}: the header says the protected-mode kernel has ${syssize} bytes, the file holds ${bytes.length - setupBytes}`,
      {
        syssize,
      },
    );
  }
  const loadflags = g('loadflags');
  if (!(loadflags & LoadFlags.LOADED_HIGH)) {
    throw bad(
      'LINUX_NOT_BZIMAGE',
      `${what}: loadflags.LOADED_HIGH is clear — a zImage loaded at 0x10000, not a bzImage`,
    );
  }
  const xloadflags = g('xloadflags');
  if (!(xloadflags & XLoadFlags.KERNEL_64)) {
    throw bad(
      'LINUX_NO_64BIT_ENTRY',
      `${what}: xloadflags.XLF_KERNEL_64 is clear — the kernel has no 64-bit entry point (a 32-bit kernel?)`,
    );
  }
  const relocatable = g('relocatable_kernel') !== 0;
  const kernelAlignment = g('kernel_alignment');
  if (relocatable && (kernelAlignment === 0 || (kernelAlignment & (kernelAlignment - 1)) !== 0)) {
    throw bad('LINUX_BAD_HEADER', `${what}: kernel_alignment ${hex(kernelAlignment)} is not a power of two`);
  }
  const initSize = g('init_size');
  const kernel = bytes.subarray(setupBytes);
  if (initSize < kernel.length) {
    throw bad(
      'LINUX_BAD_HEADER',
      `${what}: init_size ${hex(initSize)} is smaller than the ${kernel.length}-byte protected-mode kernel`,
    );
  }
  const headerEnd = SETUP_HEADER_END_BASE + bytes[0x201]!;
  if (headerEnd > setupBytes || headerEnd < MIN_HEADER_BYTES) {
    throw bad(
      'LINUX_BAD_HEADER',
      `${what}: the setup header would end at ${hex(headerEnd)} (jump byte at 0x201), outside the setup code`,
    );
  }
  let kernelVersion: string | undefined;
  const kv = g('kernel_version');
  if (kv !== 0 && kv + 0x200 < setupBytes) {
    const start = kv + 0x200;
    let end = start;
    while (end < setupBytes && end - start < 256 && bytes[end] !== 0) end++;
    kernelVersion = new TextDecoder('latin1').decode(bytes.subarray(start, end));
  }
  return {
    bytes,
    version,
    setupSects,
    setupBytes,
    kernel,
    loadflags,
    xloadflags,
    relocatable,
    kernelAlignment,
    prefAddress: Number(getField(dv, 0, SETUP_HEADER, 'pref_address')),
    initSize,
    cmdlineSize: g('cmdline_size'),
    initrdAddrMax: g('initrd_addr_max'),
    payloadOffset: g('payload_offset'),
    payloadLength: g('payload_length'),
    headerEnd,
    kernelVersion,
  };
}
