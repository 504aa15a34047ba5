import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PicPair, PIC_REG, Ocw2, Ocw3 } from './pic.ts';

/** Program the pair as a PC BIOS/Linux does: master at 0x20, slave at 0x28, cascade on IR2, 8086 mode. */
function init(p: PicPair, opts: { aeoi?: boolean; masterBase?: number; slaveBase?: number } = {}): void {
  const icw4 = 0x01 | (opts.aeoi ? 0x02 : 0);
  p.master.write(PIC_REG.COMMAND, 1, 0x11);
  p.master.write(PIC_REG.DATA, 1, opts.masterBase ?? 0x20);
  p.master.write(PIC_REG.DATA, 1, 0x04);
  p.master.write(PIC_REG.DATA, 1, icw4);
  p.slave.write(PIC_REG.COMMAND, 1, 0x11);
  p.slave.write(PIC_REG.DATA, 1, opts.slaveBase ?? 0x28);
  p.slave.write(PIC_REG.DATA, 1, 0x02);
  p.slave.write(PIC_REG.DATA, 1, icw4);
}

test('ICW1-4 set the vector base; an edge on IRQ0 becomes vector base+0 with ISR set', () => {
  const p = new PicPair();
  init(p);
  assert.equal(p.hasInterrupt(), false);
  p.irqLine(0).pulse();
  assert.equal(p.hasInterrupt(), true);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0x01, 'IRR shows IR0');
  assert.equal(p.acknowledge(), 0x20);
  assert.equal(p.hasInterrupt(), false);
  p.master.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.RR | Ocw3.RIS);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0x01, 'ISR shows IR0');
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.NONSPECIFIC_EOI);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0x00, 'EOI cleared ISR');
});

test('IMR masks a line; unmasking delivers the latched request', () => {
  const p = new PicPair();
  init(p);
  p.master.write(PIC_REG.DATA, 1, 0xff);
  assert.equal(p.master.read(PIC_REG.DATA, 1), 0xff);
  p.irqLine(4).pulse();
  assert.equal(p.hasInterrupt(), false);
  p.master.write(PIC_REG.DATA, 1, 0xef);
  assert.equal(p.hasInterrupt(), true);
  assert.equal(p.acknowledge(), 0x24);
});

test('fixed priority: IR0 wins over IR4; a lower-priority request waits for EOI of the higher one', () => {
  const p = new PicPair();
  init(p);
  p.irqLine(4).pulse();
  p.irqLine(0).pulse();
  assert.equal(p.acknowledge(), 0x20);
  assert.equal(p.hasInterrupt(), false, 'IR4 is blocked while IR0 is in service');
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.NONSPECIFIC_EOI);
  assert.equal(p.acknowledge(), 0x24);
  // a higher-priority request nests over a lower one in service
  p.irqLine(1).pulse();
  assert.equal(p.acknowledge(), 0x21);
});

test('specific EOI clears the named level only', () => {
  const p = new PicPair();
  init(p);
  p.irqLine(3).pulse();
  assert.equal(p.acknowledge(), 0x23);
  p.irqLine(1).pulse();
  assert.equal(p.acknowledge(), 0x21);
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.SPECIFIC_EOI | 3);
  p.master.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.RR | Ocw3.RIS);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0x02);
});

test('cascade: slave IRQ 10 arrives through master IR2 with the slave vector; EOI both', () => {
  const p = new PicPair();
  init(p);
  p.irqLine(10).pulse();
  assert.equal(p.hasInterrupt(), true);
  assert.equal(p.acknowledge(), 0x2a);
  p.master.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.RR | Ocw3.RIS);
  p.slave.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.RR | Ocw3.RIS);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0x04);
  assert.equal(p.slave.read(PIC_REG.COMMAND, 1), 0x04);
  p.slave.write(PIC_REG.COMMAND, 1, Ocw2.NONSPECIFIC_EOI);
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.NONSPECIFIC_EOI);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0);
  assert.equal(p.slave.read(PIC_REG.COMMAND, 1), 0);
  // masking IR2 on the master masks every slave line
  p.master.write(PIC_REG.DATA, 1, 0x04);
  p.irqLine(9).pulse();
  assert.equal(p.hasInterrupt(), false);
});

test('auto-EOI: ISR is never set, so the same line can interrupt again without an EOI', () => {
  const p = new PicPair();
  init(p, { aeoi: true });
  p.irqLine(0).pulse();
  assert.equal(p.acknowledge(), 0x20);
  p.master.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.RR | Ocw3.RIS);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0);
  p.irqLine(0).pulse();
  assert.equal(p.hasInterrupt(), true);
});

test('rotate on non-specific EOI makes the serviced level the lowest priority', () => {
  const p = new PicPair();
  init(p);
  p.irqLine(0).pulse();
  assert.equal(p.acknowledge(), 0x20);
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.ROTATE_NONSPECIFIC_EOI);
  p.irqLine(0).pulse();
  p.irqLine(5).pulse();
  assert.equal(p.acknowledge(), 0x25, 'IR0 is now the lowest priority');
  // set-priority command: IR7 lowest → IR0 highest again
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.NONSPECIFIC_EOI);
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.SET_PRIORITY | 7);
  assert.equal(p.acknowledge(), 0x20);
});

test('spurious interrupts: IR7 on the master, IR15 on the slave with master ISR2 set', () => {
  const p = new PicPair();
  init(p);
  assert.equal(p.acknowledge(), 0x27, 'nothing pending → master IR7 vector');
  p.master.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.RR | Ocw3.RIS);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0, 'spurious IR7 does not set ISR');
  // slave request that goes away before INTA (level-triggered line dropped)
  p.elcr.write(1, 1, 0x02); // IRQ9 level
  p.irqLine(9).set(true);
  assert.equal(p.hasInterrupt(), true);
  p.slave.irr = 0; // the line dropped after the master latched its edge
  p.master.irr |= 0x04;
  assert.equal(p.acknowledge(), 0x2f);
  assert.equal(p.master.isr & 0x04, 0x04);
});

test('level-triggered via ELCR: IRR follows the line; fixed-edge ELCR bits read as zero', () => {
  const p = new PicPair();
  init(p);
  p.elcr.write(0, 1, 0xff);
  assert.equal(p.elcr.read(0, 1), 0xf8, 'IRQ0-2 are edge only');
  p.irqLine(5).set(true);
  assert.equal(p.acknowledge(), 0x25);
  p.master.write(PIC_REG.COMMAND, 1, Ocw2.NONSPECIFIC_EOI);
  assert.equal(p.hasInterrupt(), true, 'line still high: requests again');
  p.irqLine(5).set(false);
  assert.equal(p.hasInterrupt(), false);
});

test('poll command returns 0x80|level and acknowledges', () => {
  const p = new PicPair();
  init(p);
  p.irqLine(6).pulse();
  p.master.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.POLL);
  assert.equal(p.master.read(PIC_REG.COMMAND, 1), 0x86);
  assert.equal(p.master.isr, 0x40);
});

test('special mask mode lets lower priorities through a masked in-service level', () => {
  const p = new PicPair();
  init(p);
  p.irqLine(1).pulse();
  assert.equal(p.acknowledge(), 0x21);
  p.irqLine(3).pulse();
  assert.equal(p.hasInterrupt(), false);
  p.master.write(PIC_REG.DATA, 1, 0x02);
  p.master.write(PIC_REG.COMMAND, 1, Ocw3.ONE | Ocw3.ESMM | Ocw3.SMM);
  assert.equal(p.hasInterrupt(), true);
  assert.equal(p.acknowledge(), 0x23);
});

test('onOutputChange fires when INT changes; snapshot/restore round-trips both chips', () => {
  const p = new PicPair();
  let changes = 0;
  p.onOutputChange = () => changes++;
  init(p);
  const before = changes;
  p.irqLine(12).pulse();
  assert.ok(changes > before);
  const snap = JSON.parse(JSON.stringify(p.snapshot()));
  const q = new PicPair();
  q.restore(snap);
  assert.deepEqual(q.snapshot(), p.snapshot());
  assert.equal(q.acknowledge(), 0x2c);
  assert.throws(() => q.restore({ master: {}, slave: {} }), { code: 'SNAPSHOT_INVALID' });
});
