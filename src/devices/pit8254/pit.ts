// The 8254 programmable interval timer (Intel 8254 datasheet: "Control Word Format", "Read-Back
// Command", "Modes of Operation"), as wired on the PC: input clock 1.193182 MHz, ports 0x40-0x42 are
// counters 0-2, 0x43 the control word; counter 0 OUT → IRQ0; counter 2 GATE and OUT via port 0x61.
//
//   off  read                          write
//   0-2  counter n (latched value,     counter n initial count (LSB, MSB or LSB then MSB)
//        status byte, or live count)
//   3    (nothing: 0xFF)               control word: SC[7:6] RW[5:4] M[3:1] BCD[0];
//                                      RW=00 = counter latch; SC=11 = read-back
//
// Time comes from a Clock, converted to whole input ticks exactly (no drift, deterministic under a
// test clock). The counter value is computed from the tick at which counting began, so nothing runs
// per tick: `poll()` reports counter 0's rising OUT edges as IRQ0 pulses, and `nextEventNs()` tells the
// run loop when the next one is due (for HLT). Modes 0-5 are modelled; modes 1 and 5 start on a GATE
// rising edge (only counter 2's gate can change on the PC).

import type { AccessSize, Clock, Device, IrqLine } from '../device.ts';
import { checkSnapshot } from '../snapshot.ts';
import { TsvmmError } from '../../util/result.ts';

export const PIT_HZ = 1_193_182;
export const PIT_BASE = 0x40;
export const PIT_PORTS = 4;
export const PIT_IRQ = 0;
export const PORT_61 = 0x61;

export const PIT_REG = { COUNTER0: 0, COUNTER1: 1, COUNTER2: 2, CONTROL: 3 } as const;

/** Control word fields */
export const PitCtl = {
  SC_SHIFT: 6,
  RW_SHIFT: 4,
  MODE_SHIFT: 1,
  BCD: 0x01,
  SC_READBACK: 3,
  RW_LATCH: 0,
} as const;
/** RW access modes */
export const PitRw = { LSB: 1, MSB: 2, LSB_MSB: 3 } as const;
/** Read-back command bits */
export const PitReadBack = { NOT_COUNT: 0x20, NOT_STATUS: 0x10, CNT0: 0x02, CNT1: 0x04, CNT2: 0x08 } as const;
/** Status byte bits */
export const PitStatus = { OUT: 0x80, NULL_COUNT: 0x40 } as const;
/** Port 0x61 bits */
export const Port61 = { GATE2: 0x01, SPEAKER: 0x02, REFRESH: 0x10, OUT2: 0x20 } as const;

const NS_PER_S = 1_000_000_000;

/** Whole PIT input ticks elapsed at `ns` (exact for ns < 2^53). */
export function pitTicksAt(ns: number): number {
  const s = Math.floor(ns / NS_PER_S);
  const r = ns - s * NS_PER_S;
  return s * PIT_HZ + Math.floor((r * PIT_HZ) / NS_PER_S);
}

/** The first nanosecond at which `tick` ticks have elapsed. */
export function pitNsAt(tick: number): number {
  const q = Math.floor(tick / PIT_HZ);
  const r = tick - q * PIT_HZ;
  return q * NS_PER_S + Math.ceil((r * NS_PER_S) / PIT_HZ);
}

function toBcd(v: number): number {
  return (
    (v % 10) |
    ((Math.floor(v / 10) % 10) << 4) |
    ((Math.floor(v / 100) % 10) << 8) |
    ((Math.floor(v / 1000) % 10) << 12)
  );
}
function fromBcd(v: number): number {
  return (v & 0xf) + ((v >> 4) & 0xf) * 10 + ((v >> 8) & 0xf) * 100 + ((v >> 12) & 0xf) * 1000;
}

export interface PitChannelState {
  mode: number;
  rw: number;
  bcd: boolean;
  /** initial count as written (0 = max) */
  count: number;
  /** tick at which the current count started (-1 = not counting) */
  loadTick: number;
  /** mode 2/3: a count written while running, taking effect at pendingTick */
  pendingCount: number;
  pendingTick: number;
  gate: boolean;
  /** counter value frozen while GATE is low (modes 0, 4), else -1 */
  frozen: number;
  writeMsbNext: boolean;
  writeLow: number;
  readMsbNext: boolean;
  latched: number;
  /** bytes of the latched count still to read (0, 1 or 2) */
  latchedBytes: number;
  latchedMsbFirst: boolean;
  status: number;
  statusLatched: boolean;
  nullCount: boolean;
  /** OUT edges already reported (counter 0) */
  edgesReported: number;
}

class PitChannel {
  s: PitChannelState;

  constructor(gate: boolean) {
    this.s = PitChannel.initial(gate);
  }

  static initial(gate: boolean): PitChannelState {
    return {
      mode: 0,
      rw: PitRw.LSB_MSB,
      bcd: false,
      count: 0,
      loadTick: -1,
      pendingCount: -1,
      pendingTick: 0,
      gate,
      frozen: -1,
      writeMsbNext: false,
      writeLow: 0,
      readMsbNext: false,
      latched: 0,
      latchedBytes: 0,
      latchedMsbFirst: false,
      status: 0,
      statusLatched: false,
      nullCount: true,
      edgesReported: 0,
    };
  }

  private modulus(): number {
    return this.s.bcd ? 10000 : 0x10000;
  }

  /** The reload value N (a count of 0 means the modulus). */
  private period(count = this.s.count): number {
    return count === 0 ? this.modulus() : count;
  }

  /** Apply a pending mode 2/3 reload once its tick has come. */
  private settle(t: number): void {
    const s = this.s;
    if (s.pendingCount >= 0 && t >= s.pendingTick) {
      // edges of the old count up to the reload boundary are re-based onto the new count
      s.edgesReported -= Math.floor((s.pendingTick - s.loadTick) / this.period());
      s.count = s.pendingCount;
      s.loadTick = s.pendingTick;
      s.pendingCount = -1;
    }
  }

  /** Counter value at tick t. */
  value(t: number): number {
    this.settle(t);
    const s = this.s;
    if (s.frozen >= 0) return s.frozen;
    if (s.loadTick < 0 || t < s.loadTick) return s.count;
    const n = this.period();
    const d = t - s.loadTick;
    const m = this.modulus();
    switch (s.mode) {
      case 2:
        return n - (d % n);
      case 3: {
        const v = n - ((2 * d) % n);
        return v & ~1 || n;
      }
      default: // 0, 1, 4, 5: count down and wrap
        return (((n - d) % m) + m) % m;
    }
  }

  /** OUT level at tick t. */
  out(t: number): boolean {
    this.settle(t);
    const s = this.s;
    const counting = s.loadTick >= 0 && t >= s.loadTick && s.frozen < 0;
    const n = this.period();
    const d = t - s.loadTick;
    switch (s.mode) {
      case 0:
        return counting && d >= n; // low from the control word until terminal count
      case 1:
      case 5:
        if (!counting) return true;
        return s.mode === 1 ? d >= n : d !== n;
      case 2:
        return !counting || d % n !== n - 1;
      case 3:
        return !counting || d % n < Math.ceil(n / 2);
      case 4:
        return !counting || d !== n;
      default:
        return true;
    }
  }

  /** Number of OUT rising edges from the start of counting up to tick t (periodic: one per period). */
  edgesUpTo(t: number): number {
    this.settle(t);
    const s = this.s;
    if (s.loadTick < 0 || t < s.loadTick || s.frozen >= 0) return 0;
    const n = this.period();
    const d = t - s.loadTick;
    switch (s.mode) {
      case 2:
      case 3:
        return Math.floor(d / n);
      case 0:
      case 1:
        return d >= n ? 1 : 0;
      case 4:
      case 5:
        return d >= n + 1 ? 1 : 0;
      default:
        return 0;
    }
  }

  /** The first tick > t at which OUT rises, or -1 when none is scheduled. */
  nextEdgeAfter(t: number): number {
    const s = this.s;
    if (s.pendingCount >= 0 && t < s.pendingTick) return s.pendingTick;
    this.settle(t);
    if (s.loadTick < 0 || s.frozen >= 0) return -1;
    const n = this.period();
    const d = t - s.loadTick;
    switch (s.mode) {
      case 2:
      case 3:
        return d < 0 ? s.loadTick + n : s.loadTick + (Math.floor(d / n) + 1) * n;
      case 0:
      case 1:
        return d < n ? s.loadTick + n : -1;
      case 4:
      case 5:
        return d < n + 1 ? s.loadTick + n + 1 : -1;
      default:
        return -1;
    }
  }

  control(rw: number, mode: number, bcd: boolean): void {
    const s = this.s;
    s.rw = rw;
    s.mode = mode > 5 ? mode - 4 : mode; // 6, 7 alias 2, 3
    s.bcd = bcd;
    s.loadTick = -1;
    s.pendingCount = -1;
    s.frozen = -1;
    s.writeMsbNext = false;
    s.readMsbNext = false;
    s.latchedBytes = 0;
    s.nullCount = true;
    s.edgesReported = 0;
  }

  latchCount(t: number): void {
    const s = this.s;
    if (s.latchedBytes > 0) return; // a second latch before the first is read is ignored
    let v = this.value(t) & 0xffff;
    if (s.bcd) v = toBcd(v % 10000);
    s.latched = v;
    s.latchedBytes = s.rw === PitRw.LSB_MSB ? 2 : 1;
    s.latchedMsbFirst = s.rw === PitRw.MSB;
  }

  latchStatus(t: number): void {
    const s = this.s;
    if (s.statusLatched) return;
    s.status =
      (this.out(t) ? PitStatus.OUT : 0) |
      (s.nullCount ? PitStatus.NULL_COUNT : 0) |
      (s.rw << 4) |
      (s.mode << 1) |
      (s.bcd ? 1 : 0);
    s.statusLatched = true;
  }

  read(t: number): number {
    const s = this.s;
    if (s.statusLatched) {
      s.statusLatched = false;
      return s.status;
    }
    if (s.latchedBytes > 0) {
      let b: number;
      if (s.latchedMsbFirst || (s.latchedBytes === 1 && s.rw === PitRw.LSB_MSB)) b = (s.latched >> 8) & 0xff;
      else b = s.latched & 0xff;
      s.latchedBytes--;
      return b;
    }
    let v = this.value(t) & 0xffff;
    if (s.bcd) v = toBcd(v % 10000);
    switch (s.rw) {
      case PitRw.LSB:
        return v & 0xff;
      case PitRw.MSB:
        return (v >> 8) & 0xff;
      default: {
        const b = s.readMsbNext ? (v >> 8) & 0xff : v & 0xff;
        s.readMsbNext = !s.readMsbNext;
        return b;
      }
    }
  }

  write(t: number, byte: number): void {
    const s = this.s;
    let count: number;
    switch (s.rw) {
      case PitRw.LSB:
        count = byte;
        break;
      case PitRw.MSB:
        count = byte << 8;
        break;
      default:
        if (!s.writeMsbNext) {
          s.writeLow = byte;
          s.writeMsbNext = true;
          // Mode 0: writing the first byte stops the count and drives OUT low.
          if (s.mode === 0) {
            s.frozen = this.value(t);
            s.loadTick = -1;
          }
          return;
        }
        s.writeMsbNext = false;
        count = s.writeLow | (byte << 8);
    }
    if (s.bcd) count = fromBcd(count);
    this.load(t, count);
  }

  private load(t: number, count: number): void {
    const s = this.s;
    s.nullCount = false;
    s.frozen = -1;
    const running = s.loadTick >= 0 && t >= s.loadTick;
    if ((s.mode === 2 || s.mode === 3) && running) {
      // A new count in modes 2/3 takes effect at the end of the current period.
      const n = this.period();
      s.pendingCount = count;
      s.pendingTick = s.loadTick + (Math.floor((t - s.loadTick) / n) + 1) * n;
      return;
    }
    s.count = count;
    s.edgesReported = 0;
    // Modes 1 and 5 wait for a GATE rising edge; the others start counting now (when GATE is high).
    if (s.mode === 1 || s.mode === 5) s.loadTick = -1;
    else if (s.gate) s.loadTick = t;
    else {
      s.loadTick = -1;
      s.frozen = count === 0 ? 0 : count;
    }
  }

  setGate(t: number, gate: boolean): void {
    const s = this.s;
    if (gate === s.gate) return;
    s.gate = gate;
    if (gate) {
      if (s.frozen >= 0 && (s.mode === 0 || s.mode === 4)) {
        // resume from the frozen value
        const v = s.frozen;
        s.frozen = -1;
        s.loadTick = t - (this.period() - v);
      } else {
        s.frozen = -1;
        s.loadTick = t; // modes 1, 2, 3, 5: a rising gate (re)starts the count
      }
      s.edgesReported = 0;
    } else if (s.loadTick >= 0) {
      s.frozen = this.value(t);
      s.loadTick = -1;
      s.pendingCount = -1;
    }
  }
}

export class Pit8254 implements Device {
  readonly name = 'pit8254';
  readonly channels: [PitChannel, PitChannel, PitChannel] = [
    new PitChannel(true),
    new PitChannel(true),
    new PitChannel(false),
  ];
  speakerEnable = false;

  constructor(
    private readonly clock: Clock,
    private readonly irq0?: IrqLine,
  ) {}

  private now(): number {
    return pitTicksAt(this.clock.nowNs());
  }

  reset(): void {
    this.channels[0].s = PitChannel.initial(true);
    this.channels[1].s = PitChannel.initial(true);
    this.channels[2].s = PitChannel.initial(false);
    this.speakerEnable = false;
  }

  read(offset: number, _size: AccessSize): number {
    if (offset === PIT_REG.CONTROL) return 0xff;
    return this.channels[offset]!.read(this.now());
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    const t = this.now();
    if (offset !== PIT_REG.CONTROL) {
      this.poll(); // report edges of the old count before it is replaced
      this.channels[offset]!.write(t, v);
      return;
    }
    const sc = v >> PitCtl.SC_SHIFT;
    if (sc === PitCtl.SC_READBACK) {
      for (let c = 0; c < 3; c++) {
        if (!(v & (PitReadBack.CNT0 << c))) continue;
        if (!(v & PitReadBack.NOT_STATUS)) this.channels[c]!.latchStatus(t);
        if (!(v & PitReadBack.NOT_COUNT)) this.channels[c]!.latchCount(t);
      }
      return;
    }
    const rw = (v >> PitCtl.RW_SHIFT) & 3;
    if (rw === PitCtl.RW_LATCH) {
      this.channels[sc]!.latchCount(t);
      return;
    }
    if (sc === 0) this.poll();
    this.channels[sc]!.control(rw, (v >> PitCtl.MODE_SHIFT) & 7, (v & PitCtl.BCD) !== 0);
  }

  /** Report counter 0's OUT rising edges since the last poll as IRQ0 pulses (at most one per poll:
   *  the PIC's edge latch would merge them anyway). Returns how many edges elapsed. */
  poll(): number {
    const ch = this.channels[0];
    const total = ch.edgesUpTo(this.now());
    const fresh = total - ch.s.edgesReported;
    if (fresh > 0) {
      ch.s.edgesReported = total;
      this.irq0?.pulse();
    }
    return fresh > 0 ? fresh : 0;
  }

  /** When counter 0's next IRQ0 edge is due (clock ns), or undefined when none is scheduled. */
  nextEventNs(): number | undefined {
    const tick = this.channels[0].nextEdgeAfter(this.now());
    return tick < 0 ? undefined : pitNsAt(tick);
  }

  /** Port 0x61 view of counter 2. */
  gate2(): boolean {
    return this.channels[2].s.gate;
  }
  setGate2(level: boolean): void {
    this.channels[2].setGate(this.now(), level);
  }
  out2(): boolean {
    return this.channels[2].out(this.now());
  }
  refreshToggle(): boolean {
    // DRAM refresh request: toggles every 15.085 µs (18 PIT ticks) on the PC/AT.
    return Math.floor(this.now() / 18) % 2 === 1;
  }

  snapshot(): { channels: PitChannelState[]; speakerEnable: boolean } {
    return { channels: this.channels.map((c) => ({ ...c.s })), speakerEnable: this.speakerEnable };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<{ channels: unknown[]; speakerEnable: boolean }>(this.name, state, {
      channels: 'array',
      speakerEnable: 'boolean',
    });
    if (s.channels.length !== 3)
      throw new TsvmmError('SNAPSHOT_INVALID', 'pit8254: snapshot needs 3 channels');
    const shape = Object.fromEntries(
      Object.entries(PitChannel.initial(true)).map(([k, v]) => [k, typeof v as 'number' | 'boolean']),
    );
    const chans = s.channels.map((c) => checkSnapshot<PitChannelState>(this.name, c, shape));
    chans.forEach((c, i) => (this.channels[i]!.s = { ...c }));
    this.speakerEnable = s.speakerEnable;
  }
}

/** Port 0x61 (PC/AT "port B"): counter 2 gate and speaker enable (write), OUT2 and refresh (read). */
export class Port61Device implements Device {
  readonly name = 'port-0x61';

  constructor(private readonly pit: Pit8254) {}

  reset(): void {}

  read(_offset: number, _size: AccessSize): number {
    return (
      (this.pit.gate2() ? Port61.GATE2 : 0) |
      (this.pit.speakerEnable ? Port61.SPEAKER : 0) |
      (this.pit.refreshToggle() ? Port61.REFRESH : 0) |
      (this.pit.out2() ? Port61.OUT2 : 0)
    );
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.pit.speakerEnable = (value & Port61.SPEAKER) !== 0;
    this.pit.setGate2((value & Port61.GATE2) !== 0);
  }

  snapshot(): Record<string, never> {
    return {}; // state lives in the PIT snapshot
  }

  restore(_state: unknown): void {}
}
