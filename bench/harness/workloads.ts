// The benchmark workloads (bench/workloads/*.asm, linked into the runtime rt.asm): their modes, their
// exact retired-instruction counts wl_run(N) = perIteration*N + fixed (documented in each .asm file and
// checked once against QEMU's -icount, bench/README.md) and their reference checksums (checksums.ts).

import {
  aluChecksum,
  crcChecksum,
  fibChecksum,
  pagewalkChecksum,
  pfChecksum,
  portioChecksum,
  smcChecksum,
  syscallChecksum,
  type Mode,
} from './checksums.ts';

export type { Mode } from './checksums.ts';

export interface Workload {
  /** the .asm file's base name */
  readonly name: string;
  readonly what: string;
  /** instructions retired per iteration of wl_run, per mode */
  readonly perIteration: Readonly<Record<Mode, number>>;
  /** instructions retired by wl_run outside its iterations, per mode */
  readonly fixed: Readonly<Record<Mode, number>>;
  readonly checksum: (mode: Mode, iterations: number) => number;
}

/** Instructions the runtime retires between its two RDTSCs besides wl_run (the measuring window). */
export const TSC_WINDOW = 6;

const same = (n: number): Record<Mode, number> => ({ 32: n, 64: n });

export const WORKLOADS: readonly Workload[] = [
  {
    name: 'alu',
    what: 'integer ALU, registers only',
    perIteration: same(12),
    fixed: { 32: 10, 64: 13 },
    checksum: aluChecksum,
  },
  {
    name: 'crc',
    what: 'fill + table CRC-32 over 1 MiB per iteration',
    perIteration: same(8 + 5 * 262144 + 7 * 1048576),
    fixed: same(8),
    checksum: crcChecksum,
  },
  {
    name: 'fib',
    what: 'recursive fib(20): call/ret',
    perIteration: same(6 + 12 * (10946 - 1) + 3 * 10946),
    fixed: same(6),
    checksum: fibChecksum,
  },
  {
    name: 'pagewalk',
    what: 'CR3 reload + 256 scattered page loads',
    perIteration: same(5 + 7 * 256),
    fixed: same(7),
    checksum: pagewalkChecksum,
  },
  {
    name: 'syscall',
    what: 'SYSCALL/SYSRET (64) or SYSENTER/SYSEXIT (32) round trip',
    perIteration: { 32: 11, 64: 9 },
    fixed: { 32: 21, 64: 18 },
    checksum: syscallChecksum,
  },
  {
    name: 'pf',
    what: '#PF taken and fixed per iteration',
    perIteration: same(10),
    fixed: same(6),
    checksum: pfChecksum,
  },
  {
    name: 'portio',
    what: '3 port accesses (POST, UART scratch out/in)',
    perIteration: same(9),
    fixed: same(7),
    checksum: portioChecksum,
  },
  {
    name: 'smc',
    what: 'patch an immediate, then execute it',
    perIteration: same(9),
    fixed: same(6),
    checksum: smcChecksum,
  },
];

export const MODES: readonly Mode[] = [64, 32];

/** One built variant: a workload in one mode, e.g. "alu64". */
export interface Variant {
  readonly id: string;
  readonly workload: Workload;
  readonly mode: Mode;
}

export function variants(): Variant[] {
  return WORKLOADS.flatMap((w) => MODES.map((mode) => ({ id: `${w.name}${mode}`, workload: w, mode })));
}

export function findVariant(id: string): Variant | undefined {
  return variants().find((v) => v.id === id);
}

/** wl_run's exact retired-instruction count for `iterations`. */
export function instructionCount(v: Variant, iterations: number): number {
  return v.workload.perIteration[v.mode] * iterations + v.workload.fixed[v.mode];
}

/** What RDTSC reads as the delta under QEMU -icount shift=0 (1 tick per instruction). */
export function icountTscDelta(v: Variant, iterations: number): number {
  return instructionCount(v, iterations) + TSC_WINDOW;
}

/**
 * The iteration count that makes wl_run retire about `targetInstructions` (at least 1), so each engine
 * runs long enough for its start-up to be small next to the work.
 */
export function iterationsFor(v: Variant, targetInstructions: number): number {
  return Math.max(1, Math.round(targetInstructions / v.workload.perIteration[v.mode]));
}
