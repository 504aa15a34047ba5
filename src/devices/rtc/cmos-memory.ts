// The CMOS RAM bytes a PC BIOS leaves for the OS and that SeaBIOS/QEMU fill from the VMM: memory
// sizes (IBM PC/AT Technical Reference "CMOS RAM address map": 0x15/0x16 base memory, 0x17/0x18 and
// 0x30/0x31 extended memory in KiB; the later conventions 0x34/0x35 = RAM between 16 MiB and the
// PCI hole in 64 KiB units, 0x5B-0x5D = RAM above 4 GiB in 64 KiB units, 0x5F = CPU count - 1), the
// standard checksum over 0x10-0x2D stored big-endian at 0x2E/0x2F, and the century byte 0x32 (kept
// by the RTC itself). Linux does not need them (it takes the e820 map from boot_params) but
// firmware-style guests do.

import type { MemoryLayout } from '../../machine/layout.ts';
import { HIGH_RAM_START, KiB, MiB } from '../../machine/layout.ts';

export const CmosMem = {
  BASE_KB_LO: 0x15,
  BASE_KB_HI: 0x16,
  EXT_KB_LO: 0x17,
  EXT_KB_HI: 0x18,
  CHECKSUM_HI: 0x2e,
  CHECKSUM_LO: 0x2f,
  EXT_KB_LO_2: 0x30,
  EXT_KB_HI_2: 0x31,
  EXT16_64K_LO: 0x34,
  EXT16_64K_HI: 0x35,
  HIGH_64K_0: 0x5b,
  HIGH_64K_1: 0x5c,
  HIGH_64K_2: 0x5d,
  CPU_COUNT_MINUS_1: 0x5f,
} as const;

/** The CMOS RAM bytes for this layout and CPU count, as [index, value] pairs. */
export function cmosMemoryBytes(layout: MemoryLayout, cpus: number): Array<[number, number]> {
  const baseKb = 640;
  const extKb = Math.min(0xffff, Math.max(0, Math.floor((layout.lowRamEnd - MiB) / KiB)));
  const ext16 = Math.min(0xffff, Math.max(0, Math.floor((layout.lowRamEnd - 16 * MiB) / (64 * KiB))));
  const highBytes = layout.ramTop > HIGH_RAM_START ? layout.ramTop - HIGH_RAM_START : 0;
  const high = Math.min(0xffffff, Math.floor(highBytes / (64 * KiB)));
  const out: Array<[number, number]> = [
    [CmosMem.BASE_KB_LO, baseKb & 0xff],
    [CmosMem.BASE_KB_HI, baseKb >> 8],
    [CmosMem.EXT_KB_LO, extKb & 0xff],
    [CmosMem.EXT_KB_HI, extKb >> 8],
    [CmosMem.EXT_KB_LO_2, extKb & 0xff],
    [CmosMem.EXT_KB_HI_2, extKb >> 8],
    [CmosMem.EXT16_64K_LO, ext16 & 0xff],
    [CmosMem.EXT16_64K_HI, ext16 >> 8],
    [CmosMem.HIGH_64K_0, high & 0xff],
    [CmosMem.HIGH_64K_1, (high >> 8) & 0xff],
    [CmosMem.HIGH_64K_2, (high >> 16) & 0xff],
    [CmosMem.CPU_COUNT_MINUS_1, Math.max(0, cpus - 1) & 0xff],
  ];
  // Checksum: 16-bit sum of 0x10-0x2D.
  let sum = 0;
  for (const [i, v] of out) if (i >= 0x10 && i <= 0x2d) sum += v;
  out.push([CmosMem.CHECKSUM_HI, (sum >> 8) & 0xff], [CmosMem.CHECKSUM_LO, sum & 0xff]);
  return out;
}
