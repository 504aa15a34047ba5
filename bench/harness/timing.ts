// Which clock a measurement uses. Engines whose output arrives live give the interval between the
// guest's BENCH-GO line and its result line (firmware, loader and process start-up left out); an
// engine that buffers its output gives both lines in one read and only its wall time is usable.

export interface Timing {
  readonly wallMs: number;
  /** BENCH-GO → result line; 0 when both arrived in one read; undefined when not seen */
  readonly markedMs?: number;
}

/**
 * Marks when every measured run saw the two lines apart (the engine streams its output; a zero-iteration
 * run may then see them in one read, which is a true ~0) and every zero run saw both; else wall time.
 */
export function pickTiming(zeroRuns: readonly Timing[], runs: readonly Timing[]): 'marks' | 'wall' {
  const streams = runs.length > 0 && runs.every((t) => t.markedMs !== undefined && t.markedMs > 0);
  const zeroOk = zeroRuns.every((t) => t.markedMs !== undefined);
  return streams && zeroOk ? 'marks' : 'wall';
}
