// The runner's measuring logic with a fake engine (no emulator): zero-iteration runs, calibration to
// the target time, start-up subtraction, checksum enforcement, known-unsupported handling is left to main().
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { measure } from './suite.ts';
import { readIterations } from './harness/image.ts';
import { findVariant } from './harness/workloads.ts';
import type { Engine, EngineRun } from './peers/engine.ts';

const hex = (x: number, w: number): string => x.toString(16).padStart(w, '0');

/** A fake engine: start-up 50 ms of wall time, `nsPerIteration` of marked time per iteration. */
function fakeEngine(nsPerIteration: number, opts: { wrongSum?: boolean; buffered?: boolean } = {}): Engine & { calls: number[] } {
  const calls: number[] = [];
  return {
    id: 'fake', label: 'fake', modes: [64, 32], wrapper: 'elf', nominalMips: 100, tsvmm: false, reference: false, calls,
    available: async () => ({ ok: true }),
    async run(image: string): Promise<EngineRun> {
      const n = readIterations(new Uint8Array(readFileSync(image)));
      calls.push(n);
      const v = findVariant('portio32')!;
      const sum = v.workload.checksum(v.mode, n) ^ (opts.wrongSum ? 1 : 0);
      const work = (n * nsPerIteration) / 1e6;
      return {
        wallMs: 50 + work + 2,
        ...(opts.buffered ? {} : { markedMs: n === 0 ? 0 : work + 2 }),
        output: `BENCH-GO\nBENCH portio32 iters=${hex(n, 8)} sum=${hex(sum, 8)} tsc=${hex(9 * n + 13, 16)}\n`,
        maxRssKb: 1000 + n / 1000,
      };
    },
  };
}

function withImage<T>(fn: (elf: string, work: string) => Promise<T>): Promise<T> {
  const d = mkdtempSync(join(tmpdir(), 'bench-suite-'));
  const img = new Uint8Array(64);
  img.set(new TextEncoder().encode('TSVMBNCH'), 8);
  writeFileSync(join(d, 'portio32.elf'), img);
  return fn(join(d, 'portio32.elf'), d).finally(() => rmSync(d, { recursive: true, force: true }));
}

test('measure: zero runs, calibration to the target, MIPS from marks with start-up subtracted', async () => {
  await withImage(async (elf, work) => {
    const e = fakeEngine(90); // 9 instructions per 90 ns → 100 MIPS
    const m = await measure(e, findVariant('portio32')!, { id: 'portio32', elf, disk: elf }, { runs: 3, targetMs: 200, timeoutMs: 1000, workRoot: work, log: () => {} });
    assert.equal(m.error, undefined);
    assert.deepEqual(e.calls.slice(0, 3), [0, 0, 0]);
    assert.equal(m.timing, 'marks');
    assert.equal(m.startupMs, 0);
    assert.ok(Math.abs(m.mips.median - 9 * m.iterations / ((m.iterations * 90) / 1e6 + 2) / 1000) < 1e-9);
    assert.ok(m.mips.median > 95 && m.mips.median <= 100, `${m.mips.median}`);
    assert.ok(m.runsMs[0]! > 100 && m.runsMs[0]! < 400, `a run near the 200 ms target: ${m.runsMs[0]}`);
    assert.equal(m.instructions, 9 * m.iterations);
    assert.equal(m.tsc, 9 * m.iterations + 13);
    assert.ok(m.peakRssKb! > 1000);
  });
});

test('measure: buffered output falls back to wall time minus the zero-iteration median', async () => {
  await withImage(async (elf, work) => {
    const m = await measure(fakeEngine(90, { buffered: true }), findVariant('portio32')!, { id: 'portio32', elf, disk: elf }, { runs: 1, targetMs: 200, timeoutMs: 1000, workRoot: work, log: () => {} });
    assert.equal(m.timing, 'wall');
    assert.equal(m.startupMs, 52);
    assert.ok(Math.abs(m.mips.median - 100) < 1e-6, `${m.mips.median}`);
  });
});

test('measure: a wrong checksum fails the measurement at the first run', async () => {
  await withImage(async (elf, work) => {
    const e = fakeEngine(90, { wrongSum: true });
    const m = await measure(e, findVariant('portio32')!, { id: 'portio32', elf, disk: elf }, { runs: 3, targetMs: 200, timeoutMs: 1000, workRoot: work, log: () => {} });
    assert.match(m.error ?? '', /zero-iteration run: checksum .* ≠ reference/);
    assert.equal(e.calls.length, 1);
    assert.ok(Number.isNaN(m.mips.median));
  });
});
