// Tests for CPUID vendor identification (leaf 0 vendor string; KVM AMD-like vendor rule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { TsvmmError } from '../../../util/result.ts';
import { CpuidTable } from './table.ts';
import type { Vendor } from './types.ts';
import { CANONICAL_VENDOR_STRING, VENDOR_STRINGS, isAmdLike, vendorOf } from './vendor.ts';

/** Leaf 0 as a table: the 12 vendor bytes go to EBX, EDX, ECX. */
function leaf0(vendor: string): CpuidTable {
  const w = (i: number) =>
    (vendor.charCodeAt(i) | (vendor.charCodeAt(i + 1) << 8) | (vendor.charCodeAt(i + 2) << 16) | (vendor.charCodeAt(i + 3) << 24)) >>> 0;
  return new CpuidTable([{ function: 0, index: 0, flags: 0, eax: 0xd, ebx: w(0), edx: w(4), ecx: w(8) }]);
}

test('vendor strings map to vendors, from a string or a table', () => {
  const cases: [string, Vendor][] = [
    ['GenuineIntel', 'intel'],
    ['AuthenticAMD', 'amd'],
    ['AMDisbetter!', 'amd'],
    ['HygonGenuine', 'hygon'],
    ['CentaurHauls', 'centaur'],
    ['VIA VIA VIA ', 'centaur'],
    ['  Shanghai  ', 'zhaoxin'],
    ['KVMKVMKVMKVM', 'unknown'],
    ['genuineintel', 'unknown'], // exact match only, as hardware compares bytes
  ];
  for (const [s, v] of cases) {
    assert.equal(vendorOf(s), v, s);
    assert.equal(vendorOf(leaf0(s)), v, `table ${s}`);
  }
  assert.equal(vendorOf(new CpuidTable()), 'unknown');
  for (const [v, s] of Object.entries(CANONICAL_VENDOR_STRING)) assert.equal(VENDOR_STRINGS[s], v);
});

test('the real dump of this machine is AMD', () => {
  const doc = JSON.parse(readFileSync('/work/shared/fixtures/cpuid/this-machine/kvm-supported-cpuid.json', 'utf8')) as {
    entries: Record<string, string>[];
  };
  const e = doc.entries.find((x) => parseInt(x.function!, 16) === 0)!;
  const t = new CpuidTable([
    { function: 0, index: 0, flags: 0, eax: parseInt(e.eax!, 16), ebx: parseInt(e.ebx!, 16), ecx: parseInt(e.ecx!, 16), edx: parseInt(e.edx!, 16) },
  ]);
  assert.equal(vendorOf(t), 'amd');
  assert.ok(isAmdLike(vendorOf(t)));
});

test('AMD-like means AMD and Hygon only', () => {
  const all: Vendor[] = ['intel', 'amd', 'hygon', 'centaur', 'zhaoxin', 'unknown'];
  assert.deepEqual(all.filter(isAmdLike), ['amd', 'hygon']);
});

test('a vendor string of the wrong length is a typed error', () => {
  for (const bad of ['', 'GenuineInte', 'GenuineIntel!']) {
    assert.throws(() => vendorOf(bad), (e: unknown) => e instanceof TsvmmError && e.code === 'CPUID_BAD_VENDOR_STRING');
  }
});
