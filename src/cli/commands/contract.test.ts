// `tsvmm contract`: explain, vmx-msrs, modes, --json, --help and bad input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { main } from '../main.ts';
import type { CliIo } from '../io.ts';

async function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t + '\n'), err: (t) => void (err += t + '\n') };
  const code = await main(['contract', ...args], io);
  return { code, out, err };
}

test('explain cr4 names refused bits and the CPUID bit behind them', async () => {
  const r = await run('explain', 'cr4', '0x8000020');
  assert.equal(r.code, 0);
  assert.match(r.out, /bit +5 PAE +ok/);
  assert.match(
    r.out,
    /bit 27 LASS +refused CR4\.LASS \(bit 27\) is reserved: KVM keeps it reserved .*CPUID\.\(EAX=7,ECX=1\):EAX\[6\] LASS is 0/,
  );
  assert.match(r.out, /refused with #GP \[cr4\.reserved\]/);
});

test('explain efer in architectural mode and cr0 dropped bits; --json', async () => {
  const e = await run('explain', 'efer', '0x2001', '--mode', 'architectural');
  assert.match(e.out, /LMSLE +refused/);
  const c = await run('explain', 'cr0', '0x80000081');
  assert.match(c.out, /bit +7 bit7 +dropped/);
  assert.match(c.out, /accepted, commits 0x80000011/);
  const j = await run('explain', 'xcr0', '7', '--json');
  const doc = JSON.parse(j.out) as {
    register: string;
    bits: { name: string; status: string }[];
    asGuestWrite: { ok: boolean };
  };
  assert.equal(doc.register, 'xcr0');
  assert.deepEqual(
    doc.bits.map((b) => b.name),
    ['X87', 'SSE', 'AVX'],
  );
  assert.equal(doc.asGuestWrite.ok, true);
});

test('explain with --cpu-dump reads any dump format', async () => {
  const r = await run(
    'explain',
    'cr4',
    '0x800000',
    '--cpu-dump',
    '/work/shared/fixtures/cpuid/instlatx64/GenuineIntel00806F8_SapphireRapids_05_CPUID.txt',
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /CET +ok/);
  const missing = await run('explain', 'cr4', '1', '--cpu-dump', '/nonexistent/file');
  assert.equal(missing.code, 1);
  assert.match(missing.err, /CPUID_DUMP_READ/);
});

test('vmx-msrs prints every MSR and the CPUID bit behind the tied controls', async () => {
  const r = await run(
    'vmx-msrs',
    '--cpu-dump',
    '/work/shared/fixtures/cpuid/instlatx64/GenuineIntel0050654_SkylakeX_CPUID.txt',
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /0x480 +BASIC/);
  assert.match(r.out, /0x491 +VMFUNC/);
  assert.match(
    r.out,
    /TRUE_ENTRY_CTLS\.LOAD_BNDCFGS \(bit 16\): allowed — CPUID\.\(EAX=7,ECX=0\):EBX\[14\] MPX/,
  );
  const j = await run('vmx-msrs', '--json');
  const doc = JSON.parse(j.out) as { available: boolean; policy: Record<string, string> };
  assert.equal(doc.available, false, 'the AMD this-machine table has no VMX');
  assert.match(doc.policy.BASIC!, /^0x/);
});

test('modes, --help and usage errors', async () => {
  assert.match((await run('modes')).out, /cr4\.always-allowed/);
  const h = await run('--help');
  assert.equal(h.code, 0);
  assert.match(h.out, /usage:/);
  for (const args of [
    ['explain', 'cr9', '1'],
    ['explain', 'cr4', 'zz'],
    ['explain', 'cr4'],
    ['frob'],
    ['explain', 'cr4', '1', '--mode', 'x'],
    ['vmx-msrs', '--bogus'],
  ]) {
    const r = await run(...args);
    assert.equal(r.code, 2, args.join(' '));
    assert.match(r.err, /tsvmm contract: /);
  }
});
