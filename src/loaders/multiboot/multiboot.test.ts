import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadMultiboot } from './multiboot.ts';
import { findMultibootHeader, MULTIBOOT_BOOTLOADER_MAGIC } from './header.ts';
import {
  MB_INFO_LAYOUT,
  MbInfoFlag,
  MULTIBOOT_INFO,
  MULTIBOOT_INFO_SIZE,
  MULTIBOOT_MMAP_ENTRY,
  MULTIBOOT_MODULE,
} from './info.ts';
import { buildElf, concat, multibootHeader } from '../testing/images.ts';
import { testMemory } from '../testing/memory.ts';
import { structSize } from '../layout/struct.ts';
import { BOOT_INFO_ADDR, MiB } from '../../machine/layout.ts';
import { BootCr0, BootEfer, GDT_SELECTOR, PML4_ADDR } from '../boot/boot-state.ts';
import type { GuestMemory } from '../../machine/memory.ts';

const CODE = new Uint8Array([0xfa, 0xf4, 0xeb, 0xfd]); // cli; hlt; jmp $-1

function elf32Kernel(opts: { bss?: number; headerFlags?: number } = {}): Uint8Array {
  const text = concat(multibootHeader({ flags: opts.headerFlags ?? 0x3 }), CODE);
  return buildElf({
    bits: 32,
    entry: 0x10000c,
    segments: [{ paddr: 0x100000, data: text, memsz: text.length + (opts.bss ?? 0) }],
  });
}

function cstr(m: GuestMemory, addr: number): string {
  let s = '';
  for (let a = addr; m.readU8(a) !== 0; a++) s += String.fromCharCode(m.readU8(a));
  return s;
}

test("information structure offsets are the spec's (0.6.96 §3.3)", () => {
  const off = (k: keyof typeof MULTIBOOT_INFO) => MULTIBOOT_INFO[k][0];
  assert.equal(off('flags'), 0);
  assert.equal(off('mem_lower'), 4);
  assert.equal(off('mem_upper'), 8);
  assert.equal(off('boot_device'), 12);
  assert.equal(off('cmdline'), 16);
  assert.equal(off('mods_count'), 20);
  assert.equal(off('mods_addr'), 24);
  assert.equal(off('mmap_length'), 44);
  assert.equal(off('mmap_addr'), 48);
  assert.equal(off('drives_length'), 52);
  assert.equal(off('config_table'), 60);
  assert.equal(off('boot_loader_name'), 64);
  assert.equal(off('apm_table'), 68);
  assert.equal(off('vbe_mode'), 80);
  assert.equal(off('framebuffer_addr'), 88);
  assert.equal(off('framebuffer_bpp'), 108);
  assert.equal(structSize(MULTIBOOT_INFO), MULTIBOOT_INFO_SIZE);
  assert.equal(structSize(MULTIBOOT_MODULE), 16);
  assert.equal(structSize(MULTIBOOT_MMAP_ENTRY), 24);
});

test('header search: 4-byte aligned within the first 8192 bytes', () => {
  const hdr = multibootHeader();
  assert.throws(
    () => findMultibootHeader(concat(new Uint8Array(8184), hdr)),
    { code: 'MULTIBOOT_NO_HEADER' },
    'crosses 8192',
  );
  assert.equal(findMultibootHeader(concat(new Uint8Array(8180), hdr)).offset, 8180);
  assert.throws(() => findMultibootHeader(concat(new Uint8Array(8192), hdr)), {
    code: 'MULTIBOOT_NO_HEADER',
  });
  assert.throws(
    () => findMultibootHeader(concat(new Uint8Array(6), hdr, new Uint8Array(8))),
    { code: 'MULTIBOOT_NO_HEADER' },
    'unaligned magic is not a header',
  );
  assert.throws(() => findMultibootHeader(new Uint8Array(100)), { code: 'MULTIBOOT_NO_HEADER' });
});

test('header refusals: bad checksum, truncated, unsupported required flag', () => {
  assert.throws(() => findMultibootHeader(multibootHeader({ checksum: 0x1234 })), {
    code: 'MULTIBOOT_BAD_CHECKSUM',
  });
  assert.throws(() => findMultibootHeader(multibootHeader().subarray(0, 8)), { code: 'MULTIBOOT_TRUNCATED' });
  const k = multibootHeader({
    kludge: { headerAddr: 0x100000, loadAddr: 0x100000, loadEndAddr: 0, bssEndAddr: 0, entryAddr: 0x100000 },
  });
  assert.throws(() => findMultibootHeader(k.subarray(0, 20)), { code: 'MULTIBOOT_TRUNCATED' });
  assert.throws(() => findMultibootHeader(multibootHeader({ flags: 1 << 5 })), {
    code: 'MULTIBOOT_UNSUPPORTED_FLAGS',
  });
});

test('ELF32 multiboot32: segments at their physical addresses, BSS zeroed, spec register state', () => {
  const m = testMemory(16 * MiB, 0xaa);
  const image = elf32Kernel({ bss: 0x100 });
  const st = loadMultiboot(m, { image, cmdline: 'console=ttyS0 x=1' });
  assert.equal(st.mode, 'protected32');
  assert.deepEqual([...m.read(0x10000c, 4)], [...CODE]);
  assert.equal(m.readU8(0x100000 + 16), 0, 'bss zeroed');
  assert.equal(m.readU8(0x100000 + 16 + 0xff), 0, 'bss zeroed to its end');
  assert.equal(m.readU8(0x100000 + 16 + 0x100), 0xaa, 'nothing beyond memsz touched');
  assert.equal(st.regs.rax, BigInt(MULTIBOOT_BOOTLOADER_MAGIC));
  assert.equal(st.regs.rbx, BigInt(BOOT_INFO_ADDR));
  assert.equal(st.regs.rip, 0x10000cn);
  assert.equal(st.regs.rflags, 2n, 'IF clear');
  assert.equal(st.sregs.cr0! & BootCr0.PG, 0n);
  assert.equal(st.sregs.cr0! & BootCr0.PE, BootCr0.PE);
  assert.equal(st.sregs.cs!.selector, GDT_SELECTOR.CODE32);
  assert.equal(st.sregs.cs!.db, true);
  assert.equal(st.sregs.ds!.limit, 0xffffffff);
});

test('information structure contents: memory, cmdline, loader name, mmap, modules', () => {
  const m = testMemory(64 * MiB);
  const modA = new Uint8Array(5000).fill(7);
  const modB = new Uint8Array(10).fill(9);
  loadMultiboot(m, {
    image: elf32Kernel(),
    cmdline: 'hello world',
    modules: [
      { data: modA, cmdline: 'initrd.img' },
      { data: modB, cmdline: 'second arg=1' },
    ],
  });
  const info = BOOT_INFO_ADDR;
  const f = (k: keyof typeof MULTIBOOT_INFO) => m.readU32(info + MULTIBOOT_INFO[k][0]);
  const flags = f('flags');
  for (const bit of [
    MbInfoFlag.MEMORY,
    MbInfoFlag.CMDLINE,
    MbInfoFlag.MODS,
    MbInfoFlag.MEM_MAP,
    MbInfoFlag.BOOT_LOADER_NAME,
  ]) {
    assert.equal(flags & bit, bit);
  }
  assert.equal(f('mem_lower'), 639);
  assert.equal(f('mem_upper'), 63 * 1024);
  assert.equal(cstr(m, f('cmdline')), 'hello world');
  assert.equal(cstr(m, f('boot_loader_name')), 'tsvmm');
  assert.equal(f('mods_count'), 2);
  const mods = f('mods_addr');
  assert.equal(mods, BOOT_INFO_ADDR + MB_INFO_LAYOUT.MODS);
  const start0 = m.readU32(mods);
  const end0 = m.readU32(mods + 4);
  assert.equal(start0 % 4096, 0, 'page aligned');
  assert.ok(start0 >= 0x100000 + 16, 'above the kernel');
  assert.equal(end0 - start0, 5000);
  assert.equal(m.readU8(start0 + 4999), 7);
  assert.equal(cstr(m, m.readU32(mods + 8)), 'initrd.img');
  const start1 = m.readU32(mods + 16);
  assert.equal(start1 % 4096, 0);
  assert.ok(start1 >= end0, 'modules do not overlap');
  assert.equal(cstr(m, m.readU32(mods + 16 + 8)), 'second arg=1');
  // memory map: e820-like entries, `size` = 20, mmap_addr points at the size field
  const mmap = f('mmap_addr');
  const n = f('mmap_length') / 24;
  const entries = Array.from({ length: n }, (_, i) => ({
    size: m.readU32(mmap + i * 24),
    base: m.readU64(mmap + i * 24 + 4),
    len: m.readU64(mmap + i * 24 + 12),
    type: m.readU32(mmap + i * 24 + 20),
  }));
  assert.deepEqual(entries[0], { size: 20, base: 0n, len: 0x9fc00n, type: 1 });
  assert.deepEqual(entries.at(-1), { size: 20, base: 0x100000n, len: BigInt(63 * MiB), type: 1 });
  assert.ok(entries.some((e) => e.type === 2 && e.base === 0x9fc00n));
});

test('a.out kludge: load_addr/load_end/bss_end from the header, entry_addr honoured', () => {
  const m = testMemory(16 * MiB, 0x55);
  // file: 0x40 bytes of junk, then the header at file offset 0x40 = address 0x200040
  const hdr = multibootHeader({
    kludge: {
      headerAddr: 0x200040,
      loadAddr: 0x200000,
      loadEndAddr: 0x200080,
      bssEndAddr: 0x201000,
      entryAddr: 0x200060,
    },
  });
  const body = new Uint8Array(0x80);
  body.fill(0x11, 0, 0x40);
  body.set(hdr, 0x40);
  body.set(CODE, 0x60);
  const image = concat(body, new Uint8Array(32).fill(0xee)); // bytes past load_end_addr are not loaded
  const st = loadMultiboot(m, { image });
  assert.equal(st.regs.rip, 0x200060n);
  assert.equal(m.readU8(0x200000), 0x11);
  assert.deepEqual([...m.read(0x200060, 4)], [...CODE]);
  assert.equal(m.readU8(0x200080), 0, 'bss starts at load_end_addr');
  assert.equal(m.readU8(0x200fff), 0);
  assert.equal(m.readU8(0x201000), 0x55);
});

test('a.out kludge refusals: inconsistent addresses, entry outside the image, truncated file', () => {
  const m = testMemory(16 * MiB);
  const mk = (
    k: { headerAddr: number; loadAddr: number; loadEndAddr: number; bssEndAddr: number; entryAddr: number },
    size = 0x100,
  ) => {
    const img = new Uint8Array(size);
    img.set(multibootHeader({ kludge: k }), 0);
    return img;
  };
  assert.throws(
    () =>
      loadMultiboot(m, {
        image: mk({
          headerAddr: 0x100000,
          loadAddr: 0x100010,
          loadEndAddr: 0,
          bssEndAddr: 0,
          entryAddr: 0x100010,
        }),
      }),
    { code: 'MULTIBOOT_BAD_ADDRESS' },
  );
  assert.throws(
    () =>
      loadMultiboot(m, {
        image: mk({
          headerAddr: 0x100010,
          loadAddr: 0x100000,
          loadEndAddr: 0,
          bssEndAddr: 0,
          entryAddr: 0x100010,
        }),
      }),
    { code: 'MULTIBOOT_BAD_ADDRESS' },
  );
  assert.throws(
    () =>
      loadMultiboot(m, {
        image: mk({
          headerAddr: 0x100000,
          loadAddr: 0x100000,
          loadEndAddr: 0,
          bssEndAddr: 0,
          entryAddr: 0x300000,
        }),
      }),
    { code: 'MULTIBOOT_BAD_ENTRY' },
  );
  assert.throws(
    () =>
      loadMultiboot(m, {
        image: mk({
          headerAddr: 0x100000,
          loadAddr: 0x100000,
          loadEndAddr: 0x101000,
          bssEndAddr: 0,
          entryAddr: 0x100000,
        }),
      }),
    { code: 'MULTIBOOT_TRUNCATED' },
  );
  assert.throws(
    () =>
      loadMultiboot(m, {
        image: mk({
          headerAddr: 0x100000,
          loadAddr: 0x100000,
          loadEndAddr: 0x100080,
          bssEndAddr: 0x100040,
          entryAddr: 0x100000,
        }),
      }),
    { code: 'MULTIBOOT_BAD_ADDRESS' },
  );
});

test('malformed images: image larger than memory, segment outside RAM, unaligned module, overlapping modules, boot data overlap', () => {
  const m = testMemory(4 * MiB);
  const big = buildElf({
    bits: 32,
    entry: 0x100000,
    segments: [{ paddr: 0x100000, data: concat(multibootHeader(), CODE), memsz: 8 * MiB }],
  });
  assert.throws(() => loadMultiboot(m, { image: big }), { code: 'IMAGE_TOO_LARGE' });
  const high = buildElf({
    bits: 32,
    entry: 0xc0000000,
    segments: [{ paddr: 0xc0000000, data: concat(multibootHeader(), CODE) }],
  });
  assert.throws(() => loadMultiboot(m, { image: high }), { code: 'IMAGE_OUTSIDE_RAM' });
  const low = buildElf({
    bits: 32,
    entry: 0x2000,
    segments: [{ paddr: 0x2000, data: concat(multibootHeader(), CODE) }],
  });
  assert.throws(() => loadMultiboot(m, { image: low }), { code: 'IMAGE_OVERLAPS_BOOT_DATA' });
  const kernel = elf32Kernel({ headerFlags: 0x1 });
  assert.throws(
    () => loadMultiboot(m, { image: kernel, modules: [{ data: new Uint8Array(8), address: 0x200010 }] }),
    { code: 'MULTIBOOT_MODULE_UNALIGNED' },
  );
  assert.throws(
    () =>
      loadMultiboot(m, {
        image: kernel,
        modules: [
          { data: new Uint8Array(0x2000), address: 0x200000 },
          { data: new Uint8Array(8), address: 0x201000 },
        ],
      }),
    { code: 'MULTIBOOT_MODULE_OVERLAP' },
  );
  assert.throws(
    () => loadMultiboot(m, { image: kernel, modules: [{ data: new Uint8Array(8), address: 0x100000 }] }),
    { code: 'MULTIBOOT_MODULE_OVERLAP' },
  );
  assert.throws(() => loadMultiboot(m, { image: kernel, modules: [{ data: new Uint8Array(5 * MiB) }] }), {
    code: 'IMAGE_TOO_LARGE',
  });
  assert.throws(() => loadMultiboot(m, { image: kernel.subarray(0, kernel.length - 2) }), {
    code: 'ELF_TRUNCATED',
  });
  assert.throws(() => loadMultiboot(m, { image: kernel, cmdline: 'x'.repeat(5000) }), {
    code: 'MULTIBOOT_CMDLINE_TOO_LONG',
  });
  // a header-less flat binary is not multiboot
  assert.throws(() => loadMultiboot(m, { image: new Uint8Array(64) }), { code: 'MULTIBOOT_NO_HEADER' });
  // header without address fields on a non-ELF file
  assert.throws(() => loadMultiboot(m, { image: concat(multibootHeader(), CODE) }), {
    code: 'MULTIBOOT_NOT_ELF',
  });
});

test('ELF64 with a.out kludge: multiboot32 enters at entry_addr, long64 at e_entry with paging', () => {
  const m = testMemory(32 * MiB);
  const hdr = multibootHeader({
    kludge: {
      headerAddr: 0x100000,
      loadAddr: 0x100000,
      loadEndAddr: 0,
      bssEndAddr: 0x102000,
      entryAddr: 0x100020,
    },
  });
  const text = concat(hdr, CODE, new Uint8Array(0x40));
  // the ELF file offset of the header must match header_addr - load_addr: put the segment at file offset 0x1000
  const image = buildElf({
    bits: 64,
    entry: 0x100040,
    segments: [{ paddr: 0x100000, data: text, memsz: 0x2000, offset: 0x1000, align: 0x1000 }],
  });
  // with load_end_addr = 0 the kludge loads to the end of the file starting at the header's offset
  const st32 = loadMultiboot(m, { image, entry: 'multiboot32' });
  assert.equal(st32.mode, 'protected32');
  assert.equal(st32.regs.rip, 0x100020n);
  const st64 = loadMultiboot(m, { image, entry: 'long64' });
  assert.equal(st64.mode, 'long64');
  assert.equal(st64.regs.rip, 0x100040n);
  assert.equal(st64.regs.rdi, BigInt(BOOT_INFO_ADDR));
  assert.equal(st64.regs.rbx, BigInt(BOOT_INFO_ADDR));
  assert.equal(st64.regs.rax, BigInt(MULTIBOOT_BOOTLOADER_MAGIC));
  assert.equal(st64.sregs.efer, BootEfer.LME | BootEfer.LMA);
  assert.equal(st64.sregs.cr3, BigInt(PML4_ADDR));
  assert.equal(st64.sregs.cs!.l, true);
  assert.notEqual(m.readU64(PML4_ADDR), 0n, 'page tables written');
  assert.equal(m.readU8(0x101fff), 0, 'bss zeroed (memsz)');
});

test('long64 needs ELF64 and an entry inside the identity map', () => {
  const m = testMemory(16 * MiB);
  assert.throws(() => loadMultiboot(m, { image: elf32Kernel(), entry: 'long64' }), {
    code: 'MULTIBOOT_LONG64_NEEDS_ELF64',
  });
  const text = concat(multibootHeader(), CODE);
  const highEntry = buildElf({
    bits: 64,
    entry: 0xffffffff80100000n,
    segments: [{ paddr: 0x100000, data: text }],
  });
  assert.throws(() => loadMultiboot(m, { image: highEntry, entry: 'long64' }), {
    code: 'MULTIBOOT_BAD_ENTRY',
  });
  assert.throws(() => loadMultiboot(m, { image: highEntry, entry: 'multiboot32' }), {
    code: 'MULTIBOOT_BAD_ENTRY',
  });
  // a plain ELF64 (no kludge) loads for long64 and its page tables must not be overlapped
  const low = buildElf({ bits: 64, entry: 0x14000, segments: [{ paddr: 0x14000, data: text }] });
  assert.throws(() => loadMultiboot(m, { image: low, entry: 'long64' }), {
    code: 'IMAGE_OVERLAPS_BOOT_DATA',
  });
  // …but is fine for multiboot32, which writes no page tables
  assert.equal(loadMultiboot(m, { image: low, entry: 'multiboot32' }).regs.rip, 0x14000n);
});
