// The Multiboot (0.6.96) information structure, spec §3.3 "Boot information format": the boot loader
// leaves its physical address in EBX. Offsets below are the spec's; `flags` says which fields are valid.
//
//   offset  field                 flags bit
//   0x00    flags                 -
//   0x04    mem_lower (KiB)       0
//   0x08    mem_upper (KiB)       0
//   0x0C    boot_device           1
//   0x10    cmdline               2
//   0x14    mods_count            3
//   0x18    mods_addr             3
//   0x1C    syms (4 words)        4 or 5
//   0x2C    mmap_length           6
//   0x30    mmap_addr             6
//   0x34    drives_length         7
//   0x38    drives_addr           7
//   0x3C    config_table          8
//   0x40    boot_loader_name      9
//   0x44    apm_table             10
//   0x48    vbe_* (control_info, mode_info, mode, interface_seg/off/len)  11
//   0x58    framebuffer_* (addr u64, pitch, width, height, bpp, type, color info)  12
//   0x74    (size of the structure)
//
// Module entry (16 bytes): mod_start, mod_end, string, reserved.
// Memory map entry: size (of the rest, 20) at offset −4 relative to the entry, base_addr u64, length
// u64, type u32 (1 = available RAM); mmap_addr points at the first `size` field.

import type { StructTable } from '../layout/struct.ts';

export const MULTIBOOT_INFO = {
  flags: [0x00, 4],
  mem_lower: [0x04, 4],
  mem_upper: [0x08, 4],
  boot_device: [0x0c, 4],
  cmdline: [0x10, 4],
  mods_count: [0x14, 4],
  mods_addr: [0x18, 4],
  syms0: [0x1c, 4],
  syms1: [0x20, 4],
  syms2: [0x24, 4],
  syms3: [0x28, 4],
  mmap_length: [0x2c, 4],
  mmap_addr: [0x30, 4],
  drives_length: [0x34, 4],
  drives_addr: [0x38, 4],
  config_table: [0x3c, 4],
  boot_loader_name: [0x40, 4],
  apm_table: [0x44, 4],
  vbe_control_info: [0x48, 4],
  vbe_mode_info: [0x4c, 4],
  vbe_mode: [0x50, 2],
  vbe_interface_seg: [0x52, 2],
  vbe_interface_off: [0x54, 2],
  vbe_interface_len: [0x56, 2],
  framebuffer_addr: [0x58, 8],
  framebuffer_pitch: [0x60, 4],
  framebuffer_width: [0x64, 4],
  framebuffer_height: [0x68, 4],
  framebuffer_bpp: [0x6c, 1],
  framebuffer_type: [0x6d, 1],
  color_info0: [0x6e, 4],
  color_info1: [0x72, 2],
} as const satisfies StructTable;

export const MULTIBOOT_INFO_SIZE = 0x74;

/** Info flags. */
export const MbInfoFlag = {
  MEMORY: 1 << 0,
  BOOTDEV: 1 << 1,
  CMDLINE: 1 << 2,
  MODS: 1 << 3,
  AOUT_SYMS: 1 << 4,
  ELF_SHDR: 1 << 5,
  MEM_MAP: 1 << 6,
  DRIVE_INFO: 1 << 7,
  CONFIG_TABLE: 1 << 8,
  BOOT_LOADER_NAME: 1 << 9,
  APM_TABLE: 1 << 10,
  VBE_INFO: 1 << 11,
  FRAMEBUFFER_INFO: 1 << 12,
} as const;

export const MULTIBOOT_MODULE = {
  mod_start: [0x00, 4],
  mod_end: [0x04, 4],
  string: [0x08, 4],
  reserved: [0x0c, 4],
} as const satisfies StructTable;
export const MULTIBOOT_MODULE_SIZE = 16;

export const MULTIBOOT_MMAP_ENTRY = {
  size: [0x00, 4],
  base_addr: [0x04, 8],
  length: [0x0c, 8],
  type: [0x14, 4],
} as const satisfies StructTable;
export const MULTIBOOT_MMAP_ENTRY_SIZE = 24;
/** The value of `size`: the entry without the size field itself. */
export const MULTIBOOT_MMAP_ENTRY_PAYLOAD = 20;

/** Where tsvmm puts the pieces inside the boot-info page (BOOT_INFO_ADDR, layout.ts). */
export const MB_INFO_LAYOUT = {
  INFO: 0x000,
  MODS: 0x080,
  MODS_MAX: (0x800 - 0x080) / MULTIBOOT_MODULE_SIZE,
  MMAP: 0x800,
  MMAP_MAX: (0x1000 - 0x800) / MULTIBOOT_MMAP_ENTRY_SIZE,
} as const;
