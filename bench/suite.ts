// The side-by-side benchmark runner (issue 9): builds the workloads (bench/build.ts), runs each workload
// variant on tsvmm's interpreter, tsvmm's KVM backend and every installed peer (QEMU TCG, QEMU KVM,
// Bochs, v86 with and without its JIT), N runs each plus N zero-iteration runs whose median is the
// engine's start-up, checks every result against the JavaScript reference checksum, and reports min
// and median MIPS, peak memory and the ratio tsvmm / peer as a table, as JSON and as an SVG chart.
//
//   node --import tsx bench/suite.ts [options]          (npm run bench -- [options])
//
// `main(argv)` is the whole command, so bench/run.ts can delegate to it.

import { mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { TsvmmError } from '../src/util/result.ts';
import { buildAll, DEFAULT_OUT, nasmVersion, type BuiltVariant } from './build.ts';
import { formatResults, ratios, resultsJson, type EngineInfo, type Measurement, type Results } from './harness/format.ts';
import { withIterations } from './harness/image.ts';
import { checkResult, parseBenchOutput } from './harness/parse.ts';
import { runProcess } from './harness/process.ts';
import { calibrate, median, mips, summarize } from './harness/stats.ts';
import { ratioChart } from './harness/svg.ts';
import { icountTscDelta, iterationsFor, variants, type Variant } from './harness/workloads.ts';
import { bochs } from './peers/bochs.ts';
import type { Engine, EngineRun } from './peers/engine.ts';
import { pickTiming, type Timing } from './harness/timing.ts';
import { installPeers } from './peers/install.ts';
import { QEMU, qemuArgs, qemuKvm, qemuTcg, qemuTcgDisk } from './peers/qemu.ts';
import { tsvmmInterp, tsvmmKvm } from './peers/tsvmm.ts';
import { setV86Dir, v86Jit, v86NoJit } from './peers/v86.ts';
import { linuxMain } from './linux/main.ts';

/** Errors of the --linux options: usage errors (exit 2) like the others. */
const LINUX_USAGE_CODES = new Set(['BENCH_LINUX_SMP', 'BENCH_LINUX_MEMORY', 'BENCH_LINUX_FORM', 'BENCH_LINUX_ARGS', 'BENCH_LINUX_ENGINE', 'BENCH_LINUX_CLI']);

export const ENGINES: readonly Engine[] = [tsvmmInterp, tsvmmKvm, qemuTcg, qemuKvm, qemuTcgDisk, bochs, v86Jit, v86NoJit];

const HELP = `usage: npm run bench -- [options]
  --runs N          measured runs per engine and workload (default 3; --quick: 1)
  --quick           short smoke run: 1 run of ~0.3 s each, PVM references left out (not a measurement)
  --only LIST       workloads or variants, comma-separated (alu, fib64, syscall32, …)
  --engines LIST    engines, comma-separated: ${ENGINES.map((e) => e.id).join(', ')}
  --seconds S       wall time of one measured run beyond start-up (default 1; --quick: 0.3); the
                    iteration count is calibrated per engine and workload to reach it
  --timeout S       time limit per run in seconds (default 600)
  --install-peers   install the missing peers (apt-get: qemu-system-x86 bochs bochsbios vgabios seabios
                    nasm time; npm: v86 into build/bench/peers) and go on
  --v86 DIR         the v86 npm package directory (default: npm ls v86, then build/bench/peers)
  --profile         write a V8 CPU profile of the interpreter on one workload (the first of --only,
                    default fib64) to build/bench/profile-<workload>.cpuprofile, and stop
  --check-counts    check every workload's instruction-count formula against
                    qemu-system-x86_64 -accel tcg -icount shift=0 (RDTSC counts instructions), and stop
  --out DIR         build and result directory (default build/bench)
  --help

The Linux boot (issue 8; not part of the default run: a full interpreter boot is minutes of CPU):
  --linux           boot Debian's kernel with the project's initramfs on tsvmm's interpreter (its CLI)
                    and on qemu-system-x86_64 -accel tcg; time to the first kernel line, to
                    TSVMM-INIT-OK and to exit at power-off; --runs runs each (default 3), median.
                    Writes build/bench/linux-results.json and linux-boot.svg. Other options:
  --kernel FILE     the bzImage (default: the newest /boot/vmlinuz-*; skipped when there is none)
  --initrd FILE     the initramfs (default build/initramfs.cpio.gz, built when missing)
  --smp LIST        vCPU counts, comma-separated (default 1,2)
  --memory MIB      guest RAM on both engines (default 256, tsvmm's default)
  --engines LIST    tsvmm-interp, qemu-tcg (default both)
  --linux-form F    auto (default: the issue's exact command, then the fallback when it fails),
                    issue (tsvmm run --backend interp … --append "console=ttyS0"), or fallback
                    (--cpu supported --host-decompress, "nokaslr" appended on both engines)
  --linux-args A    instead: these tsvmm run options (e.g. "--cpu supported")…
  --linux-append C  …and this kernel command line (default console=ttyS0), on both engines
  --tsvmm-cli src|dist  start tsvmm as node --import tsx src/cli/main.ts (default: the sources as
                    they are) or node bin/tsvmm.js (the compiled dist/)`;

export interface Progress {
  (line: string): void;
}

class Usage extends Error {}

const hex8 = (x: number): string => x.toString(16).padStart(8, '0');

function selectVariants(only: string | undefined): Variant[] {
  const all = variants();
  if (!only) return all;
  const want = only.split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of want)
    if (!all.some((v) => v.id === w || v.workload.name === w))
      throw new Usage(`--only: unknown workload '${w}' (known: ${all.map((v) => v.id).join(', ')})`);
  return all.filter((v) => want.includes(v.id) || want.includes(v.workload.name));
}

function selectEngines(list: string | undefined): Engine[] {
  if (!list) return [...ENGINES];
  const want = list.split(',').map((s) => s.trim()).filter(Boolean);
  for (const w of want) if (!ENGINES.some((e) => e.id === w)) throw new Usage(`--engines: unknown engine '${w}' (known: ${ENGINES.map((e) => e.id).join(', ')})`);
  return ENGINES.filter((e) => want.includes(e.id));
}

const checksumCache = new Map<string, number>();
function expectedSum(v: Variant, n: number): number {
  const k = `${v.id}/${n}`;
  let s = checksumCache.get(k);
  if (s === undefined) {
    s = v.workload.checksum(v.mode, n);
    checksumCache.set(k, s);
  }
  return s;
}

interface MeasureOptions {
  runs: number;
  /** wall time a measured run should take beyond start-up */
  targetMs: number;
  timeoutMs: number;
  workRoot: string;
  log: Progress;
}

/**
 * One engine on one variant: zero-iteration runs (their median is the start-up), calibration trials
 * (stats.ts calibrate) to size the work for `targetMs`, then the measured runs; every output checked
 * against the reference checksum.
 */
export async function measure(engine: Engine, v: Variant, built: BuiltVariant, o: MeasureOptions): Promise<Measurement> {
  const workDir = join(o.workRoot, `${engine.id}-${v.id}`);
  rmSync(workDir, { recursive: true, force: true });
  mkdirSync(workDir, { recursive: true });
  const src = new Uint8Array(readFileSync(engine.wrapper === 'elf' ? built.elf : built.disk));
  const ext = engine.wrapper === 'elf' ? 'elf' : 'img';
  const imageFor = (n: number): string => {
    const f = join(workDir, `${v.id}-${n}.${ext}`);
    writeFileSync(f, withIterations(src, n, v.id));
    return f;
  };
  const ctx = { timeoutMs: o.timeoutMs, workDir };
  const zeroRuns: Timing[] = [];
  const runs: Timing[] = [];
  let peak = 0;
  let tsc: number | null = null;
  let n = 0;
  const perIteration = v.workload.perIteration[v.mode];
  const fail = (error: string): Measurement => ({
    engine: engine.id, variant: v.id, iterations: n, instructions: perIteration * n,
    zeroRunsMs: zeroRuns.map((t) => t.wallMs), runsMs: runs.map((t) => t.wallMs), startupMs: NaN,
    mips: { min: NaN, median: NaN, max: NaN }, peakRssKb: peak || null, tsc, timing: 'wall', error,
  });
  /** one run: its times, or the reason it does not count */
  const one = async (image: string, iterations: number): Promise<Timing | string> => {
    let r: EngineRun;
    try {
      r = await engine.run(image, ctx);
    } catch (e) {
      return `host error: ${(e as Error).message}`;
    }
    peak = Math.max(peak, r.maxRssKb ?? 0);
    const line = parseBenchOutput(r.output);
    const bad = checkResult(line, { name: v.id, iterations, sum: expectedSum(v, iterations) });
    if (bad) return r.error ? `${r.error}; ${bad}` : bad;
    if (r.error) return r.error;
    if (line?.kind === 'result') tsc = line.tsc;
    return { wallMs: r.wallMs, ...(r.markedMs !== undefined ? { markedMs: r.markedMs } : {}) };
  };
  const zero = imageFor(0);
  for (let i = 0; i < o.runs; i++) {
    const t = await one(zero, 0);
    if (typeof t === 'string') return fail(`zero-iteration run: ${t}`);
    zeroRuns.push(t);
  }
  // calibration: start at ~1 ms of nominal speed; repeat until a trial lands near the target
  n = iterationsFor(v, engine.nominalMips * 1e3);
  for (let trial = 0; ; trial++) {
    const t = await one(imageFor(n), n);
    if (typeof t === 'string') return fail(`calibration run (${n} iterations): ${t}`);
    const ms = t.markedMs !== undefined && t.markedMs > 0 ? t.markedMs - (zeroRuns[0]!.markedMs ?? 0) : t.wallMs - median(zeroRuns.map((z) => z.wallMs));
    const step = calibrate(n, ms, o.targetMs);
    n = step.n;
    if (step.final) break;
    if (trial >= 10) return fail(`calibration did not converge (last trial ${n} iterations)`);
  }
  const image = imageFor(n);
  for (let i = 0; i < o.runs; i++) {
    const t = await one(image, n);
    if (typeof t === 'string') return fail(t);
    runs.push(t);
  }
  const timing = pickTiming(zeroRuns, runs);
  const pick = (t: Timing): number => (timing === 'marks' ? t.markedMs! : t.wallMs);
  const startupMs = median(zeroRuns.map(pick));
  const instructions = perIteration * n;
  return {
    engine: engine.id, variant: v.id, iterations: n, instructions,
    zeroRunsMs: zeroRuns.map(pick), runsMs: runs.map(pick), startupMs,
    mips: summarize(runs.map((t) => mips(instructions, pick(t), startupMs))),
    peakRssKb: peak || null, tsc, timing,
  };
}

/** --check-counts: QEMU -icount shift=0 makes RDTSC count instructions; compare with the formulas. */
export async function checkCounts(built: readonly BuiltVariant[], outDir: string, log: Progress): Promise<{ ok: boolean; lines: string[] }> {
  const lines: string[] = [];
  let ok = true;
  const workDir = join(outDir, 'work/icount');
  mkdirSync(workDir, { recursive: true });
  for (const b of built) {
    const v = variants().find((x) => x.id === b.id)!;
    const src = new Uint8Array(readFileSync(b.elf));
    for (const n of [0, 1, 1000]) {
      const iters = v.workload.name === 'crc' && n > 1 ? 3 : n;
      const img = join(workDir, `${v.id}-${iters}.elf`);
      writeFileSync(img, withIterations(src, iters, v.id));
      const p = await runProcess(QEMU, qemuArgs('tcg', img, ['-icount', 'shift=0']), { timeoutMs: 120000, workDir });
      const line = parseBenchOutput(p.stdout);
      const want = icountTscDelta(v, iters);
      let verdict: string;
      if (!line || line.kind !== 'result') {
        verdict = `no result (${p.stderr.trim().slice(-200)})`;
        ok = false;
      } else {
        const sumOk = line.sum === expectedSum(v, iters);
        verdict = `tsc ${line.tsc} formula ${want} ${line.tsc === want ? 'OK' : 'MISMATCH'}; sum ${hex8(line.sum)} ${sumOk ? 'OK' : 'WRONG'}`;
        if (line.tsc !== want || !sumOk) ok = false;
      }
      const s = `${v.id.padEnd(11)} N=${String(iters).padEnd(5)} ${verdict}`;
      lines.push(s);
      log(s);
    }
  }
  return { ok, lines };
}

export async function main(argv: readonly string[], log: Progress = (s) => process.stderr.write(s + '\n')): Promise<number> {
  let o;
  try {
    o = parseArgs({
      args: [...argv],
      options: {
        runs: { type: 'string' },
        quick: { type: 'boolean' },
        only: { type: 'string' },
        engines: { type: 'string' },
        seconds: { type: 'string' },
        timeout: { type: 'string' },
        'install-peers': { type: 'boolean' },
        v86: { type: 'string' },
        profile: { type: 'boolean' },
        'check-counts': { type: 'boolean' },
        out: { type: 'string' },
        help: { type: 'boolean' },
        linux: { type: 'boolean' },
        kernel: { type: 'string' },
        initrd: { type: 'string' },
        smp: { type: 'string' },
        memory: { type: 'string' },
        'linux-form': { type: 'string' },
        'linux-args': { type: 'string' },
        'linux-append': { type: 'string' },
        'tsvmm-cli': { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }).values;
  } catch (e) {
    process.stderr.write(`bench: ${(e as Error).message}\n${HELP}\n`);
    return 2;
  }
  if (o.help) {
    process.stdout.write(HELP + '\n');
    return 0;
  }
  try {
    const quick = !!o.quick;
    const runs = o.runs !== undefined ? Number(o.runs) : quick ? 1 : 3;
    if (!Number.isInteger(runs) || runs < 1) throw new Usage(`--runs must be a positive integer, got '${o.runs}'`);
    const seconds = o.seconds !== undefined ? Number(o.seconds) : quick ? 0.3 : 1;
    if (!(seconds > 0)) throw new Usage(`--seconds must be a positive number, got '${o.seconds}'`);
    const timeoutS = o.timeout !== undefined ? Number(o.timeout) : 600;
    if (!(timeoutS > 0)) throw new Usage(`--timeout must be a positive number of seconds, got '${o.timeout}'`);
    const outDir = resolve(o.out ?? DEFAULT_OUT);
    const linuxOnly = (['kernel', 'initrd', 'smp', 'memory', 'linux-form', 'linux-args', 'linux-append', 'tsvmm-cli'] as const).filter((k) => o[k] !== undefined);
    if (!o.linux && linuxOnly.length) throw new Usage(`--${linuxOnly[0]} is an option of the Linux boot benchmark: add --linux`);
    if (o.linux) {
      const other = (['only', 'profile', 'check-counts', 'seconds', 'v86'] as const).filter((k) => o[k] !== undefined);
      if (other.length) throw new Usage(`--${other[0]} is for the workload benchmark, not --linux`);
      if (o['install-peers'] && !installPeers(log)) log('bench: --install-peers: some installs failed (see above); going on with what is there');
      try {
        return await linuxMain(
          {
            runs, timeoutMs: timeoutS * 1000, outDir,
            ...(o.kernel !== undefined ? { kernel: resolve(o.kernel) } : {}),
            ...(o.initrd !== undefined ? { initrd: resolve(o.initrd) } : {}),
            ...(o.smp !== undefined ? { smp: o.smp } : {}),
            ...(o.memory !== undefined ? { memory: o.memory } : {}),
            ...(o.engines !== undefined ? { engines: o.engines } : {}),
            ...(o['linux-form'] !== undefined ? { form: o['linux-form'] } : {}),
            ...(o['linux-args'] !== undefined ? { linuxArgs: o['linux-args'] } : {}),
            ...(o['linux-append'] !== undefined ? { linuxAppend: o['linux-append'] } : {}),
            ...(o['tsvmm-cli'] !== undefined ? { cli: o['tsvmm-cli'] } : {}),
          },
          log,
        );
      } catch (e) {
        if (e instanceof TsvmmError && LINUX_USAGE_CODES.has(e.code)) throw new Usage(e.message);
        throw e;
      }
    }
    setV86Dir(o.v86 !== undefined ? resolve(o.v86) : undefined);
    const selected = selectVariants(o.only);
    const engines = selectEngines(o.engines);

    if (o['install-peers'] && !installPeers(log)) log('bench: --install-peers: some installs failed (see above); going on with what is there');
    if (!nasmVersion()) throw new TsvmmError('BENCH_NASM_MISSING', 'nasm is not installed (apt-get install nasm, or --install-peers)');
    const built = buildAll(outDir, (v) => selected.some((s) => s.id === v.id));
    log(`bench: built ${built.length} workload variants in ${outDir}`);
    const builtOf = (v: Variant): BuiltVariant => built.find((b) => b.id === v.id)!;

    if (o['check-counts']) {
      const r = await checkCounts(built, outDir, log);
      writeFileSync(join(outDir, 'icount-check.txt'), r.lines.join('\n') + '\n');
      log(`bench: instruction counts ${r.ok ? 'all match' : 'DO NOT all match'} QEMU -icount (${join(outDir, 'icount-check.txt')})`);
      return r.ok ? 0 : 1;
    }

    if (o.profile) {
      const v = o.only ? selected[0]! : variants().find((x) => x.id === 'fib64')!;
      const b = built.find((x) => x.id === v.id) ?? buildAll(outDir, (x) => x.id === v.id)[0]!;
      const n = iterationsFor(v, tsvmmInterp.nominalMips * 1e6 * seconds * 3);
      const workDir = join(outDir, 'work/profile');
      mkdirSync(workDir, { recursive: true });
      const img = join(workDir, `${v.id}.elf`);
      writeFileSync(img, withIterations(new Uint8Array(readFileSync(b.elf)), n, v.id));
      const profile = join(outDir, `profile-${v.id}.cpuprofile`);
      log(`bench: profiling the interpreter on ${v.id} (${n} iterations)`);
      const r = await tsvmmInterp.run(img, { timeoutMs: timeoutS * 1000, workDir, profile });
      const bad = checkResult(parseBenchOutput(r.output), { name: v.id, iterations: n, sum: expectedSum(v, n) }) ?? r.error;
      if (bad) log(`bench: the profiled run failed: ${bad}`);
      log(`bench: CPU profile written to ${profile} (open in Chrome DevTools → Performance, or speedscope)`);
      return bad ? 1 : 0;
    }

    const infos: EngineInfo[] = [];
    const usable: Engine[] = [];
    for (const e of engines) {
      if (e.optIn && !o.engines) {
        infos.push({ id: e.id, label: e.label, tsvmm: e.tsvmm, reference: e.reference, available: false, reason: `opt-in (--engines ${e.id})` });
        continue;
      }
      if (quick && e.reference && !o.engines) {
        infos.push({ id: e.id, label: e.label, tsvmm: e.tsvmm, reference: e.reference, available: false, reason: 'left out of --quick (PVM reference; name it in --engines)' });
        continue;
      }
      const a = await e.available();
      infos.push({
        id: e.id, label: e.label, tsvmm: e.tsvmm, reference: e.reference, available: a.ok,
        ...(e.note ? { note: e.note } : {}), ...(!a.ok ? { reason: a.reason } : {}),
      });
      if (a.ok) usable.push(e);
      else log(`bench: ${e.label} not run: ${a.reason}`);
    }
    const loadStart = loadavg()[0]!;
    const measurements: Measurement[] = [];
    const skipped: Results['skipped'][number][] = [];
    const workRoot = join(outDir, 'work');
    for (const v of selected) {
      for (const e of usable) {
        if (!e.modes.includes(v.mode)) continue;
        const t0 = performance.now();
        const known = e.knownUnsupported?.[v.id];
        if (known) {
          log(`bench: ${v.id.padEnd(11)} ${e.label.padEnd(18)} n/a: ${known}`);
          skipped.push({ engine: e.id, variant: v.id, reason: known });
          continue;
        }
        const m = await measure(e, v, builtOf(v), { runs, targetMs: seconds * 1000, timeoutMs: timeoutS * 1000, workRoot, log });
        measurements.push(m);
        const took = ((performance.now() - t0) / 1000).toFixed(1);
        log(
          m.error
            ? `bench: ${v.id.padEnd(11)} ${e.label.padEnd(18)} FAILED: ${m.error.split('\n')[0]}`
            : `bench: ${v.id.padEnd(11)} ${e.label.padEnd(18)} ${m.mips.median.toFixed(1).padStart(8)} MIPS (start-up ${m.startupMs.toFixed(0)} ms, N=${m.iterations}, ${took} s)`,
        );
      }
    }
    const results: Results = {
      tool: 'tsvmm-bench',
      version: 1,
      date: new Date().toISOString(),
      host: { node: process.version, cpus: cpus().length, cpuModel: cpus()[0]?.model ?? 'unknown', platform: `${process.platform} ${process.arch}`, loadavg: [loadStart, loadavg()[0]!] },
      quick,
      runs,
      engines: infos,
      measurements,
      skipped,
    };
    process.stdout.write(formatResults(results) + '\n');
    writeFileSync(join(outDir, 'results.json'), resultsJson(results));
    const rs = ratios(results);
    const peerIds = [...new Set(rs.map((x) => x.peer))];
    const label = (id: string): string => infos.find((e) => e.id === id)?.label ?? id;
    const rows = [...new Set(rs.map((x) => x.variant))].map((vId) => ({
      label: vId,
      ratios: new Map(rs.filter((x) => x.variant === vId).map((x) => [label(x.peer), x.ratio])),
    }));
    writeFileSync(join(outDir, 'ratios.svg'), ratioChart(`tsvmm interpreter vs peers${quick ? ' (quick smoke run)' : ''}, ${results.date.slice(0, 10)}`, rows, peerIds.map(label)));
    log(`bench: wrote ${join(outDir, 'results.json')} and ${join(outDir, 'ratios.svg')}`);
    return measurements.some((m) => m.error) ? 1 : 0;
  } catch (e) {
    if (e instanceof Usage) {
      process.stderr.write(`bench: ${e.message}\n(npm run bench -- --help for the options)\n`);
      return 2;
    }
    if (e instanceof TsvmmError) {
      process.stderr.write(`bench: ${e.message} [${e.code}]\n`);
      return 1;
    }
    throw e;
  }
}

const isMain = process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url);
if (isMain) process.exitCode = await main(process.argv.slice(2));
