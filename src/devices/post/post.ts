// The POST diagnostic port 0x80: firmware and OSes write progress codes here, and Linux also uses it
// as an I/O delay ("outb %al, $0x80"). The model keeps the last code written and reads it back.
//
//   off  read            write
//   0    last code       POST code

import type { AccessSize, Device } from '../device.ts';
import { checkSnapshot } from '../snapshot.ts';

export const POST_PORT = 0x80;
export const POST_REG = { CODE: 0 } as const;

export class PostPort implements Device {
  readonly name = 'post-0x80';
  lastCode = 0;
  writes = 0;

  reset(): void {
    this.lastCode = 0;
  }

  read(_offset: number, _size: AccessSize): number {
    return this.lastCode;
  }

  write(_offset: number, _size: AccessSize, value: number): void {
    this.lastCode = value & 0xff;
    this.writes++;
  }

  snapshot(): { lastCode: number } {
    return { lastCode: this.lastCode };
  }

  restore(state: unknown): void {
    this.lastCode = checkSnapshot<{ lastCode: number }>(this.name, state, { lastCode: 'number' }).lastCode;
  }
}
