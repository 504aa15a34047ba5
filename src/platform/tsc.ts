// A stable, invariant TSC tied to the machine clock, and the CPUID leaves that tell a guest its
// frequency: Intel SDM Vol. 2A CPUID leaf 15H ("Time Stamp Counter and Nominal Core Crystal Clock
// Information") and leaf 16H ("Processor Frequency Information"); the hypervisor range 0x40000000
// (KVM signature "KVMKVMKVM\0\0\0", Linux Documentation/virt/kvm/x86/cpuid.rst) and the generic
// timing leaf 0x40000010 (EAX = TSC kHz, EBX = APIC bus kHz; read by Linux only on VMware).
//
// How Linux uses them (arch/x86/kernel/tsc.c native_calibrate_tsc, Intel vendor only): with leaf 0x15
// EAX (denominator) and EBX (numerator) non-zero and ECX (crystal Hz) non-zero, TSC Hz =
// ECX * EBX / EAX, X86_FEATURE_TSC_KNOWN_FREQ is set and the local APIC timer period is taken as
// crystal_khz * 1000 / HZ: the APIC timer is assumed to tick at the crystal. So the crystal reported
// here is the APIC bus clock of devices/lapic (1 GHz) and the ratio EBX/EAX gives the TSC.
//
// guest TSC(ns) = floor(ns * hz / 1e9) + offset — exact integer arithmetic below 2^53 (104 days at
// 1 GHz), no drift, deterministic under a manual clock.

import type { CpuidEntry } from '../arch/x86/cpuid/table.ts';
import { TsvmmError } from '../util/result.ts';
import { APIC_BUS_HZ } from '../devices/lapic/regs.ts';

const NS_PER_S = 1_000_000_000;

/** Default guest TSC frequency: 2 GHz (a round figure; any value ≥ 1 MHz works). */
export const DEFAULT_TSC_HZ = 2_000_000_000;

/** Converts between machine-clock nanoseconds and guest TSC values. */
export interface TscSource {
  readonly hz: number;
  /** guest TSC value at clock time `ns` */
  tscAt(ns: number): number;
  /** the first clock nanosecond at which the guest TSC has reached `tsc` */
  nsAt(tsc: number): number;
}

export class FixedTsc implements TscSource {
  constructor(
    readonly hz: number = DEFAULT_TSC_HZ,
    /** guest TSC = ticks since clock 0 + offset (IA32_TSC writes / TSC_ADJUST move it) */
    public offset = 0,
  ) {
    if (!Number.isSafeInteger(hz) || hz < 1_000_000 || hz > 100_000_000_000) {
      throw new TsvmmError(
        'TSC_FREQUENCY',
        `TSC frequency must be a whole number of Hz between 1 MHz and 100 GHz (got ${hz})`,
      );
    }
  }

  tscAt(ns: number): number {
    const s = Math.floor(ns / NS_PER_S);
    const r = ns - s * NS_PER_S;
    return s * this.hz + Math.floor((r * this.hz) / NS_PER_S) + this.offset;
  }

  nsAt(tsc: number): number {
    const t = tsc - this.offset;
    if (t <= 0) return 0;
    const s = Math.floor(t / this.hz);
    const r = t - s * this.hz;
    return s * NS_PER_S + Math.ceil((r * NS_PER_S) / this.hz);
  }
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

function entry(fn: number, eax: number, ebx: number, ecx: number, edx: number): CpuidEntry {
  return { function: fn, index: 0, flags: 0, eax: eax >>> 0, ebx: ebx >>> 0, ecx: ecx >>> 0, edx: edx >>> 0 };
}

/**
 * CPUID 0x15: EAX = denominator, EBX = numerator of TSC/crystal, ECX = crystal Hz (the APIC bus).
 * The ratio is reduced; both terms must fit in 32 bits.
 */
export function cpuidLeaf15(tscHz: number, crystalHz: number = APIC_BUS_HZ): CpuidEntry {
  const g = gcd(tscHz, crystalHz);
  const num = tscHz / g;
  const den = crystalHz / g;
  if (num > 0xffffffff || den > 0xffffffff || crystalHz > 0xffffffff) {
    throw new TsvmmError(
      'TSC_FREQUENCY',
      `TSC ${tscHz} Hz over crystal ${crystalHz} Hz has no 32-bit ratio for CPUID 0x15`,
    );
  }
  return entry(0x15, den, num, crystalHz, 0);
}

/** CPUID 0x16: EAX = base MHz, EBX = max MHz, ECX = bus (reference) MHz (16-bit fields). */
export function cpuidLeaf16(tscHz: number, busHz: number = APIC_BUS_HZ): CpuidEntry {
  const mhz = Math.min(0xffff, Math.floor(tscHz / 1e6));
  return entry(0x16, mhz, mhz, Math.min(0xffff, Math.floor(busHz / 1e6)), 0);
}

/** "KVMKVMKVM\0\0\0" as EBX, ECX, EDX (little-endian ASCII). */
export const KVM_SIGNATURE = { ebx: 0x4b4d564b, ecx: 0x564b4d56, edx: 0x0000004d } as const;

/**
 * The hypervisor leaves: 0x40000000 (max leaf + "KVMKVMKVM"), 0x40000001 (KVM PV features: none,
 * tsvmm emulates no paravirtual clock), 0x40000010 (TSC kHz, APIC bus kHz).
 */
export function hypervisorTimingLeaves(tscHz: number, busHz: number = APIC_BUS_HZ): CpuidEntry[] {
  return [
    entry(0x40000000, 0x40000010, KVM_SIGNATURE.ebx, KVM_SIGNATURE.ecx, KVM_SIGNATURE.edx),
    entry(0x40000001, 0, 0, 0, 0),
    entry(0x40000010, Math.floor(tscHz / 1000), Math.floor(busHz / 1000), 0, 0),
  ];
}

/** Read a 0x15 leaf back: the TSC Hz it states (0 when it states none). */
export function tscHzFromLeaf15(e: Pick<CpuidEntry, 'eax' | 'ebx' | 'ecx'>): number {
  if (!e.eax || !e.ebx || !e.ecx) return 0;
  return (e.ecx * e.ebx) / e.eax;
}
