// decodeExit over synthetic kvm_run pages: every exit kind the backend maps, and the emulation
// failure with instruction bytes (how PVM's "emulation failure" must surface).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeExit, kvmExitName } from './exit.ts';
import { KvmExit, KvmInternalError } from './ioctls.ts';
import { KvmRun } from './layout.ts';

function page(reason: number): { run: ArrayBuffer; dv: DataView } {
  const run = new ArrayBuffer(4096);
  const dv = new DataView(run);
  dv.setUint32(KvmRun.exit_reason, reason, true);
  return { run, dv };
}

test('KVM_EXIT_IO: direction, port, size, count and a data view at data_offset', () => {
  const { run, dv } = page(KvmExit.IO);
  dv.setUint8(KvmRun.io_direction, 1);
  dv.setUint8(KvmRun.io_size, 2);
  dv.setUint16(KvmRun.io_port, 0x3f8, true);
  dv.setUint32(KvmRun.io_count, 3, true);
  dv.setBigUint64(KvmRun.io_data_offset, 0x1000n - 0x800n, true);
  new Uint8Array(run, 0x800, 6).set([1, 2, 3, 4, 5, 6]);
  const e = decodeExit(run, dv);
  assert.equal(e.reason, 'io');
  if (e.reason !== 'io') return;
  assert.deepEqual([e.direction, e.port, e.size, e.count], ['out', 0x3f8, 2, 3]);
  assert.deepEqual([...e.data], [1, 2, 3, 4, 5, 6]);
  e.data[0] = 0x99; // the view aliases kvm_run, as IN data must
  assert.equal(new Uint8Array(run)[0x800], 0x99);
});

test('KVM_EXIT_IO with a bad size or an out-of-page data_offset is not trusted', () => {
  const { run, dv } = page(KvmExit.IO);
  dv.setUint8(KvmRun.io_size, 3);
  dv.setUint32(KvmRun.io_count, 1, true);
  const e = decodeExit(run, dv);
  assert.equal(e.reason, 'internal_error');
  dv.setUint8(KvmRun.io_size, 4);
  dv.setBigUint64(KvmRun.io_data_offset, 4094n, true);
  assert.equal(decodeExit(run, dv).reason, 'internal_error');
});

test('KVM_EXIT_MMIO, HLT, SHUTDOWN, FAIL_ENTRY, DEBUG, INTR, IRQ_WINDOW_OPEN, UNKNOWN', () => {
  let { run, dv } = page(KvmExit.MMIO);
  dv.setBigUint64(KvmRun.mmio_phys_addr, 0xfee00030n, true);
  dv.setUint32(KvmRun.mmio_len, 4, true);
  dv.setUint8(KvmRun.mmio_is_write, 1);
  new Uint8Array(run, KvmRun.mmio_data, 4).set([0xaa, 0xbb, 0xcc, 0xdd]);
  const m = decodeExit(run, dv);
  assert.ok(m.reason === 'mmio' && m.physAddr === 0xfee00030n && m.isWrite && m.len === 4);
  if (m.reason === 'mmio') assert.deepEqual([...m.data], [0xaa, 0xbb, 0xcc, 0xdd]);
  assert.deepEqual(decodeExit(...(Object.values(page(KvmExit.HLT)) as [ArrayBuffer, DataView])), {
    reason: 'hlt',
  });
  assert.equal(
    decodeExit(...(Object.values(page(KvmExit.SHUTDOWN)) as [ArrayBuffer, DataView])).reason,
    'shutdown',
  );
  ({ run, dv } = page(KvmExit.FAIL_ENTRY));
  dv.setBigUint64(KvmRun.fail_entry_hardware_entry_failure_reason, 0x80000021n, true);
  dv.setUint32(KvmRun.fail_entry_cpu, 3, true);
  assert.deepEqual(decodeExit(run, dv), {
    reason: 'fail_entry',
    hardwareEntryFailureReason: 0x80000021n,
    cpu: 3,
  });
  ({ run, dv } = page(KvmExit.DEBUG));
  dv.setUint32(KvmRun.debug_exception, 1, true);
  dv.setBigUint64(KvmRun.debug_pc, 0x1000n, true);
  dv.setBigUint64(KvmRun.debug_dr6, 0xffff0ff0n, true);
  dv.setBigUint64(KvmRun.debug_dr7, 0x400n, true);
  assert.deepEqual(decodeExit(run, dv), {
    reason: 'debug',
    exception: 1,
    pc: 0x1000n,
    dr6: 0xffff0ff0n,
    dr7: 0x400n,
  });
  assert.deepEqual(decodeExit(...(Object.values(page(KvmExit.INTR)) as [ArrayBuffer, DataView])), {
    reason: 'intr',
  });
  assert.deepEqual(decodeExit(...(Object.values(page(KvmExit.IRQ_WINDOW_OPEN)) as [ArrayBuffer, DataView])), {
    reason: 'irq_window_open',
  });
  ({ run, dv } = page(KvmExit.UNKNOWN));
  dv.setBigUint64(KvmRun.hw_hardware_exit_reason, 0x7bn, true);
  assert.deepEqual(decodeExit(run, dv), { reason: 'unknown', hardwareExitReason: 0x7bn });
});

test('emulation failure carries the instruction bytes (KVM_INTERNAL_ERROR_EMULATION, flags bit 0)', () => {
  const { run, dv } = page(KvmExit.INTERNAL_ERROR);
  dv.setUint32(KvmRun.internal_suberror, KvmInternalError.EMULATION, true);
  dv.setUint32(KvmRun.internal_ndata, 4, true);
  dv.setBigUint64(KvmRun.emulation_failure_flags, 1n, true);
  dv.setUint8(KvmRun.emulation_failure_insn_size, 3);
  new Uint8Array(run, KvmRun.emulation_failure_insn_bytes, 3).set([0x0f, 0x01, 0xca]);
  dv.setBigUint64(KvmRun.internal_data + 24, 0x1000n, true);
  const e = decodeExit(run, dv);
  assert.equal(e.reason, 'internal_error');
  if (e.reason !== 'internal_error') return;
  assert.equal(e.suberror, 1);
  assert.deepEqual([...(e.insnBytes ?? [])], [0x0f, 0x01, 0xca]);
  assert.equal(e.data.length, 4);
  assert.equal(e.data[3], 0x1000n);
  assert.match(e.message ?? '', /emulation failure.*0f 01 ca/);
  // without the flag there are no instruction bytes
  dv.setBigUint64(KvmRun.emulation_failure_flags, 0n, true);
  const e2 = decodeExit(run, dv);
  assert.ok(e2.reason === 'internal_error' && e2.insnBytes === undefined);
});

test('SYSTEM_EVENT flags, and exit reasons without a union member', () => {
  let { run, dv } = page(KvmExit.SYSTEM_EVENT);
  dv.setUint32(KvmRun.system_event_type, 2, true);
  dv.setUint32(KvmRun.system_event_ndata, 2, true);
  dv.setBigUint64(KvmRun.system_event_data, 5n, true);
  dv.setBigUint64(KvmRun.system_event_data + 8, 6n, true);
  assert.deepEqual(decodeExit(run, dv), { reason: 'system_event', type: 2, flags: [5n, 6n] });
  ({ run, dv } = page(KvmExit.HYPERCALL));
  const e = decodeExit(run, dv);
  assert.ok(e.reason === 'internal_error' && e.suberror === KvmInternalError.UNEXPECTED_EXIT_REASON);
  if (e.reason === 'internal_error') {
    assert.deepEqual(e.data, [3n]);
    assert.match(e.message ?? '', /KVM_EXIT_HYPERCALL/);
  }
  assert.equal(kvmExitName(9999), 'KVM_EXIT_9999');
});

test('X86_RDMSR / X86_WRMSR decode to x86_rdmsr / x86_wrmsr (index; WRMSR data)', () => {
  let { run, dv } = page(KvmExit.X86_RDMSR);
  dv.setUint32(KvmRun.msr_index, 0x802, true);
  dv.setBigUint64(KvmRun.msr_data, 0xdeadn, true);
  assert.deepEqual(decodeExit(run, dv), { reason: 'x86_rdmsr', index: 0x802, data: 0n, error: false });
  ({ run, dv } = page(KvmExit.X86_WRMSR));
  dv.setUint32(KvmRun.msr_index, 0x6e0, true);
  dv.setBigUint64(KvmRun.msr_data, 0x123456789abcdefn, true);
  assert.deepEqual(decodeExit(run, dv), {
    reason: 'x86_wrmsr',
    index: 0x6e0,
    data: 0x123456789abcdefn,
    error: false,
  });
});
