import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../machine/clock.ts';
import { FixedTsc } from '../../platform/tsc.ts';
import { ApicBus } from './apic-bus.ts';
import { ApicRefusal, LocalApic } from './lapic.ts';
import { LapicPage } from './lapic-page.ts';
import {
  ApicBase,
  DeliveryMode,
  Esr,
  LAPIC_DEFAULT_BASE,
  LapicReg,
  Lvt,
  MSR_IA32_APIC_BASE,
  MSR_IA32_TSC_DEADLINE,
  timerDivisor,
  x2apicMsr,
} from './regs.ts';

interface Rig {
  bus: ApicBus;
  clock: ManualClock;
  apics: LocalApic[];
  kicks: number[];
}

function rig(n = 1, tsc = new FixedTsc(1_000_000_000)): Rig {
  const bus = new ApicBus();
  const clock = new ManualClock(0);
  const kicks: number[] = [];
  const apics = Array.from(
    { length: n },
    (_, i) =>
      new LocalApic({ id: i, bsp: i === 0, bus, clock, tsc, kick: () => (kicks[i] = (kicks[i] ?? 0) + 1) }),
  );
  return { bus, clock, apics, kicks };
}

function enable(a: LocalApic, spurious = 0xff): void {
  a.write(LapicReg.SVR, 4, 0x100 | spurious);
}

function toX2apic(a: LocalApic): void {
  assert.equal(
    a.writeMsr(
      MSR_IA32_APIC_BASE,
      BigInt(
        (LAPIC_DEFAULT_BASE | ApicBase.EN | ApicBase.EXTD | (a.initialId === 0 ? ApicBase.BSP : 0)) >>> 0,
      ),
    ),
    null,
  );
}

test('power-on state: xAPIC at 0xFEE00000, BSP bit, ID in bits 31:24, version with 7 LVT entries, all LVT masked', () => {
  const { apics } = rig(2);
  const [a, b] = apics as [LocalApic, LocalApic];
  assert.equal(a.apicBase, BigInt((0xfee00000 | ApicBase.EN | ApicBase.BSP) >>> 0));
  assert.equal(b.apicBase, BigInt((0xfee00000 | ApicBase.EN) >>> 0));
  assert.equal(a.mode, 'xapic');
  assert.equal(b.read(LapicReg.ID, 4), 1 << 24);
  assert.equal(a.read(LapicReg.VERSION, 4), 0x00050014, 'no CMCI: max LVT 5');
  const withCmci = new LocalApic({
    id: 9,
    bsp: false,
    bus: new ApicBus(),
    clock: new ManualClock(),
    cmci: true,
  });
  assert.equal(withCmci.read(LapicReg.VERSION, 4), 0x00060014);
  assert.equal(withCmci.read(LapicReg.LVT_CMCI, 4), Lvt.MASKED);
  a.write(LapicReg.LVT_CMCI, 4, 0x40);
  assert.equal(a.read(LapicReg.LVT_CMCI, 4), 0, 'no CMCI LVT without MCG_CMCI_P');
  for (const off of [LapicReg.LVT_TIMER, LapicReg.LVT_LINT0, LapicReg.LVT_ERROR])
    assert.equal(a.read(off, 4), Lvt.MASKED);
  assert.equal(a.read(LapicReg.SVR, 4), 0xff);
  assert.equal(a.read(LapicReg.DFR, 4), 0xffffffff);
  // byte read of the ID register's top byte
  assert.equal(b.read(LapicReg.ID + 3, 1), 1);
});

test('fixed interrupts: IRR → ISR by priority, PPR masks lower classes, EOI retires the highest ISR', () => {
  const { bus, apics } = rig();
  const a = apics[0]!;
  enable(a);
  assert.equal(a.hasPendingInterrupt(), false);
  bus.send((DeliveryMode.FIXED << 8) | 0x31, 0, null, false);
  bus.send((DeliveryMode.FIXED << 8) | 0x52, 0, null, false);
  assert.equal(a.read(LapicReg.IRR0 + 0x10, 4), 1 << 17); // vector 0x31 in IRR word 1
  assert.equal(a.hasPendingInterrupt(), true);
  assert.equal(a.acknowledge(), 0x52);
  assert.equal(a.read(LapicReg.PPR, 4), 0x50);
  // 0x31 is in a lower class than the in-service 0x52
  assert.equal(a.hasPendingInterrupt(), false);
  // a higher class nests
  bus.send(0x61, 0, null, false);
  assert.equal(a.hasPendingInterrupt(), true);
  assert.equal(a.acknowledge(), 0x61);
  a.write(LapicReg.EOI, 4, 0);
  assert.equal(a.highestIsr(), 0x52);
  a.write(LapicReg.EOI, 4, 0);
  assert.equal(a.highestIsr(), -1);
  assert.equal(a.acknowledge(), 0x31);
  a.write(LapicReg.EOI, 4, 0);
  // TPR blocks classes at or below it; nothing pending → spurious vector
  a.write(LapicReg.TPR, 4, 0x40);
  bus.send(0x41, 0, null, false);
  assert.equal(a.hasPendingInterrupt(), false);
  assert.equal(a.acknowledge(), 0xff);
  a.setTpr(0x30);
  assert.equal(a.acknowledge(), 0x41);
});

test('software-disabled APIC drops fixed interrupts; illegal vectors set ESR and raise the error LVT', () => {
  const { bus, apics } = rig();
  const a = apics[0]!;
  assert.equal(bus.send(0x40, 0, null, false), 0);
  assert.equal(a.highestIrr(), -1);
  enable(a);
  a.write(LapicReg.LVT_ERROR, 4, 0xfe);
  bus.send(0x05, 0, null, false);
  assert.equal(a.read(LapicReg.ESR, 4), 0, 'ESR reads the latched value, latched by a write');
  a.write(LapicReg.ESR, 4, 0);
  assert.equal(a.read(LapicReg.ESR, 4), Esr.RECEIVE_ILLEGAL_VECTOR);
  assert.equal(a.acknowledge(), 0xfe);
  // sending an illegal vector
  a.write(LapicReg.ICR_LO, 4, 0x0e);
  a.write(LapicReg.ESR, 4, 0);
  assert.equal(a.read(LapicReg.ESR, 4), Esr.SEND_ILLEGAL_VECTOR);
  // clearing SVR.enable masks every LVT
  a.write(LapicReg.LVT_LINT0, 4, 0x700);
  a.write(LapicReg.SVR, 4, 0xff);
  assert.equal(a.read(LapicReg.LVT_LINT0, 4) & Lvt.MASKED, Lvt.MASKED);
});

test('level-triggered vectors set TMR and their EOI is broadcast to EOI listeners', () => {
  const { bus, apics } = rig();
  const a = apics[0]!;
  enable(a);
  const eois: number[] = [];
  bus.onEoi((v) => eois.push(v));
  bus.send(0x8000 | 0x40, 0, null, false);
  bus.send(0x50, 0, null, false);
  assert.equal(a.read(LapicReg.TMR0 + 0x20, 4), 1); // vector 0x40
  assert.equal(a.acknowledge(), 0x50);
  a.write(LapicReg.EOI, 4, 0);
  assert.deepEqual(eois, [], 'edge vectors do not broadcast');
  assert.equal(a.acknowledge(), 0x40);
  a.write(LapicReg.EOI, 4, 0);
  assert.deepEqual(eois, [0x40]);
});

test('timer one-shot: counts down at bus/divisor, fires once, current count stays 0', () => {
  const { clock, apics } = rig();
  const a = apics[0]!;
  enable(a);
  assert.equal(timerDivisor(0xb), 1);
  assert.equal(timerDivisor(0x3), 16);
  a.write(LapicReg.TIMER_DIVIDE, 4, 0x1); // divide by 4
  a.write(LapicReg.LVT_TIMER, 4, 0x30);
  clock.set(1000);
  a.write(LapicReg.TIMER_INITIAL, 4, 100);
  assert.equal(a.nextTimerDeadlineNs(), 1000 + 400);
  clock.set(1000 + 40);
  assert.equal(a.read(LapicReg.TIMER_CURRENT, 4), 90);
  assert.equal(a.tick(1399), false);
  assert.equal(a.tick(1400), true);
  assert.equal(a.acknowledge(), 0x30);
  clock.set(5000);
  assert.equal(a.read(LapicReg.TIMER_CURRENT, 4), 0);
  assert.equal(a.tick(100000), false);
  assert.equal(a.nextTimerDeadlineNs(), undefined);
});

test('timer periodic: reloads, coalesces missed periods, keeps phase; masked expirations are lost', () => {
  const { clock, apics } = rig();
  const a = apics[0]!;
  enable(a);
  a.write(LapicReg.TIMER_DIVIDE, 4, 0xb); // divide by 1
  a.write(LapicReg.LVT_TIMER, 4, (1 << 17) | 0x40);
  a.write(LapicReg.TIMER_INITIAL, 4, 1000);
  assert.equal(a.tick(999), false);
  assert.equal(a.tick(1000), true);
  assert.equal(a.nextTimerDeadlineNs(), 2000);
  assert.equal(a.acknowledge(), 0x40);
  a.write(LapicReg.EOI, 4, 0);
  assert.equal(a.tick(4500), true); // three periods missed → one interrupt
  assert.equal(a.nextTimerDeadlineNs(), 5000);
  clock.set(4750);
  assert.equal(a.read(LapicReg.TIMER_CURRENT, 4), 250);
  a.acknowledge();
  a.write(LapicReg.EOI, 4, 0);
  // mask: deadline not reported, no interrupt
  a.write(LapicReg.LVT_TIMER, 4, (1 << 17) | Lvt.MASKED | 0x40);
  assert.equal(a.nextTimerDeadlineNs(), undefined);
  assert.equal(a.tick(6000), false);
  clock.set(8200);
  a.write(LapicReg.LVT_TIMER, 4, (1 << 17) | 0x40);
  assert.equal(a.tick(8200), false, 'expirations while masked do not fire on unmask');
  assert.equal(a.nextTimerDeadlineNs(), 9000);
  // changing the divisor keeps the current count
  clock.set(8500);
  a.write(LapicReg.TIMER_DIVIDE, 4, 0x0); // divide by 2
  assert.equal(a.read(LapicReg.TIMER_CURRENT, 4), 500);
  assert.equal(a.nextTimerDeadlineNs(), 9500);
});

test('timer TSC-deadline: fires when the TSC passes the deadline, then reads 0; other modes ignore the MSR', () => {
  const tsc = new FixedTsc(2_000_000_000, 0);
  const { clock, apics } = rig(1, tsc);
  const a = apics[0]!;
  enable(a);
  a.writeMsr(MSR_IA32_TSC_DEADLINE, 5000n);
  assert.equal(a.readMsr(MSR_IA32_TSC_DEADLINE), 0n, 'ignored outside TSC-deadline mode');
  a.write(LapicReg.LVT_TIMER, 4, (2 << 17) | 0xec);
  a.write(LapicReg.TIMER_INITIAL, 4, 1234);
  assert.equal(a.read(LapicReg.TIMER_INITIAL, 4), 0, 'initial count is ignored in TSC-deadline mode');
  clock.set(100);
  assert.equal(a.writeMsr(MSR_IA32_TSC_DEADLINE, 5001n), null);
  assert.equal(a.readMsr(MSR_IA32_TSC_DEADLINE), 5001n);
  assert.equal(a.nextTimerDeadlineNs(), 2501); // 5001 ticks at 2 GHz = 2500.5 ns → first whole ns 2501
  assert.equal(a.tick(2500), false);
  assert.equal(a.tick(2501), true);
  assert.equal(a.readMsr(MSR_IA32_TSC_DEADLINE), 0n);
  assert.equal(a.acknowledge(), 0xec);
  // a deadline in the past fires at the next tick; writing 0 disarms
  a.writeMsr(MSR_IA32_TSC_DEADLINE, 1n);
  assert.equal(a.tick(2600), true);
  a.writeMsr(MSR_IA32_TSC_DEADLINE, 99999n);
  a.writeMsr(MSR_IA32_TSC_DEADLINE, 0n);
  assert.equal(a.nextTimerDeadlineNs(), undefined);
  // one-shot ↔ periodic keeps the countdown; leaving TSC-deadline mode disarms
  a.write(LapicReg.LVT_TIMER, 4, 0xec);
  a.write(LapicReg.TIMER_DIVIDE, 4, 0xb);
  a.write(LapicReg.TIMER_INITIAL, 4, 1000);
  a.write(LapicReg.LVT_TIMER, 4, (1 << 17) | 0xec);
  assert.equal(a.nextTimerDeadlineNs(), clock.nowNs() + 1000);
  a.write(LapicReg.LVT_TIMER, 4, (2 << 17) | 0xec);
  assert.equal(a.nextTimerDeadlineNs(), undefined);
  a.writeMsr(MSR_IA32_TSC_DEADLINE, 99999n);
  a.write(LapicReg.LVT_TIMER, 4, 0xec);
  assert.equal(a.nextTimerDeadlineNs(), undefined);
});

test('IA32_APIC_BASE transitions: xAPIC → x2APIC → disabled → xAPIC; invalid ones #GP', () => {
  const { apics } = rig(1);
  const a = apics[0]!;
  const base = BigInt((LAPIC_DEFAULT_BASE | ApicBase.BSP) >>> 0);
  enable(a);
  a.write(LapicReg.TPR, 4, 0x20);
  assert.equal(a.writeMsr(MSR_IA32_APIC_BASE, base | BigInt(ApicBase.EXTD)), ApicRefusal.baseInvalid);
  assert.equal(a.writeMsr(MSR_IA32_APIC_BASE, base | 0x1n | BigInt(ApicBase.EN)), ApicRefusal.baseReserved);
  assert.equal(
    a.writeMsr(MSR_IA32_APIC_BASE, base | (1n << 50n) | BigInt(ApicBase.EN)),
    ApicRefusal.baseReserved,
  );
  toX2apic(a);
  assert.equal(a.mode, 'x2apic');
  assert.equal(a.readMsr(x2apicMsr(LapicReg.TPR)), 0x20n, 'state survives xAPIC → x2APIC');
  assert.equal(a.read(LapicReg.TPR, 4), 0xffffffff, 'MMIO is not decoded in x2APIC mode');
  assert.equal(a.writeMsr(MSR_IA32_APIC_BASE, base | BigInt(ApicBase.EN)), ApicRefusal.baseX2ToX);
  assert.equal(a.writeMsr(MSR_IA32_APIC_BASE, base), null);
  assert.equal(a.mode, 'disabled');
  assert.equal(
    a.writeMsr(MSR_IA32_APIC_BASE, base | BigInt(ApicBase.EN | ApicBase.EXTD)),
    ApicRefusal.baseOffToX2,
  );
  assert.equal(a.writeMsr(MSR_IA32_APIC_BASE, base | BigInt(ApicBase.EN)), null);
  assert.equal(a.read(LapicReg.TPR, 4), 0, 'disabling reset the registers');
  assert.equal(a.read(LapicReg.SVR, 4), 0xff);
  // host-initiated writes may go straight to x2APIC
  assert.equal(a.writeApicBase(LAPIC_DEFAULT_BASE | ApicBase.EN | ApicBase.EXTD, 0, true), null);
  // without x2APIC support EXTD is reserved
  const bus = new ApicBus();
  const b = new LocalApic({ id: 3, bsp: false, bus, clock: new ManualClock(), x2apic: false });
  assert.equal(
    b.writeMsr(MSR_IA32_APIC_BASE, BigInt((LAPIC_DEFAULT_BASE | ApicBase.EN | ApicBase.EXTD) >>> 0)),
    ApicRefusal.baseReserved,
  );
});

test('moving the APIC base calls onBaseMoved; BSP is read-only for the guest', () => {
  const bus = new ApicBus();
  const moved: number[] = [];
  const a = new LocalApic({
    id: 0,
    bsp: true,
    bus,
    clock: new ManualClock(),
    onBaseMoved: (b) => moved.push(b),
  });
  assert.equal(a.writeMsr(MSR_IA32_APIC_BASE, BigInt((0xfed00000 | ApicBase.EN) >>> 0)), null);
  assert.deepEqual(moved, [0xfed00000]);
  assert.equal(a.baseAddress, 0xfed00000);
  assert.equal(a.apicBase & BigInt(ApicBase.BSP), BigInt(ApicBase.BSP));
});

test('x2APIC MSR map: MSR = 0x800 + offset/16, read-only/write-only/absent registers #GP', () => {
  const { apics } = rig(2);
  const b = apics[1]!;
  assert.equal(b.readMsr(0x802), ApicRefusal.notX2apic);
  enable(b);
  toX2apic(b);
  assert.equal(x2apicMsr(LapicReg.TIMER_DIVIDE), 0x83e);
  assert.equal(b.readMsr(0x802), 1n, 'ID is the 32-bit x2APIC ID');
  assert.equal(b.readMsr(0x80d), (0n << 16n) | (1n << 1n), 'LDR derived from the ID');
  assert.equal(b.readMsr(0x80f), 0x1ffn);
  assert.equal(b.writeMsr(0x808, 0x30n), null);
  assert.equal(b.read(LapicReg.TPR, 4), 0xffffffff);
  assert.equal(b.readMsr(0x808), 0x30n);
  for (const msr of [0x809, 0x80c, 0x80e, 0x831, 0x800, 0x8ff])
    assert.equal(b.readMsr(msr), ApicRefusal.unknownMsr, `MSR ${msr.toString(16)}`);
  assert.equal(b.readMsr(0x80b), ApicRefusal.writeOnly);
  assert.equal(b.readMsr(0x83f), ApicRefusal.writeOnly);
  assert.equal(b.readMsr(0x82f), ApicRefusal.unknownMsr, 'CMCI LVT absent without MCG_CMCI_P');
  assert.equal(b.writeMsr(0x82f, 0n), ApicRefusal.unknownMsr);
  assert.equal(b.writeMsr(0x802, 5n), ApicRefusal.readOnly);
  assert.equal(b.writeMsr(0x80d, 5n), ApicRefusal.readOnly);
  assert.equal(b.writeMsr(0x839, 5n), ApicRefusal.readOnly);
  assert.equal(b.writeMsr(0x80b, 1n), ApicRefusal.nonZeroEoi);
  assert.equal(b.writeMsr(0x828, 1n), ApicRefusal.nonZeroEoi);
  assert.equal(b.writeMsr(0x808, 1n << 32n), ApicRefusal.reservedHigh);
  assert.equal(b.writeMsr(0x830, 1n << 13n), ApicRefusal.icrReserved);
  assert.equal(b.writeMsr(0x83f, 0x100n), ApicRefusal.selfIpiReserved);
  // SELF IPI
  assert.equal(b.writeMsr(0x83f, 0x45n), null);
  assert.equal(b.readMsr(0x822), BigInt(1 << 5)); // IRR word 2 bit 5 = vector 0x45
  assert.equal(b.acknowledge(), 0x45);
  assert.equal(b.readMsr(0x812), BigInt(1 << 5));
  assert.equal(b.writeMsr(0x80b, 0n), null);
  assert.equal(b.readMsr(0x812), 0n);
  // timer registers through MSRs
  assert.equal(b.writeMsr(0x83e, 0xbn), null);
  assert.equal(b.writeMsr(0x838, 50n), null);
  assert.equal(b.readMsr(0x839), 50n);
});

test('IPIs: physical, logical flat/cluster, broadcast shorthands, x2APIC 32-bit destinations', () => {
  const { apics } = rig(4);
  for (const a of apics) enable(a);
  const [a0, a1, a2, a3] = apics as [LocalApic, LocalApic, LocalApic, LocalApic];
  // physical to APIC 2
  a0.write(LapicReg.ICR_HI, 4, 2 << 24);
  a0.write(LapicReg.ICR_LO, 4, 0x41);
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [-1, -1, 0x41, -1],
  );
  a2.acknowledge();
  a2.write(LapicReg.EOI, 4, 0);
  // logical flat: LDR bits
  apics.forEach((a, i) => a.write(LapicReg.LDR, 4, (1 << i) << 24));
  a0.write(LapicReg.ICR_HI, 4, 0b1010 << 24);
  a0.write(LapicReg.ICR_LO, 4, 0x800 | 0x42);
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [-1, 0x42, -1, 0x42],
  );
  for (const a of [a1, a3]) {
    a.acknowledge();
    a.write(LapicReg.EOI, 4, 0);
  }
  // logical cluster: cluster 1 member bit 0 → APIC 2 only
  apics.forEach((a, i) => {
    a.write(LapicReg.DFR, 4, 0x0fffffff);
    a.write(LapicReg.LDR, 4, (((i >> 1) << 4) | (1 << (i & 1))) << 24);
  });
  a0.write(LapicReg.ICR_HI, 4, 0x11 << 24);
  a0.write(LapicReg.ICR_LO, 4, 0x800 | 0x43);
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [-1, -1, 0x43, -1],
  );
  a2.acknowledge();
  a2.write(LapicReg.EOI, 4, 0);
  // shorthands
  a1.write(LapicReg.ICR_LO, 4, (3 << 18) | 0x44);
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [0x44, -1, 0x44, 0x44],
  );
  a1.write(LapicReg.ICR_LO, 4, (1 << 18) | 0x45);
  assert.equal(a1.highestIrr(), 0x45);
  a1.write(LapicReg.ICR_LO, 4, (2 << 18) | 0x46);
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [0x46, 0x46, 0x46, 0x46],
  );
  // x2APIC: 32-bit physical destination via the 64-bit ICR
  for (const a of apics) toX2apic(a);
  a0.writeMsr(0x830, (3n << 32n) | 0x47n);
  assert.equal(a3.highestIrr(), 0x47);
  // x2APIC logical: cluster 0, bits for IDs 1 and 2
  a0.writeMsr(0x830, (0b0110n << 32n) | 0x800n | 0x48n);
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [0x46, 0x48, 0x48, 0x47],
  );
});

test('lowest-priority delivery picks the APIC with the lowest PPR', () => {
  const { bus, apics } = rig(3);
  for (const a of apics) enable(a);
  apics[0]!.write(LapicReg.TPR, 4, 0x40);
  apics[1]!.write(LapicReg.TPR, 4, 0x10);
  apics[2]!.write(LapicReg.TPR, 4, 0x20);
  assert.equal(bus.send((DeliveryMode.LOWEST_PRIORITY << 8) | 0x50, 0xff, null, false), 1);
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [-1, 0x50, -1],
  );
});

test('INIT and SIPI: AP waits for SIPI, records the vector; BSP stays runnable; NMI counted', () => {
  const { apics, kicks } = rig(2);
  const [a0, a1] = apics as [LocalApic, LocalApic];
  enable(a0);
  enable(a1);
  a1.write(LapicReg.TPR, 4, 0x30);
  // SIPI before INIT is ignored
  a0.write(LapicReg.ICR_HI, 4, 1 << 24);
  a0.write(LapicReg.ICR_LO, 4, (DeliveryMode.STARTUP << 8) | 0x9a);
  assert.equal(a1.mpState, 'runnable');
  a0.write(LapicReg.ICR_LO, 4, (DeliveryMode.INIT << 8) | 0x4000);
  assert.equal(a1.takeInit(), true);
  assert.equal(a1.mpState, 'init-received');
  assert.equal(a1.read(LapicReg.TPR, 4), 0, 'INIT reset the registers');
  assert.equal(a1.read(LapicReg.ID, 4), 1 << 24, 'but kept the ID');
  a0.write(LapicReg.ICR_LO, 4, (DeliveryMode.STARTUP << 8) | 0x9a);
  assert.equal(a1.mpState, 'sipi-received');
  assert.equal(a1.startFromSipi(), 0x9a);
  assert.equal(a1.mpState, 'runnable');
  // INIT level de-assert is ignored
  a0.write(LapicReg.ICR_LO, 4, (DeliveryMode.INIT << 8) | 0x8000);
  assert.equal(a1.takeInit(), false);
  // INIT to the BSP leaves it runnable
  a1.write(LapicReg.SVR, 4, 0x1ff);
  a1.write(LapicReg.ICR_HI, 4, 0);
  a1.write(LapicReg.ICR_LO, 4, (DeliveryMode.INIT << 8) | 0x4000);
  assert.equal(a0.takeInit(), true);
  assert.equal(a0.mpState, 'runnable');
  // NMI IPI
  a0.write(LapicReg.ICR_HI, 4, 1 << 24);
  a0.write(LapicReg.ICR_LO, 4, DeliveryMode.NMI << 8);
  assert.equal(a1.hasPendingNmi(), true);
  assert.equal(a1.takeNmi(), true);
  assert.equal(a1.takeNmi(), false);
  assert.ok((kicks[1] ?? 0) >= 3);
});

test('LINT0 ExtINT virtual wire and LINT1 NMI', () => {
  const { apics } = rig(1);
  const a = apics[0]!;
  enable(a);
  assert.equal(a.acceptsPicInterrupts(), false, 'LINT0 masked at reset');
  a.write(LapicReg.LVT_LINT0, 4, DeliveryMode.EXTINT << 8);
  assert.equal(a.acceptsPicInterrupts(), true);
  // level-triggered fixed LINT0: remote IRR until EOI, re-delivered while the pin stays high
  a.write(LapicReg.LVT_LINT0, 4, Lvt.LEVEL | 0x55);
  a.setLint(0, true);
  assert.equal(a.read(LapicReg.LVT_LINT0, 4) & Lvt.REMOTE_IRR, Lvt.REMOTE_IRR);
  assert.equal(a.acknowledge(), 0x55);
  a.setLint(0, true);
  assert.equal(a.highestIrr(), -1, 'blocked by remote IRR');
  a.write(LapicReg.EOI, 4, 0);
  assert.equal(a.highestIrr(), 0x55, 'EOI with the pin high re-delivers');
  assert.equal(a.acknowledge(), 0x55);
  a.setLint(0, false);
  a.write(LapicReg.EOI, 4, 0);
  assert.equal(a.read(LapicReg.LVT_LINT0, 4) & Lvt.REMOTE_IRR, 0);
  assert.equal(a.highestIrr(), -1);
  a.write(LapicReg.LVT_LINT0, 4, DeliveryMode.EXTINT << 8);
  a.write(LapicReg.LVT_LINT1, 4, DeliveryMode.NMI << 8);
  a.setLint(1, true);
  a.setLint(1, true); // no new edge
  assert.equal(a.takeNmi(), true);
  assert.equal(a.takeNmi(), false);
  assert.equal(a.writeMsr(MSR_IA32_APIC_BASE, BigInt(LAPIC_DEFAULT_BASE)), null);
  assert.equal(a.acceptsPicInterrupts(), true, 'globally disabled APIC passes INTR through');
});

test('snapshot round-trips and malformed snapshots are refused', () => {
  const { apics, clock } = rig(1);
  const a = apics[0]!;
  enable(a);
  a.write(LapicReg.LVT_TIMER, 4, (1 << 17) | 0x40);
  a.write(LapicReg.TIMER_INITIAL, 4, 500);
  a.accept(0x77);
  const snap = JSON.parse(JSON.stringify(a.snapshot()));
  const { apics: other } = rig(1);
  const b = other[0]!;
  b.restore(snap);
  assert.equal(b.highestIrr(), 0x77);
  assert.equal(b.nextTimerDeadlineNs(), 1000); // divide-by-2 reset default
  clock.set(0);
  assert.throws(() => b.restore({ ...snap, irr: [1, 2] }), /irr/);
  assert.throws(() => b.restore(null), { name: 'TsvmmError' });
});

test("the shared MMIO page forwards to the current vCPU's APIC", () => {
  const { apics } = rig(2);
  const page = new LapicPage(apics[0]!);
  assert.equal(page.read(LapicReg.ID, 4), 0);
  page.current = apics[1]!;
  assert.equal(page.read(LapicReg.ID, 4), 1 << 24);
  page.write(LapicReg.TPR, 4, 0x20);
  assert.equal(apics[1]!.tpr, 0x20);
  assert.equal(apics[0]!.tpr, 0);
});
