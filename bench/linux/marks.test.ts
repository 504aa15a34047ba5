// The serial-output milestones of the Linux boot benchmark, on recorded output of both engines
// (fixtures/: tsvmm's interpreter with the fallback form and QEMU TCG, 1 vCPU, Debian 6.1), fed whole,
// line by line and in small reads that split the patterns.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BootMarks, INIT_OK, kernelBanner, lastLines, tsvmmRunSummary } from './marks.ts';

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'latin1');
const TSVMM = fixture('tsvmm-fallback-1cpu.stdout.txt');
const QEMU = fixture('qemu-tcg-1cpu.stdout.txt');

/** Feed line by line; the time of line i is i ms. */
function byLines(text: string): BootMarks {
  const m = new BootMarks();
  text.split(/(?<=\n)/).forEach((l, i) => m.push(l, i));
  return m;
}

/** index of the first line for which `pred` holds */
const lineOf = (text: string, pred: (l: string) => boolean): number => text.split(/(?<=\n)/).findIndex(pred);

test('tsvmm output: the first line is the kernel banner, then TSVMM-INIT-OK and the power-down line', () => {
  const m = byLines(TSVMM);
  assert.equal(m.firstKernelMs, 0);
  const init = lineOf(TSVMM, (l) => l.startsWith(INIT_OK));
  assert.ok(init > 250, `TSVMM-INIT-OK is near the end (line ${init})`);
  assert.equal(m.initOkMs, init);
  assert.equal(m.powerDownMs, lineOf(TSVMM, (l) => l.includes('reboot: Power down')));
  assert.ok(m.powerDownMs! > init);
});

test('QEMU output: SeaBIOS, iPXE and the real-mode setup lines are not kernel log lines', () => {
  const m = byLines(QEMU);
  const first = lineOf(QEMU, (l) => l.includes('Linux version'));
  assert.ok(first > 3, 'the firmware printed lines before the kernel');
  assert.ok(QEMU.split('\n')[first]!.includes('Probing EDD'), 'the banner shares its line with the setup code’s message');
  assert.equal(m.firstKernelMs, first);
  assert.equal(m.initOkMs, lineOf(QEMU, (l) => l.startsWith(INIT_OK)));
  assert.ok(m.powerDownMs! > m.initOkMs!);
});

test('milestones split across reads are noted at the read that completes them', () => {
  for (const text of [TSVMM, QEMU]) {
    for (const size of [1, 3, 7, 64, 4096]) {
      const m = new BootMarks();
      for (let at = 0; at < text.length; at += size) m.push(text.slice(at, at + size), at);
      // the read that holds the last byte of each marker
      const endOf = (s: string | RegExp): number => {
        const i = typeof s === 'string' ? text.indexOf(s) + s.length : (() => { const r = s.exec(text)!; return r.index + r[0].length; })();
        return Math.floor((i - 1) / size) * size;
      };
      assert.equal(m.initOkMs, endOf(INIT_OK), `INIT-OK, reads of ${size}`);
      assert.equal(m.powerDownMs, endOf('reboot: Power down'), `power-down, reads of ${size}`);
      assert.equal(m.firstKernelMs, endOf(/\[\s*\d+\.\d{6}\] |Linux version \d/), `first line, reads of ${size}`);
      assert.equal(m.output, text);
    }
  }
});

test('no milestone in output that lacks them (a boot that stopped early)', () => {
  const m = new BootMarks();
  m.push('SeaBIOS (version 1.16.2)\r\nBooting from ROM...\r\n', 5);
  m.push('[    0.000000] Linux version 6.1.0\n[    1.0] short timestamps do not count\n', 9);
  assert.equal(m.firstKernelMs, 9);
  assert.equal(m.initOkMs, undefined);
  assert.equal(m.powerDownMs, undefined);
  const n = new BootMarks();
  n.push('[    1.0] not a printk timestamp\nTSVMM-INIT\n', 1);
  assert.equal(n.firstKernelMs, undefined);
  assert.equal(n.initOkMs, undefined);
});

test('kernel banner, the CLI summary line, and failure tails', () => {
  assert.equal(kernelBanner(TSVMM)?.release, '6.1.0-56-amd64');
  assert.match(kernelBanner(QEMU)!.line, /^Linux version 6\.1\.0-56-amd64 \(debian-kernel@.* Debian 6\.1\.192-2 \(2026-11-16\)$/);
  assert.equal(kernelBanner('no banner'), undefined);
  assert.deepEqual(tsvmmRunSummary(fixture('tsvmm-fallback-1cpu.stderr.txt')), { outcome: 'powered off', wallMs: 101000 });
  assert.deepEqual(tsvmmRunSummary(fixture('tsvmm-issue-form-hlt.stderr.txt')), { outcome: 'hlt', wallMs: 168930 });
  assert.equal(tsvmmRunSummary('tsvmm run: cannot read x [FILE_READ]'), undefined);
  const tail = lastLines(QEMU.slice(0, QEMU.indexOf('[    0.000000] Command line')), 3);
  assert.equal(tail.length, 3);
  for (const l of tail) assert.ok(!l.includes(String.fromCharCode(27)) && !l.includes('\r'), `no escapes or CRs: ${JSON.stringify(l)}`);
  assert.match(tail.at(-1)!, /^Probing EDD \(edd=off to disable\)\.\.\. ok?\[ {4}0\.000000\] Linux version/);
});
