// The APIC bus / system bus interrupt messages between local APICs, the IOAPIC and MSI sources:
// Intel SDM Vol. 3A §11.6 "Issuing Interprocessor Interrupts" (destination modes, shorthands,
// lowest-priority arbitration §11.6.2.4), §11.6.2 "Determining IPI Destination" (physical, logical
// flat and cluster models), §11.12.10 (x2APIC logical destination), §11.11 "Message Signalled
// Interrupts" (MSI address/data format).
//
// Every message travels as one ICR-low-format word (regs.ts `Icr`) plus a destination number: the
// same bit layout the IOAPIC's redirection entries and MSI data use, so one router serves IPIs,
// IOAPIC pins and MSIs for every vCPU on either backend. Delivery is synchronous (no delivery-status
// latency): `send()` returns how many APICs accepted the message.
//
// `wide` destinations are x2APIC 32-bit ones (broadcast 0xFFFFFFFF); otherwise 8-bit xAPIC ones
// (broadcast 0xFF), which is what the IOAPIC and MSI produce: an APIC in x2APIC mode still matches
// an 8-bit physical destination equal to its ID, as with KVM's handling of IOAPIC messages.

import { DeliveryMode, Icr, Shorthand } from './regs.ts';
import type { LocalApic } from './lapic.ts';

/** MSI address (SDM Vol. 3A Figure 11-24): 0xFEE in 31:20, destination ID 19:12, RH 3, DM 2. */
export const Msi = {
  ADDRESS_BASE: 0xfee00000,
  ADDRESS_MASK: 0xfff00000,
  DEST_SHIFT: 12,
  DEST_MASK: 0xff << 12,
  DEST_LOGICAL: 1 << 2,
  /** data (Figure 11-25): vector 7:0, delivery mode 10:8, level 14, trigger 15 */
  DATA_VECTOR: 0xff,
} as const;

export type EoiListener = (vector: number) => void;

export class ApicBus {
  private readonly apics: LocalApic[] = [];
  private readonly eoiListeners: EoiListener[] = [];

  /** Called by LocalApic's constructor. */
  attach(apic: LocalApic): void {
    if (this.apics.some((a) => a.initialId === apic.initialId)) {
      throw new RangeError(`APIC ID ${apic.initialId} is already on this bus`);
    }
    this.apics.push(apic);
  }

  get members(): readonly LocalApic[] {
    return this.apics;
  }

  byId(initialId: number): LocalApic | undefined {
    return this.apics.find((a) => a.initialId === initialId);
  }

  /** An IOAPIC (or anything with level-triggered inputs) listens for EOI broadcasts. */
  onEoi(fn: EoiListener): void {
    this.eoiListeners.push(fn);
  }

  /** A local APIC retired a level-triggered vector (SDM Vol. 3A §11.8.5): tell the IOAPICs. */
  broadcastEoi(vector: number): void {
    for (let i = 0; i < this.eoiListeners.length; i++) this.eoiListeners[i]!(vector);
  }

  /**
   * Deliver one interrupt message.
   * @param msg ICR-low format: vector, delivery mode, destination mode, level, trigger, shorthand
   * @param dest destination field (8-bit xAPIC or 32-bit x2APIC, see `wide`)
   * @param source the sending APIC (for shorthands), or null for the IOAPIC/MSI
   * @returns the number of APICs that accepted it
   */
  send(msg: number, dest: number, source: LocalApic | null, wide: boolean): number {
    const shorthand = (msg & Icr.SHORTHAND) >>> Icr.SHORTHAND_SHIFT;
    const logical = (msg & Icr.DEST_LOGICAL) !== 0;
    const mode = (msg & Icr.DELIVERY_MODE) >>> Icr.DELIVERY_MODE_SHIFT;
    if (mode === DeliveryMode.LOWEST_PRIORITY && shorthand !== Shorthand.SELF) {
      // Lowest-priority arbitration: the matching APIC with the lowest processor priority (ties go
      // to the lowest index, a fixed stand-in for the arbitration ID rotation).
      let best: LocalApic | undefined;
      for (let i = 0; i < this.apics.length; i++) {
        const a = this.apics[i]!;
        if (!this.matches(a, shorthand, dest, logical, source, wide)) continue;
        if (!best || a.ppr() < best.ppr()) best = a;
      }
      return best && best.accept(msg) ? 1 : 0;
    }
    let n = 0;
    for (let i = 0; i < this.apics.length; i++) {
      const a = this.apics[i]!;
      if (this.matches(a, shorthand, dest, logical, source, wide) && a.accept(msg)) n++;
    }
    return n;
  }

  private matches(
    a: LocalApic,
    shorthand: number,
    dest: number,
    logical: boolean,
    source: LocalApic | null,
    wide: boolean,
  ): boolean {
    switch (shorthand) {
      case Shorthand.SELF:
        return a === source;
      case Shorthand.ALL_INCLUDING_SELF:
        return true;
      case Shorthand.ALL_EXCLUDING_SELF:
        return a !== source;
      default:
        return a.matchesDestination(dest, logical, wide);
    }
  }

  /**
   * An MSI write (SDM Vol. 3A §11.11): address 0xFEExxxxx with the destination in bits 19:12 and
   * the destination mode in bit 2; data in ICR-low format (vector, delivery mode, level, trigger).
   * Returns the number of APICs that accepted it, or -1 when the address is not an MSI address.
   */
  sendMsi(address: number, data: number): number {
    if ((address & Msi.ADDRESS_MASK) >>> 0 !== Msi.ADDRESS_BASE) return -1;
    const dest = (address & Msi.DEST_MASK) >>> Msi.DEST_SHIFT;
    const msg =
      (data & (Icr.VECTOR | Icr.DELIVERY_MODE | Icr.LEVEL_ASSERT | Icr.TRIGGER_LEVEL)) |
      (address & Msi.DEST_LOGICAL ? Icr.DEST_LOGICAL : 0);
    return this.send(msg, dest, null, false);
  }
}
