// Where a loader may put things in guest RAM: every range it writes must lie inside RAM (layout.ts),
// must not overlap what it already placed, and must keep clear of the VMM's boot data that the chosen
// entry mode writes. One place for the checks so every loader refuses the same way.

import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import type { GuestMemory } from '../../machine/memory.ts';

export type PlacedKind = 'boot-data' | 'image' | 'module';

export interface Placed {
  readonly what: string;
  readonly kind: PlacedKind;
  readonly base: number;
  readonly size: number;
}

export class Placement {
  readonly placed: Placed[] = [];

  constructor(private readonly mem: GuestMemory) {}

  /** Reserve [base, base + size) for `what`. Overlap errors: IMAGE_OVERLAPS_BOOT_DATA when the VMM's
   *  boot data is involved, MULTIBOOT_MODULE_OVERLAP for a module, IMAGE_OVERLAP between image parts. */
  claim(what: string, base: number, size: number, kind: PlacedKind): void {
    if (size === 0) return;
    if (!Number.isSafeInteger(base) || base < 0) {
      throw new TsvmmError(
        'IMAGE_OUTSIDE_RAM',
        `${what}: load address ${hex(base)} is not a valid guest physical address`,
      );
    }
    if (size > this.mem.layout.memoryBytes) {
      throw new TsvmmError(
        'IMAGE_TOO_LARGE',
        `${what}: ${size} bytes do not fit in ${this.mem.layout.memoryBytes} bytes of guest memory`,
        { base, size },
      );
    }
    if (!this.mem.isRam(base, size)) {
      throw new TsvmmError(
        'IMAGE_OUTSIDE_RAM',
        `${what}: ${hex(base)}-${hex(base + size - 1)} is outside guest RAM (RAM: ${this.mem.layout.ram.map((r) => `${hex(r.base)}-${hex(r.base + r.size - 1)}`).join(', ')})`,
        { base, size },
      );
    }
    for (const p of this.placed) {
      if (base < p.base + p.size && p.base < base + size) {
        const code =
          kind === 'boot-data' || p.kind === 'boot-data'
            ? 'IMAGE_OVERLAPS_BOOT_DATA'
            : kind === 'module' || p.kind === 'module'
              ? 'MULTIBOOT_MODULE_OVERLAP'
              : 'IMAGE_OVERLAP';
        throw new TsvmmError(
          code,
          `${what} at ${hex(base)}-${hex(base + size - 1)} overlaps ${p.what} at ${hex(p.base)}-${hex(p.base + p.size - 1)}`,
          { base, size, other: p.what },
        );
      }
    }
    this.placed.push({ what, kind, base, size });
  }

  /** One past the highest placed byte below 4 GiB (0 when nothing is placed). */
  highestEndBelow4G(): number {
    let end = 0;
    for (const p of this.placed) if (p.base + p.size <= 2 ** 32) end = Math.max(end, p.base + p.size);
    return end;
  }
}
