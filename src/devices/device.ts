// The uniform device shape (DESIGN.md §3.7): registered once on the bus with (space, base, length);
// offsets are relative to `base`; register offsets live in a named table inside each device.

export type AccessSize = 1 | 2 | 4;

export interface Device {
  readonly name: string;
  reset(): void;
  /** Read `size` bytes at `offset` (little-endian value). */
  read(offset: number, size: AccessSize): number;
  write(offset: number, size: AccessSize, value: number): void;
  /** Plain-data snapshot of the device state (JSON-serializable). */
  snapshot(): unknown;
  restore(state: unknown): void;
}

/** An interrupt line a device drives; the machine wires it to the PIC/IOAPIC. */
export interface IrqLine {
  /** level-triggered semantics: true = asserted */
  set(level: boolean): void;
  /** edge: assert then deassert */
  pulse(): void;
}

/** A clock devices read time from, so tests can drive time deterministically. */
export interface Clock {
  /** monotonic nanoseconds */
  nowNs(): number;
}
