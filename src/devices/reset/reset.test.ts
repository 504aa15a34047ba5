import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Kbc8042ResetPort, SystemControlPortA } from './reset.ts';

test('port 0x92: a 0→1 write of bit 0 requests a reset; A20 reads back', () => {
  const why: string[] = [];
  const p = new SystemControlPortA((w) => why.push(w));
  assert.equal(p.read(0, 1), 0x02);
  p.write(0, 1, 0x02);
  assert.equal(why.length, 0);
  p.write(0, 1, 0x03);
  assert.equal(why.length, 1);
  assert.match(why[0]!, /0x92/);
  assert.equal(p.read(0, 1) & 1, 0, 'the reset bit self-clears');
  const q = new SystemControlPortA(() => {});
  q.restore(p.snapshot());
  assert.equal(q.read(0, 1), p.read(0, 1));
});

test('port 0x64: command 0xFE pulses reset, other commands do not; status reads idle', () => {
  const why: string[] = [];
  const k = new Kbc8042ResetPort((w) => why.push(w));
  k.write(0, 1, 0xd1);
  assert.equal(why.length, 0);
  k.write(0, 1, 0xfe);
  assert.equal(why.length, 1);
  assert.equal(k.read(0, 1) & 0x03, 0, 'input and output buffers empty');
});
