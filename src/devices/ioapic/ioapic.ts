// The I/O APIC (Intel 82093AA I/O Advanced Programmable Interrupt Controller datasheet, §3 "Register
// Description"; the ICH/PCH I/O APIC chapter for version 0x11 with 24 pins), as a PC chipset has it at
// 0xFEC00000. Indirect register access:
//
//   MMIO off  register
//   0x00      IOREGSEL  (bits 7:0 select the indirect register)
//   0x10      IOWIN     (32-bit window onto the selected register)
//
//   index     register                       access
//   0x00      IOAPICID   (ID in bits 27:24)  RW
//   0x01      IOAPICVER  (max redirection     RO   = 0x00170011: 24 entries, version 0x11
//                         entry 23:16, version 7:0)
//   0x02      IOAPICARB  (arbitration ID)    RO   = the ID
//   0x10+2n   redirection entry n, bits 31:0 RW (delivery status and remote IRR read-only)
//   0x11+2n   redirection entry n, bits 63:32 RW (destination in 63:56)
//
// Redirection entry (82093AA §3.2.4): vector 7:0, delivery mode 10:8, destination mode 11 (1 =
// logical), delivery status 12, polarity 13 (1 = active low), remote IRR 14, trigger mode 15 (1 =
// level), mask 16, destination 63:56. Reset: every entry masked.
//
// Inputs are logical levels (true = asserted): the VMM's devices drive their lines as asserted /
// deasserted, so the polarity bit is recorded for the guest but does not invert anything (as in KVM
// and QEMU). Edge pins deliver on a rising edge while unmasked (masked edges are lost, per the
// datasheet). Level pins deliver while asserted, unmasked and remote IRR clear; delivery sets remote
// IRR, and the local APIC's EOI of that vector (ApicBus.broadcastEoi) clears it and re-delivers if the
// line is still asserted. Messages go out on the ApicBus with 8-bit (xAPIC format) destinations.

import type { AccessSize, Device, IrqLine } from '../device.ts';
import { checkSnapshot } from '../snapshot.ts';
import { TsvmmError } from '../../util/result.ts';
import type { ApicBus } from '../lapic/apic-bus.ts';
import { Icr } from '../lapic/regs.ts';

export const IOAPIC_DEFAULT_BASE = 0xfec00000;
export const IOAPIC_MMIO_SIZE = 0x1000;
export const IOAPIC_PINS = 24;
export const IOAPIC_VERSION = 0x11;

export const IoapicMmio = { IOREGSEL: 0x00, IOWIN: 0x10 } as const;
export const IoapicIndex = { ID: 0x00, VER: 0x01, ARB: 0x02, REDTBL0: 0x10 } as const;

/** Redirection entry low-word fields. */
export const Redir = {
  VECTOR: 0xff,
  DELIVERY_MODE: 0x700,
  DEST_LOGICAL: 1 << 11,
  DELIVERY_STATUS: 1 << 12,
  POLARITY_LOW: 1 << 13,
  REMOTE_IRR: 1 << 14,
  LEVEL: 1 << 15,
  MASKED: 1 << 16,
  /** guest-writable bits of the low word */
  WRITABLE_LO: 0xff | 0x700 | (1 << 11) | (1 << 13) | (1 << 15) | (1 << 16),
  /** destination (bits 63:56) in the high word */
  WRITABLE_HI: 0xff000000,
} as const;

export interface IoApicState {
  id: number;
  ioregsel: number;
  lo: number[];
  hi: number[];
  lines: number;
}

export class IoApic implements Device {
  readonly name = 'ioapic';
  private id = 0;
  private ioregsel = 0;
  private readonly lo = new Uint32Array(IOAPIC_PINS);
  private readonly hi = new Uint32Array(IOAPIC_PINS);
  /** current input levels, bit per pin */
  private lines = 0;
  private readonly irqLines: IrqLine[];

  constructor(
    private readonly bus: ApicBus,
    /** the IOAPIC ID reported in the MADT (default 0) */
    private readonly initialId = 0,
  ) {
    bus.onEoi((vector) => this.eoi(vector));
    this.irqLines = Array.from({ length: IOAPIC_PINS }, (_, pin) => ({
      set: (level: boolean) => this.setIrq(pin, level),
      pulse: () => {
        this.setIrq(pin, true);
        this.setIrq(pin, false);
      },
    }));
    this.reset();
  }

  reset(): void {
    this.id = this.initialId & 0xf;
    this.ioregsel = 0;
    this.lo.fill(Redir.MASKED);
    this.hi.fill(0);
    this.lines = 0;
  }

  /** The interrupt line of input pin `pin` (GSI = pin for the one IOAPIC at GSI base 0). */
  irqLine(pin: number): IrqLine {
    const l = this.irqLines[pin];
    if (!l) throw new TsvmmError('IOAPIC_PIN', `the IOAPIC has pins 0-${IOAPIC_PINS - 1}, not ${pin}`);
    return l;
  }

  /** Drive input `pin` to `level` (true = asserted). */
  setIrq(pin: number, level: boolean): void {
    if (pin < 0 || pin >= IOAPIC_PINS) return;
    const m = 1 << pin;
    const was = (this.lines & m) !== 0;
    if (level) this.lines |= m;
    else this.lines &= ~m;
    const lo = this.lo[pin]!;
    if (lo & Redir.LEVEL) {
      if (level) this.service(pin);
    } else if (level && !was) {
      this.service(pin);
    }
  }

  /** Try to deliver pin `pin`'s interrupt now. */
  private service(pin: number): void {
    const lo = this.lo[pin]!;
    if (lo & Redir.MASKED) return;
    const level = (lo & Redir.LEVEL) !== 0;
    if (level && lo & Redir.REMOTE_IRR) return;
    // Redirection-entry bits map onto an ICR-format message (polarity, bit 13, is not part of it).
    const msg =
      (lo & (Icr.VECTOR | Icr.DELIVERY_MODE | Icr.DEST_LOGICAL | Icr.TRIGGER_LEVEL)) | Icr.LEVEL_ASSERT;
    const accepted = this.bus.send(msg, this.hi[pin]! >>> 24, null, false);
    if (level && accepted > 0) this.lo[pin] = lo | Redir.REMOTE_IRR;
  }

  /** A local APIC's EOI of `vector` for a level-triggered interrupt (ApicBus.broadcastEoi). */
  eoi(vector: number): void {
    for (let pin = 0; pin < IOAPIC_PINS; pin++) {
      const lo = this.lo[pin]!;
      if ((lo & Redir.VECTOR) !== vector || !(lo & Redir.LEVEL) || !(lo & Redir.REMOTE_IRR)) continue;
      this.lo[pin] = lo & ~Redir.REMOTE_IRR;
      if (this.lines & (1 << pin)) this.service(pin);
    }
  }

  /** Redirection entry `pin` as [low, high] words (for tests, debugging and the machine's wiring). */
  entry(pin: number): readonly [number, number] {
    return [this.lo[pin]!, this.hi[pin]!];
  }

  private readIndirect(index: number): number {
    if (index === IoapicIndex.ID) return (this.id << 24) >>> 0;
    if (index === IoapicIndex.VER) return ((IOAPIC_PINS - 1) << 16) | IOAPIC_VERSION;
    if (index === IoapicIndex.ARB) return (this.id << 24) >>> 0;
    const n = index - IoapicIndex.REDTBL0;
    if (n >= 0 && n < IOAPIC_PINS * 2) return (n & 1 ? this.hi[n >> 1]! : this.lo[n >> 1]!) >>> 0;
    return 0xffffffff;
  }

  private writeIndirect(index: number, value: number): void {
    if (index === IoapicIndex.ID) {
      this.id = (value >>> 24) & 0xf;
      return;
    }
    const n = index - IoapicIndex.REDTBL0;
    if (n < 0 || n >= IOAPIC_PINS * 2) return;
    const pin = n >> 1;
    if (n & 1) {
      this.hi[pin] = value & Redir.WRITABLE_HI;
      return;
    }
    const old = this.lo[pin]!;
    const lo = ((value & Redir.WRITABLE_LO) | (old & Redir.REMOTE_IRR)) >>> 0;
    // Switching a pin to edge clears a stale remote IRR.
    this.lo[pin] = lo & Redir.LEVEL ? lo : lo & ~Redir.REMOTE_IRR;
    // Unmasking a level pin whose line is asserted delivers it (the request is still there).
    if (lo & Redir.LEVEL && !(lo & Redir.MASKED) && this.lines & (1 << pin)) this.service(pin);
  }

  read(offset: number, size: AccessSize): number {
    let v: number;
    if (offset === IoapicMmio.IOREGSEL) v = this.ioregsel;
    else if (offset >= IoapicMmio.IOWIN && offset < IoapicMmio.IOWIN + 4)
      v = this.readIndirect(this.ioregsel) >>> ((offset - IoapicMmio.IOWIN) * 8);
    else v = 0;
    return size === 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
  }

  write(offset: number, size: AccessSize, value: number): void {
    if (offset === IoapicMmio.IOREGSEL) {
      this.ioregsel = value & 0xff;
      return;
    }
    // IOWIN is written as a whole dword (82093AA §3.1).
    if (offset === IoapicMmio.IOWIN && size === 4) this.writeIndirect(this.ioregsel, value >>> 0);
  }

  snapshot(): IoApicState {
    return { id: this.id, ioregsel: this.ioregsel, lo: [...this.lo], hi: [...this.hi], lines: this.lines };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<IoApicState>(this.name, state, {
      id: 'number',
      ioregsel: 'number',
      lo: 'array',
      hi: 'array',
      lines: 'number',
    });
    for (const [k, a] of [
      ['lo', s.lo],
      ['hi', s.hi],
    ] as const) {
      if (a.length !== IOAPIC_PINS || a.some((x) => typeof x !== 'number')) {
        throw new TsvmmError(
          'SNAPSHOT_INVALID',
          `${this.name}: snapshot field '${k}' must hold ${IOAPIC_PINS} numbers`,
        );
      }
    }
    this.id = s.id & 0xf;
    this.ioregsel = s.ioregsel & 0xff;
    this.lo.set(s.lo);
    this.hi.set(s.hi);
    this.lines = s.lines;
  }
}
