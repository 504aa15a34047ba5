// TLB behaviour through the Mmu (SDM 3A §4.10.2-4.10.4; spec §1.4, §2, §8.5): stale translations are
// used until invalidated, as hardware allows; INVLPG, MOV CR3 (with and without NOFLUSH), INVPCID
// types 0-3, global pages, CR4.PGE/PCIDE toggles, large pages cached per 4 KiB, per-access-kind
// caching (a read fill never lets a write skip the D update), and the has-code hook.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Mmu } from './mmu.ts';
import { ACC_READ, ACC_USER, ACC_WRITE } from './types.ts';
import { A, D, G, P, PageTableBuilder, RW, TestMem, US, modeRegs, split } from './test-pagetables.ts';
import { CpuFault } from '../arch/x86/exceptions.ts';

const PGE = 1 << 7;
const PCIDE = 1 << 17;
const X = 0x0000_0010_0000_0000n;
const Y = 0x0000_0010_0020_0000n;

function setup(cr4 = 0): { mem: TestMem; pt: PageTableBuilder; mmu: Mmu } {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  pt.map(X, 0x20_0000n);
  pt.map(Y, 0x30_0000n, { leaf: P | RW | US | G });
  const r = modeRegs('4level');
  const mmu = new Mmu(mem, { ...r, cr4: r.cr4 | cr4, cr3Lo: pt.root });
  return { mem, pt, mmu };
}

function tr(mmu: Mmu, la: bigint, access = ACC_READ): number {
  const [lo, hi] = split(la);
  return mmu.translate(lo, hi, access);
}

/** Point X and Y at new frames in memory, without telling the TLB. */
function remap(pt: PageTableBuilder): void {
  pt.map(X, 0x60_0000n);
  pt.map(Y, 0x70_0000n, { leaf: P | RW | US | G });
}

test('a PTE change without invalidation may keep using the old translation; INVLPG makes it fresh', () => {
  const { pt, mmu } = setup();
  assert.equal(tr(mmu, X + 4n), 0x20_0004);
  const misses = mmu.misses;
  remap(pt);
  assert.equal(tr(mmu, X + 4n), 0x20_0004, 'stale (hardware allows this)');
  assert.equal(mmu.misses, misses, 'served by the TLB');
  const [lo, hi] = split(X);
  mmu.invlpg(lo + 0x123, hi);
  assert.equal(tr(mmu, X + 4n), 0x60_0004);
  // a not-present PTE after a cached translation: still served until INVLPG, then #PF
  pt.setEntry(X, 1, 0n);
  assert.equal(tr(mmu, X), 0x60_0000);
  mmu.invlpg(lo, hi);
  assert.throws(
    () => tr(mmu, X),
    (e: unknown) => e instanceof CpuFault && e.vector === 14 && e.errorCode === 0,
  );
});

test('MOV CR3 without PCIDE drops non-global entries; global ones survive with CR4.PGE=1', () => {
  const { pt, mmu } = setup(PGE);
  assert.equal(tr(mmu, X), 0x20_0000);
  assert.equal(tr(mmu, Y), 0x30_0000);
  remap(pt);
  assert.ok(mmu.movCr3(pt.root, 0));
  assert.equal(tr(mmu, X), 0x60_0000, 'non-global: re-walked');
  assert.equal(tr(mmu, Y), 0x30_0000, 'global: still cached');
  // toggling CR4.PGE flushes everything, global entries included
  const r = modeRegs('4level');
  assert.ok(mmu.movCr4(r.cr4));
  assert.ok(mmu.movCr4(r.cr4 | PGE));
  assert.equal(tr(mmu, Y), 0x70_0000);
});

test('without CR4.PGE the G bit is ignored: MOV CR3 drops the entry', () => {
  const { pt, mmu } = setup(0);
  assert.equal(tr(mmu, Y), 0x30_0000);
  remap(pt);
  assert.ok(mmu.movCr3(pt.root, 0));
  assert.equal(tr(mmu, Y), 0x70_0000);
});

test('INVLPG also drops the global entry for the page', () => {
  const { pt, mmu } = setup(PGE);
  assert.equal(tr(mmu, Y), 0x30_0000);
  remap(pt);
  const [lo, hi] = split(Y);
  mmu.invlpg(lo, hi);
  assert.equal(tr(mmu, Y), 0x70_0000);
});

test('PCID: MOV CR3 with NOFLUSH keeps the new PCID\'s entries, without it drops them; PCIDE 1→0 flushes all', () => {
  const { pt, mmu } = setup(PGE | PCIDE);
  assert.ok(mmu.movCr3(pt.root | 1, 0));
  assert.equal(tr(mmu, X), 0x20_0000); // cached under PCID 1
  remap(pt);
  assert.ok(mmu.movCr3(pt.root | 2, 0x8000_0000 | 0)); // PCID 2, NOFLUSH
  assert.equal(tr(mmu, X), 0x60_0000, 'PCID 2 cannot use PCID 1\'s entry');
  pt.map(X, 0x20_0000n);
  assert.ok(mmu.movCr3(pt.root | 2, 0x8000_0000 | 0));
  assert.equal(tr(mmu, X), 0x60_0000, 'NOFLUSH to the same PCID: stale entry kept');
  assert.ok(mmu.movCr3(pt.root | 2, 0));
  assert.equal(tr(mmu, X), 0x20_0000, 'without NOFLUSH: PCID 2 flushed');
  // Y is global: shared by every PCID, survives CR3 loads, dropped by PCIDE 1→0
  pt.map(Y, 0x30_0000n, { leaf: P | RW | US | G });
  assert.equal(tr(mmu, Y), 0x30_0000);
  remap(pt);
  assert.ok(mmu.movCr3(pt.root | 3, 0));
  assert.equal(tr(mmu, Y), 0x30_0000, 'global entry visible under PCID 3');
  assert.ok(mmu.movCr3(pt.root, 0));
  const r = modeRegs('4level');
  assert.ok(mmu.movCr4(r.cr4 | PGE));
  assert.equal(tr(mmu, Y), 0x70_0000);
});

test('PCID: entries of a PCID survive a switch away and back with NOFLUSH', () => {
  const { pt, mmu } = setup(PCIDE);
  const Z = 0x0000_0010_0040_0000n;
  pt.map(Z, 0x40_0000n);
  assert.ok(mmu.movCr3(pt.root | 5, 0));
  assert.equal(tr(mmu, Z), 0x40_0000);
  pt.map(Z, 0x50_0000n);
  assert.ok(mmu.movCr3(pt.root | 6, 0));
  assert.equal(tr(mmu, X), 0x20_0000); // PCID 6 works on another slot
  assert.ok(mmu.movCr3(pt.root | 5, 0x8000_0000 | 0));
  assert.equal(tr(mmu, Z), 0x40_0000, 'PCID 5\'s stale entry is still there');
  assert.ok(mmu.movCr3(pt.root | 5, 0));
  assert.equal(tr(mmu, Z), 0x50_0000);
});

test('INVPCID types 0-3 and their #GP conditions', () => {
  const { pt, mmu } = setup(PGE | PCIDE);
  const [xlo, xhi] = split(X);
  const [ylo, yhi] = split(Y);
  const fill = (): void => {
    pt.map(X, 0x20_0000n);
    pt.map(Y, 0x30_0000n, { leaf: P | RW | US | G });
    mmu.flush('all');
    assert.equal(tr(mmu, X), 0x20_0000);
    assert.equal(tr(mmu, Y), 0x30_0000);
    remap(pt);
  };
  assert.ok(mmu.movCr3(pt.root | 7, 0));
  // type 0: one address, one PCID, non-global only
  fill();
  assert.ok(mmu.invpcid(0, 7, xlo, xhi));
  assert.ok(mmu.invpcid(0, 7, ylo, yhi));
  assert.equal(tr(mmu, X), 0x60_0000);
  assert.equal(tr(mmu, Y), 0x30_0000, 'type 0 leaves global translations');
  fill();
  assert.ok(mmu.invpcid(0, 8, xlo, xhi));
  assert.equal(tr(mmu, X), 0x20_0000, 'type 0 for another PCID leaves the current one');
  // type 1: a whole PCID, non-global
  fill();
  assert.ok(mmu.invpcid(1, 7, 0, 0));
  assert.equal(tr(mmu, X), 0x60_0000);
  assert.equal(tr(mmu, Y), 0x30_0000);
  fill();
  assert.ok(mmu.invpcid(1, 9, 0, 0));
  assert.equal(tr(mmu, X), 0x20_0000);
  // type 2: everything, global included
  fill();
  assert.ok(mmu.invpcid(2, 0, 0, 0));
  assert.equal(tr(mmu, X), 0x60_0000);
  assert.equal(tr(mmu, Y), 0x70_0000);
  // type 3: every PCID, non-global
  fill();
  assert.ok(mmu.invpcid(3, 0, 0, 0));
  assert.equal(tr(mmu, X), 0x60_0000);
  assert.equal(tr(mmu, Y), 0x30_0000);
  // #GP: bad type, non-canonical type-0 address, PCID out of range
  assert.equal(mmu.invpcid(4, 0, 0, 0), false);
  assert.equal(mmu.invpcid(0, 7, 0, 0x0000_8000), false);
  assert.equal(mmu.invpcid(1, 4096, 0, 0), false);
  assert.equal(mmu.invpcid(2, 0x1000, 0, 0), false, 'descriptor bits 63:12 are checked for every type');
});

test('INVPCID with CR4.PCIDE=0: PCID must be 0 for types 0 and 1', () => {
  const { mmu } = setup(0);
  assert.equal(mmu.invpcid(1, 1, 0, 0), false);
  assert.equal(mmu.invpcid(0, 3, 0, 0), false);
  assert.equal(mmu.invpcid(1, 0, 0, 0), true);
  assert.equal(mmu.invpcid(2, 5, 0, 0), true, 'types 2/3 ignore the PCID field');
});

test('large pages are cached per 4 KiB; INVLPG anywhere in the page drops all of them', () => {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  const L = 0x0000_0020_0020_0000n;
  pt.map(L, 0x40_0000n, { size: 21 });
  const mmu = new Mmu(mem, { ...modeRegs('4level'), cr3Lo: pt.root });
  assert.equal(tr(mmu, L + 0x1000n), 0x40_1000);
  assert.equal(tr(mmu, L + 0x1f_f000n), 0x5f_f000);
  assert.ok(mmu.tlbHas(...split(L + 0x1000n)) && mmu.tlbHas(...split(L + 0x1f_f000n)));
  pt.map(L, 0x80_0000n, { size: 21 });
  assert.equal(tr(mmu, L + 0x1f_f000n), 0x5f_f000, 'stale');
  const [lo, hi] = split(L + 0x8_0000n);
  mmu.invlpg(lo, hi);
  assert.equal(mmu.tlbHas(...split(L + 0x1000n)), false);
  assert.equal(tr(mmu, L + 0x1000n), 0x80_1000);
  assert.equal(tr(mmu, L + 0x1f_f000n), 0x9f_f000);
});

test('a read fill does not let a write skip the dirty update or the R/W check', () => {
  const { mem, pt, mmu } = setup();
  assert.equal(tr(mmu, X), 0x20_0000);
  assert.equal(pt.getEntry(X, 1) & (A | D), A);
  const writes = mem.writes;
  assert.equal(tr(mmu, X, ACC_WRITE), 0x20_0000);
  assert.equal(pt.getEntry(X, 1) & (A | D), A | D, 'the write walked and set D');
  assert.ok(mem.writes > writes);
  const w2 = mem.writes;
  assert.equal(tr(mmu, X + 8n, ACC_WRITE), 0x20_0008);
  assert.equal(mem.writes, w2, 'now cached as writable and dirty');
  // read-only page, read cached, then a user write faults (P=1, W, U)
  const R = 0x0000_0010_0060_0000n;
  pt.map(R, 0x50_0000n, { leaf: P | US });
  assert.equal(tr(mmu, R, ACC_USER), 0x50_0000);
  assert.throws(
    () => tr(mmu, R, ACC_WRITE | ACC_USER),
    (e: unknown) => e instanceof CpuFault && e.errorCode === 7,
  );
});

test('CR0.WP and CR0.PG changes take effect on cached entries', () => {
  const { pt, mmu } = setup();
  const R = 0x0000_0010_0060_0000n;
  pt.map(R, 0x50_0000n, { leaf: P }); // supervisor read-only
  pt.modify(R, 1, D);
  const r = modeRegs('4level');
  assert.equal(tr(mmu, R, ACC_WRITE), 0x50_0000, 'WP=0: supervisor writes ignore R/W');
  assert.ok(mmu.movCr0(r.cr0 | 0x10000));
  assert.throws(
    () => tr(mmu, R, ACC_WRITE),
    (e: unknown) => e instanceof CpuFault && e.errorCode === 3,
  );
  // paging off: linear = physical; on again: walks (the TLB was flushed by PG 1→0)
  pt.map(X, 0x90_0000n);
  assert.ok(mmu.movCr0(0x11, 0));
  assert.equal(tr(mmu, X + 0x10n), 0x10);
  assert.ok(mmu.movCr0(r.cr0, r.efer));
  assert.equal(tr(mmu, X), 0x90_0000);
});

test('the TLB hit path is used (hits counted) and the entries are per current context', () => {
  const { mmu } = setup();
  const h = mmu.hits;
  for (let i = 0; i < 100; i++) tr(mmu, X + BigInt(i * 8));
  assert.equal(mmu.hits - h, 99);
  assert.ok(mmu.tlb.liveCount() >= 1);
  mmu.flush('all');
  assert.equal(mmu.tlb.liveCount(), 0);
});

test('has-code pages: writes take the slow path and call onCodeWrite; reads stay cached', () => {
  const { mmu } = setup();
  const seen: number[] = [];
  mmu.onCodeWrite = (pfn) => {
    seen.push(pfn);
    mmu.clearCodePage(pfn);
  };
  assert.equal(tr(mmu, X, ACC_WRITE), 0x20_0000); // cached writable
  mmu.noteCodePage(0x20_0000 / 4096);
  assert.ok(mmu.tlbHasCode(...split(X)));
  const h = mmu.hits;
  assert.equal(tr(mmu, X + 4n), 0x20_0004);
  assert.equal(mmu.hits, h + 1, 'reads still hit');
  assert.equal(tr(mmu, X + 4n, ACC_WRITE), 0x20_0004);
  assert.deepEqual(seen, [0x200]);
  assert.equal(tr(mmu, X + 8n, ACC_WRITE), 0x20_0008);
  assert.deepEqual(seen, [0x200], 'the hook dropped the code: writes are fast again');
});

test('a page fault drops the TLB entry for the faulting address (SDM 3A §4.10.4.1)', () => {
  const { pt, mmu } = setup();
  assert.equal(tr(mmu, X), 0x20_0000); // cached for reads (D=0: writes not cached)
  pt.setEntry(X, 1, 0n); // not present, no INVLPG
  assert.equal(tr(mmu, X), 0x20_0000, 'stale read still served');
  assert.throws(
    () => tr(mmu, X, ACC_WRITE),
    (e: unknown) => e instanceof CpuFault && e.vector === 14 && e.errorCode === 2,
  );
  assert.throws(
    () => tr(mmu, X),
    (e: unknown) => e instanceof CpuFault && e.vector === 14 && e.errorCode === 0,
    'after the #PF the stale entry is gone',
  );
});

test('stamp exhaustion restarts the TLB cleanly (entries dropped once, then normal operation)', () => {
  const { pt, mmu } = setup(PGE);
  assert.equal(tr(mmu, X), 0x20_0000);
  assert.equal(tr(mmu, Y), 0x30_0000);
  (mmu.tlb as unknown as { next: number }).next = 0x7ffffff0;
  remap(pt);
  assert.ok(mmu.movCr3(pt.root, 0));
  assert.equal(tr(mmu, X), 0x60_0000);
  assert.equal(tr(mmu, Y), 0x70_0000, 'the restart dropped the global entry too (allowed)');
  assert.equal(tr(mmu, Y), 0x70_0000);
  assert.ok(mmu.tlb.curCtx > 0 && mmu.tlb.curCtx < 10);
  pt.map(X, 0x20_0000n);
  assert.equal(tr(mmu, X), 0x60_0000, 'stale again after the restart: the TLB works');
});

test('EFER.NXE and direct field edits (onCr0Cr4EferChange) rebuild the rules for cached pages', () => {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  pt.map(X, 0x20_0000n, { leaf: P | RW | US | (1n << 63n) }); // XD set
  const r = modeRegs('4level');
  const mmu = new Mmu(mem, { ...r, efer: r.efer | 0x800, cr3Lo: pt.root });
  assert.throws(
    () => tr(mmu, X, 4),
    (e: unknown) => e instanceof CpuFault && e.errorCode === 0x11,
  );
  assert.equal(tr(mmu, X), 0x20_0000);
  mmu.writeEfer(r.efer); // NXE=0: bit 63 becomes reserved
  assert.throws(
    () => tr(mmu, X),
    (e: unknown) => e instanceof CpuFault && e.errorCode === 0x9,
  );
  mmu.efer = r.efer | 0x800;
  mmu.onCr0Cr4EferChange();
  assert.equal(tr(mmu, X), 0x20_0000);
  mmu.cr4 = r.cr4 | (1 << 21); // SMAP on, AC=0: the cached user page is no longer readable by the kernel
  mmu.onCr0Cr4EferChange();
  assert.throws(
    () => tr(mmu, X),
    (e: unknown) => e instanceof CpuFault && e.errorCode === 1,
  );
});

test('INVLPG with many large pages cached: the tracked list and its overflow both drop the right entries', () => {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  const base = 0x0000_0020_0000_0000n;
  // 80 large pages: more than the tracked list holds (64), so the last INVLPGs take the scanning path;
  // probe 4-KiB page i + 3 of large page i (distinct TLB slots)
  const probe = (i: bigint): bigint => base + (i << 21n) + ((i + 3n) << 12n);
  for (let i = 0n; i < 80n; i++) pt.map(base + (i << 21n), 0x100_0000n + (i << 21n), { size: 21 });
  const mmu = new Mmu(mem, { ...modeRegs('4level'), cr3Lo: pt.root });
  for (let i = 0n; i < 80n; i++) assert.equal(tr(mmu, probe(i)), 0x100_0000 + Number((i << 21n) + ((i + 3n) << 12n)));
  // INVLPG of an address in no large page: the large entries stay
  pt.map(X, 0x20_0000n);
  assert.equal(tr(mmu, X), 0x20_0000);
  mmu.invlpg(...split(X));
  assert.equal(mmu.tlbHas(...split(X)), false);
  for (const i of [0n, 5n, 63n, 70n, 79n]) {
    assert.ok(mmu.tlbHas(...split(probe(i))), `large page ${i} cached`);
    mmu.invlpg(...split(base + (i << 21n) + 0x1f_0000n)); // another 4 KiB of the same 2-MiB page
    assert.equal(mmu.tlbHas(...split(probe(i))), false, `large page ${i} dropped`);
  }
  assert.ok(mmu.tlbHas(...split(probe(6n))), 'the neighbours stay');
});

test('a fault from translate() is a CpuFault whose reason is built when read', () => {
  const { pt, mmu } = setup();
  pt.setEntry(X, 1, 0n);
  let f: CpuFault | undefined;
  try {
    tr(mmu, X, ACC_WRITE | ACC_USER);
  } catch (e) {
    f = e as CpuFault;
  }
  assert.ok(f instanceof CpuFault);
  assert.equal(f.vector, 14);
  assert.equal(f.errorCode, 6);
  assert.deepEqual([f.cr2Lo, f.cr2Hi], split(X));
  assert.match(f.reason, /^#PF\(.*\): PTE not present \(P=0\) \(write\|user at 0x0000001000000000\)$/);
  assert.equal(f.reason, f.reason);
  assert.match(f.toString(), /^#PF\(6\): #PF/);
});
