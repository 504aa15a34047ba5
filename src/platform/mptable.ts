// Intel MultiProcessor Specification 1.4 tables (May 1997): the MP floating pointer structure (§4.1,
// Table 4-1) and the MP configuration table (§4.2 Table 4-2 header; §4.3 base entries: processor
// Table 4-4, bus Table 4-8, I/O APIC Table 4-10, I/O interrupt assignment Table 4-12, local interrupt
// assignment Table 4-14). Linux uses them only when ACPI is off (acpi=off) or absent; they describe the
// same machine as the MADT (acpi/tables.ts) and the same ISA routing (irq-routing.ts).
//
// Placement: the OS scans the first KiB of the EBDA, the last KiB of base memory and 0xF0000-0xFFFFF
// for "_MP_" on a 16-byte boundary (§4 "MP Floating Pointer Structure"); tsvmm puts both structures in
// the EBDA at 0x9FC00 (machine/layout.ts EBDA_START, already e820-reserved).

import { setField, type StructTable } from '../loaders/layout/struct.ts';
import { EBDA_START, LOW_MEMORY_END } from '../machine/layout.ts';
import { TsvmmError } from '../util/result.ts';
import { LAPIC_DEFAULT_BASE, LAPIC_VERSION } from '../devices/lapic/regs.ts';
import { IOAPIC_DEFAULT_BASE, IOAPIC_PINS, IOAPIC_VERSION } from '../devices/ioapic/ioapic.ts';
import { byteSum } from './acpi/tables.ts';
import { gsiForIsaIrq, PC_ISA_OVERRIDES, type IsaOverride } from './irq-routing.ts';

export const MP_FLOATING_POINTER = {
  physical_address: [0x04, 4],
  length: [0x08, 1], // in 16-byte units: 1
  spec_rev: [0x09, 1], // 4 = version 1.4
  checksum: [0x0a, 1],
  feature1: [0x0b, 1], // 0 = a configuration table is present
  feature2: [0x0c, 1], // bit 7 IMCRP: 0 = virtual-wire mode
} as const satisfies StructTable;
export const MP_FLOATING_POINTER_SIZE = 16;

export const MP_CONFIG_HEADER = {
  base_table_length: [0x04, 2],
  spec_rev: [0x06, 1],
  checksum: [0x07, 1],
  oem_table_pointer: [0x1c, 4],
  oem_table_size: [0x20, 2],
  entry_count: [0x22, 2],
  local_apic_address: [0x24, 4],
  extended_table_length: [0x28, 2],
  extended_table_checksum: [0x2a, 1],
} as const satisfies StructTable;
/** text fields: signature "PCMP" at 0, OEM ID (8) at 0x08, product ID (12) at 0x10 */
export const MP_CONFIG_HEADER_SIZE = 0x2c;

export const MpEntry = { PROCESSOR: 0, BUS: 1, IOAPIC: 2, IO_INTERRUPT: 3, LOCAL_INTERRUPT: 4 } as const;
export const MP_ENTRY_SIZE = {
  [MpEntry.PROCESSOR]: 20,
  [MpEntry.BUS]: 8,
  [MpEntry.IOAPIC]: 8,
  [MpEntry.IO_INTERRUPT]: 8,
  [MpEntry.LOCAL_INTERRUPT]: 8,
} as const;
/** Interrupt types (Table 4-13) */
export const MpIntType = { INT: 0, NMI: 1, SMI: 2, EXTINT: 3 } as const;
/** Processor CPU flags: EN bit 0, BP bit 1 */
export const MpCpuFlag = { EN: 1, BP: 2 } as const;

export const MPTABLE_BASE = EBDA_START;
export const ISA_BUS_ID = 0;

export interface MpTableConfig {
  readonly apicIds: readonly number[];
  readonly ioapicId?: number;
  /** CPUID.1:EAX and CPUID.1:EDX of the guest, for the processor entries */
  readonly cpuSignature?: number;
  readonly cpuFeatures?: number;
  readonly overrides?: readonly IsaOverride[];
  readonly base?: number;
}

function ascii(b: Uint8Array, off: number, text: string, len: number): void {
  for (let i = 0; i < len; i++) b[off + i] = i < text.length ? text.charCodeAt(i) : 0x20;
}

function mpsFlags(o: IsaOverride | undefined): number {
  if (!o) return 0; // conforms to the bus (ISA: edge, active high)
  const pol = o.polarity === 'high' ? 1 : o.polarity === 'low' ? 3 : 0;
  const trg = o.trigger === 'edge' ? 1 : o.trigger === 'level' ? 3 : 0;
  return pol | (trg << 2);
}

/** The floating pointer and the configuration table, as one blob at `base` (16-byte aligned). */
export function buildMpTable(cfg: MpTableConfig): { address: number; bytes: Uint8Array } {
  const base = cfg.base ?? MPTABLE_BASE;
  const overrides = cfg.overrides ?? PC_ISA_OVERRIDES;
  const ioapicId = cfg.ioapicId ?? cfg.apicIds.length;
  if (cfg.apicIds.length === 0 || cfg.apicIds.some((id) => !Number.isInteger(id) || id < 0 || id > 254)) {
    throw new TsvmmError(
      'MPTABLE_CPUS',
      `MP tables describe 1-254 CPUs with APIC IDs 0-254 (got ${cfg.apicIds.join(', ')})`,
    );
  }
  if (base % 16 !== 0)
    throw new TsvmmError(
      'MPTABLE_PLACEMENT',
      `the MP floating pointer must be 16-byte aligned (0x${base.toString(16)})`,
    );
  // ISA IRQs 0-15 except the cascade; IRQ0 as ExtINT on pin 0 is left out (virtual wire via LINT0).
  const ints: Array<{ irq: number; pin: number; flags: number }> = [];
  for (let irq = 0; irq < 16; irq++) {
    const pin = gsiForIsaIrq(irq, overrides);
    if (pin < 0 || pin >= IOAPIC_PINS) continue;
    ints.push({ irq, pin, flags: mpsFlags(overrides.find((o) => o.isaIrq === irq)) });
  }
  const entries = cfg.apicIds.length + 2 + ints.length + 2;
  const tableLen = MP_CONFIG_HEADER_SIZE + cfg.apicIds.length * 20 + 8 + 8 + ints.length * 8 + 2 * 8;
  const total = MP_FLOATING_POINTER_SIZE + tableLen;
  if (base + total > (base === MPTABLE_BASE ? LOW_MEMORY_END : base + 0x10000)) {
    throw new TsvmmError(
      'MPTABLE_PLACEMENT',
      `MP tables of ${total} bytes do not fit in the 1 KiB EBDA (too many CPUs)`,
    );
  }
  const b = new Uint8Array(total);
  const dv = new DataView(b.buffer);
  // floating pointer
  ascii(b, 0, '_MP_', 4);
  setField(dv, 0, MP_FLOATING_POINTER, 'physical_address', base + MP_FLOATING_POINTER_SIZE);
  setField(dv, 0, MP_FLOATING_POINTER, 'length', 1);
  setField(dv, 0, MP_FLOATING_POINTER, 'spec_rev', 4);
  b[MP_FLOATING_POINTER.checksum[0]] = (0x100 - byteSum(b, 0, MP_FLOATING_POINTER_SIZE)) & 0xff;
  // configuration table
  const t = MP_FLOATING_POINTER_SIZE;
  ascii(b, t, 'PCMP', 4);
  setField(dv, t, MP_CONFIG_HEADER, 'base_table_length', tableLen);
  setField(dv, t, MP_CONFIG_HEADER, 'spec_rev', 4);
  ascii(b, t + 0x08, 'TSVMM', 8);
  ascii(b, t + 0x10, 'TSVMM PC', 12);
  setField(dv, t, MP_CONFIG_HEADER, 'entry_count', entries);
  setField(dv, t, MP_CONFIG_HEADER, 'local_apic_address', LAPIC_DEFAULT_BASE);
  let o = t + MP_CONFIG_HEADER_SIZE;
  cfg.apicIds.forEach((id, i) => {
    b[o] = MpEntry.PROCESSOR;
    b[o + 1] = id;
    b[o + 2] = LAPIC_VERSION;
    b[o + 3] = MpCpuFlag.EN | (i === 0 ? MpCpuFlag.BP : 0);
    dv.setUint32(o + 4, cfg.cpuSignature ?? 0, true);
    dv.setUint32(o + 8, cfg.cpuFeatures ?? 0, true);
    o += 20;
  });
  b[o] = MpEntry.BUS;
  b[o + 1] = ISA_BUS_ID;
  ascii(b, o + 2, 'ISA', 6);
  o += 8;
  b[o] = MpEntry.IOAPIC;
  b[o + 1] = ioapicId;
  b[o + 2] = IOAPIC_VERSION;
  b[o + 3] = 1; // EN
  dv.setUint32(o + 4, IOAPIC_DEFAULT_BASE, true);
  o += 8;
  for (const x of ints) {
    b[o] = MpEntry.IO_INTERRUPT;
    b[o + 1] = MpIntType.INT;
    dv.setUint16(o + 2, x.flags, true);
    b[o + 4] = ISA_BUS_ID;
    b[o + 5] = x.irq;
    b[o + 6] = ioapicId;
    b[o + 7] = x.pin;
    o += 8;
  }
  // LINT0 = ExtINT (the 8259 in virtual-wire mode), LINT1 = NMI, on every processor (0xFF).
  for (const [type, lint] of [
    [MpIntType.EXTINT, 0],
    [MpIntType.NMI, 1],
  ] as const) {
    b[o] = MpEntry.LOCAL_INTERRUPT;
    b[o + 1] = type;
    b[o + 4] = ISA_BUS_ID;
    b[o + 5] = 0;
    b[o + 6] = 0xff;
    b[o + 7] = lint;
    o += 8;
  }
  b[t + MP_CONFIG_HEADER.checksum[0]] = (0x100 - byteSum(b, t, t + tableLen)) & 0xff;
  return { address: base, bytes: b };
}
