// QEMU's firmware configuration device, x86 I/O flavour (QEMU docs/specs/fw_cfg.rst): a selector
// register picks an item by 16-bit key, the data register streams its bytes, and the optional DMA
// interface copies items into guest memory. The guest-visible format is QEMU's, so firmware and test
// programs written for QEMU work unchanged.
//
//   off (from 0x510)  width  register
//   0x0               16     selector (write): key; resets the data offset
//   0x1               8      data (read): next byte of the item, 0 past its end or for unknown keys;
//                            writes are ignored (as QEMU ≥ 2.4)
//   0x4               32     DMA address bits 63:32 (big-endian value); reads return "QEMU CFG"
//   0x8               32     DMA address bits 31:0; the write starts the transfer
//
// Well-known keys (FW_CFG_*):                       DMA control word (big-endian, in guest memory):
//   0x0000 SIGNATURE  "QEMU"                           0  u32 control: ERROR 0x01 READ 0x02 SKIP 0x04
//   0x0001 ID         u32 LE: bit 0 traditional,             SELECT 0x08 (key in bits 31:16) WRITE 0x10
//                     bit 1 DMA                         4  u32 length
//   0x0003 RAM_SIZE   u64 LE                            8  u64 guest physical address
//   0x0005 NB_CPUS    u16 LE                          On completion control is 0, or ERROR.
//   0x000F MAX_CPUS   u16 LE
//   0x0019 FILE_DIR   u32 BE count, then per file: u32 BE size, u16 BE select, u16 reserved,
//                     char name[56] (NUL-terminated); files get keys from 0x0020 up
//
// tsvmm files: "etc/tsvmm/cpu-policy" = the guest CPUID table as packed little-endian
// struct kvm_cpuid_entry2 records (40 bytes: function, index, flags, eax, ebx, ecx, edx, 3×u32 pad).

import type { AccessSize, Device } from '../device.ts';
import { TsvmmError } from '../../util/result.ts';
import { checkSnapshot } from '../snapshot.ts';
import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import { getNum, setField, type StructTable } from '../../loaders/layout/struct.ts';

export const FW_CFG_PORT_BASE = 0x510;
export const FW_CFG_PORTS = 12;

export const FW_CFG_REG = { SELECTOR: 0x0, DATA: 0x1, DMA_HIGH: 0x4, DMA_LOW: 0x8 } as const;

export const FwCfgKey = {
  SIGNATURE: 0x0000,
  ID: 0x0001,
  UUID: 0x0002,
  RAM_SIZE: 0x0003,
  NOGRAPHIC: 0x0004,
  NB_CPUS: 0x0005,
  MACHINE_ID: 0x0006,
  MAX_CPUS: 0x000f,
  FILE_DIR: 0x0019,
  FILE_FIRST: 0x0020,
} as const;

/** Selector bits 14 (write) and 15 (architecture-specific) are not part of the item key. */
export const FW_CFG_KEY_MASK = 0x3fff;
export const FW_CFG_ID_TRADITIONAL = 0x01;
export const FW_CFG_ID_DMA = 0x02;
export const FW_CFG_FILE_NAME_SIZE = 56;
export const FW_CFG_FILE_ENTRY_SIZE = 64;
export const FW_CFG_MAX_FILES = FW_CFG_KEY_MASK - FwCfgKey.FILE_FIRST + 1;

/** One file directory entry (big-endian fields). */
export const FW_CFG_FILE = {
  size: [0x00, 4],
  select: [0x04, 2],
  reserved: [0x06, 2],
  // name: [0x08, 56] (bytes, NUL-terminated)
} as const satisfies StructTable;
export const FW_CFG_FILE_NAME_OFFSET = 0x08;

/** The DMA access structure in guest memory (big-endian fields). */
export const FW_CFG_DMA_ACCESS = {
  control: [0x00, 4],
  length: [0x04, 4],
  address: [0x08, 8],
} as const satisfies StructTable;
export const FW_CFG_DMA_ACCESS_SIZE = 16;

export const FwCfgDma = { ERROR: 0x01, READ: 0x02, SKIP: 0x04, SELECT: 0x08, WRITE: 0x10 } as const;
/** The DMA register reads back this signature ("QEMU CFG"). */
export const FW_CFG_DMA_SIGNATURE = 0x51454d5520434647n;

export const TSVMM_CPU_POLICY_FILE = 'etc/tsvmm/cpu-policy';
export const CPUID_ENTRY2_SIZE = 40;

/** What DMA needs from guest memory (GuestMemory satisfies it). */
export interface DmaMemory {
  isRam(addr: number, len: number): boolean;
  slice(addr: number, len: number): Uint8Array;
}

export interface FwCfgOptions {
  cpus: number;
  maxCpus?: number;
  ramBytes: number;
  /** guest memory for the DMA interface; without it DMA is not offered (ID bit 1 clear) */
  memory?: DmaMemory;
}

function be32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

export class FwCfg implements Device {
  readonly name = 'fw_cfg';
  private readonly items = new Map<number, Uint8Array>();
  private readonly files: { name: string; key: number }[] = [];
  private selector = 0;
  private offset = 0;
  private dmaHigh = 0;
  private readonly memory: DmaMemory | undefined;

  constructor(opts: FwCfgOptions) {
    this.memory = opts.memory;
    this.items.set(FwCfgKey.SIGNATURE, new TextEncoder().encode('QEMU'));
    this.setU32(FwCfgKey.ID, FW_CFG_ID_TRADITIONAL | (opts.memory ? FW_CFG_ID_DMA : 0));
    this.setU16(FwCfgKey.NB_CPUS, opts.cpus);
    this.setU16(FwCfgKey.MAX_CPUS, opts.maxCpus ?? opts.cpus);
    const ram = new Uint8Array(8);
    new DataView(ram.buffer).setBigUint64(0, BigInt(opts.ramBytes), true);
    this.items.set(FwCfgKey.RAM_SIZE, ram);
    this.items.set(FwCfgKey.UUID, new Uint8Array(16));
    this.setU16(FwCfgKey.NOGRAPHIC, 1);
    this.rebuildDirectory();
  }

  private setU16(key: number, v: number): void {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    this.items.set(key, b);
  }
  private setU32(key: number, v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v >>> 0, true);
    this.items.set(key, b);
  }

  /** Add (or replace) a named file; returns its key. */
  addFile(name: string, data: Uint8Array): number {
    const nameBytes = new TextEncoder().encode(name);
    if (nameBytes.length === 0 || nameBytes.length >= FW_CFG_FILE_NAME_SIZE) {
      throw new TsvmmError(
        'FW_CFG_FILE_NAME',
        `fw_cfg file name '${name}' must be 1-${FW_CFG_FILE_NAME_SIZE - 1} bytes`,
      );
    }
    let f = this.files.find((x) => x.name === name);
    if (!f) {
      if (this.files.length >= FW_CFG_MAX_FILES)
        throw new TsvmmError('FW_CFG_FULL', 'fw_cfg has no free file keys');
      f = { name, key: FwCfgKey.FILE_FIRST + this.files.length };
      this.files.push(f);
    }
    this.items.set(f.key, data.slice());
    this.rebuildDirectory();
    return f.key;
  }

  /** The item bytes for a key (undefined for unknown keys). */
  item(key: number): Uint8Array | undefined {
    return this.items.get(key & FW_CFG_KEY_MASK);
  }

  private rebuildDirectory(): void {
    // QEMU keeps the directory sorted by name.
    const sorted = [...this.files].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const dir = new Uint8Array(4 + FW_CFG_FILE_ENTRY_SIZE * sorted.length);
    const dv = new DataView(dir.buffer);
    dv.setUint32(0, sorted.length, false);
    sorted.forEach((f, i) => {
      const o = 4 + i * FW_CFG_FILE_ENTRY_SIZE;
      setField(dv, o, FW_CFG_FILE, 'size', this.items.get(f.key)!.length, false);
      setField(dv, o, FW_CFG_FILE, 'select', f.key, false);
      dir.set(new TextEncoder().encode(f.name), o + FW_CFG_FILE_NAME_OFFSET);
    });
    this.items.set(FwCfgKey.FILE_DIR, dir);
  }

  reset(): void {
    this.selector = 0;
    this.offset = 0;
    this.dmaHigh = 0;
  }

  private select(key: number): void {
    this.selector = key & 0xffff;
    this.offset = 0;
  }

  private nextByte(): number {
    const it = this.items.get(this.selector & FW_CFG_KEY_MASK);
    if (!it || this.offset >= it.length) return 0;
    return it[this.offset++]!;
  }

  read(offset: number, size: AccessSize): number {
    switch (offset) {
      case FW_CFG_REG.SELECTOR:
        return 0; // write-only
      case FW_CFG_REG.DATA: {
        // Wider reads of the data port return consecutive bytes (little-endian packing, as QEMU).
        let v = 0;
        for (let i = 0; i < size; i++) v |= this.nextByte() << (8 * i);
        return v >>> 0;
      }
      case FW_CFG_REG.DMA_HIGH:
        return this.memory ? be32(Number(FW_CFG_DMA_SIGNATURE >> 32n)) : 0xffffffff;
      case FW_CFG_REG.DMA_LOW:
        return this.memory ? be32(Number(FW_CFG_DMA_SIGNATURE & 0xffffffffn)) : 0xffffffff;
      default:
        return 0xff >>> 0;
    }
  }

  write(offset: number, size: AccessSize, value: number): void {
    switch (offset) {
      case FW_CFG_REG.SELECTOR:
        if (size >= 2) this.select(value);
        return;
      case FW_CFG_REG.DATA:
        return; // ignored
      case FW_CFG_REG.DMA_HIGH:
        if (size === 4) this.dmaHigh = be32(value);
        return;
      case FW_CFG_REG.DMA_LOW:
        if (size === 4 && this.memory) {
          const addr = this.dmaHigh * 2 ** 32 + be32(value);
          this.dmaHigh = 0;
          this.dma(addr);
        }
        return;
      default:
        return;
    }
  }

  /** Run one DMA request whose control structure is at guest physical `addr`. */
  private dma(addr: number): void {
    const mem = this.memory!;
    if (!mem.isRam(addr, FW_CFG_DMA_ACCESS_SIZE)) return; // nowhere to report the error either
    const bytes = mem.slice(addr, FW_CFG_DMA_ACCESS_SIZE);
    const view = new DataView(bytes.buffer, bytes.byteOffset, FW_CFG_DMA_ACCESS_SIZE);
    const control = getNum(view, 0, FW_CFG_DMA_ACCESS, 'control', false);
    const length = getNum(view, 0, FW_CFG_DMA_ACCESS, 'length', false);
    const dest = getNum(view, 0, FW_CFG_DMA_ACCESS, 'address', false);
    if (control & FwCfgDma.SELECT) this.select(control >>> 16);
    let result = 0;
    if (control & FwCfgDma.READ) {
      if (!mem.isRam(dest, length)) result = FwCfgDma.ERROR;
      else {
        const out = mem.slice(dest, length);
        for (let i = 0; i < length; i++) out[i] = this.nextByte();
      }
    } else if (control & FwCfgDma.SKIP) {
      for (let i = 0; i < length; i++) this.nextByte();
    } else if (control & FwCfgDma.WRITE) {
      result = FwCfgDma.ERROR; // items are read-only in this machine
    }
    setField(view, 0, FW_CFG_DMA_ACCESS, 'control', result, false);
  }

  snapshot(): { selector: number; offset: number; dmaHigh: number } {
    return { selector: this.selector, offset: this.offset, dmaHigh: this.dmaHigh };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<{ selector: number; offset: number; dmaHigh: number }>(this.name, state, {
      selector: 'number',
      offset: 'number',
      dmaHigh: 'number',
    });
    this.selector = s.selector & 0xffff;
    this.offset = Math.max(0, Math.floor(s.offset));
    this.dmaHigh = s.dmaHigh >>> 0;
  }
}

/** The guest CPUID table as packed kvm_cpuid_entry2 records (the "etc/tsvmm/cpu-policy" file). */
export function encodeCpuPolicy(entries: readonly CpuidEntry[]): Uint8Array {
  const out = new Uint8Array(entries.length * CPUID_ENTRY2_SIZE);
  const dv = new DataView(out.buffer);
  entries.forEach((e, i) => {
    const o = i * CPUID_ENTRY2_SIZE;
    dv.setUint32(o, e.function >>> 0, true);
    dv.setUint32(o + 4, e.index >>> 0, true);
    dv.setUint32(o + 8, e.flags >>> 0, true);
    dv.setUint32(o + 12, e.eax >>> 0, true);
    dv.setUint32(o + 16, e.ebx >>> 0, true);
    dv.setUint32(o + 20, e.ecx >>> 0, true);
    dv.setUint32(o + 24, e.edx >>> 0, true);
  });
  return out;
}
