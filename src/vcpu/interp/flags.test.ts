// Lazy flags: the BigInt-free 64-bit IMUL overflow (CF/OF) against BigInt arithmetic on edge values
// and a deterministic pseudo-random sample (SDM Vol. 2 "IMUL": CF = OF = result was truncated).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cpu, LF_IMUL64 } from './cpu.ts';

test('64-bit IMUL CF/OF computed lazily without BigInt agree with the exact 128-bit product', () => {
  const c = new Cpu();
  const edge = [0, 1, -1, 0x7fffffff, -0x80000000, 0x12345678, -2, 3];
  let seed = 0x1234567;
  const rnd = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) | 0);
  let checked = 0;
  for (let i = 0; i < 30000; i++) {
    const a = i < 4096 ? edge[i & 7]! : rnd(), ah = i < 4096 ? edge[(i >> 3) & 7]! : rnd();
    const b = i < 4096 ? edge[(i >> 6) & 7]! : rnd(), bh = i < 4096 ? edge[(i >> 9) & 7]! : i & 1 ? rnd() >> 31 : rnd();
    c.lfOp = LF_IMUL64; c.lfSize = 8; c.lfA = a; c.lfAh = ah; c.lfB = b; c.lfBh = bh;
    const p = ((BigInt(ah) << 32n) | BigInt(a >>> 0)) * ((BigInt(bh) << 32n) | BigInt(b >>> 0));
    const ovf = BigInt.asIntN(64, p) !== p;
    assert.equal(c.getCF(), ovf ? 1 : 0, `a=${ah}:${a} b=${bh}:${b}`);
    assert.equal(c.getOF() !== 0, ovf);
    checked++;
  }
  assert.equal(checked, 30000);
});
