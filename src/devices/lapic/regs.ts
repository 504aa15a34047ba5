// Local APIC register map and bit fields: Intel SDM Vol. 3A §11.4.1 Table 11-1 "Local APIC Register
// Address Map" (xAPIC MMIO offsets), §11.12.1.2 Table 11-6 "Local APIC Register Address Map Supported
// by x2APIC" (MSR 0x800 + offset / 16), §11.5.1 Figure 11-8 (LVT), §11.6.1 Figure 11-12 (ICR),
// §11.4.4 Figure 11-5 (IA32_APIC_BASE), §11.5.4 Figure 11-10 (divide configuration).
//
//   offset  register                          xAPIC   x2APIC MSR  x2APIC access
//   0x020   Local APIC ID                     RW      0x802       RO
//   0x030   Local APIC Version                RO      0x803       RO
//   0x080   Task Priority (TPR)               RW      0x808       RW
//   0x090   Arbitration Priority (APR)        RO      —           #GP
//   0x0A0   Processor Priority (PPR)          RO      0x80A       RO
//   0x0B0   EOI                               WO      0x80B       WO (value must be 0)
//   0x0C0   Remote Read (RRD)                 RO      —           #GP
//   0x0D0   Logical Destination (LDR)         RW      0x80D       RO (derived from the x2APIC ID)
//   0x0E0   Destination Format (DFR)          RW      —           #GP
//   0x0F0   Spurious Interrupt Vector (SVR)   RW      0x80F       RW
//   0x100+  ISR bits 31:0 … 255:224 (8 regs)  RO      0x810-817   RO
//   0x180+  TMR (8 regs)                      RO      0x818-81F   RO
//   0x200+  IRR (8 regs)                      RO      0x820-827   RO
//   0x280   Error Status (ESR)                RW      0x828       RW (write value must be 0)
//   0x2F0   LVT CMCI                          RW      0x82F       RW
//   0x300   ICR bits 31:0                     RW      0x830       RW, 64-bit (ICR high inside)
//   0x310   ICR bits 63:32                    RW      —           #GP
//   0x320   LVT Timer                         RW      0x832       RW
//   0x330   LVT Thermal Sensor                RW      0x833       RW
//   0x340   LVT Performance Counters          RW      0x834       RW
//   0x350   LVT LINT0                         RW      0x835       RW
//   0x360   LVT LINT1                         RW      0x836       RW
//   0x370   LVT Error                         RW      0x837       RW
//   0x380   Timer Initial Count               RW      0x838       RW
//   0x390   Timer Current Count               RO      0x839       RO
//   0x3E0   Timer Divide Configuration        RW      0x83E       RW
//   —       SELF IPI                          —       0x83F       WO

export const LAPIC_DEFAULT_BASE = 0xfee00000;
export const LAPIC_MMIO_SIZE = 0x1000;

export const LapicReg = {
  ID: 0x020,
  VERSION: 0x030,
  TPR: 0x080,
  APR: 0x090,
  PPR: 0x0a0,
  EOI: 0x0b0,
  RRD: 0x0c0,
  LDR: 0x0d0,
  DFR: 0x0e0,
  SVR: 0x0f0,
  ISR0: 0x100,
  TMR0: 0x180,
  IRR0: 0x200,
  ESR: 0x280,
  LVT_CMCI: 0x2f0,
  ICR_LO: 0x300,
  ICR_HI: 0x310,
  LVT_TIMER: 0x320,
  LVT_THERMAL: 0x330,
  LVT_PERF: 0x340,
  LVT_LINT0: 0x350,
  LVT_LINT1: 0x360,
  LVT_ERROR: 0x370,
  TIMER_INITIAL: 0x380,
  TIMER_CURRENT: 0x390,
  TIMER_DIVIDE: 0x3e0,
  /** x2APIC only (MSR 0x83F) */
  SELF_IPI: 0x3f0,
} as const;

/** x2APIC MSR range (SDM Vol. 3A §11.12.1.2): MSR = 0x800 + offset / 16. */
export const X2APIC_MSR_BASE = 0x800;
export const X2APIC_MSR_LAST = 0x8ff;
export function x2apicMsr(offset: number): number {
  return X2APIC_MSR_BASE + (offset >>> 4);
}
export function x2apicOffset(msr: number): number {
  return (msr - X2APIC_MSR_BASE) << 4;
}
/** The 64-bit ICR in x2APIC mode. */
export const MSR_X2APIC_ICR = 0x830;
export const MSR_X2APIC_SELF_IPI = 0x83f;
export const MSR_X2APIC_LVT_CMCI = 0x82f;
export const MSR_IA32_APIC_BASE = 0x1b;
export const MSR_IA32_TSC_DEADLINE = 0x6e0;

/** IA32_APIC_BASE (MSR 0x1B) bits, SDM Vol. 3A Figure 11-5 and §11.12.1. */
export const ApicBase = {
  BSP: 1 << 8,
  /** x2APIC mode enable */
  EXTD: 1 << 10,
  /** APIC global enable */
  EN: 1 << 11,
  /** bits 7:0 and 9 are reserved */
  RESERVED_LOW: 0x2ff,
} as const;

/** Version register: version 0x14 (integrated APIC), max LVT entry index in bits 23:16. With CMCI
 *  there are 7 LVT entries (CMCI, timer, thermal, perf, LINT0, LINT1, error) → max LVT = 6; without
 *  CMCI (LocalApicOptions.cmci false) max LVT = 5.
 *  Bit 24 (suppress-EOI-broadcast support) is 0: EOIs of level interrupts always reach the IOAPIC. */
export const LAPIC_VERSION = 0x14;
export const LAPIC_MAX_LVT = 6;

/** Spurious-interrupt vector register (SDM Vol. 3A Figure 11-23). */
export const Svr = { VECTOR: 0xff, APIC_ENABLE: 1 << 8, FOCUS_DISABLE: 1 << 9, WRITABLE: 0x3ff } as const;

/** LVT entry fields (SDM Vol. 3A Figure 11-8). */
export const Lvt = {
  VECTOR: 0xff,
  DELIVERY_MODE_SHIFT: 8,
  DELIVERY_MODE: 0x700,
  DELIVERY_STATUS: 1 << 12,
  POLARITY: 1 << 13,
  REMOTE_IRR: 1 << 14,
  LEVEL: 1 << 15,
  MASKED: 1 << 16,
  TIMER_MODE_SHIFT: 17,
  TIMER_MODE: 3 << 17,
} as const;

/** LVT timer modes (bits 18:17). */
export const TimerMode = { ONE_SHOT: 0, PERIODIC: 1, TSC_DEADLINE: 2 } as const;

/** Writable bits of each LVT entry (the rest are reserved or read-only status). */
export const LVT_WRITABLE = {
  timer: Lvt.VECTOR | Lvt.MASKED | Lvt.TIMER_MODE,
  thermal: Lvt.VECTOR | Lvt.DELIVERY_MODE | Lvt.MASKED,
  perf: Lvt.VECTOR | Lvt.DELIVERY_MODE | Lvt.MASKED,
  cmci: Lvt.VECTOR | Lvt.DELIVERY_MODE | Lvt.MASKED,
  lint: Lvt.VECTOR | Lvt.DELIVERY_MODE | Lvt.POLARITY | Lvt.LEVEL | Lvt.MASKED,
  error: Lvt.VECTOR | Lvt.MASKED,
} as const;

/** Delivery modes (ICR bits 10:8, LVT bits 10:8, IOAPIC redirection bits 10:8; SDM Vol. 3A §11.6.1). */
export const DeliveryMode = {
  FIXED: 0,
  LOWEST_PRIORITY: 1,
  SMI: 2,
  NMI: 4,
  INIT: 5,
  /** ICR: start-up IPI; LVT: reserved */
  STARTUP: 6,
  /** LVT LINT0/IOAPIC: external interrupt (the 8259's vector via INTA) */
  EXTINT: 7,
} as const;

/**
 * Interrupt command register low word (SDM Vol. 3A Figure 11-12). The same word is the format of
 * every interrupt message on the ApicBus: IOAPIC redirection entries use the same bit positions for
 * vector, delivery mode, destination mode and trigger mode (bit 13 is polarity there, not used here).
 */
export const Icr = {
  VECTOR: 0xff,
  DELIVERY_MODE_SHIFT: 8,
  DELIVERY_MODE: 0x700,
  /** 1 = logical destination */
  DEST_LOGICAL: 1 << 11,
  DELIVERY_STATUS: 1 << 12,
  /** 1 = assert (0 = de-assert: only meaningful for INIT level de-assert, which is ignored) */
  LEVEL_ASSERT: 1 << 14,
  /** 1 = level triggered */
  TRIGGER_LEVEL: 1 << 15,
  SHORTHAND_SHIFT: 18,
  SHORTHAND: 3 << 18,
  /** xAPIC: writable bits of ICR low */
  WRITABLE: 0xff | 0x700 | (1 << 11) | (1 << 14) | (1 << 15) | (3 << 18),
  /** x2APIC: bits of the 64-bit ICR's low word that must be zero (KVM: 31:20, 17:16, 13) */
  X2APIC_RESERVED_LO: 0xfff00000 | (3 << 16) | (1 << 13),
} as const;

/** Destination shorthand (ICR bits 19:18). */
export const Shorthand = { NONE: 0, SELF: 1, ALL_INCLUDING_SELF: 2, ALL_EXCLUDING_SELF: 3 } as const;

/** Error status register bits (SDM Vol. 3A Figure 11-9). */
export const Esr = {
  SEND_CHECKSUM: 1 << 0,
  RECEIVE_CHECKSUM: 1 << 1,
  SEND_ACCEPT: 1 << 2,
  RECEIVE_ACCEPT: 1 << 3,
  REDIRECTABLE_IPI: 1 << 4,
  SEND_ILLEGAL_VECTOR: 1 << 5,
  RECEIVE_ILLEGAL_VECTOR: 1 << 6,
  ILLEGAL_REGISTER_ADDRESS: 1 << 7,
} as const;

/** Divide configuration register (SDM Vol. 3A Figure 11-10): bits 3, 1:0; 0b111 = divide by 1. */
export const DIVIDE_WRITABLE = 0xb;
export function timerDivisor(dcr: number): number {
  const v = ((dcr >> 1) & 4) | (dcr & 3);
  return v === 7 ? 1 : 2 << v;
}

/**
 * The APIC timer's input clock. KVM counts the APIC bus at 1 GHz (APIC_BUS_CYCLE_NS = 1), and Linux
 * takes the timer rate from CPUID 0x15's crystal clock when that leaf is present (lapic_timer_period
 * = crystal_khz * 1000 / HZ), so src/platform/tsc.ts reports the same 1 GHz crystal.
 */
export const APIC_BUS_HZ = 1_000_000_000;
export const APIC_BUS_CYCLE_NS = 1_000_000_000 / APIC_BUS_HZ;
