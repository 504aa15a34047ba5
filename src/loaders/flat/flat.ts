// A raw flat binary: the file's bytes copied to one guest physical address, entered at an address
// inside it in the chosen mode. No header, no boot information; the register state is the same as
// the multiboot entries (boot/boot-state.ts) with EAX/EBX (and RDI/RSI) zero:
//   real16       CS = address >> 4 (address must be 16-byte aligned, below 1 MiB), IP = entry − address
//   protected32  flat 32-bit segments from the boot GDT, paging off
//   long64       identity-mapped 2 MiB pages, 64-bit code segment
// Load addresses must be 16-byte aligned in every mode (FLAT_UNALIGNED); the image must lie in RAM
// and keep clear of the boot data its mode writes (GDT, and for long64 the page tables).

import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import { BOOT_PAGING_ADDR } from '../../machine/layout.ts';
import type { GuestMemory } from '../../machine/memory.ts';
import { Placement } from '../boot/placement.ts';
import {
  BOOT_GDT_RANGE,
  entryRegs,
  longMode64Sregs,
  mappedGib,
  protectedMode32Sregs,
  realMode16Sregs,
  writeBootGdt,
  writeIdentityPageTables,
  type BootState,
  type EntryMode,
} from '../boot/boot-state.ts';

export const FLAT_ALIGN = 16;

export interface FlatOptions {
  readonly image: Uint8Array;
  readonly address: number;
  /** default: `address` */
  readonly entry?: number;
  readonly mode: EntryMode;
  readonly name?: string;
}

export function loadFlat(mem: GuestMemory, opts: FlatOptions): BootState {
  const what = opts.name ?? 'flat image';
  const { address, image, mode } = opts;
  const entry = opts.entry ?? address;
  if (!Number.isSafeInteger(address) || address < 0) {
    throw new TsvmmError('FLAT_ADDRESS', `${what}: load address ${address} is not a guest physical address`);
  }
  if (address % FLAT_ALIGN !== 0) {
    throw new TsvmmError(
      'FLAT_UNALIGNED',
      `${what}: load address ${hex(address)} is not ${FLAT_ALIGN}-byte aligned`,
    );
  }
  if (image.length === 0) throw new TsvmmError('FLAT_EMPTY', `${what}: the image is empty`);
  if (!Number.isSafeInteger(entry) || entry < address || entry >= address + image.length) {
    throw new TsvmmError(
      'FLAT_BAD_ENTRY',
      `${what}: entry ${hex(entry)} is outside the image ${hex(address)}-${hex(address + image.length - 1)}`,
    );
  }
  const place = new Placement(mem);
  if (mode !== 'real16') place.claim('boot GDT', BOOT_GDT_RANGE.base, BOOT_GDT_RANGE.size, 'boot-data');
  if (mode === 'long64')
    place.claim(
      'long64 page tables',
      BOOT_PAGING_ADDR,
      0x2000 + mappedGib(mem.layout.ramTop) * 0x1000,
      'boot-data',
    );
  place.claim(what, address, image.length, 'image');
  if (mode === 'real16' && entry - address > 0xffff) {
    throw new TsvmmError(
      'FLAT_BAD_ENTRY',
      `${what}: real-mode entry ${hex(entry)} is more than 64 KiB above the load address`,
    );
  }

  const realSregs = mode === 'real16' ? realMode16Sregs(address) : undefined;
  mem.write(address, image);
  switch (mode) {
    case 'real16': {
      const regs = entryRegs(BigInt(entry - address), 0, 0, mode);
      regs.rsp = 0n;
      return { mode, regs, sregs: realSregs!, written: place.placed };
    }
    case 'protected32':
      writeBootGdt(mem);
      return {
        mode,
        regs: entryRegs(BigInt(entry), 0, 0, mode),
        sregs: protectedMode32Sregs(),
        written: place.placed,
      };
    case 'long64': {
      writeBootGdt(mem);
      const pt = writeIdentityPageTables(mem);
      return {
        mode,
        regs: entryRegs(BigInt(entry), 0, 0, mode),
        sregs: longMode64Sregs(pt.cr3),
        written: place.placed,
      };
    }
  }
}
