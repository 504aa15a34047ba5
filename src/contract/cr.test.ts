// Cross-register rules of MOV CR0/CR3/CR4/CR8, LMSW, PDPTE loads and MOV DR6/DR7 (spec §1.3-1.4, §2,
// §8.2), each with a positive and a negative case, plus the side effects a legal write implies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { Cr3 } from '../arch/x86/registers/cr3.ts';
import { Cr4 } from '../arch/x86/registers/cr4.ts';
import { Efer } from '../arch/x86/registers/efer.ts';
import { Dr6 } from '../arch/x86/registers/dr6.ts';
import { deriveGuestModel } from './model.ts';
import {
  checkCr0Write,
  checkCr3Write,
  checkCr4Write,
  checkCr8Write,
  checkPdptes,
  lmswValue,
  pdpteReservedMask,
} from './cr.ts';
import { checkDr6Write, checkDr7Write } from './dr.ts';
import { RESET_STATE, type ControlState } from './state.ts';
import { thisMachineKvmSupported, withFeatures, withVendor } from './fixtures/tables.ts';
import type { Verdict } from './api.ts';

const T = withFeatures(withVendor(thisMachineKvmSupported(), 'GenuineIntel'), [
  'pcid',
  'smep',
  'smap',
  'pku',
  'xsave',
  'la57',
  'shstk',
  'ibt',
  'vmx',
  'lam',
  'fsgsbase',
]);
const M = deriveGuestModel(T);
const PM: ControlState = { ...RESET_STATE, cr0: Cr0.PE | Cr0.ET };
const LONG: ControlState = {
  ...RESET_STATE,
  cr0: Cr0.PE | Cr0.ET | Cr0.PG | Cr0.WP,
  cr4: Cr4.PAE,
  efer: Efer.LME | Efer.LMA,
  csL: true,
};
const PAE_PAGING: ControlState = { ...RESET_STATE, cr0: Cr0.PE | Cr0.ET | Cr0.PG, cr4: Cr4.PAE };

function refused(v: Verdict, rule: string, fault: 'GP' | 'UD' = 'GP'): void {
  assert.equal(v.ok, false, `expected refusal ${rule}`);
  if (!v.ok) {
    assert.equal(v.rule, rule, v.reason);
    assert.equal(v.fault, fault);
    assert.ok(v.reason.length > 10);
  }
}
function accepted(v: Verdict): Extract<Verdict, { ok: true }>['effects'] {
  assert.ok(v.ok, v.ok ? '' : `${v.rule}: ${v.reason}`);
  return v.effects;
}

test('CR0: PG needs PE', () => {
  refused(checkCr0Write(M, RESET_STATE, Cr0.PG), 'cr0.pg-without-pe');
  accepted(checkCr0Write(M, RESET_STATE, Cr0.PG | Cr0.PE));
});

test('CR0: NW needs CD', () => {
  refused(checkCr0Write(M, PM, Cr0.PE | Cr0.NW), 'cr0.nw-without-cd');
  accepted(checkCr0Write(M, PM, Cr0.PE | Cr0.NW | Cr0.CD));
});

test('CR0: setting PG with EFER.LME needs CR4.PAE and CS.L=0, and activates long mode', () => {
  const st: ControlState = { ...PM, efer: Efer.LME };
  refused(checkCr0Write(M, st, Cr0.PE | Cr0.PG), 'cr0.pg-lme-without-pae');
  refused(checkCr0Write(M, { ...st, cr4: Cr4.PAE, csL: true }, Cr0.PE | Cr0.PG), 'cr0.pg-lme-cs-l');
  const e = accepted(checkCr0Write(M, { ...st, cr4: Cr4.PAE }, Cr0.PE | Cr0.PG));
  assert.equal(e.efer, Efer.LME | Efer.LMA);
  assert.equal(e.mmuReset, true);
  assert.equal(e.loadPdptrs, false, 'no PDPTEs in long mode');
});

test('CR0: clearing PG is refused in 64-bit mode and with PCIDE, allowed from compatibility mode (leaves long mode)', () => {
  refused(checkCr0Write(M, LONG, Cr0.PE | Cr0.WP), 'cr0.pg-clear');
  refused(
    checkCr0Write(M, { ...LONG, csL: false, cr4: Cr4.PAE | Cr4.PCIDE }, Cr0.PE | Cr0.WP),
    'cr0.pg-clear',
  );
  const e = accepted(checkCr0Write(M, { ...LONG, csL: false }, Cr0.PE | Cr0.WP));
  assert.equal(e.efer, Efer.LME, 'LMA cleared');
  assert.equal(e.tlbFlush, 'all');
});

test('CR0: clearing WP with CR4.CET is refused; allowed without CET', () => {
  refused(checkCr0Write(M, { ...LONG, cr4: Cr4.PAE | Cr4.CET }, Cr0.PE | Cr0.PG), 'cr0.wp-clear-with-cet');
  const e = accepted(checkCr0Write(M, LONG, Cr0.PE | Cr0.PG));
  assert.equal(e.mmuReset, true, 'WP is an MMU role bit while paging');
});

test('CR0: only-WP change without paging needs no MMU reset; PAE paging CD/NW/PG changes reload PDPTEs', () => {
  assert.equal(accepted(checkCr0Write(M, PM, Cr0.PE | Cr0.WP)).mmuReset, false);
  assert.equal(accepted(checkCr0Write(M, PAE_PAGING, PAE_PAGING.cr0 | Cr0.CD)).loadPdptrs, true);
  assert.equal(accepted(checkCr0Write(M, PAE_PAGING, PAE_PAGING.cr0 | Cr0.AM)).loadPdptrs, false);
});

test('CR0: in VMX operation PE, PG and NE must stay set', () => {
  const st: ControlState = { ...LONG, cr0: LONG.cr0 | Cr0.NE, vmxon: true };
  refused(checkCr0Write(M, st, st.cr0 & ~Cr0.NE), 'cr0.vmx-fixed');
  accepted(checkCr0Write(M, st, st.cr0 | Cr0.AM));
});

test('LMSW loads PE/MP/EM/TS only and cannot clear PE', () => {
  assert.equal(lmswValue(Cr0.PE | Cr0.ET | Cr0.TS, 0), Cr0.PE | Cr0.ET);
  assert.equal(lmswValue(Cr0.ET, 0xffff), Cr0.ET | Cr0.PE | Cr0.MP | Cr0.EM | Cr0.TS);
});

test('CR4: PAE cannot be cleared and LA57 cannot change while EFER.LMA=1', () => {
  refused(checkCr4Write(M, LONG, 0n), 'cr4.pae-clear-in-long-mode');
  accepted(checkCr4Write(M, PM, 0n));
  refused(checkCr4Write(M, LONG, Cr4.PAE | Cr4.LA57), 'cr4.la57-change-in-long-mode');
  accepted(checkCr4Write(M, { ...LONG, cr4: Cr4.PAE | Cr4.LA57 }, Cr4.PAE | Cr4.LA57 | Cr4.PGE));
  accepted(checkCr4Write(M, PM, Cr4.LA57));
});

test('CR4: PCIDE 0→1 needs EFER.LMA=1 and CR3[11:0]=0', () => {
  refused(checkCr4Write(M, { ...PM, cr4: Cr4.PAE }, Cr4.PAE | Cr4.PCIDE), 'cr4.pcide-without-lma');
  refused(checkCr4Write(M, { ...LONG, cr3: 0x1000n | 5n }, Cr4.PAE | Cr4.PCIDE), 'cr4.pcide-cr3-pcid');
  const e = accepted(checkCr4Write(M, { ...LONG, cr3: 0x1000n }, Cr4.PAE | Cr4.PCIDE));
  assert.equal(e.tlbFlush, 'none');
  const off = accepted(checkCr4Write(M, { ...LONG, cr4: Cr4.PAE | Cr4.PCIDE }, Cr4.PAE));
  assert.equal(off.tlbFlush, 'all', 'PCIDE 1→0 flushes every PCID');
});

test('CR4: CET needs CR0.WP', () => {
  refused(checkCr4Write(M, { ...LONG, cr0: LONG.cr0 & ~Cr0.WP }, Cr4.PAE | Cr4.CET), 'cr4.cet-without-wp');
  accepted(checkCr4Write(M, LONG, Cr4.PAE | Cr4.CET));
});

test('CR4: VMXE is refused in SMM and must stay set in VMX operation', () => {
  refused(checkCr4Write(M, { ...LONG, smm: true }, Cr4.PAE | Cr4.VMXE), 'cr4.vmxe-in-smm');
  accepted(checkCr4Write(M, LONG, Cr4.PAE | Cr4.VMXE));
  refused(checkCr4Write(M, { ...LONG, cr4: Cr4.PAE | Cr4.VMXE, vmxon: true }, Cr4.PAE), 'cr4.vmx-fixed');
});

test('CR4 side effects follow kvm_post_set_cr4', () => {
  assert.equal(accepted(checkCr4Write(M, PM, Cr4.PGE)).tlbFlush, 'all');
  const pae = accepted(checkCr4Write(M, PM, Cr4.PAE));
  assert.equal(pae.tlbFlush, 'current');
  assert.equal(pae.mmuReset, true);
  assert.equal(accepted(checkCr4Write(M, PM, Cr4.SMEP)).tlbFlush, 'current');
  assert.equal(
    accepted(checkCr4Write(M, { ...PM, cr4: Cr4.SMEP }, 0n)).tlbFlush,
    'none',
    'SMEP 1→0 needs no flush',
  );
  assert.equal(accepted(checkCr4Write(M, PM, Cr4.OSXSAVE)).cpuidDirty, true);
  assert.equal(accepted(checkCr4Write(M, LONG, Cr4.PAE | Cr4.PKE)).cpuidDirty, true);
  const plain = accepted(checkCr4Write(M, PM, Cr4.TSD));
  assert.deepEqual(
    [plain.mmuReset, plain.tlbFlush, plain.cpuidDirty, plain.loadPdptrs],
    [false, 'none', false, false],
  );
  assert.equal(accepted(checkCr4Write(M, PAE_PAGING, Cr4.PAE | Cr4.PGE)).loadPdptrs, true);
  assert.equal(accepted(checkCr4Write(M, PAE_PAGING, Cr4.PAE | Cr4.TSD)).loadPdptrs, false);
});

test('CR3: bits at or above MAXPHYADDR are refused, except LAM bits with LAM and NOFLUSH with PCIDE', () => {
  assert.equal(M.maxPhysAddr, 48);
  refused(checkCr3Write(M, PM, 1n << 48n), 'cr3.reserved');
  assert.equal(accepted(checkCr3Write(M, PM, (1n << 48n) - 0x1000n)).value, (1n << 48n) - 0x1000n);
  accepted(checkCr3Write(M, PM, 0x1000n | Cr3.LAM_U57));
  const noLam = deriveGuestModel(withFeatures(T, 'lam', false));
  refused(checkCr3Write(noLam, PM, 0x1000n | Cr3.LAM_U48), 'cr3.lam');
  refused(checkCr3Write(M, LONG, 0x1000n | Cr3.NOFLUSH), 'cr3.reserved');
  const e = accepted(checkCr3Write(M, { ...LONG, cr4: Cr4.PAE | Cr4.PCIDE }, 0x1000n | 3n | Cr3.NOFLUSH));
  assert.equal(e.value, 0x1003n, 'NOFLUSH is not stored');
  assert.equal(e.tlbFlush, 'none');
  assert.equal(accepted(checkCr3Write(M, LONG, 0x2000n)).tlbFlush, 'current');
});

test('CR3 in PAE paging reloads PDPTEs; PDPTE reserved bits make the load fail', () => {
  assert.equal(accepted(checkCr3Write(M, PAE_PAGING, 0x3000n)).loadPdptrs, true);
  assert.equal(accepted(checkCr3Write(M, LONG, 0x3000n)).loadPdptrs, false);
  assert.equal(pdpteReservedMask(M), (((1n << 64n) - 1n) & ~((1n << 48n) - 1n)) | 0x1e6n);
  accepted(checkPdptes(M, [0x1001n, 0n, 0x2001n, 0xfffn & ~1n]));
  refused(checkPdptes(M, [0x1001n | 0x20n, 0n, 0n, 0n]), 'pdpte.reserved');
  refused(checkPdptes(M, [0n, 0n, 0n, 1n | (1n << 50n)]), 'pdpte.reserved');
  refused(checkPdptes(M, [0n, 0n, 0n]), 'pdpte.count');
});

test('CR8: only TPR[3:0]', () => {
  assert.equal(accepted(checkCr8Write(M, LONG, 0xfn)).value, 0xfn);
  refused(checkCr8Write(M, LONG, 0x10n), 'cr8.reserved');
});

test('DR6/DR7: bits 63:32 reserved; fixed-1 bits forced', () => {
  refused(checkDr6Write(M, RESET_STATE, 1n << 32n), 'dr6.high-reserved');
  refused(checkDr7Write(M, RESET_STATE, 1n << 40n), 'dr7.high-reserved');
  const d6 = accepted(checkDr6Write(M, RESET_STATE, Dr6.BS | Dr6.B0));
  assert.equal(d6.value & 0xffff_ffffn, 0xffff4ff1n, 'RTM and BLD read 1 for a guest without them');
  const rtm = deriveGuestModel(withFeatures(T, 'rtm'));
  assert.equal(
    accepted(checkDr6Write(rtm, RESET_STATE, 0n)).value & Dr6.RTM,
    0n,
    'with RTM, DR6.RTM is writable (active low)',
  );
  const bld = deriveGuestModel(withFeatures(T, 'bus_lock_detect'));
  assert.equal(
    accepted(checkDr6Write(bld, RESET_STATE, 0n)).value & Dr6.BLD,
    0n,
    'with bus-lock detection, DR6.BLD is writable',
  );
  assert.equal(accepted(checkDr7Write(M, RESET_STATE, 0x1n)).value, 0x401n);
  assert.equal(
    accepted(checkDr7Write(M, RESET_STATE, 0xf001n)).value,
    0x2401n,
    'bits 12, 14, 15 are not stored',
  );
});
