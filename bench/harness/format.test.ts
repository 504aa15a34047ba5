// Results formatting (table, ratios, JSON), the statistics and the timing choice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatResults, fmtMips, fmtRatio, ratios, resultsJson, textTable, type Measurement, type Results } from './format.ts';
import { calibrate, median, mips, ratio, summarize, MAX_ITERATIONS } from './stats.ts';
import { pickTiming } from './timing.ts';

function m(engine: string, variant: string, medianMips: number, extra: Partial<Measurement> = {}): Measurement {
  return {
    engine, variant, iterations: 10, instructions: 1e6, zeroRunsMs: [1], runsMs: [2], startupMs: 1,
    mips: { min: medianMips / 2, median: medianMips, max: medianMips }, peakRssKb: 2048, tsc: 5, timing: 'marks', ...extra,
  };
}

const RESULTS: Results = {
  tool: 'tsvmm-bench', version: 1, date: '2026-01-01T00:00:00.000Z',
  host: { node: 'v20', cpus: 2, cpuModel: 'x', platform: 'linux x64' }, quick: false, runs: 3,
  engines: [
    { id: 'tsvmm-interp', label: 'tsvmm interpreter', available: true, tsvmm: true, reference: false },
    { id: 'tsvmm-kvm', label: 'tsvmm KVM', note: 'PVM, not a speed reference', available: true, tsvmm: true, reference: true },
    { id: 'qemu-tcg', label: 'QEMU TCG', available: true, tsvmm: false, reference: false },
    { id: 'bochs', label: 'Bochs', available: true, tsvmm: false, reference: false },
    { id: 'v86', label: 'v86 (JIT)', available: false, reason: 'v86 not found', tsvmm: false, reference: false },
  ],
  measurements: [
    m('tsvmm-interp', 'alu64', 10),
    m('tsvmm-kvm', 'alu64', 1),
    m('qemu-tcg', 'alu64', 1000),
    m('bochs', 'alu64', 100),
    m('tsvmm-interp', 'pf32', 2),
    m('qemu-tcg', 'pf32', 4),
    m('bochs', 'pf32', NaN, { error: 'checksum 1 ≠ reference 2' }),
  ],
  skipped: [{ engine: 'tsvmm-kvm', variant: 'pf32', reason: 'PVM' }],
};

test('ratios: interpreter over each non-reference peer, failed runs left out', () => {
  assert.deepEqual(
    ratios(RESULTS).map((r) => [r.variant, r.peer, r.ratio]),
    [['alu64', 'qemu-tcg', 0.01], ['alu64', 'bochs', 0.1], ['pf32', 'qemu-tcg', 0.5]],
  );
});

test('text table aligns columns', () => {
  const t = textTable(['a', 'bb'], [['xxx', '1'], ['y', '22222']]).split('\n');
  assert.deepEqual(t, ['a       bb', '---  -----', 'xxx      1', 'y    22222']);
});

test('formatted results: MIPS cells, FAIL, n/a, notes, ratios, memory, missing engines', () => {
  const s = formatResults(RESULTS);
  assert.match(s, /alu64\s+10\.0 \(5\.0\)\s+1\.0 \(0\.50\)\s+1000 \(500\)\s+100 \(50\.0\)/);
  assert.match(s, /pf32\s+2\.0 \(1\.0\)\s+n\/a\s+4\.0 \(2\.0\)\s+FAIL/);
  assert.match(s, /tsvmm KVM: PVM, not a speed reference/);
  assert.match(s, /alu64\s+0\.01\s+0\.10/);
  assert.match(s, /bochs pf32: checksum 1 ≠ reference 2/);
  assert.match(s, /v86 \(JIT\): v86 not found/);
  assert.match(s, /tsvmm interpreter\s+2\n/);
  assert.doesNotMatch(s, /load average/);
  const busy = formatResults({ ...RESULTS, host: { ...RESULTS.host, loadavg: [5, 7.25] } });
  assert.match(busy, /load average 5\.0 → 7\.3 on 2 CPUs/);
});

test('JSON: NaN becomes null, ratios included, round-trips', () => {
  const j = JSON.parse(resultsJson(RESULTS)) as { measurements: { mips: { median: number | null } }[]; ratios: unknown[] };
  assert.equal(j.measurements[6]!.mips.median, null);
  assert.equal(j.ratios.length, 3);
});

test('number formats', () => {
  assert.equal(fmtMips(1234.5), '1235');
  assert.equal(fmtMips(12.34), '12.3');
  assert.equal(fmtMips(0.01234), '0.012');
  assert.equal(fmtMips(NaN), '-');
  assert.equal(fmtRatio(0.001234), '0.0012');
  assert.equal(fmtRatio(2), '2.00');
});

test('stats: median, MIPS with start-up subtracted, summaries, ratio', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
  assert.ok(Number.isNaN(median([])));
  assert.equal(mips(2e6, 1100, 100), 2);
  assert.ok(Number.isNaN(mips(2e6, 100, 100)), 'no time beyond start-up: not measurable');
  assert.deepEqual(summarize([1, NaN, 3, 2]), { min: 1, median: 2, max: 3 });
  assert.equal(ratio(5, 10), 0.5);
  assert.ok(Number.isNaN(ratio(5, NaN)));
});

test('calibration: grows short trials, scales final count to the target', () => {
  assert.deepEqual(calibrate(100, 5, 1000), { final: false, n: 1000 });
  assert.deepEqual(calibrate(100, 100, 1000), { final: false, n: 1000 });
  assert.deepEqual(calibrate(100, 400, 1000), { final: false, n: 250 });
  assert.deepEqual(calibrate(100, 500, 1000), { final: true, n: 200 });
  assert.deepEqual(calibrate(100, 4000, 1000), { final: true, n: 25 });
  assert.deepEqual(calibrate(1, 3000, 1000), { final: true, n: 1 });
  assert.equal(calibrate(MAX_ITERATIONS, 1, 1000).final, true);
  assert.ok(calibrate(2 ** 31, 1, 1000).n <= MAX_ITERATIONS);
});

test('timing: marks only when every measured run streamed them apart', () => {
  assert.equal(pickTiming([{ wallMs: 300, markedMs: 0 }], [{ wallMs: 900, markedMs: 600 }]), 'marks');
  assert.equal(pickTiming([{ wallMs: 300 }], [{ wallMs: 900, markedMs: 600 }]), 'wall');
  assert.equal(pickTiming([{ wallMs: 300, markedMs: 0 }], [{ wallMs: 900, markedMs: 0 }]), 'wall', 'buffered output');
  assert.equal(pickTiming([], []), 'wall');
});
