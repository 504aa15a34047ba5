import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Feature } from '../arch/x86/cpuid/index.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { TsvmmError } from '../util/result.ts';
import { readDumpFile } from './dumps/detect.ts';
import { readKvmJson } from './dumps/kvm-json.ts';
import { computeBaseline, type BaselineHost } from './baseline.ts';
import { comparePolicies } from './compare.ts';
import { policyToJson, readPolicy } from './policy.ts';
import { buildGuestCpuid } from './pipeline.ts';

const DIR = new URL('../../../shared/fixtures/cpuid/instlatx64/', import.meta.url).pathname;
const cache = new Map<string, CpuidTable>();
const host = (label: string, file: string): BaselineHost => {
  if (!cache.has(file)) cache.set(file, readDumpFile(DIR + file).table);
  return { label, table: cache.get(file)! };
};
const rome = (): BaselineHost => host('rome', 'AuthenticAMD0830F10_K17_Rome_CPUID.txt');
const milan = (): BaselineHost => host('milan', 'AuthenticAMD0A00F11_K19_Milan_CPUID1.txt');
const genoa = (): BaselineHost => host('genoa', 'AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt');
const skx = (): BaselineHost => host('skx', 'GenuineIntel0050654_SkylakeX_CPUID.txt');
const haswell = (): BaselineHost => host('haswell', 'GenuineIntel00306C3_Haswell_CPUID.txt');

test('baseline of Rome, Milan, Genoa: intersection with a reason per hidden bit', () => {
  const r = computeBaseline([rome(), milan(), genoa()], { backend: 'kvm' });
  const p = r.policy;
  assert.equal(p.vendor, 'amd');
  assert.deepEqual(p.hosts, ['rome', 'milan', 'genoa']);
  // Zen 2 has the XSAVES erratum: hidden, and the reason names the host and the erratum
  assert.equal(r.table.hasBit(Feature.xsaves), false);
  assert.match(p.hidden.xsaves![0]!.text, /rome: amd-1386/);
  // AVX-512 only on Genoa
  assert.deepEqual(
    p.hidden.avx512f![0]!.reason.kind === 'baseline' && p.hidden.avx512f![0]!.reason.missingOn,
    ['rome', 'milan'],
  );
  assert.equal(r.table.hasBit(Feature.avx2), true);
  assert.equal(r.table.hasBit(Feature.xsavec), true);
  // fields: the minimum MAXPHYADDR, XCR0 for the common components
  assert.equal(p.fields.physAddrBits, 48);
  assert.equal(p.fields.xcr0, '0x7');
  assert.equal(r.table.reg(0xd, 0, 'ecx'), 832);
  // every hidden feature has at least one reason and is absent from the table
  for (const [name, rs] of Object.entries(p.hidden)) {
    assert.ok(rs.length > 0 && rs.every((x) => x.text.length > 0), name);
    assert.equal(r.table.hasBit(Feature[name as keyof typeof Feature]), false, name);
  }
  // the policy is JSON that both the policy reader and the KVM JSON reader accept
  const json = policyToJson(p);
  const back = readPolicy(json);
  assert.ok(back.table.equals(r.table));
  assert.ok(readKvmJson(json).table.equals(r.table));
  assert.deepEqual(back.policy.features, p.features);
});

test('vendor rule: mixed vendors are refused unless --vendor; then vendor-neutral common bits only', () => {
  assert.throws(
    () => computeBaseline([genoa(), skx()], { backend: 'kvm' }),
    (e: unknown) =>
      e instanceof TsvmmError &&
      e.code === 'CPUID_BASELINE_VENDOR' &&
      /amd \(genoa\) and intel \(skx\)/.test(e.message),
  );
  const r = computeBaseline([genoa(), skx(), haswell()], { backend: 'kvm', vendor: 'intel' });
  assert.equal(r.table.vendorString(), 'GenuineIntel');
  assert.equal(r.table.reg(1, 0, 'eax'), skx().table.reg(1, 0, 'eax'), 'identity of the first Intel host');
  assert.equal(r.table.hasBit(Feature.sse4a), false);
  assert.equal(r.table.hasBit(Feature.avx2), true);
  assert.equal(r.table.hasBit(Feature.avx512f), false, 'Haswell lacks it');
  assert.equal(r.policy.hidden.vmx, undefined, 'a bit no host offers is not listed');
  assert.equal(r.policy.hidden.sse4a?.[0]?.reason.kind, 'vendor');
  assert.ok(Object.values(r.policy.hidden).some((rs) => rs.some((x) => x.reason.kind === 'vendor')));
  assert.ok(r.policy.notes.some((n) => /cross-vendor/.test(n)));
  assert.throws(() => computeBaseline([genoa()], { backend: 'kvm', vendor: 'intel' }), /every host is amd/);
  assert.throws(() => computeBaseline([], { backend: 'kvm' }), /at least one host/);
});

test('compare: what a guest loses or gains, and the first incompatibility', () => {
  const base = computeBaseline([rome(), milan(), genoa()], { backend: 'kvm' });
  const g = buildGuestCpuid({ host: genoa().table, backend: 'kvm' }).table;
  const down = comparePolicies(
    { label: 'genoa', table: g },
    { label: 'baseline', table: base.table, policy: base.policy },
  );
  assert.equal(down.compatible, false);
  assert.ok(down.lost.includes('avx512f'));
  assert.ok(down.lost.includes('xsaves'));
  assert.equal(down.firstIncompatibility?.what, down.lost[0]);
  assert.match(
    down.firstIncompatibility!.why,
    /baseline does not offer it — baseline: not offered on every host/,
  );
  const up = comparePolicies({ label: 'baseline', table: base.table }, { label: 'genoa', table: g });
  assert.equal(up.compatible, true, JSON.stringify(up.firstIncompatibility));
  assert.deepEqual(up.lost, []);
  assert.ok(up.gained.includes('avx512f'));
  const cross = comparePolicies(
    { label: 'genoa', table: g },
    { label: 'skx', table: buildGuestCpuid({ host: skx().table, backend: 'kvm' }).table },
  );
  assert.equal(cross.firstIncompatibility?.what, 'vendor');
  const self = comparePolicies({ label: 'a', table: g }, { label: 'b', table: g.clone() });
  assert.equal(self.compatible, true);
  assert.deepEqual([self.lost, self.gained], [[], []]);
});
