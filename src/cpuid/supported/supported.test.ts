import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Feature } from '../../arch/x86/cpuid/index.ts';
import type { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import { readDumpFile } from '../dumps/detect.ts';
import { readKvmJson } from '../dumps/kvm-json.ts';
import { reasonsIn } from '../stage.ts';
import { kvmCaps, kvmSupportedFromHost, kvmSupportedFromIoctl, KVM_PV_FEATURES_EAX } from './kvm.ts';
import { interpSupportedFromHost, INTERP_XCR0 } from './interp-supported.ts';
import { interpFeatureNames, INTERP_SYNTHESIZED } from './interp.ts';
import { osDisabledFeatures } from './common.ts';
import { cpuinfoFlagSet } from '../dumps/proc-cpuinfo.ts';
import { lookupFeature } from '../features.ts';

const SHARED = new URL('../../../../shared/fixtures/cpuid/', import.meta.url).pathname;
const LOCAL = new URL('../fixtures/', import.meta.url).pathname;
const cache = new Map<string, CpuidTable>();
const dump = (p: string): CpuidTable => {
  if (!cache.has(p)) cache.set(p, readDumpFile(p).table);
  return cache.get(p)!;
};
const here = (): CpuidTable => dump(LOCAL + 'this-host-cpuid-r.txt');
const zen1 = (): CpuidTable => dump(SHARED + 'instlatx64/AuthenticAMD0800F11_K17_Zen_CPUID4.txt');
const skx = (): CpuidTable => dump(SHARED + 'instlatx64/GenuineIntel0050654_SkylakeX_CPUID.txt');

test('every name in the KVM caps and interpreter lists resolves in the feature database', () => {
  assert.deepEqual(kvmCaps().unresolved, []);
  for (const n of [...interpFeatureNames(), ...Object.keys(INTERP_SYNTHESIZED)])
    assert.ok(lookupFeature(n), n);
});

test('KVM model on this machine: synthesized bits, runtime bits, leaf massaging', () => {
  const s = kvmSupportedFromHost(here());
  const t = s.table;
  // EMULATED_F bits (spec §5.2)
  for (const f of [
    Feature.x2apic,
    Feature.tsc_deadline_timer,
    Feature.hypervisor,
    Feature.tsc_adjust,
    Feature.arch_capabilities,
  ]) {
    assert.ok(t.hasBit(f), f.name);
  }
  assert.equal(here().hasBit(Feature.tsc_adjust), true);
  assert.equal(here().hasBit(Feature.arch_capabilities), false, 'host lacks ARCH_CAPABILITIES …');
  assert.equal(
    reasonsIn(s.changes, 'arch_capabilities', 'added')[0]?.kind,
    'synthesized',
    '… so KVM adds it with a reason',
  );
  // RUNTIME_F / OS-reflected / undeclared
  assert.equal(t.hasBit(Feature.osxsave), false);
  assert.equal(reasonsIn(s.changes, 'osxsave')[0]?.kind, 'os-reflected');
  assert.equal(t.hasBit(Feature.ht), false);
  assert.match(JSON.stringify(reasonsIn(s.changes, 'ht')), /never advertises/);
  // leaf massaging (spec §5.4)
  assert.ok(t.maxBasicLeaf() <= 0x24);
  assert.equal(t.reg(6, 0, 'eax'), 4, 'leaf 6: ARAT only');
  assert.equal(t.get(0x40000000, 0)?.ebx, 0x4b4d564b, 'KVMKVMKVM');
  assert.equal(t.reg(0x40000001, 0, 'eax'), KVM_PV_FEATURES_EAX);
  assert.equal(KVM_PV_FEATURES_EAX, 0x01007efb, "the same PV mask this machine's KVM reports");
  assert.equal(t.reg(0x80000001, 0, 'ebx') & 0x0fff0000, 0);
  assert.equal((t.reg(0x80000008, 0, 'eax') >>> 8) & 0xff, 48);
  // AMD mirrors follow leaf 1
  assert.ok(t.hasBit(Feature.ext_fpu));
  // XSAVE leaf: sizes match the host's for the same components
  assert.equal(t.reg(0xd, 0, 'eax'), here().reg(0xd, 0, 'eax') & 0xe7);
  assert.equal(t.reg(0xd, 0, 'ecx'), 0x980);
});

test('host kernel disables: RDSEED on this machine (raw CPUID has it, /proc/cpuinfo does not)', () => {
  const flags = cpuinfoFlagSet(readFileSync(LOCAL + 'this-host-proc-cpuinfo-flags.txt', 'utf8'));
  const off = osDisabledFeatures(here(), flags);
  assert.deepEqual([...off.keys()], ['rdseed']);
  const s = kvmSupportedFromHost(here(), { hostOsDisabled: new Set(off.keys()) });
  assert.equal(s.table.hasBit(Feature.rdseed), false);
  assert.equal(reasonsIn(s.changes, 'rdseed')[0]?.kind, 'host-os-disabled');
});

test('errata and quirks: XSAVES on family 17h, TDP-off quirks, MPX by vendor', () => {
  const z = kvmSupportedFromHost(zen1());
  assert.equal(zen1().hasBit(Feature.xsaves), true);
  assert.equal(z.table.hasBit(Feature.xsaves), false);
  assert.equal(z.table.hasBit(Feature.xsavec), true, 'XSAVEC is unaffected');
  const r = reasonsIn(z.changes, 'xsaves')[0];
  assert.equal(r?.kind === 'erratum' && r.id, 'amd-1386');
  assert.equal(z.table.reg(0xd, 1, 'ecx'), 0, 'no XSS without XSAVES');
  const noTdp = kvmSupportedFromHost(here(), { tdp: false });
  assert.equal(noTdp.table.hasBit(Feature.shstk), false);
  assert.equal(reasonsIn(noTdp.changes, 'shstk')[0]?.kind, 'erratum');
  assert.equal(kvmSupportedFromHost(here()).table.hasBit(Feature.shstk), true);
  // Skylake-X: Intel with MPX XCR0 bits → MPX offered; GBPAGES forced only without TDP
  const s = kvmSupportedFromHost(skx());
  assert.equal(s.table.hasBit(Feature.mpx), true);
  assert.equal(s.table.reg(0xd, 0, 'eax') & 0x18, 0x18);
  assert.equal(kvmSupportedFromHost(zen1()).table.hasBit(Feature.mpx), false);
  // SKX is an AIDA64 dump from Windows: no OSPKE → PKU hidden by the quirk (the part has no PKU anyway)
  assert.equal(s.table.hasBit(Feature.vmx), false);
  assert.match(JSON.stringify(reasonsIn(s.changes, 'vmx')), /nested/);
});

test("the real KVM_GET_SUPPORTED_CPUID result of this machine: ioctl reasons plus the model's", () => {
  const real = readKvmJson(readFileSync(SHARED + 'this-machine/kvm-supported-cpuid.json', 'utf8')).table;
  const s = kvmSupportedFromIoctl(here(), real);
  assert.ok(s.table.equals(real));
  assert.equal(s.table.hasBit(Feature.avx2), false);
  const why = reasonsIn(s.changes, 'avx2').map((r) => (r.kind === 'backend' ? r.rule : r.kind));
  assert.match(why[0]!, /real KVM_GET_SUPPORTED_CPUID/);
  assert.match(why[1]!, /rules would offer it/);
  // a bit the model also hides keeps the model's reason
  assert.ok(reasonsIn(s.changes, 'ht').some((r) => r.kind === 'backend' && /never advertises/.test(r.rule)));
});

test('interpreter: its own list, independent of the host bits; XSAVE x87|SSE only, no AVX (not executed)', () => {
  const s = interpSupportedFromHost(zen1());
  const t = s.table;
  assert.equal(zen1().hasBit(Feature.la57), false);
  assert.equal(t.hasBit(Feature.la57), true, 'LA57 is implemented in software');
  assert.equal(reasonsIn(s.changes, 'la57', 'added')[0]?.kind, 'synthesized');
  assert.equal(t.hasBit(Feature.avx512f), false);
  assert.equal(t.hasBit(Feature.xsaves), false, 'no supervisor state in the interpreter');
  assert.equal(t.hasBit(Feature.xsavec), true);
  assert.equal(t.hasBit(Feature.efer_lmsle_mbz), true);
  assert.equal(t.hasBit(Feature.hypervisor), true);
  assert.equal(t.reg(0xd, 0, 'eax'), INTERP_XCR0);
  assert.equal(t.reg(0xd, 0, 'ecx'), 576);
  assert.equal(t.hasBit(Feature.avx), false, 'VEX SIMD arithmetic is not executed: AVX is not offered');
  assert.equal(t.hasBit(Feature.tsc_deadline_timer), true, 'the machine decides whether it can keep it');
  assert.equal((t.reg(0x80000008, 0, 'eax') >>> 8) & 0xff, 57);
  assert.equal(t.vendorString(), 'AuthenticAMD');
});
