// Reserved bits per mode, entry type and MAXPHYADDR (spec §8.2; SDM 3A Tables 4-4..4-20): every bit
// of every entry type is set in turn and the walk's answer is compared with a reference written
// straight from the spec table. Also: RSVD beats permission faults, not-present entries ignore
// reserved bits, NX reserved without EFER.NXE, 1-GiB pages without the CPUID bit, and the PAE PDPTE
// load rules (SDM 3A §4.4.1).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate } from './translate.ts';
import { Mmu } from './mmu.ts';
import { ACC_USER, ACC_WRITE, PFEC, pagingState, type PagingState } from './types.ts';
import { P, PS, PageTableBuilder, RW, TestMem, US, modeRegs, split, type BuilderMode } from './test-pagetables.ts';
import { CpuFault } from '../arch/x86/exceptions.ts';

type EntryKind = 'PML5E' | 'PML4E' | 'PDPTE' | 'PDPTE1G' | 'PDE' | 'PDE2M' | 'PDE4M' | 'PTE';

interface Env {
  m: number;
  nxe: boolean;
  amd: boolean;
  gbpages: boolean;
}

/** The reference: is `bit` reserved in a present entry of this kind? Written from spec §8.2. */
function refReserved(mode: BuilderMode, kind: EntryKind, bit: number, e: Env): boolean {
  if (mode === '32bit') return kind === 'PDE4M' && bit >= 17 && bit <= 21;
  if (bit === 63) return !e.nxe;
  const top = mode === 'pae' ? 62 : 51;
  if (bit >= e.m && bit <= top) return true;
  switch (kind) {
    case 'PML5E':
    case 'PML4E':
      return bit === 7 || (bit === 8 && e.amd);
    case 'PDPTE1G':
      return e.gbpages ? bit >= 13 && bit <= 29 : true; // without 1-GiB pages PS itself is reserved
    case 'PDE2M':
      return bit >= 13 && bit <= 20;
    default:
      return false;
  }
}

const MAXPHYS = [36, 39, 46, 52];

interface Layout {
  kind: EntryKind;
  level: number;
  size: 12 | 21 | 22 | 30;
  leaf: boolean;
}

function layouts(mode: BuilderMode): Layout[] {
  switch (mode) {
    case '32bit':
      return [
        { kind: 'PDE', level: 2, size: 12, leaf: false },
        { kind: 'PTE', level: 1, size: 12, leaf: true },
        { kind: 'PDE4M', level: 2, size: 22, leaf: true },
      ];
    case 'pae':
      return [
        { kind: 'PDE', level: 2, size: 12, leaf: false },
        { kind: 'PTE', level: 1, size: 12, leaf: true },
        { kind: 'PDE2M', level: 2, size: 21, leaf: true },
      ];
    default: {
      const l: Layout[] = [
        { kind: 'PML4E', level: 4, size: 12, leaf: false },
        { kind: 'PDPTE', level: 3, size: 12, leaf: false },
        { kind: 'PDE', level: 2, size: 12, leaf: false },
        { kind: 'PTE', level: 1, size: 12, leaf: true },
        { kind: 'PDE2M', level: 2, size: 21, leaf: true },
        { kind: 'PDPTE1G', level: 3, size: 30, leaf: true },
      ];
      if (mode === '5level') l.unshift({ kind: 'PML5E', level: 5, size: 12, leaf: false });
      return l;
    }
  }
}

/** Bits that can be tested in an entry without changing what the walk reads next. */
function testableBits(mode: BuilderMode, lay: Layout, m: number): number[] {
  const width = mode === '32bit' ? 32 : 64;
  const r: number[] = [];
  for (let b = 1; b < width; b++) {
    if (b === 7 && (lay.leaf || lay.kind === 'PDE' || lay.kind === 'PDPTE')) continue; // PS (or already set)
    // address bits of a non-leaf entry redirect the walk: not a reserved-bit question
    if (!lay.leaf && b >= 12 && b < (mode === '32bit' ? 32 : Math.min(m, 52))) continue;
    r.push(b);
  }
  return r;
}

for (const mode of ['32bit', 'pae', '4level', '5level'] as BuilderMode[]) {
  for (const m of mode === '32bit' ? [36] : MAXPHYS) {
    for (const nxe of mode === '32bit' ? [false] : [false, true]) {
      for (const amd of mode === '4level' || mode === '5level' ? [false, true] : [false]) {
        test(`reserved bits: ${mode}, MAXPHYADDR=${m}, NXE=${+nxe}${amd ? ', AMD' : ''}`, () => {
          const env: Env = { m, nxe, amd, gbpages: true };
          let checked = 0;
          for (const lay of layouts(mode)) {
            const mem = new TestMem();
            const pt = new PageTableBuilder(mem, mode);
            const la = mode === '5level' ? 0x00ab_4567_8000_0000n : mode === '4level' ? 0x0000_4567_8000_0000n : 0x8000_0000n;
            pt.map(la, 0x4000_0000n, { size: lay.size });
            const regs = modeRegs(mode);
            const st: PagingState = pagingState({
              ...regs,
              cr4: regs.cr4 | (1 << 4),
              efer: regs.efer | (nxe ? 0x800 : 0),
              cr3Lo: pt.root,
              maxPhyAddr: m,
              vendorAmd: amd,
              gbpages: true,
            });
            const [lo, hi] = split(la);
            const clean = pt.getEntry(la, lay.level);
            for (const bit of testableBits(mode, lay, m)) {
              pt.setEntry(la, lay.level, clean | (1n << BigInt(bit)));
              const r = translate(st, mem, lo, hi, 0);
              const want = refReserved(mode, lay.kind, bit, env);
              const got = !r.ok && (r.errorCode & PFEC.RSVD) !== 0;
              assert.equal(got, want, `${lay.kind} bit ${bit}: ${r.ok ? 'ok' : r.reason}`);
              if (got) {
                assert.ok(!r.ok);
                assert.equal(r.vector, 14);
                assert.equal(r.errorCode, PFEC.P | PFEC.RSVD);
                assert.deepEqual(r.levels[r.levels.length - 1]!.reservedBits, [bit]);
              } else assert.ok(r.ok, `${lay.kind} bit ${bit}: ${r.ok ? '' : r.reason}`);
              checked++;
            }
            pt.setEntry(la, lay.level, clean);
          }
          assert.ok(checked > 20);
        });
      }
    }
  }
}

test('1-GiB pages: without the CPUID bit PS in a PDPTE is reserved (RSVD); with it the page maps', () => {
  for (const mode of ['4level', '5level'] as BuilderMode[]) {
    const mem = new TestMem();
    const pt = new PageTableBuilder(mem, mode);
    const la = 0x0000_0080_4000_0000n;
    pt.map(la, 0x1_4000_0000n, { size: 30 });
    const [lo, hi] = split(la + 0x123n);
    const st = (gbpages: boolean): PagingState => pagingState({ ...modeRegs(mode), cr3Lo: pt.root, maxPhyAddr: 46, gbpages });
    const yes = translate(st(true), mem, lo, hi, 0);
    assert.ok(yes.ok && yes.physical === 0x1_4000_0123 && yes.pageSize === 1 << 30);
    const no = translate(st(false), mem, lo, hi, ACC_WRITE);
    assert.ok(!no.ok);
    assert.equal(no.errorCode, PFEC.P | PFEC.RSVD | PFEC.W);
    assert.deepEqual(no.levels[no.levels.length - 1]!.reservedBits, [7]);
  }
});

test('RSVD takes priority over permission faults and carries W/U/I-D', () => {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  const la = 0x0000_0000_4000_0000n;
  pt.map(la, 0x20_0000n, { leaf: P | (1n << 51n) }); // supervisor, read-only, reserved bit 51 (M=36)
  const [lo, hi] = split(la);
  const r = translate(pagingState({ ...modeRegs('4level'), cr3Lo: pt.root, cr0: modeRegs('4level').cr0 | 0x10000 }), mem, lo, hi, ACC_WRITE | ACC_USER);
  assert.ok(!r.ok);
  assert.equal(r.errorCode, PFEC.P | PFEC.RSVD | PFEC.W | PFEC.U);
  assert.match(r.reason, /reserved/);
});

test('a not-present entry ignores its reserved bits (P=0 fault, no RSVD)', () => {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  const la = 0x0000_0000_4000_0000n;
  pt.map(la, 0x20_0000n);
  pt.setEntry(la, 1, 0xfff0_0000_0000_0080n); // P=0, reserved and NX bits set
  const [lo, hi] = split(la);
  const r = translate(pagingState({ ...modeRegs('4level'), cr3Lo: pt.root }), mem, lo, hi, 0);
  assert.ok(!r.ok);
  assert.equal(r.errorCode, 0);
});

test('RSVD in an upper level stops the walk there (the lower levels are not read)', () => {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  const la = 0x0000_0000_4000_0000n;
  pt.map(la, 0x20_0000n);
  pt.modify(la, 4, 1n << 40n);
  const [lo, hi] = split(la);
  const r = translate(pagingState({ ...modeRegs('4level'), cr3Lo: pt.root, maxPhyAddr: 39 }), mem, lo, hi, 0);
  assert.ok(!r.ok && (r.errorCode & PFEC.RSVD) !== 0);
  assert.deepEqual(
    r.levels.map((l) => l.name),
    ['PML4E'],
  );
});

// ---- PAE PDPTE registers (SDM 3A §4.4.1; spec §8.2 pdptr_rsvd_bits) ------------------------------

function paeRef(bit: number, m: number): boolean {
  return bit === 63 || (bit >= m && bit <= 62) || (bit >= 5 && bit <= 8) || bit === 1 || bit === 2;
}

for (const m of MAXPHYS) {
  test(`PAE PDPTE load: reserved bits at MAXPHYADDR=${m} fail MOV CR3/CR0/CR4 (false → #GP), not-present PDPTEs are not checked`, () => {
    const mem = new TestMem();
    const pt = new PageTableBuilder(mem, 'pae');
    pt.map(0x4000_0000n, 0x20_0000n);
    const regs = modeRegs('pae');
    const mmu = new Mmu(mem, { ...regs, cr3Lo: pt.root, maxPhyAddr: m });
    const clean = pt.getEntry(0x4000_0000n, 3);
    for (let bit = 1; bit < 64; bit++) {
      if (bit >= 12 && bit < m) continue; // address bits
      pt.setEntry(0x4000_0000n, 3, clean | (1n << BigInt(bit)));
      assert.equal(mmu.movCr3(pt.root, 0), !paeRef(bit, m), `MOV CR3, PDPTE bit ${bit}`);
      assert.equal(mmu.movCr4(regs.cr4 | (1 << 7)), !paeRef(bit, m), `MOV CR4 (PGE toggles), PDPTE bit ${bit}`);
      if (paeRef(bit, m)) {
        // the pure function reports the load failure as the #GP of the MOV that loads the PDPTEs
        const r = translate(pagingState({ ...regs, cr3Lo: pt.root, maxPhyAddr: m }), mem, 0x4000_0000, 0, 0);
        assert.ok(!r.ok && r.vector === 13 && /PDPTE 1/.test(r.reason), `pure translate, bit ${bit}`);
      } else {
        assert.ok(mmu.movCr4(regs.cr4));
      }
      pt.setEntry(0x4000_0000n, 3, (clean | (1n << BigInt(bit))) & ~P);
      assert.equal(mmu.movCr3(pt.root, 0), true, `not-present PDPTE with bit ${bit}`);
      pt.setEntry(0x4000_0000n, 3, clean);
      assert.ok(mmu.movCr3(pt.root, 0));
    }
  });
}

test('PAE: PDPTEs are registers: changing a PDPTE in memory has no effect until CR3 is reloaded', () => {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, 'pae');
  pt.map(0x4000_0000n, 0x20_0000n);
  const mmu = new Mmu(mem, { ...modeRegs('pae'), cr3Lo: pt.root });
  assert.equal(mmu.translate(0x4000_0010, 0, 0), 0x20_0010);
  pt.setEntry(0x4000_0000n, 3, 0n); // PDPTE 1 not present in memory
  mmu.flush('all');
  assert.equal(mmu.translate(0x4000_0010, 0, 0), 0x20_0010, 'the cached PDPTE register still maps');
  assert.ok(mmu.movCr3(pt.root, 0));
  assert.throws(
    () => mmu.translate(0x4000_0010, 0, 0),
    (e: unknown) => e instanceof CpuFault && e.vector === 14 && e.errorCode === 0 && e.cr2Lo === 0x4000_0010,
  );
  // a failed load leaves the MMU as it was
  pt.map(0x4000_0000n, 0x20_0000n);
  assert.ok(mmu.movCr3(pt.root, 0));
  pt.modify(0x4000_0000n, 3, RW); // bit 1 is reserved in a PDPTE
  assert.equal(mmu.movCr3(pt.root + 0x1000, 0), false);
  assert.equal(mmu.cr3Lo, pt.root);
  assert.equal(mmu.translate(0x4000_0010, 0, 0), 0x20_0010);
  void US;
  void PS;
});
