// The control state a guest-path check reads (the current CR0/CR3/CR4/EFER/XCR0/XSS, CS.L, CPL, SMM,
// VMX operation: the inputs of kvm_set_cr0/cr4, set_efer and __kvm_set_xcr, spec §1.3, §2, §3.2,
// §4.1) and the small constructors for verdicts (shapes in api.ts). RESET values: SDM Vol. 3A Table 10-1.

import type { Accepted, ContractFault, Refusal, WriteEffects } from './api.ts';
import { TsvmmError } from '../util/result.ts';

/** Host-side argument check: a register value must be a bigint in [0, 2^64) (CONTRACT_BAD_VALUE). */
export function u64Arg(v: unknown, what: string): bigint {
  if (typeof v !== 'bigint' || v < 0n || v >> 64n !== 0n)
    throw new TsvmmError(
      'CONTRACT_BAD_VALUE',
      `${what} must be a bigint in 0..2^64-1, got ${typeof v === 'bigint' ? v.toString() : typeof v}`,
    );
  return v;
}

/** Host-side argument check: an MSR index must be an integer in [0, 2^32) (CONTRACT_BAD_VALUE). */
export function msrIndexArg(v: unknown): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffffffff)
    throw new TsvmmError(
      'CONTRACT_BAD_VALUE',
      `MSR index must be an integer in 0..0xFFFFFFFF, got ${String(v)}`,
    );
  return v;
}

export interface ControlState {
  readonly cr0: bigint;
  readonly cr3: bigint;
  readonly cr4: bigint;
  readonly efer: bigint;
  readonly xcr0: bigint;
  readonly xss?: bigint;
  /** CS.L of the current code segment (64-bit mode when EFER.LMA=1 too) */
  readonly csL: boolean;
  readonly cpl: number;
  readonly smm?: boolean;
  /** post-VMXON (L1 in VMX operation) */
  readonly vmxon?: boolean;
  /** IA32_APIC_BASE: the x2APIC MSRs 800H-8FFH exist only with EN=1 and EXTD=1 (kvm_x2apic_msr_read/
   *  write). Absent = APIC mode unknown: only the CPUID x2APIC gate is checked (the pre-2026-11 rule). */
  readonly apicBase?: bigint;
}

/** State after RESET with long mode off: CR0=0x60000010, everything else 0, XCR0=1. */
export const RESET_STATE: ControlState = {
  cr0: 0x6000_0010n,
  cr3: 0n,
  cr4: 0n,
  efer: 0n,
  xcr0: 1n,
  xss: 0n,
  csL: false,
  cpl: 0,
};

export function refuse(fault: ContractFault, rule: string, reason: string): Refusal {
  return { ok: false, fault, rule, reason };
}

export function accept(value: bigint, e: Partial<Omit<WriteEffects, 'value'>> = {}): Accepted {
  return {
    ok: true,
    effects: {
      mmuReset: e.mmuReset ?? false,
      tlbFlush: e.tlbFlush ?? 'none',
      loadPdptrs: e.loadPdptrs ?? false,
      cpuidDirty: e.cpuidDirty ?? false,
      value,
      ...(e.efer !== undefined ? { efer: e.efer } : {}),
    },
  };
}

export function hexv(v: bigint): string {
  return '0x' + v.toString(16);
}
