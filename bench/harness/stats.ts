// Benchmark arithmetic: start-up subtraction, MIPS, min/median, ratios. Plain numbers, no clocks.

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * MIPS of one run: the workload's instructions over the run's time less the start-up time (the
 * zero-iteration build's median). A run not longer than its start-up gives NaN (not measurable).
 */
export function mips(instructions: number, runMs: number, startupMs: number): number {
  const ms = runMs - startupMs;
  if (!(ms > 0)) return NaN;
  return instructions / (ms * 1000);
}

export interface MipsSummary {
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function summarize(values: readonly number[]): MipsSummary {
  const ok = values.filter((v) => Number.isFinite(v));
  if (ok.length === 0) return { min: NaN, median: NaN, max: NaN };
  return { min: Math.min(...ok), median: median(ok), max: Math.max(...ok) };
}

/** tsvmm / peer on the medians; NaN when either side has no figure. */
export function ratio(tsvmm: number, peer: number): number {
  return Number.isFinite(tsvmm) && Number.isFinite(peer) && peer > 0 ? tsvmm / peer : NaN;
}

/** A run must last at least this long beyond start-up before its time is extrapolated from. */
export const MIN_MEASURABLE_MS = 100;
export const MAX_ITERATIONS = 0xffffffff;

/**
 * One calibration step: a trial of `n` iterations took `deltaMs` beyond start-up. From half the target
 * on (or when it cannot grow) the final count is scaled to the target; a shorter trial is followed by a
 * bigger one (×10 when it was lost in the noise, else toward the target: ×2 to ×100). Trials are
 * repeated rather than extrapolated from once because JIT-compiling engines (V8, v86) speed up as they
 * warm, so a short trial under-estimates them.
 */
export function calibrate(n: number, deltaMs: number, targetMs: number): { final: boolean; n: number } {
  if (deltaMs >= 0.5 * targetMs || n >= MAX_ITERATIONS)
    return { final: true, n: Math.min(MAX_ITERATIONS, Math.max(1, Math.round((n * targetMs) / Math.max(deltaMs, 1e-3)))) };
  const grow = deltaMs < 20 ? 10 : Math.min(100, Math.max(2, targetMs / deltaMs));
  return { final: false, n: Math.min(MAX_ITERATIONS, Math.max(n + 1, Math.round(n * grow))) };
}
