import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Bus, type UnclaimedAccess } from './bus.ts';
import type { AccessSize, Device } from '../devices/device.ts';

class Recorder implements Device {
  readonly log: string[] = [];
  constructor(
    readonly name: string,
    private readonly value = 0x11223344,
  ) {}
  reset(): void {
    this.log.push('reset');
  }
  read(offset: number, size: AccessSize): number {
    this.log.push(`r${offset}/${size}`);
    return (this.value >>> (8 * (offset & 3))) & (size === 4 ? 0xffffffff : (1 << (8 * size)) - 1);
  }
  write(offset: number, size: AccessSize, value: number): void {
    this.log.push(`w${offset}/${size}=${value.toString(16)}`);
  }
  snapshot(): unknown {
    return {};
  }
  restore(): void {}
}

test('dispatch reaches the device with offsets relative to its base', () => {
  const bus = new Bus();
  const a = new Recorder('a');
  const b = new Recorder('b');
  bus.register('pio', 0x3f8, 8, a);
  bus.register('pio', 0x20, 2, b);
  bus.write('pio', 0x3fb, 1, 0x83);
  bus.read('pio', 0x21, 1);
  assert.deepEqual(a.log, ['w3/1=83']);
  assert.deepEqual(b.log, ['r1/1']);
  assert.equal(bus.find('pio', 0x3ff)?.device, a);
  assert.equal(bus.find('pio', 0x400), undefined);
  assert.deepEqual(
    bus.devices('pio').map((r) => r.base),
    [0x20, 0x3f8],
  );
});

test('binary search finds every device among many', () => {
  const bus = new Bus();
  const devs: Recorder[] = [];
  for (let i = 0; i < 200; i++) {
    const d = new Recorder(`d${i}`);
    devs.push(d);
    bus.register('pio', 0x1000 + i * 16, 4, d);
  }
  for (let i = 0; i < 200; i += 7) {
    assert.equal(bus.find('pio', 0x1000 + i * 16 + 3)?.device, devs[i]);
    assert.equal(bus.find('pio', 0x1000 + i * 16 + 4), undefined);
  }
});

test('overlapping registrations are refused, naming both devices', () => {
  const bus = new Bus();
  bus.register('pio', 0x40, 4, new Recorder('pit'));
  assert.throws(
    () => bus.register('pio', 0x43, 1, new Recorder('x')),
    (e: Error & { code?: string }) =>
      e.code === 'BUS_OVERLAP' && /pit/.test(e.message) && /x/.test(e.message),
  );
  assert.throws(() => bus.register('pio', 0x3e, 4, new Recorder('y')), { code: 'BUS_OVERLAP' });
  bus.register('pio', 0x44, 1, new Recorder('adjacent'));
  bus.register('pio', 0x3c, 4, new Recorder('adjacent-below'));
  assert.throws(() => bus.register('pio', 0xfffe, 4, new Recorder('z')), { code: 'BUS_RANGE' });
  assert.throws(() => bus.register('pio', 0x10, 0, new Recorder('z')), { code: 'BUS_RANGE' });
  // the two spaces are independent
  bus.register('mmio', 0x40, 4, new Recorder('mmio-dev'));
});

test('unclaimed reads return all-ones of the access size; unclaimed writes are dropped and counted', () => {
  const bus = new Bus();
  const seen: UnclaimedAccess[] = [];
  bus.onUnclaimed = (a) => seen.push(a);
  assert.equal(bus.read('pio', 0x2f8, 1), 0xff);
  assert.equal(bus.read('pio', 0x2f8, 2), 0xffff);
  assert.equal(bus.read('mmio', 0xfec00000, 4), 0xffffffff);
  bus.write('pio', 0x70, 1, 0x8f);
  const s = bus.stats('pio');
  assert.equal(s.unclaimedReads, 2);
  assert.equal(s.unclaimedWrites, 1);
  assert.equal(s.unclaimedAddrs.get(0x2f8), 2);
  assert.equal(bus.stats('mmio').unclaimedReads, 1);
  assert.deepEqual(seen[3], { space: 'pio', kind: 'write', addr: 0x70, size: 1, value: 0x8f });
});

test('an access straddling a device edge is split into bytes', () => {
  const bus = new Bus();
  const d = new Recorder('d', 0xaabbccdd);
  bus.register('pio', 0x100, 2, d);
  // bytes 0x100, 0x101 from the device (offsets 0, 1), 0x102-0x103 unclaimed
  assert.equal(bus.read('pio', 0x100, 4), 0xffffccdd);
  assert.deepEqual(d.log, ['r0/1', 'r1/1']);
  bus.write('pio', 0xff, 2, 0x1234);
  assert.deepEqual(d.log.slice(2), ['w0/1=12']);
});

test('resetDevices resets each registered device once', () => {
  const bus = new Bus();
  const d = new Recorder('d');
  bus.register('pio', 0x10, 1, d);
  bus.register('pio', 0x20, 1, d);
  bus.resetDevices();
  assert.deepEqual(d.log, ['reset']);
});
