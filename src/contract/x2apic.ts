// RDMSR/WRMSR (and KVM_GET/SET_MSRS) of the x2APIC registers, MSRs 800H-8FFH: Intel SDM Vol. 3A
// §11.12.1.2-§11.12.1.3 (x2APIC register address space, reserved-bit and access rules) and KVM's
// lapic.c kvm_x2apic_msr_read/write, kvm_lapic_readable_reg_mask, kvm_lapic_reg_write (spec §6).
// Userspace accesses go through the same functions (they return 1, not KVM_MSR_RET_UNSUPPORTED, so the
// "userspace may read / write 0" exception of kvm_do_msr_access never applies here).

import type { Verdict } from './api.ts';
import { MCG_CMCI_P } from '../arch/x86/msr/table.ts';
import { XAPIC_ONLY, x2apicReg } from '../arch/x86/msr/x2apic.ts';
import type { GuestModel } from './model.ts';
import { accept, hexv, refuse } from './state.ts';

const APIC_BASE_EN = 0x800n;
const APIC_BASE_EXTD = 0x400n;

function idx(i: number): string {
  return `0x${(i >>> 0).toString(16).toUpperCase()}`;
}

/** Is IA32_APIC_BASE in x2APIC mode (EN=1 and EXTD=1)? */
export function isX2apicMode(apicBase: bigint): boolean {
  return (apicBase & (APIC_BASE_EN | APIC_BASE_EXTD)) === (APIC_BASE_EN | APIC_BASE_EXTD);
}

/**
 * An access to x2APIC MSR `index` with IA32_APIC_BASE = `apicBase`: `value` undefined for RDMSR.
 * On success `effects.value` is the value written (reads: 0, the register's value is the LAPIC's).
 */
export function checkX2apicAccess(
  model: GuestModel,
  index: number,
  value: bigint | undefined,
  apicBase: bigint,
  mcgCap: bigint,
): Verdict {
  const i = index >>> 0;
  const op = value === undefined ? 'RDMSR' : 'WRMSR';
  if (!isX2apicMode(apicBase)) {
    const mode = apicBase & APIC_BASE_EN ? 'xAPIC mode' : 'the APIC is disabled';
    return refuse(
      'GP',
      'x2apic.not-x2apic-mode',
      `${op} ${idx(i)} is an x2APIC register access but ${mode} (IA32_APIC_BASE ${hexv(apicBase)}: EN=${
        apicBase & APIC_BASE_EN ? 1 : 0
      }, EXTD=${apicBase & APIC_BASE_EXTD ? 1 : 0}; x2APIC mode needs both)`,
    );
  }
  const reg = x2apicReg(i);
  if (!reg || (reg.cmci && !(mcgCap & MCG_CMCI_P))) {
    const what = XAPIC_ONLY.get(i) ?? (reg ? `${reg.name} (needs IA32_MCG_CAP.MCG_CMCI_P)` : 'no register');
    return refuse('GP', 'x2apic.no-register', `${op} ${idx(i)}: x2APIC mode has no such register: ${what}`);
  }
  if (value === undefined) {
    if (reg.access === 'wo')
      return refuse(
        'GP',
        'x2apic.write-only',
        `RDMSR ${idx(i)}: the x2APIC ${reg.name} register is write-only`,
      );
    return accept(0n);
  }
  if (reg.access === 'ro')
    return refuse('GP', 'x2apic.read-only', `WRMSR ${idx(i)}: the x2APIC ${reg.name} register is read-only`);
  if (!reg.wide && value >> 32n)
    return refuse(
      'GP',
      'x2apic.reserved',
      `WRMSR ${idx(i)} ${hexv(value)}: bits 63:32 of the x2APIC ${reg.name} register are reserved`,
    );
  const bad = reg.writeCheck?.(value);
  if (bad) return refuse('GP', 'x2apic.reserved', `WRMSR ${idx(i)} ${hexv(value)}: ${bad}`);
  // KVM performs the EOI whatever the value; the SDM requires 0 (MODE_DIFFERENCES msr.x2apic-eoi-nonzero).
  if (reg.msr === 0x80b && value !== 0n && model.mode === 'architectural')
    return refuse('GP', 'x2apic.reserved', `WRMSR ${idx(i)} ${hexv(value)}: x2APIC EOI writes must be 0`);
  return accept(value);
}
