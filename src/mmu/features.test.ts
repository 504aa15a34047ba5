// Smaller rules: CET shadow-stack accesses (SDM 3A §4.6.1 "shadow-stack pages"; PFEC.SS), protection
// keys per key (SDM 3A §4.6.2), the UMIP helper (SDM 3A §2.5, spec §8.9) and the access-flag helpers.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { translate } from './translate.ts';
import { Mmu } from './mmu.ts';
import { TsvmmError } from '../util/result.ts';
import {
  ACC_FETCH,
  ACC_IMPLICIT,
  ACC_SHADOW_STACK,
  ACC_USER,
  ACC_WRITE,
  PFEC,
  dataAccess,
  fetchAccess,
  pagingState,
  umipFault,
  type PagingState,
} from './types.ts';
import { D, P, PageTableBuilder, RW, TestMem, US, modeRegs, pkeyBits, split } from './test-pagetables.ts';

const LA = 0x0000_0033_0000_0000n;
const WP = 0x10000;

function env(leaf: bigint, upper?: bigint): { mem: TestMem; st: (extra?: Partial<PagingState>) => PagingState } {
  const mem = new TestMem();
  const pt = new PageTableBuilder(mem, '4level');
  pt.map(LA, 0x20_0000n, upper === undefined ? { leaf } : { leaf, upper });
  const r = modeRegs('4level');
  return { mem, st: (extra = {}) => pagingState({ ...r, cr0: r.cr0 | WP, cr3Lo: pt.root, ...extra }) };
}

function run(st: PagingState, mem: TestMem, access: number): number {
  const [lo, hi] = split(LA);
  const r = translate(st, mem, lo, hi, access);
  return r.ok ? -1 : r.errorCode;
}

test('shadow stack: accesses need a shadow-stack page (leaf R/W=0, D=1, writable above) of the same privilege', () => {
  const ssUser = env(P | US | D);
  for (const acc of [ACC_SHADOW_STACK | ACC_USER, ACC_SHADOW_STACK | ACC_USER | ACC_WRITE]) assert.equal(run(ssUser.st(), ssUser.mem, acc), -1);
  // a supervisor shadow-stack access to a user shadow-stack page faults (no SMAP-style override)
  assert.equal(run(ssUser.st(), ssUser.mem, ACC_SHADOW_STACK | ACC_WRITE), PFEC.P | PFEC.W | PFEC.SS);
  // ordinary writes to a shadow-stack page fault (it is read-only to them)
  assert.equal(run(ssUser.st(), ssUser.mem, ACC_USER | ACC_WRITE), PFEC.P | PFEC.W | PFEC.U);
  assert.equal(run(ssUser.st(), ssUser.mem, ACC_USER), -1, 'ordinary reads are fine');

  const ordinary = env(P | RW | US | D);
  assert.equal(run(ordinary.st(), ordinary.mem, ACC_SHADOW_STACK | ACC_USER), PFEC.P | PFEC.U | PFEC.SS);
  const notDirty = env(P | US);
  assert.equal(run(notDirty.st(), notDirty.mem, ACC_SHADOW_STACK | ACC_USER), PFEC.P | PFEC.U | PFEC.SS);
  const roAbove = env(P | US | D, P | US);
  assert.equal(run(roAbove.st(), roAbove.mem, ACC_SHADOW_STACK | ACC_USER | ACC_WRITE), PFEC.P | PFEC.W | PFEC.U | PFEC.SS);
  const ssSup = env(P | D);
  assert.equal(run(ssSup.st(), ssSup.mem, ACC_SHADOW_STACK | ACC_WRITE), -1);
  assert.equal(run(ssSup.st(), ssSup.mem, ACC_SHADOW_STACK | ACC_USER), PFEC.P | PFEC.U | PFEC.SS);
  // not present: P=0 with SS
  const none = env(0n);
  assert.equal(run(none.st(), none.mem, ACC_SHADOW_STACK | ACC_USER), PFEC.U | PFEC.SS);
});

test('protection keys: only the page\'s own key counts; fetches and supervisor pages are exempt; inactive outside CR4.PKE', () => {
  const PKE = 1 << 22;
  for (let key = 0; key < 16; key++) {
    const e = env(P | RW | US | pkeyBits(key));
    const ad = 1 << (2 * key);
    const wd = 2 << (2 * key);
    const others = ~(ad | wd) | 0;
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: others }), e.mem, ACC_USER | ACC_WRITE), -1, `key ${key}: other keys' bits`);
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: ad }), e.mem, ACC_USER), PFEC.P | PFEC.U | PFEC.PK);
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: ad }), e.mem, 0), PFEC.P | PFEC.PK, 'supervisor access to a user page');
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: ad }), e.mem, ACC_IMPLICIT), PFEC.P | PFEC.PK);
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: ad | wd }), e.mem, ACC_USER | ACC_FETCH), -1, 'fetches ignore PKRU');
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: wd }), e.mem, ACC_USER), -1, 'WD allows reads');
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: wd }), e.mem, ACC_USER | ACC_WRITE), PFEC.P | PFEC.W | PFEC.U | PFEC.PK);
    assert.equal(run(e.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: wd, cr0: modeRegs('4level').cr0 }), e.mem, ACC_WRITE), -1, 'WD, supervisor write, WP=0');
    assert.equal(run(e.st({ pkru: ad | wd }), e.mem, ACC_USER | ACC_WRITE), -1, 'CR4.PKE=0');
  }
  const sup = env(P | RW | pkeyBits(3));
  assert.equal(run(sup.st({ cr4: modeRegs('4level').cr4 | PKE, pkru: 3 << 6 }), sup.mem, ACC_WRITE), -1, 'supervisor pages have no key check (PKS is not modelled)');
});

test('umipFault: CR4.UMIP=1 and CPL>0', () => {
  const UMIP = 1 << 11;
  assert.equal(umipFault(UMIP, 0), false);
  assert.equal(umipFault(UMIP, 1), true);
  assert.equal(umipFault(UMIP, 3), true);
  assert.equal(umipFault(0, 3), false);
});

test('access-flag helpers: implicit accesses are never user-mode', () => {
  assert.equal(dataAccess(3, true), ACC_WRITE | ACC_USER);
  assert.equal(dataAccess(3, false, true), ACC_IMPLICIT);
  assert.equal(dataAccess(0, true), ACC_WRITE);
  assert.equal(fetchAccess(3), ACC_FETCH | ACC_USER);
  assert.equal(fetchAccess(1), ACC_FETCH);
});

test('a malformed paging state is refused with MMU_BAD_STATE naming the field', () => {
  const mem = new TestMem(4096);
  const cases: [Partial<PagingState>, RegExp][] = [
    [{ maxPhyAddr: 60 }, /maxPhyAddr must be an integer 32..52/],
    [{ cr0: 2 ** 40 }, /cr0 must be a 32-bit integer/],
    [{ cpl: 4 }, /cpl must be 0..3/],
    [{ pdptes: [1, 2, 3] }, /pdptes must hold 8 numbers/],
  ];
  for (const [p, re] of cases) {
    assert.throws(
      () => translate(pagingState(p), mem, 0, 0, 0),
      (e: unknown) => e instanceof TsvmmError && e.code === 'MMU_BAD_STATE' && re.test(e.message),
    );
    assert.throws(() => new Mmu(mem, p), (e: unknown) => e instanceof TsvmmError && re.test(e.message));
  }
});
