import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ACPI_HEADER_SIZE,
  buildAcpiTables,
  byteSum,
  DEFAULT_ACPI_BASE,
  FADT,
  FADT_GAS,
  FADT_SIZE,
  FadtFlag,
  MADT_ENTRIES_OFFSET,
  MadtType,
  RSDP,
  tableHeader,
  type AcpiTables,
} from './tables.ts';
import {
  integer,
  name,
  nameString,
  packageOf,
  pkgLength,
  scope,
  device,
  eisaId,
  method,
  returnOf,
  string,
} from './aml.ts';
import { ACPI_PM_BASE, ACPI_S5_SLP_TYP } from './pm.ts';

function blob(t: AcpiTables, sig: string): { address: number; bytes: Uint8Array; dv: DataView } {
  const b = t.blobs.find((x) => x.name === sig);
  assert.ok(b, `table ${sig}`);
  return {
    address: b.address,
    bytes: b.bytes,
    dv: new DataView(b.bytes.buffer, b.bytes.byteOffset, b.bytes.byteLength),
  };
}

const tables = buildAcpiTables({ apicIds: [0, 1] });

test('every checksummed table sums to zero; lengths match the headers; signatures and revisions', () => {
  for (const b of tables.blobs) {
    if (b.name === 'RSDP' || b.name === 'FACS') continue;
    const h = tableHeader(b.bytes);
    assert.equal(h.signature, b.name);
    assert.equal(h.length, b.bytes.length, `${b.name} length`);
    assert.equal(byteSum(b.bytes), 0, `${b.name} checksum`);
  }
  assert.equal(tableHeader(blob(tables, 'FACP').bytes).revision, 6);
  assert.equal(blob(tables, 'FACP').bytes.length, FADT_SIZE);
  assert.equal(tableHeader(blob(tables, 'DSDT').bytes).revision, 2);
  const facs = blob(tables, 'FACS');
  assert.equal(String.fromCharCode(...facs.bytes.subarray(0, 4)), 'FACS');
  assert.equal(facs.dv.getUint32(4, true), 64);
  assert.equal(facs.address % 64, 0, 'FACS is 64-byte aligned');
});

test('RSDP v2: signature, both checksums, RSDT and XSDT addresses, inside the BIOS scan area', () => {
  const r = blob(tables, 'RSDP');
  assert.equal(r.address, DEFAULT_ACPI_BASE);
  assert.equal(tables.rsdpAddress, r.address);
  assert.equal(r.address % 16, 0);
  assert.ok(r.address >= 0xe0000 && r.address < 0x100000);
  assert.equal(String.fromCharCode(...r.bytes.subarray(0, 8)), 'RSD PTR ');
  assert.equal(byteSum(r.bytes, 0, 20), 0);
  assert.equal(byteSum(r.bytes, 0, 36), 0);
  assert.equal(r.dv.getUint8(RSDP.revision[0]), 2);
  assert.equal(r.dv.getUint32(RSDP.length[0], true), 36);
  assert.equal(r.dv.getUint32(RSDP.rsdt_address[0], true), blob(tables, 'RSDT').address);
  assert.equal(Number(r.dv.getBigUint64(RSDP.xsdt_address[0], true)), blob(tables, 'XSDT').address);
  // XSDT and RSDT list the FADT and MADT
  const x = blob(tables, 'XSDT');
  assert.deepEqual(
    [0, 1].map((i) => Number(x.dv.getBigUint64(ACPI_HEADER_SIZE + i * 8, true))),
    [blob(tables, 'FACP').address, blob(tables, 'APIC').address],
  );
  const rs = blob(tables, 'RSDT');
  assert.deepEqual(
    [0, 1].map((i) => rs.dv.getUint32(ACPI_HEADER_SIZE + i * 4, true)),
    [blob(tables, 'FACP').address, blob(tables, 'APIC').address],
  );
  // every table lies in the reserved region
  for (const b of tables.blobs)
    assert.ok(
      b.address >= tables.region.base &&
        b.address + b.bytes.length <= tables.region.base + tables.region.size,
    );
});

test('FADT fields at the spec offsets: DSDT/FACS pointers, PM blocks (32-bit and GAS), SCI 9, not HW-reduced', () => {
  const f = blob(tables, 'FACP');
  const u32 = (o: number): number => f.dv.getUint32(o, true);
  assert.equal(u32(FADT.dsdt[0]), blob(tables, 'DSDT').address);
  assert.equal(Number(f.dv.getBigUint64(FADT.x_dsdt[0], true)), blob(tables, 'DSDT').address);
  assert.equal(u32(FADT.firmware_ctrl[0]), blob(tables, 'FACS').address);
  assert.equal(f.dv.getUint16(FADT.sci_int[0], true), 9);
  assert.equal(u32(FADT.smi_cmd[0]), 0);
  assert.equal(u32(FADT.pm1a_evt_blk[0]), ACPI_PM_BASE);
  assert.equal(u32(FADT.pm1a_cnt_blk[0]), ACPI_PM_BASE + 4);
  assert.equal(u32(FADT.pm_tmr_blk[0]), ACPI_PM_BASE + 8);
  assert.deepEqual(
    [FADT.pm1_evt_len, FADT.pm1_cnt_len, FADT.pm_tmr_len].map(([o]) => f.bytes[o]),
    [4, 2, 4],
  );
  // X_PM_TMR_BLK: I/O space, 32 bits, dword access, address = PM_TMR_BLK
  const g = FADT_GAS.x_pm_tmr_blk;
  assert.deepEqual([f.bytes[g], f.bytes[g + 1], f.bytes[g + 3]], [1, 32, 3]);
  assert.equal(Number(f.dv.getBigUint64(g + 4, true)), ACPI_PM_BASE + 8);
  assert.equal(u32(FADT.flags[0]) & FadtFlag.HW_REDUCED_ACPI, 0);
  assert.equal(u32(FADT.flags[0]) & FadtFlag.RESET_REG_SUP, FadtFlag.RESET_REG_SUP);
  assert.equal(Number(f.dv.getBigUint64(FADT_GAS.reset_reg + 4, true)), 0x64);
  assert.equal(f.bytes[FADT.reset_value[0]], 0xfe);
  assert.equal(f.bytes[FADT.century[0]], 0x32);
  assert.equal(f.bytes[131], 5, 'FADT minor version');
  assert.equal(FADT.hypervisor_vendor_identity[0] + 8, FADT_SIZE);
});

test('MADT: local APIC address, PCAT_COMPAT, one LAPIC per CPU, IOAPIC, overrides IRQ0→GSI2 and IRQ9 level/high, LINT1 NMI', () => {
  const m = blob(tables, 'APIC');
  assert.equal(m.dv.getUint32(36, true), 0xfee00000);
  assert.equal(m.dv.getUint32(40, true), 1);
  const entries: number[][] = [];
  for (let off = MADT_ENTRIES_OFFSET; off < m.bytes.length;) {
    const len = m.bytes[off + 1]!;
    assert.ok(len > 0);
    entries.push([...m.bytes.subarray(off, off + len)]);
    off += len;
  }
  assert.deepEqual(
    entries.map((e) => e[0]),
    [
      MadtType.LOCAL_APIC,
      MadtType.LOCAL_APIC,
      MadtType.IO_APIC,
      MadtType.INTERRUPT_OVERRIDE,
      MadtType.INTERRUPT_OVERRIDE,
      MadtType.LOCAL_APIC_NMI,
    ],
  );
  assert.deepEqual(entries[0], [0, 8, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(entries[1], [0, 8, 1, 1, 1, 0, 0, 0]);
  assert.deepEqual(entries[2], [1, 12, 2, 0, 0x00, 0x00, 0xc0, 0xfe, 0, 0, 0, 0]);
  assert.deepEqual(entries[3], [2, 10, 0, 0, 2, 0, 0, 0, 0, 0]);
  assert.deepEqual(entries[4], [2, 10, 0, 9, 9, 0, 0, 0, 0x0d, 0]);
  assert.deepEqual(entries[5], [4, 6, 0xff, 0x05, 0x00, 1]);
});

test('DSDT AML: \\_SB scope and \\_S5 package with the PM SLP_TYP', () => {
  const d = blob(tables, 'DSDT');
  const aml = [...d.bytes.subarray(ACPI_HEADER_SIZE)];
  assert.deepEqual(aml, [
    0x10,
    0x06,
    0x5c,
    0x5f,
    0x53,
    0x42,
    0x5f,
    0x08,
    0x5c,
    0x5f,
    0x53,
    0x35,
    0x5f,
    0x12,
    0x08,
    0x04,
    0x0a,
    ACPI_S5_SLP_TYP,
    0x0a,
    ACPI_S5_SLP_TYP,
    0x00,
    0x00,
  ]);
});

test('AML encoder: PkgLength forms, names, integers, devices, methods, EISA IDs', () => {
  assert.deepEqual(pkgLength(0x3e), [0x3f]);
  assert.deepEqual(pkgLength(0x3f), [0x41, 0x04]); // 0x41 total: lead 0x40|1, then 0x04
  assert.deepEqual(pkgLength(0x1000), [0x83, 0x00, 0x01]); // total 0x1003: nibble 3, then bits 11:4, 19:12
  assert.deepEqual(nameString('\\_SB_.PCI0'), [0x5c, 0x2e, 0x5f, 0x53, 0x42, 0x5f, 0x50, 0x43, 0x49, 0x30]);
  assert.deepEqual(
    nameString('A.B.C'),
    [0x2f, 3, 0x41, 0x5f, 0x5f, 0x5f, 0x42, 0x5f, 0x5f, 0x5f, 0x43, 0x5f, 0x5f, 0x5f],
  );
  assert.throws(() => nameString('lower'), RangeError);
  assert.deepEqual(integer(0), [0]);
  assert.deepEqual(integer(1), [1]);
  assert.deepEqual(integer(0x1234), [0x0b, 0x34, 0x12]);
  assert.deepEqual(integer(0x12345678), [0x0c, 0x78, 0x56, 0x34, 0x12]);
  assert.deepEqual(integer(0x100000000n), [0x0e, 0, 0, 0, 0, 1, 0, 0, 0]);
  assert.deepEqual(integer(-1n), [0xff]);
  assert.deepEqual(string('AB'), [0x0d, 0x41, 0x42, 0]);
  assert.deepEqual(eisaId('PNP0B00'), [0x0c, 0x41, 0xd0, 0x0b, 0x00]);
  assert.deepEqual(device('RTC'), [0x5b, 0x82, 0x05, 0x52, 0x54, 0x43, 0x5f]);
  assert.deepEqual(
    method('_STA', 0, false, returnOf(integer(0x0f))),
    [0x14, 0x09, 0x5f, 0x53, 0x54, 0x41, 0x00, 0xa4, 0x0a, 0x0f],
  );
  assert.deepEqual(name('X', packageOf()), [0x08, 0x58, 0x5f, 0x5f, 0x5f, 0x12, 0x02, 0x00]);
  assert.deepEqual(scope('\\'), [0x10, 0x03, 0x5c, 0x00]); // RootChar + NullName
});

test('refusals: no CPUs, duplicate or too-large APIC IDs, misplaced region', () => {
  assert.throws(() => buildAcpiTables({ apicIds: [] }), { name: 'TsvmmError', code: 'ACPI_CPUS' } as object);
  assert.throws(() => buildAcpiTables({ apicIds: [1, 1] }), { code: 'ACPI_CPUS' } as object);
  assert.throws(() => buildAcpiTables({ apicIds: [255] }), { code: 'ACPI_CPUS' } as object);
  assert.throws(() => buildAcpiTables({ apicIds: [0], base: 0xf8000 }), { code: 'ACPI_PLACEMENT' } as object);
  assert.throws(() => buildAcpiTables({ apicIds: [0], base: 0xe0008 }), { code: 'ACPI_PLACEMENT' } as object);
});

const iasl = spawnSync('iasl', ['-v'], { encoding: 'utf8' });
const haveIasl = !iasl.error && iasl.status === 0;

test(
  'iasl -d disassembles every generated table without errors',
  { skip: haveIasl ? false : 'iasl not installed (Debian package acpica-tools)' },
  () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvmm-acpi-'));
    try {
      for (const b of tables.blobs) {
        if (b.name === 'RSDP') continue;
        const f = join(dir, `${b.name.toLowerCase()}.dat`);
        writeFileSync(f, b.bytes);
        const r = spawnSync('iasl', ['-d', f], { encoding: 'utf8', cwd: dir });
        const out = `${r.stdout}\n${r.stderr}`;
        assert.equal(r.status, 0, `${b.name}: ${out}`);
        const dsl = join(dir, `${b.name.toLowerCase()}.dsl`);
        assert.ok(existsSync(dsl), `${b.name}: no .dsl written`);
        const text = readFileSync(dsl, 'utf8');
        assert.doesNotMatch(
          text,
          /\*\*\*\* (Unknown|Invalid)|Error/i,
          `${b.name} disassembly flags a problem`,
        );
        if (b.name === 'DSDT') assert.match(text, /Name \(\\_S5, Package \(0x04\)/);
        if (b.name === 'APIC') assert.match(text, /Interrupt Source Override/);
        if (b.name === 'FACP') assert.match(text, /PM Timer Block Address : 00000608/);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
