// Host capture: "--host" means this machine — CPU 0's raw CPUID from Debian's `cpuid -r -1` (the
// instruction's own outputs; Intel SDM Vol. 2A "CPUID"), plus /proc/cpuinfo's flags to learn what the
// host kernel disabled. "--host-dump FILE" means a dump in any supported format (dumps/detect.ts).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { TsvmmError } from '../util/result.ts';
import { readCpuidR } from './dumps/cpuid-r.ts';
import { readDumpFile } from './dumps/detect.ts';
import type { ParsedDump, ReadOptions } from './dumps/format.ts';
import { cpuinfoFlagSet } from './dumps/proc-cpuinfo.ts';
import { osDisabledFeatures } from './supported/common.ts';

export interface HostCapture {
  readonly dump: ParsedDump;
  /** features the host kernel disabled (raw CPUID has them, /proc/cpuinfo does not); only for --host */
  readonly osDisabled?: ReadonlySet<string>;
  readonly label: string;
}

export interface HostCaptureDeps {
  /** runs `cpuid -r -1` and returns its stdout (injectable for tests) */
  readonly runCpuid?: () => string;
  readonly readCpuinfo?: () => string;
}

function defaultRunCpuid(): string {
  try {
    return execFileSync('cpuid', ['-r', '-1'], {
      encoding: 'utf8',
      timeout: 10_000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ENOENT') {
      throw new TsvmmError(
        'CPUID_TOOL_MISSING',
        "the `cpuid` tool is not installed, so --host cannot read this machine's CPUID: install it (Debian/Ubuntu: `apt-get install cpuid`) or pass --host-dump FILE",
      );
    }
    throw new TsvmmError('CPUID_TOOL_FAILED', `\`cpuid -r -1\` failed: ${err.message}`);
  }
}

/** This machine's CPU 0. */
export function captureHost(deps: HostCaptureDeps = {}): HostCapture {
  const text = (deps.runCpuid ?? defaultRunCpuid)();
  const dump = readCpuidR(text, { source: 'cpuid -r -1' });
  let osDisabled: Set<string> | undefined;
  try {
    const flags = cpuinfoFlagSet((deps.readCpuinfo ?? (() => readFileSync('/proc/cpuinfo', 'utf8')))());
    osDisabled = new Set(osDisabledFeatures(dump.table, flags).keys());
  } catch {
    osDisabled = undefined; // no /proc/cpuinfo (not Linux): host-kernel disables are unknown
  }
  return { dump, ...(osDisabled ? { osDisabled } : {}), label: 'this machine' };
}

/** A host from a dump file in any supported format. */
export function loadHostDump(path: string, opts: ReadOptions = {}): HostCapture {
  return { dump: readDumpFile(path, opts), label: path };
}
