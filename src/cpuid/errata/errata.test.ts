import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readAida64 } from '../dumps/aida64.ts';
import { vendorOf } from '../../arch/x86/cpuid/vendor.ts';
import { lookupFeature } from '../features.ts';
import { ERRATA, applicableErrata, matchesCpu, signatureOf, type QuirkContext } from './errata.ts';

const DIR = new URL('../../../../shared/fixtures/cpuid/instlatx64/', import.meta.url).pathname;
const KVM: QuirkContext = {
  backend: 'kvm',
  tdp: true,
  hostOspke: true,
  vendor: 'amd',
  allowSmallerMaxphyaddr: false,
};

/** Leaf 0 and leaf 1 of CPU 0 of a dump (the files are parsed once each). */
function ident(file: string): { vendor: string; eax1: number } {
  const t = readAida64(readFileSync(DIR + file, 'utf8')).table;
  return { vendor: vendorOf(t), eax1: t.reg(1, 0, 'eax') };
}

test('signatures: display family/model from CPUID.1:EAX', () => {
  assert.deepEqual(signatureOf(0x00800f11), { family: 0x17, model: 0x01, stepping: 1 });
  assert.deepEqual(signatureOf(0x00830f10), { family: 0x17, model: 0x31, stepping: 0 });
  assert.deepEqual(signatureOf(0x00a10f11), { family: 0x19, model: 0x11, stepping: 1 });
  assert.deepEqual(signatureOf(0x00050654), { family: 6, model: 0x55, stepping: 4 });
  assert.equal(
    matchesCpu({ vendor: 'intel', family: 6, models: [[0x55, 0x55]], steppings: [[4, 7]] }, 'intel', 0x50654),
    true,
  );
  assert.equal(
    matchesCpu({ vendor: 'intel', family: 6, models: [[0x55, 0x55]], steppings: [[5, 7]] }, 'intel', 0x50654),
    false,
  );
});

test('AMD erratum 1386 matches the family 17h dumps (Zen, Rome, Matisse) and no later AMD or any Intel part', () => {
  const ids = (file: string): string[] => {
    const { vendor, eax1 } = ident(file);
    return applicableErrata(vendor, eax1, { ...KVM, vendor: vendor === 'intel' ? 'intel' : 'amd' }).map(
      (e) => e.id,
    );
  };
  for (const f of ['AuthenticAMD0800F11_K17_Zen_CPUID4.txt', 'AuthenticAMD0870F10_K17_Matisse_CPUID.txt']) {
    assert.ok(ids(f).includes('amd-1386'), f);
  }
  assert.ok(!ids('AuthenticAMD0A00F11_K19_Milan_CPUID1.txt').includes('amd-1386'));
  assert.ok(!ids('GenuineIntel00306C3_Haswell_CPUID.txt').includes('amd-1386'));
  assert.ok(ids('AuthenticAMD0B00F21_K20_Turin_01_CPUID.txt').includes('amd-zen5-rdseed'));
  assert.ok(ids('GenuineIntel00306C3_Haswell_CPUID.txt').includes('kvm-umip-emulated-vmx'));
});

test('KVM quirks depend on the configuration', () => {
  const on = (ctx: Partial<QuirkContext>): string[] =>
    applicableErrata('amd', 0x00a10f11, { ...KVM, ...ctx }).map((e) => e.id);
  assert.deepEqual(on({}), ['kvm-mpx-amd']);
  assert.ok(on({ tdp: false }).includes('kvm-gbpages-shadow'));
  assert.ok(on({ tdp: false }).includes('kvm-shstk-needs-tdp'));
  assert.ok(on({ hostOspke: false }).includes('kvm-pku-needs-tdp-ospke'));
  assert.ok(on({ allowSmallerMaxphyaddr: true }).includes('kvm-cet-smaller-maxphyaddr'));
  assert.deepEqual(on({ backend: 'interp' }), [], 'KVM quirks do not apply to the interpreter');
});

test('every erratum names real features, a source and an effect', () => {
  for (const e of ERRATA) {
    assert.ok(e.source.length > 5 && e.title.length > 10, e.id);
    assert.ok((e.hide?.length ?? 0) + (e.force?.length ?? 0) > 0, e.id);
    for (const n of [...(e.hide ?? []), ...(e.force ?? [])]) assert.ok(lookupFeature(n), `${e.id}: ${n}`);
  }
});
