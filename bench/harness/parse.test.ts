// Parsing each engine's output, on samples captured from real runs (harness/fixtures/).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkResult, parseBenchOutput, parseChildJson, parseTimeMaxRss } from './parse.ts';
import { MarkClock } from './process.ts';
import { TsvmmError } from '../../src/util/result.ts';

const fx = (f: string): string => readFileSync(join(import.meta.dirname, 'fixtures', f), 'latin1');

test('QEMU: the serial line on stdout', () => {
  const r = parseBenchOutput(fx('qemu-alu64-1000.stdout.txt'));
  assert.deepEqual(r, { kind: 'result', name: 'alu64', iterations: 1000, sum: 0x63b4cdb4, tsc: 0x27d00 });
});

test('Bochs: the port-0xE9 line among the debugger and banner lines; the shutdown note on stderr', () => {
  const r = parseBenchOutput(fx('bochs-syscall64-100.stdout.txt'));
  assert.deepEqual(r, { kind: 'result', name: 'syscall64', iterations: 100, sum: 0x6dbdfd63, tsc: 0x39c });
  assert.match(fx('bochs-syscall64-100.stderr.txt'), /Shutdown port: shutdown requested/);
});

test('tsvmm child: JSON line with the serial text and both clocks', () => {
  const j = parseChildJson(fx('tsvmm-interp-pf32-100.stdout.txt'), 'tsvmm');
  assert.equal(j.outcome, 'debug-exit');
  assert.equal(typeof j.markedMs, 'number');
  assert.ok((j.markedMs as number) < (j.wallMs as number));
  const r = parseBenchOutput(String(j.serial));
  assert.deepEqual(r, { kind: 'result', name: 'pf32', iterations: 100, sum: 0x9055c578, tsc: 0x3f4 });
});

test('v86 child: JSON line', () => {
  const j = parseChildJson(fx('v86-fib32-10.stdout.txt'), 'v86');
  assert.equal(j.timedOut, false);
  const r = parseBenchOutput(String(j.serial));
  assert.equal(r?.kind, 'result');
  assert.equal(r?.kind === 'result' && r.iterations, 10);
});

test('child JSON: missing or broken lines are clear errors', () => {
  assert.throws(() => parseChildJson('Segmentation fault\n', 'x'), (e: unknown) => e instanceof TsvmmError && e.code === 'BENCH_CHILD_OUTPUT');
  assert.throws(() => parseChildJson('{"a":\n', 'x'), /bad JSON/);
  assert.throws(() => parseChildJson('{"a": 1} trailing\n', 'x'), /bad JSON/);
});

test('GNU time %M with a non-zero exit line before it', () => {
  assert.equal(parseTimeMaxRss(fx('time-nonzero.txt')), 1600);
  assert.equal(parseTimeMaxRss('123456\n'), 123456);
  assert.equal(parseTimeMaxRss('Command terminated by signal 9\n'), undefined);
});

test('fault lines and CRLF output', () => {
  assert.deepEqual(parseBenchOutput('BENCH-GO\r\nBENCH-FAULT cr2=05000000 00000000 001006be\r\n'), {
    kind: 'fault',
    text: 'BENCH-FAULT cr2=05000000 00000000 001006be',
  });
  assert.equal(parseBenchOutput('BENCH-GO\n'), undefined);
  assert.equal(parseBenchOutput('BENCH alu64 iters=1 sum=2 tsc=3\n'), undefined, 'short hex fields are not a result');
});

test('checkResult: name, iteration count and checksum must all match', () => {
  const line = parseBenchOutput('BENCH fib64 iters=00000003 sum=0da381a0 tsc=0000000000078414\n');
  assert.equal(checkResult(line, { name: 'fib64', iterations: 3, sum: 0x0da381a0 }), undefined);
  assert.match(checkResult(line, { name: 'fib32', iterations: 3, sum: 0x0da381a0 })!, /expected 'fib32'/);
  assert.match(checkResult(line, { name: 'fib64', iterations: 4, sum: 0x0da381a0 })!, /3 iterations, expected 4/);
  assert.match(checkResult(line, { name: 'fib64', iterations: 3, sum: 1 })!, /checksum 0da381a0 ≠ reference 00000001/);
  assert.match(checkResult(undefined, { name: 'fib64', iterations: 3, sum: 1 })!, /no BENCH result/);
  assert.match(checkResult({ kind: 'fault', text: 'BENCH-FAULT x' }, { name: 'fib64', iterations: 3, sum: 1 })!, /guest fault/);
});

test('MarkClock: interval between the marks, 0 when both come in one read, none without the start mark', () => {
  const a = new MarkClock();
  a.push('BENCH-', 1);
  a.push('GO\nBENCH al', 5);
  a.push('u64 iters=00000001 sum=00000000 tsc=0000000000000000\n', 25);
  assert.equal(a.ms(), 20);
  const b = new MarkClock();
  b.push('BENCH-GO\nBENCH alu64 iters=00000000 sum=00000000 tsc=0000000000000000\n', 7);
  assert.equal(b.ms(), 0);
  const c = new MarkClock();
  c.push('BENCH alu64 iters=00000000 sum=00000000 tsc=0000000000000000\n', 7);
  assert.equal(c.ms(), undefined);
});
