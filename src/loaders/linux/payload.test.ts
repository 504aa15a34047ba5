import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { parseBzImage } from './bzimage.ts';
import { extractVmlinux, payloadFormat } from './payload.ts';
import { planLinuxBoot } from './linux.ts';
import { computeLayout, MiB } from '../../machine/layout.ts';
import { syntheticBzImage } from '../testing/bzimage.ts';
import { buildElf } from '../testing/images.ts';
import { setField } from '../layout/struct.ts';
import { SETUP_HEADER } from './bzimage.ts';

/** A synthetic bzImage whose payload is `payload` (at protected-mode offset 0x400). */
function withPayload(payload: Uint8Array, initSize = 0x200000): Uint8Array {
  const base = syntheticBzImage(new Uint8Array([0xf4]), initSize);
  const kernelStart = 5 * 512;
  const b = new Uint8Array(kernelStart + Math.ceil((0x400 + payload.length) / 16) * 16);
  b.set(base.subarray(0, kernelStart + 0x400));
  b.set(payload, kernelStart + 0x400);
  const dv = new DataView(b.buffer);
  setField(dv, 0, SETUP_HEADER, 'syssize', Math.ceil((b.length - kernelStart) / 16));
  setField(dv, 0, SETUP_HEADER, 'payload_offset', 0x400);
  setField(dv, 0, SETUP_HEADER, 'payload_length', payload.length);
  return b;
}

const VMLINUX = buildElf({
  bits: 64,
  entry: 0x1000000,
  segments: [{ paddr: 0x1000000, data: new Uint8Array([0x90, 0x90, 0xf4]), offset: 0x1000, align: 0x1000 }],
});

test('payload formats are told by their magic', () => {
  assert.equal(payloadFormat(new Uint8Array([0x1f, 0x8b, 8])), 'gzip');
  assert.equal(payloadFormat(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])), 'xz');
  assert.equal(payloadFormat(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd])), 'zstd');
  assert.equal(payloadFormat(new Uint8Array([1, 2, 3, 4])), 'unknown');
});

test('host decompression: a gzip vmlinux payload is placed by its PT_LOAD segments and entered at its ELF entry', () => {
  const img = withPayload(gzipSync(VMLINUX));
  const plan = planLinuxBoot({ kernel: img, layout: computeLayout(64 * MiB), hostDecompress: true });
  assert.equal(plan.entry, 0x1000000);
  assert.equal(plan.regs.rip, 0x1000000n);
  const seg = plan.memoryWrites.find((w) => w.what.startsWith('vmlinux segment'));
  assert.deepEqual([...(seg?.bytes ?? [])], [0x90, 0x90, 0xf4]);
  assert.equal(
    plan.memoryWrites.some((w) => w.what === 'kernel'),
    false,
    'the compressed kernel is not loaded',
  );
});

test('host decompression refuses what it cannot use, with clear codes', () => {
  const layout = computeLayout(64 * MiB);
  const plan = (kernel: Uint8Array) => () => planLinuxBoot({ kernel, layout, hostDecompress: true });
  assert.throws(plan(syntheticBzImage()), { code: 'LINUX_NO_PAYLOAD' });
  assert.throws(plan(withPayload(new Uint8Array([0x42, 0x5a, 0x68, 0, 0]))), {
    code: 'LINUX_PAYLOAD_FORMAT',
  });
  assert.throws(plan(withPayload(gzipSync(new Uint8Array(64)))), { code: 'LINUX_PAYLOAD_CORRUPT' });
  assert.throws(plan(withPayload(new Uint8Array([0x1f, 0x8b, 8, 0, 1, 2, 3]))), {
    code: 'LINUX_PAYLOAD_CORRUPT',
  });
  const far = buildElf({
    bits: 64,
    entry: 0x1000000,
    segments: [{ paddr: 0x8000000, data: new Uint8Array(16), offset: 0x1000, align: 0x1000 }],
  });
  assert.throws(plan(withPayload(gzipSync(far))), { code: 'LINUX_PAYLOAD_LAYOUT' });
});

const kernels = existsSync('/boot') ? readdirSync('/boot').filter((f) => f.startsWith('vmlinuz-')) : [];

test(
  "host decompression of Debian's kernel: an x86-64 vmlinux entered at its link address",
  {
    skip:
      kernels.length === 0
        ? 'no /boot/vmlinuz-* on this machine (Debian linux-image-amd64 not installed)'
        : false,
  },
  (t) => {
    const bytes = new Uint8Array(readFileSync(`/boot/${kernels[0]}`));
    const img = parseBzImage(bytes);
    let v;
    try {
      v = extractVmlinux(img, kernels[0]);
    } catch (e) {
      if ((e as { code?: string }).code === 'LINUX_DECOMPRESSOR_MISSING') return t.skip((e as Error).message);
      throw e;
    }
    assert.equal(v.elf.class, 64);
    assert.equal(Number(v.elf.entry), img.prefAddress, 'startup_64 at LOAD_PHYSICAL_ADDR = pref_address');
    for (const s of v.elf.segments)
      assert.ok(s.paddr >= img.prefAddress && s.paddr + s.memsz <= img.prefAddress + img.initSize);
  },
);
