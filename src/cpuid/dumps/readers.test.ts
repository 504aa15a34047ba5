import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../../arch/x86/cpuid/table.ts';
import { TsvmmError } from '../../util/result.ts';
import { readCpuidR, writeCpuidR, parseCpuidRBlocks } from './cpuid-r.ts';
import { readAida64, writeAida64 } from './aida64.ts';
import { readKvmJson, writeKvmJson } from './kvm-json.ts';

const SHARED = new URL('../../../../shared/fixtures/cpuid/', import.meta.url);
const LOCAL = new URL('../fixtures/', import.meta.url);
const read = (base: URL, p: string): string => readFileSync(new URL(p, base), 'utf8');

function parseErrorLine(fn: () => unknown): { line: number; message: string } {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof TsvmmError, `expected TsvmmError, got ${String(e)}`);
    assert.equal(e.code, 'CPUID_PARSE');
    return { line: e.details?.line as number, message: e.message };
  }
  assert.fail('expected a parse error');
}

test('cpuid -r: this machine (two CPUs, captured here and in shared/)', () => {
  const text = read(LOCAL, 'this-host-cpuid-r.txt');
  const d = readCpuidR(text, { source: 'x' });
  assert.equal(d.format, 'cpuid-r');
  assert.equal(d.cpuCount, 2);
  assert.equal(d.distinctTables, 1, 'the two vCPUs differ only in APIC IDs');
  assert.equal(d.table.vendorString(), 'AuthenticAMD');
  assert.equal(d.table.reg(1, 0, 'eax'), 0x00b00f21);
  // leaf 7 is indexed; 7.1 EAX = 0x30
  assert.equal(d.table.get(7, 1)?.eax, 0x30);
  assert.equal(d.table.get(7, 0)!.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX, 1);
  assert.equal(d.table.get(1, 0)!.flags, 0);
  // CPU 1 carries APIC ID 1 in 1:EBX[31:24]
  const d1 = readCpuidR(text, { cpu: 1 });
  assert.equal(d1.table.reg(1, 0, 'ebx') >>> 24, 1);
  assert.equal(d.table.reg(1, 0, 'ebx') >>> 24, 0);
  // the shared capture is the same machine kind
  const shared = readCpuidR(read(SHARED, 'this-machine/cpuid-r.txt'));
  assert.equal(shared.table.reg(7, 0, 'ebx'), d.table.reg(7, 0, 'ebx'));
  // `cpuid -r -1` prints "CPU:" without a number
  const one = readCpuidR(read(LOCAL, 'this-host-cpuid-r-1.txt'));
  assert.equal(one.cpuCount, 1);
  assert.throws(() => readCpuidR(text, { cpu: 2 }), /CPU 2 requested but the dump lists 2/);
});

test('cpuid -r: round trip through the writer', () => {
  const text = read(LOCAL, 'this-host-cpuid-r.txt');
  const blocks = parseCpuidRBlocks(text);
  const d = readCpuidR(text);
  const again = readCpuidR(writeCpuidR(d.table));
  assert.ok(again.table.equals(d.table));
  assert.equal(blocks[0]!.length, d.table.size);
});

test('cpuid -r: malformed input names the line', () => {
  const good = '   0x00000000 0x00: eax=0x0000001c ebx=0x68747541 ecx=0x444d4163 edx=0x69746e65';
  let r = parseErrorLine(() =>
    readCpuidR(`CPU 0:\n${good}\n   0x00000001 0x00: eax=0x123 ebx=0x0 ecx=0x0 edx=0x0\n`),
  );
  assert.equal(r.line, 3);
  assert.match(r.message, /malformed leaf line/);
  r = parseErrorLine(() => readCpuidR(`CPU 0:\n${good}\nhello\n`));
  assert.equal(r.line, 3);
  assert.match(r.message, /unexpected line/);
  r = parseErrorLine(() => readCpuidR(`CPU 0:\n${good}\n\n${good}\n`));
  assert.equal(r.line, 4);
  assert.match(r.message, /appears twice/);
  r = parseErrorLine(() => readCpuidR('CPU 0:\n'));
  assert.match(r.message, /no CPUID leaf lines/);
});

test('AIDA64: family 17h Zen (old layout with "Logical CPU #n" headers and [SL nn])', () => {
  const text = read(SHARED, 'instlatx64/AuthenticAMD0800F11_K17_Zen_CPUID4.txt');
  const d = readAida64(text);
  assert.equal(d.cpuCount, 16);
  assert.equal(d.distinctTables, 1);
  assert.equal(d.table.vendorString(), 'AuthenticAMD');
  assert.equal(d.table.reg(1, 0, 'eax'), 0x00800f11);
  // 0xD subleaf 1 (SL 01): XSAVEOPT|XSAVEC|XGETBV1|XSAVES = 0xF
  assert.equal(d.table.get(0xd, 1)?.eax, 0xf);
  assert.equal(d.table.get(0xd, 2)?.ebx, 0x240);
  assert.equal(d.table.get(0xd, 0)!.flags, KVM_CPUID_FLAG_SIGNIFCANT_INDEX);
  assert.equal(d.table.reg(0x80000000, 0, 'eax'), 0x8000001f);
});

test('AIDA64: headerless dump without [SL] markers (Ice Lake-SP): repeated leaves are subleaves in order', () => {
  const text = read(SHARED, 'instlatx64/GenuineIntel00606A6_ICX_04_CPUID.txt');
  const d = readAida64(text);
  assert.equal(d.cpuCount, 96);
  assert.equal(d.distinctTables, 1);
  // leaf 4: four cache levels, subleaf 3 is the L3 (type 3, level 3 → EAX low byte 0x63)
  assert.equal(d.table.get(4, 3)!.eax & 0xff, 0x63);
  assert.equal(d.table.get(0x18, 7)?.edx, 0x4043);
  assert.equal(d.table.get(0xb, 1)?.ebx, 0x30);
  const d5 = readAida64(text, { cpu: 5 });
  assert.equal(d5.table.reg(1, 0, 'ebx') >>> 24, d5.table.reg(0xb, 0, 'edx') & 0xff);
});

test('AIDA64: hybrid Lunar Lake has two distinct core types; the caller picks the CPU', () => {
  const text = read(SHARED, 'instlatx64/GenuineIntel00B06D1_LunarLake_04_CPUID.txt');
  const p = readAida64(text);
  const e = readAida64(text, { cpu: 4 });
  assert.equal(p.cpuCount, 8);
  assert.equal(p.distinctTables, 2);
  assert.equal(p.table.reg(0x1a, 0, 'eax') >>> 24, 0x40, 'CPU 0 is a P-core (Lion Cove)');
  assert.equal(e.table.reg(0x1a, 0, 'eax') >>> 24, 0x20, 'CPU 4 is an E-core (Skymont)');
  assert.ok(p.notes.some((n) => /hybrid/.test(n)));
});

test('AIDA64: round trip and malformed lines', () => {
  const text = read(SHARED, 'instlatx64/GenuineIntel00306C3_Haswell_CPUID.txt');
  const d = readAida64(text);
  const again = readAida64(writeAida64(d.table));
  assert.ok(again.table.equals(d.table));
  let r = parseErrorLine(() =>
    readAida64(
      'header\n\nCPUID 00000000: 0000000D-68747541-444D4163-69746E65\nCPUID 00000001: 00800F11-0010080-7ED8320B-178BFBFF\n',
    ),
  );
  assert.equal(r.line, 4);
  assert.match(r.message, /malformed CPUID line/);
  r = parseErrorLine(() =>
    readAida64(
      'CPUID 00000000: 0000000D-68747541-444D4163-69746E65\nCPUID 0000000D: 00000007-00000340-00000340-00000000 [SL 0G]\n',
    ),
  );
  assert.equal(r.line, 2);
  assert.match(r.message, /subleaf marker/);
  r = parseErrorLine(() =>
    readAida64(
      'CPUID 00000000: 0000000D-68747541-444D4163-69746E65\nCPUID 00000007: 0-0-0-0\n'.replace(
        '0-0-0-0',
        '00000000-00000000-00000000-00000000',
      ) +
        'CPUID 00000004: 00000000-00000000-00000000-00000000 [SL 01]\nCPUID 00000004: 00000000-00000000-00000000-00000000 [SL 01]\n',
    ),
  );
  assert.equal(r.line, 4);
  r = parseErrorLine(() => readAida64('nothing here\n'));
  assert.match(r.message, /no "CPUID/);
});

test('KVM JSON: the supported-CPUID fixture from this machine, and the writer', () => {
  const text = read(SHARED, 'this-machine/kvm-supported-cpuid.json');
  const d = readKvmJson(text);
  assert.equal(d.table.size, 75);
  assert.equal(d.table.reg(1, 0, 'ecx'), 0x81202000);
  assert.equal(d.table.get(0xd, 5)?.ebx, 0x340);
  assert.equal(d.table.get(0x40000000, 0)?.eax, 0x40000001);
  const again = readKvmJson(writeKvmJson(d.table));
  assert.ok(again.table.equals(d.table));
  // numbers are accepted as well as hex strings, and a bare array
  const bare = readKvmJson(
    '[{"function": 1, "index": 0, "flags": 0, "eax": 1, "ebx": 2, "ecx": 3, "edx": 4}]',
  );
  assert.equal(bare.table.reg(1, 0, 'edx'), 4);
});

test('KVM JSON: malformed input names the line', () => {
  let r = parseErrorLine(() => readKvmJson('{\n  "entries": [\n    {"function": 1,\n  ]\n}'));
  assert.equal(r.line, 4);
  assert.match(r.message, /invalid JSON/);
  r = parseErrorLine(() =>
    readKvmJson(
      '{\n "entries": [\n  {"function": "0x1", "eax": "0x1", "ebx": "0", "ecx": "0", "edx": "0"},\n  {"function": "0x7", "eax": "0xzz", "ebx": "0", "ecx": "0", "edx": "0"}\n ]\n}',
    ),
  );
  assert.equal(r.line, 4);
  assert.match(r.message, /entry 1: "eax" = "0xzz"/);
  r = parseErrorLine(() => readKvmJson('{\n "entries": [\n  {"function": 1}\n ]\n}'));
  assert.equal(r.line, 3);
  assert.match(r.message, /lacks "eax"/);
  r = parseErrorLine(() => readKvmJson('{"x": 1}'));
  assert.match(r.message, /expected \{"entries"/);
});
