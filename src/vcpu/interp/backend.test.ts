// The interpreter behind the Backend/Vm/Vcpu interface (src/vcpu/backend.ts, KVM ioctl semantics):
// register/segment round trips, refusals with BackendError codes, the interrupt window, the
// instruction budget ('intr' exits), HLT exits and string I/O exits.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendError } from '../backend.ts';
import { createInterpBackend } from './index.ts';
import { makeGuest } from './testing/harness.ts';

function vcpu() {
  const be = createInterpBackend({ budget: 1000 });
  const vm = be.createVm();
  const mem = vm.allocateMemory(1 << 20);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: mem });
  return { vm, v: vm.createVcpu(0), mem: new Uint8Array(mem) };
}

test('power-on state is real mode at F000:FFF0 and registers round-trip through get/set', () => {
  const { v } = vcpu();
  const s = v.getSregs();
  assert.equal(s.cs.selector, 0xf000);
  assert.equal(s.cs.base, 0xffff0000n);
  assert.equal(v.getRegs().rip, 0xfff0n);
  assert.equal(s.cr0, 0x60000010n);
  const r = { ...v.getRegs(), rax: 0xfedcba9876543210n, r15: 0x8000000000000001n, rip: 0x7c00n, rflags: 0x202n };
  v.setRegs(r);
  assert.deepEqual(v.getRegs(), r);
  assert.equal(v.interruptFlag(), true);
});

test('bad inputs are refused with BackendError codes, leaving the vCPU unchanged', () => {
  const { vm, v } = vcpu();
  assert.throws(() => vm.allocateMemory(-1), (e: unknown) => e instanceof BackendError && e.code === 'EINVAL');
  assert.throws(() => vm.setUserMemoryRegion({ slot: 1, guestPhysAddr: 0x1001n, memory: new ArrayBuffer(4096) }), BackendError);
  assert.throws(() => vm.createVcpu(0), (e: unknown) => e instanceof BackendError && e.code === 'EEXIST');
  assert.throws(() => v.injectInterrupt(256), (e: unknown) => e instanceof BackendError && e.code === 'EINVAL');
  const f = v.getFpu();
  assert.throws(() => v.setFpu({ ...f, xmm: new Uint8Array(3) }), BackendError);
  const before = v.getSregs();
  // long mode active without paging: KVM_SET_SREGS refuses it (spec §1.6)
  assert.throws(() => v.setSregs({ ...before, efer: 0x500n, cr0: 0x11n }), (e: unknown) => e instanceof BackendError && e.code === 'EINVAL');
  assert.deepEqual(v.getSregs(), before);
  // CPUID is frozen after the first run
  v.setRegs({ ...v.getRegs(), rip: 0xfff0n });
  v.run();
  assert.throws(() => v.setCpuid([]), (e: unknown) => e instanceof BackendError && e.code === 'EINVAL');
});

test('instruction budget gives intr exits; HLT gives hlt; FXSAVE image round-trips through get/setFpu', () => {
  const { v, mem } = vcpu();
  mem.set([0xeb, 0xfe], 0x7c00); // jmp $
  mem.set([0xf4], 0x7d00); // hlt
  v.setRegs({ ...v.getRegs(), rip: 0x7c00n });
  const s = v.getSregs();
  v.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  assert.equal(v.run().reason, 'intr');
  assert.equal(v.getRegs().rip, 0x7c00n);
  v.setRegs({ ...v.getRegs(), rip: 0x7d00n });
  assert.equal(v.run().reason, 'hlt');
  assert.equal(v.getRegs().rip, 0x7d01n);
  const f = v.getFpu();
  const xmm = new Uint8Array(256).map((_, i) => i);
  v.setFpu({ ...f, fcw: 0x27f, mxcsr: 0x1f80, xmm });
  const g = v.getFpu();
  assert.equal(g.fcw, 0x27f);
  assert.deepEqual([...g.xmm], [...xmm]);
});

test('interrupt window: irq_window_open once IF=1 outside the STI shadow', () => {
  const { v, mem } = vcpu();
  mem.set([0xfa, 0x90, 0xfb, 0x90, 0x90, 0xf4], 0x7c00); // cli; nop; sti; nop; nop; hlt
  const s = v.getSregs();
  v.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  v.setRegs({ ...v.getRegs(), rip: 0x7c00n, rflags: 2n });
  v.requestInterruptWindow(true);
  const e = v.run();
  assert.equal(e.reason, 'irq_window_open');
  assert.equal(v.getRegs().rip, 0x7c04n, 'after the instruction following STI');
  assert.equal(v.readyForInterruptInjection(), true);
});

test('REP OUTSB exits once per byte with the data, and REP INSB completes each element on the next run', () => {
  const g = makeGuest(new Uint8Array([
    0x48, 0xc7, 0xc6, 0x00, 0x00, 0x20, 0x00, // mov rsi, 0x200000
    0x48, 0xc7, 0xc1, 0x03, 0x00, 0x00, 0x00, // mov rcx, 3
    0x66, 0xba, 0xe9, 0x00, // mov dx, 0xe9
    0xf3, 0x6e, // rep outsb
    0x48, 0xc7, 0xc7, 0x00, 0x10, 0x20, 0x00, // mov rdi, 0x201000
    0x48, 0xc7, 0xc1, 0x02, 0x00, 0x00, 0x00, // mov rcx, 2
    0xf3, 0x6c, // rep insb
    0xf4,
  ]));
  g.mem.set([65, 66, 67], 0x200000);
  const { out, exit } = g.runToHalt(0x5a);
  assert.equal(exit.reason, 'hlt');
  assert.deepEqual(out, [65, 66, 67]);
  assert.deepEqual([...g.mem.subarray(0x201000, 0x201003)], [0x5a, 0x5a, 0]);
  assert.equal(g.regs().rcx, 0n);
});
