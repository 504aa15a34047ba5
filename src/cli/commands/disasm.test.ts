// `tsvmm disasm` output and argument errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { command } from './disasm.ts';

function run(args: string[]): { rc: Promise<number>; out: string[]; err: string[] } {
  const out: string[] = [], err: string[] = [];
  return { rc: command.run(args, { out: (t) => void out.push(t), err: (t) => void err.push(t) }), out, err };
}

test('disasm prints one line per instruction with lengths from the decoder', async () => {
  const r = run(['--org', '4096', '4801d8', 'f390', '0f0b']);
  assert.equal(await r.rc, 0);
  assert.equal(r.out.length, 3);
  assert.match(r.out[0]!, /^00001000 {2}48 01 d8 +add +Ev,Gv {2}\[o64 a64\]$/);
  assert.match(r.out[1]!, /pause/);
  assert.match(r.out[2]!, /ud2/);
});

test('disasm reports invalid encodings and exits 1; bad arguments exit 2', async () => {
  const r = run(['--bits', '64', '06']); // PUSH ES is invalid in 64-bit mode
  assert.equal(await r.rc, 1);
  assert.match(r.out[0]!, /#UD/);
  const bits32 = run(['--bits', '32', '06']);
  assert.equal(await bits32.rc, 0);
  assert.equal(await run(['--bits', '12', '90']).rc, 2);
  assert.equal(await run(['zz']).rc, 2);
});
