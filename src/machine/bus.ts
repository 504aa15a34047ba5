// The I/O buses of the PC: the 64 KiB port-I/O space (Intel SDM Vol. 1 §19.2 "I/O port addressing")
// and the memory-mapped I/O space (guest physical addresses outside RAM). Devices are registered once
// with (space, base, length); dispatch is a binary search over sorted, non-overlapping ranges.
// Unclaimed reads return all-ones (a floating ISA/PCI bus), unclaimed writes are dropped and counted.

import type { AccessSize, Device } from '../devices/device.ts';
import { TsvmmError } from '../util/result.ts';
import { hex } from '../util/u64.ts';

export type BusSpace = 'pio' | 'mmio';

export interface BusRange {
  readonly base: number;
  /** exclusive */
  readonly end: number;
  readonly device: Device;
}

export interface UnclaimedAccess {
  readonly space: BusSpace;
  readonly kind: 'read' | 'write';
  readonly addr: number;
  readonly size: number;
  readonly value?: number;
}

const ALL_ONES: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };
const SPACE_LIMIT: Record<BusSpace, number> = { pio: 0x10000, mmio: 2 ** 52 };
/** How many distinct unclaimed addresses the bus remembers per space (for the run report). */
const UNCLAIMED_TRACKED = 64;

class AddressSpace {
  /** sorted by base, non-overlapping */
  private ranges: BusRange[] = [];
  unclaimedReads = 0;
  unclaimedWrites = 0;
  /** address → count of unclaimed accesses (bounded) */
  readonly unclaimedByAddr = new Map<number, number>();

  constructor(readonly space: BusSpace) {}

  register(base: number, length: number, device: Device): void {
    const limit = SPACE_LIMIT[this.space];
    if (
      !Number.isSafeInteger(base) ||
      !Number.isSafeInteger(length) ||
      base < 0 ||
      length <= 0 ||
      base + length > limit
    ) {
      throw new TsvmmError(
        'BUS_RANGE',
        `${device.name}: ${this.space} range ${hex(base)}+${hex(length)} is not valid`,
      );
    }
    const end = base + length;
    const i = this.lowerBound(base);
    const prev = this.ranges[i - 1];
    const next = this.ranges[i];
    const clash =
      (prev && prev.end > base ? prev : undefined) ?? (next && next.base < end ? next : undefined);
    if (clash) {
      throw new TsvmmError(
        'BUS_OVERLAP',
        `${device.name}: ${this.space} range ${hex(base)}-${hex(end - 1)} overlaps ${clash.device.name} at ${hex(clash.base)}-${hex(clash.end - 1)}`,
      );
    }
    this.ranges.splice(i, 0, { base, end, device });
  }

  /** index of the first range with base >= addr */
  private lowerBound(addr: number): number {
    let lo = 0;
    let hi = this.ranges.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.ranges[mid]!.base < addr) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The range containing addr, or undefined. */
  find(addr: number): BusRange | undefined {
    let lo = 0;
    let hi = this.ranges.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const r = this.ranges[mid]!;
      if (addr < r.base) hi = mid - 1;
      else if (addr >= r.end) lo = mid + 1;
      else return r;
    }
    return undefined;
  }

  /** Does any range intersect [addr, end)? */
  anyIn(addr: number, end: number): boolean {
    if (this.find(addr)) return true;
    const next = this.ranges[this.lowerBound(addr)];
    return next !== undefined && next.base < end;
  }

  list(): readonly BusRange[] {
    return this.ranges;
  }

  noteUnclaimed(addr: number): void {
    const n = this.unclaimedByAddr.get(addr);
    if (n !== undefined) this.unclaimedByAddr.set(addr, n + 1);
    else if (this.unclaimedByAddr.size < UNCLAIMED_TRACKED) this.unclaimedByAddr.set(addr, 1);
  }
}

export class Bus {
  private readonly spaces: Record<BusSpace, AddressSpace> = {
    pio: new AddressSpace('pio'),
    mmio: new AddressSpace('mmio'),
  };
  /** Called for every unclaimed access when set (e.g. a --trace-io logger). */
  onUnclaimed: ((a: UnclaimedAccess) => void) | undefined;

  register(space: BusSpace, base: number, length: number, device: Device): void {
    this.spaces[space].register(base, length, device);
  }

  find(space: BusSpace, addr: number): BusRange | undefined {
    return this.spaces[space].find(addr);
  }

  devices(space: BusSpace): readonly BusRange[] {
    return this.spaces[space].list();
  }

  /** Read `size` bytes at `addr`. An access that is not wholly inside one device is split into bytes. */
  read(space: BusSpace, addr: number, size: AccessSize): number {
    const as = this.spaces[space];
    const r = as.find(addr);
    if (r && addr + size <= r.end) return r.device.read(addr - r.base, size) >>> 0;
    if (!r && (size === 1 || !as.anyIn(addr, addr + size))) return this.unclaimedRead(as, addr, size);
    let v = 0;
    for (let i = 0; i < size; i++) v |= this.read(space, addr + i, 1) << (8 * i);
    return v >>> 0;
  }

  write(space: BusSpace, addr: number, size: AccessSize, value: number): void {
    const as = this.spaces[space];
    const r = as.find(addr);
    if (r && addr + size <= r.end) {
      r.device.write(addr - r.base, size, value >>> 0);
      return;
    }
    if (!r && (size === 1 || !as.anyIn(addr, addr + size))) {
      as.unclaimedWrites++;
      as.noteUnclaimed(addr);
      this.onUnclaimed?.({ space, kind: 'write', addr, size, value });
      return;
    }
    for (let i = 0; i < size; i++) this.write(space, addr + i, 1, (value >>> (8 * i)) & 0xff);
  }

  private unclaimedRead(as: AddressSpace, addr: number, size: AccessSize): number {
    as.unclaimedReads++;
    as.noteUnclaimed(addr);
    this.onUnclaimed?.({ space: as.space, kind: 'read', addr, size });
    return ALL_ONES[size];
  }

  stats(space: BusSpace): {
    unclaimedReads: number;
    unclaimedWrites: number;
    unclaimedAddrs: ReadonlyMap<number, number>;
  } {
    const as = this.spaces[space];
    return {
      unclaimedReads: as.unclaimedReads,
      unclaimedWrites: as.unclaimedWrites,
      unclaimedAddrs: as.unclaimedByAddr,
    };
  }

  /** Reset every registered device (machine reset). */
  resetDevices(): void {
    const seen = new Set<Device>();
    for (const s of [this.spaces.pio, this.spaces.mmio]) {
      for (const r of s.list()) {
        if (!seen.has(r.device)) {
          seen.add(r.device);
          r.device.reset();
        }
      }
    }
  }
}
