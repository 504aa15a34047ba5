import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Feature } from '../arch/x86/cpuid/index.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { TsvmmError } from '../util/result.ts';
import { readDumpFile } from './dumps/detect.ts';
import { buildGuestCpuid } from './pipeline.ts';
import { parseCpuSpec } from './guest.ts';
import { standardSize, compactedSize } from './xsave.ts';
import { describeReason } from './reasons.ts';

const SHARED = new URL('../../../shared/fixtures/cpuid/', import.meta.url).pathname;
const LOCAL = new URL('./fixtures/', import.meta.url).pathname;
const cache = new Map<string, CpuidTable>();
const dump = (p: string): CpuidTable => {
  if (!cache.has(p)) cache.set(p, readDumpFile(p).table);
  return cache.get(p)!;
};
const here = (): CpuidTable => dump(LOCAL + 'this-host-cpuid-r.txt');
const matisse = (): CpuidTable => dump(SHARED + 'instlatx64/AuthenticAMD0870F10_K17_Matisse_CPUID.txt');
const genoa = (): CpuidTable => dump(SHARED + 'instlatx64/AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt');
const rome = (): CpuidTable => dump(SHARED + 'instlatx64/AuthenticAMD0830F10_K17_Rome_CPUID.txt');

test('--cpu spec syntax', () => {
  const s = parseCpuSpec('host,-avx,+avx2,force:xsaves,+la57!');
  assert.equal(s.base, 'host');
  assert.deepEqual(
    s.edits.map((e) => [e.op, e.name]),
    [
      ['-', 'avx'],
      ['+', 'avx2'],
      ['force', 'xsaves'],
      ['force', 'la57'],
    ],
  );
  for (const bad of ['', '+avx', 'host,avx', 'host,+', 'host,-a b']) {
    assert.throws(
      () => parseCpuSpec(bad),
      (e: unknown) => e instanceof TsvmmError && e.code === 'CPUID_BAD_SPEC',
      bad,
    );
  }
  assert.throws(
    () => buildGuestCpuid({ host: here(), backend: 'kvm', cpu: 'pentium' }),
    /unknown CPU model 'pentium'/,
  );
});

test('-avx drops AVX2 and every other dependant, each with its reason', () => {
  const g = buildGuestCpuid({ host: here(), backend: 'kvm', cpu: 'host,-avx' });
  assert.equal(g.ok, true);
  for (const f of [Feature.avx, Feature.avx2, Feature.fma, Feature.avx512f, Feature.avx512vl, Feature.vaes]) {
    assert.equal(g.table.hasBit(f), false, f.name);
  }
  const avx2 = g.changes.find((c) => c.feature === 'avx2' && c.stage === 'guest');
  assert.deepEqual(avx2?.reason, { kind: 'dependency', on: 'avx', removedBy: '-avx' });
  assert.equal(describeReason(avx2!.reason), 'it depends on avx, which -avx removes');
  const vl = g.changes.find((c) => c.feature === 'avx512vl' && c.stage === 'guest');
  assert.equal(vl?.reason.kind, 'dependency');
  // AVX state leaves XCR0 with it
  assert.equal(g.table.reg(0xd, 0, 'eax') & 0xfc, 0);
  assert.equal(g.table.reg(0xd, 0, 'ecx'), 576);
  // unrelated features stay
  assert.ok(g.table.hasBit(Feature.aes));
});

test('+avx2 with -avx is refused naming both ends, whatever the order', () => {
  for (const cpu of ['host,-avx,+avx2', 'host,+avx2,-avx']) {
    const g = buildGuestCpuid({ host: here(), backend: 'kvm', cpu });
    assert.equal(g.ok, false, cpu);
    const r = g.refusals.find((x) => x.code === 'broken-dependency');
    assert.equal(r?.feature, 'avx2');
    assert.equal(r?.other, 'avx');
    assert.match(r!.message, /avx2 depends on avx, which -avx removes/);
    assert.equal(g.table.hasBit(Feature.avx2), false);
  }
});

test('a bit the supported set lacks is refused with the reason; force is allowed, unsafe, and carries the erratum', () => {
  const g = buildGuestCpuid({ host: matisse(), backend: 'kvm', cpu: 'host,+xsaves' });
  assert.equal(g.ok, false);
  const r = g.refusals[0]!;
  assert.equal(r.code, 'not-supported');
  assert.equal(r.reasons[0]?.kind === 'erratum' && r.reasons[0].id, 'amd-1386');
  const f = buildGuestCpuid({ host: matisse(), backend: 'kvm', cpu: 'host,force:xsaves' });
  assert.equal(f.ok, true);
  assert.equal(f.table.hasBit(Feature.xsaves), true);
  assert.equal(f.unsafe.length, 1);
  assert.equal(f.unsafe[0]!.overrides[0]?.kind, 'erratum');
  // with XSAVES forced, the compacted size covers XCR0 | XSS
  assert.equal(
    f.table.reg(0xd, 1, 'ebx'),
    compactedSize(f.stages.supported.table, f.table.reg(0xd, 0, 'eax')),
  );
  // unknown and OS-reflected edits are refusals too
  const u = buildGuestCpuid({ host: here(), backend: 'kvm', cpu: 'host,+frobnicate,+osxsave' });
  assert.deepEqual(
    u.refusals.map((x) => x.code),
    ['unknown-feature', 'bad-spec'],
  );
});

test('normalized: OS bits cleared, XSAVE sizes from component sizes, topology, max leaves', () => {
  const g = buildGuestCpuid({ host: here(), backend: 'kvm', cpu: 'host', vcpus: 6 });
  const t = g.table;
  assert.equal(here().hasBit(Feature.osxsave), true);
  assert.equal(t.hasBit(Feature.osxsave), false);
  const xcr0 = t.reg(0xd, 0, 'eax');
  assert.equal(xcr0, 0xe7);
  assert.equal(t.reg(0xd, 0, 'ecx'), standardSize(t, xcr0));
  assert.equal(t.reg(0xd, 0, 'ecx'), 0x980, 'same as the host for the same components');
  for (let i = 2; i < 10; i++)
    assert.equal(t.get(0xd, i) !== undefined, ((xcr0 >>> i) & 1) === 1, `0xD subleaf ${i}`);
  // topology: 6 cores in one package
  assert.equal((t.reg(1, 0, 'ebx') >>> 16) & 0xff, 6);
  assert.equal(t.hasBit(Feature.ht), true);
  assert.deepEqual([t.get(0xb, 1)?.eax, t.get(0xb, 1)?.ebx, t.get(0xb, 1)?.ecx], [3, 6, 0x201]);
  assert.equal(t.reg(0x80000008, 0, 'ecx') & 0xff, 5);
  // max leaves match the entries present
  const basic = t.entries().filter((e) => e.function < 0x40000000);
  assert.equal(t.maxBasicLeaf(), Math.max(...basic.map((e) => e.function)));
  assert.equal(
    t.reg(7, 0, 'eax'),
    Math.max(
      ...t
        .entries()
        .filter((e) => e.function === 7)
        .map((e) => e.index),
    ),
  );
  const one = buildGuestCpuid({ host: here(), backend: 'kvm', vcpus: 1 }).table;
  assert.equal(one.hasBit(Feature.ht), false);
  assert.throws(() => buildGuestCpuid({ host: here(), backend: 'kvm', vcpus: 0 }), /vCPU count/);
});

test('models: real CPU models apply on a capable host, are refused on an older one, and cap MAXPHYADDR', () => {
  const r = buildGuestCpuid({ host: genoa(), backend: 'kvm', cpu: 'epyc-rome' });
  assert.equal(r.ok, true, JSON.stringify(r.refusals.map((x) => x.message)));
  assert.equal(r.table.reg(1, 0, 'eax'), 0x00830f10 & ~0, 'Rome signature family 17h model 31h');
  assert.equal(r.table.hasBit(Feature.avx512f), false);
  const why = r.explain('avx512f');
  assert.equal(why.chain[0]?.kind, 'model');
  assert.equal(r.table.hasBit(Feature.xsaves), false, 'Rome model leaves XSAVES out (erratum 1386)');
  const g = buildGuestCpuid({ host: rome(), backend: 'kvm', cpu: 'epyc-genoa' });
  assert.equal(g.ok, false);
  assert.ok(g.refusals.some((x) => x.feature === 'avx512f' && x.reasons[0]?.kind === 'host-lacks'));
  assert.equal(g.table.reg(0x80000008, 0, 'eax') & 0xff, 48, 'Genoa asks for 52 bits, Rome supports 48');
  assert.ok(g.notes.some((n) => /MAXPHYADDR 52 capped to 48/.test(n)));
  const v2 = buildGuestCpuid({ host: here(), backend: 'kvm', cpu: 'x86-64-v2' });
  assert.equal(v2.ok, true);
  assert.equal(v2.table.hasBit(Feature.avx), false);
  assert.equal(v2.table.reg(0xd, 0, 'eax'), 0, 'no XSAVE in v2');
  const v3 = buildGuestCpuid({ host: here(), backend: 'kvm', cpu: 'x86-64-v3,+avx512f' });
  assert.equal(v3.ok, true);
  assert.equal(v3.table.reg(0xd, 0, 'eax'), 0xe7);
});

test('explain: host lacks / backend / erratum / dependency / forced / OS-reflected', () => {
  const g = buildGuestCpuid({ host: matisse(), backend: 'kvm', cpu: 'host,-avx' });
  const x = g.explain('xsaves');
  assert.equal(x.offered, false);
  assert.match(x.summary, /erratum 1386/);
  assert.deepEqual(
    x.steps.map((s) => [s.stage, s.present]),
    [
      ['host', true],
      ['supported', false],
      ['guest', false],
      ['normalized', false],
    ],
  );
  const d = g.explain('avx2');
  assert.equal(d.chain[0]?.kind, 'dependency');
  assert.match(d.summary, /-avx removes/);
  assert.equal(
    g.explain('avx512f').chain.some((r) => r.kind === 'host-lacks'),
    true,
  );
  assert.equal(g.explain('vmx').chain[0]?.kind, 'backend');
  assert.equal(
    g.explain('osxsave').chain.some((r) => r.kind === 'os-reflected'),
    true,
  );
  assert.equal(g.explain('sse2').offered, true);
  const f = buildGuestCpuid({ host: matisse(), backend: 'kvm', cpu: 'host,+xsaves!' }).explain('xsaves');
  assert.equal(f.unsafe, true);
  assert.equal(f.chain.length, 1, 'the forced reason carries the erratum once');
  assert.match(f.summary, /FORCED \(unsafe\).*amd-1386/);
  const i = buildGuestCpuid({ host: matisse(), backend: 'interp' }).explain('avx512f');
  assert.ok(i.chain.some((r) => r.kind === 'backend' && r.backend === 'interp'));
  assert.throws(() => g.explain('nosuchfeature'), /unknown CPUID feature/);
});

test('NO_LMSL (efer_lmsle_mbz) is promised on both backends and kept by models; only -edit removes it', async () => {
  const { contractLint } = await import('../contract/lint.ts');
  for (const backend of ['kvm', 'interp'] as const) {
    for (const cpu of ['host', 'x86-64-v2', 'x86-64-v3']) {
      const g = buildGuestCpuid({ host: here(), backend, cpu });
      assert.equal(g.table.hasBit(Feature.efer_lmsle_mbz), true, `${backend} ${cpu}`);
      assert.equal(
        contractLint(g.table).some((f) => f.rule === 'contract.no-lmsl'),
        false,
        `${backend} ${cpu}: the contract lint is satisfied`,
      );
    }
    // the host (a Zen5 guest here) lacks the bit: the reason chain says tsvmm added it
    assert.equal(here().hasBit(Feature.efer_lmsle_mbz), false);
    const g = buildGuestCpuid({ host: here(), backend, cpu: 'host' });
    assert.match(g.explain('efer_lmsle_mbz').chain.map(describeReason).join(' '), /LMSLE/);
    const off = buildGuestCpuid({ host: here(), backend, cpu: 'host,-efer_lmsle_mbz' });
    assert.equal(off.table.hasBit(Feature.efer_lmsle_mbz), false);
  }
});
