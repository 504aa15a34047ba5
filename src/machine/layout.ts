// Guest physical memory layout of the tsvmm PC: where RAM sits around the 32-bit PCI hole, and the
// fixed addresses the VMM itself uses below 1 MiB. The e820-style map handed to guests (multiboot
// mmap) is derived from this table. Background: ACPI spec §15 (E820 address range types), and the
// conventional PC map (Intel SDM Vol. 3A §9.1.4 for the reset vector below 4 GiB).
//
//   guest physical                     what
//   ---------------------------------  ---------------------------------------------------------
//   0x0000_0000 – 0x0000_0FFF          real-mode IVT / BIOS data area (left zero, usable RAM)
//   0x0000_1000 – 0x0000_1FFF          VMM boot GDT (BOOT_GDT_ADDR)
//   0x0000_2000 – 0x0000_2FFF          multiboot info structure, module list, mmap (BOOT_INFO_ADDR)
//   0x0000_3000 – 0x0000_3FFF          boot strings: command line, loader name, module strings
//   0x0000_4000 – 0x0000_7FFF          boot stack, top at BOOT_STACK_TOP = 0x8000 (tsvmm convention)
//   0x0001_0000 – 0x0007_FFFF          long64 identity page tables (PML4, PDPT, PDs; BOOT_PAGING_ADDR)
//   0x0008_0000 – 0x0009_FBFF          free low RAM
//   0x0009_FC00 – 0x0009_FFFF          "EBDA" (e820 reserved)
//   0x000A_0000 – 0x000F_FFFF          legacy VGA / option ROM / BIOS window (e820 reserved; RAM is
//                                      still mapped here, the guest just must not use it)
//   0x0010_0000 – lowRamEnd            RAM (lowRamEnd = min(memory, 3 GiB))
//   0xC000_0000 – 0xFFFF_FFFF          32-bit PCI / MMIO hole (no RAM; unclaimed MMIO reads all-ones)
//   0x1_0000_0000 – 4 GiB + rest       high RAM: memory above 3 GiB continues here
//
// The region at 0x1000–0x7FFFF is only written when a loader needs it (multiboot info, long64 page
// tables); loaders refuse images that overlap the parts they write.

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Start of the 32-bit PCI hole: low RAM ends here at most. */
export const PCI_HOLE_START = 3 * GiB;
/** High RAM starts at 4 GiB. */
export const HIGH_RAM_START = 4 * GiB;

export const BOOT_GDT_ADDR = 0x1000;
export const BOOT_INFO_ADDR = 0x2000;
export const BOOT_INFO_SIZE = 0x1000;
export const BOOT_STRINGS_ADDR = 0x3000;
export const BOOT_STRINGS_SIZE = 0x1000;
export const BOOT_STACK_BASE = 0x4000;
export const BOOT_STACK_TOP = 0x8000;
export const BOOT_PAGING_ADDR = 0x10000;
export const BOOT_PAGING_END = 0x80000;
/** Conventional memory ends where the EBDA begins. */
export const EBDA_START = 0x9fc00;
export const LOW_MEMORY_END = 0xa0000;
export const BIOS_AREA_END = 0x100000;

/** The smallest machine: enough for the boot data below 1 MiB plus a little above it. */
export const MIN_MEMORY_BYTES = 2 * MiB;
/** The long64 page tables at 0x10000–0x7FFFF hold up to 110 page directories (110 GiB mapped). */
export const MAX_MEMORY_BYTES = 64 * GiB;

/** e820 / multiboot memory map types (ACPI spec §15, Table "Address Range Types"). */
export const E820 = {
  RAM: 1,
  RESERVED: 2,
  ACPI: 3,
  NVS: 4,
  UNUSABLE: 5,
} as const;

export interface RamRegion {
  /** guest physical start */
  readonly base: number;
  readonly size: number;
}

export interface E820Entry {
  readonly base: number;
  readonly length: number;
  readonly type: number;
}

export interface MemoryLayout {
  readonly memoryBytes: number;
  /** RAM slots: [0, lowRamEnd) and, when memory exceeds the hole start, [4 GiB, 4 GiB + rest). */
  readonly ram: readonly RamRegion[];
  readonly lowRamEnd: number;
  /** one past the highest RAM byte */
  readonly ramTop: number;
  /** the map a firmware would report (multiboot mmap, e820) */
  readonly e820: readonly E820Entry[];
}

/** The layout for `memoryBytes` of RAM (validated by the caller: see checkMemorySize). */
export function computeLayout(memoryBytes: number): MemoryLayout {
  const low = Math.min(memoryBytes, PCI_HOLE_START);
  const high = memoryBytes - low;
  const ram: RamRegion[] = [{ base: 0, size: low }];
  if (high > 0) ram.push({ base: HIGH_RAM_START, size: high });
  const e820: E820Entry[] = [
    { base: 0, length: EBDA_START, type: E820.RAM },
    { base: EBDA_START, length: LOW_MEMORY_END - EBDA_START, type: E820.RESERVED },
    { base: 0xf0000, length: BIOS_AREA_END - 0xf0000, type: E820.RESERVED },
    { base: BIOS_AREA_END, length: low - BIOS_AREA_END, type: E820.RAM },
  ];
  if (high > 0) e820.push({ base: HIGH_RAM_START, length: high, type: E820.RAM });
  return {
    memoryBytes,
    ram,
    lowRamEnd: low,
    ramTop: high > 0 ? HIGH_RAM_START + high : low,
    e820,
  };
}
