import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../machine/clock.ts';
import { ApicBus } from '../lapic/apic-bus.ts';
import { LocalApic } from '../lapic/lapic.ts';
import { LapicReg } from '../lapic/regs.ts';
import { IoApic, IoapicMmio, Redir } from './ioapic.ts';

function rig(n = 2): { io: IoApic; apics: LocalApic[] } {
  const bus = new ApicBus();
  const clock = new ManualClock();
  const apics = Array.from({ length: n }, (_, i) => new LocalApic({ id: i, bsp: i === 0, bus, clock }));
  for (const a of apics) a.write(LapicReg.SVR, 4, 0x1ff);
  return { io: new IoApic(bus), apics };
}

function writeIndirect(io: IoApic, index: number, v: number): void {
  io.write(IoapicMmio.IOREGSEL, 4, index);
  io.write(IoapicMmio.IOWIN, 4, v);
}
function readIndirect(io: IoApic, index: number): number {
  io.write(IoapicMmio.IOREGSEL, 4, index);
  return io.read(IoapicMmio.IOWIN, 4);
}
function route(io: IoApic, pin: number, lo: number, dest: number): void {
  writeIndirect(io, 0x11 + pin * 2, dest << 24);
  writeIndirect(io, 0x10 + pin * 2, lo);
}

test('ID, version (24 pins, 0x11), arbitration; entries masked at reset', () => {
  const { io } = rig();
  assert.equal(readIndirect(io, 0x01), 0x00170011);
  writeIndirect(io, 0x00, 0x0a000000);
  assert.equal(readIndirect(io, 0x00), 0x0a000000);
  assert.equal(readIndirect(io, 0x02), 0x0a000000);
  for (let pin = 0; pin < 24; pin++) assert.equal(readIndirect(io, 0x10 + pin * 2), Redir.MASKED);
  io.write(IoapicMmio.IOREGSEL, 4, 0x12);
  assert.equal(io.read(IoapicMmio.IOREGSEL, 4), 0x12);
  // read-only bits (delivery status, remote IRR) cannot be written
  writeIndirect(io, 0x10, 0xffffffff);
  assert.equal(readIndirect(io, 0x10), Redir.WRITABLE_LO);
  writeIndirect(io, 0x11, 0xffffffff);
  assert.equal(readIndirect(io, 0x11), 0xff000000);
});

test('edge pins deliver on each rising edge to the routed APIC; masked edges are lost', () => {
  const { io, apics } = rig();
  route(io, 2, 0x30, 1);
  io.irqLine(2).set(true);
  io.irqLine(2).set(true); // no new edge
  assert.equal(apics[1]!.highestIrr(), 0x30);
  assert.equal(apics[0]!.highestIrr(), -1);
  assert.equal(apics[1]!.acknowledge(), 0x30);
  apics[1]!.write(LapicReg.EOI, 4, 0);
  assert.equal(apics[1]!.highestIrr(), -1);
  io.irqLine(2).set(false);
  io.irqLine(2).pulse();
  assert.equal(apics[1]!.highestIrr(), 0x30);
  apics[1]!.acknowledge();
  apics[1]!.write(LapicReg.EOI, 4, 0);
  route(io, 2, Redir.MASKED | 0x30, 1);
  io.irqLine(2).pulse();
  route(io, 2, 0x30, 1);
  assert.equal(apics[1]!.highestIrr(), -1);
});

test('level pins: remote IRR blocks re-delivery until EOI; EOI with the line still high re-delivers', () => {
  const { io, apics } = rig(1);
  const a = apics[0]!;
  route(io, 9, Redir.LEVEL | 0x49, 0);
  io.setIrq(9, true);
  assert.equal(readIndirect(io, 0x10 + 18) & Redir.REMOTE_IRR, Redir.REMOTE_IRR);
  assert.equal(a.acknowledge(), 0x49);
  io.setIrq(9, true); // still asserted: no second message while remote IRR is set
  assert.equal(a.highestIrr(), -1);
  a.write(LapicReg.EOI, 4, 0); // level EOI → IOAPIC → line still high → delivered again
  assert.equal(a.highestIrr(), 0x49);
  assert.equal(readIndirect(io, 0x10 + 18) & Redir.REMOTE_IRR, Redir.REMOTE_IRR);
  assert.equal(a.acknowledge(), 0x49);
  io.setIrq(9, false);
  a.write(LapicReg.EOI, 4, 0);
  assert.equal(readIndirect(io, 0x10 + 18) & Redir.REMOTE_IRR, 0);
  assert.equal(a.highestIrr(), -1);
});

test('level pins: masked while asserted, delivered on unmask', () => {
  const { io, apics } = rig(1);
  route(io, 11, Redir.LEVEL | Redir.MASKED | 0x51, 0);
  io.setIrq(11, true);
  assert.equal(apics[0]!.highestIrr(), -1);
  route(io, 11, Redir.LEVEL | 0x51, 0);
  assert.equal(apics[0]!.highestIrr(), 0x51);
});

test('logical destination and broadcast', () => {
  const { io, apics } = rig(3);
  apics.forEach((a, i) => a.write(LapicReg.LDR, 4, (1 << i) << 24));
  route(io, 4, Redir.DEST_LOGICAL | 0x34, 0b101);
  io.irqLine(4).pulse();
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [0x34, -1, 0x34],
  );
  route(io, 5, 0x35, 0xff);
  io.irqLine(5).pulse();
  assert.deepEqual(
    apics.map((a) => a.highestIrr()),
    [0x35, 0x35, 0x35],
  );
});

test('bad pin and bad snapshot are refused', () => {
  const { io } = rig(1);
  assert.throws(() => io.irqLine(24), { name: 'TsvmmError' });
  route(io, 3, 0x33, 0);
  const s = JSON.parse(JSON.stringify(io.snapshot()));
  io.reset();
  io.restore(s);
  assert.equal(readIndirect(io, 0x16), 0x33);
  assert.throws(() => io.restore({ ...s, lo: [1] }), /lo/);
});
