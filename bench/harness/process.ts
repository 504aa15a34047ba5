// Running one engine process for the benchmark: wall time around it, peak RSS through GNU time
// (`/usr/bin/time -f %M`, package `time`) when present, and a time limit.

import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseTimeMaxRss } from './parse.ts';

export const GNU_TIME = '/usr/bin/time';

export interface ProcessRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly wallMs: number;
  readonly maxRssKb: number | undefined;
  readonly timedOut: boolean;
  readonly spawnError?: string;
}

export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: { timeoutMs: number; workDir: string; cwd?: string; env?: NodeJS.ProcessEnv },
): ProcessRun {
  const timeFile = join(opts.workDir, 'time.out');
  const useTime = existsSync(GNU_TIME);
  const [c, a] = useTime ? [GNU_TIME, ['-f', '%M', '-o', timeFile, cmd, ...args]] : [cmd, [...args]];
  if (useTime) rmSync(timeFile, { force: true });
  const t0 = performance.now();
  const r = spawnSync(c, a, {
    encoding: 'latin1',
    timeout: opts.timeoutMs,
    killSignal: 'SIGKILL',
    maxBuffer: 256 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(opts.cwd ? { cwd: opts.cwd } : {}),
    ...(opts.env ? { env: opts.env } : {}),
  });
  const wallMs = performance.now() - t0;
  let maxRssKb: number | undefined;
  if (useTime && existsSync(timeFile)) maxRssKb = parseTimeMaxRss(readFileSync(timeFile, 'utf8'));
  const timedOut = (r.error as NodeJS.ErrnoException | undefined)?.code === 'ETIMEDOUT';
  return {
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    status: r.status,
    signal: r.signal,
    wallMs,
    maxRssKb,
    timedOut,
    ...(r.error && !timedOut ? { spawnError: r.error.message } : {}),
  };
}

/** Is `cmd` on PATH (or an existing path)? */
export function haveCommand(cmd: string): boolean {
  if (cmd.includes('/')) return existsSync(cmd);
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}
