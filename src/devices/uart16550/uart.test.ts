import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ier, Iir, Lcr, Lsr, Mcr, Msr, UART_REG, Uart16550 } from './uart.ts';
import type { IrqLine } from '../device.ts';

function setup(): { uart: Uart16550; out: number[]; irq: boolean[] } {
  const out: number[] = [];
  const irq: boolean[] = [];
  const line: IrqLine = { set: (l) => irq.push(l), pulse: () => irq.push(true, false) };
  const uart = new Uart16550((b) => out.push(...b), line);
  return { uart, out, irq };
}

test('register offsets follow the 16550A map', () => {
  assert.deepEqual(UART_REG, {
    RBR_THR_DLL: 0,
    IER_DLM: 1,
    IIR_FCR: 2,
    LCR: 3,
    MCR: 4,
    LSR: 5,
    MSR: 6,
    SCR: 7,
  });
});

test('THR writes go to the sink; LSR reports THRE and TEMT after reset and after a write', () => {
  const { uart, out } = setup();
  assert.equal(uart.read(UART_REG.LSR, 1) & (Lsr.THRE | Lsr.TEMT), Lsr.THRE | Lsr.TEMT);
  for (const c of 'hi\n') uart.write(UART_REG.RBR_THR_DLL, 1, c.charCodeAt(0));
  assert.deepEqual(out, [0x68, 0x69, 0x0a]);
  assert.equal(uart.read(UART_REG.LSR, 1) & (Lsr.THRE | Lsr.TEMT | Lsr.DR), Lsr.THRE | Lsr.TEMT);
});

test('DLAB switches offsets 0/1 to the divisor latch without transmitting', () => {
  const { uart, out } = setup();
  uart.write(UART_REG.LCR, 1, Lcr.DLAB | 0x03);
  uart.write(UART_REG.RBR_THR_DLL, 1, 0x01);
  uart.write(UART_REG.IER_DLM, 1, 0x00);
  assert.equal(uart.read(UART_REG.RBR_THR_DLL, 1), 0x01);
  assert.equal(uart.read(UART_REG.IER_DLM, 1), 0x00);
  assert.deepEqual(out, []);
  uart.write(UART_REG.LCR, 1, 0x03);
  assert.equal(uart.read(UART_REG.IER_DLM, 1), 0, 'IER untouched by the DLM write');
  assert.equal(uart.read(UART_REG.LCR, 1), 0x03);
});

test('scratch register holds a byte', () => {
  const { uart } = setup();
  uart.write(UART_REG.SCR, 1, 0x5a);
  assert.equal(uart.read(UART_REG.SCR, 1), 0x5a);
});

test('THRE interrupt: raised when ETBEI is enabled with THR empty, cleared by reading IIR', () => {
  const { uart, irq } = setup();
  assert.equal(uart.read(UART_REG.IIR_FCR, 1), Iir.NONE);
  uart.write(UART_REG.IER_DLM, 1, Ier.ETBEI);
  assert.equal(uart.irqAsserted(), true);
  assert.deepEqual(irq, [true]);
  assert.equal(uart.read(UART_REG.IIR_FCR, 1), Iir.THRE);
  assert.equal(uart.irqAsserted(), false);
  assert.equal(uart.read(UART_REG.IIR_FCR, 1), Iir.NONE);
  // a transmitted byte empties THR again: a new THRE interrupt
  uart.write(UART_REG.RBR_THR_DLL, 1, 0x41);
  assert.equal(uart.irqAsserted(), true);
  assert.deepEqual(irq, [true, false, true]);
});

test('RX: data ready, RDA interrupt, reading RBR drains it, overrun sets OE', () => {
  const { uart } = setup();
  uart.write(UART_REG.IER_DLM, 1, Ier.ERBFI | Ier.ELSI);
  assert.equal(uart.receive(0x31), true);
  assert.equal(uart.read(UART_REG.LSR, 1) & Lsr.DR, Lsr.DR);
  assert.equal(uart.read(UART_REG.IIR_FCR, 1), Iir.RDA);
  assert.equal(uart.irqAsserted(), true);
  // no FIFO: a second byte overruns
  assert.equal(uart.receive(0x32), false);
  assert.equal(uart.read(UART_REG.IIR_FCR, 1), Iir.RLS, 'line status has the highest priority');
  assert.equal(uart.read(UART_REG.LSR, 1) & Lsr.OE, Lsr.OE);
  assert.equal(uart.read(UART_REG.LSR, 1) & Lsr.OE, 0, 'OE clears on read');
  assert.equal(uart.read(UART_REG.RBR_THR_DLL, 1), 0x31);
  assert.equal(uart.read(UART_REG.LSR, 1) & Lsr.DR, 0);
  assert.equal(uart.irqAsserted(), false);
});

test('FIFO: 16 bytes, trigger level, timeout indication below it, FIFO bits in IIR, clear', () => {
  const { uart } = setup();
  uart.write(UART_REG.IIR_FCR, 1, 0x01 | (1 << 6)); // enable, trigger 4
  uart.write(UART_REG.IER_DLM, 1, Ier.ERBFI);
  assert.equal(uart.rxSpace(), 16);
  uart.receive(1);
  assert.equal(uart.read(UART_REG.IIR_FCR, 1), Iir.TIMEOUT | Iir.FIFO_ENABLED);
  uart.receive(2);
  uart.receive(3);
  uart.receive(4);
  assert.equal(uart.read(UART_REG.IIR_FCR, 1), Iir.RDA | Iir.FIFO_ENABLED);
  for (let i = 5; i <= 16; i++) assert.equal(uart.receive(i), true);
  assert.equal(uart.receive(17), false, 'the 17th byte overruns');
  const got: number[] = [];
  while (uart.read(UART_REG.LSR, 1) & Lsr.DR) got.push(uart.read(UART_REG.RBR_THR_DLL, 1));
  assert.deepEqual(
    got,
    Array.from({ length: 16 }, (_, i) => i + 1),
  );
  uart.receive(9);
  uart.write(UART_REG.IIR_FCR, 1, 0x01 | 0x02); // clear RX FIFO
  assert.equal(uart.read(UART_REG.LSR, 1) & Lsr.DR, 0);
});

test('loopback: THR → RBR, MSR mirrors MCR outputs', () => {
  const { uart, out } = setup();
  uart.write(UART_REG.MCR, 1, Mcr.LOOP | Mcr.RTS | Mcr.OUT2);
  uart.write(UART_REG.RBR_THR_DLL, 1, 0xae);
  assert.deepEqual(out, []);
  assert.equal(uart.read(UART_REG.RBR_THR_DLL, 1), 0xae);
  const msr = uart.read(UART_REG.MSR, 1);
  assert.equal(msr & 0xf0, Msr.CTS | Msr.DCD);
  assert.equal(uart.read(UART_REG.MSR, 1) & 0x0f, 0, 'delta bits clear on read');
  uart.write(UART_REG.MCR, 1, 0);
  assert.equal(
    uart.read(UART_REG.MSR, 1) & 0xf0,
    Msr.CTS | Msr.DSR | Msr.DCD,
    'out of loopback: carrier, DSR, CTS present',
  );
});

test('snapshot/restore round-trip keeps registers and RX data; bad snapshots are refused', () => {
  const { uart } = setup();
  uart.write(UART_REG.IIR_FCR, 1, 0x01);
  uart.write(UART_REG.LCR, 1, 0x1b);
  uart.write(UART_REG.SCR, 1, 0x77);
  uart.write(UART_REG.IER_DLM, 1, Ier.ERBFI);
  uart.receive(0x10);
  uart.receive(0x20);
  const snap = JSON.parse(JSON.stringify(uart.snapshot()));
  const { uart: b } = setup();
  b.restore(snap);
  assert.deepEqual(b.snapshot(), uart.snapshot());
  assert.equal(b.irqAsserted(), true);
  assert.equal(b.read(UART_REG.RBR_THR_DLL, 1), 0x10);
  assert.equal(b.read(UART_REG.RBR_THR_DLL, 1), 0x20);
  assert.throws(() => b.restore({ ier: 1 }), { code: 'SNAPSHOT_INVALID' });
  assert.throws(() => b.restore(null), { code: 'SNAPSHOT_INVALID' });
});

test('reset returns to the power-on state', () => {
  const { uart } = setup();
  uart.write(UART_REG.IER_DLM, 1, 0x0f);
  uart.write(UART_REG.LCR, 1, 0x83);
  uart.receive(1);
  uart.reset();
  assert.equal(uart.read(UART_REG.IER_DLM, 1), 0);
  assert.equal(uart.read(UART_REG.LCR, 1), 0);
  assert.equal(uart.read(UART_REG.LSR, 1), Lsr.THRE | Lsr.TEMT);
  assert.equal(uart.irqAsserted(), false);
});
