// The guest model: masks derived once from the guest CPUID (spec §10.1).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cr4 } from '../arch/x86/registers/cr4.ts';
import { Efer } from '../arch/x86/registers/efer.ts';
import { deriveGuestModel, MODE_DIFFERENCES } from './model.ts';
import { barebones, thisMachineKvmSupported, withFeatures, withReg } from './fixtures/tables.ts';
import { TsvmmError } from '../util/result.ts';

const T = thisMachineKvmSupported();

test('this machine: AMD vendor, MAXPHYADDR 48, XCR0 from leaf 0xD, EFER gates', () => {
  const m = deriveGuestModel(T);
  assert.equal(m.vendor, 'amd');
  assert.equal(m.amdLike, true);
  assert.equal(m.maxPhysAddr, 48);
  assert.equal(m.reservedGpaMask, ((1n << 64n) - 1n) ^ ((1n << 48n) - 1n));
  assert.equal(m.xcr0Valid, 0xe7n);
  assert.equal(m.xssValid, 0n);
  assert.ok(m.eferGuestValid & Efer.NXE && !(m.eferGuestValid & Efer.LMSLE));
  assert.equal(m.cr4Valid & Cr4.SMEP, 0n, 'this KVM does not offer SMEP');
});

test('barebones: MAXPHYADDR defaults to 36; only always-allowed CR4 bits', () => {
  const m = deriveGuestModel(barebones());
  assert.equal(m.maxPhysAddr, 36);
  assert.equal(m.cr4Valid, 0x7ffn);
  assert.equal(m.xcr0Valid, 1n, 'x87 is always accepted');
  assert.equal(deriveGuestModel(barebones(), { mode: 'architectural' }).cr4Valid, Cr4.PCE);
});

test('hostSupported narrows the gates (KVM caps ∧ guest CPUID); the backend XCR0 mask is an option', () => {
  const guest = withFeatures(T, ['smep', 'la57']);
  assert.ok(deriveGuestModel(guest).cr4Valid & Cr4.SMEP);
  const m = deriveGuestModel(guest, { hostSupported: T });
  assert.equal(m.cr4Valid & Cr4.SMEP, 0n);
  assert.match(m.absentReason('smep'), /KVM does not support .*SMEP/);
  assert.equal(deriveGuestModel(T, { supportedXcr0: 3n }).xcr0Valid, 3n);
});

test('GBPAGES: with TDP the host decides (spec §5.6), without TDP the guest CPUID', () => {
  const host = withFeatures(T, 'gbpages', true);
  const guest = withFeatures(T, 'gbpages', false);
  assert.equal(deriveGuestModel(guest, { hostSupported: host }).gbpages, true);
  assert.equal(deriveGuestModel(guest, { hostSupported: host, tdp: false }).gbpages, false);
  assert.equal(deriveGuestModel(guest, { hostSupported: host, mode: 'architectural' }).gbpages, false);
});

test('bad input: a nonsensical MAXPHYADDR or mode is a TsvmmError', () => {
  const eax = T.reg(0x80000008, 0, 'eax');
  assert.throws(
    () => deriveGuestModel(withReg(T, 0x80000008, 0, 'eax', (eax & ~0xff) | 64)),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CONTRACT_MODEL',
  );
  assert.throws(() => deriveGuestModel(T, { mode: 'bogus' as never }), /unknown contract mode/);
});

test('mode differences are documented as data with sources', () => {
  assert.ok(MODE_DIFFERENCES.length >= 5);
  for (const d of MODE_DIFFERENCES)
    assert.ok(d.rule && d.kvm && d.architectural && /§|SDM/.test(d.source), d.rule);
});

test('bad arguments to the checks are TsvmmErrors with stable codes, not crashes', async () => {
  const { checkCr4Write, checkMsrWrite, checkSregs, RESET_STATE } = await import('./index.ts');
  const m = deriveGuestModel(T);
  const bad = (e: unknown): boolean => e instanceof TsvmmError && e.code === 'CONTRACT_BAD_VALUE';
  assert.throws(() => checkCr4Write(m, RESET_STATE, -1n), bad);
  assert.throws(() => checkCr4Write(m, RESET_STATE, 1n << 64n), bad);
  assert.throws(() => checkCr4Write(m, RESET_STATE, 5 as never), bad);
  assert.throws(() => checkMsrWrite(m, RESET_STATE, 1.5, 0n), bad);
  assert.throws(() => checkSregs(m, { cr0: 0n, cr3: 0n, cr4: 0n, efer: 0n } as never), bad);
  assert.throws(
    () => deriveGuestModel({} as never),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CONTRACT_MODEL',
  );
});
