// The Linux boot benchmark's run logic with a fake process starter that replays recorded output
// (fixtures/): judging a boot, the issue's command first and the fallback when it fails, QEMU given the
// command line of the form that ran, medians; and the --linux command's skips, option errors and its
// JSON/table/chart on a fake kernel. No emulator is started.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { BootMarks } from './marks.ts';
import { FALLBACK_FORM, ISSUE_FORM, type Command } from './commands.ts';
import { bootOnce, groupStats, judgeBoot, runLinuxPlan, type Exec, type ExecResult, type LinuxPlan } from './runner.ts';
import { chooseEngines, chooseForms, linuxMain, resolveInputs, type LinuxEnv } from './main.ts';
import { formatLinuxResults, linuxChart, type LinuxResults } from './report.ts';
import { main as benchMain } from '../suite.ts';

const fixture = (name: string): string => readFileSync(join(import.meta.dirname, 'fixtures', name), 'latin1');
const TSVMM_OUT = fixture('tsvmm-fallback-1cpu.stdout.txt');
const TSVMM_ERR = fixture('tsvmm-fallback-1cpu.stderr.txt');
const HLT_ERR = fixture('tsvmm-issue-form-hlt.stderr.txt');
const QEMU_OUT = fixture('qemu-tcg-1cpu.stdout.txt');

interface Replay {
  out: string;
  err?: string;
  status?: number | null;
  /** ms per line of output */
  msPerLine: number;
  startMs?: number;
  timedOut?: boolean;
}

/** Delivers `out` line by line at startMs + i·msPerLine; the process ends one step after the last line. */
async function replay(r: Replay, onStdout: (chunk: string, ms: number) => void): Promise<ExecResult> {
  const lines = r.out.split(/(?<=\n)/).filter((l) => l.length);
  const t0 = r.startMs ?? 0;
  lines.forEach((l, i) => onStdout(l, t0 + i * r.msPerLine));
  return { stdout: r.out, stderr: r.err ?? '', status: r.status === undefined ? 0 : r.status, signal: null, wallMs: t0 + lines.length * r.msPerLine, timedOut: !!r.timedOut, maxRssKb: 200 * 1024 };
}

/** tsvmm: the issue form (no --host-decompress) halts with IF=0 unless `issueBoots`; QEMU boots. */
function fakeExec(opts: { issueBoots?: boolean; fallbackBoots?: boolean; qemuBoots?: boolean } = {}): Exec & { calls: Command[] } {
  const calls: Command[] = [];
  const exec = async (c: Command, _timeoutMs: number, onStdout: (chunk: string, ms: number) => void): Promise<ExecResult> => {
    calls.push(c);
    if (c.cmd === 'qemu-system-x86_64')
      return opts.qemuBoots === false ? replay({ out: 'SeaBIOS\n', status: 1, err: 'qemu: could not load kernel', msPerLine: 5 }, onStdout) : replay({ out: QEMU_OUT, msPerLine: 10 }, onStdout);
    const issue = !c.args.includes('--host-decompress');
    if (issue ? opts.issueBoots : opts.fallbackBoots !== false) return replay({ out: TSVMM_OUT, err: TSVMM_ERR, msPerLine: 300, startMs: 1000 }, onStdout);
    return replay({ out: '', err: HLT_ERR, status: 0, msPerLine: 1, startMs: 169000 }, onStdout);
  };
  return Object.assign(exec, { calls });
}

const PLAN: LinuxPlan = {
  kernel: '/boot/vmlinuz-6.1.0-56-amd64', initrd: 'build/initramfs.cpio.gz', smps: [1, 2], memoryMiB: 256, runs: 3, timeoutMs: 600000,
  engines: ['tsvmm-interp', 'qemu-tcg'], forms: 'auto', cli: 'src', node: 'node',
};
const quiet = (): void => {};
const appendOf = (c: Command): string => c.args[c.args.indexOf(c.cmd === 'node' ? '--append' : '-append') + 1]!;

test('judgeBoot: a recorded tsvmm boot counts; its three times come from the arrival of the lines', async () => {
  const r = await bootOnce('tsvmm-interp', { cmd: 'node', args: ['--host-decompress'], display: 'x' }, 600000, fakeExec());
  assert.equal(r.error, undefined);
  assert.equal(r.firstKernelMs, 1000);
  const lines = TSVMM_OUT.split(/(?<=\n)/);
  assert.equal(r.initOkMs, 1000 + 300 * lines.findIndex((l) => l.startsWith('TSVMM-INIT-OK')));
  assert.equal(r.exitMs, 1000 + 300 * lines.length);
  assert.equal(r.cliRunMs, 101000);
  assert.match(r.banner ?? '', /^Linux version 6\.1\.0-56-amd64/);
  assert.equal(r.peakRssKb, 200 * 1024);
});

test('judgeBoot: every way a boot can fail is named', () => {
  const m = (text: string): BootMarks => {
    const b = new BootMarks();
    b.push(text, 5);
    return b;
  };
  const ok = '[    0.000000] Linux version 6.1\nTSVMM-INIT-OK\n[    1.000000] reboot: Power down\n';
  const res = (x: Partial<ExecResult>): ExecResult => ({ stdout: '', stderr: '', status: 0, signal: null, wallMs: 10, timedOut: false, ...x });
  assert.equal(judgeBoot('qemu-tcg', m(ok), res({}), 1000).error, undefined);
  assert.match(judgeBoot('tsvmm-interp', m(''), res({ stderr: HLT_ERR }), 1000).error!, /^no TSVMM-INIT-OK \(exit status 0, hlt\)$/);
  assert.match(judgeBoot('qemu-tcg', m(ok), res({ timedOut: true, status: null, signal: 'SIGKILL' }), 600000).error!, /^timed out after 600 s \(after TSVMM-INIT-OK\)$/);
  assert.match(judgeBoot('tsvmm-interp', m(ok), res({ status: 8 }), 1000).error!, /^exit status 8 after TSVMM-INIT-OK/);
  assert.match(judgeBoot('qemu-tcg', m('TSVMM-INIT-OK\n'), res({}), 1000).error!, /no "reboot: Power down" line/);
  assert.match(judgeBoot('tsvmm-interp', m(ok), res({ stderr: 'tsvmm run: hlt after 3.00 s wall time (interp)' }), 1000).error!, /'hlt', not a power-off/);
  assert.match(judgeBoot('qemu-tcg', m(''), res({ spawnError: 'spawn qemu-system-x86_64 ENOENT' }), 1000).error!, /^cannot start: spawn/);
  const failed = judgeBoot('tsvmm-interp', m('[    0.000000] Linux version 6.1\nKernel panic - not syncing: x\n'), res({ status: 4 }), 1000);
  assert.deepEqual(failed.tail?.slice(0, 2), ['[    0.000000] Linux version 6.1', 'Kernel panic - not syncing: x']);
});

test("auto: the issue's command fails (HLT, IF=0), the fallback runs, QEMU gets the fallback's command line", async () => {
  const exec = fakeExec();
  const log: string[] = [];
  const groups = await runLinuxPlan(PLAN, exec, (s) => log.push(s));
  assert.deepEqual(groups.map((g) => `${g.engine}/${g.smp}/${g.form}`), ['tsvmm-interp/1/fallback', 'qemu-tcg/1/fallback', 'tsvmm-interp/2/fallback', 'qemu-tcg/2/fallback']);
  // 1 vCPU: issue (failed) + 3 fallback; 2 vCPUs: the issue form is not tried again
  const tsvmmCalls = exec.calls.filter((c) => c.cmd === 'node');
  assert.equal(tsvmmCalls.length, 1 + 3 + 3);
  assert.ok(!tsvmmCalls[0]!.args.includes('--host-decompress'));
  assert.equal(appendOf(tsvmmCalls[0]!), 'console=ttyS0');
  assert.deepEqual(groups[0]!.attempts.map((a) => [a.form, a.error]), [['issue', 'no TSVMM-INIT-OK (exit status 0, hlt)']]);
  assert.match(groups[2]!.attempts[0]!.error, /^not tried: it failed with 1 vCPU \(no TSVMM-INIT-OK/);
  for (const c of exec.calls.filter((x) => x.cmd === 'qemu-system-x86_64')) assert.equal(appendOf(c), 'console=ttyS0 nokaslr');
  assert.equal(exec.calls.filter((x) => x.cmd === 'qemu-system-x86_64').length, 6);
  const g = groups[0]!;
  assert.equal(g.runs.length, 3);
  assert.equal(g.stats!.firstKernelMs.median, 1000);
  assert.equal(g.stats!.cliRunMs!.median, 101000);
  assert.match(g.command, /--cpu supported --host-decompress .*--append 'console=ttyS0 nokaslr' --smp 1$/);
  assert.ok(log.some((l) => /the issue form failed; trying the fallback form/.test(l)));
  assert.equal(groups[3]!.argv[groups[3]!.argv.indexOf('-smp') + 1], '2');
});

test("auto: when the issue's command boots, it is the one measured and QEMU gets console=ttyS0", async () => {
  const exec = fakeExec({ issueBoots: true });
  const groups = await runLinuxPlan({ ...PLAN, smps: [1] }, exec, quiet);
  assert.deepEqual(groups.map((g) => [g.form, g.attempts.length, g.runs.length]), [['issue', 0, 3], ['issue', 0, 3]]);
  assert.ok(exec.calls.every((c) => !c.args.includes('--host-decompress')));
  assert.ok(exec.calls.every((c) => appendOf(c) === 'console=ttyS0'));
});

test('no form boots: the tsvmm group fails with both reasons, QEMU still runs the issue command line', async () => {
  const exec = fakeExec({ fallbackBoots: false });
  const groups = await runLinuxPlan({ ...PLAN, smps: [1], runs: 2 }, exec, quiet);
  assert.match(groups[0]!.error!, /^no form booted: issue: no TSVMM-INIT-OK .*; fallback: no TSVMM-INIT-OK/);
  assert.equal(groups[0]!.runs.length, 0);
  assert.equal(groups[1]!.form, 'issue');
  assert.equal(appendOf(exec.calls.at(-1)!), 'console=ttyS0');
  assert.equal(groups[1]!.runs.length, 2);
});

test('a fixed form and engine selection: QEMU alone, fallback only; a failing QEMU stops after its first run', async () => {
  const exec = fakeExec({ qemuBoots: false });
  const groups = await runLinuxPlan({ ...PLAN, smps: [2], engines: ['qemu-tcg'], forms: FALLBACK_FORM }, exec, quiet);
  assert.equal(exec.calls.length, 1);
  assert.match(groups[0]!.error!, /no TSVMM-INIT-OK \(exit status 1\)/);
  assert.equal(appendOf(exec.calls[0]!), 'console=ttyS0 nokaslr');
  const only = await runLinuxPlan({ ...PLAN, smps: [1], runs: 1, engines: ['tsvmm-interp'], forms: ISSUE_FORM }, fakeExec(), quiet);
  assert.equal(only.length, 1);
  assert.match(only[0]!.error!, /^no form booted: issue:/);
});

test('groupStats: medians over the runs without error', () => {
  const run = (ms: number, error?: string): Parameters<typeof groupStats>[0][number] => ({
    firstKernelMs: ms, initOkMs: 2 * ms, exitMs: 3 * ms, status: 0, peakRssKb: ms, ...(error ? { error } : {}),
  });
  const s = groupStats([run(10), run(30), run(20), run(1000, 'timed out')])!;
  assert.deepEqual(s.initOkMs, { median: 40, min: 20, max: 60 });
  assert.deepEqual(s.exitMs.median, 60);
  assert.equal(s.cliRunMs, undefined);
  assert.equal(groupStats([run(1, 'x')]), undefined);
});

function env(over: Partial<LinuxEnv> & { files?: Set<string> } = {}): LinuxEnv & { built: string[] } {
  const files = over.files ?? new Set(['/boot/vmlinuz-6.1.0-56-amd64']);
  const built: string[] = [];
  return {
    findKernel: () => [...files].find((f) => f.startsWith('/boot/vmlinuz-')),
    exists: (p) => files.has(p),
    buildInitramfs: (p) => {
      built.push(p);
      files.add(p);
    },
    haveQemu: () => true,
    ...over,
    built,
  };
}

test('inputs: no kernel is a skip with the reason; a missing initramfs is built; named files must exist', () => {
  const none = resolveInputs({}, env({ files: new Set() }));
  assert.equal(none.ok, false);
  assert.match((none as { reason: string }).reason, /\/boot\/vmlinuz-\* not found/);
  const e = env();
  const r = resolveInputs({}, e);
  assert.ok(r.ok && r.built && r.kernel === '/boot/vmlinuz-6.1.0-56-amd64' && r.initrd.endsWith('build/initramfs.cpio.gz'));
  assert.equal(e.built.length, 1);
  assert.equal(resolveInputs({}, e).ok && !(resolveInputs({}, e) as { built: boolean }).built, true);
  const noCc = resolveInputs({}, env({ buildInitramfs: () => { throw new Error('cannot run gcc'); } }));
  assert.match((noCc as { reason: string }).reason, /^no initramfs: .* failed: cannot run gcc$/);
  assert.throws(() => resolveInputs({ kernel: '/x/vmlinuz' }, env()), /--kernel: '\/x\/vmlinuz' does not exist/);
  assert.throws(() => resolveInputs({ initrd: '/x/i.gz' }, env()), /--initrd: '\/x\/i\.gz' does not exist/);
});

test('forms and engines from the options', () => {
  assert.equal(chooseForms({}), 'auto');
  assert.equal(chooseForms({ form: 'issue' }), ISSUE_FORM);
  assert.equal(chooseForms({ form: 'fallback' }), FALLBACK_FORM);
  assert.deepEqual(chooseForms({ linuxArgs: '--cpu supported', linuxAppend: 'console=ttyS0 nokaslr' }), { name: 'custom', tsvmmArgs: ['--cpu', 'supported'], append: 'console=ttyS0 nokaslr' });
  assert.throws(() => chooseForms({ form: 'both' }), /auto, issue or fallback/);
  assert.throws(() => chooseForms({ form: 'issue', linuxArgs: '--cpu host' }), /cannot be combined/);
  assert.deepEqual(chooseEngines(undefined), ['tsvmm-interp', 'qemu-tcg']);
  assert.deepEqual(chooseEngines('qemu-tcg'), ['qemu-tcg']);
  assert.throws(() => chooseEngines('bochs'), /not 'bochs'/);
});

test('--linux end to end on a fake kernel and recorded output: table, JSON and chart', async () => {
  const d = mkdtempSync(join(tmpdir(), 'bench-linux-'));
  const write = process.stdout.write.bind(process.stdout);
  let printed = '';
  try {
    const kernel = join(d, 'vmlinuz-6.1.0-56-amd64');
    const k = new Uint8Array(0x400);
    k.set(new TextEncoder().encode('HdrS'), 0x202);
    k[0x20e] = 0x00;
    k[0x20f] = 0x01;
    k.set(new TextEncoder().encode('6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP'), 0x300);
    writeFileSync(kernel, k);
    const initrd = join(d, 'initramfs.cpio.gz');
    writeFileSync(initrd, 'cpio');
    const e = env({ files: new Set([kernel, initrd]) });
    const exec = fakeExec();
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    const status = await linuxMain({ kernel, initrd, smp: '1', runs: 2, timeoutMs: 1000, outDir: d }, quiet, e, exec);
    process.stdout.write = write;
    assert.equal(status, 0);
    const r = JSON.parse(readFileSync(join(d, 'linux-results.json'), 'utf8')) as LinuxResults;
    assert.equal(r.kernel.version, '6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP');
    assert.match(r.kernel.banner ?? '', /^Linux version 6\.1\.0-56-amd64/);
    // sha256('cpio')
    assert.equal(r.initrd.sha256, createHash('sha256').update('cpio').digest('hex'));
    assert.equal(r.initrd.bytes, 4);
    assert.deepEqual(r.groups.map((g) => [g.engine, g.form, g.runs.length]), [['tsvmm-interp', 'fallback', 2], ['qemu-tcg', 'fallback', 2]]);
    assert.equal(r.groups[0]!.attempts[0]!.form, 'issue');
    assert.match(printed, /1 +tsvmm interpreter +fallback +1\.00 \(1\.00-1\.00\)/);
    assert.match(printed, /ratio tsvmm \/ QEMU +same/);
    assert.match(printed, /the issue form failed \(no TSVMM-INIT-OK \(exit status 0, hlt\)\)/);
    assert.equal(formatLinuxResults(r), printed.trimEnd());
    const svg = readFileSync(join(d, 'linux-boot.svg'), 'utf8');
    assert.equal(svg, linuxChart(r));
    assert.equal((svg.match(/<rect /g) ?? []).length, 2 * 3 + 3, 'three bars per engine and a legend of three');
    assert.match(svg, /tsvmm interpreter, 1 vCPU/);
    // no kernel at all: a skip, status 0, nothing written
    const skipLog: string[] = [];
    assert.equal(await linuxMain({ runs: 1, timeoutMs: 1000, outDir: join(d, 'skip') }, (s) => skipLog.push(s), env({ files: new Set() }), exec), 0);
    assert.match(skipLog.join('\n'), /skipped: no kernel/);
    // QEMU missing: tsvmm alone, QEMU listed as not run
    printed = '';
    process.stdout.write = ((s: string) => ((printed += s), true)) as typeof process.stdout.write;
    await linuxMain({ kernel, initrd, smp: '1', runs: 1, timeoutMs: 1000, outDir: d, form: 'fallback' }, quiet, { ...e, haveQemu: () => false }, exec);
    process.stdout.write = write;
    assert.match(printed, /not run: QEMU TCG: qemu-system-x86_64 not installed/);
  } finally {
    process.stdout.write = write;
    rmSync(d, { recursive: true, force: true });
  }
});

test('bench options: the Linux options need --linux, workload options are refused with it (exit 2)', async () => {
  const errWrite = process.stderr.write.bind(process.stderr);
  const seen: string[] = [];
  process.stderr.write = ((s: string) => (seen.push(String(s)), true)) as typeof process.stderr.write;
  try {
    assert.equal(await benchMain(['--kernel', '/boot/vmlinuz'], quiet), 2);
    assert.equal(await benchMain(['--linux', '--only', 'fib'], quiet), 2);
    assert.equal(await benchMain(['--linux', '--smp', '0'], quiet), 2);
    assert.equal(await benchMain(['--linux', '--linux-form', 'x'], quiet), 2);
    assert.equal(await benchMain(['--linux', '--engines', 'bochs'], quiet), 2);
  } finally {
    process.stderr.write = errWrite;
  }
  assert.ok(seen.some((s) => /--kernel is an option of the Linux boot benchmark: add --linux/.test(s)));
  assert.ok(seen.some((s) => /--only is for the workload benchmark, not --linux/.test(s)));
  assert.ok(seen.some((s) => /vCPU count from 1 to 64/.test(s)));
});

test('the table warns when the machine was busy (load average above the CPUs) and names a different form', () => {
  const g = (engine: 'tsvmm-interp' | 'qemu-tcg', form: 'issue' | 'fallback', ms: number, load: number): LinuxResults['groups'][number] => {
    const runs = [{ firstKernelMs: ms, initOkMs: 10 * ms, exitMs: 11 * ms, status: 0, peakRssKb: 1024, loadAtStart: load }];
    return { engine, smp: 1, form, append: '', command: `${engine} cmd`, argv: [], runs, attempts: [], stats: groupStats(runs)! };
  };
  const base: LinuxResults = {
    tool: 'tsvmm-bench-linux', version: 1, date: '2026-11-23T00:00:00Z',
    host: { node: 'v20', cpus: 2, cpuModel: 'AMD EPYC', platform: 'linux x64', loadavg: [0.5, 0.7] },
    kernel: { path: '/boot/vmlinuz-6.1.0-56-amd64', version: '6.1.0-56-amd64 (x)' }, initrd: { path: 'build/initramfs.cpio.gz', bytes: 1, sha256: '0' },
    memoryMiB: 256, runs: 1, versions: { tsvmm: '0.1.0', tsvmmCli: 'src' }, groups: [g('tsvmm-interp', 'fallback', 2000, 0.4), g('qemu-tcg', 'fallback', 500, 0.6)], skipped: [],
  };
  const quietTable = formatLinuxResults(base);
  assert.doesNotMatch(quietTable, /other work was running/);
  assert.match(quietTable, /ratio tsvmm \/ QEMU +same +4\.0x +4\.0x +4\.0x/);
  const busy = formatLinuxResults({ ...base, groups: [g('tsvmm-interp', 'issue', 2000, 7.5), g('qemu-tcg', 'fallback', 500, 0.6)] });
  assert.match(busy, /load average up to 7\.5 on 2 CPUs: other work was running/);
  assert.match(busy, /ratio tsvmm \/ QEMU +DIFFERENT/);
});
