import { test } from 'node:test';
import assert from 'node:assert/strict';
import { asMachineClock, HostClock, ManualClock } from './clock.ts';

test('ManualClock: time moves only when told, waiting jumps to the deadline unless woken', async () => {
  const c = new ManualClock(100);
  assert.equal(c.nowNs(), 100);
  c.advance(50);
  assert.equal(c.nowNs(), 150);
  await c.waitUntil(1000, new AbortController().signal);
  assert.equal(c.nowNs(), 1000);
  await c.waitUntil(500, new AbortController().signal);
  assert.equal(c.nowNs(), 1000, 'never goes back');
  const woken = new AbortController();
  woken.abort();
  await c.waitUntil(5000, woken.signal);
  assert.equal(c.nowNs(), 1000, 'a wake-up before the wait means no time passes');
});

test('HostClock: monotonic; a wake-up ends a far wait', async () => {
  const c = new HostClock();
  const a = c.nowNs();
  const b = c.nowNs();
  assert.ok(b >= a);
  const wake = new AbortController();
  const far = c.waitUntil(c.nowNs() + 3600e9, wake.signal);
  setImmediate(() => wake.abort());
  await far; // resolves through the abort, not after an hour
  const already = new AbortController();
  already.abort();
  await c.waitUntil(c.nowNs() + 3600e9, already.signal);
});

test('asMachineClock wraps a plain Clock, keeps a MachineClock, defaults to the host clock', () => {
  const plain = { nowNs: () => 42 };
  const w = asMachineClock(plain);
  assert.equal(w.nowNs(), 42);
  assert.equal(typeof w.waitUntil, 'function');
  const m = new ManualClock();
  assert.equal(asMachineClock(m), m);
  assert.ok(asMachineClock(undefined) instanceof HostClock);
});
