// Running one engine process for the benchmark: wall time around it, the time between the guest's
// start mark ("BENCH-GO" line) and its result line as they arrive on stdout (firmware, loader and
// process start-up left out), peak RSS through GNU time (`/usr/bin/time -f %M`, package `time`) when
// present, and a time limit (the whole process group is killed).

import { spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseTimeMaxRss } from './parse.ts';

export const GNU_TIME = '/usr/bin/time';
export const GO_MARK = 'BENCH-GO\n';
const END_RE = /BENCH(-FAULT)? [^\n]*\n/;

export interface ProcessRun {
  readonly stdout: string;
  readonly stderr: string;
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly wallMs: number;
  /** start mark → result line as they arrived on stdout (0: in one read) */
  readonly markedMs: number | undefined;
  readonly maxRssKb: number | undefined;
  readonly timedOut: boolean;
  readonly spawnError?: string;
}

/** Watches text as it arrives and notes when the start mark and the result line complete. */
export class MarkClock {
  private text = '';
  goAt: number | undefined;
  endAt: number | undefined;
  push(chunk: string, now: number): void {
    this.text += chunk;
    if (this.goAt === undefined) {
      const i = this.text.indexOf(GO_MARK);
      if (i < 0) return;
      this.goAt = now;
      this.text = this.text.slice(i + GO_MARK.length);
      // the result may have come in the same read: then there is no usable mark interval
    }
    if (this.endAt === undefined && END_RE.test(this.text)) this.endAt = now;
  }
  /** the interval (0 when both came in one read), or undefined when either mark is missing */
  ms(): number | undefined {
    return this.goAt !== undefined && this.endAt !== undefined ? this.endAt - this.goAt : undefined;
  }
}

export function runProcess(
  cmd: string,
  args: readonly string[],
  opts: {
    timeoutMs: number;
    workDir: string;
    cwd?: string;
    env?: NodeJS.ProcessEnv;
    /** every stdout chunk as it arrives, with the milliseconds since the spawn */
    onStdout?: (chunk: string, ms: number) => void;
  },
): Promise<ProcessRun> {
  const timeFile = join(opts.workDir, 'time.out');
  const useTime = existsSync(GNU_TIME);
  const [c, a] = useTime ? [GNU_TIME, ['-f', '%M', '-o', timeFile, cmd, ...args]] : [cmd, [...args]];
  if (useTime) rmSync(timeFile, { force: true });
  return new Promise((resolveRun) => {
    const t0 = performance.now();
    const clock = new MarkClock();
    const out: string[] = [];
    const err: string[] = [];
    let timedOut = false;
    let spawnError: string | undefined;
    const child = spawn(c, a, {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
      ...(opts.env ? { env: opts.env } : {}),
    });
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    }, opts.timeoutMs);
    child.stdout.setEncoding('latin1');
    child.stderr.setEncoding('latin1');
    child.stdout.on('data', (s: string) => {
      const now = performance.now();
      clock.push(s, now);
      opts.onStdout?.(s, now - t0);
      out.push(s);
    });
    child.stderr.on('data', (s: string) => void err.push(s));
    child.on('error', (e) => {
      spawnError = e.message;
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const wallMs = performance.now() - t0;
      let maxRssKb: number | undefined;
      if (useTime && existsSync(timeFile)) maxRssKb = parseTimeMaxRss(readFileSync(timeFile, 'utf8'));
      resolveRun({
        stdout: out.join(''),
        stderr: err.join(''),
        status,
        signal,
        wallMs,
        markedMs: clock.ms(),
        maxRssKb,
        timedOut,
        ...(spawnError ? { spawnError } : {}),
      });
    });
  });
}

/** Is `cmd` on PATH (or an existing path)? */
export function haveCommand(cmd: string): boolean {
  if (cmd.includes('/')) return existsSync(cmd);
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(join(d, cmd)));
}
