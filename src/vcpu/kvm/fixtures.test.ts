// The live KVM_GET_SUPPORTED_CPUID and MSR lists against the captures in fixtures/ (taken on the
// build machine: kvm_pvm, Linux 6.18.44-fc-v509). Runs only on that kernel and module.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { release } from 'node:os';
import { createKvmBackend, kvmModule } from './system.ts';
import { kvmSkip } from './testing/host.ts';

const msrs = JSON.parse(readFileSync(new URL('./fixtures/pvm-msrs.json', import.meta.url), 'utf8')) as {
  kernel: string;
  module: string;
  msrIndexList: string[];
  msrFeatureIndexList: string[];
  featureMsrValues: Record<string, string>;
};
const cpuid = JSON.parse(
  readFileSync(new URL('./fixtures/pvm-supported-cpuid.json', import.meta.url), 'utf8'),
) as {
  entries: Record<string, string | number>[];
};

const sameHost =
  kvmSkip ||
  (release() === msrs.kernel && kvmModule() === msrs.module
    ? false
    : `captured on ${msrs.kernel}/${msrs.module}`);
const h = (x: number | bigint): string => '0x' + x.toString(16);

test('the fixtures are well formed', () => {
  assert.ok(cpuid.entries.length > 10);
  for (const e of cpuid.entries)
    for (const k of ['function', 'index', 'eax', 'ebx', 'ecx', 'edx'])
      assert.ok(Number.isInteger(Number(e[k])), k);
  assert.ok(msrs.msrIndexList.every((x) => /^0x[0-9a-f]+$/.test(x)));
});

test('live supported CPUID and MSR lists equal the captures from this machine', { skip: sameHost }, () => {
  const be = createKvmBackend({ contract: 'off' });
  try {
    // PVM merges host bits into the answer (pvm-deviations.ts, cpuid-host-bits-merged), including the
    // initial APIC ID of whichever host CPU this thread runs on: CPUID.1:EBX[31:24] and
    // CPUID.0xB/0x1F:EDX (x2APIC ID), Intel SDM Vol. 2A CPUID. Those fields are masked out.
    const perCpu = (e: Record<string, string | number>, k: string): number => {
      const f = Number(e.function);
      if (f === 1 && k === 'ebx') return 0xff000000;
      if ((f === 0xb || f === 0x1f) && k === 'edx') return 0xffffffff;
      return 0;
    };
    const norm = (e: Record<string, string | number>): string =>
      ['function', 'index', 'flags', 'eax', 'ebx', 'ecx', 'edx']
        .map((k) => h((Number(e[k]) & ~perCpu(e, k)) >>> 0))
        .join(' ');
    assert.deepEqual(
      be.supportedCpuid().map((e) => norm(e as unknown as Record<string, number>)),
      cpuid.entries.map(norm),
    );
    assert.deepEqual(be.msrIndexList().map(h), msrs.msrIndexList);
    const feat = be.msrFeatureIndexList();
    assert.deepEqual(feat.map(h), msrs.msrFeatureIndexList);
    assert.deepEqual(
      Object.fromEntries(be.featureMsrs(feat).map((e) => [h(e.index), h(e.data)])),
      msrs.featureMsrValues,
    );
  } finally {
    be.close();
  }
});
