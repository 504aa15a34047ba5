import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ManualClock } from '../../machine/clock.ts';
import { computeLayout, GiB, MiB } from '../../machine/layout.ts';
import {
  civilFromSeconds,
  CmosReg,
  daysFromCivil,
  NMI_DISABLE,
  periodicDivider,
  RegA,
  RegB,
  RegC,
  Rtc,
  RtcPort,
  secondsFromCivil,
  UIP_LEAD_NS,
  type CivilTime,
} from './rtc.ts';
import { CmosMem, cmosMemoryBytes } from './cmos-memory.ts';

// 2024-02-29 23:59:58 UTC, a Thursday
const EPOCH = Date.UTC(2024, 1, 29, 23, 59, 58) / 1000;

function setup(epochSec = EPOCH): { rtc: Rtc; clock: ManualClock; levels: boolean[] } {
  const clock = new ManualClock(0);
  const levels: boolean[] = [];
  const rtc = new Rtc({ clock, irq: { set: (l) => levels.push(l), pulse: () => {} }, epochSec });
  return { rtc, clock, levels };
}

function rd(rtc: Rtc, index: number): number {
  rtc.write(RtcPort.INDEX, 1, index);
  return rtc.read(RtcPort.DATA, 1);
}
function wr(rtc: Rtc, index: number, v: number): void {
  rtc.write(RtcPort.INDEX, 1, index);
  rtc.write(RtcPort.DATA, 1, v);
}

test('civil time conversion agrees with Date for a spread of instants', () => {
  const out: CivilTime = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0, weekday: 0 };
  for (const ms of [0, 951782400000, EPOCH * 1000, 4102444799000, -86400000, 1700000000000]) {
    const d = new Date(ms);
    const t = civilFromSeconds(ms / 1000, out);
    assert.deepEqual(
      [t.year, t.month, t.day, t.hour, t.minute, t.second, t.weekday],
      [
        d.getUTCFullYear(),
        d.getUTCMonth() + 1,
        d.getUTCDate(),
        d.getUTCHours(),
        d.getUTCMinutes(),
        d.getUTCSeconds(),
        d.getUTCDay() + 1,
      ],
    );
    assert.equal(secondsFromCivil(t), ms / 1000);
  }
  assert.equal(daysFromCivil(1970, 1, 1), 0);
});

test('BCD 24h reads, rolling over a leap day and the year-end at the right nanosecond', () => {
  const { rtc, clock } = setup();
  assert.equal(rd(rtc, CmosReg.SECONDS), 0x58);
  assert.equal(rd(rtc, CmosReg.MINUTES), 0x59);
  assert.equal(rd(rtc, CmosReg.HOURS), 0x23);
  assert.equal(rd(rtc, CmosReg.DAY_OF_MONTH), 0x29);
  assert.equal(rd(rtc, CmosReg.MONTH), 0x02);
  assert.equal(rd(rtc, CmosReg.YEAR), 0x24);
  assert.equal(rd(rtc, CmosReg.CENTURY), 0x20);
  assert.equal(rd(rtc, CmosReg.DAY_OF_WEEK), 5); // Thursday
  clock.set(2e9 - 1);
  assert.equal(rd(rtc, CmosReg.SECONDS), 0x59);
  clock.set(2e9);
  assert.deepEqual(
    [CmosReg.SECONDS, CmosReg.MINUTES, CmosReg.HOURS, CmosReg.DAY_OF_MONTH, CmosReg.MONTH].map((i) =>
      rd(rtc, i),
    ),
    [0x00, 0x00, 0x00, 0x01, 0x03],
  );
  assert.equal(rd(rtc, CmosReg.DAY_OF_WEEK), 6);
});

test('binary mode and 12-hour mode (PM in bit 7)', () => {
  const { rtc } = setup(Date.UTC(2031, 6, 4, 13, 5, 9) / 1000);
  wr(rtc, CmosReg.B, RegB.DM_BINARY | RegB.HOUR_24);
  assert.deepEqual(
    [CmosReg.SECONDS, CmosReg.MINUTES, CmosReg.HOURS, CmosReg.YEAR, CmosReg.CENTURY].map((i) => rd(rtc, i)),
    [9, 5, 13, 31, 20],
  );
  wr(rtc, CmosReg.B, RegB.DM_BINARY);
  assert.equal(rd(rtc, CmosReg.HOURS), 0x80 | 1);
  wr(rtc, CmosReg.B, 0); // BCD, 12h
  assert.equal(rd(rtc, CmosReg.HOURS), 0x81);
  // midnight and noon in 12h mode
  wr(rtc, CmosReg.HOURS, 0x12); // 12 AM = 00
  wr(rtc, CmosReg.B, RegB.HOUR_24);
  assert.equal(rd(rtc, CmosReg.HOURS), 0x00);
  wr(rtc, CmosReg.B, 0);
  wr(rtc, CmosReg.HOURS, 0x92); // 12 PM = 12
  wr(rtc, CmosReg.B, RegB.HOUR_24);
  assert.equal(rd(rtc, CmosReg.HOURS), 0x12);
});

test('SET freezes the time; writes take effect; clearing SET restarts the second', () => {
  const { rtc, clock } = setup();
  wr(rtc, CmosReg.B, RegB.SET | RegB.HOUR_24);
  wr(rtc, CmosReg.YEAR, 0x99);
  wr(rtc, CmosReg.CENTURY, 0x19);
  wr(rtc, CmosReg.MONTH, 0x12);
  wr(rtc, CmosReg.DAY_OF_MONTH, 0x31);
  wr(rtc, CmosReg.HOURS, 0x23);
  wr(rtc, CmosReg.MINUTES, 0x59);
  wr(rtc, CmosReg.SECONDS, 0x59);
  clock.set(5e9);
  assert.equal(rd(rtc, CmosReg.SECONDS), 0x59, 'frozen while SET');
  assert.equal(rd(rtc, CmosReg.A) & RegA.UIP, 0, 'no update in progress while SET');
  wr(rtc, CmosReg.B, RegB.HOUR_24);
  clock.set(6e9);
  assert.deepEqual(
    [CmosReg.YEAR, CmosReg.CENTURY, CmosReg.MONTH, CmosReg.DAY_OF_MONTH].map((i) => rd(rtc, i)),
    [0x00, 0x20, 0x01, 0x01],
  );
  assert.equal(rtc.seconds(), Date.UTC(2000, 0, 1) / 1000);
});

test('UIP is set during the last 244 µs of each second', () => {
  const { rtc, clock } = setup();
  clock.set(1e9 - UIP_LEAD_NS - 1);
  assert.equal(rd(rtc, CmosReg.A) & RegA.UIP, 0);
  clock.set(1e9 - UIP_LEAD_NS);
  assert.equal(rd(rtc, CmosReg.A) & RegA.UIP, RegA.UIP);
  clock.set(1e9);
  assert.equal(rd(rtc, CmosReg.A) & RegA.UIP, 0);
  assert.equal(rd(rtc, CmosReg.A) & ~RegA.UIP, 0x26);
});

test('update-ended interrupt: UF each second, IRQ8 raised when UIE, released by reading C', () => {
  const { rtc, clock, levels } = setup();
  wr(rtc, CmosReg.B, RegB.HOUR_24 | RegB.UIE);
  assert.equal(rtc.nextEventNs(), 1e9);
  clock.set(999_999_999);
  rtc.poll();
  assert.deepEqual(levels, []);
  clock.set(1e9);
  rtc.poll();
  assert.deepEqual(levels, [true]);
  assert.equal(rtc.nextEventNs(), undefined);
  assert.equal(
    rd(rtc, CmosReg.C) & ~RegC.PF,
    RegC.IRQF | RegC.UF,
    'PF is also set (periodic flag runs without PIE)',
  );
  assert.deepEqual(levels, [true, false]);
  assert.equal(rd(rtc, CmosReg.C), 0, 'C clears on read');
  assert.equal(rtc.nextEventNs(), 2e9);
});

test("alarm with don't-care fields fires once the time matches", () => {
  const { rtc, clock, levels } = setup(Date.UTC(2024, 0, 1, 10, 0, 0) / 1000);
  wr(rtc, CmosReg.B, RegB.HOUR_24 | RegB.AIE);
  wr(rtc, CmosReg.SECONDS_ALARM, 0x30);
  wr(rtc, CmosReg.MINUTES_ALARM, 0xff);
  wr(rtc, CmosReg.HOURS_ALARM, 0xc0);
  clock.set(29e9);
  rtc.poll();
  assert.deepEqual(levels, []);
  assert.equal(rd(rtc, CmosReg.C) & ~RegC.PF, RegC.UF, 'UF without UIE does not interrupt');
  clock.set(95e9); // crossed 10:00:30 and 10:01:30 since the last look
  rtc.poll();
  assert.deepEqual(levels, [true]);
  assert.equal(rd(rtc, CmosReg.C) & ~RegC.PF, RegC.IRQF | RegC.AF | RegC.UF);
});

test('periodic interrupt at the rate select frequency', () => {
  const { rtc, clock, levels } = setup();
  assert.equal(periodicDivider(6), 32); // 1024 Hz
  assert.equal(periodicDivider(15), 16384); // 2 Hz
  assert.equal(periodicDivider(1), 128); // 256 Hz
  wr(rtc, CmosReg.A, 0x2f); // 2 Hz
  wr(rtc, CmosReg.B, RegB.HOUR_24 | RegB.PIE);
  assert.equal(rtc.nextEventNs(), 5e8);
  clock.set(5e8 - 1);
  rtc.poll();
  assert.deepEqual(levels, []);
  clock.set(5e8);
  rtc.poll();
  assert.deepEqual(levels, [true]);
  assert.equal(rd(rtc, CmosReg.C), RegC.IRQF | RegC.PF);
  assert.equal(rtc.nextEventNs(), 1e9);
  wr(rtc, CmosReg.A, 0x26); // 1024 Hz: 976562.5 ns
  assert.equal(rtc.nextEventNs(), 5e8 + 976563);
});

test('NMI-disable bit, CMOS RAM, read-only registers, memory-size bytes', () => {
  const { rtc } = setup();
  rtc.write(RtcPort.INDEX, 1, NMI_DISABLE | 0x40);
  assert.equal(rtc.nmiDisabled, true);
  rtc.write(RtcPort.DATA, 1, 0xa5);
  rtc.write(RtcPort.INDEX, 1, 0x40);
  assert.equal(rtc.nmiDisabled, false);
  assert.equal(rtc.read(RtcPort.DATA, 1), 0xa5);
  wr(rtc, CmosReg.D, 0);
  assert.equal(rd(rtc, CmosReg.D), 0x80);
  const layout = computeLayout(5 * GiB);
  for (const [i, v] of cmosMemoryBytes(layout, 2)) rtc.setCmosByte(i, v);
  const w = (lo: number): number => rtc.cmosByte(lo) | (rtc.cmosByte(lo + 1) << 8);
  assert.equal(w(CmosMem.BASE_KB_LO), 640);
  assert.equal(w(CmosMem.EXT_KB_LO_2), 0xffff);
  assert.equal(w(CmosMem.EXT16_64K_LO), (3 * GiB - 16 * MiB) / (64 * 1024));
  assert.equal(
    rtc.cmosByte(CmosMem.HIGH_64K_0) |
      (rtc.cmosByte(CmosMem.HIGH_64K_1) << 8) |
      (rtc.cmosByte(CmosMem.HIGH_64K_2) << 16),
    (2 * GiB) / (64 * 1024),
  );
  assert.equal(rtc.cmosByte(CmosMem.CPU_COUNT_MINUS_1), 1);
  assert.throws(() => rtc.setCmosByte(0x0c, 1), { name: 'TsvmmError' });
});

test('snapshot round-trip', () => {
  const { rtc, clock } = setup();
  wr(rtc, 0x50, 0x42);
  const s = JSON.parse(JSON.stringify(rtc.snapshot()));
  const other = setup(0).rtc;
  other.restore(s);
  clock.set(0);
  assert.equal(rd(other, 0x50), 0x42);
  assert.equal(rd(other, CmosReg.YEAR), 0x24);
  assert.throws(() => other.restore({ ...s, cmos: [] }), { name: 'TsvmmError' });
});
