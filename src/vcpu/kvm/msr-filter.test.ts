// KVM_X86_SET_MSR_FILTER ranges for Vm.setUserspaceMsrs (vm.ts filterableRanges): the x2APIC range
// 0x800-0x8FF is never filtered by KVM (api.rst), so it is cut out of the filter (those MSRs reach
// userspace through KVM_MSR_EXIT_REASON_INVAL exits instead); malformed ranges are EINVAL.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendError } from '../backend.ts';
import { filterableRanges } from './vm.ts';

test('the x2APIC range is cut out of the filter; the rest is kept as given', () => {
  assert.deepEqual(
    filterableRanges([
      { base: 0x1b, count: 1 },
      { base: 0x6e0, count: 1 },
      { base: 0x800, count: 0x100 },
    ]),
    [
      { base: 0x1b, count: 1 },
      { base: 0x6e0, count: 1 },
    ],
  );
  // a range straddling the x2APIC block keeps both outer parts
  assert.deepEqual(filterableRanges([{ base: 0x7f0, count: 0x120 }]), [
    { base: 0x7f0, count: 0x10 },
    { base: 0x900, count: 0x10 },
  ]);
  assert.deepEqual(filterableRanges([]), []);
});

test('malformed ranges are refused with EINVAL', () => {
  for (const r of [
    { base: -1, count: 1 },
    { base: 0x10, count: 0 },
    { base: 0xffffffff, count: 2 },
    { base: 0.5, count: 1 },
  ])
    assert.throws(
      () => filterableRanges([r]),
      (e: unknown) => e instanceof BackendError && e.code === 'EINVAL',
    );
});
