import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadFlat } from './flat.ts';
import { testMemory } from '../testing/memory.ts';
import { MiB } from '../../machine/layout.ts';
import { BootEfer, PML4_ADDR } from '../boot/boot-state.ts';

const BIN = new Uint8Array([0x90, 0x90, 0xf4, 0xeb, 0xfd]);

test('flat binary copied to its address; entry state per mode', () => {
  const m = testMemory(8 * MiB);
  const st = loadFlat(m, { image: BIN, address: 0x100000, entry: 0x100002, mode: 'long64' });
  assert.deepEqual([...m.read(0x100000, BIN.length)], [...BIN]);
  assert.equal(st.regs.rip, 0x100002n);
  assert.equal(st.regs.rax, 0n);
  assert.equal(st.sregs.efer, BootEfer.LME | BootEfer.LMA);
  assert.equal(st.sregs.cr3, BigInt(PML4_ADDR));
  const p = loadFlat(m, { image: BIN, address: 0x200000, mode: 'protected32' });
  assert.equal(p.regs.rip, 0x200000n);
  assert.equal(p.sregs.cs!.db, true);
  const r = loadFlat(m, { image: BIN, address: 0x7c00, entry: 0x7c02, mode: 'real16' });
  assert.equal(r.regs.rip, 2n);
  assert.equal(r.sregs.cs!.base, 0x7c00n);
});

test('flat refusals: unaligned address, outside RAM, too large, bad entry, empty, boot-data overlap', () => {
  const m = testMemory(4 * MiB);
  assert.throws(() => loadFlat(m, { image: BIN, address: 0x100001, mode: 'long64' }), {
    code: 'FLAT_UNALIGNED',
  });
  assert.throws(() => loadFlat(m, { image: BIN, address: 0x10000000, mode: 'long64' }), {
    code: 'IMAGE_OUTSIDE_RAM',
  });
  assert.throws(() => loadFlat(m, { image: new Uint8Array(5 * MiB), address: 0, mode: 'real16' }), {
    code: 'IMAGE_TOO_LARGE',
  });
  assert.throws(() => loadFlat(m, { image: BIN, address: 0x100000, entry: 0x100010, mode: 'long64' }), {
    code: 'FLAT_BAD_ENTRY',
  });
  assert.throws(() => loadFlat(m, { image: new Uint8Array(0), address: 0x100000, mode: 'long64' }), {
    code: 'FLAT_EMPTY',
  });
  assert.throws(() => loadFlat(m, { image: BIN, address: 0x10000, mode: 'long64' }), {
    code: 'IMAGE_OVERLAPS_BOOT_DATA',
  });
  assert.throws(() => loadFlat(m, { image: BIN, address: 0x1000, mode: 'protected32' }), {
    code: 'IMAGE_OVERLAPS_BOOT_DATA',
  });
  assert.throws(() => loadFlat(m, { image: BIN, address: 0x110000, mode: 'real16' }), {
    code: 'FLAT_UNALIGNED',
  });
});
