// x2APIC and the TSC-deadline timer end to end on the pc platform: a real-mode guest on a real backend
// switches its local APIC to x2APIC mode through IA32_APIC_BASE (SDM Vol. 3A §11.12.1), reads its
// version and ID through the x2APIC MSRs, programs the LVT timer in TSC-deadline mode (§11.5.4.1),
// arms IA32_TSC_DEADLINE 100 ms ahead of RDTSC and halts; the timer interrupt's handler EOIs through
// MSR 0x80B and reports over the debug-exit port. Every MSR goes through the backend's userspace
// MSR exits (Vm.setUserspaceMsrs) to the machine's LocalApic; the TSC follows the machine clock
// (Vm.setTscClock), so the deadline converts to clock time. KVM runs the same guest where it can.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMachine } from './machine.ts';
import { ManualClock } from './clock.ts';
import { MiB } from './layout.ts';
import type { Backend } from '../vcpu/backend.ts';
import type { CpuidEntry } from '../arch/x86/cpuid/table.ts';
import { tscHzFromLeaf15 } from '../platform/tsc.ts';

const LOAD = 0x8000; // CS = 0x800, IP = 0
const HANDLER_IP = 0x100;
const VECTOR = 0x40;
/** the guest arms IA32_TSC_DEADLINE this far after its RDTSC (100 ms at 2 GHz: far more than the
 *  real time the guest needs to read it back, even on a loaded host) */
const DEADLINE_TICKS = 200_000_000;

const d32 = (n: number): number[] => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24];
const movEcx = (n: number): number[] => [0x66, 0xb9, ...d32(n)];
const movEax = (n: number): number[] => [0x66, 0xb8, ...d32(n)];
const RDMSR = [0x0f, 0x32];
const WRMSR = [0x0f, 0x30];
const XOR_EDX = [0x66, 0x31, 0xd2];
const XOR_EAX = [0x66, 0x31, 0xc0];

/**
 * The guest. timer 'deadline': LVT timer in TSC-deadline mode, IA32_TSC_DEADLINE = RDTSC + 2e8 (100 ms
 * at 2 GHz); 'oneshot': one-shot mode through the x2APIC divide (0x83E) and initial-count (0x838)
 * MSRs, 1e6 bus cycles (1 ms).
 */
function guest(timer: 'deadline' | 'oneshot', tscWrite?: number): Uint8Array {
  // prettier-ignore
  const arm = timer === 'deadline' ? [
    ...movEcx(0x832), ...movEax(VECTOR | (2 << 17)), ...WRMSR, //      LVT timer: TSC-deadline, vector
    0x0f, 0x31, 0x66, 0x05, ...d32(DEADLINE_TICKS), 0x66, 0x83, 0xd2, 0x00, // rdtsc; add eax,2e8; adc edx,0
    0x66, 0x89, 0xc5, //                                               ebp = deadline (low half)
    ...movEcx(0x6e0), ...WRMSR, //                                     IA32_TSC_DEADLINE
    ...movEcx(0x6e0), ...RDMSR, 0x66, 0x89, 0xc3, //                    ebx = the armed deadline
  ] : [
    ...movEcx(0x832), ...movEax(VECTOR), ...WRMSR, //                  LVT timer: one-shot, vector
    ...movEcx(0x83e), ...movEax(0xb), ...WRMSR, //                     divide by 1
    ...movEcx(0x838), ...movEax(1_000_000), ...WRMSR, //               initial count
    ...movEcx(0x838), ...RDMSR, 0x66, 0x89, 0xc3, //                    ebx = initial count read back
  ];
  // optionally move the TSC first (WRMSR IA32_TSC = tscWrite << 32): deadlines stay relative to it
  const moveTsc =
    tscWrite === undefined ? [] : [...movEcx(0x10), ...XOR_EAX, 0x66, 0xba, ...d32(tscWrite), ...WRMSR];
  // prettier-ignore
  const main = [
    ...moveTsc,
    ...movEcx(0x1b), ...RDMSR, 0x66, 0x0d, ...d32(0x400), ...WRMSR, // IA32_APIC_BASE |= EXTD
    ...movEcx(0x803), ...RDMSR, 0x66, 0x89, 0xc6, //                    esi = x2APIC version
    ...movEcx(0x802), ...RDMSR, 0x66, 0x89, 0xc7, //                    edi = x2APIC ID
    ...movEcx(0x80f), ...movEax(0x1ff), ...XOR_EDX, ...WRMSR, //       SVR: APIC on, spurious 0xFF
    ...arm,
    0xfb, 0xf4, 0xeb, 0xfd, //                                         sti; hlt; jmp hlt
  ];
  // prettier-ignore
  const handler = [
    ...movEcx(0x80b), ...XOR_EAX, ...XOR_EDX, ...WRMSR, //            EOI
    ...movEcx(0x6e0), ...RDMSR, 0x66, 0x89, 0xc1, //                    ecx = deadline after firing (0)
    0xb0, 0x21, 0xe6, 0xf4, 0xf4, //                                   debug-exit 0x21; hlt
  ];
  const img = new Uint8Array(HANDLER_IP + handler.length);
  img.set(main, 0);
  img.set(handler, HANDLER_IP);
  return img;
}

/** The backend's CPUID with x2APIC and TSC-deadline asked for (the machine keeps them only if it can). */
function cpuidWithApicFeatures(backend: Backend): CpuidEntry[] {
  return backend
    .supportedCpuid()
    .map((e) => (e.function === 1 ? { ...e, ecx: (e.ecx | (1 << 21) | (1 << 24)) >>> 0 } : e));
}

async function runGuest(
  backend: Backend,
  timer: 'deadline' | 'oneshot',
  tscWrite?: number,
  clock = new ManualClock(),
) {
  const m = createMachine({
    backend,
    memoryBytes: 64 * MiB,
    cpuid: cpuidWithApicFeatures(backend),
    platform: 'pc',
    clock,
    rtcEpochSec: 1_700_000_000,
  });
  try {
    m.load({ kind: 'flat', image: guest(timer, tscWrite), address: LOAD, mode: 'real16' });
    // IVT[VECTOR] = 0800:0100; mask the 8259s' path by leaving them uninitialised (no IRQs raised)
    const ivt = new Uint8Array(4);
    new DataView(ivt.buffer).setUint32(0, ((LOAD >> 4) << 16) | HANDLER_IP, true);
    m.memory.write(VECTOR * 4, ivt);
    const r = await m.run({ timeoutMs: 1000 });
    return { m, r, regs: m.vcpu.getRegs(), cpuid: m.vcpu.getCpuid(), firedNs: clock.nowNs() };
  } finally {
    m.destroy();
  }
}

test('interpreter on the pc platform: x2APIC MSRs and a TSC-deadline timer interrupt through userspace MSR exits', async () => {
  const { createInterpBackend } = await import('../vcpu/interp/index.ts');
  const { r, regs, cpuid, firedNs } = await runGuest(createInterpBackend({ budget: 10_000 }), 'deadline');
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(r.exitCode, (0x21 << 1) | 1);
  assert.equal(regs.rsi & 0xffn, 0x14n, 'x2APIC version register (0x803)');
  assert.equal(regs.rdi, 0n, 'x2APIC ID of vCPU 0 (0x802)');
  assert.equal(regs.rbx, regs.rbp, 'IA32_TSC_DEADLINE reads back the armed deadline');
  assert.equal(regs.rcx & 0xffffffffn, 0n, 'and 0 once it fired');
  assert.ok(
    firedNs >= 100_000_000 && firedNs < 101_000_000,
    `the interrupt came at ${firedNs} ns, not at the 100 ms deadline`,
  );
  const l1 = cpuid.find((e) => e.function === 1)!;
  assert.equal((l1.ecx >>> 21) & 1, 1, 'x2APIC offered');
  assert.equal((l1.ecx >>> 24) & 1, 1, 'TSC-deadline offered');
  const l15 = cpuid.find((e) => e.function === 0x15)!;
  assert.equal(tscHzFromLeaf15(l15), 2_000_000_000, 'CPUID 0x15 states the 2 GHz TSC');
  assert.equal(cpuid.find((e) => e.function === 0x40000010)?.eax, 2_000_000, '0x40000010 EAX = TSC kHz');
});

test('interpreter: a guest that moved its TSC (WRMSR IA32_TSC) still gets its deadline 100 ms later', async () => {
  const { createInterpBackend } = await import('../vcpu/interp/index.ts');
  const { r, regs, firedNs } = await runGuest(createInterpBackend({ budget: 10_000 }), 'deadline', 0x1234);
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(regs.rbx, regs.rbp);
  assert.ok(
    firedNs >= 100_000_000 && firedNs < 101_000_000,
    `the interrupt came at ${firedNs} ns: the deadline was not taken relative to the moved TSC`,
  );
});

test('KVM on the pc platform: x2APIC MSRs, a one-shot and a TSC-deadline timer interrupt through the MSR filter / userspace MSR exits', async (t) => {
  let backend: Backend;
  try {
    const kvm = await import('../vcpu/kvm/index.ts');
    const a = kvm.isKvmAvailable();
    if (!a.ok) return t.skip(`KVM unavailable: ${a.reason}`);
    backend = kvm.createKvmBackend();
  } catch (e) {
    return t.skip(`KVM backend not loadable: ${(e as Error).message}`);
  }
  const vm = backend.createVm();
  const can = typeof vm.setUserspaceMsrs === 'function';
  vm.destroy();
  if (!can) return t.skip('this KVM backend has no Vm.setUserspaceMsrs');
  const { r, regs, cpuid, firedNs } = await runGuest(backend, 'oneshot');
  const l1 = cpuid.find((e) => e.function === 1)!;
  if (((l1.ecx >>> 21) & 1) === 0)
    return t.skip('KVM refused KVM_CAP_X86_USER_SPACE_MSR / the MSR filter here');
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(regs.rsi & 0xffn, 0x14n, 'x2APIC version register (0x803) from the machine LAPIC');
  assert.equal(regs.rdi, 0n, 'x2APIC ID (0x802)');
  assert.equal(regs.rbx & 0xffffffffn, 1_000_000n, 'initial count (0x838) read back');
  assert.ok(firedNs >= 1_000_000, `the one-shot timer fired at ${firedNs} ns, not before 1 ms`);
  // KVM runs the host TSC (no Vm.setTscClock); with its rate from KVM_GET_TSC_KHZ the machine converts
  // each deadline relative to the vCPU's IA32_TSC at the write, so TSC-deadline is offered
  const probe = backend.createVm();
  const hz = probe.createVcpu(0).guestTscHz?.();
  probe.destroy();
  if (hz === undefined) {
    assert.equal((l1.ecx >>> 24) & 1, 0, 'TSC-deadline hidden: KVM_GET_TSC_KHZ failed here');
    return;
  }
  assert.equal((l1.ecx >>> 24) & 1, 1, 'TSC-deadline offered');
  assert.equal(cpuid.find((e) => e.function === 0x40000010)?.eax, hz / 1000, '0x40000010 EAX = TSC kHz');
  const d = await runGuest(backend, 'deadline');
  assert.equal(d.r.outcome, 'debug-exit', d.r.detail);
  assert.equal(d.regs.rbx, d.regs.rbp, 'IA32_TSC_DEADLINE reads back the armed deadline');
  assert.equal(d.regs.rcx & 0xffffffffn, 0n, 'and 0 once it fired');
  // DEADLINE_TICKS after the guest's RDTSC, minus the real time until the machine saw the write (so no
  // lower bound: a loaded host may take longer than that); a conversion at the wrong rate or from the
  // wrong origin would land far later
  const expectNs = (DEADLINE_TICKS / hz) * 1e9;
  assert.ok(
    d.firedNs <= expectNs + 1,
    `the deadline fired ${d.firedNs} ns after the write, expected at most ${expectNs.toFixed(0)} ns`,
  );
});
