// The PC's interrupt routing model, shared by both backends: ISA IRQ lines feed the 8259 pair and,
// through the ACPI interrupt source overrides (ACPI 6.5 §5.2.12.5, MADT type 2), the IOAPIC's
// global system interrupts; the IOAPIC sends messages on the ApicBus to the local APICs; the 8259's
// INTR reaches the BSP through LINT0 in virtual-wire (ExtINT) mode (MP spec 1.4 §3.6.2.2). Whichever
// mode the guest uses (PIC, or IOAPIC + LAPIC), the vCPU's pending external interrupt comes from
// `pendingInterruptSource()` and its vector from `acknowledgeInterrupt()`: the machine hands that
// vector to Vcpu.injectInterrupt (KVM_INTERRUPT on /dev/kvm, the interpreter's INTR on interp).
//
//   device ──IrqLine──► InterruptRouter.isaLine(irq) ──► PIC input irq
//                                                    └─► IOAPIC pin gsiForIsaIrq(irq)
//   IOAPIC pin ──ApicBus.send──► LocalApic IRR ──acknowledge()──► vector
//   PIC INTR ──(LINT0 ExtINT / APIC disabled)──► PicPair.acknowledge() ──► vector
//
// The overrides below are the standard PC ones (as QEMU's and most firmware's): the PIT's IRQ0 is
// wired to IOAPIC pin 2, and IRQ9 (the ACPI SCI) is level-triggered, active high. The MADT generator
// (acpi/tables.ts) emits exactly this table, so the guest and the VMM agree by construction.

import type { IrqLine } from '../devices/device.ts';
import type { LocalApic } from '../devices/lapic/lapic.ts';

export type IrqPolarity = 'conform' | 'high' | 'low';
export type IrqTrigger = 'conform' | 'edge' | 'level';

export interface IsaOverride {
  readonly isaIrq: number;
  readonly gsi: number;
  readonly polarity: IrqPolarity;
  readonly trigger: IrqTrigger;
}

/** The ACPI SCI's ISA IRQ (FADT SCI_INT). */
export const SCI_IRQ = 9;

export const PC_ISA_OVERRIDES: readonly IsaOverride[] = [
  { isaIrq: 0, gsi: 2, polarity: 'conform', trigger: 'conform' },
  { isaIrq: SCI_IRQ, gsi: SCI_IRQ, polarity: 'high', trigger: 'level' },
];

/** The IOAPIC GSI an ISA IRQ arrives on: identity unless overridden; -1 for IRQ2 (the cascade). */
export function gsiForIsaIrq(irq: number, overrides: readonly IsaOverride[] = PC_ISA_OVERRIDES): number {
  const o = overrides.find((x) => x.isaIrq === irq);
  if (o) return o.gsi;
  // GSI 2 belongs to IRQ0 when overridden; the cascade input has no IOAPIC pin of its own.
  if (irq === 2 && overrides.some((x) => x.gsi === 2)) return -1;
  return irq;
}

/** Something with numbered input lines (PicPair.setIrq, IoApic.setIrq). */
export interface IrqSink {
  setIrq(line: number, level: boolean): void;
}

export class InterruptRouter {
  private readonly isa: IrqLine[] = [];

  constructor(
    private readonly targets: { pic?: IrqSink; ioapic?: IrqSink; overrides?: readonly IsaOverride[] },
  ) {
    for (let irq = 0; irq < 16; irq++) {
      const gsi = gsiForIsaIrq(irq, targets.overrides);
      const set = (level: boolean): void => {
        this.targets.pic?.setIrq(irq, level);
        if (gsi >= 0) this.targets.ioapic?.setIrq(gsi, level);
      };
      this.isa.push({
        set,
        pulse: () => {
          set(true);
          set(false);
        },
      });
    }
  }

  /** The line a legacy device (PIT, UART, RTC, SCI) drives for ISA IRQ `irq` (0-15). */
  isaLine(irq: number): IrqLine {
    const l = this.isa[irq];
    if (!l) throw new RangeError(`no ISA IRQ ${irq}`);
    return l;
  }

  /** A line straight to IOAPIC GSI `gsi` (PCI INTx, GSIs 16-23). */
  gsiLine(gsi: number): IrqLine {
    const set = (level: boolean): void => this.targets.ioapic?.setIrq(gsi, level);
    return {
      set,
      pulse: () => {
        set(true);
        set(false);
      },
    };
  }
}

/** The 8259 pair as the router needs it (PicPair). */
export interface PicLike {
  hasInterrupt(): boolean;
  acknowledge(): number;
}

/**
 * Where this vCPU's next external interrupt comes from (KVM's kvm_cpu_has_interrupt order: the
 * 8259 through LINT0 first, then the local APIC). `lapic` undefined = a machine without APICs.
 */
export function pendingInterruptSource(
  lapic: LocalApic | undefined,
  pic: PicLike | undefined,
): 'pic' | 'apic' | null {
  if (pic && (!lapic || lapic.acceptsPicInterrupts()) && pic.hasInterrupt()) return 'pic';
  if (lapic?.hasPendingInterrupt()) return 'apic';
  return null;
}

/** Run the INTA cycle for the source pendingInterruptSource() named; returns the vector, or -1. */
export function acknowledgeInterrupt(lapic: LocalApic | undefined, pic: PicLike | undefined): number {
  const src = pendingInterruptSource(lapic, pic);
  if (src === 'pic') return pic!.acknowledge();
  if (src === 'apic') return lapic!.acknowledge();
  return -1;
}
