// Pre-walk checks: canonical addresses (48/57 bits; SDM 3A §3.3.7.1, §4.5.1; spec §8.1) and LASS
// (spec §8.6; Intel ISE "Linear Address Space Separation"). Both raise #GP(0) or #SS(0) before any
// paging-structure read, never #PF. These cannot run on KVM here: the rules are checked against
// the manual's text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate } from './translate.ts';
import { Mmu } from './mmu.ts';
import { ACC_FETCH, ACC_IMPLICIT, ACC_READ, ACC_STACK, ACC_USER, ACC_WRITE, pagingState, type PagingState, type TranslateResult } from './types.ts';
import { P, RW, PageTableBuilder, TestMem, modeRegs, split, type BuilderMode } from './test-pagetables.ts';
import { CpuFault } from '../arch/x86/exceptions.ts';

const LASS = 1 << 27;
const SMAP = 1 << 21;
const USER_LA = 0x0000_0012_3456_7000n;
const SUP_LA = 0xffff_8812_3456_7000n;

function world(mode: BuilderMode = '4level'): { mem: TestMem; pt: PageTableBuilder; st: (cr4?: number, ac?: boolean) => PagingState } {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, mode);
  if (mode === '4level' || mode === '5level') {
    pt.map(USER_LA, 0x20_0000n);
    pt.map(SUP_LA, 0x30_0000n, { leaf: P | RW }); // supervisor pages in the supervisor half
    pt.map(0xffff_ffff_ffff_f000n, 0x40_0000n, { leaf: P | RW });
    pt.map(0n, 0x50_0000n);
  } else pt.map(0x1000_0000n, 0x20_0000n);
  const regs = modeRegs(mode);
  return { mem, pt, st: (cr4 = 0, ac = false) => pagingState({ ...regs, cr4: regs.cr4 | cr4, cr3Lo: pt.root, ac }) };
}

function at(st: PagingState, mem: TestMem, la: bigint, access: number, size = 1): TranslateResult {
  const [lo, hi] = split(la);
  return translate(st, mem, lo, hi, access, size);
}

function isFault(r: TranslateResult, vector: number, re?: RegExp): void {
  if (r.ok) assert.fail(`expected vector ${vector}, got success`);
  assert.equal(r.vector, vector, r.reason);
  assert.equal(r.errorCode, 0);
  assert.equal(r.cr2Lo, 0);
  assert.equal(r.levels.length, 0, 'no paging-structure read');
  if (re) assert.match(r.reason, re);
}

test('canonical (48-bit): bits 63:47 must be equal; #GP(0), #SS(0) for stack references, before the walk', () => {
  const { mem, st } = world();
  const s = st();
  for (const la of [0x0000_8000_0000_0000n, 0xffff_7fff_ffff_f000n, 0x8000_0000_0000_0000n, 0x0001_0000_0000_0000n]) {
    const reads = mem.reads;
    isFault(at(s, mem, la, ACC_READ), 13, /non-canonical/);
    isFault(at(s, mem, la, ACC_WRITE | ACC_STACK), 12, /non-canonical/);
    isFault(at(s, mem, la, ACC_FETCH | ACC_USER), 13);
    assert.equal(mem.reads, reads);
  }
  assert.ok(at(s, mem, USER_LA, ACC_READ).ok);
  assert.ok(at(s, mem, SUP_LA, ACC_READ).ok);
  assert.ok(at(s, mem, 0xffff_ffff_ffff_f123n, ACC_READ).ok);
});

test('canonical (57-bit with LA57): bits 63:56 must be equal', () => {
  const { mem, pt, st } = world('5level');
  pt.map(0x0000_8000_0000_0000n, 0x60_0000n);
  pt.map(0x00ff_f000_0000_0000n, 0x61_0000n);
  const s = st();
  assert.equal((at(s, mem, 0x0000_8000_0000_0010n, 0) as { physical: number }).physical, 0x60_0010, '48-bit non-canonical is fine with LA57');
  assert.ok(at(s, mem, 0x00ff_f000_0000_0000n, 0).ok);
  isFault(at(s, mem, 0x0100_0000_0000_0000n, 0), 13);
  isFault(at(s, mem, 0xfeff_ffff_ffff_f000n, ACC_STACK), 12);
  assert.ok(at(s, mem, SUP_LA, 0).ok);
});

test('outside long mode there is no canonical check and no LASS (CR4.LASS with LMA=0 is inert)', () => {
  const { mem, st } = world('pae');
  const r = translate(st(LASS | SMAP), mem, 0x1000_0004, 0x8000, ACC_FETCH);
  assert.ok(r.ok && r.physical === 0x20_0004);
  assert.ok(at(st(LASS), mem, 0x1000_0000n, ACC_READ).ok);
});

test('LASS: user-mode accesses to the supervisor half fault, to the user half pass', () => {
  const { mem, st } = world();
  const s = st(LASS);
  for (const acc of [ACC_READ, ACC_WRITE, ACC_FETCH]) {
    isFault(at(s, mem, SUP_LA, acc | ACC_USER), 13, /user-mode access to the supervisor half/);
    isFault(at(s, mem, SUP_LA, acc | ACC_USER | ACC_STACK), 12);
    assert.ok(at(s, mem, USER_LA, acc | ACC_USER).ok);
  }
  // without LASS the same user access walks and faults on U/S instead (#PF, not #GP)
  const r = at(st(0), mem, SUP_LA, ACC_USER);
  assert.ok(!r.ok && r.vector === 14 && r.levels.length === 4);
});

test('LASS: supervisor fetches from the user half fault whatever SMAP and AC say', () => {
  const { mem, st } = world();
  for (const smap of [0, SMAP])
    for (const ac of [false, true]) {
      isFault(at(st(LASS | smap, ac), mem, USER_LA, ACC_FETCH), 13, /supervisor instruction fetch/);
      assert.ok(at(st(LASS | smap, ac), mem, SUP_LA, ACC_FETCH).ok);
    }
});

test('LASS: supervisor data accesses to the user half: only with SMAP=1; AC=1 overrides explicit accesses only', () => {
  const { mem, st } = world();
  for (const acc of [ACC_READ, ACC_WRITE]) {
    assert.ok(at(st(LASS), mem, USER_LA, acc).ok, 'SMAP=0: not enforced');
    // (the page is a user page: with AC=1 SMAP lets the explicit access through too)
    isFault(at(st(LASS | SMAP), mem, USER_LA, acc), 13, /SMAP=1 and RFLAGS.AC=0/);
    isFault(at(st(LASS | SMAP), mem, USER_LA, acc | ACC_STACK), 12);
    assert.ok(at(st(LASS | SMAP, true), mem, USER_LA, acc).ok, 'explicit access with AC=1');
    // implicit supervisor accesses (descriptor tables, TSS, delivery pushes), even from CPL 3 code
    isFault(at(st(LASS | SMAP, true), mem, USER_LA, acc | ACC_IMPLICIT), 13, /implicit/);
    isFault(at(st(LASS | SMAP, false), mem, USER_LA, acc | ACC_IMPLICIT | ACC_STACK), 12);
    assert.ok(at(st(LASS | SMAP, true), mem, SUP_LA, acc | ACC_IMPLICIT).ok);
    assert.ok(at(st(LASS | SMAP), mem, SUP_LA, acc).ok);
  }
});

test('LASS: the whole access must lie in one half (an access wrapping past 2^64 straddles)', () => {
  const { mem, st } = world();
  const s = st(LASS | SMAP);
  assert.ok(at(s, mem, 0xffff_ffff_ffff_fff8n, ACC_READ, 8).ok);
  isFault(at(s, mem, 0xffff_ffff_ffff_fffen, ACC_READ, 4), 13, /LASS/);
  isFault(at(s, mem, 0xffff_ffff_ffff_fffen, ACC_WRITE | ACC_STACK, 4), 12);
  // a user access running off the top of the user half ends non-canonical
  isFault(at(s, mem, 0x0000_7fff_ffff_fffen, ACC_READ | ACC_USER, 4), 13, /non-canonical/);
  // the Mmu sees a page-crossing access as two translations: the second page faults
  const mmu = new Mmu(mem, s);
  assert.equal(mmu.translate(-2, -1, ACC_READ), 0x40_0ffe);
  assert.throws(
    () => mmu.translate(0, 0, ACC_READ),
    (e: unknown) => e instanceof CpuFault && e.vector === 13 && e.errorCode === 0,
  );
});

test('LASS through the Mmu: cached translations never bypass it (AC change, user access after a supervisor fill)', () => {
  const { mem, st } = world();
  const mmu = new Mmu(mem, st(LASS | SMAP, true));
  const [ulo, uhi] = split(USER_LA);
  const [slo, shi] = split(SUP_LA);
  assert.equal(mmu.translate(ulo, uhi, ACC_READ), 0x20_0000);
  mmu.setAc(false);
  assert.throws(
    () => mmu.translate(ulo, uhi, ACC_READ),
    (e: unknown) => e instanceof CpuFault && e.vector === 13 && e.cr2Lo === 0,
  );
  assert.equal(mmu.translate(slo, shi, ACC_READ), 0x30_0000);
  assert.throws(
    () => mmu.translate(slo, shi, ACC_READ | ACC_USER | ACC_STACK),
    (e: unknown) => e instanceof CpuFault && e.vector === 12,
  );
  // INVLPG/INVPCID operands are exempt from LASS (and from the canonical check for INVLPG)
  mmu.invlpg(ulo, uhi);
  mmu.invlpg(0, 0x8000);
  assert.equal(mmu.invpcid(0, 0, ulo, uhi), true);
});
