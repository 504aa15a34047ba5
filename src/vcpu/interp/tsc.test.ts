// The interpreter's TSC (tsc.ts): instruction counting without a clock (deterministic; the bench
// relies on it), the VMM's clock at a set frequency with Vm.setTscClock (KVM_SET_TSC_KHZ), and the
// IA32_TSC / IA32_TSC_ADJUST coupling of SDM Vol. 3B §18.17.3 for guest vs host-initiated writes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackendError, type Vcpu, type Vm } from '../backend.ts';
import { createInterpBackend } from './index.ts';
import { RDTSC, HLT, WRMSR, RDMSR, movEcx, movEax, movEdx } from './testing/realmode-bytes.ts';

const TSC = 0x10;
const TSC_ADJUST = 0x3b;

/** A real-mode vCPU with CS base 0 running `code` at 0x7c00; CPUID with TSC_ADJUST (7:EBX[1]). */
function realMode(code: number[], withClock?: { hz: number; now: { ns: number } }): { vm: Vm; v: Vcpu } {
  const be = createInterpBackend({ budget: 1000 });
  const vm = be.createVm();
  const mem = vm.allocateMemory(1 << 20);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: mem });
  if (withClock) {
    const now = withClock.now;
    assert.equal(vm.setTscClock!({ hz: withClock.hz, nowNs: () => now.ns }), true);
  }
  const v = vm.createVcpu(0);
  v.setCpuid(
    be.supportedCpuid().map((e) => (e.function === 7 && e.index === 0 ? { ...e, ebx: e.ebx | 2 } : e)),
  );
  new Uint8Array(mem).set(code, 0x7c00);
  const s = v.getSregs();
  v.setSregs({ ...s, cs: { ...s.cs, selector: 0, base: 0n } });
  v.setRegs({ ...v.getRegs(), rip: 0x7c00n });
  return { vm, v };
}

/** mov esi, eax; mov edi, edx */
const SAVE = [0x66, 0x89, 0xc6, 0x66, 0x89, 0xd7];

const edxEax = (v: Vcpu): bigint =>
  ((v.getRegs().rdx & 0xffffffffn) << 32n) | (v.getRegs().rax & 0xffffffffn);

test('without a TSC clock RDTSC counts retired instructions (deterministic: the bench compares the delta with the count)', () => {
  // rdtsc; mov esi,eax; mov edi,edx; nop; nop; nop; rdtsc; hlt → the second read is 6 instructions later
  const { v } = realMode([...RDTSC, ...SAVE, 0x90, 0x90, 0x90, ...RDTSC, ...HLT]);
  assert.equal(v.run().reason, 'hlt');
  const r = v.getRegs();
  assert.equal(Number(r.rax - r.rsi), 6);
  assert.equal(r.rdx, r.rdi);
});

test('with Vm.setTscClock the TSC is floor(ns * hz / 1e9) of the VMM clock on every read (RDTSC, RDMSR, KVM_GET_MSRS)', () => {
  const now = { ns: 1_500_000_123 };
  const { v } = realMode([...RDTSC, ...SAVE, ...movEcx(TSC), ...RDMSR, ...HLT], { hz: 2_000_000_000, now });
  assert.equal(v.getMsrs([TSC])[0]!.data, 3_000_000_246n);
  assert.equal(v.run().reason, 'hlt');
  const r = v.getRegs();
  assert.equal((r.rdi << 32n) | r.rsi, 3_000_000_246n, 'RDTSC');
  assert.equal(edxEax(v), 3_000_000_246n, 'RDMSR IA32_TSC: the clock did not move, neither did the TSC');
  now.ns += 1_000; // 1 µs at 2 GHz = 2000 ticks, however many instructions ran
  assert.equal(v.getMsrs([TSC])[0]!.data, 3_000_002_246n);
  now.ns = 10 * 86_400e9; // ten days: beyond 32 bits, exact
  assert.equal(v.getMsrs([TSC])[0]!.data, 1_728_000_000_000_000n);
});

test('guest WRMSR IA32_TSC moves IA32_TSC_ADJUST by the same amount and back (SDM §18.17.3); host writes do not', () => {
  const now = { ns: 1_000_000 }; // TSC 1_000_000 at 1 GHz
  // wrmsr IA32_TSC = 5_000_000; hlt; wrmsr IA32_TSC_ADJUST = 0; hlt
  const code = [
    ...movEcx(TSC),
    ...movEax(5_000_000),
    ...movEdx(0),
    ...WRMSR,
    ...HLT,
    ...movEcx(TSC_ADJUST),
    ...movEax(0),
    ...WRMSR,
    ...HLT,
  ];
  const { v } = realMode(code, { hz: 1_000_000_000, now });
  assert.equal(v.run().reason, 'hlt');
  assert.equal(v.getMsrs([TSC])[0]!.data, 5_000_000n);
  assert.equal(v.getMsrs([TSC_ADJUST])[0]!.data, 4_000_000n, 'TSC_ADJUST took the +4e6 step');
  now.ns += 500;
  assert.equal(v.getMsrs([TSC])[0]!.data, 5_000_500n, 'the TSC keeps running from the written value');
  assert.equal(v.run().reason, 'hlt');
  assert.equal(v.getMsrs([TSC_ADJUST])[0]!.data, 0n);
  assert.equal(v.getMsrs([TSC])[0]!.data, 1_000_500n, 'writing TSC_ADJUST = 0 took the 4e6 back off the TSC');
  // host-initiated (KVM_SET_MSRS): the TSC is set, TSC_ADJUST is not touched, and vice versa
  assert.equal(v.setMsrs([{ index: TSC, data: 42n }]), 1);
  assert.equal(v.getMsrs([TSC])[0]!.data, 42n);
  assert.equal(v.getMsrs([TSC_ADJUST])[0]!.data, 0n);
  assert.equal(v.setMsrs([{ index: TSC_ADJUST, data: 7n }]), 1);
  assert.equal(v.getMsrs([TSC])[0]!.data, 42n);
});

test('RDTSCP returns the TSC and IA32_TSC_AUX in ECX', () => {
  const now = { ns: 2_000 };
  const { v } = realMode([0x0f, 0x01, 0xf9, ...HLT], { hz: 3_000_000_000, now });
  v.setMsrs([{ index: 0xc0000103, data: 0x1234n }]);
  assert.equal(v.run().reason, 'hlt');
  assert.equal(edxEax(v), 6_000n);
  assert.equal(v.getRegs().rcx & 0xffffffffn, 0x1234n);
});

test('setTscClock refuses a bad frequency or clock with EINVAL', () => {
  const vm = createInterpBackend().createVm();
  for (const hz of [0, 999_999, 1.5e9 + 0.5, 2e11])
    assert.throws(
      () => vm.setTscClock!({ hz, nowNs: () => 0 }),
      (e: unknown) => e instanceof BackendError && e.code === 'EINVAL',
    );
  assert.throws(() => vm.setTscClock!({ hz: 1e9 } as never), BackendError);
});
