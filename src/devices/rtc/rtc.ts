// The CMOS real-time clock of the PC (Motorola MC146818A datasheet: "Address Map", "Register A-D",
// "Update Cycle", "Interrupts"; PC/AT wiring: index port 0x70 with bit 7 = NMI disable, data port
// 0x71, IRQ8). 128 bytes: 14 clock bytes, then battery-backed RAM (0x0E-0x7F) that BIOSes and Linux
// read for the century (0x32) and memory sizes (cmos-memory.ts).
//
//   index  register                     index  register
//   0x00   seconds                      0x07   day of month (1-31)
//   0x01   seconds alarm                0x08   month (1-12)
//   0x02   minutes                      0x09   year (0-99)
//   0x03   minutes alarm                0x0A   A: UIP 7, DV 6:4 (010 = running), RS 3:0 (rate)
//   0x04   hours (12h: bit 7 = PM)      0x0B   B: SET 7, PIE 6, AIE 5, UIE 4, SQWE 3, DM 2 (1 =
//   0x05   hours alarm                                binary), 24/12 1 (1 = 24h), DSE 0
//   0x06   day of week (1 = Sunday)     0x0C   C: IRQF 7, PF 6, AF 5, UF 4 (read clears, read-only)
//                                       0x0D   D: VRT 7 (valid RAM and time, always 1)
//   0x32   century (same format as the year; the ACPI FADT CENTURY field points here)
//
// Time = a settable epoch plus the machine Clock, counted in whole seconds from the last time the
// divider chain was (re)started: deterministic under a manual clock, nothing runs per second. UIP
// reads 1 during the last 244 µs before each second boundary (the datasheet's t_BUC). SET=1 or a
// divider other than 010 freezes the time; clearing SET restarts the second, restarting the divider
// puts the first update 500 ms later. Flags in C are brought up to date on every access and by
// poll(); nextEventNs() tells the run loop when an enabled interrupt can next occur (for HLT).
// IRQ8 is a level: asserted while C.IRQF is set, released when the guest reads C.

import type { AccessSize, Clock, Device, IrqLine } from '../device.ts';
import { checkSnapshot } from '../snapshot.ts';
import { TsvmmError } from '../../util/result.ts';

export const RTC_BASE = 0x70;
export const RTC_PORTS = 2;
export const RTC_IRQ = 8;
export const CMOS_SIZE = 128;

export const RtcPort = { INDEX: 0, DATA: 1 } as const;
/** Port 0x70 bit 7 (PC/AT): NMI disable. */
export const NMI_DISABLE = 0x80;

export const CmosReg = {
  SECONDS: 0x00,
  SECONDS_ALARM: 0x01,
  MINUTES: 0x02,
  MINUTES_ALARM: 0x03,
  HOURS: 0x04,
  HOURS_ALARM: 0x05,
  DAY_OF_WEEK: 0x06,
  DAY_OF_MONTH: 0x07,
  MONTH: 0x08,
  YEAR: 0x09,
  A: 0x0a,
  B: 0x0b,
  C: 0x0c,
  D: 0x0d,
  CENTURY: 0x32,
} as const;

export const RegA = { UIP: 0x80, DV: 0x70, DV_RUNNING: 0x20, RS: 0x0f } as const;
export const RegB = {
  SET: 0x80,
  PIE: 0x40,
  AIE: 0x20,
  UIE: 0x10,
  SQWE: 0x08,
  DM_BINARY: 0x04,
  HOUR_24: 0x02,
  DSE: 0x01,
} as const;
export const RegC = { IRQF: 0x80, PF: 0x40, AF: 0x20, UF: 0x10 } as const;
export const RegD = { VRT: 0x80 } as const;
/** Alarm "don't care" (datasheet: any value 0xC0-0xFF matches every value). */
export const ALARM_DONT_CARE = 0xc0;

/** Update-in-progress lead time: UIP is set 244 µs before the update (datasheet t_BUC). */
export const UIP_LEAD_NS = 244_000;
const NS_PER_S = 1_000_000_000;
/** The divider chain's input: 32.768 kHz. */
const TIME_BASE_HZ = 32768;
/** Ticks of the 32.768 kHz base between periodic interrupts for rate select RS (1-15; 0 = none). */
export function periodicDivider(rs: number): number {
  if (rs === 0) return 0;
  if (rs <= 2) return 1 << (rs + 6); // RS 1, 2 = 256 Hz, 128 Hz (same as RS 8, 9)
  return 1 << (rs - 1);
}

function toBcd(v: number): number {
  return ((Math.floor(v / 10) % 10) << 4) | (v % 10);
}
function fromBcd(v: number): number {
  return (v >> 4) * 10 + (v & 0xf);
}

/** Broken-down UTC time. */
export interface CivilTime {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  /** 1 = Sunday … 7 = Saturday */
  weekday: number;
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
export function daysFromCivil(y: number, m: number, d: number): number {
  y -= m <= 2 ? 1 : 0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** UTC time of `sec` seconds since the epoch (no allocation beyond the result object). */
export function civilFromSeconds(sec: number, out: CivilTime): CivilTime {
  const days = Math.floor(sec / 86400);
  let rem = sec - days * 86400;
  out.hour = Math.floor(rem / 3600);
  rem -= out.hour * 3600;
  out.minute = Math.floor(rem / 60);
  out.second = rem - out.minute * 60;
  out.weekday = ((((days + 4) % 7) + 7) % 7) + 1; // 1970-01-01 was a Thursday (5)
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor(
    (doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365,
  );
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  out.day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  out.month = mp < 10 ? mp + 3 : mp - 9;
  out.year = yoe + era * 400 + (out.month <= 2 ? 1 : 0);
  return out;
}

export function secondsFromCivil(t: CivilTime): number {
  return daysFromCivil(t.year, t.month, t.day) * 86400 + t.hour * 3600 + t.minute * 60 + t.second;
}

export interface RtcOptions {
  clock: Clock;
  irq: IrqLine;
  /** wall-clock seconds since 1970-01-01 UTC at clock time 0 (default: the host's time now) */
  epochSec?: number;
}

export interface RtcState {
  cmos: number[];
  index: number;
  nmiDisabled: boolean;
  baseSec: number;
  baseNs: number;
  frozenSec: number;
  lastSec: number;
  periodicBaseNs: number;
  lastPeriodic: number;
  irqLevel: boolean;
}

export class Rtc implements Device {
  readonly name = 'rtc';
  private readonly clock: Clock;
  private readonly irq: IrqLine;
  private readonly epochSec: number;
  private readonly cmos = new Uint8Array(CMOS_SIZE);
  private index = 0;
  /** port 0x70 bit 7 as last written */
  nmiDisabled = false;
  /** running: time = baseSec + whole seconds since baseNs */
  private baseSec = 0;
  private baseNs = 0;
  /** stopped (SET or divider reset): the held time */
  private frozenSec = 0;
  /** the last second whose update (UF, alarm) was processed */
  private lastSec = 0;
  private periodicBaseNs = 0;
  private lastPeriodic = 0;
  private irqLevel = false;
  private readonly tm: CivilTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, weekday: 0 };

  constructor(opts: RtcOptions) {
    this.clock = opts.clock;
    this.irq = opts.irq;
    this.epochSec = opts.epochSec ?? Math.floor(Date.now() / 1000);
    this.reset();
  }

  reset(): void {
    // The RAM part is battery-backed: a reset keeps it. Registers A-D go to their usual values.
    this.cmos[CmosReg.A] = RegA.DV_RUNNING | 0x06; // 1024 Hz periodic rate selected, not enabled
    this.cmos[CmosReg.B] = RegB.HOUR_24;
    this.cmos[CmosReg.C] = 0;
    this.cmos[CmosReg.D] = RegD.VRT;
    this.index = 0;
    this.nmiDisabled = false;
    const now = this.clock.nowNs();
    this.setTime(this.epochSec + Math.floor(now / NS_PER_S), now);
    this.periodicBaseNs = now;
    this.lastPeriodic = 0;
    this.setIrqLevel(false);
  }

  private get running(): boolean {
    return (this.cmos[CmosReg.B]! & RegB.SET) === 0 && (this.cmos[CmosReg.A]! & RegA.DV) === RegA.DV_RUNNING;
  }

  /** The RTC's current time in seconds since the epoch. */
  seconds(now = this.clock.nowNs()): number {
    return this.running ? this.baseSec + Math.floor((now - this.baseNs) / NS_PER_S) : this.frozenSec;
  }

  /** Set the wall-clock time (seconds since 1970 UTC); the next update is one second from `now`. */
  setTime(sec: number, now = this.clock.nowNs()): void {
    this.baseSec = sec;
    this.baseNs = now;
    this.frozenSec = sec;
    this.lastSec = sec;
  }

  /** Write a CMOS RAM byte directly (the VMM's firmware role: memory sizes, CPU count). */
  setCmosByte(index: number, value: number): void {
    if (index < 0x0e || index >= CMOS_SIZE)
      throw new TsvmmError('CMOS_INDEX', `CMOS RAM bytes are 0x0e-0x7f, not ${index}`);
    this.cmos[index] = value & 0xff;
  }

  cmosByte(index: number): number {
    return this.cmos[index & 0x7f]!;
  }

  // ---------------------------------------------------------------- time format

  private get binary(): boolean {
    return (this.cmos[CmosReg.B]! & RegB.DM_BINARY) !== 0;
  }

  private enc(v: number): number {
    return this.binary ? v : toBcd(v);
  }
  private dec(v: number): number {
    return this.binary ? v : fromBcd(v);
  }

  private encHour(h: number): number {
    if (this.cmos[CmosReg.B]! & RegB.HOUR_24) return this.enc(h);
    const h12 = h % 12 === 0 ? 12 : h % 12;
    return this.enc(h12) | (h >= 12 ? 0x80 : 0);
  }
  private decHour(b: number): number {
    if (this.cmos[CmosReg.B]! & RegB.HOUR_24) return this.dec(b);
    const h = this.dec(b & 0x7f) % 12;
    return b & 0x80 ? h + 12 : h;
  }

  /** The clock byte at `index` (0x00-0x09, 0x32) for time `sec`. */
  private timeByte(index: number, sec: number): number {
    const t = civilFromSeconds(sec, this.tm);
    switch (index) {
      case CmosReg.SECONDS:
        return this.enc(t.second);
      case CmosReg.MINUTES:
        return this.enc(t.minute);
      case CmosReg.HOURS:
        return this.encHour(t.hour);
      case CmosReg.DAY_OF_WEEK:
        return this.enc(t.weekday);
      case CmosReg.DAY_OF_MONTH:
        return this.enc(t.day);
      case CmosReg.MONTH:
        return this.enc(t.month);
      case CmosReg.YEAR:
        return this.enc(((t.year % 100) + 100) % 100);
      default:
        return this.enc(Math.floor(t.year / 100) % 100);
    }
  }

  /** A guest write of a clock byte: replace that field of the current time. */
  private writeTimeByte(index: number, value: number, now: number): void {
    const t = civilFromSeconds(this.seconds(now), this.tm);
    switch (index) {
      case CmosReg.SECONDS:
        t.second = Math.min(59, this.dec(value));
        break;
      case CmosReg.MINUTES:
        t.minute = Math.min(59, this.dec(value));
        break;
      case CmosReg.HOURS:
        t.hour = Math.min(23, this.decHour(value));
        break;
      case CmosReg.DAY_OF_WEEK:
        return; // derived from the date here
      case CmosReg.DAY_OF_MONTH:
        t.day = Math.max(1, Math.min(31, this.dec(value)));
        break;
      case CmosReg.MONTH:
        t.month = Math.max(1, Math.min(12, this.dec(value)));
        break;
      case CmosReg.YEAR:
        t.year = Math.floor(t.year / 100) * 100 + (this.dec(value) % 100);
        break;
      default: // century
        t.year = (this.dec(value) % 100) * 100 + (t.year % 100);
        break;
    }
    const sec = secondsFromCivil(t);
    if (this.running) {
      this.baseSec = sec - Math.floor((now - this.baseNs) / NS_PER_S);
    } else {
      this.frozenSec = sec;
    }
    this.lastSec = sec;
  }

  // ---------------------------------------------------------------- update cycle and interrupts

  private uip(now: number): boolean {
    if (!this.running) return false;
    const frac = (((now - this.baseNs) % NS_PER_S) + NS_PER_S) % NS_PER_S;
    return frac >= NS_PER_S - UIP_LEAD_NS;
  }

  private alarmFieldMatches(alarmIndex: number, index: number, sec: number): boolean {
    const alarm = this.cmos[alarmIndex]!;
    return (alarm & ALARM_DONT_CARE) === ALARM_DONT_CARE || alarm === this.timeByte(index, sec);
  }

  private alarmMatches(sec: number): boolean {
    return (
      this.alarmFieldMatches(CmosReg.SECONDS_ALARM, CmosReg.SECONDS, sec) &&
      this.alarmFieldMatches(CmosReg.MINUTES_ALARM, CmosReg.MINUTES, sec) &&
      this.alarmFieldMatches(CmosReg.HOURS_ALARM, CmosReg.HOURS, sec)
    );
  }

  private periodicIndex(now: number): number {
    const div = periodicDivider(this.cmos[CmosReg.A]! & RegA.RS);
    if (div === 0 || now <= this.periodicBaseNs) return 0;
    const ns = now - this.periodicBaseNs;
    const s = Math.floor(ns / NS_PER_S);
    const ticks = s * TIME_BASE_HZ + Math.floor(((ns - s * NS_PER_S) * TIME_BASE_HZ) / NS_PER_S);
    return Math.floor(ticks / div);
  }

  /** Bring register C up to `now` and drive IRQ8. */
  private update(now: number): void {
    let c = this.cmos[CmosReg.C]!;
    if (this.running) {
      const cur = this.seconds(now);
      if (cur > this.lastSec) {
        c |= RegC.UF;
        if (!(c & RegC.AF)) {
          // An alarm repeats at most daily: only the last day of missed seconds needs checking.
          for (let s = Math.max(this.lastSec + 1, cur - 86399); s <= cur; s++) {
            if (this.alarmMatches(s)) {
              c |= RegC.AF;
              break;
            }
          }
        }
        this.lastSec = cur;
      }
    }
    const p = this.periodicIndex(now);
    if (p > this.lastPeriodic) {
      c |= RegC.PF;
      this.lastPeriodic = p;
    }
    const b = this.cmos[CmosReg.B]!;
    if ((c & RegC.PF && b & RegB.PIE) || (c & RegC.AF && b & RegB.AIE) || (c & RegC.UF && b & RegB.UIE))
      c |= RegC.IRQF;
    this.cmos[CmosReg.C] = c;
    this.setIrqLevel((c & RegC.IRQF) !== 0);
  }

  private setIrqLevel(level: boolean): void {
    if (level === this.irqLevel) return;
    this.irqLevel = level;
    this.irq.set(level);
  }

  /** Bring the flags and IRQ8 up to date (the run loop calls this, like Pit8254.poll). */
  poll(): void {
    this.update(this.clock.nowNs());
  }

  /** When an enabled interrupt can next be raised (clock ns), or undefined. */
  nextEventNs(): number | undefined {
    if (this.irqLevel) return undefined; // already asserted until the guest reads C
    const b = this.cmos[CmosReg.B]!;
    let next: number | undefined;
    if (b & RegB.PIE) {
      const div = periodicDivider(this.cmos[CmosReg.A]! & RegA.RS);
      if (div !== 0) {
        const tick = (this.lastPeriodic + 1) * div;
        const s = Math.floor(tick / TIME_BASE_HZ);
        next =
          this.periodicBaseNs +
          s * NS_PER_S +
          Math.ceil(((tick - s * TIME_BASE_HZ) * NS_PER_S) / TIME_BASE_HZ);
      }
    }
    if (b & (RegB.UIE | RegB.AIE) && this.running) {
      const t = this.baseNs + (this.lastSec + 1 - this.baseSec) * NS_PER_S;
      next = next === undefined ? t : Math.min(next, t);
    }
    return next;
  }

  // ---------------------------------------------------------------- ports

  read(offset: number, _size: AccessSize): number {
    if (offset === RtcPort.INDEX) return 0xff; // write-only on the PC
    const now = this.clock.nowNs();
    const i = this.index;
    switch (i) {
      case CmosReg.A:
        return (this.cmos[i]! & ~RegA.UIP) | (this.uip(now) ? RegA.UIP : 0);
      case CmosReg.C: {
        this.update(now);
        const c = this.cmos[i]!;
        this.cmos[i] = 0;
        this.setIrqLevel(false);
        return c;
      }
      case CmosReg.SECONDS:
      case CmosReg.MINUTES:
      case CmosReg.HOURS:
      case CmosReg.DAY_OF_WEEK:
      case CmosReg.DAY_OF_MONTH:
      case CmosReg.MONTH:
      case CmosReg.YEAR:
      case CmosReg.CENTURY:
        return this.timeByte(i, this.seconds(now));
      default:
        return this.cmos[i]!;
    }
  }

  write(offset: number, _size: AccessSize, value: number): void {
    value &= 0xff;
    if (offset === RtcPort.INDEX) {
      this.index = value & 0x7f;
      this.nmiDisabled = (value & NMI_DISABLE) !== 0;
      return;
    }
    const now = this.clock.nowNs();
    const i = this.index;
    switch (i) {
      case CmosReg.SECONDS:
      case CmosReg.MINUTES:
      case CmosReg.HOURS:
      case CmosReg.DAY_OF_WEEK:
      case CmosReg.DAY_OF_MONTH:
      case CmosReg.MONTH:
      case CmosReg.YEAR:
      case CmosReg.CENTURY:
        this.writeTimeByte(i, value, now);
        return;
      case CmosReg.A: {
        this.update(now);
        const wasRunning = this.running;
        const oldRs = this.cmos[i]! & RegA.RS;
        if (wasRunning) this.frozenSec = this.seconds(now);
        this.cmos[i] = value & ~RegA.UIP;
        if (!wasRunning && this.running) {
          // Divider restarted: the first update comes 500 ms later.
          this.baseSec = this.frozenSec;
          this.baseNs = now - NS_PER_S / 2;
          this.lastSec = this.frozenSec;
        }
        if ((value & RegA.RS) !== oldRs) {
          this.periodicBaseNs = now;
          this.lastPeriodic = 0;
        }
        return;
      }
      case CmosReg.B: {
        this.update(now);
        const wasRunning = this.running;
        if (wasRunning) this.frozenSec = this.seconds(now);
        let v = value;
        if (v & RegB.SET) v &= ~RegB.UIE; // SET clears UIE (datasheet, register B)
        this.cmos[i] = v;
        if (!wasRunning && this.running) {
          this.baseSec = this.frozenSec;
          this.baseNs = now;
          this.lastSec = this.frozenSec;
        }
        this.update(now);
        return;
      }
      case CmosReg.C:
      case CmosReg.D:
        return; // read-only
      default:
        this.cmos[i] = value;
    }
  }

  snapshot(): RtcState {
    return {
      cmos: [...this.cmos],
      index: this.index,
      nmiDisabled: this.nmiDisabled,
      baseSec: this.baseSec,
      baseNs: this.baseNs,
      frozenSec: this.frozenSec,
      lastSec: this.lastSec,
      periodicBaseNs: this.periodicBaseNs,
      lastPeriodic: this.lastPeriodic,
      irqLevel: this.irqLevel,
    };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<RtcState>(this.name, state, {
      cmos: 'array',
      index: 'number',
      nmiDisabled: 'boolean',
      baseSec: 'number',
      baseNs: 'number',
      frozenSec: 'number',
      lastSec: 'number',
      periodicBaseNs: 'number',
      lastPeriodic: 'number',
      irqLevel: 'boolean',
    });
    if (s.cmos.length !== CMOS_SIZE || s.cmos.some((x) => typeof x !== 'number')) {
      throw new TsvmmError(
        'SNAPSHOT_INVALID',
        `${this.name}: snapshot field 'cmos' must hold ${CMOS_SIZE} numbers`,
      );
    }
    this.cmos.set(s.cmos);
    this.index = s.index & 0x7f;
    this.nmiDisabled = s.nmiDisabled;
    this.baseSec = s.baseSec;
    this.baseNs = s.baseNs;
    this.frozenSec = s.frozenSec;
    this.lastSec = s.lastSec;
    this.periodicBaseNs = s.periodicBaseNs;
    this.lastPeriodic = s.lastPeriodic;
    this.irqLevel = s.irqLevel;
    this.irq.set(this.irqLevel);
  }
}
