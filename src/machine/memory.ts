// Guest physical memory as the VMM sees it: the RAM slots of the layout (layout.ts), each one host
// buffer registered with the backend (KVM_SET_USER_MEMORY_REGION), and bounds-checked accessors for
// loaders, firmware-style tables and DMA-capable devices. Not a guest hot path: the vCPU backends
// access RAM through their own views of the same buffers.

import { TsvmmError } from '../util/result.ts';
import { hex } from '../util/u64.ts';
import { MAX_MEMORY_BYTES, MIN_MEMORY_BYTES, KiB, type MemoryLayout } from './layout.ts';

/** One RAM slot: guest physical [base, base + size) backed by `buffer`. */
export interface RamSlot {
  readonly base: number;
  readonly size: number;
  readonly buffer: ArrayBuffer;
  readonly bytes: Uint8Array;
  readonly view: DataView;
}

/** Refuse memory sizes the machine cannot lay out, with a clear reason. */
export function checkMemorySize(bytes: number): void {
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new TsvmmError(
      'MEMORY_SIZE',
      `memory size must be a positive whole number of bytes (got ${bytes})`,
    );
  }
  if (bytes % (4 * KiB) !== 0) {
    throw new TsvmmError('MEMORY_SIZE', `memory size must be a multiple of 4 KiB (got ${bytes} bytes)`);
  }
  if (bytes < MIN_MEMORY_BYTES) {
    throw new TsvmmError(
      'MEMORY_SIZE',
      `memory size ${bytes} bytes is below the minimum of ${MIN_MEMORY_BYTES / KiB / KiB} MiB`,
    );
  }
  if (bytes > MAX_MEMORY_BYTES) {
    throw new TsvmmError(
      'MEMORY_SIZE',
      `memory size ${bytes} bytes is above the maximum of ${MAX_MEMORY_BYTES / KiB / KiB / KiB} GiB`,
    );
  }
}

export class GuestMemory {
  readonly slots: readonly RamSlot[];

  constructor(
    readonly layout: MemoryLayout,
    buffers: readonly ArrayBuffer[],
  ) {
    if (buffers.length !== layout.ram.length) {
      throw new TsvmmError(
        'MEMORY_SLOTS',
        `expected ${layout.ram.length} RAM buffers, got ${buffers.length}`,
      );
    }
    this.slots = layout.ram.map((r, i) => {
      const buffer = buffers[i]!;
      if (buffer.byteLength < r.size) {
        throw new TsvmmError(
          'MEMORY_SLOTS',
          `RAM buffer ${i} holds ${buffer.byteLength} bytes, layout needs ${r.size}`,
        );
      }
      return {
        base: r.base,
        size: r.size,
        buffer,
        bytes: new Uint8Array(buffer, 0, r.size),
        view: new DataView(buffer, 0, r.size),
      };
    });
  }

  /** Is [addr, addr + len) entirely inside one RAM slot? */
  isRam(addr: number, len = 1): boolean {
    return this.slotOf(addr, len) !== undefined;
  }

  private slotOf(addr: number, len: number): RamSlot | undefined {
    for (const s of this.slots) {
      if (addr >= s.base && addr + len <= s.base + s.size && len >= 0) return s;
    }
    return undefined;
  }

  private need(addr: number, len: number): RamSlot {
    const s = this.slotOf(addr, len);
    if (!s) {
      throw new TsvmmError(
        'GUEST_MEMORY_RANGE',
        `guest physical range ${hex(addr)}+${hex(len)} is not inside RAM`,
        { addr, len },
      );
    }
    return s;
  }

  /** A view of guest RAM (shares storage with the guest). */
  slice(addr: number, len: number): Uint8Array {
    const s = this.need(addr, len);
    return s.bytes.subarray(addr - s.base, addr - s.base + len);
  }

  read(addr: number, len: number): Uint8Array {
    return this.slice(addr, len).slice();
  }

  write(addr: number, data: Uint8Array): void {
    this.slice(addr, data.length).set(data);
  }

  fill(addr: number, len: number, value = 0): void {
    this.slice(addr, len).fill(value);
  }

  readU8(addr: number): number {
    const s = this.need(addr, 1);
    return s.view.getUint8(addr - s.base);
  }
  readU16(addr: number): number {
    const s = this.need(addr, 2);
    return s.view.getUint16(addr - s.base, true);
  }
  readU32(addr: number): number {
    const s = this.need(addr, 4);
    return s.view.getUint32(addr - s.base, true);
  }
  readU64(addr: number): bigint {
    const s = this.need(addr, 8);
    return s.view.getBigUint64(addr - s.base, true);
  }
  writeU8(addr: number, v: number): void {
    const s = this.need(addr, 1);
    s.view.setUint8(addr - s.base, v);
  }
  writeU16(addr: number, v: number): void {
    const s = this.need(addr, 2);
    s.view.setUint16(addr - s.base, v, true);
  }
  writeU32(addr: number, v: number): void {
    const s = this.need(addr, 4);
    s.view.setUint32(addr - s.base, v >>> 0, true);
  }
  writeU64(addr: number, v: bigint): void {
    const s = this.need(addr, 8);
    s.view.setBigUint64(addr - s.base, BigInt.asUintN(64, v), true);
  }
}
