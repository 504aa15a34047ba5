// Unit tests of the paging matrix's backend comparison (compare.ts) on report lines shaped like the
// ones conformance/programs/paging_lib.h prints, and of the paging deviation table's matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReport, type ReportLine } from '../report.ts';
import { findDeviation } from '../deviations.ts';
import { compareBackends, isInfoLine, parseGroupOutcome } from './compare.ts';
import { PAGING_DEVIATIONS } from './deviations.ts';

function lines(...body: string[]): readonly ReportLine[] {
  const r = parseReport(['TSVMM-BEGIN paging_x entry=long64', ...body, ''].join('\n'));
  return r.lines;
}

test('parseGroupOutcome reads the group summary, and nothing from a single check', () => {
  assert.deepEqual(
    parseGroupOutcome('cases=576 faults=7 mismatches=0 hash=0a1b2c3d chash=00000001 ahash=811c9dc5'),
    {
      cases: 576,
      faults: 7,
      mismatches: 0,
      hash: '0a1b2c3d',
      chash: '00000001',
      ahash: '811c9dc5',
    },
  );
  assert.deepEqual(
    parseGroupOutcome(
      'cases=192 faults=7 mismatches=3 cr2-page-base=3 hash=eac19669 chash=12345678 ahash=811c9dc5 first(cr2): fetch cpl=0 expect=cr2-linear got=cr2-page-base',
    ),
    { cases: 192, faults: 7, mismatches: 3, hash: 'eac19669', chash: '12345678', ahash: '811c9dc5' },
  );
  assert.equal(parseGroupOutcome('R/W 0->1 + INVLPG, CPL3 write expect=ok got=ok'), undefined);
  assert.equal(
    parseGroupOutcome('cases=1 faults=7 mismatches=0 hash=xyz chash=00000000 ahash=811c9dc5'),
    undefined,
  );
});

test('isInfoLine: only lines with an "info" name component', () => {
  assert.equal(isInfoLine('paging.tlb.info.remap-no-invlpg'), true);
  assert.equal(isInfoLine('paging.tlb.invlpg.remap'), false);
  assert.equal(isInfoLine('paging.information'), false);
});

test('compareBackends: equal hashes agree, a different hash or verdict disagrees, ahash differences are allowed', () => {
  const a = lines(
    'TSVMM-REPORT PASS paging.rw-us cases=576 faults=7 mismatches=0 hash=11111111 chash=00000000 ahash=22222222',
    'TSVMM-REPORT PASS paging.fetch cases=192 faults=7 mismatches=0 hash=33333333 chash=00000000 ahash=44444444',
    'TSVMM-REPORT PASS paging.ad cases=192 faults=7 mismatches=0 hash=55555555 chash=00000000 ahash=66666666',
    'TSVMM-REPORT PASS paging.tlb.invlpg.remap read=0x7766 expect=0x7766 got=ok',
    'TSVMM-REPORT PASS paging.tlb.info.remap-no-invlpg read stale-frame (either is allowed)',
    'TSVMM-REPORT SKIP paging.pk CPUID.7.0:ECX[3] PKU=0',
    'TSVMM-REPORT PASS paging.only-a cases=1 faults=7 mismatches=0 hash=00000000 chash=00000000 ahash=00000000',
  );
  const b = lines(
    'TSVMM-REPORT PASS paging.rw-us cases=576 faults=7 mismatches=0 hash=11111111 chash=00000000 ahash=99999999',
    'TSVMM-REPORT PASS paging.fetch cases=192 faults=7 mismatches=0 hash=33333334 chash=00000000 ahash=44444444',
    'TSVMM-REPORT FAIL paging.ad cases=192 faults=7 mismatches=1 hash=55555555 chash=00000000 ahash=66666666 first(leaf-A/D): x expect=match got=mismatch',
    'TSVMM-REPORT PASS paging.tlb.invlpg.remap read=0x7766 expect=0x7766 got=ok',
    'TSVMM-REPORT PASS paging.tlb.info.remap-no-invlpg read new-frame (either is allowed)',
    'TSVMM-REPORT PASS paging.pk cases=768 faults=7 mismatches=0 hash=77777777 chash=00000000 ahash=88888888',
  );
  const c = compareBackends(a, b, ['interp', 'kvm']);
  assert.deepEqual(c.agreed, ['paging.rw-us', 'paging.tlb.invlpg.remap']);
  assert.deepEqual(
    c.disagreements.map((d) => d.name),
    ['paging.fetch', 'paging.ad'],
  );
  assert.match(
    c.disagreements[0]!.why,
    /interp: PASS cases=192 faults=7 mismatches=0 hash=33333333 chash=00000000 \| kvm: PASS cases=192 faults=7 mismatches=0 hash=33333334 chash=00000000/,
  );
  assert.deepEqual(
    c.allowed.map((d) => d.name),
    ['paging.rw-us', 'paging.tlb.info.remap-no-invlpg'],
  );
  assert.deepEqual(c.notCompared, [
    { name: 'paging.pk', why: 'SKIP on interp: CPUID.7.0:ECX[3] PKU=0' },
    { name: 'paging.only-a', why: 'missing on kvm' },
  ]);
});

test('compareBackends: a caller-excluded line is listed with its reason, not compared', () => {
  const a = lines(
    'TSVMM-REPORT FAIL paging.fetch cases=2 faults=7 mismatches=2 hash=00000001 chash=00000000 ahash=00000000 expect=match got=mismatch',
  );
  const b = lines(
    'TSVMM-REPORT PASS paging.fetch cases=2 faults=7 mismatches=0 hash=00000002 chash=00000000 ahash=00000000',
  );
  const c = compareBackends(a, b, ['interp', 'kvm'], (n) =>
    n === 'paging.fetch' ? { exclude: 'known bug on interp' } : {},
  );
  assert.deepEqual(c.disagreements, []);
  assert.deepEqual(c.notCompared, [{ name: 'paging.fetch', why: 'known bug on interp' }]);
});

test('compareBackends: "without CR2" compares case counts and the outcome hash, not the verdict or chash', () => {
  const kvm = lines(
    'TSVMM-REPORT PASS paging.fetch cases=192 faults=7 mismatches=0 hash=aaaaaaaa chash=11111111 ahash=00000000',
  );
  const same = lines(
    'TSVMM-REPORT FAIL paging.fetch cases=192 faults=7 mismatches=162 cr2-page-base=162 hash=aaaaaaaa chash=22222222 ahash=00000000 expect=cr2-linear got=cr2-page-base',
  );
  const other = lines(
    'TSVMM-REPORT FAIL paging.fetch cases=192 faults=7 mismatches=162 cr2-page-base=162 hash=bbbbbbbb chash=22222222 ahash=00000000 expect=cr2-linear got=cr2-page-base',
  );
  const treat = (): { withoutCr2: string } => ({ withoutCr2: 'known CR2 bug' });
  const ok = compareBackends(same, kvm, ['interp', 'kvm'], treat);
  assert.deepEqual(ok.agreed, ['paging.fetch']);
  assert.deepEqual(ok.partial, [{ name: 'paging.fetch', why: 'known CR2 bug' }]);
  const bad = compareBackends(other, kvm, ['interp', 'kvm'], treat);
  assert.deepEqual(
    bad.disagreements.map((d) => d.why),
    ['interp: cases=192 faults=7 hash=bbbbbbbb | kvm: cases=192 faults=7 hash=aaaaaaaa'],
  );
  // without the treatment the verdicts differ
  assert.equal(compareBackends(same, kvm, ['interp', 'kvm']).disagreements.length, 1);
});

test('a CR2 mismatch is a failure on every backend (the interpreter fetch-CR2 bug is fixed, no deviation excuses it)', () => {
  const [cr2Only] = lines(
    'TSVMM-REPORT FAIL paging.fetch cases=192 faults=7 mismatches=162 cr2-page-base=162 hash=eac19669 chash=00000000 ahash=811c9dc5 first(cr2): fetch want=#PF(0x9) saw=#PF(0x9) expect=cr2-linear got=cr2-page-base',
  );
  assert.equal(cr2Only!.expect, 'cr2-linear');
  assert.equal(findDeviation('interp', 'none', cr2Only!, PAGING_DEVIATIONS), undefined);
  assert.equal(findDeviation('kvm', 'kvm_pvm', cr2Only!, PAGING_DEVIATIONS), undefined);
});

test('the kvm_pvm page-split write deviation matches its own line and tokens only', () => {
  const [written] = lines(
    'TSVMM-REPORT FAIL paging.page-cross.no-partial-write faulting-writes=5 first-page-written=2 expect=first-page-untouched got=first-page-written',
  );
  const [other] = lines(
    'TSVMM-REPORT FAIL paging.page-cross cases=24 faults=11 mismatches=1 hash=00000000 chash=00000000 ahash=00000000 expect=first-page-untouched got=first-page-written',
  );
  assert.equal(
    findDeviation('kvm', 'kvm_pvm', written!, PAGING_DEVIATIONS)?.id,
    'pvm-page-split-write-partial',
  );
  assert.equal(findDeviation('kvm', 'kvm_intel', written!, PAGING_DEVIATIONS), undefined);
  assert.equal(findDeviation('interp', 'none', written!, PAGING_DEVIATIONS), undefined);
  assert.equal(findDeviation('kvm', 'kvm_pvm', other!, PAGING_DEVIATIONS), undefined);
});
