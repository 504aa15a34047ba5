import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  ELF32_EHDR,
  ELF32_EHDR_SIZE,
  ELF32_PHDR_SIZE,
  ELF64_EHDR,
  ELF64_EHDR_SIZE,
  ELF64_PHDR,
  ELF64_PHDR_SIZE,
  parseElf,
} from './elf.ts';
import { buildElf } from '../testing/images.ts';
import { structSize } from '../layout/struct.ts';

test('header and program header tables match the gABI sizes and offsets', () => {
  assert.equal(structSize(ELF32_EHDR), ELF32_EHDR_SIZE);
  assert.equal(structSize(ELF64_EHDR), ELF64_EHDR_SIZE);
  assert.equal(ELF32_EHDR_SIZE, 52);
  assert.equal(ELF64_EHDR_SIZE, 64);
  assert.equal(ELF32_PHDR_SIZE, 32);
  assert.equal(ELF64_PHDR_SIZE, 56);
  assert.deepEqual(ELF64_EHDR.e_phoff, [0x20, 8]);
  assert.deepEqual(ELF32_EHDR.e_phnum, [0x2c, 2]);
  assert.deepEqual(ELF64_PHDR.p_paddr, [0x18, 8]);
});

test('parses ELF32 and ELF64 PT_LOAD segments and the entry', () => {
  const e32 = parseElf(
    buildElf({
      bits: 32,
      entry: 0x100010,
      segments: [{ paddr: 0x100000, data: new Uint8Array(32), memsz: 64 }],
    }),
  );
  assert.equal(e32.class, 32);
  assert.equal(e32.entry, 0x100010n);
  assert.equal(e32.segments.length, 1);
  assert.equal(e32.segments[0]!.memsz, 64);
  const e64 = parseElf(
    buildElf({
      bits: 64,
      entry: 0xffffffff80001000n,
      segments: [
        { paddr: 0x200000, vaddr: 0x200000, data: new Uint8Array(8) },
        { paddr: 0x300000, data: new Uint8Array(4) },
      ],
    }),
  );
  assert.equal(e64.class, 64);
  assert.equal(e64.entry, 0xffffffff80001000n, '64-bit entries keep all bits');
  assert.deepEqual(
    e64.segments.map((s) => s.paddr),
    [0x200000, 0x300000],
  );
});

test('malformed files are refused with specific codes', () => {
  const good = buildElf({
    bits: 64,
    entry: 0x200000,
    segments: [{ paddr: 0x200000, data: new Uint8Array(64) }],
  });
  assert.throws(() => parseElf(new Uint8Array([1, 2, 3, 4])), { code: 'ELF_MAGIC' });
  assert.throws(() => parseElf(good.subarray(0, 40)), { code: 'ELF_TRUNCATED' });
  assert.throws(() => parseElf(good.subarray(0, 100)), { code: 'ELF_TRUNCATED' });
  assert.throws(() => parseElf(good.subarray(0, good.length - 1)), /runs past the end/);
  const wrongMachine = buildElf({
    bits: 64,
    entry: 0,
    machine: 3,
    segments: [{ paddr: 0, data: new Uint8Array(1) }],
  });
  assert.throws(() => parseElf(wrongMachine), { code: 'ELF_MACHINE' });
  const bigEndian = good.slice();
  bigEndian[5] = 2;
  assert.throws(() => parseElf(bigEndian), { code: 'ELF_ENDIAN' });
  const fileszTooBig = buildElf({
    bits: 32,
    entry: 0,
    segments: [{ paddr: 0x100000, data: new Uint8Array(16), memsz: 8 }],
  });
  assert.throws(() => parseElf(fileszTooBig), { code: 'ELF_SEGMENT' });
  const misaligned = buildElf({
    bits: 32,
    entry: 0,
    segments: [{ paddr: 0x100004, data: new Uint8Array(16), align: 0x1000, offset: 0x1000 }],
  });
  assert.throws(() => parseElf(misaligned), { code: 'ELF_SEGMENT_MISALIGNED' });
});
