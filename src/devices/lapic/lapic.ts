// The local APIC of one vCPU, in xAPIC (MMIO page) and x2APIC (MSR 0x800-0x8FF) modes: Intel SDM
// Vol. 3A chapter 11 — §11.4 (IA32_APIC_BASE, global enable), §11.5.1 (LVT), §11.5.3-4 (error
// handling, timer: one-shot, periodic, TSC-deadline §11.5.4.1), §11.6 (IPIs), §11.8 (interrupt
// acceptance: IRR/ISR/TMR, §11.8.3.1 TPR/PPR, §11.8.4 interrupt acceptance for fixed interrupts, §11.8.5
// EOI), §11.9 (spurious interrupt), §11.12 (x2APIC: MSR access rules §11.12.1.2-3, ID §11.12.5,
// LDR §11.12.10.2, state transitions §11.12.5 Figure 11-25). Register map: regs.ts.
//
// What the vCPU/backend calls (names are the entry points the machine wires):
//   hasPendingInterrupt()   a fixed interrupt in IRR outranks the processor priority (PPR)
//   acknowledge()           INTA: highest IRR vector → ISR, returns it (spurious vector when none)
//   tick(nowNs)             fire the timer if its deadline passed; nextTimerDeadlineNs() for HLT
//   rdmsr()/wrmsr()         x2APIC MSRs, IA32_APIC_BASE, IA32_TSC_DEADLINE → null or a #GP Refusal;
//                           read values land in msrLo/msrHi (no allocation on this path)
//   takeNmi(), mpState/sipiVector/takeInit()   NMI, INIT and start-up IPI state for SMP bring-up
//   acceptsPicInterrupts()  LINT0 is ExtINT and unmasked (virtual-wire mode) or the APIC is off
//   tpr / setTpr()          CR8 (= TPR[7:4])
// The MMIO page is a Device (offsets within the 4 KiB page); it is inert (reads all-ones) while the
// APIC is globally disabled or in x2APIC mode, as the SDM specifies.
//
// Timer: counts APIC bus cycles (1 ns each, regs.ts APIC_BUS_HZ) divided by the divide configuration.
// Nothing runs per cycle: the current count is computed from the clock and the start time; tick()
// fires due deadlines, coalescing missed periodic expirations into one interrupt.

import type { AccessSize, Clock, Device } from '../device.ts';
import type { Refusal } from '../../contract/api.ts';
import { checkSnapshot } from '../snapshot.ts';
import { TsvmmError } from '../../util/result.ts';
import type { TscSource } from '../../platform/tsc.ts';
import { FixedTsc } from '../../platform/tsc.ts';
import type { ApicBus } from './apic-bus.ts';
import {
  APIC_BUS_CYCLE_NS,
  ApicBase,
  DeliveryMode,
  DIVIDE_WRITABLE,
  Esr,
  Icr,
  LAPIC_DEFAULT_BASE,
  LAPIC_MAX_LVT,
  LAPIC_VERSION,
  LapicReg,
  Lvt,
  LVT_WRITABLE,
  MSR_IA32_APIC_BASE,
  MSR_IA32_TSC_DEADLINE,
  MSR_X2APIC_ICR,
  MSR_X2APIC_LVT_CMCI,
  MSR_X2APIC_SELF_IPI,
  Shorthand,
  Svr,
  TimerMode,
  timerDivisor,
  X2APIC_MSR_BASE,
  X2APIC_MSR_LAST,
} from './regs.ts';

export type ApicMode = 'disabled' | 'xapic' | 'x2apic' | 'invalid';

/** Multiprocessor state, as KVM's KVM_MP_STATE_*: what the vCPU should do next. */
export type MpState = 'runnable' | 'init-received' | 'sipi-received';

function gp(rule: string, reason: string): Refusal {
  return Object.freeze({ ok: false, fault: 'GP', rule, reason }) as Refusal;
}

/** The #GP verdicts this APIC can give (constant objects: no allocation on the MSR path). */
export const ApicRefusal = {
  notX2apic: gp(
    'apic.x2apic-msr-not-x2apic-mode',
    'x2APIC MSRs 0x800-0x8FF #GP unless IA32_APIC_BASE.EXTD=1 (SDM Vol. 3A §11.12.1.2)',
  ),
  unknownMsr: gp(
    'apic.x2apic-msr-reserved',
    'this x2APIC MSR does not exist (APR, RRD, DFR, ICR high and unassigned indices #GP; SDM Vol. 3A Table 11-6)',
  ),
  readOnly: gp('apic.x2apic-msr-read-only', 'WRMSR to a read-only x2APIC register (SDM Vol. 3A Table 11-6)'),
  writeOnly: gp(
    'apic.x2apic-msr-write-only',
    'RDMSR of a write-only x2APIC register (EOI, SELF IPI; SDM Vol. 3A Table 11-6)',
  ),
  reservedHigh: gp(
    'apic.x2apic-msr-reserved-bits',
    'bits 63:32 are reserved in every x2APIC register but the ICR',
  ),
  nonZeroEoi: gp(
    'apic.x2apic-eoi-nonzero',
    'WRMSR to the x2APIC EOI or ESR register with a non-zero value (SDM Vol. 3A §11.12.1.2)',
  ),
  icrReserved: gp('apic.x2apic-icr-reserved', 'reserved bits set in the x2APIC ICR (31:20, 17:16, 13)'),
  selfIpiReserved: gp('apic.x2apic-self-ipi-reserved', 'SELF IPI bits 31:8 are reserved'),
  baseReserved: gp(
    'apic.base-reserved',
    'reserved bits set in IA32_APIC_BASE (bits 7:0, 9, above MAXPHYADDR, or EXTD without x2APIC support)',
  ),
  baseInvalid: gp(
    'apic.base-invalid-state',
    'IA32_APIC_BASE with EXTD=1 and EN=0 is an invalid state (SDM Vol. 3A §11.12.5)',
  ),
  baseX2ToX: gp(
    'apic.base-x2apic-to-xapic',
    'x2APIC → xAPIC without going through disabled is invalid (SDM Vol. 3A Figure 11-25)',
  ),
  baseOffToX2: gp(
    'apic.base-disabled-to-x2apic',
    'disabled → x2APIC directly is invalid (SDM Vol. 3A Figure 11-25)',
  ),
} as const;

export interface LocalApicOptions {
  /** initial APIC ID (the x2APIC ID; the xAPIC ID register holds its low 8 bits) */
  id: number;
  /** the bootstrap processor (IA32_APIC_BASE.BSP) */
  bsp: boolean;
  bus: ApicBus;
  clock: Clock;
  /** guest TSC ↔ clock time for IA32_TSC_DEADLINE (default: 2 GHz from clock 0) */
  tsc?: TscSource;
  /** CPUID.1:ECX.x2APIC: may IA32_APIC_BASE.EXTD be set (default true) */
  x2apic?: boolean;
  /** the CMCI LVT exists (guest IA32_MCG_CAP.MCG_CMCI_P, bit 10): max LVT 6, else 5 and MSR 0x82F
   *  #GPs, as KVM does (default false, like QEMU's default MCG_CAP) */
  cmci?: boolean;
  /** guest MAXPHYADDR, for reserved IA32_APIC_BASE bits (default 46) */
  maxPhysAddrBits?: number;
  /** called whenever something became deliverable (IRR, NMI, INIT, SIPI, ExtINT): wake the vCPU */
  kick?: () => void;
  /** called when the guest moves the xAPIC page (IA32_APIC_BASE bits 12+): re-register the MMIO */
  onBaseMoved?: (base: number) => void;
}

export interface LocalApicState {
  id: number;
  baseLo: number;
  baseHi: number;
  xapicId: number;
  tpr: number;
  svr: number;
  ldr: number;
  dfr: number;
  esr: number;
  esrPending: number;
  icrLo: number;
  icrHi: number;
  lvt: number[];
  irr: number[];
  isr: number[];
  tmr: number[];
  timerInitial: number;
  timerDcr: number;
  timerStartNs: number;
  timerNextNs: number;
  tscDeadline: number;
  nmiPending: number;
  extIntPending: boolean;
  initPending: boolean;
  mpState: MpState;
  sipiVector: number;
  lint: number;
}

/** LVT slots, in register order. */
const LVT_CMCI = 0;
const LVT_TIMER = 1;
// 2 = thermal, 3 = performance counters (never raised: no thermal sensor or PMU interrupts)
const LVT_LINT0 = 4;
const LVT_LINT1 = 5;
const LVT_ERROR = 6;
const LVT_COUNT = 7;
const LVT_WRITE_MASK = [
  LVT_WRITABLE.cmci,
  LVT_WRITABLE.timer,
  LVT_WRITABLE.thermal,
  LVT_WRITABLE.perf,
  LVT_WRITABLE.lint,
  LVT_WRITABLE.lint,
  LVT_WRITABLE.error,
];

function lvtSlot(offset: number): number {
  if (offset === LapicReg.LVT_CMCI) return LVT_CMCI;
  if (offset >= LapicReg.LVT_TIMER && offset <= LapicReg.LVT_ERROR)
    return 1 + ((offset - LapicReg.LVT_TIMER) >> 4);
  return -1;
}

// x2APIC access rights per MSR (index - 0x800): 1 = readable, 2 = writable.
const X2_R = 1;
const X2_W = 2;
const X2_ACCESS = (() => {
  const a = new Uint8Array(256);
  const set = (off: number, v: number): void => {
    a[off >> 4] = v;
  };
  set(LapicReg.ID, X2_R);
  set(LapicReg.VERSION, X2_R);
  set(LapicReg.TPR, X2_R | X2_W);
  set(LapicReg.PPR, X2_R);
  set(LapicReg.EOI, X2_W);
  set(LapicReg.LDR, X2_R);
  set(LapicReg.SVR, X2_R | X2_W);
  for (let i = 0; i < 8; i++) {
    set(LapicReg.ISR0 + i * 16, X2_R);
    set(LapicReg.TMR0 + i * 16, X2_R);
    set(LapicReg.IRR0 + i * 16, X2_R);
  }
  set(LapicReg.ESR, X2_R | X2_W);
  set(LapicReg.LVT_CMCI, X2_R | X2_W);
  set(LapicReg.ICR_LO, X2_R | X2_W);
  for (let off = LapicReg.LVT_TIMER; off <= LapicReg.LVT_ERROR; off += 16) set(off, X2_R | X2_W);
  set(LapicReg.TIMER_INITIAL, X2_R | X2_W);
  set(LapicReg.TIMER_CURRENT, X2_R);
  set(LapicReg.TIMER_DIVIDE, X2_R | X2_W);
  set(LapicReg.SELF_IPI, X2_W);
  return a;
})();

/** Highest set bit of a 256-bit vector held as 8 × 32-bit words, or -1. */
function highest(v: Uint32Array): number {
  for (let i = 7; i >= 0; i--) {
    const w = v[i]!;
    if (w !== 0) return i * 32 + 31 - Math.clz32(w);
  }
  return -1;
}

export class LocalApic implements Device {
  readonly name: string;
  readonly initialId: number;
  private readonly bus: ApicBus;
  private readonly clock: Clock;
  private readonly tsc: TscSource;
  private readonly x2apicSupported: boolean;
  private readonly baseReservedHi: number;
  private readonly kick: () => void;
  private readonly onBaseMoved: ((base: number) => void) | undefined;
  private readonly bspFlag: boolean;
  private readonly cmci: boolean;

  /** IA32_APIC_BASE, low and high halves */
  private baseLo = 0;
  private baseHi = 0;
  /** xAPIC ID register (ID in bits 31:24) */
  private xapicId = 0;
  private tprReg = 0;
  private svr = 0xff;
  private ldr = 0;
  private dfr = 0xffffffff;
  private esr = 0;
  private esrPending = 0;
  private icrLo = 0;
  private icrHi = 0;
  private readonly lvt = new Uint32Array(LVT_COUNT);
  private readonly irr = new Uint32Array(8);
  private readonly isr = new Uint32Array(8);
  private readonly tmr = new Uint32Array(8);
  private timerInitial = 0;
  private timerDcr = 0;
  /** clock time at which the current count was (re)loaded with timerInitial */
  private timerStartNs = 0;
  /** next expiry (clock ns), or -1 when the timer is disarmed */
  private timerNextNs = -1;
  /** IA32_TSC_DEADLINE as written (0 = disarmed) */
  private tscDeadline = 0;
  private nmiPending = 0;
  private extIntPending = false;
  private initPending = false;
  /** current LINT0/LINT1 input levels (bit n) for edge detection */
  private lint = 0;

  /** SMP state (KVM_MP_STATE_*): 'init-received' waits for a start-up IPI */
  mpState: MpState = 'runnable';
  /** the start-up vector of the last accepted SIPI (valid in 'sipi-received'), else -1 */
  sipiVector = -1;

  /** value of the last successful rdmsr() */
  msrLo = 0;
  msrHi = 0;

  constructor(opts: LocalApicOptions) {
    this.initialId = opts.id >>> 0;
    this.name = `lapic${this.initialId}`;
    this.bus = opts.bus;
    this.clock = opts.clock;
    this.tsc = opts.tsc ?? new FixedTsc();
    this.x2apicSupported = opts.x2apic ?? true;
    const bits = opts.maxPhysAddrBits ?? 46;
    this.baseReservedHi = bits >= 64 ? 0 : ~((1 << Math.max(0, bits - 32)) - 1) >>> 0;
    this.kick = opts.kick ?? (() => {});
    this.onBaseMoved = opts.onBaseMoved;
    this.bspFlag = opts.bsp;
    this.cmci = opts.cmci ?? false;
    this.bus.attach(this);
    this.reset();
  }

  // ---------------------------------------------------------------- power-on / INIT state

  /** Power-on reset: IA32_APIC_BASE = 0xFEE00000 | EN (| BSP), xAPIC mode, registers at reset values. */
  reset(): void {
    this.baseLo = (LAPIC_DEFAULT_BASE | ApicBase.EN | (this.bspFlag ? ApicBase.BSP : 0)) >>> 0;
    this.baseHi = 0;
    this.xapicId = (this.initialId & 0xff) << 24;
    this.resetRegisters();
    this.mpState = 'runnable';
    this.sipiVector = -1;
    this.initPending = false;
    this.lint = 0;
  }

  /** The register state after power-up or INIT (SDM Vol. 3A §11.4.7.1), keeping ID and APIC base. */
  private resetRegisters(): void {
    this.tprReg = 0;
    this.svr = 0xff;
    this.ldr = 0;
    this.dfr = 0xffffffff;
    this.esr = 0;
    this.esrPending = 0;
    this.icrLo = 0;
    this.icrHi = 0;
    this.lvt.fill(Lvt.MASKED);
    this.irr.fill(0);
    this.isr.fill(0);
    this.tmr.fill(0);
    this.timerInitial = 0;
    this.timerDcr = 0;
    this.timerStartNs = 0;
    this.timerNextNs = -1;
    this.tscDeadline = 0;
    this.nmiPending = 0;
    this.extIntPending = false;
    if (this.mode === 'x2apic') this.ldr = this.x2apicLdr();
  }

  // ---------------------------------------------------------------- mode and IA32_APIC_BASE

  get mode(): ApicMode {
    const en = (this.baseLo & ApicBase.EN) !== 0;
    const extd = (this.baseLo & ApicBase.EXTD) !== 0;
    if (!en) return extd ? 'invalid' : 'disabled';
    return extd ? 'x2apic' : 'xapic';
  }

  /** APIC software-enabled (SVR bit 8) and globally enabled. */
  get enabled(): boolean {
    return (this.baseLo & ApicBase.EN) !== 0 && (this.svr & Svr.APIC_ENABLE) !== 0;
  }

  /** Guest physical base of the xAPIC page (IA32_APIC_BASE bits 12 and up). */
  get baseAddress(): number {
    return this.baseHi * 0x100000000 + ((this.baseLo & 0xfffff000) >>> 0);
  }

  get apicBase(): bigint {
    return (BigInt(this.baseHi >>> 0) << 32n) | BigInt(this.baseLo >>> 0);
  }

  /** The ID this APIC answers to: the x2APIC ID in x2APIC mode, else the xAPIC ID register's 31:24. */
  get currentId(): number {
    return this.mode === 'x2apic' ? this.initialId : this.xapicId >>> 24;
  }

  /** x2APIC logical ID (SDM Vol. 3A §11.12.10.2): cluster = ID[19:4] in 31:16, 1 << ID[3:0] in 15:0. */
  private x2apicLdr(): number {
    return (((this.initialId >>> 4) << 16) | (1 << (this.initialId & 0xf))) >>> 0;
  }

  /**
   * WRMSR IA32_APIC_BASE. Guest writes follow the state machine of SDM Vol. 3A Figure 11-25;
   * host-initiated writes (KVM_SET_MSRS, restore) skip the transition rules but not the reserved bits.
   */
  writeApicBase(lo: number, hi: number, hostInitiated = false): Refusal | null {
    lo >>>= 0;
    hi >>>= 0;
    if (
      lo & ApicBase.RESERVED_LOW ||
      hi & this.baseReservedHi ||
      (!this.x2apicSupported && lo & ApicBase.EXTD)
    )
      return ApicRefusal.baseReserved;
    const oldMode = this.mode;
    const en = (lo & ApicBase.EN) !== 0;
    const extd = (lo & ApicBase.EXTD) !== 0;
    if (!en && extd) return ApicRefusal.baseInvalid;
    const newMode: ApicMode = !en ? 'disabled' : extd ? 'x2apic' : 'xapic';
    if (!hostInitiated) {
      if (oldMode === 'x2apic' && newMode === 'xapic') return ApicRefusal.baseX2ToX;
      if (oldMode === 'disabled' && newMode === 'x2apic') return ApicRefusal.baseOffToX2;
    }
    const oldBase = this.baseAddress;
    // BSP is a read-only status bit for the guest.
    const bsp = hostInitiated ? lo & ApicBase.BSP : this.baseLo & ApicBase.BSP;
    this.baseLo = ((lo & ~ApicBase.BSP) | bsp) >>> 0;
    this.baseHi = hi;
    if (newMode !== oldMode) {
      if (newMode === 'disabled') {
        // Globally disabling the APIC resets it (SDM Vol. 3A §11.4.3); the ID survives.
        this.resetRegisters();
      } else if (newMode === 'x2apic') {
        this.ldr = this.x2apicLdr();
        this.icrHi = 0;
      } else if (oldMode === 'disabled') {
        this.xapicId = (this.initialId & 0xff) << 24;
      }
    }
    if (this.baseAddress !== oldBase) this.onBaseMoved?.(this.baseAddress);
    return null;
  }

  // ---------------------------------------------------------------- priorities

  get tpr(): number {
    return this.tprReg;
  }

  /** MOV to CR8: TPR[7:4] = CR8[3:0] (SDM Vol. 3A §11.8.6). */
  setTpr(value: number): void {
    this.tprReg = value & 0xff;
  }

  /** Processor priority (SDM Vol. 3A §11.8.3.1). */
  ppr(): number {
    const isrv = highest(this.isr);
    const isrClass = isrv < 0 ? 0 : isrv & 0xf0;
    return (this.tprReg & 0xf0) >= isrClass ? this.tprReg & 0xff : isrClass;
  }

  /** The highest-priority requested vector, or -1. */
  highestIrr(): number {
    return highest(this.irr);
  }

  /** The highest in-service vector, or -1. */
  highestIsr(): number {
    return highest(this.isr);
  }

  /** A fixed interrupt in IRR whose priority class is above PPR's (what INTR means for this CPU). */
  hasPendingInterrupt(): boolean {
    if ((this.baseLo & ApicBase.EN) === 0) return false;
    const v = highest(this.irr);
    return v >= 0 && (v & 0xf0) > (this.ppr() & 0xf0);
  }

  /**
   * The interrupt-acknowledge cycle: moves the highest pending vector from IRR to ISR and returns it.
   * With nothing deliverable returns the spurious-interrupt vector (SVR[7:0]) without touching ISR.
   */
  acknowledge(): number {
    if (!this.hasPendingInterrupt()) return this.svr & Svr.VECTOR;
    const v = highest(this.irr);
    this.irr[v >> 5]! &= ~(1 << (v & 31));
    this.isr[v >> 5]! |= 1 << (v & 31);
    return v;
  }

  /** EOI (SDM Vol. 3A §11.8.5): retire the highest ISR bit; level-triggered ones go to the IOAPIC. */
  eoi(): void {
    const v = highest(this.isr);
    if (v < 0) return;
    const w = v >> 5;
    const m = 1 << (v & 31);
    this.isr[w]! &= ~m;
    if (this.tmr[w]! & m) {
      this.eoiLint(v);
      this.bus.broadcastEoi(v);
    }
    if (this.hasPendingInterrupt()) this.kick();
  }

  /** EOI of a level-triggered LINT vector clears the entry's remote IRR (SDM Vol. 3A §11.5.1) and
   *  re-delivers when the pin is still asserted. */
  private eoiLint(vector: number): void {
    for (let pin = 0; pin < 2; pin++) {
      const slot = pin === 0 ? LVT_LINT0 : LVT_LINT1;
      const e = this.lvt[slot]!;
      if (!(e & Lvt.REMOTE_IRR) || (e & Lvt.VECTOR) !== vector) continue;
      this.lvt[slot] = e & ~Lvt.REMOTE_IRR;
      if (this.lint & (1 << pin)) this.deliverLvt(slot);
    }
  }

  // ---------------------------------------------------------------- interrupt acceptance

  /** Accept a message from the bus (ICR-low format). Returns false when the APIC drops it. */
  accept(msg: number): boolean {
    if ((this.baseLo & ApicBase.EN) === 0) return false;
    const mode = (msg & Icr.DELIVERY_MODE) >>> Icr.DELIVERY_MODE_SHIFT;
    const vector = msg & Icr.VECTOR;
    switch (mode) {
      case DeliveryMode.FIXED:
      case DeliveryMode.LOWEST_PRIORITY:
        return this.setIrr(vector, (msg & Icr.TRIGGER_LEVEL) !== 0);
      case DeliveryMode.NMI:
        this.nmiPending++;
        this.kick();
        return true;
      case DeliveryMode.INIT:
        // INIT level de-assert (level-triggered, level = 0) only synchronizes arbitration IDs.
        if (msg & Icr.TRIGGER_LEVEL && !(msg & Icr.LEVEL_ASSERT)) return true;
        this.initPending = true;
        this.kick();
        return true;
      case DeliveryMode.STARTUP:
        // A SIPI is only recognized in the wait-for-SIPI state (SDM Vol. 3A §9.4.4).
        if (this.mpState !== 'init-received') return false;
        this.sipiVector = vector;
        this.mpState = 'sipi-received';
        this.kick();
        return true;
      case DeliveryMode.EXTINT:
        this.extIntPending = true;
        this.kick();
        return true;
      default:
        // SMI and the reserved mode are not modelled.
        return false;
    }
  }

  /** Latch `vector` in IRR (fixed delivery); TMR records the trigger mode (SDM Vol. 3A §11.8.4). */
  private setIrr(vector: number, level: boolean): boolean {
    if ((this.svr & Svr.APIC_ENABLE) === 0) return false;
    if (vector < 16) {
      this.raiseError(Esr.RECEIVE_ILLEGAL_VECTOR);
      return false;
    }
    const w = vector >> 5;
    const m = 1 << (vector & 31);
    this.irr[w]! |= m;
    if (level) this.tmr[w]! |= m;
    else this.tmr[w]! &= ~m;
    this.kick();
    return true;
  }

  private raiseError(bit: number): void {
    this.esrPending |= bit;
    this.deliverLvt(LVT_ERROR);
  }

  /** Deliver a local interrupt through its LVT entry (SDM Vol. 3A §11.5.1). */
  private deliverLvt(slot: number): void {
    const e = this.lvt[slot]!;
    if (e & Lvt.MASKED || !this.enabled) return;
    const mode = (e & Lvt.DELIVERY_MODE) >>> Lvt.DELIVERY_MODE_SHIFT;
    switch (mode) {
      case DeliveryMode.FIXED: {
        const vector = e & Lvt.VECTOR;
        if (vector < 16) {
          // An illegal vector in an LVT entry is a receive error (not recursively for the error LVT).
          if (slot !== LVT_ERROR) this.raiseError(Esr.RECEIVE_ILLEGAL_VECTOR);
          else this.esrPending |= Esr.RECEIVE_ILLEGAL_VECTOR;
          return;
        }
        const level = (slot === LVT_LINT0 || slot === LVT_LINT1) && (e & Lvt.LEVEL) !== 0;
        if (level) this.lvt[slot] = e | Lvt.REMOTE_IRR;
        this.setIrr(vector, level);
        return;
      }
      case DeliveryMode.NMI:
        this.nmiPending++;
        this.kick();
        return;
      case DeliveryMode.EXTINT:
        this.extIntPending = true;
        this.kick();
        return;
      default:
        return;
    }
  }

  /** Drive the LINT0/LINT1 input pin (`pin` 0 or 1). Edge entries fire on a rising edge. */
  setLint(pin: 0 | 1, level: boolean): void {
    const m = 1 << pin;
    const rising = level && !(this.lint & m);
    if (level) this.lint |= m;
    else this.lint &= ~m;
    const slot = pin === 0 ? LVT_LINT0 : LVT_LINT1;
    const e = this.lvt[slot]!;
    const levelTriggered = (e & Lvt.LEVEL) !== 0 && (e & Lvt.DELIVERY_MODE) >>> 8 === DeliveryMode.FIXED;
    if (levelTriggered ? level && !(e & Lvt.REMOTE_IRR) : rising) this.deliverLvt(slot);
  }

  /**
   * Virtual-wire mode (SDM Vol. 3A §11.5.1, MP spec §3.6.2.2): does the 8259's INTR reach this CPU?
   * Yes when the APIC is globally disabled, or LINT0 is unmasked with delivery mode ExtINT.
   */
  acceptsPicInterrupts(): boolean {
    if ((this.baseLo & ApicBase.EN) === 0) return true;
    const e = this.lvt[LVT_LINT0]!;
    return (e & Lvt.MASKED) === 0 && (e & Lvt.DELIVERY_MODE) >>> 8 === DeliveryMode.EXTINT;
  }

  /** An ExtINT arrived through the IOAPIC or an LVT: the CPU should run an INTA cycle on the 8259. */
  takeExtInt(): boolean {
    const p = this.extIntPending;
    this.extIntPending = false;
    return p;
  }

  /** Take one pending NMI (the CPU delivers it when NMIs are not blocked). */
  takeNmi(): boolean {
    if (this.nmiPending === 0) return false;
    this.nmiPending--;
    return true;
  }

  hasPendingNmi(): boolean {
    return this.nmiPending > 0;
  }

  /**
   * Take a pending INIT: resets the APIC's registers (SDM Vol. 3A §11.4.7.3: as after power-up, but
   * the APIC ID and IA32_APIC_BASE are kept) and enters wait-for-SIPI (the BSP stays runnable, as with
   * KVM). The caller resets the vCPU's architectural state (SDM Vol. 3A §9.1.1 Table 9-1).
   */
  takeInit(): boolean {
    if (!this.initPending) return false;
    this.initPending = false;
    this.resetRegisters();
    this.sipiVector = -1;
    this.mpState = this.baseLo & ApicBase.BSP ? 'runnable' : 'init-received';
    return true;
  }

  /** The vCPU started at the SIPI vector (CS = vector << 8, base vector << 12, IP = 0). */
  startFromSipi(): number {
    const v = this.sipiVector;
    this.sipiVector = -1;
    this.mpState = 'runnable';
    return v;
  }

  // ---------------------------------------------------------------- timer

  private get timerMode(): number {
    return (this.lvt[LVT_TIMER]! & Lvt.TIMER_MODE) >>> Lvt.TIMER_MODE_SHIFT;
  }

  private get timerTickNs(): number {
    return timerDivisor(this.timerDcr) * APIC_BUS_CYCLE_NS;
  }

  /** Current count (SDM Vol. 3A §11.5.4): 0 once a one-shot expired, and in TSC-deadline mode. */
  private currentCount(now: number): number {
    if (this.timerInitial === 0 || this.timerMode === TimerMode.TSC_DEADLINE) return 0;
    const elapsed = Math.floor((now - this.timerStartNs) / this.timerTickNs);
    if (this.timerMode === TimerMode.PERIODIC) return this.timerInitial - (elapsed % this.timerInitial);
    if (this.timerNextNs < 0) return 0;
    return Math.max(0, this.timerInitial - elapsed);
  }

  private startCountdown(now: number): void {
    this.timerStartNs = now;
    this.timerNextNs = this.timerInitial === 0 ? -1 : now + this.timerInitial * this.timerTickNs;
  }

  /**
   * Fire the timer if it is due at `now` (clock ns). Missed periodic expirations coalesce into one
   * interrupt; the period phase is kept. Returns true when an interrupt was delivered.
   */
  tick(now: number): boolean {
    return this.advanceTimer(now, true);
  }

  private advanceTimer(now: number, deliver: boolean): boolean {
    if (this.timerNextNs < 0 || now < this.timerNextNs) return false;
    const mode = this.timerMode;
    if (mode === TimerMode.PERIODIC) {
      const period = this.timerInitial * this.timerTickNs;
      const periods = Math.floor((now - this.timerStartNs) / period);
      this.timerStartNs += periods * period;
      this.timerNextNs = this.timerStartNs + period;
    } else {
      this.timerNextNs = -1;
      if (mode === TimerMode.TSC_DEADLINE) this.tscDeadline = 0;
    }
    if (!deliver || this.lvt[LVT_TIMER]! & Lvt.MASKED) return false;
    this.deliverLvt(LVT_TIMER);
    return true;
  }

  /** When tick() next has something to do (clock ns), or undefined when the timer cannot interrupt. */
  nextTimerDeadlineNs(): number | undefined {
    if (this.timerNextNs < 0 || this.lvt[LVT_TIMER]! & Lvt.MASKED || !this.enabled) return undefined;
    return this.timerNextNs;
  }

  private writeTimerLvt(value: number, now: number): void {
    const old = this.lvt[LVT_TIMER]!;
    // Expirations while masked are lost: catch up silently before unmasking.
    if (old & Lvt.MASKED && !(value & Lvt.MASKED)) this.advanceTimer(now, false);
    const oldMode = (old & Lvt.TIMER_MODE) >>> Lvt.TIMER_MODE_SHIFT;
    this.lvt[LVT_TIMER] = value;
    const newMode = this.timerMode;
    if ((oldMode === TimerMode.TSC_DEADLINE) !== (newMode === TimerMode.TSC_DEADLINE)) {
      // Switching into or out of TSC-deadline mode disarms the timer (SDM Vol. 3A §11.5.4.1);
      // one-shot ↔ periodic keeps counting (as KVM's apic_update_lvtt).
      this.timerInitial = 0;
      this.timerNextNs = -1;
      this.tscDeadline = 0;
    }
  }

  private writeTimerInitial(value: number, now: number): void {
    if (this.timerMode === TimerMode.TSC_DEADLINE) return; // ignored in TSC-deadline mode
    this.timerInitial = value >>> 0;
    this.startCountdown(now);
  }

  private writeTimerDivide(value: number, now: number): void {
    const cur = this.currentCount(now);
    const armed = this.timerNextNs >= 0;
    this.timerDcr = value & DIVIDE_WRITABLE;
    if (!armed || this.timerMode === TimerMode.TSC_DEADLINE) return;
    // Keep the current count, continue counting at the new rate.
    const tick = this.timerTickNs;
    this.timerStartNs = now - (this.timerInitial - cur) * tick;
    this.timerNextNs = this.timerStartNs + this.timerInitial * tick;
  }

  /** WRMSR IA32_TSC_DEADLINE (SDM Vol. 3A §11.5.4.1): ignored unless the timer is in TSC-deadline mode. */
  writeTscDeadline(lo: number, hi: number): void {
    if (this.timerMode !== TimerMode.TSC_DEADLINE) return;
    const value = (hi >>> 0) * 0x100000000 + (lo >>> 0);
    this.tscDeadline = value;
    this.timerNextNs = value === 0 ? -1 : this.tsc.nsAt(value);
  }

  /** RDMSR IA32_TSC_DEADLINE: the armed deadline, 0 when disarmed or not in TSC-deadline mode. */
  readTscDeadline(): number {
    return this.timerMode === TimerMode.TSC_DEADLINE ? this.tscDeadline : 0;
  }

  // ---------------------------------------------------------------- register file

  /** Read a register by its xAPIC offset (16-byte aligned). Unknown offsets read 0. */
  readRegister(offset: number): number {
    switch (offset) {
      case LapicReg.ID:
        return this.mode === 'x2apic' ? this.initialId : this.xapicId;
      case LapicReg.VERSION:
        return LAPIC_VERSION | ((this.cmci ? LAPIC_MAX_LVT : LAPIC_MAX_LVT - 1) << 16);
      case LapicReg.TPR:
        return this.tprReg;
      case LapicReg.APR:
        return 0;
      case LapicReg.PPR:
        return this.ppr();
      case LapicReg.LDR:
        return this.ldr;
      case LapicReg.DFR:
        return this.dfr;
      case LapicReg.SVR:
        return this.svr;
      case LapicReg.ESR:
        return this.esr;
      case LapicReg.ICR_LO:
        return this.icrLo;
      case LapicReg.ICR_HI:
        return this.icrHi;
      case LapicReg.TIMER_INITIAL:
        return this.timerInitial;
      case LapicReg.TIMER_CURRENT:
        return this.currentCount(this.clock.nowNs());
      case LapicReg.TIMER_DIVIDE:
        return this.timerDcr;
      default:
        break;
    }
    if (offset >= LapicReg.ISR0 && offset < LapicReg.ISR0 + 0x80)
      return this.isr[(offset - LapicReg.ISR0) >> 4]!;
    if (offset >= LapicReg.TMR0 && offset < LapicReg.TMR0 + 0x80)
      return this.tmr[(offset - LapicReg.TMR0) >> 4]!;
    if (offset >= LapicReg.IRR0 && offset < LapicReg.IRR0 + 0x80)
      return this.irr[(offset - LapicReg.IRR0) >> 4]!;
    const slot = lvtSlot(offset);
    if (slot === LVT_CMCI && !this.cmci) return 0;
    return slot >= 0 ? this.lvt[slot]! : 0;
  }

  /** Write a register by its xAPIC offset with xAPIC semantics (the x2APIC path validates first). */
  writeRegister(offset: number, value: number): void {
    value >>>= 0;
    const now = this.clock.nowNs();
    switch (offset) {
      case LapicReg.ID:
        if (this.mode === 'xapic') this.xapicId = value & 0xff000000;
        return;
      case LapicReg.TPR:
        this.tprReg = value & 0xff;
        if (this.hasPendingInterrupt()) this.kick();
        return;
      case LapicReg.EOI:
        this.eoi();
        return;
      case LapicReg.LDR:
        if (this.mode === 'xapic') this.ldr = value & 0xff000000;
        return;
      case LapicReg.DFR:
        if (this.mode === 'xapic') this.dfr = (value | 0x0fffffff) >>> 0;
        return;
      case LapicReg.SVR:
        this.svr = value & Svr.WRITABLE;
        if (!(this.svr & Svr.APIC_ENABLE)) {
          // Software disable masks every LVT entry (SDM Vol. 3A §11.4.7.2).
          for (let i = 0; i < LVT_COUNT; i++) this.lvt[i] = this.lvt[i]! | Lvt.MASKED;
        }
        return;
      case LapicReg.ESR:
        // A write latches the errors collected since the last write (SDM Vol. 3A §11.5.3).
        this.esr = this.esrPending;
        this.esrPending = 0;
        return;
      case LapicReg.ICR_LO:
        this.icrLo = value & Icr.WRITABLE;
        this.sendIpi(this.icrLo, this.icrHi >>> 24, false);
        return;
      case LapicReg.ICR_HI:
        this.icrHi = value & 0xff000000;
        return;
      case LapicReg.TIMER_INITIAL:
        this.writeTimerInitial(value, now);
        return;
      case LapicReg.TIMER_DIVIDE:
        this.writeTimerDivide(value, now);
        return;
      case LapicReg.SELF_IPI:
        this.setIrr(value & 0xff, false);
        return;
      default:
        break;
    }
    const slot = lvtSlot(offset);
    if (slot < 0 || (slot === LVT_CMCI && !this.cmci)) return; // read-only or reserved
    let v = value & LVT_WRITE_MASK[slot]!;
    if (!(this.svr & Svr.APIC_ENABLE)) v |= Lvt.MASKED;
    if (slot === LVT_TIMER) {
      this.writeTimerLvt(v, now);
      return;
    }
    if (slot === LVT_LINT0 || slot === LVT_LINT1) v |= this.lvt[slot]! & Lvt.REMOTE_IRR;
    this.lvt[slot] = v;
  }

  /** Send an IPI from the ICR (SDM Vol. 3A §11.6.1). */
  private sendIpi(icrLo: number, dest: number, wide: boolean): void {
    const mode = (icrLo & Icr.DELIVERY_MODE) >>> Icr.DELIVERY_MODE_SHIFT;
    if ((mode === DeliveryMode.FIXED || mode === DeliveryMode.LOWEST_PRIORITY) && (icrLo & Icr.VECTOR) < 16) {
      this.raiseError(Esr.SEND_ILLEGAL_VECTOR);
      return;
    }
    this.bus.send(icrLo, dest, this, wide);
  }

  /** Does a message with this destination select this APIC (SDM Vol. 3A §11.6.2, §11.12.10)? */
  matchesDestination(dest: number, logical: boolean, wide: boolean): boolean {
    dest >>>= 0;
    const broadcast = wide ? 0xffffffff : 0xff;
    if (dest === broadcast) return true;
    const x2 = this.mode === 'x2apic';
    if (!logical) return dest === (x2 ? this.initialId : this.xapicId >>> 24);
    if (x2) {
      const ldr = this.ldr;
      return dest >>> 16 === ldr >>> 16 && (dest & ldr & 0xffff) !== 0;
    }
    const mda = dest & 0xff;
    const lid = this.ldr >>> 24;
    if (this.dfr >>> 28 === 0xf) return (mda & lid) !== 0; // flat model
    return mda >>> 4 === lid >>> 4 && (mda & lid & 0xf) !== 0; // cluster model
  }

  // ---------------------------------------------------------------- xAPIC MMIO (Device)

  read(offset: number, size: AccessSize): number {
    if (this.mode !== 'xapic') return size === 4 ? 0xffffffff : (1 << (size * 8)) - 1;
    const reg = offset & 0xff0;
    const byte = offset & 0xf;
    if (byte + size > 4) return 0;
    const v = this.readRegister(reg) >>> (byte * 8);
    return size === 4 ? v >>> 0 : v & ((1 << (size * 8)) - 1);
  }

  write(offset: number, size: AccessSize, value: number): void {
    // Registers are written as aligned dwords; other writes are dropped (as KVM does).
    if (this.mode !== 'xapic' || size !== 4 || offset & 0xf) return;
    if (offset === LapicReg.SELF_IPI) return; // x2APIC only
    this.writeRegister(offset, value);
  }

  // ---------------------------------------------------------------- MSRs

  /** Does this APIC handle MSR `index` (IA32_APIC_BASE, IA32_TSC_DEADLINE, 0x800-0x8FF)? */
  static handlesMsr(index: number): boolean {
    return (
      index === MSR_IA32_APIC_BASE ||
      index === MSR_IA32_TSC_DEADLINE ||
      (index >= X2APIC_MSR_BASE && index <= X2APIC_MSR_LAST)
    );
  }

  /** RDMSR: null and the value in msrLo/msrHi, or the #GP verdict. */
  rdmsr(index: number): Refusal | null {
    if (index === MSR_IA32_APIC_BASE) {
      this.msrLo = this.baseLo;
      this.msrHi = this.baseHi;
      return null;
    }
    if (index === MSR_IA32_TSC_DEADLINE) {
      const v = this.readTscDeadline();
      this.msrLo = (v % 0x100000000) | 0;
      this.msrHi = Math.floor(v / 0x100000000) | 0;
      return null;
    }
    if (index < X2APIC_MSR_BASE || index > X2APIC_MSR_LAST) return ApicRefusal.unknownMsr;
    if (this.mode !== 'x2apic') return ApicRefusal.notX2apic;
    const i = index - X2APIC_MSR_BASE;
    const acc = index === MSR_X2APIC_LVT_CMCI && !this.cmci ? 0 : X2_ACCESS[i]!;
    if (acc === 0) return ApicRefusal.unknownMsr;
    if (!(acc & X2_R)) return ApicRefusal.writeOnly;
    if (index === MSR_X2APIC_ICR) {
      this.msrLo = this.icrLo | 0;
      this.msrHi = this.icrHi | 0;
      return null;
    }
    this.msrLo = this.readRegister(i << 4) | 0;
    this.msrHi = 0;
    return null;
  }

  /** WRMSR (guest): null when done, or the #GP verdict the CPU raises. */
  wrmsr(index: number, lo: number, hi: number): Refusal | null {
    if (index === MSR_IA32_APIC_BASE) return this.writeApicBase(lo, hi, false);
    if (index === MSR_IA32_TSC_DEADLINE) {
      this.writeTscDeadline(lo, hi);
      return null;
    }
    if (index < X2APIC_MSR_BASE || index > X2APIC_MSR_LAST) return ApicRefusal.unknownMsr;
    if (this.mode !== 'x2apic') return ApicRefusal.notX2apic;
    const i = index - X2APIC_MSR_BASE;
    const acc = index === MSR_X2APIC_LVT_CMCI && !this.cmci ? 0 : X2_ACCESS[i]!;
    if (acc === 0) return ApicRefusal.unknownMsr;
    if (!(acc & X2_W)) return ApicRefusal.readOnly;
    lo >>>= 0;
    hi >>>= 0;
    if (index === MSR_X2APIC_ICR) {
      if (lo & Icr.X2APIC_RESERVED_LO) return ApicRefusal.icrReserved;
      this.icrLo = lo;
      this.icrHi = hi;
      this.sendIpi(lo, hi, true);
      return null;
    }
    if (hi !== 0) return ApicRefusal.reservedHigh;
    const off = i << 4;
    if ((off === LapicReg.EOI || off === LapicReg.ESR) && lo !== 0) return ApicRefusal.nonZeroEoi;
    if (index === MSR_X2APIC_SELF_IPI) {
      if (lo & ~0xff) return ApicRefusal.selfIpiReserved;
      // SELF IPI: fixed, edge, to this APIC only.
      this.sendIpi(lo | (Shorthand.SELF << 18), 0, true);
      return null;
    }
    this.writeRegister(off, lo);
    return null;
  }

  /** Convenience for API boundaries and tests: RDMSR as bigint, or the refusal. */
  readMsr(index: number): bigint | Refusal {
    const r = this.rdmsr(index);
    return r ?? (BigInt(this.msrHi >>> 0) << 32n) | BigInt(this.msrLo >>> 0);
  }

  /** Convenience for API boundaries and tests: WRMSR with a bigint value. */
  writeMsr(index: number, value: bigint): Refusal | null {
    return this.wrmsr(index, Number(value & 0xffffffffn), Number((value >> 32n) & 0xffffffffn));
  }

  // ---------------------------------------------------------------- snapshot

  snapshot(): LocalApicState {
    return {
      id: this.initialId,
      baseLo: this.baseLo,
      baseHi: this.baseHi,
      xapicId: this.xapicId,
      tpr: this.tprReg,
      svr: this.svr,
      ldr: this.ldr,
      dfr: this.dfr,
      esr: this.esr,
      esrPending: this.esrPending,
      icrLo: this.icrLo,
      icrHi: this.icrHi,
      lvt: [...this.lvt],
      irr: [...this.irr],
      isr: [...this.isr],
      tmr: [...this.tmr],
      timerInitial: this.timerInitial,
      timerDcr: this.timerDcr,
      timerStartNs: this.timerStartNs,
      timerNextNs: this.timerNextNs,
      tscDeadline: this.tscDeadline,
      nmiPending: this.nmiPending,
      extIntPending: this.extIntPending,
      initPending: this.initPending,
      mpState: this.mpState,
      sipiVector: this.sipiVector,
      lint: this.lint,
    };
  }

  restore(state: unknown): void {
    const s = checkSnapshot<LocalApicState>(this.name, state, {
      id: 'number',
      baseLo: 'number',
      baseHi: 'number',
      xapicId: 'number',
      tpr: 'number',
      svr: 'number',
      ldr: 'number',
      dfr: 'number',
      esr: 'number',
      esrPending: 'number',
      icrLo: 'number',
      icrHi: 'number',
      lvt: 'array',
      irr: 'array',
      isr: 'array',
      tmr: 'array',
      timerInitial: 'number',
      timerDcr: 'number',
      timerStartNs: 'number',
      timerNextNs: 'number',
      tscDeadline: 'number',
      nmiPending: 'number',
      extIntPending: 'boolean',
      initPending: 'boolean',
      mpState: 'string',
      sipiVector: 'number',
      lint: 'number',
    });
    const words = (a: unknown[], n: number, what: string): number[] => {
      if (a.length !== n || a.some((x) => typeof x !== 'number'))
        throw new TsvmmError(
          'SNAPSHOT_INVALID',
          `${this.name}: snapshot field '${what}' must hold ${n} numbers`,
        );
      return a as number[];
    };
    this.baseLo = s.baseLo >>> 0;
    this.baseHi = s.baseHi >>> 0;
    this.xapicId = s.xapicId >>> 0;
    this.tprReg = s.tpr;
    this.svr = s.svr;
    this.ldr = s.ldr >>> 0;
    this.dfr = s.dfr >>> 0;
    this.esr = s.esr;
    this.esrPending = s.esrPending;
    this.icrLo = s.icrLo >>> 0;
    this.icrHi = s.icrHi >>> 0;
    this.lvt.set(words(s.lvt, LVT_COUNT, 'lvt'));
    this.irr.set(words(s.irr, 8, 'irr'));
    this.isr.set(words(s.isr, 8, 'isr'));
    this.tmr.set(words(s.tmr, 8, 'tmr'));
    this.timerInitial = s.timerInitial;
    this.timerDcr = s.timerDcr;
    this.timerStartNs = s.timerStartNs;
    this.timerNextNs = s.timerNextNs;
    this.tscDeadline = s.tscDeadline;
    this.nmiPending = s.nmiPending;
    this.extIntPending = s.extIntPending;
    this.initPending = s.initPending;
    this.mpState = s.mpState === 'init-received' || s.mpState === 'sipi-received' ? s.mpState : 'runnable';
    this.sipiVector = s.sipiVector;
    this.lint = s.lint;
  }
}
