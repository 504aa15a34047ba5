import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Feature } from '../arch/x86/cpuid/index.ts';
import { TsvmmError } from '../util/result.ts';
import { captureHost, loadHostDump } from './host.ts';
import { kvmSupportedFromHost } from './supported/kvm.ts';
import { reasonsIn } from './stage.ts';

const LOCAL = new URL('./fixtures/', import.meta.url).pathname;

test('--host parses `cpuid -r -1` and learns what the host kernel disabled from /proc/cpuinfo', () => {
  const h = captureHost({
    runCpuid: () => readFileSync(LOCAL + 'this-host-cpuid-r-1.txt', 'utf8'),
    readCpuinfo: () => readFileSync(LOCAL + 'this-host-proc-cpuinfo-flags.txt', 'utf8'),
  });
  assert.equal(h.dump.format, 'cpuid-r');
  assert.equal(h.dump.cpuCount, 1);
  assert.deepEqual([...(h.osDisabled ?? [])], ['rdseed']);
  // without /proc/cpuinfo the kernel's disables are unknown, not guessed
  const n = captureHost({
    runCpuid: () => readFileSync(LOCAL + 'this-host-cpuid-r-1.txt', 'utf8'),
    readCpuinfo: () => {
      throw new Error('ENOENT');
    },
  });
  assert.equal(n.osDisabled, undefined);
});

test('--host without the cpuid tool is a clear error naming the fix', () => {
  const saved = process.env.PATH;
  process.env.PATH = '/nonexistent-dir';
  try {
    assert.throws(
      () => captureHost(),
      (e: unknown) =>
        e instanceof TsvmmError &&
        e.code === 'CPUID_TOOL_MISSING' &&
        /apt-get install cpuid/.test(e.message) &&
        /--host-dump/.test(e.message),
    );
  } finally {
    process.env.PATH = saved;
  }
  assert.equal(loadHostDump(LOCAL + 'this-host-cpuid-r.txt', { cpu: 1 }).dump.cpu, 1);
});

test('LA57 is PASSTHROUGH_F: offered from raw CPUID even when the host kernel disabled it', () => {
  const host = loadHostDump(LOCAL + 'this-host-cpuid-r.txt').dump.table.withBit(Feature.la57, true);
  const s = kvmSupportedFromHost(host, { hostOsDisabled: new Set(['la57', 'avx2']) });
  assert.equal(s.table.hasBit(Feature.la57), true);
  assert.equal(reasonsIn(s.changes, 'la57', 'added')[0]?.kind, 'synthesized');
  assert.equal(s.table.hasBit(Feature.avx2), false, 'an F() bit the kernel disabled is hidden');
  assert.equal(
    (s.table.reg(0x80000008, 0, 'eax') >>> 8) & 0xff,
    48,
    'the model reports the host linear width',
  );
});
