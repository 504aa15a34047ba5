// Userspace MSR exits on the interpreter (msr-exit.ts; Vm.setUserspaceMsrs, KVM_EXIT_X86_RDMSR/WRMSR
// semantics of Linux api.rst): claimed indices leave run() with RIP at the instruction and are
// completed on the next run() — data to EDX:EAX and RIP past it, or #GP(0) when the VMM says error.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendError, type Vcpu, type VcpuExit, type Vm } from '../backend.ts';
import { createInterpBackend } from './index.ts';
import { HLT, WRMSR, RDMSR, movEcx, movEax, movEdx } from './testing/realmode-bytes.ts';


/** Real mode, CS base 0, code at 0x7c00; the #GP vector (IVT entry 13) points at 0x0000:0x9000 (hlt). */
function realMode(code: number[]): { vm: Vm; v: Vcpu; mem: Uint8Array } {
  const vm = createInterpBackend({ budget: 1000 }).createVm();
  const buf = vm.allocateMemory(1 << 20);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: buf });
  const mem = new Uint8Array(buf);
  mem.set(code, 0x7c00);
  mem.set(HLT, 0x9000);
  new DataView(buf).setUint32(13 * 4, 0x9000, true); // IVT[13] = 0000:9000
  const v = vm.createVcpu(0);
  const s = v.getSregs();
  v.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  v.setRegs({ ...v.getRegs(), rip: 0x7c00n, rsp: 0x7000n });
  return { vm, v, mem };
}

type MsrExit = Extract<VcpuExit, { reason: 'x86_rdmsr' | 'x86_wrmsr' }>;

test('RDMSR of a claimed index exits with RIP at the instruction; the VMM data lands in EDX:EAX and RIP moves on', () => {
  // mov ecx, 0x802; rdmsr; hlt
  const { vm, v } = realMode([...movEcx(0x802), ...RDMSR, ...HLT]);
  assert.equal(
    vm.setUserspaceMsrs!([
      { base: 0x800, count: 0x100 },
      { base: 0x6e0, count: 1 },
    ]),
    true,
  );
  const x = v.run() as MsrExit;
  assert.equal(x.reason, 'x86_rdmsr');
  assert.equal(x.index, 0x802);
  assert.equal(x.error, false);
  assert.equal(v.getRegs().rip, 0x7c06n, 'RIP still at the RDMSR');
  x.data = 0x1122334455667788n;
  assert.equal(v.run().reason, 'hlt');
  const r = v.getRegs();
  assert.equal(r.rax, 0x55667788n);
  assert.equal(r.rdx, 0x11223344n);
  assert.equal(r.rip, 0x7c09n, 'past the RDMSR and the HLT');
});

test('WRMSR of a claimed index exits with EDX:EAX as data and completes on the next run', () => {
  const { vm, v } = realMode([
    ...movEcx(0x6e0),
    ...movEax(0x89abcdef),
    ...movEdx(0x01234567),
    ...WRMSR,
    ...HLT,
  ]);
  vm.setUserspaceMsrs!([{ base: 0x6e0, count: 1 }]);
  const x = v.run() as MsrExit;
  assert.equal(x.reason, 'x86_wrmsr');
  assert.equal(x.index, 0x6e0);
  assert.equal(x.data, 0x0123456789abcdefn);
  assert.equal(v.getRegs().rip, 0x7c12n);
  assert.equal(v.run().reason, 'hlt');
  assert.equal(v.getRegs().rip, 0x7c15n);
  // the vCPU's own MSR store never saw the write (the VMM owns the index, as with a KVM filter)
  assert.notEqual(v.getMsrs([0x6e0])[0]?.data, 0x0123456789abcdefn);
});

test('error = true from the VMM raises #GP(0) at the RDMSR/WRMSR', () => {
  const { vm, v } = realMode([...movEcx(0x8ff), ...RDMSR, ...HLT]);
  vm.setUserspaceMsrs!([{ base: 0x800, count: 0x100 }]);
  const x = v.run() as MsrExit;
  assert.equal(x.reason, 'x86_rdmsr');
  x.error = true;
  assert.equal(v.run().reason, 'hlt');
  const r = v.getRegs();
  assert.equal(r.rip, 0x9001n, 'the #GP handler (IVT[13]) ran');
  assert.equal(r.rax & 0xffffn, 0n, 'EAX untouched');
});

test('unclaimed indices run as before; vCPUs created later inherit the claim; an empty list releases it', () => {
  // mov ecx, 0x10; rdmsr (IA32_TSC, not claimed); mov ecx, 0x6e0; rdmsr; hlt
  const code = [...movEcx(0x10), ...RDMSR, ...movEcx(0x6e0), ...RDMSR, ...HLT];
  const { vm, v } = realMode(code);
  vm.setUserspaceMsrs!([{ base: 0x6e0, count: 1 }]);
  const x = v.run() as MsrExit;
  assert.equal(x.reason, 'x86_rdmsr');
  assert.equal(x.index, 0x6e0, 'the IA32_TSC read did not exit');
  x.data = 5n;
  assert.equal(v.run().reason, 'hlt');
  assert.equal(v.getRegs().rax, 5n);
  const v1 = vm.createVcpu(1);
  const s = v1.getSregs();
  v1.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  v1.setRegs({ ...v1.getRegs(), rip: 0x7c00n });
  assert.equal(v1.run().reason, 'x86_rdmsr', 'the new vCPU exits too');
  vm.setUserspaceMsrs!([]);
  v.setRegs({ ...v.getRegs(), rip: 0x7c00n });
  const e = v.run();
  assert.notEqual(e.reason, 'x86_rdmsr');
});

test('setUserspaceMsrs refuses malformed ranges with EINVAL', () => {
  const vm = createInterpBackend().createVm();
  const bad = [
    [{ base: -1, count: 1 }],
    [{ base: 0x800, count: 0 }],
    [{ base: 0xffffffff, count: 2 }],
    [{ base: 1.5, count: 1 }],
    Array.from({ length: 17 }, (_, i) => ({ base: i, count: 1 })),
  ];
  for (const r of bad)
    assert.throws(
      () => vm.setUserspaceMsrs!(r),
      (e: unknown) => e instanceof BackendError && e.code === 'EINVAL',
    );
});
