// The parameter block and the two wrappers, on synthetic images (no nasm needed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DISK_BYTES, kludgeInfo, makeDisk, paramOffset, readIterations, withIterations } from './image.ts';
import { TsvmmError } from '../../src/util/result.ts';

function fakeImage(): Uint8Array {
  const img = new Uint8Array(4096);
  const dv = new DataView(img.buffer);
  // multiboot header at 0x80 with the a.out kludge
  const flags = 0x10003;
  dv.setUint32(0x80, 0x1badb002, true);
  dv.setUint32(0x84, flags, true);
  dv.setUint32(0x88, (-(0x1badb002 + flags)) >>> 0, true);
  dv.setUint32(0x8c, 0x100080, true);
  dv.setUint32(0x90, 0x100000, true);
  dv.setUint32(0x94, 0x101000, true);
  dv.setUint32(0x98, 0, true);
  dv.setUint32(0x9c, 0x100400, true);
  img.set(new TextEncoder().encode('TSVMBNCH'), 0xa8);
  return img;
}

const code = (c: string) => (e: unknown) => e instanceof TsvmmError && e.code === c;

test('iterations are patched into a copy, little-endian, right after the magic', () => {
  const img = fakeImage();
  assert.equal(paramOffset(img), 0xb0);
  const p = withIterations(img, 0x12345678);
  assert.equal(readIterations(p), 0x12345678);
  assert.deepEqual([...p.subarray(0xb0, 0xb4)], [0x78, 0x56, 0x34, 0x12]);
  assert.equal(readIterations(img), 0, 'the original is untouched');
  assert.equal(readIterations(withIterations(img, 0xffffffff)), 0xffffffff);
});

test('bad iteration counts and missing or duplicate blocks are refused', () => {
  const img = fakeImage();
  assert.throws(() => withIterations(img, -1), code('BENCH_BAD_ITERATIONS'));
  assert.throws(() => withIterations(img, 1.5), code('BENCH_BAD_ITERATIONS'));
  assert.throws(() => withIterations(img, 2 ** 32), code('BENCH_BAD_ITERATIONS'));
  assert.throws(() => paramOffset(new Uint8Array(64)), code('BENCH_NO_PARAM_BLOCK'));
  const two = fakeImage();
  two.set(new TextEncoder().encode('TSVMBNCH'), 0x200);
  assert.throws(() => paramOffset(two), code('BENCH_PARAM_BLOCK_AMBIGUOUS'));
  const cut = new TextEncoder().encode('xxTSVMBNCH\x01');
  assert.throws(() => paramOffset(cut), code('BENCH_NO_PARAM_BLOCK'));
});

test('kludge fields of the multiboot header', () => {
  assert.deepEqual(kludgeInfo(fakeImage()), { headerOffset: 0x80, loadAddr: 0x100000, loadEndAddr: 0x101000, entry32: 0x100400 });
  assert.throws(() => kludgeInfo(new Uint8Array(256)), code('BENCH_NO_MULTIBOOT'));
  const noKludge = fakeImage();
  const dv = new DataView(noKludge.buffer);
  dv.setUint32(0x84, 3, true);
  dv.setUint32(0x88, (-(0x1badb002 + 3)) >>> 0, true);
  assert.throws(() => kludgeInfo(noKludge), code('BENCH_NO_KLUDGE'));
});

test('disk: boot sector, payload from LBA 1, padded to the geometry; patchable like the image', () => {
  const boot = new Uint8Array(512);
  boot[510] = 0x55;
  boot[511] = 0xaa;
  const img = fakeImage();
  const disk = makeDisk(boot, img);
  assert.equal(disk.length, DISK_BYTES);
  assert.deepEqual(disk.subarray(512, 512 + img.length), img);
  assert.equal(readIterations(withIterations(disk, 7)), 7);
  assert.throws(() => makeDisk(new Uint8Array(512), img), code('BENCH_BAD_BOOT_SECTOR'));
  assert.throws(() => makeDisk(boot, new Uint8Array(DISK_BYTES)), code('BENCH_DISK_TOO_SMALL'));
});
