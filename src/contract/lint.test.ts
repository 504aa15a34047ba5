// contractLint: the contract's consistency checks on a CPUID policy, each finding positive and negative.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { contractLint, standardXsaveSize, compactedXsaveSize, type Finding } from './lint.ts';
import { thisMachineKvmSupported, withFeatures, withReg, withVendor } from './fixtures/tables.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';

const HOST = thisMachineKvmSupported();
/** The fixture fixed up so that it lints clean: XSAVE, AVX and AVX-512F offered to match leaf 0xD
 *  (this KVM reports their state but not the flags), NO_LMSL advertised. */
const CLEAN = withFeatures(HOST, ['xsave', 'avx', 'avx512f', 'efer_lmsle_mbz']);

function rules(t: CpuidTable): string[] {
  return contractLint(t).map((f: Finding) => f.rule);
}

test('the fixed-up this-machine policy lints clean; the raw one lacks NO_LMSL and XSAVE', () => {
  assert.deepEqual(contractLint(CLEAN), []);
  const raw = contractLint(HOST);
  assert.deepEqual(raw.map((f) => f.rule).sort(), ['contract.no-lmsl', 'contract.xsave-dependency']);
  const lmsl = raw.find((f) => f.rule === 'contract.no-lmsl')!;
  assert.equal(lmsl.severity, 'warning', 'AMD guest');
  assert.match(lmsl.reason, /CPUID\.\(EAX=0x80000008\):EBX\[20\]/);
});

test('leaf 0xD sizes must match the offered components', () => {
  const xcr0 = BigInt(CLEAN.reg(0xd, 0, 'eax'));
  assert.equal(standardXsaveSize(CLEAN, xcr0), CLEAN.reg(0xd, 0, 'ecx'));
  assert.ok(compactedXsaveSize(CLEAN, xcr0)! <= standardXsaveSize(CLEAN, xcr0)!);
  const bad = withReg(CLEAN, 0xd, 0, 'ecx', CLEAN.reg(0xd, 0, 'ecx') + 64);
  const f = contractLint(bad).find((x) => x.rule === 'contract.xsave-size');
  assert.ok(
    f && f.severity === 'error' && /ECX = \d+ but the offered XCR0 components need \d+/.test(f.reason),
  );
  // a component enumerated without its subleaf
  const noSub = withReg(CLEAN, 0xd, 0, 'eax', CLEAN.reg(0xd, 0, 'eax') | (1 << 9));
  assert.ok(rules(noSub).includes('contract.xsave-component'));
});

test('XCR0 dependency rules for the offered mask', () => {
  // AVX-512 offered partially
  const partial = withReg(CLEAN, 0xd, 0, 'eax', CLEAN.reg(0xd, 0, 'eax') & ~(1 << 6));
  const f = contractLint(partial).find((x) => x.rule === 'contract.xcr0-dependency');
  assert.ok(f && /AVX-512/.test(f.reason));
  const noSse = withReg(CLEAN, 0xd, 0, 'eax', CLEAN.reg(0xd, 0, 'eax') & ~2);
  assert.ok(rules(noSse).includes('contract.xcr0-dependency'));
  // a flag without its state, or state without its flag
  assert.ok(rules(withFeatures(CLEAN, 'avx', false)).includes('contract.xcr0-feature'));
  assert.ok(rules(withFeatures(CLEAN, 'pku')).includes('contract.xcr0-feature'));
});

test('MAXPHYADDR and linear-address width', () => {
  const eax = CLEAN.reg(0x80000008, 0, 'eax');
  assert.ok(rules(withReg(CLEAN, 0x80000008, 0, 'eax', (eax & ~0xff) | 60)).includes('contract.maxphyaddr'));
  assert.ok(
    rules(withReg(CLEAN, 0x80000008, 0, 'eax', (eax & ~0xff00) | (52 << 8))).includes(
      'contract.virt-addr-bits',
    ),
  );
  assert.ok(rules(withFeatures(CLEAN, 'la57')).includes('contract.la57'), 'LA57 with 48-bit addresses');
  assert.ok(
    !rules(withReg(withFeatures(CLEAN, 'la57'), 0x80000008, 0, 'eax', (eax & ~0xff00) | (57 << 8))).includes(
      'contract.la57',
    ),
  );
});

test('feature dependencies and OS-reflected bits', () => {
  const xsavesNoXsave = withFeatures(withFeatures(CLEAN, 'xsave', false), 'xsaves');
  const f = contractLint(xsavesNoXsave).find(
    (x) => x.rule === 'contract.xsave-dependency' && x.severity === 'error',
  );
  assert.ok(f && /XSAVES/.test(f.reason));
  assert.ok(rules(withFeatures(CLEAN, 'lass')).includes('contract.dependency'), 'LASS without SMAP');
  assert.ok(!rules(withFeatures(CLEAN, ['lass', 'smap'])).includes('contract.dependency'));
  assert.ok(rules(withFeatures(CLEAN, 'osxsave')).includes('contract.os-bit'));
});

test('VMX: vendor mismatch and controls the policy clears', () => {
  const amdVmx = withFeatures(CLEAN, 'vmx');
  assert.ok(rules(amdVmx).includes('contract.vmx-vendor'));
  const intel = withFeatures(withVendor(CLEAN, 'GenuineIntel'), 'vmx');
  const f = contractLint(intel).find((x) => x.rule === 'contract.vmx-controls');
  assert.ok(
    f && /LOAD_BNDCFGS/.test(f.reason) && /CLEAR_BNDCFGS/.test(f.reason),
    'no MPX: the BNDCFGS controls are cleared',
  );
  assert.ok(!rules(intel).includes('contract.vmx-vendor'));
  assert.ok(rules(withFeatures(withVendor(CLEAN, 'GenuineIntel'), 'svm')).includes('contract.svm-vendor'));
});
