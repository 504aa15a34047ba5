import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TsvmmError } from '../../util/result.ts';
import { Feature } from '../../arch/x86/cpuid/index.ts';
import { detectFormat, readDumpFile, readDumpText } from './detect.ts';
import { readProcCpuinfo, cpuinfoFlagSet } from './proc-cpuinfo.ts';

const SHARED = new URL('../../../../shared/fixtures/cpuid/', import.meta.url).pathname;
const LOCAL = new URL('../fixtures/', import.meta.url).pathname;

test('content-based detection of every format', () => {
  assert.equal(detectFormat(readFileSync(LOCAL + 'this-host-cpuid-r.txt', 'utf8')), 'cpuid-r');
  assert.equal(
    detectFormat(readFileSync(SHARED + 'instlatx64/GenuineIntel00306C3_Haswell_CPUID.txt', 'utf8')),
    'aida64',
  );
  assert.equal(
    detectFormat(readFileSync(SHARED + 'this-machine/kvm-supported-cpuid.json', 'utf8')),
    'kvm-json',
  );
  assert.equal(
    detectFormat(readFileSync(SHARED + 'this-machine/proc-cpuinfo-flags.txt', 'utf8')),
    'proc-cpuinfo',
  );
  assert.equal(detectFormat('hello world\n'), undefined);
  assert.throws(
    () => readDumpText('hello world\n', { source: 'x.txt' }),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CPUID_DUMP_FORMAT' && /x\.txt/.test(e.message),
  );
  assert.throws(
    () => readDumpFile('/nonexistent/dump.txt'),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CPUID_DUMP_READ',
  );
  const d = readDumpFile(SHARED + 'this-machine/kvm-emulated-cpuid.json');
  assert.equal(d.format, 'kvm-json');
  assert.ok(d.table.hasBit(Feature.movbe), 'KVM_GET_EMULATED_CPUID reports MOVBE (spec §5.5)');
});

test('/proc/cpuinfo flags: lossy table with just the named bits', () => {
  const text = readFileSync(SHARED + 'this-machine/proc-cpuinfo-flags.txt', 'utf8');
  const d = readProcCpuinfo(text);
  assert.equal(d.lossy, true);
  assert.ok(d.notes[0]!.startsWith('LOSSY'));
  // aliases: cpuinfo spells xmm3 "pni", gbpages "pdpe1gb"
  assert.ok(d.table.hasBit(Feature.xmm3));
  assert.ok(d.table.hasBit(Feature.gbpages));
  assert.ok(d.table.hasBit(Feature.avx512f));
  // the kernel of this machine disabled RDSEED (absent from cpuinfo, present in raw CPUID)
  assert.equal(d.table.hasBit(Feature.rdseed), false);
  // no leaf values: no vendor, no XSAVE sizes
  assert.equal(d.table.vendorString(), '');
  assert.equal(d.table.reg(0xd, 0, 'ebx'), 0);
  assert.ok(d.notes.some((n) => /rep_good|nopl|synthetic/.test(n)));
  assert.ok(cpuinfoFlagSet(text).has('pni'));
});

test('/proc/cpuinfo: full file with identity lines, several processors, errors with line numbers', () => {
  const full = [
    'processor\t: 0',
    'vendor_id\t: GenuineIntel',
    'cpu family\t: 6',
    'model\t\t: 85',
    'stepping\t: 4',
    'flags\t\t: fpu sse sse2 avx avx2 xsaves',
    '',
    'processor\t: 1',
    'vendor_id\t: GenuineIntel',
    'cpu family\t: 6',
    'model\t\t: 85',
    'stepping\t: 4',
    'flags\t\t: fpu sse sse2',
    '',
  ].join('\n');
  const d = readProcCpuinfo(full);
  assert.equal(d.cpuCount, 2);
  assert.equal(d.distinctTables, 2);
  assert.equal(d.table.vendorString(), 'GenuineIntel');
  assert.equal(d.table.reg(1, 0, 'eax'), 0x50654);
  assert.ok(d.table.hasBit(Feature.xsaves));
  assert.equal(readProcCpuinfo(full, { cpu: 1 }).table.hasBit(Feature.avx), false);
  try {
    readProcCpuinfo('processor : 0\nmodel : eighty\nflags : fpu\n');
    assert.fail('expected an error');
  } catch (e) {
    assert.ok(e instanceof TsvmmError);
    assert.equal(e.details?.line, 2);
    assert.match(e.message, /"model" must be a number/);
  }
  assert.throws(() => readProcCpuinfo('flags : fpu\nthis line has no colon\n'), /:2: expected "key : value"/);
  assert.throws(() => readProcCpuinfo('processor : 0\n'), /no "flags :" line/);
});

test('garbage never crashes a reader: always a TsvmmError with a code', () => {
  const inputs = [
    '{',
    '[]',
    '{"entries": [1, 2]}',
    '{"entries": [{"function": -1, "eax": 0, "ebx": 0, "ecx": 0, "edx": 0}]}',
    '{"entries": [{"function": "0x100000000", "eax": 0, "ebx": 0, "ecx": 0, "edx": 0}]}',
    'null',
    'CPU 0:\n   0x00000000 0x00: eax=0x1\n',
    'CPU 0:\nCPU 1:\n',
    'CPUID 0000000G: 00000000-00000000-00000000-00000000\n',
    'CPUID 00000000: 0000000D-68747541-444D4163-69746E65 [SL ZZ]\n',
    'flags : fpu\u0000sse\n',
    '\u0000\u0001\u0002binary',
    '',
  ];
  for (const text of inputs) {
    assert.throws(
      () => readDumpText(text, { source: 'fuzz' }),
      (e: unknown) => e instanceof TsvmmError && typeof e.code === 'string' && e.message.includes('fuzz'),
      JSON.stringify(text),
    );
  }
});
