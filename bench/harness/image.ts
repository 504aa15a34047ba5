// The benchmark images' two wrappers and their parameter block: the multiboot/ELF64 image built from
// rt.asm (ELF header + Multiboot 0.6.96 §3.1 header with the a.out kludge) and the bootable disk
// (bootsect.asm + the same bytes from LBA 1), and the patching of the iteration count into either.

import { TsvmmError } from '../../src/util/result.ts';

export const PARAM_MAGIC = 'TSVMBNCH';
const MAGIC_BYTES = new TextEncoder().encode(PARAM_MAGIC);
export const SECTOR = 512;
/** Disk geometry the boot disk is padded to (16 heads × 63 sectors per cylinder, 2 cylinders). */
export const DISK_HEADS = 16;
export const DISK_SPT = 63;
export const DISK_CYLINDERS = 2;
export const DISK_BYTES = DISK_HEADS * DISK_SPT * DISK_CYLINDERS * SECTOR;

function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from = 0): number {
  outer: for (let i = from; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

/** Offset of the iteration dword (right after the magic); exactly one parameter block is allowed. */
export function paramOffset(image: Uint8Array, what = 'image'): number {
  const i = indexOfBytes(image, MAGIC_BYTES);
  if (i < 0) throw new TsvmmError('BENCH_NO_PARAM_BLOCK', `${what}: no '${PARAM_MAGIC}' parameter block`);
  if (indexOfBytes(image, MAGIC_BYTES, i + 1) >= 0)
    throw new TsvmmError('BENCH_PARAM_BLOCK_AMBIGUOUS', `${what}: more than one '${PARAM_MAGIC}' block`);
  if (i + MAGIC_BYTES.length + 4 > image.length)
    throw new TsvmmError('BENCH_NO_PARAM_BLOCK', `${what}: parameter block truncated`);
  return i + MAGIC_BYTES.length;
}

/** A copy of `image` (ELF or disk) with its iteration count set. */
export function withIterations(image: Uint8Array, iterations: number, what = 'image'): Uint8Array {
  if (!Number.isInteger(iterations) || iterations < 0 || iterations > 0xffffffff)
    throw new TsvmmError('BENCH_BAD_ITERATIONS', `${what}: iterations must be an integer 0..2^32-1, got ${iterations}`);
  const off = paramOffset(image, what);
  const out = image.slice();
  new DataView(out.buffer, out.byteOffset, out.byteLength).setUint32(off, iterations, true);
  return out;
}

export function readIterations(image: Uint8Array, what = 'image'): number {
  const off = paramOffset(image, what);
  return new DataView(image.buffer, image.byteOffset, image.byteLength).getUint32(off, true);
}

export interface KludgeInfo {
  readonly headerOffset: number;
  readonly loadAddr: number;
  readonly loadEndAddr: number;
  readonly entry32: number;
}

/** The multiboot header's a.out-kludge fields (Multiboot 0.6.96 §3.1.3) of a built image. */
export function kludgeInfo(image: Uint8Array, what = 'image'): KludgeInfo {
  const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
  for (let off = 0; off + 32 <= Math.min(image.length, 8192); off += 4) {
    if (dv.getUint32(off, true) !== 0x1badb002) continue;
    const flags = dv.getUint32(off + 4, true);
    if (((0x1badb002 + flags + dv.getUint32(off + 8, true)) >>> 0) !== 0) continue;
    if (!(flags & (1 << 16)))
      throw new TsvmmError('BENCH_NO_KLUDGE', `${what}: the multiboot header has no a.out kludge`);
    return {
      headerOffset: off,
      loadAddr: dv.getUint32(off + 16, true),
      loadEndAddr: dv.getUint32(off + 20, true),
      entry32: dv.getUint32(off + 28, true),
    };
  }
  throw new TsvmmError('BENCH_NO_MULTIBOOT', `${what}: no multiboot header in the first 8 KiB`);
}

/** Sectors the payload occupies on the disk. */
export function payloadSectors(payload: Uint8Array): number {
  return Math.ceil(payload.length / SECTOR);
}

/** The boot disk: boot sector, payload from LBA 1, zero padding to DISK_BYTES. */
export function makeDisk(bootSector: Uint8Array, payload: Uint8Array): Uint8Array {
  if (bootSector.length !== SECTOR || bootSector[510] !== 0x55 || bootSector[511] !== 0xaa)
    throw new TsvmmError('BENCH_BAD_BOOT_SECTOR', 'the boot sector must be 512 bytes ending in 55 AA');
  const total = SECTOR + payloadSectors(payload) * SECTOR;
  if (total > DISK_BYTES)
    throw new TsvmmError('BENCH_DISK_TOO_SMALL', `payload of ${payload.length} bytes does not fit the ${DISK_BYTES}-byte disk`);
  const disk = new Uint8Array(DISK_BYTES);
  disk.set(bootSector, 0);
  disk.set(payload, SECTOR);
  return disk;
}
