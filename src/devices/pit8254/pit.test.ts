import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pit8254, Port61Device, PIT_HZ, PIT_REG, pitNsAt, pitTicksAt, PitStatus } from './pit.ts';
import { ManualClock } from '../../machine/clock.ts';
import type { IrqLine } from '../device.ts';

function setup(): { pit: Pit8254; clock: ManualClock; pulses: () => number; at: (tick: number) => void } {
  const clock = new ManualClock(0);
  let n = 0;
  const irq: IrqLine = { set: () => {}, pulse: () => n++ };
  const pit = new Pit8254(clock, irq);
  return { pit, clock, pulses: () => n, at: (tick) => clock.set(pitNsAt(tick)) };
}

function program(pit: Pit8254, ch: number, mode: number, count: number): void {
  pit.write(PIT_REG.CONTROL, 1, (ch << 6) | (3 << 4) | (mode << 1));
  pit.write(ch, 1, count & 0xff);
  pit.write(ch, 1, (count >> 8) & 0xff);
}

function readCount(pit: Pit8254, ch: number): number {
  pit.write(PIT_REG.CONTROL, 1, ch << 6); // counter latch
  return pit.read(ch, 1) | (pit.read(ch, 1) << 8);
}

test('tick conversion is exact and invertible', () => {
  assert.equal(pitTicksAt(1e9), PIT_HZ);
  assert.equal(pitTicksAt(3e9 + 1), 3 * PIT_HZ + 0);
  for (const t of [0, 1, 11931, PIT_HZ - 1, PIT_HZ, 5 * PIT_HZ + 7, 2 ** 40]) {
    assert.equal(pitTicksAt(pitNsAt(t)), t);
    assert.ok(pitTicksAt(pitNsAt(t) - 1) < t || t === 0);
  }
});

test('mode 2 rate generator: counts down from N, reloads, one IRQ0 per period', () => {
  const { pit, pulses, at } = setup();
  at(1000);
  program(pit, 0, 2, 100);
  at(1000 + 30);
  assert.equal(readCount(pit, 0), 70);
  assert.equal(pit.poll(), 0);
  assert.equal(pit.nextEventNs(), pitNsAt(1100));
  at(1100);
  assert.equal(pit.poll(), 1);
  assert.equal(pulses(), 1);
  at(1100 + 350); // 3.5 periods later: three edges, coalesced into one pulse
  assert.equal(pit.poll(), 3);
  assert.equal(pulses(), 2);
  assert.equal(readCount(pit, 0), 50);
  assert.equal(pit.nextEventNs(), pitNsAt(1500));
});

test('mode 3 square wave: a 100 Hz tick as Linux programs it', () => {
  const { pit, pulses, clock } = setup();
  const latch = Math.round(PIT_HZ / 100); // 11932
  program(pit, 0, 3, latch);
  let ticks = 0;
  for (let i = 0; i < 10; i++) {
    const next = pit.nextEventNs()!;
    clock.set(next);
    ticks += pit.poll() > 0 ? 1 : 0;
  }
  assert.equal(ticks, 10);
  assert.equal(pulses(), 10);
  // ten periods of 11932 ticks ≈ 100 ms
  assert.equal(pitTicksAt(clock.nowNs()), 10 * latch);
  // the count decrements by two
  clock.set(pitNsAt(10 * latch + 10));
  assert.equal(readCount(pit, 0), latch - 20);
});

test('mode 0 interrupt on terminal count: one edge, OUT low until then (read-back status)', () => {
  const { pit, at } = setup();
  program(pit, 0, 0, 500);
  pit.write(PIT_REG.CONTROL, 1, 0xc0 | 0x20 | 0x02); // read-back status of counter 0
  assert.equal(pit.read(0, 1) & PitStatus.OUT, 0);
  at(499);
  assert.equal(pit.poll(), 0);
  at(500);
  assert.equal(pit.poll(), 1);
  at(5000);
  assert.equal(pit.poll(), 0, 'mode 0 does not repeat');
  assert.equal(pit.nextEventNs(), undefined);
  pit.write(PIT_REG.CONTROL, 1, 0xc0 | 0x20 | 0x02);
  assert.equal(pit.read(0, 1) & PitStatus.OUT, PitStatus.OUT);
});

test('latch command freezes the value read until both bytes are read', () => {
  const { pit, at } = setup();
  program(pit, 0, 2, 0x1234);
  at(0x10);
  pit.write(PIT_REG.CONTROL, 1, 0x00);
  at(0x200);
  assert.equal(pit.read(0, 1), (0x1234 - 0x10) & 0xff);
  assert.equal(pit.read(0, 1), (0x1234 - 0x10) >> 8);
  // unlatched reads follow the live count, LSB then MSB
  const v = pit.read(0, 1) | (pit.read(0, 1) << 8);
  assert.equal(v, 0x1234 - 0x200);
});

test('lobyte-only and hibyte-only access modes', () => {
  const { pit, at } = setup();
  pit.write(PIT_REG.CONTROL, 1, (1 << 6) | (1 << 4) | (2 << 1)); // counter 1, LSB only, mode 2
  pit.write(1, 1, 0x80);
  at(0x10);
  assert.equal(pit.read(1, 1), 0x70);
  pit.write(PIT_REG.CONTROL, 1, (1 << 6) | (2 << 4) | (2 << 1)); // MSB only
  pit.write(1, 1, 0x02); // count 0x200
  at(0x10 + 0x100);
  assert.equal(pit.read(1, 1), 0x01);
});

test('count 0 means 65536; BCD mode counts in decimal', () => {
  const { pit, at } = setup();
  program(pit, 0, 2, 0);
  at(1);
  assert.equal(readCount(pit, 0), 0xffff);
  pit.write(PIT_REG.CONTROL, 1, (1 << 6) | (3 << 4) | (2 << 1) | 1); // counter 1 mode 2 BCD
  pit.write(1, 1, 0x00);
  pit.write(1, 1, 0x10); // 1000 decimal
  at(1 + 1);
  assert.equal(readCount(pit, 1), 0x0999);
});

test('new count in mode 2 takes effect at the end of the current period', () => {
  const { pit, at } = setup();
  program(pit, 0, 2, 100);
  at(150);
  pit.poll();
  pit.write(0, 1, 10);
  pit.write(0, 1, 0);
  assert.equal(pit.nextEventNs(), pitNsAt(200));
  at(205);
  assert.equal(pit.poll(), 1);
  assert.equal(pit.nextEventNs(), pitNsAt(210));
  at(230);
  assert.equal(pit.poll(), 3);
});

test('port 0x61: counter 2 gate starts mode 2 counting, OUT2 visible', () => {
  const { pit, at } = setup();
  const p61 = new Port61Device(pit);
  program(pit, 2, 2, 50);
  at(10);
  assert.equal(readCount(pit, 2), 50, 'gate low: not counting');
  p61.write(0, 1, 0x01);
  assert.equal(p61.read(0, 1) & 0x01, 0x01);
  at(30);
  assert.equal(readCount(pit, 2), 30);
  at(10 + 49);
  assert.equal(p61.read(0, 1) & 0x20, 0, 'OUT2 low for the tick before reload');
  at(10 + 50);
  assert.equal(p61.read(0, 1) & 0x20, 0x20);
});

test('snapshot/restore round-trip continues the same schedule', () => {
  const { pit, at, clock } = setup();
  program(pit, 0, 2, 1000);
  at(2500);
  pit.poll();
  const snap = JSON.parse(JSON.stringify(pit.snapshot()));
  const other = new Pit8254(clock);
  other.restore(snap);
  assert.deepEqual(other.snapshot(), pit.snapshot());
  assert.equal(other.nextEventNs(), pitNsAt(3000));
  assert.equal(readCount(other, 0), 500);
  assert.throws(() => other.restore({ channels: [], speakerEnable: false }), { code: 'SNAPSHOT_INVALID' });
});

test('mode 4 strobes once at count + 1; mode 1 on counter 2 starts on a GATE rising edge', () => {
  const { pit, at } = setup();
  at(0);
  program(pit, 0, 4, 100);
  assert.equal(pit.nextEventNs(), pitNsAt(101));
  at(100);
  assert.equal(pit.poll(), 0);
  at(101);
  assert.equal(pit.poll(), 1);
  at(1000);
  assert.equal(pit.poll(), 0, 'one strobe only');
  const p61 = new Port61Device(pit);
  program(pit, 2, 1, 40);
  at(1010);
  assert.equal(readCount(pit, 2), 40, 'waiting for the gate');
  p61.write(0, 1, 0x01);
  at(1030);
  assert.equal(readCount(pit, 2), 20);
  assert.equal(p61.read(0, 1) & 0x20, 0, 'OUT low during the one-shot');
  at(1050);
  assert.equal(p61.read(0, 1) & 0x20, 0x20, 'OUT high at terminal count');
});
