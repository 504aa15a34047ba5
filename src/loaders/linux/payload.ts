// The bzImage payload (Linux Documentation/arch/x86/boot.rst, setup header fields payload_offset and
// payload_length, protocol 2.08+): the compressed vmlinux ELF (objcopy'd, relocations appended) that the
// kernel's own decompressor (arch/x86/boot/compressed) unpacks before jumping to startup_64.
//
// "Host decompression" is the shortcut Firecracker and cloud-hypervisor take with an uncompressed
// vmlinux: the VMM unpacks the payload itself, places the ELF's PT_LOAD segments at their physical
// addresses and enters startup_64 (the ELF entry, phys_startup_64 in vmlinux.lds.S) under the same
// 64-bit boot protocol (identity-mapped long mode, RSI = boot_params). It skips tens to hundreds of
// millions of guest instructions of xz/zstd decoding, and KASLR (the decompressor's job): the kernel
// runs at its link address (LOAD_PHYSICAL_ADDR, normally 16 MiB = pref_address).
//
// Formats by magic: gzip 1F 8B (node:zlib), xz FD 37 7A 58 5A 00 (`xz -dc`), zstd 28 B5 2F FD
// (`zstd -dc`); the host tools are needed only for those two and are reported clearly when missing.

import { spawnSync } from 'node:child_process';
import { gunzipSync } from 'node:zlib';
import { TsvmmError } from '../../util/result.ts';
import { hex } from '../../util/u64.ts';
import { ElfMachine, isElf, parseElf, type ElfImage } from '../elf/elf.ts';
import type { BzImage } from './bzimage.ts';

export type PayloadFormat = 'gzip' | 'xz' | 'zstd' | 'lz4' | 'lzma' | 'bzip2' | 'lzo' | 'unknown';

/** Identify a compressed payload by its magic bytes. */
export function payloadFormat(p: Uint8Array): PayloadFormat {
  const m = (...b: number[]): boolean => b.every((x, i) => p[i] === x);
  if (m(0x1f, 0x8b)) return 'gzip';
  if (m(0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00)) return 'xz';
  if (m(0x28, 0xb5, 0x2f, 0xfd)) return 'zstd';
  if (m(0x02, 0x21, 0x4c, 0x18)) return 'lz4';
  if (m(0x5d, 0x00, 0x00)) return 'lzma';
  if (m(0x42, 0x5a, 0x68)) return 'bzip2';
  if (m(0x89, 0x4c, 0x5a, 0x4f)) return 'lzo';
  return 'unknown';
}

/** Most vmlinux images are well below this; the cap keeps a corrupt stream from eating the host. */
const MAX_VMLINUX_BYTES = 512 * 1024 * 1024;

function runTool(tool: string, input: Uint8Array, what: string): Uint8Array {
  const r = spawnSync(tool, ['-dc'], { input, maxBuffer: MAX_VMLINUX_BYTES });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    throw new TsvmmError(
      code === 'ENOENT' ? 'LINUX_DECOMPRESSOR_MISSING' : 'LINUX_PAYLOAD_CORRUPT',
      code === 'ENOENT'
        ? `${what}: the payload is ${tool}-compressed and the host has no '${tool}' program to unpack it (install it, or boot without host decompression)`
        : `${what}: '${tool} -dc' failed: ${r.error.message}`,
    );
  }
  // The kernel appends its own 4-byte size trailer after the stream: tools may warn but succeed.
  if (r.stdout.length === 0)
    throw new TsvmmError(
      'LINUX_PAYLOAD_CORRUPT',
      `${what}: '${tool} -dc' produced nothing (${String(r.stderr).trim() || `status ${r.status}`})`,
    );
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.length);
}

/** Unpack the payload of a parsed bzImage into the vmlinux ELF it holds. */
export function extractVmlinux(img: BzImage, what = 'kernel image'): { elf: ElfImage; bytes: Uint8Array } {
  if (img.payloadLength === 0 || img.payloadOffset + img.payloadLength > img.kernel.length) {
    throw new TsvmmError(
      'LINUX_NO_PAYLOAD',
      `${what}: the setup header names no payload inside the image (payload_offset ${hex(img.payloadOffset)}, payload_length ${hex(img.payloadLength)})`,
    );
  }
  const payload = img.kernel.subarray(img.payloadOffset, img.payloadOffset + img.payloadLength);
  const format = payloadFormat(payload);
  let bytes: Uint8Array;
  switch (format) {
    case 'gzip':
      try {
        bytes = new Uint8Array(gunzipSync(payload, { maxOutputLength: MAX_VMLINUX_BYTES }));
      } catch (e) {
        throw new TsvmmError('LINUX_PAYLOAD_CORRUPT', `${what}: gzip payload: ${(e as Error).message}`);
      }
      break;
    case 'xz':
      bytes = runTool('xz', payload, what);
      break;
    case 'zstd':
      bytes = runTool('zstd', payload, what);
      break;
    default:
      throw new TsvmmError(
        'LINUX_PAYLOAD_FORMAT',
        `${what}: the payload is ${format === 'unknown' ? 'in an unknown format' : `${format}-compressed`}; host decompression handles gzip, xz and zstd`,
      );
  }
  if (!isElf(bytes))
    throw new TsvmmError('LINUX_PAYLOAD_CORRUPT', `${what}: the unpacked payload is not an ELF image`);
  const elf = parseElf(bytes, `${what} (vmlinux)`);
  if (elf.class !== 64 || elf.machine !== ElfMachine.X86_64)
    throw new TsvmmError(
      'LINUX_PAYLOAD_CORRUPT',
      `${what}: the unpacked vmlinux is not an x86-64 ELF64 image`,
    );
  return { elf, bytes };
}
