// Application-processor start-up state for SMP bring-up with INIT/SIPI (Intel SDM Vol. 3A §9.1.1
// Table 9-1 "IA-32 and Intel 64 Processor States Following Power-up, Reset, or INIT", §9.4.4 "MP
// Initialization Example": a start-up IPI with vector VV starts the AP in real mode at VV000h with
// CS = VV00h, IP = 0). Plain data the machine applies through Vcpu.setRegs/setSregs when a LocalApic
// reports takeInit() / mpState 'sipi-received' (devices/lapic/lapic.ts).

import type { Regs, Segment, Sregs } from '../vcpu/backend.ts';
import { realSegment, zeroRegs } from '../loaders/boot/boot-state.ts';

/** CR0 after INIT: CD | NW | ET (SDM Table 9-1; INIT leaves CD/NW as they were, power-up sets them). */
export const CR0_AFTER_INIT = 0x60000010n;
export const RESET_VECTOR_CS = 0xf000;
export const RESET_VECTOR_BASE = 0xffff0000n;
export const RESET_VECTOR_IP = 0xfff0n;

function realSeg(selector: number, base: bigint, code: boolean): Segment {
  return realSegment(selector, base, code ? 0xb : 0x3);
}

function realModeSregs(cs: Segment): Partial<Sregs> {
  const data = realSeg(0, 0n, false);
  return {
    cs,
    ds: data,
    es: data,
    fs: data,
    gs: data,
    ss: data,
    tr: { ...realSeg(0, 0n, false), type: 0xb, s: false },
    ldt: { ...realSeg(0, 0n, false), type: 0x2, s: false },
    gdt: { base: 0n, limit: 0xffff },
    idt: { base: 0n, limit: 0xffff },
    cr0: CR0_AFTER_INIT,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    efer: 0n,
  };
}

/**
 * The state after INIT (and power-up): real mode at F000:FFF0 with CS.base = 0xFFFF0000, EDX = the
 * processor signature (CPUID.1:EAX). The vCPU then waits for a SIPI (LocalApic.mpState).
 */
export function initState(cpuSignature: number): { regs: Regs; sregs: Partial<Sregs> } {
  const regs = { ...zeroRegs(), rip: RESET_VECTOR_IP, rdx: BigInt(cpuSignature >>> 0) };
  return { regs, sregs: realModeSregs(realSeg(RESET_VECTOR_CS, RESET_VECTOR_BASE, true)) };
}

/** The state a start-up IPI with `vector` gives: real mode at vector << 12 (CS = vector << 8, IP = 0). */
export function sipiState(vector: number, cpuSignature: number): { regs: Regs; sregs: Partial<Sregs> } {
  if (!Number.isInteger(vector) || vector < 0 || vector > 0xff)
    throw new RangeError(`SIPI vector ${vector} is not 0-255`);
  const regs = { ...zeroRegs(), rip: 0n, rdx: BigInt(cpuSignature >>> 0) };
  return { regs, sregs: realModeSregs(realSeg(vector << 8, BigInt(vector << 12), true)) };
}
