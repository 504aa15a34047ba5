// Tests of `tsvmm test`: argument errors (exit 2, a clear message), and a real run of one program on
// the interpreter: the summary line alone on the last line, --json, --html, exit 0 / 1.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../main.ts';
import { parseTestArgs } from './test.ts';
import { TsvmmError } from '../../util/result.ts';

function capture(): { io: { out(t: string): void; err(t: string): void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { out: (t) => void out.push(t), err: (t) => void err.push(t) }, out, err };
}

test('bad arguments: exit 2 with a message naming the problem', async () => {
  for (const [args, re] of [
    [['--backend', 'qemu'], /--backend must be kvm, interp or both/],
    [['--jobs', '0'], /--jobs must be a positive integer/],
    [['--jobs', 'x'], /--jobs must be a positive integer/],
    [['--mode', 'fast'], /--mode must be kvm-exact or architectural/],
    [['--frobnicate'], /Unknown option/],
    [['a', 'b'], /one PATTERN at most/],
    [['../etc'], /PATTERN/],
  ] as const) {
    const c = capture();
    assert.equal(await main(['test', ...args], c.io), 2, args.join(' '));
    assert.match(c.err.join('\n'), re);
  }
  assert.throws(() => parseTestArgs(['--cpu', ' ']), (e: unknown) => e instanceof TsvmmError && e.code === 'TEST_USAGE');
  const a = parseTestArgs(['--backend', 'interp', '-j', '3', '--mode', 'architectural', 'cr*']);
  assert.deepEqual(a.backends, ['interp']);
  assert.equal(a.jobs, 3);
  assert.equal(a.mode, 'architectural');
  assert.equal(a.pattern, 'cr*');
  assert.deepEqual(parseTestArgs([]).backends, ['kvm', 'interp']);
  const h = capture();
  assert.equal(await main(['test', '--help'], h.io), 0);
  assert.match(h.out.join('\n'), /usage: tsvmm test/);
});

const hasGcc = spawnSync('gcc', ['--version']).status === 0;
let guests: string | undefined;
function buildGuests(): string {
  if (guests) return guests;
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-guests-cli-'));
  const r = spawnSync(process.execPath, [join(import.meta.dirname, '../../../scripts/build-guests.mjs'), '--quiet', '--out', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  guests = dir;
  return dir;
}

test('a passing run: the summary line alone at the end, exit 0; --json and --html', { skip: hasGcc ? false : 'no gcc' }, async () => {
  const dir = buildGuests();
  const c = capture();
  const html = join(mkdtempSync(join(tmpdir(), 'tsvmm-html-')), 'r.html');
  const code = await main(['test', '--backend', 'interp', '--jobs', '1', '--guests', dir, '--cpu', 'host', '--html', html, 'guestlib'], c.io);
  const text = c.out.join('\n');
  assert.equal(code, 0, text);
  const last = text.trimEnd().split('\n').at(-1)!;
  assert.match(last, /^\d+ passed, 0 failed(, \d+ skipped)?$/);
  assert.match(text, /guestlib\s+host\s+pass/);
  const page = readFileSync(html, 'utf8');
  assert.match(page, /^<!DOCTYPE html>/);
  assert.match(page, /data-cell="0"/);

  const j = capture();
  assert.equal(await main(['test', '--backend', 'interp', '-j', '1', '--guests', dir, '--cpu', 'host', '--json', 'guestlib'], j.io), 0);
  const doc = JSON.parse(j.out.join('\n')) as { summary: string; counts: { failed: number }; cells: { program: string; status: string }[] };
  assert.equal(doc.counts.failed, 0);
  assert.match(doc.summary, /^\d+ passed, 0 failed/);
  assert.deepEqual(doc.cells.map((x) => [x.program, x.status]), [['guestlib', 'pass']]);
});

test('a failing run exits 1 and says so in the summary line', { skip: hasGcc ? false : 'no gcc' }, async () => {
  const dir = buildGuests();
  // the efer program under a policy whose NX the guest sees as absent: fine; to force a failure, point
  // --guests at images where "efer.elf" is really the cr0 program: the guest names itself cr0.
  const { copyFileSync } = await import('node:fs');
  const bad = mkdtempSync(join(tmpdir(), 'tsvmm-guests-bad-'));
  copyFileSync(join(dir, 'cr0.elf'), join(bad, 'guestlib.elf'));
  const c = capture();
  const code = await main(['test', '--backend', 'interp', '-j', '1', '--guests', bad, '--cpu', 'host', 'guestlib'], c.io);
  const text = c.out.join('\n');
  assert.equal(code, 1, text);
  assert.match(text.trimEnd().split('\n').at(-1)!, /^0 passed, 1 failed$/);
  assert.match(text, /the guest says it is 'cr0', expected 'guestlib'/);
  // a pattern that matches nothing is a clear error
  const n = capture();
  assert.equal(await main(['test', '--backend', 'interp', '--guests', dir, 'zzz'], n.io), 1);
  assert.match(n.err.join('\n'), /no conformance program matches 'zzz'/);
  // a policy naming an unknown feature is refused, not run as something else
  const f = capture();
  assert.equal(await main(['test', '--backend', 'interp', '--guests', dir, '--cpu', 'host,+nosuchfeature', 'guestlib'], f.io), 1);
  assert.match(f.err.join('\n'), /--cpu host,\+nosuchfeature: .*unknown feature 'nosuchfeature'/);
});
