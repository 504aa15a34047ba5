// The shape every benchmarked engine has (tsvmm's backends and the peers: QEMU TCG, Bochs, v86): what
// it can run, how much work it gets per measured run, and one run of one prepared image.

import type { Mode } from '../harness/workloads.ts';

export type Availability = { ok: true; detail?: string } | { ok: false; reason: string };

export interface EngineRun {
  /** the process's wall time (child runners: the time of the emulator's run inside the process) */
  readonly wallMs: number;
  /** from the guest's BENCH-GO line to its result line as the output arrived (0: both in one read);
   *  undefined when the marks were not seen */
  readonly markedMs?: number;
  /** everything the guest printed (serial / port 0xE9 text), possibly among the engine's own log text */
  readonly output: string;
  readonly maxRssKb?: number;
  /** set when the run failed (timeout, crash, unexpected exit) */
  readonly error?: string;
}

export interface RunContext {
  readonly timeoutMs: number;
  /** a private scratch directory for this engine */
  readonly workDir: string;
  /** write a V8 CPU profile here (tsvmm engines only) */
  readonly profile?: string;
}

export interface Engine {
  readonly id: string;
  readonly label: string;
  /** shown beside the figures (e.g. "PVM, not a speed reference") */
  readonly note?: string;
  readonly modes: readonly Mode[];
  /** which of the two wrappers it boots */
  readonly wrapper: 'elf' | 'disk';
  /** rough MIPS on plain code: sizes the first calibration run (harness/calibrate in suite.ts) */
  readonly nominalMips: number;
  /** variants this engine is known not to run, with why (shown as n/a, not as a failure) */
  readonly knownUnsupported?: Readonly<Record<string, string>>;
  /** left out unless named in --engines (slow references) */
  readonly optIn?: boolean;
  /** tsvmm's own backends (the numerators of the ratios) */
  readonly tsvmm: boolean;
  /** excluded from ratios (e.g. KVM on PVM) */
  readonly reference: boolean;
  available(): Promise<Availability>;
  run(image: string, ctx: RunContext): Promise<EngineRun>;
}
