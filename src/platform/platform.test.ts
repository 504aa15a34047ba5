import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../machine/clock.ts';
import { computeLayout, E820, GiB, MiB } from '../machine/layout.ts';
import { ApicBus } from '../devices/lapic/apic-bus.ts';
import { LocalApic } from '../devices/lapic/lapic.ts';
import { DeliveryMode, LapicReg } from '../devices/lapic/regs.ts';
import { IoApic, Redir } from '../devices/ioapic/ioapic.ts';
import { buildE820, encodeE820, isUsableRam } from './e820.ts';
import {
  acknowledgeInterrupt,
  gsiForIsaIrq,
  InterruptRouter,
  pendingInterruptSource,
} from './irq-routing.ts';
import { initState, sipiState } from './smp.ts';
import { buildMpTable } from './mptable.ts';
import { byteSum } from './acpi/tables.ts';
import { cpuidLeaf15, cpuidLeaf16, FixedTsc, hypervisorTimingLeaves, tscHzFromLeaf15 } from './tsc.ts';
import {
  AcpiPm,
  ACPI_S5_SLP_TYP,
  Pm1Cnt,
  Pm1En,
  Pm1Sts,
  PM_TIMER_HZ,
  pmTimerTicksAt,
  PmReg,
} from './acpi/pm.ts';

test('e820: layout map plus the ACPI reservation, sorted, merged, no overlaps', () => {
  const layout = computeLayout(5 * GiB);
  const map = buildE820(layout, [{ base: 0xe0000, size: 0x10000, type: E820.RESERVED }]);
  assert.deepEqual(
    map.map((e) => [e.base, e.length, e.type]),
    [
      [0, 0x9fc00, E820.RAM],
      [0x9fc00, 0x400, E820.RESERVED],
      [0xe0000, 0x20000, E820.RESERVED], // merged with the 0xF0000 BIOS area
      [0x100000, 3 * GiB - 0x100000, E820.RAM],
      [4 * GiB, 2 * GiB, E820.RAM],
    ],
  );
  for (let i = 1; i < map.length; i++) assert.ok(map[i - 1]!.base + map[i - 1]!.length <= map[i]!.base);
  // a reservation inside RAM carves it
  const carved = buildE820(computeLayout(64 * MiB), [{ base: 0x200000, size: 0x1000, type: E820.ACPI }]);
  assert.deepEqual(
    carved.slice(3).map((e) => [e.base, e.length, e.type]),
    [
      [0x100000, 0x100000, E820.RAM],
      [0x200000, 0x1000, E820.ACPI],
      [0x201000, 64 * MiB - 0x201000, E820.RAM],
    ],
  );
  assert.equal(isUsableRam(carved, 0x200000, 1), false);
  assert.equal(isUsableRam(carved, 0x300000, 0x1000), true);
  const enc = encodeE820(map);
  const dv = new DataView(enc.buffer);
  assert.equal(enc.length, map.length * 20);
  assert.equal(Number(dv.getBigUint64(4 * 20, true)), 4 * GiB);
  assert.equal(dv.getUint32(4 * 20 + 16, true), E820.RAM);
  assert.throws(() => buildE820(layout, [{ base: -1, size: 5, type: 2 }]), { name: 'TsvmmError' });
});

test('TSC: exact conversions both ways; CPUID 0x15/0x16 and hypervisor leaves state the frequency', () => {
  const tsc = new FixedTsc(2_500_000_000, 100);
  assert.equal(tsc.tscAt(0), 100);
  assert.equal(tsc.tscAt(1e9), 2_500_000_100);
  for (const v of [101, 1000, 2_500_000_100, 123_456_789_012]) {
    const ns = tsc.nsAt(v);
    assert.ok(tsc.tscAt(ns) >= v && tsc.tscAt(ns - 1) < v, `nsAt(${v})`);
  }
  const l15 = cpuidLeaf15(2_500_000_000);
  assert.deepEqual([l15.eax, l15.ebx, l15.ecx], [2, 5, 1_000_000_000]);
  assert.equal(tscHzFromLeaf15(l15), 2_500_000_000);
  assert.deepEqual([cpuidLeaf16(2_500_000_000).eax, cpuidLeaf16(2_500_000_000).ecx], [2500, 1000]);
  const [sig, , timing] = hypervisorTimingLeaves(2_500_000_000);
  assert.equal(
    Buffer.from(new Uint32Array([sig!.ebx, sig!.ecx, sig!.edx]).buffer).toString('latin1'),
    'KVMKVMKVM\0\0\0',
  );
  assert.equal(timing!.eax, 2_500_000);
  assert.throws(() => new FixedTsc(10), { name: 'TsvmmError' });
});

test('ISA routing: IRQ0 reaches PIC input 0 and IOAPIC pin 2; IRQ2 has no IOAPIC pin; GSI lines', () => {
  assert.equal(gsiForIsaIrq(0), 2);
  assert.equal(gsiForIsaIrq(2), -1);
  assert.equal(gsiForIsaIrq(4), 4);
  assert.equal(gsiForIsaIrq(9), 9);
  const pic: Array<[number, boolean]> = [];
  const io: Array<[number, boolean]> = [];
  const r = new InterruptRouter({
    pic: { setIrq: (l, v) => pic.push([l, v]) },
    ioapic: { setIrq: (l, v) => io.push([l, v]) },
  });
  r.isaLine(0).pulse();
  r.isaLine(2).set(true);
  r.gsiLine(17).set(true);
  assert.deepEqual(pic, [
    [0, true],
    [0, false],
    [2, true],
  ]);
  assert.deepEqual(io, [
    [2, true],
    [2, false],
    [17, true],
  ]);
  assert.throws(() => r.isaLine(16), RangeError);
});

test('one path for the vCPU: PIC through LINT0 ExtINT, else the LAPIC fed by the IOAPIC', () => {
  const bus = new ApicBus();
  const lapic = new LocalApic({ id: 0, bsp: true, bus, clock: new ManualClock() });
  const ioapic = new IoApic(bus);
  const picState = { pending: false };
  const pic = { hasInterrupt: () => picState.pending, acknowledge: () => ((picState.pending = false), 0x20) };
  const router = new InterruptRouter({ ioapic });
  lapic.write(LapicReg.SVR, 4, 0x1ff);
  // PIC mode (virtual wire): LINT0 = ExtINT
  lapic.write(LapicReg.LVT_LINT0, 4, DeliveryMode.EXTINT << 8);
  picState.pending = true;
  assert.equal(pendingInterruptSource(lapic, pic), 'pic');
  assert.equal(acknowledgeInterrupt(lapic, pic), 0x20);
  // APIC mode: LINT0 masked; the PIT's IRQ0 routed via IOAPIC pin 2
  lapic.write(LapicReg.LVT_LINT0, 4, 0x10000 | (DeliveryMode.EXTINT << 8));
  picState.pending = true;
  assert.equal(pendingInterruptSource(lapic, pic), null, 'PIC output ignored with LINT0 masked');
  ioapic.write(0, 4, 0x10 + 2 * 2);
  ioapic.write(0x10, 4, 0x30);
  router.isaLine(0).pulse();
  assert.equal(pendingInterruptSource(lapic, pic), 'apic');
  assert.equal(acknowledgeInterrupt(lapic, pic), 0x30);
  assert.equal(acknowledgeInterrupt(lapic, pic), -1);
  assert.equal(ioapic.entry(2)[0] & Redir.MASKED, 0);
});

test('ACPI PM: 24-bit timer at 3.579545 MHz, SLP_EN reports S5, status write-1-to-clear, SCI on enable', () => {
  const clock = new ManualClock(0);
  const sci: boolean[] = [];
  const sleeps: number[] = [];
  const pm = new AcpiPm(clock, { set: (l) => sci.push(l), pulse: () => {} }, (t) => sleeps.push(t));
  clock.set(1e9);
  assert.equal(pm.read(PmReg.PM_TMR, 4), PM_TIMER_HZ & 0xffffff);
  assert.equal(pmTimerTicksAt(1e9), PM_TIMER_HZ);
  assert.equal(pm.read(PmReg.PM1_CNT, 2) & Pm1Cnt.SCI_EN, Pm1Cnt.SCI_EN);
  assert.equal(pm.read(PmReg.PM1_STS, 2) & Pm1Sts.TMR_STS, 0);
  clock.set(3e9); // 10.7 M ticks: bit 23 of the counter changed
  assert.equal(pm.read(PmReg.PM_TMR, 4), (3 * PM_TIMER_HZ) & 0xffffff);
  // the timer's bit 23 toggled → TMR_STS; enabling TMR_EN raises the SCI; clearing STS drops it
  assert.equal(pm.read(PmReg.PM1_STS, 2) & Pm1Sts.TMR_STS, Pm1Sts.TMR_STS);
  pm.write(PmReg.PM1_EN, 2, Pm1En.TMR_EN);
  assert.deepEqual(sci, [true]);
  pm.write(PmReg.PM1_STS, 2, Pm1Sts.TMR_STS);
  assert.deepEqual(sci, [true, false]);
  const next = pm.nextEventNs()!;
  assert.ok(next > 1e9);
  clock.set(next - 1);
  pm.poll();
  assert.deepEqual(sci, [true, false]);
  clock.set(next);
  pm.poll();
  assert.deepEqual(sci, [true, false, true]);
  // power button
  pm.write(PmReg.PM1_EN, 2, Pm1En.PWRBTN_EN);
  pm.pressPowerButton();
  assert.equal(pm.read(PmReg.PM1_STS + 1, 1), Pm1Sts.PWRBTN_STS >> 8);
  // S5
  pm.write(PmReg.PM1_CNT, 2, Pm1Cnt.SCI_EN | (ACPI_S5_SLP_TYP << 10) | Pm1Cnt.SLP_EN);
  assert.deepEqual(sleeps, [ACPI_S5_SLP_TYP]);
  assert.equal(pm.read(PmReg.PM1_CNT, 2) & Pm1Cnt.SLP_EN, 0, 'SLP_EN reads 0');
  // timer is read-only
  clock.advance(1e6);
  pm.write(PmReg.PM_TMR, 4, 0);
  assert.equal(pm.read(PmReg.PM_TMR, 4), pmTimerTicksAt(clock.nowNs()) & 0xffffff);
  assert.ok(pm.timer() > 0);
});

test('SMP: INIT state at F000:FFF0, SIPI state at VV000 (CS = VV00, IP = 0), EDX = signature', () => {
  const init = initState(0x000806f8);
  assert.equal(init.regs.rip, 0xfff0n);
  assert.equal(init.regs.rdx, 0x806f8n);
  assert.equal(init.sregs.cs!.selector, 0xf000);
  assert.equal(init.sregs.cs!.base, 0xffff0000n);
  assert.equal(init.sregs.cr0, 0x60000010n);
  const s = sipiState(0x9a, 0x000806f8);
  assert.equal(s.sregs.cs!.selector, 0x9a00);
  assert.equal(s.sregs.cs!.base, 0x9a000n);
  assert.equal(s.regs.rip, 0n);
  assert.equal(s.sregs.efer, 0n);
  assert.throws(() => sipiState(256, 0), RangeError);
});

test('MP tables: floating pointer and PCMP table checksums, entries matching the MADT routing', () => {
  const { address, bytes } = buildMpTable({ apicIds: [0, 1], cpuSignature: 0x806f8 });
  assert.equal(address, 0x9fc00);
  assert.equal(new TextDecoder().decode(bytes.subarray(0, 4)), '_MP_');
  assert.equal(byteSum(bytes, 0, 16), 0);
  const dv = new DataView(bytes.buffer);
  assert.equal(dv.getUint32(4, true), address + 16);
  assert.equal(bytes[9], 4);
  const t = 16;
  assert.equal(new TextDecoder().decode(bytes.subarray(t, t + 4)), 'PCMP');
  const len = dv.getUint16(t + 4, true);
  assert.equal(t + len, bytes.length);
  assert.equal(byteSum(bytes, t, t + len), 0);
  assert.equal(dv.getUint32(t + 0x24, true), 0xfee00000);
  const count = dv.getUint16(t + 0x22, true);
  const types: number[] = [];
  const ioInts: Array<[number, number, number]> = [];
  let o = t + 0x2c;
  for (let i = 0; i < count; i++) {
    types.push(bytes[o]!);
    if (bytes[o] === 3) ioInts.push([bytes[o + 5]!, bytes[o + 7]!, dv.getUint16(o + 2, true)]);
    if (bytes[o] === 0) assert.equal(dv.getUint32(o + 4, true), 0x806f8);
    o += bytes[o] === 0 ? 20 : 8;
  }
  assert.equal(o, t + len);
  assert.deepEqual(types.slice(0, 4), [0, 0, 1, 2]);
  assert.equal(bytes[t + 0x2c + 3], 3, 'CPU 0 enabled + BSP');
  assert.equal(bytes[t + 0x2c + 20 + 3], 1, 'CPU 1 enabled');
  assert.deepEqual(
    ioInts.find(([irq]) => irq === 0),
    [0, 2, 0],
  );
  assert.deepEqual(
    ioInts.find(([irq]) => irq === 9),
    [9, 9, 0x0d],
  );
  assert.equal(
    ioInts.find(([irq]) => irq === 2),
    undefined,
    'no entry for the cascade',
  );
  assert.equal(ioInts.length, 15);
  assert.throws(() => buildMpTable({ apicIds: Array.from({ length: 60 }, (_, i) => i) }), {
    code: 'MPTABLE_PLACEMENT',
  } as object);
  assert.throws(() => buildMpTable({ apicIds: [] }), { code: 'MPTABLE_CPUS' } as object);
});
