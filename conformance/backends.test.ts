// Runs every conformance program under several CPU policies on each available backend (issue 4 item
// 7): on /dev/kvm when it is usable, and on the TypeScript interpreter once it can run them. A cell
// must pass (every report line PASS or a recorded deviation); a cell the backend could not run is
// reported as "oracle unavailable" and never counts as a pass.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Backend } from '../src/vcpu/backend.ts';
import {
  derivePolicies,
  detectHostFlavour,
  formatCell,
  listPrograms,
  loadGuestImage,
  machineExecutor,
  REPO_ROOT,
  runCell,
  type CellResult,
  type GuestEntry,
  type Policy,
} from './runner.ts';
import type { HostFlavour } from './deviations.ts';

const hasGcc = spawnSync('gcc', ['--version']).status === 0;

let built: string | undefined;
/** Build the guests once per test file, into a private directory (no race with `npm run build:guests`). */
function buildGuests(): string {
  if (built) return built;
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-guests-run-'));
  const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build-guests.mjs'), '--quiet', '--out', dir], { encoding: 'utf8' });
  assert.equal(r.status, 0, `build-guests failed:\n${r.stdout}${r.stderr}`);
  built = dir;
  return dir;
}

async function kvmBackend(): Promise<Backend | string> {
  try {
    const kvm = await import('../src/vcpu/kvm/index.ts');
    const avail = kvm.isKvmAvailable();
    if (!avail.ok) return `KVM is not usable here: ${avail.reason}`;
    return kvm.createKvmBackend();
  } catch (e) {
    return `the KVM backend could not be loaded: ${(e as Error).message}`;
  }
}

async function runMatrix(
  t: TestContext,
  backend: Backend,
  flavour: HostFlavour,
  policies: readonly Policy[],
  extra: { program: string; policy: string; entry: GuestEntry }[] = [],
): Promise<CellResult[]> {
  const dir = buildGuests();
  const exec = machineExecutor(backend);
  const cells: CellResult[] = [];
  const jobs = [
    ...listPrograms().flatMap((program) => policies.map((policy) => ({ program, policy, entry: 'long64' as GuestEntry }))),
    ...extra.map((x) => ({ ...x, policy: policies.find((p) => p.name === x.policy)! })),
  ];
  for (const job of jobs) {
    const cell = await runCell(exec, {
      program: job.program,
      image: loadGuestImage(job.program, dir),
      policy: job.policy,
      backend: backend.name,
      flavour,
      entry: job.entry,
      timeoutMs: 60_000,
    });
    for (const line of formatCell(cell)) t.diagnostic(`${job.entry === 'long64' ? '' : `[${job.entry}] `}${line}`);
    cells.push(cell);
  }
  return cells;
}

test('conformance programs on KVM under several CPU policies', { skip: hasGcc ? false : 'gcc is not installed: no guests to run' }, async (t) => {
  const backend = await kvmBackend();
  if (typeof backend === 'string') {
    t.skip(backend);
    return;
  }
  const policies = await derivePolicies(backend);
  assert.ok(policies.length >= 2, 'at least two policies');
  t.diagnostic(`policies: ${policies.map((p) => `${p.name} = ${p.description}`).join('; ')}`);
  const cells = await runMatrix(t, backend, detectHostFlavour(), policies, [{ program: 'cr4', policy: 'full', entry: 'multiboot32' }]);

  const failed = cells.filter((c) => c.status === 'fail');
  assert.deepEqual(
    failed.map((c) => `${c.program} × ${c.policy}: ${c.why}`),
    [],
    'every cell passes (or its failures are recorded deviations)',
  );
  for (const program of listPrograms()) {
    const passed = cells.filter((c) => c.program === program && c.status === 'pass').map((c) => c.policy);
    assert.ok(new Set(passed).size >= 2, `${program} passed under ≥2 policies (got: ${passed.join(', ') || 'none'}; others unavailable)`);
  }
  // The policies must really differ as the guest sees them, or "two policies" means nothing.
  const efer = cells.filter((c) => c.program === 'efer');
  const views = new Set(efer.map((c) => JSON.stringify(c.report.cpuid)));
  assert.ok(views.size >= 2, 'the guest saw different CPUID under different policies');
  const entry32 = cells.find((c) => c.report.begin?.entry === 'multiboot32');
  assert.ok(entry32 && entry32.status !== 'fail', 'the multiboot32 entry path boots and reports');
});

test('conformance programs on the interpreter', async (t) => {
  let backend: Backend;
  try {
    const interp = await import('../src/vcpu/interp/index.ts');
    backend = interp.createInterpBackend();
  } catch (e) {
    t.skip(`the interpreter backend cannot be created yet: ${(e as Error).message}`);
    return;
  }
  if (!hasGcc) {
    t.skip('gcc is not installed: no guests to run');
    return;
  }
  // Until the interpreter runs these guests, one probe decides: anything but a completed run skips.
  const dir = buildGuests();
  const policies = await derivePolicies(backend);
  const probe = await runCell(machineExecutor(backend), {
    program: 'efer',
    image: loadGuestImage('efer', dir),
    policy: policies[0]!,
    backend: backend.name,
    flavour: 'none',
    timeoutMs: 20_000,
  });
  if (probe.last.outcome !== 'debug-exit') {
    t.skip(`the interpreter cannot run the conformance guests yet: ${probe.last.outcome}: ${probe.last.detail}`);
    return;
  }
  const cells = await runMatrix(t, backend, 'none', policies);
  const failed = cells.filter((c) => c.status === 'fail');
  assert.deepEqual(
    failed.map((c) => `${c.program} × ${c.policy}: ${c.why}`),
    [],
  );
});
