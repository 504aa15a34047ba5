// Tests of the policy matrix (expansion from the manifest) and of the parallel scheduler (results in
// job order, independent of the job count and of completion order), plus worker processes end to end.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuidTable } from '../src/arch/x86/cpuid/table.ts';
import { featureByName } from '../src/arch/x86/cpuid/features.ts';
import {
  expandMatrix,
  inProcessSlot,
  neededPolicySpecs,
  offName,
  programPolicies,
  scheduleMatrix,
  workerSlot,
  type BackendPlan,
  type ExecutorSlot,
  type MatrixPolicy,
} from './matrix.ts';
import { MANIFEST, manifestOf } from './programs/manifest.ts';
import { listPrograms, loadGuestImage, REPO_ROOT, type GuestExecutor, type GuestRunRequest } from './runner.ts';
import { TsvmmError } from '../src/util/result.ts';

function plan(name: string, policies: string[]): BackendPlan {
  const m = new Map<string, MatrixPolicy>();
  for (const p of policies) m.set(p, { name: p, spec: p, description: p, cpuid: new CpuidTable([]) });
  return { name, flavour: name === 'kvm' ? 'kvm_pvm' : 'none', policies: m };
}

test('every manifest feature is a known CPUID feature and every program source has a manifest entry', () => {
  for (const [program, m] of Object.entries(MANIFEST)) {
    for (const f of m.features) assert.ok(featureByName(f), `${program}: unknown feature '${f}'`);
  }
  for (const p of listPrograms().filter((x) => !x.startsWith('paging'))) assert.ok(MANIFEST[p], `programs/${p}.c has no manifest entry`);
  assert.equal(manifestOf('no-such-program').features.length, 0);
});

test('a program runs under the base, one variant per feature turned off, and the models', () => {
  const specs = programPolicies('efer', 'host', ['x86-64-v2']);
  assert.deepEqual(
    specs.map((s) => s.spec),
    ['host', ...MANIFEST.efer!.features.map((f) => `host,-${f}`), 'x86-64-v2'],
  );
  assert.equal(specs[1]!.name, `-${MANIFEST.efer!.features[0]}`);
  assert.equal(specs[1]!.off, MANIFEST.efer!.features[0]);
  assert.equal(offName('x86-64-v3', 'avx'), 'x86-64-v3,-avx');
  // a program without features runs under the base and the models only
  assert.deepEqual(programPolicies('cr0', 'host', ['x86-64-v2']).map((s) => s.name), ['host', 'x86-64-v2']);
  // needed specs are deduplicated across programs
  const needed = neededPolicySpecs(['cr4', 'cpl3'], 'host', ['x86-64-v2']).map((s) => s.name);
  assert.equal(new Set(needed).size, needed.length);
  assert.ok(needed.includes('-umip') && needed.includes('-smep'));
});

test('expansion: programs × policies × backends, a policy a backend lacks is left out, multiboot32 extra', () => {
  const kvm = plan('kvm', ['host', '-nx', 'x86-64-v2']);
  const interp = plan('interp', ['host', '-nx', '-syscall', 'x86-64-v2']);
  const jobs = expandMatrix(['efer', 'cr4'], [kvm, interp], { base: 'host', models: ['x86-64-v2'] });
  const key = (j: { program: string; policy: string; backend: string; entry: string }): string => `${j.program}/${j.policy}/${j.backend}/${j.entry}`;
  const keys = jobs.map(key);
  assert.ok(keys.includes('efer/-nx/kvm/long64') && keys.includes('efer/-nx/interp/long64'));
  assert.ok(keys.includes('efer/-syscall/interp/long64'));
  assert.ok(!keys.includes('efer/-syscall/kvm/long64'), 'kvm has no -syscall policy');
  assert.ok(keys.includes('cr4/host/kvm/multiboot32') && keys.includes('cr4/host/interp/multiboot32'));
  assert.ok(!keys.some((k) => k.startsWith('efer/') && k.endsWith('multiboot32')));
  assert.equal(new Set(keys).size, keys.length, 'no duplicate jobs');
  // deterministic
  assert.deepEqual(expandMatrix(['efer', 'cr4'], [kvm, interp], { base: 'host', models: ['x86-64-v2'] }), jobs);
});

/** A fake executor: serial text derived from the request only, finishing after a pseudo-random delay. */
function fakeSlot(seed: number): ExecutorSlot {
  let n = seed;
  const exec: GuestExecutor = async (req: GuestRunRequest) => {
    n = (n * 1103515245 + 12345) & 0x7fffffff;
    await new Promise((r) => setTimeout(r, n % 7));
    const fail = req.program.endsWith('2') && req.cpuid.entries().length === 0;
    const serial = [
      `TSVMM-BEGIN ${req.program} entry=${req.entry}`,
      'TSVMM-CPUID 0x0 0x0 0xd 0x68747541 0x444d4163 0x69746e65',
      `TSVMM-REPORT ${fail ? 'FAIL' : 'PASS'} ${req.program}.check expect=ok got=${fail ? '#GP' : 'ok'}`,
      `TSVMM-SUMMARY passed=${fail ? 0 : 1} failed=${fail ? 1 : 0} skipped=0`,
      '',
    ].join('\n');
    return { outcome: 'debug-exit', exitCode: fail ? 3 : 1, serial, detail: 'debug-exit' };
  };
  return { executor: () => exec, close: async () => {} };
}

test('scheduling: the same cells in the same order whatever the job count and completion order', async () => {
  const programs = ['p1', 'p2', 'p3', 'p4', 'p5'];
  const plans = [plan('kvm', ['host', 'x86-64-v2']), plan('interp', ['host', 'x86-64-v2'])];
  const jobs = expandMatrix(programs, plans, { base: 'host', models: ['x86-64-v2'] });
  const run = async (n: number): Promise<string> => {
    let done = 0;
    const cells = await scheduleMatrix(jobs, {
      jobs: n,
      slots: (i) => fakeSlot(i * 7 + n),
      images: () => new Uint8Array(1),
      plans,
      onDone: () => void done++,
    });
    assert.equal(done, jobs.length);
    return JSON.stringify(cells.map((c) => [c.program, c.policy, c.backend, c.status, c.why, c.lines.map((l) => l.status)]));
  };
  const one = await run(1);
  assert.equal(await run(2), one);
  assert.equal(await run(5), one);
  assert.match(one, /"p2","host","kvm","fail"/, 'the failing cells are there');
  assert.match(one, /"p1","host","kvm","pass"/);
  await assert.rejects(
    scheduleMatrix(jobs, { jobs: 0, slots: () => fakeSlot(1), images: () => new Uint8Array(1), plans }),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CONFORMANCE_JOBS',
  );
});

test('an unknown backend or policy in a job is a clear error, not a hang', async () => {
  const plans = [plan('interp', ['host'])];
  await assert.rejects(
    scheduleMatrix([{ program: 'p1', policy: 'nope', backend: 'interp', entry: 'long64' }], { jobs: 1, slots: () => fakeSlot(1), images: () => new Uint8Array(1), plans }),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CONFORMANCE_POLICY',
  );
  assert.throws(() => inProcessSlot(new Map()).executor('kvm'), (e: unknown) => e instanceof TsvmmError && e.code === 'CONFORMANCE_BACKEND');
});

const hasGcc = spawnSync('gcc', ['--version']).status === 0;

test('worker processes run real guests on the interpreter with the same verdicts as in-process', { skip: hasGcc ? false : 'no gcc' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-guests-matrix-'));
  const b = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build-guests.mjs'), '--quiet', '--out', dir], { encoding: 'utf8' });
  assert.equal(b.status, 0, b.stderr);
  const { createInterpBackend } = await import('../src/vcpu/interp/index.ts');
  const backend = createInterpBackend();
  const { buildBackendPolicies } = await import('./matrix.ts');
  const policies = await buildBackendPolicies(backend, [{ name: 'host', spec: 'host' }, { name: '-nx', spec: 'host,-nx', off: 'nx' }]);
  const plans: BackendPlan[] = [{ name: 'interp', flavour: 'none', policies }];
  const jobs = expandMatrix(['efer', 'guestlib'], plans, { base: 'host', models: [] });
  const images = (p: string): Uint8Array => loadGuestImage(p, dir);
  const summary = (cs: Awaited<ReturnType<typeof scheduleMatrix>>): string =>
    JSON.stringify(cs.map((c) => [c.program, c.policy, c.status, c.lines.map((l) => `${l.line.name}:${l.status}:${l.line.got ?? ''}`)]));
  const inproc = await scheduleMatrix(jobs, { jobs: 1, slots: () => inProcessSlot(new Map([['interp', backend]])), images, plans });
  const workers = await scheduleMatrix(jobs, { jobs: 2, slots: () => workerSlot('kvm-exact'), images, plans });
  assert.equal(summary(workers), summary(inproc));
  assert.ok(inproc.every((c) => c.status === 'pass'), inproc.map((c) => c.why).join('\n'));
  // efer under -nx really differs: NXE expected #GP there
  const nxe = (c: (typeof inproc)[number]): string | undefined => c.lines.find((l) => l.line.name === 'efer.NXE')?.line.expect;
  assert.equal(nxe(inproc.find((c) => c.program === 'efer' && c.policy === 'host')!), 'ok');
  assert.equal(nxe(inproc.find((c) => c.program === 'efer' && c.policy === '-nx')!), '#GP');
});
