import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../main.ts';
import type { CliIo } from '../io.ts';

const SHARED = new URL('../../../../shared/fixtures/cpuid/', import.meta.url).pathname;
const LOCAL = new URL('../../cpuid/fixtures/', import.meta.url).pathname;
const X = SHARED + 'instlatx64/';
const HERE = LOCAL + 'this-host-cpuid-r.txt';

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const io: CliIo = { out: (t) => void (out += t + '\n'), err: (t) => void (err += t + '\n') };
  const code = await main(argv, io);
  return { code, out, err };
}

const hasCpuidTool = (() => {
  try {
    execFileSync('cpuid', ['-r', '-1'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test(
  'cpuid show --host decodes this machine by feature name',
  { skip: !hasCpuidTool && 'the cpuid tool is not installed' },
  async () => {
    const r = await run('cpuid', 'show', '--host');
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /CPUID of this machine: cpuid-r, CPU 0/);
    assert.match(r.out, /CPUID\.\(EAX=1\):EDX\s+fpu vme/);
    assert.match(r.out, /features \(\d+\):/);
  },
);

test('cpuid show on a dump: human, --json, --raw, --format, a guest stage', async () => {
  let r = await run(
    'cpuid',
    'show',
    '--host-dump',
    X + 'GenuineIntel00B06D1_LunarLake_04_CPUID.txt',
    '--dump-cpu',
    '4',
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /aida64, CPU 4 of 8, 2 distinct table\(s\)/);
  assert.match(r.out, /GenuineIntel/);
  r = await run('cpuid', 'show', '--host-dump', HERE, '--json');
  const j = JSON.parse(r.out);
  assert.equal(j.vendor, 'amd');
  assert.ok(j.features.includes('avx512f'));
  assert.equal(j.cpuCount, 2);
  r = await run('cpuid', 'show', '--host-dump', HERE, '--cpu', 'host,-avx512f', '--format', 'kvm-json');
  assert.equal(r.code, 0);
  assert.ok(JSON.parse(r.out).entries.length > 10);
  r = await run('cpuid', 'show', '--host-dump', HERE, '--stage', 'supported', '--raw');
  assert.match(r.out, /CPUID supported \(kvm, --cpu host\)/);
  assert.match(r.out, /raw:\nCPU 0:/);
});

test('cpuid explain xsaves on a family 17h dump names the erratum', async () => {
  const r = await run(
    'cpuid',
    'explain',
    'xsaves',
    '--host-dump',
    X + 'AuthenticAMD0800F11_K17_Zen_CPUID4.txt',
  );
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /xsaves is not offered: amd-1386: AMD erratum 1386/);
  assert.match(r.out, /supported\s+absent\s+\(hidden\)/);
  const j = JSON.parse(
    (
      await run(
        'cpuid',
        'explain',
        'xsaves',
        '--host-dump',
        X + 'AuthenticAMD0800F11_K17_Zen_CPUID4.txt',
        '--cpu',
        'host,force:xsaves',
        '--json',
      )
    ).out,
  );
  assert.equal(j.unsafe, true);
  assert.equal(j.offered, true);
});

test('cpuid check: +avx2 with -avx is refused naming both; -avx alone drops AVX2 and says so', async () => {
  let r = await run('cpuid', 'check', '--host-dump', HERE, '--cpu', 'host,-avx,+avx2');
  assert.equal(r.code, 1);
  assert.match(r.out, /REFUSED \+avx2: avx2 depends on avx, which -avx removes/);
  r = await run('cpuid', 'check', '--host-dump', HERE, '--cpu', 'host,-avx');
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /dropped avx2: it depends on avx, which -avx removes/);
  assert.match(r.out, /dropped fma: /);
  const j = JSON.parse(
    (await run('cpuid', 'check', '--host-dump', HERE, '--cpu', 'host,-avx', '--json')).out,
  );
  assert.ok(j.dropped.some((d: { feature: string }) => d.feature === 'avx512f'));
  r = await run(
    'cpuid',
    'check',
    '--host-dump',
    X + 'AuthenticAMD0830F10_K17_Rome_CPUID.txt',
    '--cpu',
    'epyc-genoa',
  );
  assert.equal(r.code, 1);
  assert.match(r.out, /REFUSED model EPYC-Genoa needs avx512f/);
});

test('cpuid baseline on three real dumps gives a policy with reasons; diff and explain read it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-cpuid-'));
  const pol = join(dir, 'policy.json');
  const files = [
    'AuthenticAMD0830F10_K17_Rome_CPUID.txt',
    'AuthenticAMD0A00F11_K19_Milan_CPUID1.txt',
    'AuthenticAMD0A10F11_K19_Genoa_01_CPUID.txt',
  ].map((f) => X + f);
  let r = await run('cpuid', 'baseline', ...files, '-o', pol);
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /baseline of 3 host\(s\) for the kvm backend, vendor amd/);
  assert.match(
    r.out,
    /xsaves\s+baseline: not offered on every host \(AuthenticAMD0830F10_K17_Rome_CPUID\.txt: amd-1386\)/,
  );
  const policy = JSON.parse(readFileSync(pol, 'utf8'));
  assert.equal(policy.kind, 'tsvmm-cpuid-policy');
  r = await run('cpuid', 'explain', 'avx512f', '--policy', pol);
  assert.match(r.out, /hidden by the policy/);
  r = await run('cpuid', 'diff', files[2]!, pol);
  assert.equal(r.code, 1);
  assert.match(r.out, /INCOMPATIBLE/);
  assert.match(r.out, /first incompatibility: /);
  r = await run('cpuid', 'diff', pol, files[2]!);
  assert.equal(r.code, 0, r.out);
  // the policy as a --cpu base: runs on Genoa; explain names the baseline reason
  r = await run('cpuid', 'check', '--host-dump', files[2]!, '--cpu', `policy:${pol}`);
  assert.equal(r.code, 0, r.out);
  r = await run('cpuid', 'explain', 'avx512f', '--host-dump', files[2]!, '--cpu', `policy:${pol},-avx2`);
  assert.match(r.out, /not offered: model policy:.*baseline: not offered on every host/);
  r = await run('cpuid', 'check', '--host-dump', files[2]!, '--cpu', 'policy:/nonexistent.json');
  assert.equal(r.code, 1);
  r = await run('cpuid', 'baseline', files[0]!, X + 'GenuineIntel00306C3_Haswell_CPUID.txt');
  assert.equal(r.code, 1);
  assert.match(r.err, /hosts mix vendors.*--vendor/);
});

test('usage errors exit 2, bad input exits 1, --help on every subcommand exits 0', async () => {
  for (const sub of ['show', 'explain', 'diff', 'baseline', 'check']) {
    const r = await run('cpuid', sub, '--help');
    assert.equal(r.code, 0, sub);
    assert.match(r.out, new RegExp(`usage: tsvmm cpuid ${sub}`));
  }
  assert.equal((await run('cpuid')).code, 2);
  assert.equal((await run('cpuid', '--help')).code, 0);
  assert.equal((await run('cpuid', 'frob')).code, 2);
  assert.equal((await run('cpuid', 'show', '--bogus')).code, 2);
  assert.equal((await run('cpuid', 'check')).code, 2);
  assert.equal((await run('cpuid', 'check', '--cpu', 'host', '--backend', 'qemu')).code, 2);
  assert.equal((await run('cpuid', 'show', '--vcpus', 'many', '--host-dump', HERE, '--cpu', 'host')).code, 2);
  assert.equal((await run('cpuid', 'explain')).code, 2);
  assert.equal((await run('cpuid', 'diff', HERE)).code, 2);
  let r = await run('cpuid', 'show', '--host-dump', '/nonexistent/x.txt');
  assert.equal(r.code, 1);
  assert.match(r.err, /cannot read \/nonexistent\/x\.txt: ENOENT \[CPUID_DUMP_READ\]/);
  r = await run('cpuid', 'show', '--host-dump', LOCAL + 'README.md');
  assert.equal(r.code, 1);
  assert.match(r.err, /CPUID_(DUMP_FORMAT|PARSE)/);
  r = await run('cpuid', 'explain', 'nosuch', '--host-dump', HERE);
  assert.equal(r.code, 1);
  assert.match(r.err, /unknown CPUID feature/);
  r = await run('cpuid', 'check', '--host-dump', HERE, '--cpu', 'host,avx');
  assert.equal(r.code, 1);
  assert.match(r.err, /CPUID_BAD_SPEC/);
});
