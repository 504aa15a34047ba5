// Tests for the conformance runner's judging logic (runner.ts) with scripted executors: passes,
// failures, known deviations, oracle-unavailable retries, protocol problems and CPUID view checks.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CpuidTable, type CpuidEntry } from '../src/arch/x86/cpuid/table.ts';
import { TsvmmError } from '../src/util/result.ts';
import {
  derivePoliciesFromSupported,
  detectHostFlavour,
  formatCell,
  listPrograms,
  loadGuestImage,
  runCell,
  type GuestExecutor,
  type GuestRunRequest,
  type GuestRunResult,
  type Policy,
} from './runner.ts';
import type { ConformanceDeviation } from './deviations.ts';

const SUPPORTED: CpuidEntry[] = [
  { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 },
  { function: 1, index: 0, flags: 0, eax: 0xb00f21, ebx: 0, ecx: 0x84020000 | (1 << 26), edx: 0x078bfbff },
  { function: 7, index: 0, flags: 1, eax: 0, ebx: (1 << 7) | (1 << 20) | 1, ecx: 1 << 2, edx: 0 },
  { function: 0x80000000, index: 0, flags: 0, eax: 0x80000008, ebx: 0, ecx: 0, edx: 0 },
  { function: 0x80000001, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: (1 << 20) | (1 << 27) },
  { function: 0x80000008, index: 0, flags: 0, eax: 0x3030, ebx: 0, ecx: 0, edx: 0 },
];
const POLICY: Policy = { name: 'full', description: 'test', cpuid: CpuidTable.from(SUPPORTED) };

function cpuidLines(t: CpuidTable): string[] {
  const h = (n: number): string => '0x' + (n >>> 0).toString(16);
  return [
    [1, 0],
    [7, 0],
  ].map(([l, s]) => `TSVMM-CPUID ${h(l!)} ${h(s!)} ${['eax', 'ebx', 'ecx', 'edx'].map((r) => h(t.reg(l!, s!, r as 'eax'))).join(' ')}`);
}

/** A guest whose checks are given as [name, verdict, detail]; TRY checks stop the "backend". */
function scriptedGuest(
  checks: [string, 'PASS' | 'FAIL' | 'SKIP' | 'TRY', string][],
  opts: { program?: string; exitCode?: number; effective?: CpuidTable; guestCpuid?: CpuidTable; noSummary?: boolean } = {},
): { exec: GuestExecutor; requests: GuestRunRequest[] } {
  const requests: GuestRunRequest[] = [];
  const exec: GuestExecutor = async (req) => {
    requests.push(req);
    const skip = /tsvmm\.skip=(\S+)/.exec(req.cmdline)?.[1]?.split(',') ?? [];
    const out = [`TSVMM-BEGIN ${opts.program ?? req.program} entry=${req.entry}`, ...cpuidLines(opts.guestCpuid ?? opts.effective ?? req.cpuid)];
    let pass = 0,
      fail = 0,
      skipped = 0;
    for (const [name, verdict, detail] of checks) {
      if (verdict === 'TRY') {
        if (skip.includes(name)) {
          out.push(`TSVMM-REPORT SKIP ${name} oracle-unavailable: skipped`);
          skipped++;
          continue;
        }
        out.push(`TSVMM-TRY ${name}`);
        const res: GuestRunResult = {
          outcome: 'backend-error',
          serial: out.join('\n') + '\n',
          detail: 'backend internal error (suberror 1, emulation failure)',
          insnBytes: new Uint8Array([0x0f, 0x01, 0xd0]),
        };
        return res;
      }
      out.push(`TSVMM-REPORT ${verdict} ${name} ${detail}`);
      if (verdict === 'PASS') pass++;
      else if (verdict === 'FAIL') fail++;
      else skipped++;
    }
    if (!opts.noSummary) out.push(`TSVMM-SUMMARY passed=${pass} failed=${fail} skipped=${skipped}`);
    return {
      outcome: 'debug-exit',
      exitCode: opts.exitCode ?? (fail ? 3 : 1),
      serial: out.join('\n') + '\n',
      detail: 'debug exit',
      effectiveCpuid: (opts.effective ?? req.cpuid).entries(),
    };
  };
  return { exec, requests };
}

const base = { program: 'cr4', image: new Uint8Array(4), policy: POLICY, backend: 'kvm', flavour: 'kvm_intel' as const };

test('all checks pass: the cell passes and shows the counts', async () => {
  const { exec, requests } = scriptedGuest([
    ['cr4.VME', 'PASS', 'expect=ok got=ok'],
    ['cr4.LASS', 'PASS', 'expect=#GP got=#GP'],
  ]);
  const cell = await runCell(exec, base);
  assert.equal(cell.status, 'pass', cell.why);
  assert.equal(cell.runs, 1);
  assert.equal(requests[0]!.cmdline, '');
  assert.equal(requests[0]!.entry, 'long64');
  assert.match(cell.why, /^2 pass, 0 fail/);
  assert.deepEqual(cell.problems, []);
});

test('a FAIL line fails the cell and is shown', async () => {
  const { exec } = scriptedGuest([['cr4.SMEP', 'FAIL', 'cpuid=1 expect=ok got=#GP']]);
  const cell = await runCell(exec, base);
  assert.equal(cell.status, 'fail');
  assert.match(cell.why, /first failure: cr4\.SMEP/);
  assert.ok(formatCell(cell).some((l) => l.includes('FAIL cr4.SMEP cpuid=1 expect=ok got=#GP')));
  // the line names no bit, so the contract cannot reconstruct the write
  assert.equal(cell.contract.compared, 0);
  const withBit = await runCell(scriptedGuest([['cr4.SMEP', 'FAIL', 'bit20 cpuid=1 expect=ok got=#GP']]).exec, base);
  assert.equal(withBit.contract.error, undefined);
  assert.equal(withBit.contract.compared, 1);
  assert.equal(withBit.contract.disagreements[0]!.contract, 'ok', 'the policy has SMEP');
  assert.ok(formatCell(withBit).some((l) => l.includes('CONTRACT-DISAGREES cr4.SMEP: contract=ok program-expects=ok backend-got=#GP')));
});

test('a FAIL matching a recorded deviation for this host is DEVIATION, elsewhere it stays a failure', async () => {
  const dev: ConformanceDeviation = {
    id: 'test-dev',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^cr4\.PKE$/,
    expect: '#GP',
    got: 'ok',
    what: 'x',
    evidence: 'y',
  };
  const { exec } = scriptedGuest([['cr4.PKE', 'FAIL', 'expect=#GP got=ok']]);
  const onPvm = await runCell(exec, { ...base, flavour: 'kvm_pvm', deviations: [dev] });
  assert.equal(onPvm.status, 'pass', onPvm.why);
  assert.equal(onPvm.lines[0]!.status, 'deviation');
  assert.ok(formatCell(onPvm).some((l) => l.includes('DEVIATION(test-dev) cr4.PKE')));
  const onIntel = await runCell(exec, { ...base, flavour: 'kvm_intel', deviations: [dev] });
  assert.equal(onIntel.status, 'fail');
  // a different wrong answer is not covered by the deviation
  const other = scriptedGuest([['cr4.PKE', 'FAIL', 'expect=#GP got=#UD']]);
  const wrong = await runCell(other.exec, { ...base, flavour: 'kvm_pvm', deviations: [dev] });
  assert.equal(wrong.status, 'fail');
});

test('a backend error inside a TRY check: the runner skips it on a re-run and reports it unavailable', async () => {
  const { exec, requests } = scriptedGuest([
    ['xcr0.a', 'PASS', ''],
    ['xcr0.roundtrip', 'TRY', ''],
    ['xcr0.b', 'PASS', ''],
    ['xcr0.roundtrip2', 'TRY', ''],
  ]);
  const cell = await runCell(exec, { ...base, program: 'xcr0' });
  assert.equal(cell.runs, 3);
  assert.equal(requests[1]!.cmdline, 'tsvmm.skip=xcr0.roundtrip');
  assert.equal(requests[2]!.cmdline, 'tsvmm.skip=xcr0.roundtrip,xcr0.roundtrip2');
  assert.equal(cell.status, 'pass', cell.why);
  assert.deepEqual(
    cell.unavailable.map((u) => u.check),
    ['xcr0.roundtrip', 'xcr0.roundtrip2'],
  );
  assert.match(cell.unavailable[0]!.detail, /emulation failure\) instruction bytes: 0f 01 d0/);
  assert.deepEqual(
    cell.lines.map((l) => l.status),
    ['pass', 'unavailable', 'pass', 'unavailable'],
  );
  assert.match(cell.why, /2 oracle-unavailable/);
  assert.ok(formatCell(cell).some((l) => l.startsWith('    ORACLE-UNAVAILABLE xcr0.roundtrip:')));
});

test('a backend error outside any TRY makes the whole cell "oracle unavailable", never pass or fail', async () => {
  const exec: GuestExecutor = async () => ({
    outcome: 'backend-error',
    serial: 'TSVMM-BEGIN cr4\nTSVMM-REPORT PASS cr4.VME\n',
    detail: 'backend internal error (suberror 1, emulation failure)',
  });
  const cell = await runCell(exec, base);
  assert.equal(cell.status, 'unavailable');
  assert.match(cell.why, /oracle unavailable: the backend stopped after report line cr4\.VME/);
});

test('the retry loop is bounded', async () => {
  let n = 0;
  const exec: GuestExecutor = async () => ({
    outcome: 'backend-error',
    serial: `TSVMM-BEGIN cr4\nTSVMM-TRY check${n++}\n`,
    detail: 'emulation failure',
  });
  const cell = await runCell(exec, { ...base, maxUnavailable: 3 });
  assert.equal(cell.status, 'unavailable');
  assert.equal(cell.runs, 4);
});

test('protocol problems fail the cell: wrong exit status, truncated report, wrong program, timeout', async () => {
  const badExit = await runCell(scriptedGuest([['a', 'PASS', '']], { exitCode: 3 }).exec, base);
  assert.equal(badExit.status, 'fail');
  assert.ok(badExit.problems.some((p) => p.includes('debug-exit status 3 does not match')));

  const truncated = await runCell(scriptedGuest([['a', 'PASS', '']], { noSummary: true }).exec, base);
  assert.equal(truncated.status, 'fail');
  assert.ok(truncated.problems.some((p) => p.includes('truncated')));

  const wrongProgram = await runCell(scriptedGuest([['a', 'PASS', '']], { program: 'efer' }).exec, base);
  assert.ok(wrongProgram.problems.some((p) => p.includes("says it is 'efer'")));

  const timeout: GuestExecutor = async () => ({ outcome: 'timeout', serial: 'TSVMM-BEGIN cr4\n', detail: 'no exit in 30000 ms' });
  const t = await runCell(timeout, base);
  assert.equal(t.status, 'fail');
  assert.ok(t.problems.some((p) => p.includes('ended with timeout')));
});

test('CPUID views: a vCPU table that is not the policy fails, except where recorded; the guest must match the vCPU', async () => {
  const rewritten = POLICY.cpuid.clone();
  rewritten.setBit({ leaf: 7, subleaf: 0, reg: 'ebx', bit: 10 }, true);
  const { exec } = scriptedGuest([['a', 'PASS', '']], { effective: rewritten });
  const intel = await runCell(exec, base);
  assert.equal(intel.status, 'fail');
  assert.ok(intel.problems.some((p) => p.includes('CPUID 0x7.0:EBX requested=0x100081 vcpu=0x100481 (+0x400 -0x0)')), intel.problems.join('\n'));
  const pvm = await runCell(exec, { ...base, flavour: 'kvm_pvm' });
  assert.equal(pvm.status, 'pass', pvm.why);
  assert.ok(pvm.notes.some((n) => n.includes('set-cpuid2-merges-host-features')));

  const lying = POLICY.cpuid.clone();
  lying.setBit({ leaf: 1, reg: 'ecx', bit: 5 }, true);
  const mismatch = await runCell(scriptedGuest([['a', 'PASS', '']], { guestCpuid: lying }).exec, base);
  assert.equal(mismatch.status, 'fail');
  assert.ok(mismatch.problems.some((p) => p.includes("guest's CPUID instruction disagrees")));

  // dynamic bits (OSXSAVE 1:ECX[27]) are not compared
  const osxsave = POLICY.cpuid.clone();
  osxsave.setBit({ leaf: 1, reg: 'ecx', bit: 27 }, true);
  const dyn = await runCell(scriptedGuest([['a', 'PASS', '']], { guestCpuid: osxsave }).exec, base);
  assert.equal(dyn.status, 'pass', dyn.why);
});

test('policies derived from a supported table: "minus" clears the listed features only', () => {
  const [full, minus] = derivePoliciesFromSupported(SUPPORTED);
  assert.equal(full!.name, 'full');
  assert.ok(full!.cpuid.equals(CpuidTable.from(SUPPORTED)));
  assert.equal(minus!.cpuid.hasBit({ leaf: 7, subleaf: 0, reg: 'ebx', bit: 7 }), false, 'SMEP cleared');
  assert.equal(minus!.cpuid.hasBit({ leaf: 1, reg: 'ecx', bit: 26 }), false, 'XSAVE cleared');
  assert.equal(minus!.cpuid.hasBit({ leaf: 0x80000001, reg: 'edx', bit: 20 }), false, 'NX cleared');
  assert.equal(minus!.cpuid.reg(0, 0, 'ebx'), 0x68747541, 'vendor kept');
  assert.equal(minus!.cpuid.hasBit({ leaf: 1, reg: 'ecx', bit: 31 }), true, 'HYPERVISOR kept');
});

test('host flavour from /sys/module', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-sysmod-'));
  assert.equal(detectHostFlavour(dir), 'none');
  mkdirSync(join(dir, 'kvm'));
  assert.equal(detectHostFlavour(dir), 'kvm_unknown');
  mkdirSync(join(dir, 'kvm_pvm'));
  assert.equal(detectHostFlavour(dir), 'kvm_pvm');
});

test('program list and image loading errors', () => {
  const programs = listPrograms();
  for (const p of ['cr4', 'efer', 'msr', 'xcr0']) assert.ok(programs.includes(p), p);
  assert.throws(
    () => loadGuestImage('../etc/passwd'),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CONFORMANCE_BAD_PROGRAM',
  );
  const empty = mkdtempSync(join(tmpdir(), 'tsvmm-guests-'));
  assert.throws(
    () => loadGuestImage('cr4', empty),
    (e: unknown) => e instanceof TsvmmError && e.code === 'CONFORMANCE_NOT_BUILT' && e.message.includes('build:guests'),
  );
});
