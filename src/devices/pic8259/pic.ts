// The 8259A programmable interrupt controller pair of the PC (Intel 8259A datasheet, "Programming the
// 8259A": ICW1-ICW4, OCW1-OCW3; PC/AT wiring: master at 0x20/0x21, slave at 0xA0/0xA1 cascaded on
// master IR2; the PIIX/ICH edge/level control registers ELCR1/ELCR2 at 0x4D0/0x4D1).
//
// Per chip (offset from its base):
//   off  read                                  write
//   0    IRR or ISR (OCW3 RR/RIS), or the      ICW1 (bit 4 = 1) / OCW2 (bits 4:3 = 00) /
//        poll word when OCW3 set P             OCW3 (bits 4:3 = 01)
//   1    IMR (OCW1)                            ICW2, ICW3, ICW4 during initialization, else OCW1 (IMR)
// ELCR (one device, 2 ports at 0x4D0): bit n = IRQ n is level-triggered (IRQ0-2 and 8, 13 are fixed
// edge on the PIIX, so those bits are read-only zero).
//
// Interrupt acknowledge (the INTA cycle) is `PicPair.acknowledge()`: it returns the vector the CPU
// takes and updates IRR/ISR. With nothing requested any more it returns the spurious vector of the
// chip (IR7; for the slave the master's ISR bit 2 stays set, as on real hardware).

import type { AccessSize, Device, IrqLine } from '../device.ts';
import { checkSnapshot } from '../snapshot.ts';

export const PIC_MASTER_BASE = 0x20;
export const PIC_SLAVE_BASE = 0xa0;
export const PIC_ELCR_BASE = 0x4d0;
export const PIC_CASCADE_IRQ = 2;

export const PIC_REG = { COMMAND: 0, DATA: 1 } as const;

/** ICW1 bits (written to offset 0 with bit 4 set) */
export const Icw1 = { IC4: 0x01, SNGL: 0x02, ADI: 0x04, LTIM: 0x08, INIT: 0x10 } as const;
/** ICW4 bits */
export const Icw4 = { UPM: 0x01, AEOI: 0x02, MS: 0x04, BUF: 0x08, SFNM: 0x10 } as const;
/** OCW2 commands (bits 7:5) */
export const Ocw2 = {
  ROTATE_AEOI_CLEAR: 0x00,
  NONSPECIFIC_EOI: 0x20,
  NOP: 0x40,
  SPECIFIC_EOI: 0x60,
  ROTATE_AEOI_SET: 0x80,
  ROTATE_NONSPECIFIC_EOI: 0xa0,
  SET_PRIORITY: 0xc0,
  ROTATE_SPECIFIC_EOI: 0xe0,
} as const;
/** OCW3 bits (written to offset 0 with bits 4:3 = 01) */
export const Ocw3 = { RIS: 0x01, RR: 0x02, POLL: 0x04, ONE: 0x08, SMM: 0x20, ESMM: 0x40 } as const;

/** ELCR bits that are hard-wired edge on the PIIX (IRQ0, 1, 2 on ELCR1; IRQ8, 13 on ELCR2). */
export const ELCR_MASK = [0xf8, 0xde] as const;

export interface PicChipState {
  irr: number;
  isr: number;
  imr: number;
  lines: number;
  elcr: number;
  vectorBase: number;
  priorityAdd: number;
  initStep: number;
  needIcw4: boolean;
  single: boolean;
  ltim: boolean;
  autoEoi: boolean;
  rotateOnAutoEoi: boolean;
  specialFullyNested: boolean;
  specialMask: boolean;
  readIsr: boolean;
  poll: boolean;
}

/** One 8259A. */
export class Pic8259 implements Device {
  irr = 0;
  isr = 0;
  imr = 0;
  /** current input levels (for edge detection) */
  lines = 0;
  /** edge/level control: bit n = IR n level-triggered */
  elcr = 0;
  vectorBase = 0;
  /** the IR with the lowest priority is (priorityAdd - 1) & 7; IR priorityAdd is the highest */
  priorityAdd = 0;
  /** 0 = ready (OCWs), 2..4 = expecting ICW2..ICW4 */
  initStep = 0;
  needIcw4 = false;
  single = false;
  ltim = false;
  autoEoi = false;
  rotateOnAutoEoi = false;
  specialFullyNested = false;
  specialMask = false;
  readIsr = false;
  poll = false;

  constructor(
    readonly name: string,
    /** called whenever IRR/ISR/IMR may have changed the INT output */
    private readonly changed: () => void,
    private readonly elcrMask: number,
  ) {}

  reset(): void {
    this.irr = 0;
    this.isr = 0;
    this.imr = 0;
    this.lines = 0;
    this.elcr = 0;
    this.vectorBase = 0;
    this.priorityAdd = 0;
    this.initStep = 0;
    this.needIcw4 = false;
    this.single = false;
    this.ltim = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
  }

  private isLevel(irq: number): boolean {
    return this.ltim || (this.elcr & (1 << irq)) !== 0;
  }

  /** Drive input IR `irq`. Edge mode latches IRR on a rising edge; level mode follows the line. */
  setInput(irq: number, level: boolean): void {
    const m = 1 << irq;
    if (this.isLevel(irq)) {
      if (level) this.irr |= m;
      else this.irr &= ~m;
    } else if (level && !(this.lines & m)) {
      this.irr |= m;
    }
    if (level) this.lines |= m;
    else this.lines &= ~m;
    this.changed();
  }

  /** Priority rank (0 = highest) of the highest-priority bit in `mask`, or 8 when empty. */
  private rank(mask: number): number {
    if (mask === 0) return 8;
    for (let p = 0; p < 8; p++) if (mask & (1 << ((p + this.priorityAdd) & 7))) return p;
    return 8;
  }

  /** The IR this chip would signal now, or -1 (datasheet "priority resolver"). */
  pendingIrq(): number {
    const req = this.irr & ~this.imr;
    const p = this.rank(req);
    if (p === 8) return -1;
    let inService = this.isr;
    // Special fully nested mode (master): the cascade input may interrupt its own in-service level.
    if (this.specialFullyNested && this.isMaster()) inService &= ~(1 << PIC_CASCADE_IRQ);
    // Special mask mode: masked levels do not inhibit lower priorities.
    if (this.specialMask) inService &= ~this.imr;
    return p < this.rank(inService) ? (p + this.priorityAdd) & 7 : -1;
  }

  isMaster(): boolean {
    return this.elcrMask === ELCR_MASK[0];
  }

  /** INTA for IR `irq` on this chip: ISR set (unless AEOI), edge IRR cleared. */
  ack(irq: number): void {
    const m = 1 << irq;
    if (this.autoEoi) {
      if (this.rotateOnAutoEoi) this.priorityAdd = (irq + 1) & 7;
    } else {
      this.isr |= m;
    }
    if (!this.isLevel(irq)) this.irr &= ~m;
  }

  private eoi(irq: number, rotate: boolean): void {
    this.isr &= ~(1 << irq);
    if (rotate) this.priorityAdd = (irq + 1) & 7;
  }

  /** The highest-priority in-service IR, or -1. */
  private highestInService(): number {
    const p = this.rank(this.isr);
    return p === 8 ? -1 : (p + this.priorityAdd) & 7;
  }

  read(offset: number, _size: AccessSize): number {
    if (this.poll) {
      // Poll command: the next read is the poll word (bit 7 = request, bits 2:0 = level), acknowledged.
      this.poll = false;
      const irq = this.pendingIrq();
      if (irq < 0) return 0;
      this.ack(irq);
      this.changed();
      return 0x80 | irq;
    }
    if (offset === PIC_REG.COMMAND) return this.readIsr ? this.isr : this.irr;
    return this.imr;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    if (offset === PIC_REG.COMMAND) {
      if (v & Icw1.INIT) this.icw1(v);
      else if (v & Ocw3.ONE) this.ocw3(v);
      else this.ocw2(v);
    } else {
      switch (this.initStep) {
        case 2:
          this.vectorBase = v & 0xf8;
          this.initStep = this.single ? (this.needIcw4 ? 4 : 0) : 3;
          break;
        case 3: // ICW3: cascade wiring; the PC wiring is fixed, so only the step advances
          this.initStep = this.needIcw4 ? 4 : 0;
          break;
        case 4:
          this.autoEoi = (v & Icw4.AEOI) !== 0;
          this.specialFullyNested = (v & Icw4.SFNM) !== 0;
          this.initStep = 0;
          break;
        default:
          this.imr = v; // OCW1
      }
    }
    this.changed();
  }

  private icw1(v: number): void {
    // Initialization: IMR, ISR cleared; IR0 highest; special mask off; IRR selected for reads;
    // edge sense latches reset (a line held high must go low and high again to request).
    this.imr = 0;
    this.isr = 0;
    this.irr = 0;
    this.priorityAdd = 0;
    this.specialMask = false;
    this.readIsr = false;
    this.poll = false;
    this.autoEoi = false;
    this.rotateOnAutoEoi = false;
    this.specialFullyNested = false;
    this.needIcw4 = (v & Icw1.IC4) !== 0;
    this.single = (v & Icw1.SNGL) !== 0;
    this.ltim = (v & Icw1.LTIM) !== 0;
    this.initStep = 2;
    if (this.ltim) this.irr = this.lines;
  }

  private ocw2(v: number): void {
    const level = v & 7;
    switch (v & 0xe0) {
      case Ocw2.NONSPECIFIC_EOI:
      case Ocw2.ROTATE_NONSPECIFIC_EOI: {
        const irq = this.highestInService();
        if (irq >= 0) this.eoi(irq, (v & 0xe0) === Ocw2.ROTATE_NONSPECIFIC_EOI);
        break;
      }
      case Ocw2.SPECIFIC_EOI:
        this.eoi(level, false);
        break;
      case Ocw2.ROTATE_SPECIFIC_EOI:
        this.eoi(level, true);
        break;
      case Ocw2.SET_PRIORITY:
        this.priorityAdd = (level + 1) & 7;
        break;
      case Ocw2.ROTATE_AEOI_SET:
        this.rotateOnAutoEoi = true;
        break;
      case Ocw2.ROTATE_AEOI_CLEAR:
        this.rotateOnAutoEoi = false;
        break;
      default: // NOP
        break;
    }
  }

  private ocw3(v: number): void {
    if (v & Ocw3.POLL) this.poll = true;
    if (v & Ocw3.RR) this.readIsr = (v & Ocw3.RIS) !== 0;
    if (v & Ocw3.ESMM) this.specialMask = (v & Ocw3.SMM) !== 0;
  }

  snapshot(): PicChipState {
    return {
      irr: this.irr,
      isr: this.isr,
      imr: this.imr,
      lines: this.lines,
      elcr: this.elcr,
      vectorBase: this.vectorBase,
      priorityAdd: this.priorityAdd,
      initStep: this.initStep,
      needIcw4: this.needIcw4,
      single: this.single,
      ltim: this.ltim,
      autoEoi: this.autoEoi,
      rotateOnAutoEoi: this.rotateOnAutoEoi,
      specialFullyNested: this.specialFullyNested,
      specialMask: this.specialMask,
      readIsr: this.readIsr,
      poll: this.poll,
    };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<PicChipState>(this.name, state, {
      irr: 'number',
      isr: 'number',
      imr: 'number',
      lines: 'number',
      elcr: 'number',
      vectorBase: 'number',
      priorityAdd: 'number',
      initStep: 'number',
      needIcw4: 'boolean',
      single: 'boolean',
      ltim: 'boolean',
      autoEoi: 'boolean',
      rotateOnAutoEoi: 'boolean',
      specialFullyNested: 'boolean',
      specialMask: 'boolean',
      readIsr: 'boolean',
      poll: 'boolean',
    });
    this.irr = s.irr & 0xff;
    this.isr = s.isr & 0xff;
    this.imr = s.imr & 0xff;
    this.lines = s.lines & 0xff;
    this.elcr = s.elcr & this.elcrMask;
    this.vectorBase = s.vectorBase & 0xf8;
    this.priorityAdd = s.priorityAdd & 7;
    this.initStep = s.initStep;
    this.needIcw4 = s.needIcw4;
    this.single = s.single;
    this.ltim = s.ltim;
    this.autoEoi = s.autoEoi;
    this.rotateOnAutoEoi = s.rotateOnAutoEoi;
    this.specialFullyNested = s.specialFullyNested;
    this.specialMask = s.specialMask;
    this.readIsr = s.readIsr;
    this.poll = s.poll;
    this.changed();
  }
}

/** ELCR1/ELCR2 at 0x4D0/0x4D1. */
export class PicElcr implements Device {
  readonly name = 'pic-elcr';

  constructor(private readonly chips: readonly [Pic8259, Pic8259]) {}

  reset(): void {
    this.chips[0].elcr = 0;
    this.chips[1].elcr = 0;
  }

  read(offset: number, _size: AccessSize): number {
    return this.chips[offset & 1]!.elcr;
  }

  write(offset: number, _size: AccessSize, value: number): void {
    const chip = this.chips[offset & 1]!;
    chip.elcr = value & ELCR_MASK[offset & 1]!;
  }

  snapshot(): Record<string, never> {
    return {}; // the ELCR bits live in the chips' snapshots
  }

  restore(_state: unknown): void {}
}

/** The PC's master/slave pair: slave INT → master IR2; 16 IRQ lines; INTA. */
export class PicPair {
  readonly master: Pic8259;
  readonly slave: Pic8259;
  readonly elcr: PicElcr;
  private readonly lines: IrqLine[] = [];
  /** Called when the INT output to the CPU may have changed. */
  onOutputChange: (() => void) | undefined;
  private propagating = false;

  constructor() {
    this.master = new Pic8259('pic-master', () => this.update(), ELCR_MASK[0]);
    this.slave = new Pic8259('pic-slave', () => this.update(), ELCR_MASK[1]);
    this.elcr = new PicElcr([this.master, this.slave]);
    for (let irq = 0; irq < 16; irq++) {
      this.lines.push({
        set: (level: boolean) => this.setIrq(irq, level),
        pulse: () => {
          this.setIrq(irq, true);
          this.setIrq(irq, false);
        },
      });
    }
  }

  reset(): void {
    this.master.reset();
    this.slave.reset();
    this.update();
  }

  /** The IrqLine for ISA IRQ 0..15. */
  irqLine(irq: number): IrqLine {
    const l = this.lines[irq];
    if (!l) throw new RangeError(`no ISA IRQ ${irq}`);
    return l;
  }

  setIrq(irq: number, level: boolean): void {
    if (irq < 8) this.master.setInput(irq, level);
    else this.slave.setInput(irq - 8, level);
  }

  private update(): void {
    if (this.propagating) return;
    this.propagating = true;
    try {
      // the slave's INT output is the master's IR2 input
      const slaveInt = this.slave.pendingIrq() >= 0;
      const m = 1 << PIC_CASCADE_IRQ;
      if (slaveInt !== ((this.master.lines & m) !== 0)) this.master.setInput(PIC_CASCADE_IRQ, slaveInt);
    } finally {
      this.propagating = false;
    }
    this.onOutputChange?.();
  }

  /** Is the master's INT output asserted? */
  hasInterrupt(): boolean {
    return this.master.pendingIrq() >= 0;
  }

  /** INTA: the vector the CPU receives now (spurious IR7 / IR15 vectors when nothing is requested). */
  acknowledge(): number {
    let vector: number;
    const irq = this.master.pendingIrq();
    if (irq < 0) {
      vector = this.master.vectorBase + 7;
    } else {
      this.master.ack(irq);
      if (irq === PIC_CASCADE_IRQ && !this.master.single) {
        const sirq = this.slave.pendingIrq();
        if (sirq < 0) {
          vector = this.slave.vectorBase + 7;
        } else {
          this.slave.ack(sirq);
          vector = this.slave.vectorBase + sirq;
        }
      } else {
        vector = this.master.vectorBase + irq;
      }
    }
    this.update();
    return vector;
  }

  snapshot(): { master: PicChipState; slave: PicChipState } {
    return { master: this.master.snapshot(), slave: this.slave.snapshot() };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<{ master: unknown; slave: unknown }>('pic', state, {
      master: 'object',
      slave: 'object',
    });
    this.master.restore(s.master);
    this.slave.restore(s.slave);
  }
}
