// Time for the machine and its timer devices (the Clock of devices/device.ts), plus the one thing the
// run loop needs beyond reading time: waiting for a deadline while the vCPU is halted (HLT).
// HostClock follows the host's monotonic clock and really waits; ManualClock is virtual time for
// deterministic tests: waiting jumps straight to the deadline.

import type { Clock } from '../devices/device.ts';

export interface MachineClock extends Clock {
  /** Wait until nowNs() ≥ deadlineNs, or until `wake` is called (whichever first). */
  waitUntil(deadlineNs: number, wake: AbortSignal): Promise<void>;
}

export class HostClock implements MachineClock {
  private readonly origin = performance.now();

  nowNs(): number {
    return Math.floor((performance.now() - this.origin) * 1e6);
  }

  waitUntil(deadlineNs: number, wake: AbortSignal): Promise<void> {
    const ms = Math.max(0, (deadlineNs - this.nowNs()) / 1e6);
    return new Promise((resolve) => {
      if (wake.aborted) return resolve();
      const done = (): void => {
        clearTimeout(t);
        wake.removeEventListener('abort', done);
        resolve();
      };
      const t = setTimeout(done, Math.min(Math.ceil(ms), 0x7fffffff)); // setTimeout caps at 2^31-1 ms
      wake.addEventListener('abort', done);
    });
  }
}

/** Virtual time: advances only when told to, or when the machine waits for a deadline. */
export class ManualClock implements MachineClock {
  constructor(private now = 0) {}

  nowNs(): number {
    return this.now;
  }

  advance(ns: number): void {
    this.now += ns;
  }

  set(ns: number): void {
    this.now = ns;
  }

  async waitUntil(deadlineNs: number, wake: AbortSignal): Promise<void> {
    if (!wake.aborted && deadlineNs > this.now) this.now = deadlineNs;
  }
}

/** Use a Clock that cannot wait as a MachineClock (waiting falls back to host timers). */
export function asMachineClock(c: Clock | MachineClock | undefined): MachineClock {
  if (!c) return new HostClock();
  if ('waitUntil' in c && typeof c.waitUntil === 'function') return c as MachineClock;
  const host = new HostClock();
  return {
    nowNs: () => c.nowNs(),
    waitUntil: (deadlineNs, wake) => host.waitUntil(host.nowNs() + Math.max(0, deadlineNs - c.nowNs()), wake),
  };
}
