// The two cheap ways a PC guest asks for a reset:
// - port 0x92 "System Control Port A" (PS/2): bit 0 = fast reset (a 0→1 write resets the CPU),
//   bit 1 = A20 gate (A20 is always enabled in this machine, the bit reads back as written).
// - the 8042 keyboard controller command port 0x64: command 0xFE pulses the CPU reset line. Reads of
//   0x64 return the status register: output buffer empty, input buffer empty (0x00 with bit 2 "system
//   flag" set = 0x04), so guests polling "wait for input buffer empty" make progress.
//
//   device       off  read                write
//   SysCtrlA     0    last value | A20     bit 0 (0→1) = reset request
//   Kbc8042Cmd   0    status 0x04          0xFE = pulse reset; other commands ignored

import type { AccessSize, Device } from '../device.ts';
import { checkSnapshot } from '../snapshot.ts';

export const SYSCTRL_A_PORT = 0x92;
export const KBC_CMD_PORT = 0x64;
export const SysCtrlA = { FAST_RESET: 0x01, A20: 0x02 } as const;
export const KBC_CMD_PULSE_RESET = 0xfe;
export const KBC_STATUS_SYSTEM_FLAG = 0x04;

export class SystemControlPortA implements Device {
  readonly name = 'port-0x92';
  private value: number = SysCtrlA.A20;

  constructor(private readonly onReset: (why: string) => void) {}

  reset(): void {
    this.value = SysCtrlA.A20;
  }

  read(_offset: number, _size: AccessSize): number {
    return this.value;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    const v = value & 0xff;
    const rising = v & SysCtrlA.FAST_RESET && !(this.value & SysCtrlA.FAST_RESET);
    this.value = v & ~SysCtrlA.FAST_RESET;
    if (rising) this.onReset('fast reset through port 0x92');
  }

  snapshot(): { value: number } {
    return { value: this.value };
  }

  restore(state: unknown): void {
    this.value = checkSnapshot<{ value: number }>(this.name, state, { value: 'number' }).value;
  }
}

export class Kbc8042ResetPort implements Device {
  readonly name = 'i8042-cmd';

  constructor(private readonly onReset: (why: string) => void) {}

  reset(): void {}

  read(_offset: number, _size: AccessSize): number {
    return KBC_STATUS_SYSTEM_FLAG;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    if ((value & 0xff) === KBC_CMD_PULSE_RESET)
      this.onReset('reset pulse through the 8042 (port 0x64, command 0xFE)');
  }

  snapshot(): Record<string, never> {
    return {};
  }

  restore(_state: unknown): void {}
}
