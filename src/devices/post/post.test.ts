import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PostPort } from './post.ts';

test('POST port keeps the last code, counts writes, round-trips a snapshot', () => {
  const p = new PostPort();
  p.write(0, 1, 0x12);
  p.write(0, 1, 0x1ab);
  assert.equal(p.read(0, 1), 0xab);
  assert.equal(p.writes, 2);
  const q = new PostPort();
  q.restore(p.snapshot());
  assert.equal(q.read(0, 1), 0xab);
  p.reset();
  assert.equal(p.read(0, 1), 0);
});
