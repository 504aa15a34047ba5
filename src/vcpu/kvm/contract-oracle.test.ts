// The KVM backend with the real contract (src/contract) as its oracle: refusals carry the contract's
// reason, and where KVM does something else the disagreement is logged (on PVM: CR4 bits that do
// not follow the guest CPUID, pvm-deviations.ts 'cr4-not-gated-by-guest-cpuid').

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import { BackendError } from '../backend.ts';
import { createKvmBackend } from './system.ts';
import { contractOracle } from './contract-oracle.ts';
import { describeDisagreement } from './oracle.ts';
import { enterMode } from './testing/guest-setup.ts';
import { isPvm, kvmSkip } from './testing/host.ts';

const CR4_SMXE = 1n << 14n;
const CR4_SMEP = 1n << 20n;

function minimal(supported: readonly CpuidEntry[]): CpuidEntry[] {
  return supported
    .filter((e) => [0, 1, 0x80000000, 0x80000001, 0x80000008].includes(e.function))
    .map((e) =>
      e.function === 1
        ? { ...e, ecx: 0, edx: 0x41 }
        : e.function === 0x80000001
          ? { ...e, ecx: 0, edx: 1 << 29 }
          : e,
    );
}

test('contractOracle predicts with src/contract: SMXE refused with the contract reason, a plain long-mode state accepted', () => {
  const o = contractOracle();
  const supported: CpuidEntry[] = [
    { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 },
    { function: 1, index: 0, flags: 0, eax: 0xa00f11, ebx: 0, ecx: 0, edx: 0x078bfbff },
    { function: 0x80000000, index: 0, flags: 0, eax: 0x80000001, ebx: 0, ecx: 0, edx: 0 },
    { function: 0x80000001, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 1 << 29 },
  ];
  const seg = {
    base: 0n,
    limit: 0xffffffff,
    selector: 8,
    type: 11,
    present: true,
    dpl: 0,
    db: false,
    s: true,
    l: true,
    g: true,
    avl: false,
    unusable: false,
  };
  const sregs = {
    cs: seg,
    ds: seg,
    es: seg,
    fs: seg,
    gs: seg,
    ss: seg,
    tr: seg,
    ldt: seg,
    gdt: { base: 0n, limit: 0 },
    idt: { base: 0n, limit: 0 },
    cr0: 0x80000011n,
    cr2: 0n,
    cr3: 0x9000n,
    cr4: 0x20n,
    cr8: 0n,
    efer: 0x500n,
    apicBase: 0xfee00900n,
    pendingInterrupt: -1,
  };
  const ctx = { cpuid: supported, hasRun: false, sregs: () => sregs, xcr0: () => 1n, msr: () => undefined };
  assert.deepEqual(o.predictSetSregs(ctx, sregs), { ok: true });
  const p = o.predictSetSregs(ctx, { ...sregs, cr4: sregs.cr4 | CR4_SMXE });
  assert.ok(!p.ok && /SMXE/.test(p.reason), JSON.stringify(p));
});

test(
  'KVM backend (default observe mode): refusal reason from the contract; disagreements logged',
  { skip: kvmSkip },
  (t) => {
    const be = createKvmBackend();
    const vm = be.createVm();
    try {
      const mem = vm.allocateMemory(0x100000);
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: mem });
      const v = vm.createVcpu(0);
      v.setCpuid(minimal(be.supportedCpuid()));
      const base = enterMode(v, mem, 'long64', 0x1000);
      assert.equal(be.oracle?.log.length, 0, 'entering long mode is legal for both');
      assert.throws(
        () => v.setSregs({ ...base, cr4: base.cr4 | CR4_SMXE }),
        (e: unknown) => e instanceof BackendError && e.code === 'EINVAL' && /SMXE/.test(e.reason ?? ''),
      );
      assert.equal(be.oracle?.log.length, 0, 'both refused SMXE');
      let kvmAccepted = true;
      try {
        v.setSregs({ ...base, cr4: base.cr4 | CR4_SMEP });
      } catch (e) {
        kvmAccepted = false;
        assert.ok(
          e instanceof BackendError && /SMEP/.test(e.reason ?? ''),
          'refused with the contract reason',
        );
      }
      assert.equal(kvmAccepted, isPvm, 'PVM accepts SMEP without it in the guest CPUID; KVM proper refuses');
      const log = be.oracle?.log ?? [];
      assert.equal(log.length, kvmAccepted ? 1 : 0);
      for (const d of log) t.diagnostic(describeDisagreement(d));
    } finally {
      vm.destroy();
      be.close();
    }
  },
);

test(
  'KVM backend probes whether KVM_SET_SREGS validates EFER, so the oracle predicts this kernel (spec §1.6)',
  { skip: kvmSkip },
  () => {
    const be = createKvmBackend();
    const vm = be.createVm();
    try {
      const mem = vm.allocateMemory(0x100000);
      vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: mem });
      const v = vm.createVcpu(0);
      v.setCpuid(minimal(be.supportedCpuid()));
      const base = enterMode(v, mem, 'long64', 0x1000);
      const TCE = 1n << 15n; // reserved under every KVM (spec §3.1)
      let kvmAccepted = true;
      try {
        v.setSregs({ ...base, efer: base.efer | TCE });
      } catch (e) {
        kvmAccepted = false;
        assert.ok(e instanceof BackendError && e.code === 'EINVAL');
      }
      // whichever this kernel does, the probed oracle predicted it: no disagreement is logged
      assert.deepEqual(
        (be.oracle?.log ?? []).map((d) => d.input),
        [],
        `KVM ${kvmAccepted ? 'accepted' : 'refused'} EFER.TCE and the oracle agreed`,
      );
    } finally {
      vm.destroy();
      be.close();
    }
  },
);
