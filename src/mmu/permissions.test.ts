// The paging permission matrix (SDM 3A §4.6 "Access Rights", §4.6.2 "Protection Keys", §4.7 error
// code; spec §8.3/8.4): every combination of U/S, R/W and XD at the leaf and at an upper level,
// CR0.WP, CR4.SMEP/SMAP/PKE, EFER.NXE, RFLAGS.AC, PKRU (AD/WD of the page's key), CPL and access
// kind (read, write, fetch, implicit read/write) is translated and compared with `reference`, a
// straightforward reading of the SDM text written independently of the implementation's bitmaps.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate } from './translate.ts';
import { Mmu } from './mmu.ts';
import { ACC_FETCH, ACC_IMPLICIT, ACC_USER, ACC_WRITE, PFEC, pagingState } from './types.ts';
import { P, PageTableBuilder, RW, TestMem, US, XD, modeRegs, pkeyBits, split, type BuilderMode } from './test-pagetables.ts';
import { CpuFault } from '../arch/x86/exceptions.ts';

interface Case {
  leafUS: boolean;
  leafRW: boolean;
  leafXD: boolean;
  upUS: boolean;
  upRW: boolean;
  upXD: boolean;
  wp: boolean;
  smep: boolean;
  smap: boolean;
  ac: boolean;
  nxe: boolean;
  pke: boolean;
  pkAD: boolean;
  pkWD: boolean;
  kind: 'read' | 'write' | 'fetch';
  cpl: 0 | 3;
  implicit: boolean;
  longMode: boolean;
}

/** The SDM's rules, read one sentence at a time. Returns the #PF error code or -1 (no fault). */
function reference(c: Case): number {
  const userMode = c.cpl === 3 && !c.implicit; // §4.6: implicit supervisor accesses are supervisor-mode
  const fetch = c.kind === 'fetch';
  const write = c.kind === 'write';
  let ec = PFEC.P;
  if (write) ec |= PFEC.W;
  if (userMode) ec |= PFEC.U;
  // §4.7: I/D is set for fetches when SMEP=1, or when PAE/4-level paging is used with NXE=1
  if (fetch && (c.smep || c.nxe)) ec |= PFEC.ID;
  // §4.5/4.4: with NXE=0 bit 63 is reserved in every 64-bit entry
  if (!c.nxe && (c.leafXD || c.upXD)) return ec | PFEC.RSVD;

  // §4.6: a user-mode address has U/S=1 in every entry; writable iff R/W=1 in every entry;
  // execute-disable iff NXE=1 and XD=1 in some entry
  const userAddr = c.leafUS && c.upUS;
  const writable = c.leafRW && c.upRW;
  const xd = c.nxe && (c.leafXD || c.upXD);

  let ok: boolean;
  if (!userMode) {
    if (fetch) {
      // supervisor fetches: from user-mode addresses only with SMEP=0; never from XD pages
      ok = (!userAddr || !c.smep) && !xd;
    } else {
      // supervisor data accesses to user-mode addresses: with SMAP=1 only explicit accesses with AC=1
      let smapOk = true;
      if (userAddr && c.smap) smapOk = !c.implicit && c.ac;
      // supervisor writes: any address with WP=0; only writable ones with WP=1
      const writeOk = !write || !c.wp || writable;
      ok = smapOk && writeOk;
    }
  } else {
    // user-mode accesses: only user-mode addresses; writes need R/W; fetches need !XD
    ok = userAddr && (!write || writable) && (!fetch || !xd);
  }

  // §4.6.2: protection keys apply in IA-32e mode with CR4.PKE=1, to data accesses to user-mode
  // addresses: AD forbids every data access; WD forbids writes by user mode, and by supervisor mode
  // when CR0.WP=1
  let pk = false;
  if (c.pke && c.longMode && userAddr && !fetch) {
    if (c.pkAD) pk = true;
    if (c.pkWD && write && (userMode || c.wp)) pk = true;
  }
  if (ok && !pk) return -1;
  return ec | (pk ? PFEC.PK : 0);
}

const KEY = 5;
const bools = [false, true];

function* cases(mode: BuilderMode): Generator<Case> {
  const longMode = mode === '4level' || mode === '5level';
  const xdChoices = mode === '32bit' ? [false] : bools;
  for (const leafUS of bools)
    for (const leafRW of bools)
      for (const leafXD of xdChoices)
        for (const upUS of bools)
          for (const upRW of bools)
            for (const upXD of xdChoices)
              for (const wp of bools)
                for (const smep of bools)
                  for (const smap of bools)
                    for (const ac of bools)
                      for (const nxe of mode === '32bit' ? [false] : bools)
                        for (const pke of bools)
                          for (const pkAD of pke ? bools : [false])
                            for (const pkWD of pke ? bools : [false])
                              for (const [kind, cpl, implicit] of [
                                ['read', 0, false],
                                ['write', 0, false],
                                ['fetch', 0, false],
                                ['read', 3, false],
                                ['write', 3, false],
                                ['fetch', 3, false],
                                ['read', 3, true],
                                ['write', 3, true],
                              ] as const)
                                yield { leafUS, leafRW, leafXD, upUS, upRW, upXD, wp, smep, smap, ac, nxe, pke, pkAD, pkWD, kind, cpl, implicit, longMode };
}

function accessOf(c: Case): number {
  return (
    (c.kind === 'write' ? ACC_WRITE : 0) |
    (c.kind === 'fetch' ? ACC_FETCH : 0) |
    (c.cpl === 3 && !c.implicit ? ACC_USER : 0) |
    (c.implicit ? ACC_IMPLICIT : 0)
  );
}

function describe(c: Case): string {
  return Object.entries(c)
    .filter(([, v]) => v !== false)
    .map(([k, v]) => (v === true ? k : `${k}=${v}`))
    .join(' ');
}

for (const mode of ['4level', 'pae', '32bit'] as BuilderMode[]) {
  test(`permission matrix (${mode}): translate() agrees with the SDM reference on every combination`, () => {
    const mem = new TestMem();
    const pt = new PageTableBuilder(mem, mode);
    const la = mode === '4level' ? 0x0000_1234_5640_0000n : 0x5640_0000n;
    const pa = 0x0070_0000n;
    pt.map(la, pa);
    const upperLevel = 2; // the PDE
    const base = modeRegs(mode);
    let n = 0;
    let faults = 0;
    let lastPt = '';
    for (const c of cases(mode)) {
      const ptKey = `${c.leafUS}${c.leafRW}${c.leafXD}${c.upUS}${c.upRW}${c.upXD}`;
      if (ptKey !== lastPt) {
        const up = P | (c.upRW ? RW : 0n) | (c.upUS ? US : 0n) | (c.upXD ? XD : 0n);
        const leaf = P | (c.leafRW ? RW : 0n) | (c.leafUS ? US : 0n) | (c.leafXD ? XD : 0n) | (mode === '4level' ? pkeyBits(KEY) : 0n);
        pt.map(la, pa, { at: { [upperLevel]: up, 1: leaf } });
        lastPt = ptKey;
      }
      const st = pagingState({
        cr0: base.cr0 | (c.wp ? 0x10000 : 0),
        cr4: base.cr4 | (c.smep ? 1 << 20 : 0) | (c.smap ? 1 << 21 : 0) | (c.pke ? 1 << 22 : 0),
        efer: base.efer | (c.nxe ? 0x800 : 0),
        cr3Lo: pt.root,
        ac: c.ac,
        cpl: c.cpl,
        pkru: (c.pkAD ? 1 << (2 * KEY) : 0) | (c.pkWD ? 2 << (2 * KEY) : 0),
      });
      const [lo, hi] = split(la + 0x24n);
      const r = translate(st, mem, lo, hi, accessOf(c));
      const want = reference(c);
      if (want < 0) {
        if (!r.ok) assert.fail(`${mode}: expected no fault, got ${r.reason} for ${describe(c)}`);
        assert.equal(r.physical, Number(pa) + 0x24);
      } else {
        if (r.ok) assert.fail(`${mode}: expected #PF(${want}), got success for ${describe(c)}`);
        assert.equal(r.vector, 14);
        assert.equal(r.errorCode, want, `${mode}: error code for ${describe(c)}: ${r.reason}`);
        faults++;
      }
      n++;
    }
    assert.ok(n > 1000 && faults > 100 && faults < n);
  });
}

test('permission matrix through the Mmu (TLB path): every access kind in turn on one cached entry', () => {
  // A sample of the 4-level matrix's page/register combinations; for each, all 8 access kinds run
  // twice in a row through one Mmu without a flush, so later kinds hit (or must refuse to hit) the
  // entry filled by earlier ones (a read fill must not let a write skip the D update or a check).
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  const la = 0x0000_1234_5640_0000n;
  pt.map(la, 0x70_0000n);
  const [lo, hi] = split(la + 8n);
  const base = modeRegs('4level');
  const mmu = new Mmu(mem, { ...base, cr3Lo: pt.root });
  let i = 0;
  let checked = 0;
  const hitsBefore = mmu.hits;
  for (const c of cases('4level')) {
    if (c.kind !== 'read' || c.cpl !== 0 || i++ % 5 !== 0) continue; // one row per page/register combination
    const up = P | (c.upRW ? RW : 0n) | (c.upUS ? US : 0n) | (c.upXD ? XD : 0n);
    const leaf = P | (c.leafRW ? RW : 0n) | (c.leafUS ? US : 0n) | (c.leafXD ? XD : 0n) | pkeyBits(KEY);
    pt.map(la, 0x70_0000n, { at: { 2: up, 1: leaf } });
    mmu.setState({
      cr0: base.cr0 | (c.wp ? 0x10000 : 0),
      cr4: base.cr4 | (c.smep ? 1 << 20 : 0) | (c.smap ? 1 << 21 : 0) | (c.pke ? 1 << 22 : 0),
      efer: base.efer | (c.nxe ? 0x800 : 0),
      cr3Lo: pt.root,
    });
    mmu.setAc(c.ac);
    mmu.setPkru((c.pkAD ? 1 << (2 * KEY) : 0) | (c.pkWD ? 2 << (2 * KEY) : 0));
    for (let round = 0; round < 2; round++) {
      for (const [kind, cpl, implicit] of [
        ['read', 0, false],
        ['fetch', 3, false],
        ['write', 0, false],
        ['read', 3, true],
        ['fetch', 0, false],
        ['write', 3, false],
        ['read', 3, false],
        ['write', 3, true],
      ] as const) {
        const k: Case = { ...c, kind, cpl, implicit };
        const want = reference(k);
        try {
          const got = mmu.translate(lo, hi, accessOf(k));
          assert.equal(want, -1, `expected #PF(${want}) for ${describe(k)}, round ${round}`);
          assert.equal(got, 0x70_0008);
        } catch (e) {
          if (!(e instanceof CpuFault)) throw e;
          assert.equal(e.vector, 14);
          assert.equal(e.errorCode, want, `${describe(k)}: ${e.reason}`);
          assert.equal(e.cr2Lo, lo);
        }
        checked++;
      }
    }
  }
  assert.ok(checked > 5000);
  assert.ok(mmu.hits - hitsBefore > 1000, 'the TLB was exercised');
});
