// The conformance suite under `npm test` (issue 7 item 4): every guest program under the CPU-policy
// matrix on the interpreter always and on /dev/kvm when it is usable, in parallel over the machine's
// cores, the two backends compared line by line, and the contract coverage listing. Every cell must
// pass (FAIL lines only where a recorded deviation or known bug explains them), no comparable line may
// disagree, and no contract rule may be uncovered. The same code runs `tsvmm test`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './runner.ts';
import { formatSuite, runSuite } from './suite.ts';
import { CONFORMANCE_DEVIATIONS } from './deviations.ts';

const hasGcc = spawnSync('gcc', ['--version']).status === 0;

test('the conformance suite: policy matrix × {kvm, interp}, differential, coverage', { skip: hasGcc ? false : 'gcc is not installed: no guests to run', timeout: 600_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-guests-suite-'));
  const b = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build-guests.mjs'), '--quiet', '--out', dir], { encoding: 'utf8' });
  assert.equal(b.status, 0, `build-guests failed:\n${b.stdout}${b.stderr}`);
  const r = await runSuite({ backends: ['kvm', 'interp'], jobs: Math.max(2, availableParallelism()), guestsDir: dir });
  for (const line of formatSuite(r)) t.diagnostic(line);

  const interp = r.backends.find((x) => x.name === 'interp')!;
  assert.equal(interp.unavailable, undefined, 'the interpreter always runs the suite');
  const kvm = r.backends.find((x) => x.name === 'kvm')!;
  if (kvm.unavailable) t.diagnostic(`KVM cells skipped: ${kvm.unavailable}`);
  else {
    // On KVM the matrix must really vary the CPUID the guest sees, or "policies" means nothing.
    const views = new Set(r.cells.filter((c) => c.backend === 'kvm' && c.program === 'efer').map((c) => JSON.stringify(c.report.cpuid)));
    assert.ok(views.size >= 2, 'the guests saw different CPUID under different policies on KVM');
    assert.ok(r.diffs.length > 0, 'cells ran on both backends and were compared');
  }
  assert.ok(r.coverage, 'a full run computes the coverage');
  assert.deepEqual(r.coverage.uncovered, [], 'every contract rule is exercised by a guest program');
  assert.deepEqual(
    r.cells.filter((c) => c.status === 'fail').map((c) => `${c.program} × ${c.policy} × ${c.backend}: ${c.why}`),
    [],
    'every cell passes or is oracle-unavailable',
  );
  assert.deepEqual(
    r.diffs.filter((d) => d.status === 'disagree').map((d) => `${d.program} × ${d.policy}: ${d.why}`),
    [],
    'no unexplained disagreement between KVM and the interpreter',
  );
  // a recorded tsvmm bug that no line needs any more has been fixed: its entry must go, so the line
  // it excused is enforced again
  const used = new Set(r.cells.flatMap((c) => c.lines.flatMap((l) => (l.deviation ? [l.deviation.id] : []))));
  assert.deepEqual(
    CONFORMANCE_DEVIATIONS.filter((d) => d.kind === 'bug' && d.backend === 'interp' && !d.skipCheck && !used.has(d.id)).map((d) => d.id),
    [],
    'every recorded interpreter bug still explains a line (remove fixed ones)',
  );
  assert.equal(r.counts.failed, 0);
});

test(
  'architectural mode: the interpreter enforces the manuals, not KVM, on the registers where they differ',
  { skip: hasGcc ? false : 'gcc is not installed: no guests to run', timeout: 300_000 },
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvmm-guests-arch-'));
    const b = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build-guests.mjs'), '--quiet', '--out', dir], {
      encoding: 'utf8',
    });
    assert.equal(b.status, 0, `build-guests failed:\n${b.stdout}${b.stderr}`);
    const cells = [];
    // host,-syscall: EFER.SCE is ungated under KVM but needs SYSCALL architecturally (contract MODE_DIFFERENCES)
    for (const [pattern, cpu] of [['cr4', 'host'], ['efer', 'host,-syscall']] as const) {
      const r = await runSuite({ backends: ['interp'], jobs: 2, guestsDir: dir, mode: 'architectural', pattern, cpu });
      for (const line of formatSuite(r)) t.diagnostic(line);
      cells.push(...r.cells);
    }
    const r = { cells };
    assert.ok(r.cells.length >= 2, 'cr4 and efer ran');
    assert.deepEqual(
      r.cells.filter((c) => c.status !== 'pass').map((c) => `${c.program} × ${c.policy}: ${c.why}`),
      [],
      'every architectural-mode cell passes on the interpreter',
    );
    // the guests were told, and the interpreter enforced it: EFER.SCE without SYSCALL is refused
    const sce = r.cells.flatMap((c) => c.report.lines).find((l) => l.name === 'efer.SCE');
    assert.ok(sce && sce.verdict === 'PASS' && /mode=arch/.test(sce.detail) && /expect=#GP got=#GP/.test(sce.detail), JSON.stringify(sce));
  },
);
