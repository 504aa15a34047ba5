// The e820 memory map handed to a Linux guest (ACPI 6.5 §15 "System Address Map Interfaces", Table
// 15.1 address range types; Linux arch/x86/include/uapi/asm/setup_data.h struct boot_e820_entry:
// addr u64, size u64, type u32 = 20 bytes, at most 128 entries in boot_params.e820_table).
// Input: the machine's layout (machine/layout.ts computes the RAM regions and the firmware holes)
// plus the ranges the platform reserves on top (ACPI tables). Output: sorted, non-overlapping
// entries; a reservation carves the RAM it covers.

import type { E820Entry, MemoryLayout } from '../machine/layout.ts';
import { E820 } from '../machine/layout.ts';
import { TsvmmError } from '../util/result.ts';

export const E820_ENTRY_SIZE = 20;
/** E820_MAX_ENTRIES_ZEROPAGE */
export const E820_MAX_ENTRIES_ZEROPAGE = 128;

export interface E820Reservation {
  readonly base: number;
  readonly size: number;
  /** E820.RESERVED, E820.ACPI or E820.NVS */
  readonly type: number;
}

/** Precedence when ranges overlap: a reservation beats RAM; among reservations the stronger wins. */
function rank(type: number): number {
  return type === E820.RAM ? 0 : type === E820.ACPI ? 1 : type === E820.NVS ? 2 : 3;
}

/**
 * The map: the layout's entries with `extra` laid over them. Adjacent entries of one type merge.
 * Everything is computed on exact integer boundaries (addresses < 2^53).
 */
export function buildE820(layout: MemoryLayout, extra: readonly E820Reservation[] = []): E820Entry[] {
  const ranges: E820Entry[] = [...layout.e820];
  for (const r of extra) {
    if (!Number.isSafeInteger(r.base) || !Number.isSafeInteger(r.size) || r.base < 0 || r.size <= 0) {
      throw new TsvmmError('E820_RANGE', `e820 reservation ${r.base}+${r.size} is not a valid range`);
    }
    ranges.push({ base: r.base, length: r.size, type: r.type });
  }
  // Sweep the boundaries; each elementary interval takes the strongest type covering it.
  const points = [...new Set(ranges.flatMap((r) => [r.base, r.base + r.length]))].sort((a, b) => a - b);
  const out: E820Entry[] = [];
  for (let i = 0; i + 1 < points.length; i++) {
    const lo = points[i]!;
    const hi = points[i + 1]!;
    let type = -1;
    for (const r of ranges) {
      if (r.base <= lo && r.base + r.length >= hi && (type < 0 || rank(r.type) > rank(type))) type = r.type;
    }
    if (type < 0) continue;
    const last = out[out.length - 1];
    if (last && last.type === type && last.base + last.length === lo)
      out[out.length - 1] = { base: last.base, length: hi - last.base, type };
    else out.push({ base: lo, length: hi - lo, type });
  }
  if (out.length > E820_MAX_ENTRIES_ZEROPAGE) {
    throw new TsvmmError(
      'E820_TOO_MANY',
      `the e820 map has ${out.length} entries; boot_params holds ${E820_MAX_ENTRIES_ZEROPAGE}`,
    );
  }
  return out;
}

/** Encode entries as boot_e820_entry records (20 bytes each). */
export function encodeE820(entries: readonly E820Entry[]): Uint8Array {
  const b = new Uint8Array(entries.length * E820_ENTRY_SIZE);
  const dv = new DataView(b.buffer);
  entries.forEach((e, i) => {
    dv.setBigUint64(i * E820_ENTRY_SIZE, BigInt(e.base), true);
    dv.setBigUint64(i * E820_ENTRY_SIZE + 8, BigInt(e.length), true);
    dv.setUint32(i * E820_ENTRY_SIZE + 16, e.type, true);
  });
  return b;
}

/** Is [base, base + size) entirely usable RAM in this map? */
export function isUsableRam(entries: readonly E820Entry[], base: number, size: number): boolean {
  return entries.some((e) => e.type === E820.RAM && e.base <= base && base + size <= e.base + e.length);
}
