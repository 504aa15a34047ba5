// Tests of the differential comparator (agree, disagree, recorded deviation, oracle unavailable,
// different CPUID views) and of the coverage computation (derived rule list, an uncovered rule found).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuidTable } from '../src/arch/x86/cpuid/table.ts';
import { CR4_BITS } from '../src/arch/x86/registers/cr4.ts';
import { MSR_TABLE } from '../src/arch/x86/msr/table.ts';
import { compareCells, differential, formatDiff } from './differential.ts';
import { computeCoverage, contractRules, formatCoverage, NOT_GUEST_OBSERVABLE, ruleIdsIn } from './coverage.ts';
import type { ConformanceDeviation } from './deviations.ts';
import { runCell, type CellResult, type GuestRunResult, type Policy } from './runner.ts';

const POLICY: Policy = { name: 'host', description: 'test', cpuid: new CpuidTable([]) };
const CPUID_A = 'TSVMM-CPUID 0x7 0x0 0x0 0x80 0x0 0x0';
const CPUID_B = 'TSVMM-CPUID 0x7 0x0 0x0 0x0 0x0 0x0';

/** A cell from report lines, judged by the real runner (a fake executor returns the serial text). */
async function cell(backend: string, lines: string[], opts: { cpuid?: string; deviations?: ConformanceDeviation[]; program?: string } = {}): Promise<CellResult> {
  const program = opts.program ?? 'prog';
  const fails = lines.filter((l) => l.startsWith('FAIL')).length;
  const skips = lines.filter((l) => l.startsWith('SKIP')).length;
  const serial = [
    `TSVMM-BEGIN ${program} entry=long64`,
    opts.cpuid ?? CPUID_A,
    ...lines.map((l) => `TSVMM-REPORT ${l}`),
    `TSVMM-SUMMARY passed=${lines.length - fails - skips} failed=${fails} skipped=${skips}`,
    '',
  ].join('\n');
  const result: GuestRunResult = { outcome: 'debug-exit', exitCode: fails ? 3 : 1, serial, detail: 'debug-exit' };
  return runCell(async () => result, {
    program,
    image: new Uint8Array(1),
    policy: POLICY,
    backend,
    flavour: backend === 'kvm' ? 'kvm_pvm' : 'none',
    deviations: opts.deviations ?? [],
  });
}

test('agree: the same outcome for every comparable line', async () => {
  const lines = ['PASS a.one bit1 expect=ok got=ok', 'PASS a.two bit2 expect=#GP got=#GP', 'SKIP a.three no feature'];
  const d = compareCells(await cell('kvm', lines), await cell('interp', lines));
  assert.equal(d.status, 'agree');
  assert.equal(d.compared, 2);
  assert.equal(d.disagreements.length, 0);
});

test('disagree: a different outcome for the same expectation, shown with both sides', async () => {
  const k = await cell('kvm', ['PASS a.one expect=ok got=ok', 'PASS a.two expect=#GP got=#GP']);
  const i = await cell('interp', ['PASS a.one expect=ok got=ok', 'FAIL a.two expect=#GP got=ok']);
  const d = compareCells(k, i);
  assert.equal(d.status, 'disagree');
  assert.deepEqual(d.disagreements.map((x) => x.name), ['a.two']);
  assert.equal(d.disagreements[0]!.sides.kvm!.got, '#GP');
  assert.equal(d.disagreements[0]!.sides.interp!.got, 'ok');
  const text = formatDiff(d).join('\n');
  assert.match(text, /DISAGREE a\.two/);
  assert.match(text, /kvm: PASS/);
  assert.match(text, /interp: FAIL/);
  // a line only one side reported, with the same CPUID view, is a disagreement too
  const d2 = compareCells(await cell('kvm', ['PASS a.one expect=ok got=ok', 'PASS a.extra expect=ok got=ok']), await cell('interp', ['PASS a.one expect=ok got=ok']));
  assert.equal(d2.status, 'disagree');
  assert.match(d2.disagreements[0]!.why, /reported only by kvm/);
});

test('a recorded deviation explains a difference; an unrecorded wrong answer does not', async () => {
  const dev: ConformanceDeviation = {
    id: 'test-dev',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^a\.two$/,
    expect: '#GP',
    got: 'ok',
    what: 'test',
    evidence: 'test',
  };
  const k = await cell('kvm', ['PASS a.one expect=ok got=ok', 'FAIL a.two expect=#GP got=ok'], { deviations: [dev] });
  const i = await cell('interp', ['PASS a.one expect=ok got=ok', 'PASS a.two expect=#GP got=#GP']);
  assert.equal(k.status, 'pass', 'the deviation keeps the KVM cell passing');
  const d = compareCells(k, i);
  assert.equal(d.status, 'agree');
  assert.deepEqual(d.explained, [{ name: 'a.two', by: 'DEVIATION(test-dev)' }]);
  // the deviation names its got=: another wrong answer still fails and disagrees
  const k2 = await cell('kvm', ['PASS a.one expect=ok got=ok', 'FAIL a.two expect=#GP got=#UD'], { deviations: [dev] });
  assert.equal(k2.status, 'fail');
  assert.equal(compareCells(k2, i).status, 'disagree');
});

test('oracle unavailable on either side: no comparison; different CPUID views: lines are incomparable', async () => {
  const unavailable: GuestRunResult = {
    outcome: 'backend-error',
    serial: 'TSVMM-BEGIN prog entry=long64\nTSVMM-REPORT PASS a.one expect=ok got=ok\n',
    detail: 'KVM internal error: emulation failure',
  };
  const k = await runCell(async () => unavailable, { program: 'prog', image: new Uint8Array(1), policy: POLICY, backend: 'kvm', flavour: 'kvm_pvm', deviations: [] });
  assert.equal(k.status, 'unavailable');
  const i = await cell('interp', ['PASS a.one expect=ok got=ok']);
  assert.equal(compareCells(k, i).status, 'unavailable');
  // different CPUID: the guests decided differently (expect differs, or one took another branch)
  const a = await cell('kvm', ['PASS a.smep expect=ok got=ok', 'PASS a.only-with-smep expect=ok got=ok'], { cpuid: CPUID_A });
  const b = await cell('interp', ['PASS a.smep expect=#GP got=#GP'], { cpuid: CPUID_B });
  const d = compareCells(a, b);
  assert.equal(d.status, 'agree');
  assert.equal(d.incomparable, 2);
  assert.equal(d.compared, 0);
});

test('differential pairs cells by program and policy across the two backends', async () => {
  const cells = [await cell('kvm', ['PASS a expect=ok got=ok']), await cell('interp', ['PASS a expect=ok got=ok']), await cell('interp', ['PASS a expect=ok got=ok'], { program: 'other' })];
  const ds = differential(cells);
  assert.equal(ds.length, 1, 'the interp-only cell has no partner');
  assert.equal(ds[0]!.program, 'prog');
});

test('the rule list is derived from the contract: every table row and every refusal rule id', () => {
  const rules = contractRules();
  const ids = new Set(rules.map((r) => r.id));
  for (const r of CR4_BITS) assert.ok(ids.has(`cr4.${r.name}`));
  assert.equal(rules.filter((r) => r.kind === 'msr').length, MSR_TABLE.length);
  for (const id of ['cr4.reserved', 'cr0.nw-without-cd', 'efer.lmsle', 'xsetbv.osxsave', 'xss.no-xsaves', 'msr.absent', 'dr7.high-reserved'])
    assert.ok(ids.has(id), id);
  for (const id of Object.keys(NOT_GUEST_OBSERVABLE)) assert.ok(ids.has(id), `exclusion ${id} is a real contract rule`);
  assert.deepEqual(ruleIdsIn("refuse('GP', 'cr4.reserved', x); refuse('UD', 'xsetbv.osxsave', y); 'not.a-rule-namespace'"), ['cr4.reserved', 'xsetbv.osxsave']);
});

test('coverage: rows by line name, rules by rule= token or contract prediction; an uncovered rule is found', async () => {
  const rules = [
    { id: 'cr4.SMEP', kind: 'bit' as const, source: 't' },
    { id: 'msr.IA32_PAT', kind: 'msr' as const, source: 't' },
    { id: 'cr4.reserved', kind: 'rule' as const, source: 't' },
    { id: 'xcr0.amx-pair', kind: 'rule' as const, source: 't' },
    { id: 'efer.lmsle', kind: 'rule' as const, source: 't' },
    { id: 'sregs.long-mode-needs-pae', kind: 'rule' as const, source: 't' },
  ];
  const c1 = await cell('interp', ['PASS cr4.SMEP bit20 expect=ok got=ok', 'PASS msr.IA32_PAT.read rdmsr(0x277) expect=ok got=ok', 'SKIP xcr0.amx-pair AMX absent rule=xcr0.amx-pair'], { program: 'p1' });
  const c2 = await cell('kvm', ['PASS cr4.bit40 bit40 rule=cr4.reserved expect=#GP got=#GP'], { program: 'p2' });
  const cov = computeCoverage([c1, c2], rules);
  const by = new Map(cov.rules.map((r) => [r.rule.id, r]));
  assert.deepEqual(by.get('cr4.SMEP')!.programs, ['p1']);
  assert.deepEqual(by.get('msr.IA32_PAT')!.programs, ['p1']);
  // p2 by its rule= token; p1 because the contract, under p1's (empty) CPUID, predicts cr4.reserved for
  // its cr4.SMEP line (SMEP is not enumerated there)
  assert.deepEqual(by.get('cr4.reserved')!.programs, ['p1', 'p2']);
  assert.equal(c1.contract.rules.get('cr4.SMEP'), 'cr4.reserved');
  assert.deepEqual(by.get('xcr0.amx-pair')!.skippedIn, ['p1']);
  assert.deepEqual(cov.uncovered, ['efer.lmsle'], 'efer.lmsle has no program; the sregs rule is not guest-observable');
  const text = formatCoverage(cov).join('\n');
  assert.match(text, /efer\.lmsle\s+UNCOVERED/);
  assert.match(text, /1 uncovered: efer\.lmsle/);
  assert.match(text, /sregs\.long-mode-needs-pae\s+\(not guest-observable/);
});

test('coverage: a rule only KVM can exercise is not uncovered when KVM is unavailable, and is when it ran', () => {
  const rules = contractRules().filter((r) => r.id === 'msr.write-only');
  assert.equal(rules.length, 1);
  assert.deepEqual(computeCoverage([], rules, new Set(['kvm'])).uncovered, []);
  assert.match(formatCoverage(computeCoverage([], rules, new Set(['kvm']))).join('\n'), /needs the kvm backend \(not run here\)/);
  assert.deepEqual(computeCoverage([], rules, new Set()).uncovered, ['msr.write-only']);
});
