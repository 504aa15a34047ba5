import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BOOT_GDT_ENTRIES,
  BOOT_TSS_ADDR,
  BootCr0,
  BootCr4,
  BootEfer,
  GDT_SELECTOR,
  longMode64Sregs,
  mappedGib,
  PD_BASE_ADDR,
  PDPT_ADDR,
  PML4_ADDR,
  protectedMode32Sregs,
  realMode16Sregs,
  tssDescriptor,
  writeBootGdt,
  writeIdentityPageTables,
} from './boot-state.ts';
import { BOOT_GDT_ADDR, GiB, MiB } from '../../machine/layout.ts';
import { testMemory } from '../testing/memory.ts';

/** Decode an 8-byte code/data descriptor (SDM Vol. 3A Figure 3-8). */
function decode(d: bigint): {
  base: number;
  limit: number;
  type: number;
  s: number;
  dpl: number;
  p: number;
  l: number;
  db: number;
  g: number;
} {
  const n = (lo: number, w: number) => Number((d >> BigInt(lo)) & ((1n << BigInt(w)) - 1n));
  return {
    limit: n(0, 16) | (n(48, 4) << 16),
    base: n(16, 24) | (n(56, 8) << 24),
    type: n(40, 4),
    s: n(44, 1),
    dpl: n(45, 2),
    p: n(47, 1),
    l: n(53, 1),
    db: n(54, 1),
    g: n(55, 1),
  };
}

test('boot GDT descriptors: 64-bit code, flat data, 32-bit code, busy TSS', () => {
  const code64 = decode(BOOT_GDT_ENTRIES[GDT_SELECTOR.CODE64 / 8]!);
  assert.deepEqual(code64, { base: 0, limit: 0xfffff, type: 0xa, s: 1, dpl: 0, p: 1, l: 1, db: 0, g: 1 });
  const data = decode(BOOT_GDT_ENTRIES[GDT_SELECTOR.DATA / 8]!);
  assert.deepEqual(data, { base: 0, limit: 0xfffff, type: 0x2, s: 1, dpl: 0, p: 1, l: 0, db: 1, g: 1 });
  const code32 = decode(BOOT_GDT_ENTRIES[GDT_SELECTOR.CODE32 / 8]!);
  assert.deepEqual(code32, { base: 0, limit: 0xfffff, type: 0xa, s: 1, dpl: 0, p: 1, l: 0, db: 1, g: 1 });
  const [lo, hi] = tssDescriptor(0x12345678, 0x67);
  const t = decode(lo);
  assert.equal(t.base, 0x12345678);
  assert.equal(t.limit, 0x67);
  assert.equal(t.type, 0xb);
  assert.equal(t.s, 0);
  assert.equal(t.p, 1);
  assert.equal(hi, 0n);

  const m = testMemory(4 * MiB, 0xcc);
  writeBootGdt(m);
  assert.equal(m.readU64(BOOT_GDT_ADDR), 0n);
  assert.equal(m.readU64(BOOT_GDT_ADDR + GDT_SELECTOR.CODE64), BOOT_GDT_ENTRIES[1]);
  assert.equal(decode(m.readU64(BOOT_GDT_ADDR + GDT_SELECTOR.TSS)).base, BOOT_TSS_ADDR);
  assert.equal(m.readU32(BOOT_TSS_ADDR + 4), 0, 'TSS zeroed');
});

test('identity page tables map every 2 MiB page of the first 4 GiB (and RAM above)', () => {
  const m = testMemory(64 * MiB);
  const pt = writeIdentityPageTables(m);
  assert.equal(pt.cr3, PML4_ADDR);
  assert.equal(pt.mappedBytes, 4 * GiB);
  assert.equal(m.readU64(PML4_ADDR), BigInt(PDPT_ADDR) | 3n);
  assert.equal(m.readU64(PML4_ADDR + 8), 0n);
  for (let g = 0; g < 4; g++)
    assert.equal(m.readU64(PDPT_ADDR + g * 8), BigInt(PD_BASE_ADDR + g * 0x1000) | 3n);
  assert.equal(m.readU64(PDPT_ADDR + 4 * 8), 0n);
  // translate a few addresses by walking the tables as the CPU would
  for (const va of [0, 0x1234, 0x200000 + 5, 0x3fe00000, 0xfee00000, 0xffffffff]) {
    const pdpte = m.readU64(PDPT_ADDR + Math.floor(va / GiB) * 8);
    const pde = m.readU64(Number(pdpte & ~0xfffn) + (Math.floor(va / (2 * MiB)) % 512) * 8);
    assert.equal(pde & 0x83n, 0x83n, 'present, writable, 2 MiB page');
    assert.equal(Number(pde & ~0x1fffffn) + (va % (2 * MiB)), va);
  }
  assert.equal(mappedGib(6 * GiB + 1), 7);
});

test('long64 sregs satisfy KVM_SET_SREGS long-mode rules', () => {
  const s = longMode64Sregs(PML4_ADDR);
  // the architectural values, spelled out (SDM Vol. 3A §2.5: PE=0, ET=4, NE=5, PG=31; CR4.PAE=5; EFER LME=8, LMA=10)
  assert.equal(s.cr0, 0x8000_0031n);
  assert.equal(s.cr4, 0x20n);
  assert.equal(s.efer, 0x500n);
  assert.equal(s.cr0! & (BootCr0.PE | BootCr0.PG), BootCr0.PE | BootCr0.PG);
  assert.equal(s.cr4! & BootCr4.PAE, BootCr4.PAE);
  assert.equal(s.efer, BootEfer.LME | BootEfer.LMA);
  assert.equal(s.cr3, BigInt(PML4_ADDR));
  assert.equal(s.cs!.l, true);
  assert.equal(s.cs!.db, false, 'L=1 requires D=0');
  assert.equal(s.cs!.selector, GDT_SELECTOR.CODE64);
  assert.equal(s.ss!.selector, GDT_SELECTOR.DATA);
  assert.equal(s.tr!.type, 0xb);
  assert.equal(s.gdt!.base, BigInt(BOOT_GDT_ADDR));
});

test('protected32 sregs: PE without paging, 32-bit flat CS; real16 sregs: segment = address >> 4', () => {
  const s = protectedMode32Sregs();
  assert.equal(s.cr0, 0x31n);
  assert.equal(s.cr0! & BootCr0.PE, BootCr0.PE);
  assert.equal(s.cr0! & BootCr0.PG, 0n);
  assert.equal(s.efer, 0n);
  assert.equal(s.cs!.db, true);
  assert.equal(s.cs!.l, false);
  assert.equal(s.cs!.limit, 0xffffffff);
  const r = realMode16Sregs(0x7c00);
  assert.equal(r.cs!.selector, 0x7c0);
  assert.equal(r.cs!.base, 0x7c00n);
  assert.equal(r.cr0! & BootCr0.PE, 0n);
  assert.throws(() => realMode16Sregs(0x7c01), { code: 'FLAT_UNALIGNED' });
});
