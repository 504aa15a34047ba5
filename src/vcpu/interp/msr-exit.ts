// Userspace MSR exits on the interpreter: the KVM_CAP_X86_USER_SPACE_MSR + KVM_X86_SET_MSR_FILTER
// behaviour of Linux Documentation/virt/kvm/api.rst ("KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR",
// "KVM_X86_SET_MSR_FILTER"), behind the optional Vm.setUserspaceMsrs of backend.ts.
//
// RDMSR/WRMSR (SDM Vol. 2B) first check CPL (#GP(0) above 0, as the CPU does before any VM exit); then,
// for an index the VMM claimed, the instruction does nothing yet and the vCPU leaves run() with an
// x86_rdmsr / x86_wrmsr exit, RIP still at the instruction. The VMM fills `error` (and `data` for a
// read) and the next run() completes it: EDX:EAX = data and RIP past the instruction, or #GP(0).
// Claimed indices are never seen by the contract or the vCPU's own MSR store (host-initiated
// KVM_GET/SET_MSRS still are), exactly as with a KVM filter that denies them.

import type { MsrRange } from '../backend.ts';
import type { Cpu } from './cpu.ts';
import { RIP_LO, RIP_HI } from './state.ts';

/** Thrown out of an instruction that must leave run() as an MSR exit (caught in index.ts). */
export const MSR_EXIT_SIGNAL = { msrExit: true } as const;

/** KVM_X86_SET_MSR_FILTER takes at most 16 ranges (KVM_MSR_FILTER_MAX_RANGES). */
export const MAX_MSR_RANGES = 16;

interface MsrExitState {
  /** claimed ranges as flat [base, end) pairs (unsigned) */
  spans: Float64Array;
  /** the exit in flight */
  index: number;
  write: boolean;
  dataLo: number;
  dataHi: number;
  /** RIP of the next instruction (where a successful completion resumes) */
  nextLo: number;
  nextHi: number;
}

const states = new WeakMap<Cpu, MsrExitState>();

/** Check a range list as KVM_X86_SET_MSR_FILTER would; returns why it is bad, or undefined. */
export function badMsrRanges(ranges: readonly MsrRange[]): string | undefined {
  if (!Array.isArray(ranges)) return 'ranges must be an array of { base, count }';
  if (ranges.length > MAX_MSR_RANGES) return `at most ${MAX_MSR_RANGES} MSR ranges (got ${ranges.length})`;
  for (const r of ranges) {
    if (!r || !Number.isInteger(r.base) || r.base < 0 || r.base > 0xffffffff)
      return `MSR range base must be a 32-bit index (got ${String(r?.base)})`;
    if (!Number.isInteger(r.count) || r.count < 1 || r.base + r.count > 0x100000000)
      return `MSR range count must be 1 or more and stay within 32-bit indices (got ${String(r.count)} at 0x${r.base.toString(16)})`;
  }
  return undefined;
}

/** Claim `ranges` for the VMM on this vCPU (an empty list releases every index). */
export function setUserspaceMsrRanges(c: Cpu, ranges: readonly MsrRange[]): void {
  if (ranges.length === 0) {
    states.delete(c);
    return;
  }
  const spans = new Float64Array(ranges.length * 2);
  ranges.forEach((r, i) => {
    spans[2 * i] = r.base;
    spans[2 * i + 1] = r.base + r.count;
  });
  states.set(c, { spans, index: 0, write: false, dataLo: 0, dataHi: 0, nextLo: 0, nextHi: 0 });
}

/** RDMSR/WRMSR of `index` (ECX) after the CPL check: leave run() if the VMM claimed it. */
export function claimMsrExit(c: Cpu, index: number, write: boolean): void {
  const st = states.get(c);
  if (!st) return;
  const i = index >>> 0;
  const s = st.spans;
  for (let k = 0; k < s.length; k += 2) {
    if (i >= s[k]! && i < s[k + 1]!) {
      st.index = i;
      st.write = write;
      st.dataLo = write ? c.r[0]! : 0; // EAX
      st.dataHi = write ? c.r[4]! : 0; // EDX
      st.nextLo = c.r[RIP_LO]!;
      st.nextHi = c.r[RIP_HI]!;
      throw MSR_EXIT_SIGNAL;
    }
  }
}

/** The exit in flight (after MSR_EXIT_SIGNAL): the VcpuExit the VMM sees and where a completed
 *  RDMSR/WRMSR resumes (the next instruction's RIP). */
export function pendingMsrExit(c: Cpu): {
  exit: { reason: 'x86_rdmsr' | 'x86_wrmsr'; index: number; data: bigint; error: boolean };
  nextLo: number;
  nextHi: number;
} {
  const st = states.get(c)!;
  return {
    exit: {
      reason: st.write ? 'x86_wrmsr' : 'x86_rdmsr',
      index: st.index,
      data: st.write ? (BigInt(st.dataHi >>> 0) << 32n) | BigInt(st.dataLo >>> 0) : 0n,
      error: false,
    },
    nextLo: st.nextLo,
    nextHi: st.nextHi,
  };
}
