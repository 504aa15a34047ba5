// The paging conformance matrix (issue 6 item 5): the paging_* guest programs (conformance/programs/
// paging_*.c, reference predicate in paging_lib.h, written from Intel SDM Vol. 3A chapter 4) run on the
// TypeScript interpreter and on /dev/kvm when it is usable, under the "full" and "minus" CPU policies
// (plus, on the interpreter, "full" without 1-GByte pages, so both CPUID variants of PS in a PDPTE run).
// Asserted: no FAIL line on either backend except recorded deviations and tsvmm bugs (paging/deviations.ts),
// and — the
// differential part — every group line both backends ran agrees case by case (equal case counts and
// outcome hashes, paging/compare.ts). Where a side cannot run, the test says so and skips. LASS and LA57
// cannot run on this host's KVM: src/mmu's unit tests are their reference.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync } from 'node:fs';
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
  PROGRAMS_DIR,
  REPO_ROOT,
  runCell,
  type CellResult,
  type Policy,
} from './runner.ts';
import { CONFORMANCE_DEVIATIONS, type HostFlavour } from './deviations.ts';
import { compareBackends, parseGroupOutcome, type LineTreatment } from './paging/compare.ts';
import { PAGING_DEVIATIONS } from './paging/deviations.ts';

const PROGRAMS = listPrograms().filter((p) => p.startsWith('paging_'));
const POLICY_NAMES = ['full', 'minus'];
// Deviations that pre-skip a named check (a "skipCheck", for checks that derail a guest on some host)
// concern other programs: the paging programs have no such checks, so they are left out here.
const DEVIATIONS = [
  ...CONFORMANCE_DEVIATIONS.filter((d) => (d as { readonly skipCheck?: string }).skipCheck === undefined),
  ...PAGING_DEVIATIONS,
];
const hasGcc = spawnSync('gcc', ['--version']).status === 0;

let builtDir: string | undefined;
/**
 * Build the paging programs once, in a private copy of the build inputs (the build script, the guest
 * library and only the paging sources), so another program that does not compile right now cannot
 * take this test down, and nothing races with `npm run build:guests`.
 */
function buildGuests(): string {
  if (builtDir) return builtDir;
  const root = mkdtempSync(join(tmpdir(), 'tsvmm-paging-src-'));
  cpSync(join(REPO_ROOT, 'scripts/build-guests.mjs'), join(root, 'scripts/build-guests.mjs'));
  cpSync(join(REPO_ROOT, 'conformance/guest'), join(root, 'conformance/guest'), { recursive: true });
  mkdirSync(join(root, 'conformance/programs'), { recursive: true });
  for (const f of readdirSync(PROGRAMS_DIR).filter((n) => n.startsWith('paging'))) {
    cpSync(join(PROGRAMS_DIR, f), join(root, 'conformance/programs', f));
  }
  const dir = join(root, 'out');
  const r = spawnSync(process.execPath, [join(root, 'scripts/build-guests.mjs'), '--quiet', '--out', dir], {
    encoding: 'utf8',
  });
  assert.equal(r.status, 0, `build-guests failed:\n${r.stdout}${r.stderr}`);
  builtDir = dir;
  return dir;
}

interface BackendRuns {
  readonly backend: string;
  readonly flavour: HostFlavour;
  /** why the backend could not run the programs at all */
  readonly unavailable?: string;
  readonly cells: readonly CellResult[];
}

async function interpBackend(): Promise<Backend | string> {
  try {
    const interp = await import('../src/vcpu/interp/index.ts');
    return interp.createInterpBackend();
  } catch (e) {
    return `the interpreter backend cannot be created: ${(e as Error).message}`;
  }
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

/** "full" without CPUID.80000001H:EDX[26] (1-GByte pages). */
function withoutGbpages(full: Policy): Policy {
  const cpuid = full.cpuid.clone();
  cpuid.setBit({ leaf: 0x80000001, reg: 'edx', bit: 26 }, false);
  return { name: 'full-no-gbpages', description: `${full.description}, -pdpe1gb`, cpuid };
}

async function runAll(which: 'interp' | 'kvm'): Promise<BackendRuns> {
  const flavour: HostFlavour = which === 'kvm' ? detectHostFlavour() : 'none';
  if (!hasGcc)
    return {
      backend: which,
      flavour,
      unavailable: 'gcc is not installed: the guests cannot be built',
      cells: [],
    };
  const backend = which === 'kvm' ? await kvmBackend() : await interpBackend();
  if (typeof backend === 'string') return { backend: which, flavour, unavailable: backend, cells: [] };
  const dir = buildGuests();
  const all = await derivePolicies(backend);
  const policies = POLICY_NAMES.map((n) => all.find((p) => p.name === n)).filter(
    (p): p is Policy => p !== undefined,
  );
  const jobs = PROGRAMS.flatMap((program) => policies.map((policy) => ({ program, policy })));
  const full = policies.find((p) => p.name === 'full');
  if (which === 'interp' && full && full.cpuid.reg(0x80000001, 0, 'edx') & (1 << 26)) {
    jobs.push({ program: 'paging_rsvd', policy: withoutGbpages(full) });
  }
  const exec = machineExecutor(backend);
  const cells: CellResult[] = [];
  for (const job of jobs) {
    cells.push(
      await runCell(exec, {
        program: job.program,
        image: loadGuestImage(job.program, dir),
        policy: job.policy,
        backend: backend.name,
        flavour,
        timeoutMs: 60_000,
        deviations: DEVIATIONS,
      }),
    );
    // the interpreter cannot run guests at all yet: one failed boot decides
    if (cells.length === 1 && cells[0]!.last.outcome !== 'debug-exit' && !cells[0]!.report.complete) {
      return {
        backend: which,
        flavour,
        unavailable: `${which} cannot run the guests: ${cells[0]!.why}`,
        cells: [],
      };
    }
  }
  return { backend: which, flavour, cells };
}

let interpRuns: Promise<BackendRuns> | undefined;
let kvmRuns: Promise<BackendRuns> | undefined;
const interp = (): Promise<BackendRuns> => (interpRuns ??= runAll('interp'));
const kvm = (): Promise<BackendRuns> => (kvmRuns ??= runAll('kvm'));

function show(t: TestContext, runs: BackendRuns): void {
  for (const c of runs.cells)
    for (const line of formatCell(c)) if (!line.startsWith('    NOTE')) t.diagnostic(line);
}

function assertNoFailures(t: TestContext, runs: BackendRuns): void {
  show(t, runs);
  const failed = runs.cells.filter((c) => c.status === 'fail');
  assert.deepEqual(
    failed.map((c) => `${c.program} × ${c.policy}: ${c.why}`),
    [],
    `${runs.backend}: every paging cell passes (FAIL lines only where a known bug is recorded)`,
  );
  for (const program of PROGRAMS) {
    assert.ok(
      runs.cells.some((c) => c.program === program && c.status === 'pass'),
      `${program} completed under at least one policy on ${runs.backend}`,
    );
  }
  // not vacuous: the group lines count cases, and the matrix is large
  const cases = runs.cells
    .filter((c) => c.policy === 'full')
    .flatMap((c) => c.lines.map((l) => parseGroupOutcome(l.line.detail)?.cases ?? 0))
    .reduce((a, b) => a + b, 0);
  t.diagnostic(`${runs.backend}: ${cases} paging cases checked under the "full" policy`);
  assert.ok(cases >= 2000, `at least 2000 cases ran under "full" on ${runs.backend} (got ${cases})`);
  // and the reference predicate is not degenerate: groups built to mix faults and successes do, the
  // accessed/dirty group (all accesses allowed) never faults, the not-present and MAXPHYADDR groups always
  // do
  const group = (name: string): ReturnType<typeof parseGroupOutcome> =>
    runs.cells
      .filter((c) => c.policy === 'full')
      .flatMap((c) =>
        c.lines.filter((l) => l.line.name === name).map((l) => parseGroupOutcome(l.line.detail)),
      )
      .find((g) => g !== undefined);
  for (const name of [
    'paging.rw-us',
    'paging.fetch',
    'paging.implicit.smap',
    'paging.implicit-write',
    'paging.large.2m',
  ]) {
    const g = group(name);
    assert.ok(
      g && g.faults > 0 && g.faults < g.cases,
      `${name} mixes faults and successes (${JSON.stringify(g)})`,
    );
  }
  assert.equal(group('paging.accessed-dirty')?.faults, 0, 'paging.accessed-dirty: every access is allowed');
  // implicit supervisor reads of present pages ignore U/S and R/W: without SMAP they never fault
  assert.equal(
    group('paging.implicit')?.faults,
    0,
    'paging.implicit: every implicit read is allowed without SMAP',
  );
  const np = group('paging.not-present');
  assert.ok(np && np.faults === np.cases, 'paging.not-present: every case faults');
  const maxphy = group('paging.rsvd.maxphyaddr');
  if (maxphy)
    assert.equal(maxphy.faults, maxphy.cases, 'paging.rsvd.maxphyaddr: every case is a reserved-bit fault');
}

/** Which recorded paging deviations this backend's runs hit, and which no longer reproduce. */
function showDeviations(t: TestContext, runs: BackendRuns): void {
  for (const d of PAGING_DEVIATIONS.filter(
    (x) => x.backend === runs.backend && x.flavours.includes(runs.flavour),
  )) {
    const hits = runs.cells.flatMap((c) =>
      c.lines.filter((l) => l.deviation?.id === d.id).map((l) => `${c.program}:${l.line.name}`),
    );
    const tag = d.kind === 'bug' ? 'KNOWN-BUG' : 'DEVIATION';
    t.diagnostic(
      hits.length
        ? `${tag} ${d.id} seen in ${hits.length} lines (${hits.slice(0, 4).join(' ')}${hits.length > 4 ? ' …' : ''})`
        : `${tag} ${d.id} no longer reproduces: remove it from conformance/paging/deviations.ts`,
    );
  }
}

test('paging matrix on the interpreter: no FAIL lines except recorded tsvmm bugs', async (t) => {
  const runs = await interp();
  if (runs.unavailable) {
    t.skip(runs.unavailable);
    return;
  }
  assertNoFailures(t, runs);
  showDeviations(t, runs);
  // PS in a PDPTE without CPUID 1-GByte pages ran (under "full" or the extra "full-no-gbpages" policy)
  const ran = (name: string): boolean =>
    runs.cells.some((c) => c.lines.some((l) => l.line.name === name && l.line.verdict !== 'SKIP'));
  assert.ok(ran('paging.large.1g.no-gbpages'), 'paging.large.1g.no-gbpages ran on the interpreter');
  t.diagnostic(
    `paging.large.1g.gbpages ${ran('paging.large.1g.gbpages') ? 'ran' : 'did not run (no 1-GByte pages in any policy)'}`,
  );
});

test('paging matrix on KVM: no FAIL lines except recorded host deviations', async (t) => {
  const runs = await kvm();
  if (runs.unavailable) {
    t.skip(runs.unavailable);
    return;
  }
  assertNoFailures(t, runs);
  showDeviations(t, runs);
  for (const c of runs.cells.filter((x) => x.status === 'unavailable'))
    t.diagnostic(`oracle unavailable: ${c.program} × ${c.policy}: ${c.why}`);
});

test('paging matrix: the interpreter and KVM agree case by case', async (t) => {
  const [a, b] = [await interp(), await kvm()];
  if (a.unavailable || b.unavailable) {
    t.skip(`differential not run: ${[a.unavailable, b.unavailable].filter(Boolean).join('; ')}`);
    return;
  }
  const problems: string[] = [];
  let agreed = 0;
  for (const ci of a.cells) {
    // extra interpreter-only policies are compared with KVM's "full" run (groups are named by feature)
    const ck =
      b.cells.find((c) => c.program === ci.program && c.policy === ci.policy) ??
      b.cells.find((c) => c.program === ci.program && c.policy === 'full');
    if (!ck) {
      t.diagnostic(`${ci.program} × ${ci.policy}: no KVM run to compare with`);
      continue;
    }
    if (ci.status === 'unavailable' || ck.status === 'unavailable') {
      t.diagnostic(
        `${ci.program} × ${ci.policy}: not compared, a side was unavailable (${ci.status === 'unavailable' ? ci.why : ck.why})`,
      );
      continue;
    }
    // a line explained by a recorded deviation: the CR2 bug still lets the rest of each case be compared
    const treat = (name: string): LineTreatment => {
      for (const cell of [ci, ck]) {
        const l = cell.lines.find((x) => x.line.name === name);
        if (l?.status !== 'deviation') continue;
        const why = `${l.deviation!.kind === 'bug' ? 'known bug' : 'deviation'} ${l.deviation!.id} on ${cell.backend}`;
        return l.deviation!.got === 'cr2-page-base' ? { withoutCr2: why } : { exclude: why };
      }
      return {};
    };
    const cmp = compareBackends(
      ci.lines.map((l) => l.line),
      ck.lines.map((l) => l.line),
      ['interp', 'kvm'],
      treat,
    );
    agreed += cmp.agreed.length;
    const where = `${ci.program} × ${ci.policy}${ck.policy !== ci.policy ? ` (kvm: ${ck.policy})` : ''}`;
    for (const d of cmp.disagreements) problems.push(`${where}: ${d.name}: ${d.why}`);
    for (const d of cmp.allowed) t.diagnostic(`${where}: ${d.name}: allowed difference: ${d.a} vs ${d.b}`);
    for (const n of cmp.notCompared) t.diagnostic(`${where}: ${n.name}: not compared: ${n.why}`);
    for (const n of cmp.partial) t.diagnostic(`${where}: ${n.name}: compared without CR2 (${n.why})`);
  }
  t.diagnostic(`${agreed} report lines agreed between the interpreter and KVM`);
  assert.deepEqual(problems, [], 'every line both backends ran has the same per-case outcomes');
  assert.ok(agreed >= PROGRAMS.length * 4, `lines were really compared (${agreed})`);
});
