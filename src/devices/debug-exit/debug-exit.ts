// QEMU's isa-debug-exit device (hw/misc/debugexit.c behaviour): a write of value v to its port ends
// the VM with host exit status (v << 1) | 1, so a guest test can report pass/fail through the VMM's
// own exit status (status 1 is then reserved for "no debug exit"). Default: port 0xF4, 4 ports wide.
//
//   off  read          write
//   0-3  0xFF… (none)  value v (1, 2 or 4 bytes) → exit status (v << 1) | 1

import type { AccessSize, Device } from '../device.ts';

export const DEBUG_EXIT_PORT = 0xf4;
export const DEBUG_EXIT_SIZE = 4;

export const DEBUG_EXIT_REG = { VALUE: 0 } as const;

const MASK: Record<AccessSize, number> = { 1: 0xff, 2: 0xffff, 4: 0xffffffff };

/** The exit status QEMU derives from the written value. */
export function debugExitStatus(value: number): number {
  return ((value >>> 0) * 2 + 1) >>> 0;
}

export class DebugExit implements Device {
  readonly name = 'isa-debug-exit';

  constructor(private readonly onExit: (status: number, value: number) => void) {}

  reset(): void {}

  read(_offset: number, size: AccessSize): number {
    return MASK[size];
  }

  write(_offset: number, size: AccessSize, value: number): void {
    const v = (value & MASK[size]) >>> 0;
    this.onExit(debugExitStatus(v), v);
  }

  snapshot(): Record<string, never> {
    return {};
  }

  restore(_state: unknown): void {}
}
