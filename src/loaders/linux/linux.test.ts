import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { computeLayout, E820, GiB, MiB } from '../../machine/layout.ts';
import { setField, getNum } from '../layout/struct.ts';
import { testMemory } from '../testing/memory.ts';
import { buildAcpiTables } from '../../platform/acpi/tables.ts';
import { buildMpTable } from '../../platform/mptable.ts';
import { BOOT_PARAMS } from './boot-params.ts';
import { BOOT_FLAG, HDRS_MAGIC, LoadFlags, parseBzImage, SETUP_HEADER, XLoadFlags } from './bzimage.ts';
import {
  applyLinuxBootPlan,
  LINUX_BOOT_CS,
  LINUX_BOOT_DS,
  LINUX_GDT_CODE64,
  LINUX_GDT_DATA,
  planLinuxBoot,
} from './linux.ts';

interface SynthOpts {
  version?: number;
  setupSects?: number;
  kernelBytes?: number;
  loadflags?: number;
  xloadflags?: number;
  relocatable?: boolean;
  align?: number;
  pref?: number;
  initSize?: number;
  cmdlineSize?: number;
  initrdMax?: number;
  jump?: number;
  bootFlag?: number;
}

/** A synthetic bzImage: setup sectors with a header, then a protected-mode "kernel" of marker bytes. */
function synth(o: SynthOpts = {}): Uint8Array {
  const setupSects = o.setupSects ?? 4;
  const kernelBytes = o.kernelBytes ?? 0x3000;
  const b = new Uint8Array((setupSects + 1) * 512 + kernelBytes);
  const dv = new DataView(b.buffer);
  const s = (k: keyof typeof SETUP_HEADER, v: number | bigint): void => setField(dv, 0, SETUP_HEADER, k, v);
  s('setup_sects', setupSects);
  s('syssize', Math.ceil(kernelBytes / 16));
  s('boot_flag', o.bootFlag ?? BOOT_FLAG);
  b[0x200] = 0xeb;
  b[0x201] = o.jump ?? 0x6a;
  s('header', HDRS_MAGIC);
  s('version', o.version ?? 0x020f);
  s('loadflags', o.loadflags ?? LoadFlags.LOADED_HIGH);
  s('initrd_addr_max', o.initrdMax ?? 0x7fffffff);
  s('kernel_alignment', o.align ?? 0x200000);
  s('relocatable_kernel', o.relocatable === false ? 0 : 1);
  s('xloadflags', o.xloadflags ?? XLoadFlags.KERNEL_64 | XLoadFlags.CAN_BE_LOADED_ABOVE_4G);
  s('cmdline_size', o.cmdlineSize ?? 2047);
  s('pref_address', BigInt(o.pref ?? 0x1000000));
  s('init_size', o.initSize ?? 0x100000);
  for (let i = 0; i < kernelBytes; i++) b[(setupSects + 1) * 512 + i] = (i * 7 + 3) & 0xff;
  return b;
}

test('setup header offsets match boot.rst', () => {
  assert.deepEqual(
    [
      SETUP_HEADER.setup_sects,
      SETUP_HEADER.boot_flag,
      SETUP_HEADER.header,
      SETUP_HEADER.version,
      SETUP_HEADER.loadflags,
      SETUP_HEADER.code32_start,
      SETUP_HEADER.ramdisk_image,
      SETUP_HEADER.cmd_line_ptr,
      SETUP_HEADER.initrd_addr_max,
      SETUP_HEADER.kernel_alignment,
      SETUP_HEADER.relocatable_kernel,
      SETUP_HEADER.xloadflags,
      SETUP_HEADER.cmdline_size,
      SETUP_HEADER.pref_address,
      SETUP_HEADER.init_size,
    ].map(([o]) => o),
    [0x1f1, 0x1fe, 0x202, 0x206, 0x211, 0x214, 0x218, 0x228, 0x22c, 0x230, 0x234, 0x236, 0x238, 0x258, 0x260],
  );
  assert.deepEqual(
    [
      BOOT_PARAMS.acpi_rsdp_addr,
      BOOT_PARAMS.ext_ramdisk_image,
      BOOT_PARAMS.ext_ramdisk_size,
      BOOT_PARAMS.ext_cmd_line_ptr,
      BOOT_PARAMS.alt_mem_k,
      BOOT_PARAMS.e820_entries,
      BOOT_PARAMS.sentinel,
      BOOT_PARAMS.hdr,
      BOOT_PARAMS.e820_table,
      BOOT_PARAMS.eddbuf,
    ].map(([o]) => o),
    [0x070, 0x0c0, 0x0c4, 0x0c8, 0x1e0, 0x1e8, 0x1ef, 0x1f1, 0x2d0, 0xd00],
  );
  assert.equal(BOOT_PARAMS.e820_table[0] + 128 * 20, 0xcd0);
});

test('synthetic bzImage: plan places kernel, cmdline, initrd, boot_params, e820, ACPI; entry state per the 64-bit protocol', () => {
  const image = synth();
  const layout = computeLayout(256 * MiB);
  const acpi = buildAcpiTables({ apicIds: [0] });
  const initrd = new Uint8Array(0x5001).fill(0xa5);
  const mptable = buildMpTable({ apicIds: [0] });
  const plan = planLinuxBoot({
    kernel: image,
    initrd,
    cmdline: 'console=ttyS0 quiet',
    layout,
    acpi,
    mptable,
  });
  assert.equal(plan.loadAddress, 0x1000000);
  assert.equal(plan.entry, 0x1000200);
  assert.equal(plan.regs.rip, 0x1000200n);
  assert.equal(plan.regs.rsi, BigInt(plan.bootParamsAddr));
  assert.equal(plan.regs.rflags & 0x200n, 0n, 'interrupts disabled');
  assert.equal(plan.sregs.cs!.selector, LINUX_BOOT_CS);
  assert.equal(plan.sregs.cs!.l, true);
  for (const s of [plan.sregs.ds!, plan.sregs.es!, plan.sregs.ss!]) assert.equal(s.selector, LINUX_BOOT_DS);
  assert.equal(plan.sregs.efer, 0x500n);
  assert.equal(plan.sregs.cr0! & 0x80000001n, 0x80000001n);
  assert.equal(plan.sregs.cr4! & 0x20n, 0x20n);
  // initrd: page-aligned, at the top of low RAM
  assert.deepEqual(plan.initrd, { addr: 256 * MiB - 0x6000, size: 0x5001 });

  const mem = testMemory(256 * MiB);
  applyLinuxBootPlan(mem, plan);
  const bp = new DataView(mem.slice(plan.bootParamsAddr, 4096).slice().buffer);
  const h = (k: keyof typeof SETUP_HEADER): number => getNum(bp, 0, SETUP_HEADER, k);
  assert.equal(h('boot_flag'), 0xaa55, 'header copied into the zero page');
  assert.equal(h('header'), HDRS_MAGIC);
  assert.equal(h('type_of_loader'), 0xff);
  assert.equal(h('code32_start'), 0x1000000);
  assert.equal(h('cmd_line_ptr'), plan.cmdlineAddr);
  assert.equal(h('ramdisk_image'), plan.initrd!.addr);
  assert.equal(h('ramdisk_size'), 0x5001);
  assert.equal(h('loadflags') & LoadFlags.CAN_USE_HEAP, LoadFlags.CAN_USE_HEAP);
  assert.equal(getNum(bp, 0, BOOT_PARAMS, 'acpi_rsdp_addr'), acpi.rsdpAddress);
  assert.equal(bp.getUint8(0x1ef), 0, 'sentinel zero');
  const n = getNum(bp, 0, BOOT_PARAMS, 'e820_entries');
  const e820 = Array.from({ length: n }, (_, i) => [
    Number(bp.getBigUint64(0x2d0 + i * 20, true)),
    Number(bp.getBigUint64(0x2d0 + i * 20 + 8, true)),
    bp.getUint32(0x2d0 + i * 20 + 16, true),
  ]);
  assert.deepEqual(
    e820,
    plan.e820.map((e) => [e.base, e.length, e.type]),
  );
  assert.ok(
    e820.some(([b, l, t]) => b! <= 0xe0000 && b! + l! >= 0xf0000 && t === E820.RESERVED),
    'ACPI region reserved',
  );
  assert.equal(new TextDecoder().decode(mem.read(plan.cmdlineAddr, 20)), 'console=ttyS0 quiet\0');
  assert.deepEqual(mem.read(0x1000000, 16), image.subarray(5 * 512, 5 * 512 + 16));
  assert.equal(mem.readU8(plan.initrd!.addr + 0x5000), 0xa5);
  assert.equal(new TextDecoder().decode(mem.read(acpi.rsdpAddress, 8)), 'RSD PTR ');
  assert.equal(new TextDecoder().decode(mem.read(0x9fc00, 4)), '_MP_');
  // GDT and identity map
  assert.equal(mem.readU64(0x1000 + LINUX_BOOT_CS), LINUX_GDT_CODE64);
  assert.equal(mem.readU64(0x1000 + LINUX_BOOT_DS), LINUX_GDT_DATA);
  const cr3 = Number(plan.sregs.cr3);
  const pdpt = Number(mem.readU64(cr3) & ~0xfffn);
  const pd1 = Number(mem.readU64(pdpt + 8) & ~0xfffn);
  assert.equal(mem.readU64(pd1 + 3 * 8), BigInt(GiB + 3 * 2 * MiB) | 0x83n, 'PDE for 1 GiB + 6 MiB');
});

test('a relocatable kernel moves down when pref_address does not fit; non-relocatable ones must use pref_address', () => {
  const layout = computeLayout(24 * MiB);
  const plan = planLinuxBoot({ kernel: synth({ initSize: 0x900000 }), layout });
  assert.equal(plan.loadAddress, 0x200000);
  assert.throws(() => planLinuxBoot({ kernel: synth({ relocatable: false, initSize: 0x900000 }), layout }), {
    code: 'LINUX_NOT_ENOUGH_MEMORY',
  } as object);
  assert.throws(
    () =>
      planLinuxBoot({
        kernel: synth({ relocatable: false }),
        layout: computeLayout(64 * MiB),
        loadAddress: 0x2000000,
      }),
    { code: 'LINUX_NOT_RELOCATABLE' } as object,
  );
  assert.throws(
    () => planLinuxBoot({ kernel: synth(), layout: computeLayout(64 * MiB), loadAddress: 0x2100000 }),
    { code: 'LINUX_LOAD_ALIGNMENT' } as object,
  );
  assert.equal(
    planLinuxBoot({ kernel: synth(), layout: computeLayout(64 * MiB), loadAddress: 0x2200000 }).entry,
    0x2200200,
  );
});

test('malformed and unsupported images are refused with stable codes', () => {
  const layout = computeLayout(64 * MiB);
  const cases: Array<[string, Uint8Array, string]> = [
    ['tiny file', new Uint8Array(100), 'LINUX_TRUNCATED'],
    ['no boot flag', synth({ bootFlag: 0 }), 'LINUX_NOT_BZIMAGE'],
    [
      'ELF vmlinux',
      (() => {
        const b = synth({ bootFlag: 0 });
        b.set([0x7f, 0x45, 0x4c, 0x46]);
        return b;
      })(),
      'LINUX_NOT_BZIMAGE',
    ],
    ['protocol 2.10', synth({ version: 0x020a }), 'LINUX_PROTOCOL_TOO_OLD'],
    ['zImage', synth({ loadflags: 0 }), 'LINUX_NOT_BZIMAGE'],
    ['32-bit only', synth({ xloadflags: 0 }), 'LINUX_NO_64BIT_ENTRY'],
    ['bad alignment', synth({ align: 0x300000 }), 'LINUX_BAD_HEADER'],
    ['init_size too small', synth({ initSize: 0x100 }), 'LINUX_BAD_HEADER'],
    ['truncated kernel', synth().subarray(0, 5 * 512 + 0x100), 'LINUX_TRUNCATED'],
    ['setup only', synth().subarray(0, 5 * 512), 'LINUX_TRUNCATED'],
    ['header ends before the 2.12 fields', synth({ jump: 0x10 }), 'LINUX_BAD_HEADER'],
  ];
  for (const [name, img, code] of cases) {
    assert.throws(
      () => planLinuxBoot({ kernel: img, layout }),
      (e: unknown) => {
        assert.equal((e as { name: string }).name, 'TsvmmError', name);
        assert.equal((e as { code: string }).code, code, name);
        assert.ok((e as Error).message.length > 20, name);
        return true;
      },
    );
  }
  assert.match(
    (() => {
      try {
        parseBzImage(cases[2]![1]);
      } catch (e) {
        return (e as Error).message;
      }
      return '';
    })(),
    /ELF/,
  );
  assert.throws(() => planLinuxBoot({ kernel: synth(), layout, initrd: new Uint8Array(60 * MiB) }), {
    code: 'LINUX_INITRD_TOO_BIG',
  } as object);
  // initrd_addr_max below the kernel's end leaves no room
  assert.throws(
    () => planLinuxBoot({ kernel: synth({ initrdMax: 0x1000fff }), layout, initrd: new Uint8Array(0x2000) }),
    { code: 'LINUX_INITRD_TOO_BIG' } as object,
  );
  assert.throws(
    () => planLinuxBoot({ kernel: synth({ cmdlineSize: 10 }), layout, cmdline: 'console=ttyS0' }),
    { code: 'LINUX_CMDLINE_TOO_LONG' } as object,
  );
  assert.throws(() => planLinuxBoot({ kernel: synth(), layout, cmdline: 'a\0b' }), {
    code: 'LINUX_CMDLINE_INVALID',
  } as object);
  assert.throws(
    () => planLinuxBoot({ kernel: synth({ initSize: 16 * MiB }), layout: computeLayout(16 * MiB) }),
    { code: 'LINUX_NOT_ENOUGH_MEMORY' } as object,
  );
});

test('initrd respects initrd_addr_max', () => {
  const plan = planLinuxBoot({
    kernel: synth({ initrdMax: 0x2ffffff }),
    layout: computeLayout(256 * MiB),
    initrd: new Uint8Array(0x1800),
  });
  assert.deepEqual(plan.initrd, { addr: 0x3000000 - 0x2000, size: 0x1800 });
});

const kernels = existsSync('/boot')
  ? readdirSync('/boot')
      .filter((f) => f.startsWith('vmlinuz-'))
      .sort()
  : [];
const realKernel = kernels.length ? `/boot/${kernels[kernels.length - 1]}` : undefined;

test(
  'a real Debian kernel parses and plans (protocol ≥ 2.12, 64-bit entry, relocatable)',
  { skip: realKernel ? false : "no /boot/vmlinuz-* (install Debian's linux-image-amd64 to run this)" },
  () => {
    const bytes = new Uint8Array(readFileSync(realKernel!));
    const img = parseBzImage(bytes, realKernel);
    assert.ok(img.version >= 0x020c);
    assert.ok(img.xloadflags & XLoadFlags.KERNEL_64);
    assert.ok(img.relocatable);
    assert.equal(img.kernel.length + img.setupBytes, bytes.length);
    assert.ok(img.initSize > img.kernel.length);
    assert.match(img.kernelVersion ?? '', /^\d+\.\d+/);
    const layout = computeLayout(512 * MiB);
    const plan = planLinuxBoot({
      kernel: bytes,
      layout,
      initrd: new Uint8Array(4096),
      cmdline: 'console=ttyS0',
      acpi: buildAcpiTables({ apicIds: [0, 1] }),
    });
    assert.equal(plan.loadAddress, img.prefAddress);
    assert.equal(plan.entry, img.prefAddress + 0x200);
    assert.ok(plan.initrd!.addr >= plan.loadAddress + img.initSize);
    const mem = testMemory(512 * MiB);
    applyLinuxBootPlan(mem, plan);
    assert.deepEqual(mem.read(plan.loadAddress, 64), bytes.subarray(img.setupBytes, img.setupBytes + 64));
    assert.equal(mem.readU16(plan.bootParamsAddr + 0x206), img.version);
    // RIP lands on arch/x86/boot/compressed/head_64.S startup_64, which opens with CLD; CLI.
    assert.deepEqual([...mem.read(plan.entry, 2)], [0xfc, 0xfa]);
  },
);
