// Parsing what the engines print: the workloads' result line (rt.asm "report": BENCH <name>
// iters=<hex8> sum=<hex8> tsc=<hex16>, or BENCH-FAULT …) found in any peer's output (QEMU's serial on
// stdout, Bochs' port-0xE9 text among its log lines, the JSON lines of the tsvmm and v86 child
// processes), and GNU time's `%M` peak-RSS output.

import { TsvmmError } from '../../src/util/result.ts';

export interface BenchLine {
  readonly kind: 'result';
  readonly name: string;
  readonly iterations: number;
  readonly sum: number;
  /** RDTSC delta around wl_run (instructions under QEMU -icount shift=0, Bochs and tsvmm's interpreter) */
  readonly tsc: number;
}

export interface FaultLine {
  readonly kind: 'fault';
  readonly text: string;
}

const RESULT_RE = /BENCH ([a-z0-9]+) iters=([0-9a-f]{8}) sum=([0-9a-f]{8}) tsc=([0-9a-f]{16})/;
const FAULT_RE = /BENCH-FAULT [^\r\n]*/;

/** The first result or fault line in `text` (CRs and other log text around it are ignored). */
export function parseBenchOutput(text: string): BenchLine | FaultLine | undefined {
  const clean = text.replace(/\r/g, '');
  const f = FAULT_RE.exec(clean);
  const m = RESULT_RE.exec(clean);
  if (f && (!m || f.index < m.index)) return { kind: 'fault', text: f[0] };
  if (!m) return undefined;
  return {
    kind: 'result',
    name: m[1]!,
    iterations: parseInt(m[2]!, 16),
    sum: parseInt(m[3]!, 16),
    tsc: parseInt(m[4]!, 16),
  };
}

/** GNU time -f %M -o FILE: the last line holding only a number is the peak RSS in KiB. */
export function parseTimeMaxRss(text: string): number | undefined {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => /^\d+$/.test(l));
  const last = lines.at(-1);
  return last === undefined ? undefined : Number(last);
}

/** The JSON line a child runner (tsvmm-child.ts, v86-child.ts) prints last on its stdout. */
export function parseChildJson(stdout: string, what: string): Record<string, unknown> {
  const line = stdout.trim().split('\n').filter((l) => l.startsWith('{')).at(-1);
  if (!line) throw new TsvmmError('BENCH_CHILD_OUTPUT', `${what}: no JSON result line in its output: ${stdout.slice(0, 300)}`);
  try {
    const v: unknown = JSON.parse(line);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new TsvmmError('BENCH_CHILD_OUTPUT', `${what}: bad JSON result line (${(e as Error).message}): ${line.slice(0, 300)}`);
  }
}

/** The checks that make a run count: the right workload, the patched count, the reference checksum. */
export function checkResult(
  line: BenchLine | FaultLine | undefined,
  expect: { name: string; iterations: number; sum: number },
): string | undefined {
  if (!line) return 'no BENCH result line in the output';
  if (line.kind === 'fault') return `guest fault: ${line.text}`;
  if (line.name !== expect.name) return `ran '${line.name}', expected '${expect.name}'`;
  if (line.iterations !== expect.iterations) return `ran ${line.iterations} iterations, expected ${expect.iterations}`;
  if (line.sum !== expect.sum)
    return `checksum ${line.sum.toString(16).padStart(8, '0')} ≠ reference ${expect.sum.toString(16).padStart(8, '0')}`;
  return undefined;
}
