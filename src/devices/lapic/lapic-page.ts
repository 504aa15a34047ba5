// The xAPIC MMIO page as the bus sees it (Intel SDM Vol. 3A §11.4.1: every processor's local APIC
// answers at the same physical address, 0xFEE00000 by default): one bus Device that forwards each
// access to the local APIC of the vCPU that made it. The machine sets `current` to the vCPU whose
// MMIO exit it is handling before dispatching (with one vCPU it never changes).

import type { AccessSize, Device } from '../device.ts';
import type { LocalApic } from './lapic.ts';
import { LAPIC_MMIO_SIZE } from './regs.ts';

export class LapicPage implements Device {
  readonly name = 'lapic-page';
  readonly size = LAPIC_MMIO_SIZE;

  constructor(
    /** the APIC of the vCPU whose access is being handled */
    public current: LocalApic,
  ) {}

  reset(): void {
    // The APICs are reset with their vCPUs (LocalApic.reset), not through the page.
  }

  read(offset: number, size: AccessSize): number {
    return this.current.read(offset, size);
  }

  write(offset: number, size: AccessSize, value: number): void {
    this.current.write(offset, size, value);
  }

  snapshot(): unknown {
    return {};
  }

  restore(): void {}
}
