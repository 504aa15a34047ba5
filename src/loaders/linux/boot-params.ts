// struct boot_params, "the zero page": Linux Documentation/arch/x86/zero-page.rst (offsets) and
// arch/x86/include/uapi/asm/bootparam.h. 4096 bytes; the setup header (bzimage.ts) is copied in at
// 0x1F1; e820_table holds up to 128 struct boot_e820_entry (20 bytes). Only the fields a VMM fills
// for the 64-bit entry are listed; everything else stays zero.

import type { StructTable } from '../layout/struct.ts';

export const BOOT_PARAMS_SIZE = 0x1000;

export const BOOT_PARAMS = {
  /** struct screen_info (64 bytes) starts at 0x000; orig_video_isVGA at 0x0F */
  screen_info: [0x000, 1],
  apm_bios_info: [0x040, 4], // 20 bytes
  tboot_addr: [0x058, 8],
  ist_info: [0x060, 4], // 16 bytes
  acpi_rsdp_addr: [0x070, 8],
  hd0_info: [0x080, 4], // 16 bytes, obsolete
  hd1_info: [0x090, 4], // 16 bytes, obsolete
  sys_desc_table: [0x0a0, 4], // 16 bytes, obsolete
  olpc_ofw_header: [0x0b0, 4], // 16 bytes
  ext_ramdisk_image: [0x0c0, 4],
  ext_ramdisk_size: [0x0c4, 4],
  ext_cmd_line_ptr: [0x0c8, 4],
  cc_blob_address: [0x13c, 4],
  edid_info: [0x140, 4], // 128 bytes
  efi_info: [0x1c0, 4], // 32 bytes
  alt_mem_k: [0x1e0, 4],
  scratch: [0x1e4, 4],
  e820_entries: [0x1e8, 1],
  eddbuf_entries: [0x1e9, 1],
  edd_mbr_sig_buf_entries: [0x1ea, 1],
  kbd_status: [0x1eb, 1],
  secure_boot: [0x1ec, 1],
  sentinel: [0x1ef, 1],
  /** struct setup_header hdr starts here (bzimage.ts SETUP_HEADER uses the same offsets) */
  hdr: [0x1f1, 1],
  edd_mbr_sig_buffer: [0x290, 4], // 16 × u32
  e820_table: [0x2d0, 4], // 128 × 20 bytes, to 0xCD0
  eddbuf: [0xd00, 4], // 6 × 82 bytes
} as const satisfies StructTable;

export const E820_TABLE_OFFSET = BOOT_PARAMS.e820_table[0];
export const E820_TABLE_MAX = 128;
export const EDDBUF_OFFSET = BOOT_PARAMS.eddbuf[0];
