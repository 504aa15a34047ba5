// Walks in every paging mode (SDM 3A §4.3-4.5): page sizes, physical addresses, the recorded levels,
// not-present faults at each level, CR2, and the A/D updates of SDM 3A §4.8 (none on a fault).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate } from './translate.ts';
import { ACC_FETCH, ACC_USER, ACC_WRITE, PFEC, pagingState, type PagingState, type TranslateResult } from './types.ts';
import { A, D, G, P, PS, PageTableBuilder, RW, TestMem, US, modeRegs, split, type BuilderMode } from './test-pagetables.ts';

function setup(mode: BuilderMode, extra: Partial<PagingState> = {}): { mem: TestMem; pt: PageTableBuilder; st: () => PagingState } {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, mode);
  const regs = modeRegs(mode);
  const st = (): PagingState =>
    pagingState({ ...regs, cr3Lo: pt.root, maxPhyAddr: 40, ...extra, cr4: regs.cr4 | (extra.cr4 ?? 0), efer: regs.efer | (extra.efer ?? 0) });
  return { mem, pt, st };
}

function tr(st: PagingState, mem: TestMem, la: bigint, access = 0): TranslateResult {
  const [lo, hi] = split(la);
  return translate(st, mem, lo, hi, access);
}

function okPhys(r: TranslateResult): number {
  if (!r.ok) assert.fail(`expected success, got ${r.reason}`);
  return r.physical;
}

test('paging off: linear = physical, no walk', () => {
  const mem = new TestMem();
  const r = translate(pagingState({}), mem, 0x12345678, 0, ACC_WRITE);
  assert.equal(okPhys(r), 0x12345678);
  assert.equal(mem.reads, 0);
});

const cases: { mode: BuilderMode; la: bigint; pa: bigint; size: 12 | 21 | 22 | 30; levels: string[]; cr4?: number }[] = [
  { mode: '32bit', la: 0x0804_8123n, pa: 0x0030_0000n, size: 12, levels: ['PDE', 'PTE'] },
  { mode: '32bit', la: 0x8040_1234n, pa: 0x0040_0000n, size: 22, levels: ['PDE'], cr4: 1 << 4 },
  { mode: '32bit', la: 0x8040_1234n, pa: 0xa_0040_0000n, size: 22, levels: ['PDE'], cr4: 1 << 4 }, // PSE-36: PA above 4 GiB
  { mode: 'pae', la: 0xc012_3456n, pa: 0x0020_0000n, size: 12, levels: ['PDPTE', 'PDE', 'PTE'] },
  { mode: 'pae', la: 0xc020_0000n + 0x1234n, pa: 0x8_0020_0000n, size: 21, levels: ['PDPTE', 'PDE'] },
  { mode: '4level', la: 0x0000_7f12_3456_7abcn, pa: 0x0030_0000n, size: 12, levels: ['PML4E', 'PDPTE', 'PDE', 'PTE'] },
  { mode: '4level', la: 0xffff_8880_0020_1234n, pa: 0x12_3440_0000n, size: 21, levels: ['PML4E', 'PDPTE', 'PDE'] },
  { mode: '4level', la: 0xffff_8881_4000_1234n, pa: 0x40_c000_0000n, size: 30, levels: ['PML4E', 'PDPTE'] },
  { mode: '5level', la: 0x00ff_7f12_3456_7abcn, pa: 0x0030_0000n, size: 12, levels: ['PML5E', 'PML4E', 'PDPTE', 'PDE', 'PTE'] },
  { mode: '5level', la: 0xff12_3456_4000_0010n, pa: 0x80_4000_0000n, size: 30, levels: ['PML5E', 'PML4E', 'PDPTE'] },
];

for (const c of cases) {
  test(`${c.mode} walk, ${2 ** c.size / 1024} KiB page at ${c.la.toString(16)}`, () => {
    const { mem, pt, st } = setup(c.mode, { cr4: c.cr4 ?? 0 });
    pt.map(c.la, c.pa, { size: c.size });
    const r = tr(st(), mem, c.la);
    const off = c.la & ((1n << BigInt(c.size)) - 1n);
    assert.equal(okPhys(r), Number(c.pa + off));
    assert.ok(r.ok);
    assert.equal(r.pageSize, 2 ** c.size);
    assert.deepEqual(
      r.levels.map((l) => l.name),
      c.levels,
    );
    assert.ok(r.levels[r.levels.length - 1]!.leaf);
    assert.equal(r.mode, c.mode);
  });
}

test('32-bit: PS in a PDE is ignored without CR4.PSE (the PDE points to a page table)', () => {
  const { mem, pt, st } = setup('32bit');
  pt.map(0x0040_1000n, 0x0050_0000n);
  pt.modify(0x0040_1000n, 2, PS);
  const r = tr(st(), mem, 0x0040_1abcn);
  assert.equal(okPhys(r), 0x0050_0abc);
  assert.ok(r.ok && r.pageSize === 4096);
});

for (const mode of ['32bit', 'pae', '4level', '5level'] as BuilderMode[]) {
  test(`${mode}: not-present at every level → #PF with P=0, W/U per the access, CR2 = the address`, () => {
    const la = mode === '5level' ? 0x00ab_cdef_1234_5000n : mode === '4level' ? 0x0000_7abc_1234_5000n : 0x4123_4000n;
    const { mem, pt, st } = setup(mode);
    pt.map(la, 0x20_0000n);
    for (let level = pt.topLevel; level >= 1; level--) {
      const saved = pt.getEntry(la, level);
      pt.setEntry(la, level, saved & ~P);
      const s = mode === 'pae' && level === 3 ? { ...st(), pdptes: pt.pdptes() } : st();
      const r = tr(s, mem, la + 0x10n, ACC_WRITE | ACC_USER);
      assert.ok(!r.ok, `level ${level}`);
      assert.equal(r.vector, 14);
      assert.equal(r.errorCode, PFEC.W | PFEC.U, `level ${level}`);
      const [lo, hi] = split(la + 0x10n);
      assert.equal(r.cr2Lo, lo >>> 0);
      assert.equal(r.cr2Hi, mode === '4level' || mode === '5level' ? hi >>> 0 : 0);
      assert.match(r.reason, /not present/);
      pt.setEntry(la, level, saved);
    }
  });
}

for (const mode of ['32bit', 'pae', '4level', '5level'] as BuilderMode[]) {
  test(`${mode}: A on every level traversed, D only on the leaf and only for writes`, () => {
    const la = mode === '5level' ? 0x0012_3456_789a_b000n : mode === '4level' ? 0x0000_1234_5678_9000n : 0x1234_5000n;
    const { mem, pt, st } = setup(mode);
    pt.map(la, 0x30_0000n);
    const levels = [...Array(pt.topLevel).keys()].map((i) => pt.topLevel - i);
    const flags = (): bigint[] => levels.map((l) => pt.getEntry(la, l) & (A | D));
    assert.deepEqual(flags(), levels.map(() => 0n));
    const r = tr(st(), mem, la, 0);
    assert.ok(r.ok);
    // PAE PDPTEs are registers loaded from memory: the walk never writes them
    assert.deepEqual(
      flags(),
      levels.map((l) => (mode === 'pae' && l === 3 ? 0n : A)),
    );
    assert.deepEqual(r.adUpdates, levels.filter((l) => !(mode === 'pae' && l === 3)).map((l) => `${['', 'PTE', 'PDE', 'PDPTE', 'PML4E', 'PML5E'][l]}.A`));
    const w = tr(st(), mem, la, ACC_WRITE);
    assert.ok(w.ok);
    assert.deepEqual(w.adUpdates, ['PTE.D']);
    assert.equal(pt.getEntry(la, 1) & (A | D), A | D);
    for (const l of levels.slice(0, -1)) assert.equal(pt.getEntry(la, l) & D, 0n, `no D on level ${l}`);
  });
}

test('A/D: a large-page leaf gets D; nothing is written when the access faults', () => {
  const { mem, pt, st } = setup('4level');
  const la = 0x0000_0040_0020_0000n;
  pt.map(la, 0x4000_0000n, { size: 21, leaf: P | US }); // read-only 2 MiB page
  const before = mem.writes;
  const r = tr(st(), mem, la, ACC_WRITE | ACC_USER);
  assert.ok(!r.ok);
  assert.equal(r.errorCode, PFEC.P | PFEC.W | PFEC.U);
  assert.equal(mem.writes, before, 'no A/D write on a fault');
  assert.equal(pt.getEntry(la, 2) & (A | D), 0n);
  assert.equal(pt.getEntry(la, 4) & A, 0n);
  pt.modify(la, 2, RW);
  assert.ok(tr(st(), mem, la + 5n, ACC_WRITE).ok);
  assert.equal(pt.getEntry(la, 2) & (A | D), A | D);
});

test('effective rights are reported: U/S and R/W ANDed, XD ORed, global from the leaf with CR4.PGE', () => {
  const { mem, pt, st } = setup('4level', { efer: 0x800, cr4: 1 << 7 });
  const la = 0x0000_0011_2233_4000n;
  pt.map(la, 0x50_0000n, { leaf: P | RW | US | G, at: { 3: P | US | (1n << 63n) } });
  const r = tr(st(), mem, la, 0);
  assert.ok(r.ok);
  assert.deepEqual(
    { u: r.rights.user, w: r.rights.writable, xd: r.rights.executeDisable, g: r.rights.global },
    { u: true, w: false, xd: true, g: true },
  );
  assert.deepEqual(
    r.levels.map((l) => [l.name, l.writable, l.executeDisable]),
    [
      ['PML4E', true, false],
      ['PDPTE', false, true],
      ['PDE', false, true],
      ['PTE', false, true],
    ],
  );
  const f = tr(st(), mem, la, ACC_FETCH);
  assert.ok(!f.ok && f.errorCode === (PFEC.P | PFEC.ID));
});

test('5-level: the PML5 index comes from bits 56:48', () => {
  const { mem, pt, st } = setup('5level');
  pt.map(0x0001_0000_0000_0000n, 0x10_0000n);
  pt.map(0x0002_0000_0000_0000n, 0x20_0000n);
  assert.equal(okPhys(tr(st(), mem, 0x0001_0000_0000_0008n)), 0x10_0008);
  assert.equal(okPhys(tr(st(), mem, 0x0002_0000_0000_0008n)), 0x20_0008);
  assert.notEqual(pt.entryAddress(0x0001_0000_0000_0000n, 5), pt.entryAddress(0x0002_0000_0000_0000n, 5));
});
