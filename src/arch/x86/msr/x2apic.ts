// The x2APIC register address space, MSRs 800H-8FFH: which register each MSR is and how RDMSR/WRMSR
// treat it in x2APIC mode. Intel SDM Vol. 3A §11.12.1.2 Table 11-6 "Local APIC Register Address
// Map Supported by x2APIC"; KVM's reading of it: arch/x86/kvm/lapic.c kvm_lapic_readable_reg_mask,
// kvm_lapic_reg_write, kvm_x2apic_msr_read/write (spec §6 "x2APIC").

export interface X2apicReg {
  /** MSR index (800H + xAPIC MMIO offset / 16) */
  readonly msr: number;
  /** registers with `count` > 1 cover msr..msr+count-1 (ISR, TMR, IRR) */
  readonly count?: number;
  readonly name: string;
  /** 'rw' read/write, 'ro' WRMSR #GP, 'wo' RDMSR #GP */
  readonly access: 'rw' | 'ro' | 'wo';
  /** 64 bits wide (only ICR); every other register has bits 63:32 reserved (WRMSR #GP) */
  readonly wide?: true;
  /** WRMSR rule beyond access and width: the reason a value is refused, or undefined */
  readonly writeCheck?: (value: bigint) => string | undefined;
  /** exists only when the LAPIC has a CMCI LVT (MCG_CAP.MCG_CMCI_P, bit 10) */
  readonly cmci?: true;
}

/** Every register x2APIC mode has; any other MSR in 800H-8FFH raises #GP on RDMSR and WRMSR
 *  (ARBPRI 809H, DFR 80EH and ICR2 831H exist only in xAPIC mode). */
export const X2APIC_REGS: readonly X2apicReg[] = [
  { msr: 0x802, name: 'x2APIC ID', access: 'ro' },
  { msr: 0x803, name: 'Version', access: 'ro' },
  { msr: 0x808, name: 'TPR', access: 'rw' },
  { msr: 0x80a, name: 'PPR', access: 'ro' },
  { msr: 0x80b, name: 'EOI', access: 'wo' },
  { msr: 0x80d, name: 'LDR', access: 'ro' },
  { msr: 0x80f, name: 'SVR', access: 'rw' },
  { msr: 0x810, count: 8, name: 'ISR', access: 'ro' },
  { msr: 0x818, count: 8, name: 'TMR', access: 'ro' },
  { msr: 0x820, count: 8, name: 'IRR', access: 'ro' },
  {
    msr: 0x828,
    name: 'ESR',
    access: 'rw',
    writeCheck: (v) => (v !== 0n ? 'a WRMSR to the x2APIC ESR must write 0' : undefined),
  },
  { msr: 0x82f, name: 'LVT CMCI', access: 'rw', cmci: true },
  { msr: 0x830, name: 'ICR', access: 'rw', wide: true },
  { msr: 0x832, name: 'LVT Timer', access: 'rw' },
  { msr: 0x833, name: 'LVT Thermal Sensor', access: 'rw' },
  { msr: 0x834, name: 'LVT Performance Monitoring', access: 'rw' },
  { msr: 0x835, name: 'LVT LINT0', access: 'rw' },
  { msr: 0x836, name: 'LVT LINT1', access: 'rw' },
  { msr: 0x837, name: 'LVT Error', access: 'rw' },
  { msr: 0x838, name: 'Initial Count', access: 'rw' },
  { msr: 0x839, name: 'Current Count', access: 'ro' },
  { msr: 0x83e, name: 'Divide Configuration', access: 'rw' },
  {
    msr: 0x83f,
    name: 'SELF IPI',
    access: 'wo',
    writeCheck: (v) => (v & 0xffff_ff00n ? 'SELF IPI bits 31:8 are reserved' : undefined),
  },
];

/** The register at x2APIC MSR `msr`, or undefined (no register: #GP). */
export function x2apicReg(msr: number): X2apicReg | undefined {
  const i = msr >>> 0;
  return X2APIC_REGS.find((r) => i >= r.msr && i < r.msr + (r.count ?? 1));
}

/** The xAPIC-only registers' names, for refusal reasons. */
export const XAPIC_ONLY: ReadonlyMap<number, string> = new Map([
  [0x809, 'ARBPRI (xAPIC only)'],
  [0x80e, 'DFR (xAPIC only: x2APIC has no destination format register)'],
  [0x831, 'ICR2 (xAPIC only: x2APIC ICR is one 64-bit MSR, 830H)'],
]);
