// The instruction-count formulas: against QEMU's -icount (fixtures/icount-check.txt: RDTSC counts
// retired instructions there), against the COUNT lines of the .asm sources, and the fib recursion
// against a count of its call tree.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findVariant, icountTscDelta, instructionCount, iterationsFor, TSC_WINDOW, variants, WORKLOADS } from './workloads.ts';

const WL_DIR = join(import.meta.dirname, '../workloads');

test('formula + measuring window = QEMU -icount RDTSC delta, every variant, N = 0, 1, 1000 (crc: 3)', () => {
  const text = readFileSync(join(import.meta.dirname, 'fixtures/icount-check.txt'), 'utf8');
  const seen = new Set<string>();
  for (const line of text.trim().split('\n')) {
    const m = /^(\w+)\s+N=(\d+)\s+tsc (\d+) formula/.exec(line)!;
    const v = findVariant(m[1]!)!;
    assert.equal(icountTscDelta(v, Number(m[2])), Number(m[3]), line);
    seen.add(v.id);
  }
  assert.equal(seen.size, variants().length);
});

test('per-iteration counts equal the COUNT line of each .asm source', () => {
  for (const w of WORKLOADS) {
    const src = readFileSync(join(WL_DIR, `${w.name}.asm`), 'utf8');
    const m = /^; COUNT: (.*)$/m.exec(src);
    assert.ok(m, `${w.name}.asm has a COUNT line`);
    const fields = Object.fromEntries(m[1]!.trim().split(/\s+/).map((kv) => kv.split('=') as [string, string]));
    if (fields.K !== undefined) {
      assert.equal(w.perIteration[64], Number(fields.K), w.name);
      assert.equal(w.perIteration[32], Number(fields.K), w.name);
    } else {
      assert.equal(w.perIteration[64], Number(fields.K64), w.name);
      assert.equal(w.perIteration[32], Number(fields.K32), w.name);
    }
  }
});

test('fib: 6 loop instructions + the call tree of fib(20) (12 per inner call, 3 per leaf)', () => {
  const count = (n: number): number => (n < 2 ? 3 : 12 + count(n - 1) + count(n - 2));
  assert.equal(findVariant('fib64')!.workload.perIteration[64], 6 + count(20));
});

test('crc: 8 + 5 per dword filled + 7 per byte CRCed over 1 MiB', () => {
  assert.equal(findVariant('crc32')!.workload.perIteration[32], 8 + 5 * (1 << 18) + 7 * (1 << 20));
});

test('instructionCount, window and iterationsFor', () => {
  const v = findVariant('syscall32')!;
  assert.equal(instructionCount(v, 10), 11 * 10 + 21);
  assert.equal(icountTscDelta(v, 0), 21 + TSC_WINDOW);
  assert.equal(iterationsFor(v, 1100), 100);
  assert.equal(iterationsFor(v, 1), 1, 'never zero iterations for a measured run');
  assert.equal(variants().length, 16);
});
