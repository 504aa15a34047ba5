// SMP bring-up through the machine (Intel SDM Vol. 3A §9.4.4 "MP Initialization Example"): the BSP
// sends INIT then a start-up IPI through its xAPIC ICR; the AP starts in real mode at vector << 12,
// reads its APIC ID from CPUID.1:EBX[31:24], and reports through memory; the BSP exits with it.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMachine } from './machine.ts';
import { MiB } from './layout.ts';
import type { Backend } from '../vcpu/backend.ts';
import { assemble } from '../vcpu/kvm/testing/assemble.ts';

const BSP_ORIGIN = 0x10000;
const AP_ORIGIN = 0x8000; // SIPI vector 0x08

const BSP = `
  .code32
  movl $0x01000000, 0xfee00310     # ICR high: destination APIC ID 1
  movl $0x00004500, 0xfee00300     # INIT, assert, physical
  movl $0x00004608, 0xfee00300     # start-up IPI, vector 0x08 -> 0x8000
1:
  cmpb $0x5a, 0x9000               # the AP's "I am up" flag
  jne 1b
  movl 0x9004, %eax                # the AP's CPUID.1:EBX
  shrl $24, %eax
  outb %al, $0xf4                  # debug-exit: (APIC ID << 1) | 1
  hlt
`;

const AP = `
  .code16
  xorw %ax, %ax
  movw %ax, %ds
  movl $1, %eax
  cpuid
  movl %ebx, 0x9004
  movb $0x5a, 0x9000
  cli
  hlt
`;

async function bringUp(
  backend: Backend,
  vcpus: number,
): Promise<{ exitCode?: number; detail: string; outcome: string }> {
  const bsp = assemble(BSP, BSP_ORIGIN);
  const ap = assemble(AP, AP_ORIGIN);
  if (!bsp.ok || !ap.ok)
    throw new Error(`assembly failed: ${!bsp.ok ? bsp.reason : ''} ${!ap.ok ? ap.reason : ''}`);
  const m = createMachine({
    backend,
    memoryBytes: 32 * MiB,
    cpuid: backend.supportedCpuid(),
    platform: 'pc',
    vcpus,
  });
  try {
    m.memory.write(AP_ORIGIN, ap.code);
    m.load({ kind: 'flat', image: bsp.code, address: BSP_ORIGIN, mode: 'protected32' });
    const r = await m.run({ timeoutMs: 20_000 });
    return {
      ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
      detail: r.detail,
      outcome: r.outcome,
    };
  } finally {
    m.destroy();
  }
}

test('SMP on the interpreter: the BSP starts AP 1 with INIT/SIPI; the AP runs real-mode code at the SIPI vector and reports APIC ID 1', async (t) => {
  const probe = assemble('.code16\nnop\n', 0);
  if (!probe.ok) return t.skip(probe.reason);
  const { createInterpBackend } = await import('../vcpu/interp/index.ts');
  // A small instruction budget so the spinning BSP yields the thread to the AP often.
  const r = await bringUp(createInterpBackend({ budget: 20_000 }), 2);
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(r.exitCode, (1 << 1) | 1, `AP reported APIC ID ${(r.exitCode ?? 0) >> 1}`);
});

test('SMP with one vCPU: the SIPI to a missing APIC goes nowhere; the BSP keeps spinning until the timeout', async (t) => {
  const probe = assemble('.code16\nnop\n', 0);
  if (!probe.ok) return t.skip(probe.reason);
  const { createInterpBackend } = await import('../vcpu/interp/index.ts');
  const bsp = assemble(BSP, BSP_ORIGIN);
  assert.ok(bsp.ok);
  const backend = createInterpBackend({ budget: 20_000 });
  const m = createMachine({
    backend,
    memoryBytes: 32 * MiB,
    cpuid: backend.supportedCpuid(),
    platform: 'pc',
  });
  try {
    m.load({ kind: 'flat', image: bsp.code, address: BSP_ORIGIN, mode: 'protected32' });
    const r = await m.run({ timeoutMs: 300 });
    assert.equal(r.outcome, 'timeout', r.detail);
  } finally {
    m.destroy();
  }
});

test('SMP on KVM: the same INIT/SIPI bring-up', async (t) => {
  let kvm;
  try {
    kvm = await import('../vcpu/kvm/index.ts');
  } catch (e) {
    return t.skip(`KVM backend not loadable: ${(e as Error).message}`);
  }
  const a = kvm.isKvmAvailable();
  if (!a.ok) return t.skip(`KVM unavailable: ${a.reason}`);
  const probe = assemble('.code16\nnop\n', 0);
  if (!probe.ok) return t.skip(probe.reason);
  const r = await bringUp(kvm.createKvmBackend(), 2);
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(r.exitCode, 3);
});
