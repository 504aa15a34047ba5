import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DebugExit, debugExitStatus } from './debug-exit.ts';

test('a write of v reports exit status (v << 1) | 1 like QEMU', () => {
  const got: [number, number][] = [];
  const d = new DebugExit((status, v) => got.push([status, v]));
  d.write(0, 1, 0);
  d.write(0, 1, 0x10);
  d.write(0, 4, 0x7fffffff);
  d.write(0, 1, 0x1ff); // a byte write only carries the low byte
  assert.deepEqual(got, [
    [1, 0],
    [0x21, 0x10],
    [0xffffffff, 0x7fffffff],
    [0x1ff, 0xff],
  ]);
  assert.equal(debugExitStatus(0x31), 0x63);
  assert.equal(d.read(0, 1), 0xff);
  assert.deepEqual(d.snapshot(), {});
});
