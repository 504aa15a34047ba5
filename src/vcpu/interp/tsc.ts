// The interpreter's time-stamp counter: IA32_TIME_STAMP_COUNTER (MSR 0x10), RDTSC/RDTSCP and
// IA32_TSC_ADJUST (MSR 0x3B), Intel SDM Vol. 3B §18.17 "Time-Stamp Counter" and §18.17.3
// "Time-Stamp Counter Adjustment"; the clock it follows is the VMM's (Vm.setTscClock, backend.ts).
//
// guest TSC = base + c.tscOffset, where base is
//   - with a TscClock (the machine's 'pc' platform): floor(nowNs * hz / 1e9), the TSC KVM gives a
//     guest after KVM_SET_TSC_KHZ — invariant, the same on every vCPU, and running at `hz` against
//     the PIT / ACPI PM timer / LAPIC timer, which read the same clock;
//   - without one: c.icount, the retired-instruction count (deterministic: unit tests, the bench's
//     RDTSC-delta-equals-instruction-count checks).
// Guest WRMSR IA32_TSC adds the change to IA32_TSC_ADJUST, guest WRMSR IA32_TSC_ADJUST adds the change
// to the TSC (SDM §18.17.3); host-initiated writes (KVM_SET_MSRS) set one without touching the other,
// as KVM does (kvm_set_msr_common: MSR_IA32_TSC / MSR_IA32_TSC_ADJUST).

import type { TscClock } from '../backend.ts';
import type { Cpu } from './cpu.ts';

export const MSR_IA32_TSC = 0x10;
export const MSR_IA32_TSC_ADJUST = 0x3b;

const NS_PER_S = 1_000_000_000;
const TWO64 = 18446744073709551616n;

/** The clock each vCPU's TSC follows (absent: instruction counting). */
const clocks = new WeakMap<Cpu, TscClock>();

export function setTscClock(c: Cpu, clock: TscClock | undefined): void {
  const before = readTsc(c);
  if (clock) clocks.set(c, clock);
  else clocks.delete(c);
  // keep the value continuous across the switch (a vCPU switched before it ran reads 0 either way)
  c.tscOffset = 0;
  c.tscOffset = before === 0 ? 0 : before - readTsc(c);
}

export function tscClockOf(c: Cpu): TscClock | undefined {
  return clocks.get(c);
}

/** Clock ticks at `ns` (exact integer arithmetic below 2^53). */
export function clockTicks(clock: TscClock, ns: number): number {
  const s = Math.floor(ns / NS_PER_S);
  const r = ns - s * NS_PER_S;
  return s * clock.hz + Math.floor((r * clock.hz) / NS_PER_S);
}

function base(c: Cpu): number {
  const k = clocks.get(c);
  return k ? clockTicks(k, k.nowNs()) : c.icount;
}

/** The guest TSC as a Number (exact below 2^53: 52 days at 2 GHz). */
export function readTsc(c: Cpu): number {
  return base(c) + c.tscOffset;
}

/** IA32_TSC as a 64-bit MSR value. */
export function readTscMsr(c: Cpu): bigint {
  const t = BigInt(Math.floor(readTsc(c)));
  return ((t % TWO64) + TWO64) % TWO64;
}

/** Set the TSC to `v` (host-initiated: IA32_TSC_ADJUST unchanged). */
export function writeTsc(c: Cpu, v: bigint): void {
  c.tscOffset = Number(BigInt.asUintN(64, v)) - base(c);
}

/** Guest WRMSR to IA32_TSC or IA32_TSC_ADJUST (the value already passed the contract): SDM §18.17.3. */
export function guestWriteTscMsr(c: Cpu, index: number, v: bigint): void {
  const adj = c.msrs.get(MSR_IA32_TSC_ADJUST) ?? 0n;
  if (index === MSR_IA32_TSC) {
    const delta = BigInt.asUintN(64, v) - readTscMsr(c);
    writeTsc(c, v);
    c.msrs.set(MSR_IA32_TSC_ADJUST, BigInt.asUintN(64, adj + delta));
  } else {
    const delta = BigInt.asIntN(64, v - adj);
    writeTsc(c, readTscMsr(c) + delta);
    c.msrs.set(MSR_IA32_TSC_ADJUST, BigInt.asUintN(64, v));
  }
}
