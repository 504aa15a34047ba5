import { test } from 'node:test';
import assert from 'node:assert/strict';
import { computeLayout, E820, GiB, HIGH_RAM_START, MiB, PCI_HOLE_START } from './layout.ts';
import { checkMemorySize, GuestMemory } from './memory.ts';

test('small machines: all RAM below the hole, one slot', () => {
  const l = computeLayout(256 * MiB);
  assert.deepEqual(l.ram, [{ base: 0, size: 256 * MiB }]);
  assert.equal(l.lowRamEnd, 256 * MiB);
  assert.equal(l.ramTop, 256 * MiB);
  assert.deepEqual(
    l.e820.map((e) => [e.base, e.length, e.type]),
    [
      [0, 0x9fc00, E820.RAM],
      [0x9fc00, 0x400, E820.RESERVED],
      [0xf0000, 0x10000, E820.RESERVED],
      [0x100000, 255 * MiB, E820.RAM],
    ],
  );
});

test('large machines: RAM above 3 GiB continues at 4 GiB', () => {
  const l = computeLayout(5 * GiB);
  assert.deepEqual(l.ram, [
    { base: 0, size: PCI_HOLE_START },
    { base: HIGH_RAM_START, size: 2 * GiB },
  ]);
  assert.equal(l.ramTop, 6 * GiB);
  assert.deepEqual(l.e820.at(-1), { base: HIGH_RAM_START, length: 2 * GiB, type: E820.RAM });
});

test('memory sizes are checked with clear errors', () => {
  assert.throws(() => checkMemorySize(0), { code: 'MEMORY_SIZE' });
  assert.throws(() => checkMemorySize(1.5), { code: 'MEMORY_SIZE' });
  assert.throws(() => checkMemorySize(MiB + 1), /multiple of 4 KiB/);
  assert.throws(() => checkMemorySize(MiB), /minimum/);
  assert.throws(() => checkMemorySize(65 * GiB), /maximum/);
  checkMemorySize(2 * MiB);
});

test('GuestMemory reads and writes inside RAM and refuses ranges outside it', () => {
  const l = computeLayout(4 * MiB);
  const m = new GuestMemory(l, [new ArrayBuffer(4 * MiB)]);
  m.writeU32(0x1000, 0xdeadbeef);
  m.writeU64(0x2000, 0x1122334455667788n);
  m.writeU16(0x3000, 0xabcd);
  assert.equal(m.readU32(0x1000), 0xdeadbeef);
  assert.equal(m.readU8(0x1000), 0xef);
  assert.equal(m.readU64(0x2000), 0x1122334455667788n);
  assert.equal(m.readU16(0x3000), 0xabcd);
  m.write(4 * MiB - 2, new Uint8Array([1, 2]));
  assert.deepEqual([...m.read(4 * MiB - 2, 2)], [1, 2]);
  assert.equal(m.isRam(4 * MiB - 1, 2), false);
  assert.throws(() => m.readU32(4 * MiB - 2), { code: 'GUEST_MEMORY_RANGE' });
  assert.throws(() => m.write(4 * MiB, new Uint8Array(1)), { code: 'GUEST_MEMORY_RANGE' });
  assert.throws(() => new GuestMemory(l, []), { code: 'MEMORY_SLOTS' });
});
