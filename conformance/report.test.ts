// Tests for the guest report protocol parser (report.ts): well-formed runs, garbage, truncation,
// malformed lines and summary mismatches.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expectedExitCode, parseReport } from './report.ts';

const GOOD = [
  'TSVMM-BEGIN cr4 entry=long64 magic=0x2badb002 cmdline=""',
  'TSVMM-CPUID 0x1 0x0 0xb00f21 0x1020800 0xf7f83203 0x178bfbff',
  'TSVMM-CPUID 0x7 0x0 0x1 0xf1bf03ab 0x5f46 0x110',
  'TSVMM-REPORT PASS boot.magic magic=0x2badb002 expect=0x2badb002',
  'TSVMM-REPORT FAIL cr4.LASS bit27 cpuid=0(7.1:EAX[6]) rule=reserved(KVM) expect=#GP got=ok',
  'TSVMM-TRY xcr0.roundtrip.x87',
  'TSVMM-REPORT SKIP xcr0.roundtrip.x87 oracle-unavailable: the runner saw this check stop the backend',
  'TSVMM-REPORT PASS cr4.VME',
  'TSVMM-SUMMARY passed=2 failed=1 skipped=1',
  '',
].join('\n');

test('a complete report: lines, expect/got tokens, CPUID view, summary', () => {
  const r = parseReport(GOOD);
  assert.equal(r.program, 'cr4');
  assert.deepEqual(r.begin, { entry: 'long64', magic: '0x2badb002', cmdline: '""' });
  assert.equal(r.complete, true);
  assert.deepEqual(r.problems, []);
  assert.deepEqual(r.summary, { passed: 2, failed: 1, skipped: 1 });
  assert.deepEqual(
    r.lines.map((l) => [l.verdict, l.name]),
    [
      ['PASS', 'boot.magic'],
      ['FAIL', 'cr4.LASS'],
      ['SKIP', 'xcr0.roundtrip.x87'],
      ['PASS', 'cr4.VME'],
    ],
  );
  const lass = r.lines[1]!;
  assert.equal(lass.expect, '#GP');
  assert.equal(lass.got, 'ok');
  assert.equal(lass.lineNo, 5);
  assert.equal(lass.detail, 'bit27 cpuid=0(7.1:EAX[6]) rule=reserved(KVM) expect=#GP got=ok');
  assert.equal(r.lines[3]!.detail, '');
  assert.equal(r.lines[3]!.expect, undefined);
  assert.deepEqual(r.cpuid[1], { leaf: 7, subleaf: 0, eax: 1, ebx: 0xf1bf03ab, ecx: 0x5f46, edx: 0x110 });
  assert.deepEqual(r.tries, ['xcr0.roundtrip.x87']);
  assert.equal(r.pendingTry, undefined, 'the TRY was answered by a REPORT line');
  assert.equal(expectedExitCode(r.summary!), 3);
  assert.equal(expectedExitCode({ passed: 4, failed: 0, skipped: 9 }), 1);
});

test('CRLF line ends and guest chatter around the protocol are accepted', () => {
  const text = 'booting...\r\n' + GOOD.replace(/\n/g, '\r\n') + 'bye\r\n';
  const r = parseReport(text);
  assert.deepEqual(r.problems, []);
  assert.equal(r.lines.length, 4);
  assert.deepEqual(r.other, ['booting...', 'bye']);
});

test('garbage bytes are kept as other output; protocol tokens mid-line are a problem', () => {
  const text = '\u0000\u00ff\u0007garbage\nxx TSVMM-REPORT PASS hidden\n' + GOOD;
  const r = parseReport(text);
  assert.equal(r.lines.length, 4, 'a REPORT not at the start of a line is not a check');
  assert.ok(r.problems.some((p) => p.includes('middle of a line')));
  assert.equal(r.other.length, 2);
});

test('a run cut off mid-way: no summary, a pending TRY, a truncated last line', () => {
  const text = [
    'TSVMM-BEGIN xcr0 entry=long64',
    'TSVMM-REPORT PASS xcr0.x87-only value=0x1 expect=ok got=ok',
    'TSVMM-TRY xcr0.roundtrip.x87',
    'TSVMM-REPORT PA',
  ].join('\n');
  const r = parseReport(text);
  assert.equal(r.complete, false);
  assert.equal(r.summary, undefined);
  assert.equal(r.pendingTry, 'xcr0.roundtrip.x87');
  assert.equal(r.lines.length, 1);
  assert.ok(r.problems.some((p) => p.includes('truncated protocol line')));
});

test('malformed lines are listed, not thrown', () => {
  const text = [
    'TSVMM-BEGIN',
    'TSVMM-REPORT MAYBE x.y',
    'TSVMM-REPORT PASS',
    'TSVMM-CPUID 0x1 0x0 zz 0x0 0x0 0x0',
    'TSVMM-CPUID 0x1 0x0',
    'TSVMM-WHAT is this',
    'TSVMM-TRY two words',
    'TSVMM-SUMMARY passed=x',
    '',
  ].join('\n');
  const r = parseReport(text);
  assert.equal(r.lines.length, 0);
  assert.equal(r.cpuid.length, 0);
  assert.equal(r.complete, false);
  for (const what of ['BEGIN without', 'malformed REPORT', 'malformed CPUID', 'unknown protocol tag TSVMM-WHAT', 'malformed TRY', 'malformed SUMMARY']) {
    assert.ok(r.problems.some((p) => p.includes(what)), `expected a problem about ${what}: ${r.problems.join(' | ')}`);
  }
});

test('a summary that disagrees with the lines, a second BEGIN, output after the end', () => {
  const text = [
    'TSVMM-BEGIN msr',
    'TSVMM-REPORT PASS a',
    'TSVMM-REPORT FAIL b',
    'TSVMM-BEGIN msr',
    'TSVMM-SUMMARY passed=2 failed=0 skipped=0',
    'TSVMM-REPORT PASS late',
    '',
  ].join('\n');
  const r = parseReport(text);
  assert.ok(r.problems.some((p) => p.includes('summary says passed=2 failed=0')));
  assert.ok(r.problems.some((p) => p.includes('second BEGIN')));
  assert.ok(r.problems.some((p) => p.includes('after the summary')));
});

test('empty output and lines without BEGIN', () => {
  const empty = parseReport('');
  assert.equal(empty.complete, false);
  assert.deepEqual(empty.lines, []);
  assert.deepEqual(empty.problems, []);
  const noBegin = parseReport('TSVMM-REPORT PASS a\nTSVMM-SUMMARY passed=1 failed=0 skipped=0\n');
  assert.ok(noBegin.problems.includes('no TSVMM-BEGIN line'));
});
