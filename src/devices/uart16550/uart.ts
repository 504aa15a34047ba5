// The 16550A UART (National Semiconductor PC16550D datasheet, "Register Summary" and §8 "Registers"),
// as found at COM1 (I/O 0x3F8, IRQ4) on the PC. Transmission is instantaneous: a byte written to THR
// goes to the sink at once, so LSR.THRE and LSR.TEMT read as 1 again right after the write.
//
// Register map (offset from base; DLAB = LCR bit 7):
//   off  DLAB  read                         write
//   0    0     RBR receive buffer           THR transmit holding
//   0    1     DLL divisor latch low        DLL
//   1    0     IER interrupt enable         IER
//   1    1     DLM divisor latch high       DLM
//   2    -     IIR interrupt identification FCR FIFO control
//   3    -     LCR line control             LCR
//   4    -     MCR modem control            MCR
//   5    -     LSR line status              (factory test; ignored)
//   6    -     MSR modem status             (ignored)
//   7    -     SCR scratch                  SCR
//
// Quirks of this model: the IRQ output is not gated by MCR.OUT2 (as in QEMU's serial model); with the
// FIFO enabled and fewer bytes than the trigger level, the character-timeout indication (IIR 0xC) is
// raised at once instead of after four character times; parity/framing errors never happen.

import type { AccessSize, Device, IrqLine } from '../device.ts';
import { checkSnapshot } from '../snapshot.ts';

export const UART_REG = {
  RBR_THR_DLL: 0,
  IER_DLM: 1,
  IIR_FCR: 2,
  LCR: 3,
  MCR: 4,
  LSR: 5,
  MSR: 6,
  SCR: 7,
} as const;

/** IER bits */
export const Ier = { ERBFI: 0x01, ETBEI: 0x02, ELSI: 0x04, EDSSI: 0x08 } as const;
/** IIR values (bits 3:1 = source, bit 0 = 1 when nothing pending, bits 7:6 = FIFOs enabled) */
export const Iir = {
  NONE: 0x01,
  MSR: 0x00,
  THRE: 0x02,
  RDA: 0x04,
  RLS: 0x06,
  TIMEOUT: 0x0c,
  FIFO_ENABLED: 0xc0,
} as const;
/** FCR bits */
export const Fcr = { ENABLE: 0x01, CLEAR_RX: 0x02, CLEAR_TX: 0x04, TRIGGER_SHIFT: 6 } as const;
/** LCR bits */
export const Lcr = { DLAB: 0x80 } as const;
/** MCR bits */
export const Mcr = { DTR: 0x01, RTS: 0x02, OUT1: 0x04, OUT2: 0x08, LOOP: 0x10 } as const;
/** LSR bits */
export const Lsr = {
  DR: 0x01,
  OE: 0x02,
  PE: 0x04,
  FE: 0x08,
  BI: 0x10,
  THRE: 0x20,
  TEMT: 0x40,
  RXFE: 0x80,
} as const;
/** MSR bits */
export const Msr = {
  DCTS: 0x01,
  DDSR: 0x02,
  TERI: 0x04,
  DDCD: 0x08,
  CTS: 0x10,
  DSR: 0x20,
  RI: 0x40,
  DCD: 0x80,
} as const;

export const UART_FIFO_SIZE = 16;
const TRIGGER_LEVELS = [1, 4, 8, 14] as const;

export const COM1_BASE = 0x3f8;
export const COM1_IRQ = 4;
export const UART_PORTS = 8;

export interface UartState {
  ier: number;
  lcr: number;
  mcr: number;
  lsr: number;
  msr: number;
  scr: number;
  dll: number;
  dlm: number;
  fcr: number;
  rx: number[];
  thrIrq: boolean;
}

export class Uart16550 implements Device {
  readonly name = 'uart16550';
  private ier = 0;
  private lcr = 0;
  private mcr = 0;
  private lsr = Lsr.THRE | Lsr.TEMT;
  private msr = 0;
  private scr = 0;
  private dll = 0x0c; // 9600 baud after reset, as PC firmware leaves it
  private dlm = 0;
  private fcr = 0;
  private rx: number[] = [];
  /** the THRE interrupt condition (cleared by reading IIR while it is the source, or writing THR) */
  private thrIrq = false;
  private irqLevel = false;
  private readonly one = new Uint8Array(1);

  constructor(
    private readonly sink: (bytes: Uint8Array) => void,
    private readonly irq?: IrqLine,
  ) {
    this.reset();
  }

  reset(): void {
    this.ier = 0;
    this.lcr = 0;
    this.mcr = 0;
    this.lsr = Lsr.THRE | Lsr.TEMT;
    this.msr = Msr.DCD | Msr.DSR | Msr.CTS;
    this.scr = 0;
    this.dll = 0x0c;
    this.dlm = 0;
    this.fcr = 0;
    this.rx = [];
    this.thrIrq = false;
    this.updateIrq();
  }

  private fifoEnabled(): boolean {
    return (this.fcr & Fcr.ENABLE) !== 0;
  }

  private rxCapacity(): number {
    return this.fifoEnabled() ? UART_FIFO_SIZE : 1;
  }

  /** How many more bytes the receiver accepts before overrunning. */
  rxSpace(): number {
    return this.rxCapacity() - this.rx.length;
  }

  /** Host side: a byte arrives on the serial line. Returns false (and sets LSR.OE) on overrun. */
  receive(byte: number): boolean {
    if (this.mcr & Mcr.LOOP) return true; // the line is disconnected in loopback mode
    return this.pushRx(byte & 0xff);
  }

  private pushRx(byte: number): boolean {
    if (this.rx.length >= this.rxCapacity()) {
      this.lsr |= Lsr.OE;
      this.updateIrq();
      return false;
    }
    this.rx.push(byte);
    this.lsr |= Lsr.DR;
    this.updateIrq();
    return true;
  }

  /** The current IIR source (without side effects). */
  private pendingIir(): number {
    if (this.ier & Ier.ELSI && this.lsr & Lsr.OE) return Iir.RLS;
    if (this.ier & Ier.ERBFI && this.rx.length > 0) {
      if (!this.fifoEnabled()) return Iir.RDA;
      return this.rx.length >= TRIGGER_LEVELS[this.fcr >> Fcr.TRIGGER_SHIFT]! ? Iir.RDA : Iir.TIMEOUT;
    }
    if (this.ier & Ier.ETBEI && this.thrIrq) return Iir.THRE;
    if (this.ier & Ier.EDSSI && this.msr & 0x0f) return Iir.MSR;
    return Iir.NONE;
  }

  private updateIrq(): void {
    const level = this.pendingIir() !== Iir.NONE;
    if (level !== this.irqLevel) {
      this.irqLevel = level;
      this.irq?.set(level);
    }
  }

  /** Is the IRQ output asserted? */
  irqAsserted(): boolean {
    return this.irqLevel;
  }

  read(offset: number, _size: AccessSize): number {
    switch (offset) {
      case UART_REG.RBR_THR_DLL: {
        if (this.lcr & Lcr.DLAB) return this.dll;
        const b = this.rx.shift() ?? 0;
        if (this.rx.length === 0) this.lsr &= ~Lsr.DR;
        this.updateIrq();
        return b;
      }
      case UART_REG.IER_DLM:
        return this.lcr & Lcr.DLAB ? this.dlm : this.ier;
      case UART_REG.IIR_FCR: {
        const iir = this.pendingIir();
        if (iir === Iir.THRE) {
          this.thrIrq = false;
          this.updateIrq();
        }
        return iir | (this.fifoEnabled() ? Iir.FIFO_ENABLED : 0);
      }
      case UART_REG.LCR:
        return this.lcr;
      case UART_REG.MCR:
        return this.mcr;
      case UART_REG.LSR: {
        const v =
          this.lsr | (this.fifoEnabled() && this.lsr & (Lsr.OE | Lsr.PE | Lsr.FE | Lsr.BI) ? Lsr.RXFE : 0);
        this.lsr &= ~(Lsr.OE | Lsr.PE | Lsr.FE | Lsr.BI);
        this.updateIrq();
        return v;
      }
      case UART_REG.MSR: {
        const v = this.msr;
        this.msr &= 0xf0;
        this.updateIrq();
        return v;
      }
      case UART_REG.SCR:
        return this.scr;
      default:
        return 0xff;
    }
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    switch (offset) {
      case UART_REG.RBR_THR_DLL:
        if (this.lcr & Lcr.DLAB) {
          this.dll = v;
          return;
        }
        this.transmit(v);
        return;
      case UART_REG.IER_DLM:
        if (this.lcr & Lcr.DLAB) {
          this.dlm = v;
          return;
        }
        {
          const wasThre = this.ier & Ier.ETBEI;
          this.ier = v & 0x0f;
          // Enabling ETBEI while THR is empty raises the THRE interrupt (datasheet §8.4).
          if (!wasThre && this.ier & Ier.ETBEI && this.lsr & Lsr.THRE) this.thrIrq = true;
        }
        this.updateIrq();
        return;
      case UART_REG.IIR_FCR: {
        const wasEnabled = this.fifoEnabled();
        const enabled = (v & Fcr.ENABLE) !== 0;
        // Changing FIFO enable clears both FIFOs.
        if (v & Fcr.CLEAR_RX || wasEnabled !== enabled) {
          this.rx = [];
          this.lsr &= ~Lsr.DR;
        }
        this.fcr = enabled ? v & 0xc1 : 0;
        this.updateIrq();
        return;
      }
      case UART_REG.LCR:
        this.lcr = v;
        return;
      case UART_REG.MCR: {
        this.mcr = v & 0x1f;
        this.updateMsrFromLoop();
        this.updateIrq();
        return;
      }
      case UART_REG.SCR:
        this.scr = v;
        return;
      default:
        return; // LSR / MSR writes have no effect
    }
  }

  private transmit(v: number): void {
    if (this.mcr & Mcr.LOOP) {
      this.pushRx(v);
    } else {
      this.one[0] = v;
      this.sink(this.one);
    }
    // The byte leaves at once: THR and the shift register are empty again, which is a new THRE event.
    this.lsr |= Lsr.THRE | Lsr.TEMT;
    this.thrIrq = true;
    this.updateIrq();
  }

  /** In loopback, the modem inputs follow the outputs: CTS=RTS, DSR=DTR, RI=OUT1, DCD=OUT2. */
  private updateMsrFromLoop(): void {
    const old = this.msr;
    let inputs: number;
    if (this.mcr & Mcr.LOOP) {
      inputs =
        (this.mcr & Mcr.RTS ? Msr.CTS : 0) |
        (this.mcr & Mcr.DTR ? Msr.DSR : 0) |
        (this.mcr & Mcr.OUT1 ? Msr.RI : 0) |
        (this.mcr & Mcr.OUT2 ? Msr.DCD : 0);
    } else {
      inputs = Msr.DCD | Msr.DSR | Msr.CTS;
    }
    const changed = (old ^ inputs) & 0xf0;
    let deltas = old & 0x0f;
    if (changed & Msr.CTS) deltas |= Msr.DCTS;
    if (changed & Msr.DSR) deltas |= Msr.DDSR;
    if (changed & Msr.DCD) deltas |= Msr.DDCD;
    if (old & Msr.RI && !(inputs & Msr.RI)) deltas |= Msr.TERI; // trailing edge of RI
    this.msr = inputs | deltas;
  }

  snapshot(): UartState {
    return {
      ier: this.ier,
      lcr: this.lcr,
      mcr: this.mcr,
      lsr: this.lsr,
      msr: this.msr,
      scr: this.scr,
      dll: this.dll,
      dlm: this.dlm,
      fcr: this.fcr,
      rx: [...this.rx],
      thrIrq: this.thrIrq,
    };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<UartState>(this.name, state, {
      ier: 'number',
      lcr: 'number',
      mcr: 'number',
      lsr: 'number',
      msr: 'number',
      scr: 'number',
      dll: 'number',
      dlm: 'number',
      fcr: 'number',
      rx: 'array',
      thrIrq: 'boolean',
    });
    this.ier = s.ier;
    this.lcr = s.lcr;
    this.mcr = s.mcr;
    this.lsr = s.lsr;
    this.msr = s.msr;
    this.scr = s.scr;
    this.dll = s.dll;
    this.dlm = s.dlm;
    this.fcr = s.fcr;
    this.rx = [...s.rx];
    this.thrIrq = s.thrIrq;
    this.updateIrq();
  }
}
