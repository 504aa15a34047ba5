// The ACPI tables tsvmm hands a guest (ACPI 6.5 specification): RSDP (§5.2.5.3, revision 2 with an
// XSDT), RSDT (§5.2.7), XSDT (§5.2.8), FADT revision 6 (§5.2.9, Table 5.9), FACS (§5.2.10), MADT
// (§5.2.12: Processor Local APIC §5.2.12.2, I/O APIC §5.2.12.3, Interrupt Source Override §5.2.12.5,
// Local APIC NMI §5.2.12.7) and a DSDT (§5.2.11.1) in AML (aml.ts). Every layout is an offset table with
// the spec's offsets; every table with a checksum sums to zero over its length.
//
// Choice of ACPI hardware model: full fixed hardware (FADT HW_REDUCED_ACPI = 0) with a PM1a event
// block, a PM1a control block and a 24-bit PM timer (acpi/pm.ts), SMI_CMD = 0 (always in ACPI mode,
// no SMM handshake), no GPE blocks. Why not HW-reduced: Linux x86 treats HW-reduced ACPI as "no legacy
// PC" (arch/x86/kernel/acpi/boot.c acpi_reduced_hw_init: no i8254 timer init, null legacy PIC), so
// TSC and APIC-timer calibration would hang on CPUID 0x15 (an Intel-only path in tsc.c) and the PIT
// and PIC the machine already has would go unused. The fixed-hardware cost is three tiny register
// blocks; in exchange Linux takes its best-trodden path (PIT + PM timer calibration, IOAPIC), and
// power-off is the standard \_S5 write of SLP_TYP|SLP_EN to PM1a_CNT.
//
// Placement (buildAcpiTables): one contiguous region, by default at 0xE0000 inside the BIOS read-only
// area where Linux's RSDP scan looks (0xE0000-0xFFFFF, ACPI §5.2.5.1); the loader also passes the RSDP
// address in boot_params.acpi_rsdp_addr. The region must be reported reserved in the e820 map
// (platform/e820.ts).

import { getField, setField, type StructTable } from '../../loaders/layout/struct.ts';
import { TsvmmError } from '../../util/result.ts';
import { LAPIC_DEFAULT_BASE } from '../../devices/lapic/regs.ts';
import { IOAPIC_DEFAULT_BASE } from '../../devices/ioapic/ioapic.ts';
import { PC_ISA_OVERRIDES, SCI_IRQ, type IsaOverride } from '../irq-routing.ts';
import { ACPI_PM_BASE, ACPI_S5_SLP_TYP, PmBlock } from './pm.ts';
import { name, packageOf, integer, scope } from './aml.ts';

/** Common header of every system description table except the RSDP and FACS (§5.2.6, Table 5.4). */
export const ACPI_HEADER = {
  length: [0x04, 4],
  revision: [0x08, 1],
  checksum: [0x09, 1],
  oem_revision: [0x18, 4],
  creator_revision: [0x20, 4],
} as const satisfies StructTable;
/** The text fields of the header: [offset, length] (space-padded ASCII). */
export const ACPI_HEADER_TEXT = {
  signature: [0x00, 4],
  oem_id: [0x0a, 6],
  oem_table_id: [0x10, 8],
  creator_id: [0x1c, 4],
} as const;
export const ACPI_HEADER_SIZE = 36;

/** RSDP (§5.2.5.3, Table 5.3). */
export const RSDP = {
  checksum: [0x08, 1],
  revision: [0x0f, 1],
  rsdt_address: [0x10, 4],
  length: [0x14, 4],
  xsdt_address: [0x18, 8],
  extended_checksum: [0x20, 1],
} as const satisfies StructTable;
export const RSDP_TEXT = { signature: [0x00, 8], oem_id: [0x09, 6] } as const;
export const RSDP_SIZE = 36;
/** The first checksum covers the ACPI 1.0 part (20 bytes). */
export const RSDP_V1_SIZE = 20;

/** Generic Address Structure (§5.2.3.2, Table 5.1): 12 bytes. */
export const GAS = {
  space_id: [0, 1],
  bit_width: [1, 1],
  bit_offset: [2, 1],
  access_size: [3, 1],
  address: [4, 8],
} as const satisfies StructTable;
export const GasSpace = { MEMORY: 0, IO: 1 } as const;
/** GAS access size: 1 = byte, 2 = word, 3 = dword, 4 = qword. */
export const GasAccess = { BYTE: 1, WORD: 2, DWORD: 3, QWORD: 4 } as const;

/** FADT (§5.2.9, Table 5.9), revision 6: 276 bytes; the GAS fields are in FADT_GAS. */
export const FADT = {
  firmware_ctrl: [36, 4],
  dsdt: [40, 4],
  preferred_pm_profile: [45, 1],
  sci_int: [46, 2],
  smi_cmd: [48, 4],
  acpi_enable: [52, 1],
  acpi_disable: [53, 1],
  s4bios_req: [54, 1],
  pstate_cnt: [55, 1],
  pm1a_evt_blk: [56, 4],
  pm1b_evt_blk: [60, 4],
  pm1a_cnt_blk: [64, 4],
  pm1b_cnt_blk: [68, 4],
  pm2_cnt_blk: [72, 4],
  pm_tmr_blk: [76, 4],
  gpe0_blk: [80, 4],
  gpe1_blk: [84, 4],
  pm1_evt_len: [88, 1],
  pm1_cnt_len: [89, 1],
  pm2_cnt_len: [90, 1],
  pm_tmr_len: [91, 1],
  gpe0_blk_len: [92, 1],
  gpe1_blk_len: [93, 1],
  gpe1_base: [94, 1],
  cst_cnt: [95, 1],
  p_lvl2_lat: [96, 2],
  p_lvl3_lat: [98, 2],
  flush_size: [100, 2],
  flush_stride: [102, 2],
  duty_offset: [104, 1],
  duty_width: [105, 1],
  day_alrm: [106, 1],
  mon_alrm: [107, 1],
  century: [108, 1],
  iapc_boot_arch: [109, 2],
  flags: [112, 4],
  reset_value: [128, 1],
  arm_boot_arch: [129, 2],
  fadt_minor_version: [131, 1],
  x_firmware_ctrl: [132, 8],
  x_dsdt: [140, 8],
  hypervisor_vendor_identity: [268, 8],
} as const satisfies StructTable;
/** FADT Generic Address Structure fields (12 bytes each, layout GAS). */
export const FADT_GAS = {
  reset_reg: 116,
  x_pm1a_evt_blk: 148,
  x_pm1b_evt_blk: 160,
  x_pm1a_cnt_blk: 172,
  x_pm1b_cnt_blk: 184,
  x_pm2_cnt_blk: 196,
  x_pm_tmr_blk: 208,
  x_gpe0_blk: 220,
  x_gpe1_blk: 232,
  sleep_control_reg: 244,
  sleep_status_reg: 256,
} as const;
export const FADT_SIZE = 276;
export const FADT_REVISION = 6;
export const FADT_MINOR = 5;

/** FADT Flags (Table 5.10). */
export const FadtFlag = {
  WBINVD: 1 << 0,
  WBINVD_FLUSH: 1 << 1,
  PROC_C1: 1 << 2,
  P_LVL2_UP: 1 << 3,
  PWR_BUTTON: 1 << 4,
  SLP_BUTTON: 1 << 5,
  FIX_RTC: 1 << 6,
  RTC_S4: 1 << 7,
  TMR_VAL_EXT: 1 << 8,
  DCK_CAP: 1 << 9,
  RESET_REG_SUP: 1 << 10,
  HW_REDUCED_ACPI: 1 << 20,
} as const;

/** IA-PC boot architecture flags (Table 5.11). */
export const IapcBootArch = {
  LEGACY_DEVICES: 1 << 0,
  I8042: 1 << 1,
  VGA_NOT_PRESENT: 1 << 2,
  MSI_NOT_SUPPORTED: 1 << 3,
  PCIE_ASPM: 1 << 4,
  CMOS_RTC_NOT_PRESENT: 1 << 5,
} as const;

/** FACS (§5.2.10, Table 5.14): 64 bytes, 64-byte aligned, no checksum. */
export const FACS = {
  signature: [0, 4],
  length: [4, 4],
  hardware_signature: [8, 4],
  firmware_waking_vector: [12, 4],
  global_lock: [16, 4],
  flags: [20, 4],
  x_firmware_waking_vector: [24, 8],
  version: [32, 1],
  ospm_flags: [36, 4],
} as const satisfies StructTable;
export const FACS_SIZE = 64;

/** MADT (§5.2.12, Table 5.19): header, then the local APIC address and flags, then entries. */
export const MADT = { local_apic_address: [36, 4], flags: [40, 4] } as const satisfies StructTable;
export const MADT_ENTRIES_OFFSET = 44;
export const MADT_REVISION = 5;
export const MadtFlag = { PCAT_COMPAT: 1 } as const;
export const MadtType = { LOCAL_APIC: 0, IO_APIC: 1, INTERRUPT_OVERRIDE: 2, LOCAL_APIC_NMI: 4 } as const;
/** Processor Local APIC structure (Table 5.22): 8 bytes. */
export const MADT_LOCAL_APIC = {
  type: [0, 1],
  length: [1, 1],
  acpi_processor_uid: [2, 1],
  apic_id: [3, 1],
  flags: [4, 4],
} as const satisfies StructTable;
/** I/O APIC structure (Table 5.24): 12 bytes. */
export const MADT_IO_APIC = {
  type: [0, 1],
  length: [1, 1],
  io_apic_id: [2, 1],
  reserved: [3, 1],
  io_apic_address: [4, 4],
  gsi_base: [8, 4],
} as const satisfies StructTable;
/** Interrupt Source Override (Table 5.25): 10 bytes. */
export const MADT_ISO = {
  type: [0, 1],
  length: [1, 1],
  bus: [2, 1],
  source: [3, 1],
  gsi: [4, 4],
  flags: [8, 2],
} as const satisfies StructTable;
/** Local APIC NMI structure (Table 5.29): 6 bytes. */
export const MADT_LAPIC_NMI = {
  type: [0, 1],
  length: [1, 1],
  acpi_processor_uid: [2, 1],
  flags: [3, 2],
  lint: [5, 1],
} as const satisfies StructTable;
export const MADT_ENTRY_SIZE = {
  [MadtType.LOCAL_APIC]: 8,
  [MadtType.IO_APIC]: 12,
  [MadtType.INTERRUPT_OVERRIDE]: 10,
  [MadtType.LOCAL_APIC_NMI]: 6,
} as const;
/** Local APIC flags: bit 0 enabled, bit 1 online capable. */
export const LocalApicFlag = { ENABLED: 1, ONLINE_CAPABLE: 2 } as const;
/** MPS INTI flags (Table 5.26): polarity bits 1:0, trigger bits 3:2. */
export const MpsInti = {
  POLARITY_CONFORM: 0,
  POLARITY_HIGH: 1,
  POLARITY_LOW: 3,
  TRIGGER_CONFORM: 0,
  TRIGGER_EDGE: 1 << 2,
  TRIGGER_LEVEL: 3 << 2,
} as const;

export const DEFAULT_ACPI_BASE = 0xe0000;
/** The region reserved for the tables (64 KiB: 0xE0000-0xEFFFF). */
export const ACPI_REGION_SIZE = 0x10000;
export const OEM_ID = 'TSVMM ';
export const CREATOR_ID = 'TSVM';
export const CREATOR_REVISION = 1;

export interface AcpiConfig {
  /** APIC IDs of the CPUs, BSP first (each < 255: tsvmm emits no x2APIC MADT entries) */
  readonly apicIds: readonly number[];
  readonly ioapicId?: number;
  readonly ioapicAddress?: number;
  readonly lapicAddress?: number;
  readonly overrides?: readonly IsaOverride[];
  /** I/O base of the PM register blocks (acpi/pm.ts) */
  readonly pmBase?: number;
  /** guest physical base of the table region (16-byte aligned, below 1 MiB for the RSDP scan) */
  readonly base?: number;
  /** ACPI reset register: an I/O port and value (default: the 8042 reset, port 0x64 ← 0xFE) */
  readonly reset?: { port: number; value: number };
}

export interface AcpiBlob {
  readonly name: string;
  readonly address: number;
  readonly bytes: Uint8Array;
}

export interface AcpiTables {
  readonly rsdpAddress: number;
  /** every table, with its guest physical address */
  readonly blobs: readonly AcpiBlob[];
  /** the region to report as reserved in the e820 map */
  readonly region: { readonly base: number; readonly size: number };
}

function writeAscii(b: Uint8Array, off: number, text: string, len: number): void {
  for (let i = 0; i < len; i++) b[off + i] = i < text.length ? text.charCodeAt(i) : 0x20;
}

/** Sum of the bytes mod 256. */
export function byteSum(b: Uint8Array, start = 0, end = b.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s = (s + b[i]!) & 0xff;
  return s;
}

/** A table with a filled-in header; the caller fills the body and then calls sealTable(). */
function newTable(
  signature: string,
  length: number,
  revision: number,
  oemTableId: string,
): { bytes: Uint8Array; dv: DataView } {
  const bytes = new Uint8Array(length);
  const dv = new DataView(bytes.buffer);
  writeAscii(bytes, 0, signature, 4);
  setField(dv, 0, ACPI_HEADER, 'length', length);
  setField(dv, 0, ACPI_HEADER, 'revision', revision);
  writeAscii(bytes, ACPI_HEADER_TEXT.oem_id[0], OEM_ID, 6);
  writeAscii(bytes, ACPI_HEADER_TEXT.oem_table_id[0], oemTableId, 8);
  setField(dv, 0, ACPI_HEADER, 'oem_revision', 1);
  writeAscii(bytes, ACPI_HEADER_TEXT.creator_id[0], CREATOR_ID, 4);
  setField(dv, 0, ACPI_HEADER, 'creator_revision', CREATOR_REVISION);
  return { bytes, dv };
}

function sealTable(bytes: Uint8Array): Uint8Array {
  bytes[ACPI_HEADER.checksum[0]] = 0;
  bytes[ACPI_HEADER.checksum[0]] = (0x100 - byteSum(bytes)) & 0xff;
  return bytes;
}

function writeGas(
  dv: DataView,
  off: number,
  space: number,
  bitWidth: number,
  access: number,
  address: number,
): void {
  setField(dv, off, GAS, 'space_id', space);
  setField(dv, off, GAS, 'bit_width', bitWidth);
  setField(dv, off, GAS, 'bit_offset', 0);
  setField(dv, off, GAS, 'access_size', access);
  setField(dv, off, GAS, 'address', BigInt(address));
}

/** The DSDT: an empty \_SB scope and the \_S5 sleep package (SLP_TYPa, SLP_TYPb). */
export function buildDsdt(): Uint8Array {
  const aml = [
    ...scope('\\_SB_'),
    ...name('\\_S5_', packageOf(integer(ACPI_S5_SLP_TYP), integer(ACPI_S5_SLP_TYP), integer(0), integer(0))),
  ];
  const { bytes } = newTable('DSDT', ACPI_HEADER_SIZE + aml.length, 2, 'TSVMMDSD');
  bytes.set(aml, ACPI_HEADER_SIZE);
  return sealTable(bytes);
}

export function buildFacs(): Uint8Array {
  const bytes = new Uint8Array(FACS_SIZE);
  const dv = new DataView(bytes.buffer);
  writeAscii(bytes, 0, 'FACS', 4);
  setField(dv, 0, FACS, 'length', FACS_SIZE);
  setField(dv, 0, FACS, 'version', 2);
  return bytes;
}

export function buildFadt(opts: {
  facs: number;
  dsdt: number;
  pmBase: number;
  reset: { port: number; value: number };
}): Uint8Array {
  const { bytes, dv } = newTable('FACP', FADT_SIZE, FADT_REVISION, 'TSVMMFAC');
  const pm1aEvt = opts.pmBase + PmBlock.PM1_EVT;
  const pm1aCnt = opts.pmBase + PmBlock.PM1_CNT;
  const pmTmr = opts.pmBase + PmBlock.PM_TMR;
  const f = (k: keyof typeof FADT, v: number | bigint): void => setField(dv, 0, FADT, k, v);
  f('firmware_ctrl', opts.facs);
  f('dsdt', opts.dsdt);
  f('preferred_pm_profile', 0); // unspecified
  f('sci_int', SCI_IRQ);
  f('smi_cmd', 0); // no SMM: the platform is always in ACPI mode
  f('pm1a_evt_blk', pm1aEvt);
  f('pm1a_cnt_blk', pm1aCnt);
  f('pm_tmr_blk', pmTmr);
  f('pm1_evt_len', 4);
  f('pm1_cnt_len', 2);
  f('pm_tmr_len', 4);
  f('p_lvl2_lat', 101); // > 100: C2 not supported
  f('p_lvl3_lat', 1001); // > 1000: C3 not supported
  f('century', 0x32);
  f('iapc_boot_arch', IapcBootArch.LEGACY_DEVICES | IapcBootArch.VGA_NOT_PRESENT);
  f('flags', FadtFlag.WBINVD | FadtFlag.PROC_C1 | FadtFlag.SLP_BUTTON | FadtFlag.RESET_REG_SUP);
  writeGas(dv, FADT_GAS.reset_reg, GasSpace.IO, 8, GasAccess.BYTE, opts.reset.port);
  f('reset_value', opts.reset.value);
  f('fadt_minor_version', FADT_MINOR);
  f('x_firmware_ctrl', BigInt(opts.facs));
  f('x_dsdt', BigInt(opts.dsdt));
  writeGas(dv, FADT_GAS.x_pm1a_evt_blk, GasSpace.IO, 32, GasAccess.WORD, pm1aEvt);
  writeGas(dv, FADT_GAS.x_pm1a_cnt_blk, GasSpace.IO, 16, GasAccess.WORD, pm1aCnt);
  writeGas(dv, FADT_GAS.x_pm_tmr_blk, GasSpace.IO, 32, GasAccess.DWORD, pmTmr);
  writeAscii(bytes, FADT.hypervisor_vendor_identity[0], 'TSVMM', 8);
  return sealTable(bytes);
}

function intiFlags(o: IsaOverride): number {
  const pol =
    o.polarity === 'high'
      ? MpsInti.POLARITY_HIGH
      : o.polarity === 'low'
        ? MpsInti.POLARITY_LOW
        : MpsInti.POLARITY_CONFORM;
  const trg =
    o.trigger === 'edge'
      ? MpsInti.TRIGGER_EDGE
      : o.trigger === 'level'
        ? MpsInti.TRIGGER_LEVEL
        : MpsInti.TRIGGER_CONFORM;
  return pol | trg;
}

export function buildMadt(opts: {
  apicIds: readonly number[];
  lapicAddress: number;
  ioapicId: number;
  ioapicAddress: number;
  overrides: readonly IsaOverride[];
}): Uint8Array {
  const n = opts.apicIds.length;
  const length = MADT_ENTRIES_OFFSET + n * 8 + 12 + opts.overrides.length * 10 + 6;
  const { bytes, dv } = newTable('APIC', length, MADT_REVISION, 'TSVMMAPI');
  setField(dv, 0, MADT, 'local_apic_address', opts.lapicAddress);
  setField(dv, 0, MADT, 'flags', MadtFlag.PCAT_COMPAT);
  let off = MADT_ENTRIES_OFFSET;
  opts.apicIds.forEach((id, uid) => {
    setField(dv, off, MADT_LOCAL_APIC, 'type', MadtType.LOCAL_APIC);
    setField(dv, off, MADT_LOCAL_APIC, 'length', 8);
    setField(dv, off, MADT_LOCAL_APIC, 'acpi_processor_uid', uid);
    setField(dv, off, MADT_LOCAL_APIC, 'apic_id', id);
    setField(dv, off, MADT_LOCAL_APIC, 'flags', LocalApicFlag.ENABLED);
    off += 8;
  });
  setField(dv, off, MADT_IO_APIC, 'type', MadtType.IO_APIC);
  setField(dv, off, MADT_IO_APIC, 'length', 12);
  setField(dv, off, MADT_IO_APIC, 'io_apic_id', opts.ioapicId);
  setField(dv, off, MADT_IO_APIC, 'io_apic_address', opts.ioapicAddress);
  setField(dv, off, MADT_IO_APIC, 'gsi_base', 0);
  off += 12;
  for (const o of opts.overrides) {
    setField(dv, off, MADT_ISO, 'type', MadtType.INTERRUPT_OVERRIDE);
    setField(dv, off, MADT_ISO, 'length', 10);
    setField(dv, off, MADT_ISO, 'bus', 0); // ISA
    setField(dv, off, MADT_ISO, 'source', o.isaIrq);
    setField(dv, off, MADT_ISO, 'gsi', o.gsi);
    setField(dv, off, MADT_ISO, 'flags', intiFlags(o));
    off += 10;
  }
  // LINT1 of every processor is the NMI input (edge, high), as on a PC.
  setField(dv, off, MADT_LAPIC_NMI, 'type', MadtType.LOCAL_APIC_NMI);
  setField(dv, off, MADT_LAPIC_NMI, 'length', 6);
  setField(dv, off, MADT_LAPIC_NMI, 'acpi_processor_uid', 0xff); // all processors
  setField(dv, off, MADT_LAPIC_NMI, 'flags', MpsInti.POLARITY_HIGH | MpsInti.TRIGGER_EDGE);
  setField(dv, off, MADT_LAPIC_NMI, 'lint', 1);
  return sealTable(bytes);
}

function buildRsdt(entries: readonly number[]): Uint8Array {
  const { bytes, dv } = newTable('RSDT', ACPI_HEADER_SIZE + entries.length * 4, 1, 'TSVMMRSD');
  entries.forEach((a, i) => dv.setUint32(ACPI_HEADER_SIZE + i * 4, a, true));
  return sealTable(bytes);
}

function buildXsdt(entries: readonly number[]): Uint8Array {
  const { bytes, dv } = newTable('XSDT', ACPI_HEADER_SIZE + entries.length * 8, 1, 'TSVMMXSD');
  entries.forEach((a, i) => dv.setBigUint64(ACPI_HEADER_SIZE + i * 8, BigInt(a), true));
  return sealTable(bytes);
}

export function buildRsdp(rsdt: number, xsdt: number): Uint8Array {
  const bytes = new Uint8Array(RSDP_SIZE);
  const dv = new DataView(bytes.buffer);
  writeAscii(bytes, 0, 'RSD PTR ', 8);
  writeAscii(bytes, RSDP_TEXT.oem_id[0], OEM_ID, 6);
  setField(dv, 0, RSDP, 'revision', 2);
  setField(dv, 0, RSDP, 'rsdt_address', rsdt);
  setField(dv, 0, RSDP, 'length', RSDP_SIZE);
  setField(dv, 0, RSDP, 'xsdt_address', BigInt(xsdt));
  bytes[RSDP.checksum[0]] = (0x100 - byteSum(bytes, 0, RSDP_V1_SIZE)) & 0xff;
  bytes[RSDP.extended_checksum[0]] = (0x100 - byteSum(bytes, 0, RSDP_SIZE)) & 0xff;
  return bytes;
}

function align(x: number, a: number): number {
  return Math.ceil(x / a) * a;
}

/** Build every table and place them in one region. */
export function buildAcpiTables(cfg: AcpiConfig): AcpiTables {
  const base = cfg.base ?? DEFAULT_ACPI_BASE;
  if (base % 16 !== 0 || base < 0 || base + ACPI_REGION_SIZE > 0x100000) {
    throw new TsvmmError(
      'ACPI_PLACEMENT',
      `ACPI tables need a 16-byte aligned region below 1 MiB, not 0x${base.toString(16)}`,
    );
  }
  if (cfg.apicIds.length === 0 || cfg.apicIds.length > 254) {
    throw new TsvmmError('ACPI_CPUS', `the MADT describes 1-254 CPUs (got ${cfg.apicIds.length})`);
  }
  if (
    cfg.apicIds.some((id) => !Number.isInteger(id) || id < 0 || id >= 255) ||
    new Set(cfg.apicIds).size !== cfg.apicIds.length
  ) {
    throw new TsvmmError(
      'ACPI_CPUS',
      `APIC IDs must be distinct integers 0-254 (got ${cfg.apicIds.join(', ')})`,
    );
  }
  const blobs: AcpiBlob[] = [];
  let next = base;
  const place = (nm: string, bytes: Uint8Array, alignment = 16): number => {
    const address = align(next, alignment);
    next = address + bytes.length;
    blobs.push({ name: nm, address, bytes });
    return address;
  };
  // RSDP first (its address is known), the rest after it; the RSDP is written last but placed first.
  const rsdpAddress = place('RSDP', new Uint8Array(RSDP_SIZE));
  const facs = place('FACS', buildFacs(), 64);
  const dsdt = place('DSDT', buildDsdt());
  const fadt = place(
    'FACP',
    buildFadt({
      facs,
      dsdt,
      pmBase: cfg.pmBase ?? ACPI_PM_BASE,
      reset: cfg.reset ?? { port: 0x64, value: 0xfe },
    }),
  );
  const madt = place(
    'APIC',
    buildMadt({
      apicIds: cfg.apicIds,
      lapicAddress: cfg.lapicAddress ?? LAPIC_DEFAULT_BASE,
      ioapicId: cfg.ioapicId ?? cfg.apicIds.length,
      ioapicAddress: cfg.ioapicAddress ?? IOAPIC_DEFAULT_BASE,
      overrides: cfg.overrides ?? PC_ISA_OVERRIDES,
    }),
  );
  const rsdt = place('RSDT', buildRsdt([fadt, madt]));
  const xsdt = place('XSDT', buildXsdt([fadt, madt]));
  blobs[0] = { name: 'RSDP', address: rsdpAddress, bytes: buildRsdp(rsdt, xsdt) };
  if (next > base + ACPI_REGION_SIZE)
    throw new TsvmmError(
      'ACPI_PLACEMENT',
      `ACPI tables (${next - base} bytes) exceed their ${ACPI_REGION_SIZE}-byte region`,
    );
  return { rsdpAddress, blobs, region: { base, size: ACPI_REGION_SIZE } };
}

/** Read a table's signature and length back (for tests and diagnostics). */
export function tableHeader(bytes: Uint8Array): { signature: string; length: number; revision: number } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    signature: String.fromCharCode(...bytes.subarray(0, 4)),
    length: Number(getField(dv, 0, ACPI_HEADER, 'length')),
    revision: Number(getField(dv, 0, ACPI_HEADER, 'revision')),
  };
}
