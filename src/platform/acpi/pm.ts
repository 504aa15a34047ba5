// The ACPI fixed-hardware register blocks the FADT points at (ACPI 6.5 §4.8.1 "Fixed Hardware
// Registers": §4.8.3.1 PM1 event (PM1_STS Table 4.16, PM1_EN Table 4.18), §4.8.3.2 PM1 control (Table
// 4.20), §4.8.3.3 power management timer), as one I/O device at ACPI_PM_BASE (0x600, as QEMU's PIIX4):
//
//   port off  width  register
//   +0        2      PM1a_STS  TMR_STS 0, PWRBTN_STS 8, WAK_STS 15 — write 1 to clear
//   +2        2      PM1a_EN   TMR_EN 0, PWRBTN_EN 8
//   +4        2      PM1a_CNT  SCI_EN 0 (always 1: no SMI handshake), SLP_TYP 12:10, SLP_EN 13 (write-only)
//   +8        4      PM_TMR    24-bit counter at 3.579545 MHz (FADT TMR_VAL_EXT = 0)
//
// Writing SLP_EN with SLP_TYP = ACPI_S5_SLP_TYP (the DSDT's \_S5 value) is the guest's power-off;
// the device reports every sleep request through `onSleep`. The SCI (ISA IRQ 9, level) is asserted
// while a status bit and its enable are both set: TMR_STS is set each time bit 23 of the timer
// changes; PWRBTN_STS by pressPowerButton(). The PM timer is computed from the Clock (no drift).

import type { AccessSize, Clock, Device, IrqLine } from '../../devices/device.ts';
import { checkSnapshot } from '../../devices/snapshot.ts';

export const ACPI_PM_BASE = 0x600;
export const ACPI_PM_PORTS = 12;
/** Offsets of the blocks inside the device (the FADT's PM1a_EVT_BLK, PM1a_CNT_BLK, PM_TMR_BLK). */
export const PmBlock = { PM1_EVT: 0, PM1_CNT: 4, PM_TMR: 8 } as const;
export const PmReg = { PM1_STS: 0, PM1_EN: 2, PM1_CNT: 4, PM_TMR: 8 } as const;

export const Pm1Sts = {
  TMR_STS: 1 << 0,
  BM_STS: 1 << 4,
  GBL_STS: 1 << 5,
  PWRBTN_STS: 1 << 8,
  SLPBTN_STS: 1 << 9,
  RTC_STS: 1 << 10,
  WAK_STS: 1 << 15,
} as const;
export const Pm1En = {
  TMR_EN: 1 << 0,
  GBL_EN: 1 << 5,
  PWRBTN_EN: 1 << 8,
  SLPBTN_EN: 1 << 9,
  RTC_EN: 1 << 10,
} as const;
export const Pm1Cnt = {
  SCI_EN: 1 << 0,
  BM_RLD: 1 << 1,
  GBL_RLS: 1 << 2,
  SLP_TYP_SHIFT: 10,
  SLP_TYP: 7 << 10,
  SLP_EN: 1 << 13,
} as const;

/** The SLP_TYP value the DSDT's \_S5 object names (any 3-bit value works; QEMU's Q35 uses 5 too). */
export const ACPI_S5_SLP_TYP = 5;
export const PM_TIMER_HZ = 3_579_545;
const PM_TIMER_MASK = 0xffffff;
const NS_PER_S = 1_000_000_000;

/** PM timer ticks elapsed at `ns` (exact, as Pit8254's conversion). */
export function pmTimerTicksAt(ns: number): number {
  const s = Math.floor(ns / NS_PER_S);
  return s * PM_TIMER_HZ + Math.floor(((ns - s * NS_PER_S) * PM_TIMER_HZ) / NS_PER_S);
}

export interface AcpiPmState {
  sts: number;
  en: number;
  cnt: number;
  lastTmrHalf: number;
  sci: boolean;
}

export class AcpiPm implements Device {
  readonly name = 'acpi-pm';
  private sts = 0;
  private en = 0;
  private cnt = Pm1Cnt.SCI_EN;
  /** floor(ticks / 2^23) at the last look: TMR_STS when it changes */
  private lastTmrHalf = 0;
  private sci = false;

  constructor(
    private readonly clock: Clock,
    /** ISA IRQ 9 (InterruptRouter.isaLine(SCI_IRQ)) */
    private readonly sciLine: IrqLine,
    /** a sleep request: SLP_TYP (ACPI_S5_SLP_TYP = power off) */
    private readonly onSleep: (slpTyp: number) => void,
  ) {
    this.reset();
  }

  reset(): void {
    this.sts = 0;
    this.en = 0;
    this.cnt = Pm1Cnt.SCI_EN;
    this.lastTmrHalf = Math.floor(pmTimerTicksAt(this.clock.nowNs()) / (1 << 23));
    this.setSci(false);
  }

  /** The 24-bit PM timer value now. */
  timer(): number {
    return pmTimerTicksAt(this.clock.nowNs()) & PM_TIMER_MASK;
  }

  private updateTimerStatus(): void {
    const half = Math.floor(pmTimerTicksAt(this.clock.nowNs()) / (1 << 23));
    if (half !== this.lastTmrHalf) {
      this.lastTmrHalf = half;
      this.sts |= Pm1Sts.TMR_STS;
    }
  }

  private setSci(level: boolean): void {
    if (level === this.sci) return;
    this.sci = level;
    this.sciLine.set(level);
  }

  private updateSci(): void {
    this.setSci((this.sts & this.en & (Pm1Sts.TMR_STS | Pm1Sts.PWRBTN_STS)) !== 0);
  }

  /** The fixed power button (ACPI §4.8.2.2.1): a graceful shutdown request to the guest. */
  pressPowerButton(): void {
    this.sts |= Pm1Sts.PWRBTN_STS;
    this.updateSci();
  }

  /** Bring TMR_STS and the SCI up to date (run-loop polling, like Pit8254.poll). */
  poll(): void {
    this.updateTimerStatus();
    this.updateSci();
  }

  /** When the timer-carry SCI can next fire (clock ns), or undefined when TMR_EN is clear. */
  nextEventNs(): number | undefined {
    if (!(this.en & Pm1En.TMR_EN) || this.sci) return undefined;
    const tick = (this.lastTmrHalf + 1) * (1 << 23);
    const s = Math.floor(tick / PM_TIMER_HZ);
    return s * NS_PER_S + Math.ceil(((tick - s * PM_TIMER_HZ) * NS_PER_S) / PM_TIMER_HZ);
  }

  read(offset: number, size: AccessSize): number {
    this.updateTimerStatus();
    let v: number;
    let base: number;
    if (offset >= PmReg.PM_TMR) {
      v = this.timer();
      base = PmReg.PM_TMR;
    } else if (offset >= PmReg.PM1_CNT) {
      v = this.cnt & ~Pm1Cnt.SLP_EN;
      base = PmReg.PM1_CNT;
    } else if (offset >= PmReg.PM1_EN) {
      v = this.en;
      base = PmReg.PM1_EN;
    } else {
      v = this.sts;
      base = PmReg.PM1_STS;
    }
    v = v >>> ((offset - base) * 8);
    return size === 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
  }

  write(offset: number, size: AccessSize, value: number): void {
    // Byte and word writes land in the register containing `offset`; wider ones spill into the next.
    for (let i = 0; i < size; i++) this.writeByte(offset + i, (value >>> (8 * i)) & 0xff);
  }

  private writeByte(offset: number, b: number): void {
    switch (offset) {
      case PmReg.PM1_STS:
      case PmReg.PM1_STS + 1:
        this.updateTimerStatus();
        this.sts &= ~(b << ((offset - PmReg.PM1_STS) * 8)); // write 1 to clear
        this.updateSci();
        return;
      case PmReg.PM1_EN:
      case PmReg.PM1_EN + 1: {
        const sh = (offset - PmReg.PM1_EN) * 8;
        this.en = (this.en & ~(0xff << sh)) | (b << sh);
        this.updateSci();
        return;
      }
      case PmReg.PM1_CNT:
        this.cnt = (this.cnt & 0xff00) | (b & ~Pm1Cnt.SCI_EN) | Pm1Cnt.SCI_EN;
        return;
      case PmReg.PM1_CNT + 1: {
        const cnt = (this.cnt & 0xff) | (b << 8);
        this.cnt = cnt & ~Pm1Cnt.SLP_EN;
        if (cnt & Pm1Cnt.SLP_EN) {
          this.sts |= Pm1Sts.WAK_STS;
          this.onSleep((cnt & Pm1Cnt.SLP_TYP) >>> Pm1Cnt.SLP_TYP_SHIFT);
        }
        return;
      }
      default:
        return; // the PM timer is read-only
    }
  }

  snapshot(): AcpiPmState {
    return { sts: this.sts, en: this.en, cnt: this.cnt, lastTmrHalf: this.lastTmrHalf, sci: this.sci };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<AcpiPmState>(this.name, state, {
      sts: 'number',
      en: 'number',
      cnt: 'number',
      lastTmrHalf: 'number',
      sci: 'boolean',
    });
    this.sts = s.sts & 0xffff;
    this.en = s.en & 0xffff;
    this.cnt = (s.cnt & 0xffff) | Pm1Cnt.SCI_EN;
    this.lastTmrHalf = s.lastTmrHalf;
    this.sci = !s.sci;
    this.setSci(s.sci);
  }
}
