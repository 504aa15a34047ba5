// Loader for the N-API binding in native/ (open/close/ioctl/mmap/munmap/address over /dev/kvm, and
// KVM_RUN bounded by a signal-driven time slice; see native/tsvmm_kvm.c). The binding is optional: without it the KVM backend reports why and the rest
// of tsvmm runs unchanged.

import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BackendError } from '../backend.ts';

/** What the addon exports. Errors thrown carry `.code` (errno name) and `.errno`. */
export interface KvmNative {
  open(path: string, flags: number): number;
  close(fd: number): void;
  ioctl(fd: number, request: number, arg: number | bigint | ArrayBuffer | ArrayBufferView): number;
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): ArrayBuffer;
  mmapAnonymous(length: number): ArrayBuffer;
  munmap(buffer: ArrayBuffer): void;
  address(buffer: ArrayBuffer | ArrayBufferView): bigint;
  /**
   * ioctl(fd, request, 0) for KVM_RUN, bounded: with sliceNs > 0 a one-shot timer signals this
   * thread after sliceNs and the ioctl fails with EINTR (KVM_EXIT_INTR); the timer is disarmed and
   * kvm_run.immediate_exit (at immediateExitOffset in kvmRun) cleared before returning.
   * sliceNs = 0 is a plain, unbounded KVM_RUN.
   */
  run(fd: number, request: number, kvmRun: ArrayBuffer, immediateExitOffset: number, sliceNs: number): number;
  /** The real-time signal that ends slices (negative errno if none could be installed) and counters. */
  runInfo(): NativeRunInfo;
}

export interface NativeRunInfo {
  /** signal number used to kick a vCPU thread out of KVM_RUN, or -errno when unavailable */
  readonly signal: number;
  /** slices that ended by the signal (process-wide) */
  readonly kicks: number;
  /** timer signals that arrived when no run was in progress (ignored by the handler; expected 0) */
  readonly strays: number;
  /** threads that have created their slice timer */
  readonly threadTimers: number;
}

const REQUIRED: readonly (keyof KvmNative)[] = [
  'open',
  'close',
  'ioctl',
  'mmap',
  'mmapAnonymous',
  'munmap',
  'address',
  'run',
  'runInfo',
];

/** Linux x86-64 values of the open/mmap flags the backend uses (asm-generic/fcntl.h, mman-common.h). */
export const O_RDWR = 0o2;
export const O_CLOEXEC = 0o2000000;
export const PROT_READ = 1;
export const PROT_WRITE = 2;
export const MAP_SHARED = 1;

/** An error thrown by the binding: a failed syscall. */
export interface ErrnoError extends Error {
  code: string;
  errno: number;
}

export function isErrnoError(e: unknown): e is ErrnoError {
  return e instanceof Error && typeof (e as Partial<ErrnoError>).errno === 'number';
}

export type NativeLoad = { ok: true; native: KvmNative; path: string } | { ok: false; reason: string };

const ADDON = 'build/Release/tsvmm_kvm.node';

/** Where the built addon may live: beside this file (src/ via tsx) or, from dist/, back in src/. */
export function addonCandidates(): string[] {
  return [
    fileURLToPath(new URL(`./native/${ADDON}`, import.meta.url)),
    fileURLToPath(new URL(`../../../src/vcpu/kvm/native/${ADDON}`, import.meta.url)),
  ];
}

let cached: NativeLoad | undefined;

export function loadNative(): NativeLoad {
  if (cached) return cached;
  if (process.platform !== 'linux') {
    cached = { ok: false, reason: `/dev/kvm needs Linux (this is ${process.platform})` };
    return cached;
  }
  const path = addonCandidates().find((p) => existsSync(p));
  if (!path) {
    cached = {
      ok: false,
      reason:
        'the /dev/kvm binding is not built (run `node scripts/build-native.mjs`; it needs a C compiler and Node headers)',
    };
    return cached;
  }
  try {
    const require = createRequire(import.meta.url);
    const native = require(path) as KvmNative;
    const missing = REQUIRED.filter((k) => typeof native[k] !== 'function');
    cached =
      missing.length === 0
        ? { ok: true, native, path }
        : {
            ok: false,
            reason: `the /dev/kvm binding at ${path} is out of date (no ${missing.join(', ')}); rebuild it with \`node scripts/build-native.mjs\``,
          };
  } catch (e) {
    cached = { ok: false, reason: `the /dev/kvm binding at ${path} failed to load: ${(e as Error).message}` };
  }
  return cached;
}

/**
 * One ioctl, with a failure turned into BackendError(errno name) naming the ioctl. `name` is the
 * KVM ioctl's name, used only for the message.
 */
export function kvmIoctl(
  native: KvmNative,
  fd: number,
  name: string,
  request: number,
  arg: number | bigint | ArrayBuffer | ArrayBufferView,
): number {
  try {
    return native.ioctl(fd, request, arg);
  } catch (e) {
    if (isErrnoError(e)) throw new BackendError(e.code, `${name}: ${e.code} (${errnoText(e)})`);
    throw e;
  }
}

function errnoText(e: ErrnoError): string {
  const m = /\(([^()]*)\)$/.exec(e.message);
  return m ? m[1]! : `errno ${e.errno}`;
}
