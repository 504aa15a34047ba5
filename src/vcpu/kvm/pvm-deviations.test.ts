// Re-runs every recorded PVM deviation (pvm-deviations.ts) on a kvm_pvm host, so the data stays true
// to the machine; elsewhere only the shape of the data is checked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import { createKvmBackend, type KvmBackend } from './system.ts';
import { PVM_DEVIATIONS, type GuestProbe } from './pvm-deviations.ts';
import { enterMode } from './testing/guest-setup.ts';
import { runGuest, runToExit, summarize } from './testing/guest.ts';
import { pvmSkip } from './testing/host.ts';

let shared: KvmBackend | undefined;
const backend = (): KvmBackend => (shared ??= createKvmBackend());

function patchCpuid(base: readonly CpuidEntry[], set: GuestProbe['cpuidSet']): CpuidEntry[] {
  return base.map((e) => {
    let out = e;
    for (const [fn, index, reg, bits] of set ?? []) {
      if (e.function === fn && e.index === index) out = { ...out, [reg]: (out[reg] | bits) >>> 0 };
    }
    return out;
  });
}

/** Leaves 0, 1 (ECX=0, EDX=FPU|PAE), 0x8000000x with LM: the least a long-mode guest needs. */
function minimalCpuid(be: KvmBackend): CpuidEntry[] {
  return be
    .supportedCpuid()
    .filter((e) => [0, 1, 0x80000000, 0x80000001, 0x80000008].includes(e.function))
    .map((e) =>
      e.function === 1
        ? { ...e, ecx: 0, edx: 0x41 }
        : e.function === 0x80000001
          ? { ...e, ecx: 0, edx: 1 << 29 }
          : e,
    );
}

function withVcpu<T>(
  cpuid: readonly CpuidEntry[],
  f: (v: ReturnType<ReturnType<KvmBackend['createVm']>['createVcpu']>, mem: ArrayBuffer) => T,
): T {
  const vm = backend().createVm();
  try {
    const mem = vm.allocateMemory(0x100000);
    vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: mem });
    const v = vm.createVcpu(0);
    v.setCpuid(cpuid);
    return f(v, mem);
  } finally {
    vm.destroy();
  }
}

const CUSTOM: Record<string, () => void> = {
  'arch-capabilities-write-refused': () => {
    const be = backend();
    const [feature] = be.featureMsrs([0x10a]);
    assert.ok(feature && feature.data !== 0n, 'KVM reports a nonzero IA32_ARCH_CAPABILITIES');
    withVcpu(be.supportedCpuid(), (v) => {
      assert.equal(v.setMsrs([{ index: 0x10a, data: feature.data }]), 0, 'its own reported value is refused');
      assert.equal(v.setMsrs([{ index: 0x10a, data: 1n }]), 0);
      assert.equal(v.setMsrs([{ index: 0x10a, data: 0n }]), 1);
    });
  },
  'cpuid-host-bits-merged': () => {
    const be = backend();
    const min = minimalCpuid(be);
    withVcpu(min, (v) => {
      const live = v.getCpuid();
      const l1 = live.find((e) => e.function === 1);
      assert.ok(l1 && l1.ecx !== 0, `leaf 1 ECX was set to 0 but reads ${l1?.ecx.toString(16)}`);
      assert.ok(live.length > min.length, 'KVM added leaves');
    });
  },
  'cr4-not-gated-by-guest-cpuid': () => {
    withVcpu(minimalCpuid(backend()), (v, mem) => {
      const base = enterMode(v, mem, 'long64', 0x1000);
      for (const bit of [16, 18, 20, 21, 22]) {
        v.setSregs({ ...base, cr4: base.cr4 | (1n << BigInt(bit)) }); // accepted although CPUID lacks the feature
        v.setSregs(base);
      }
      assert.throws(() => v.setSregs({ ...base, cr4: base.cr4 | (1n << 14n) }), /EINVAL/);
    });
  },
  'irq-window-late': () => {
    const g = runGuest(
      backend(),
      ' cli\n mov $1, %al\n out %al, $0xf4\n sti\n nop\n mov $2, %al\n out %al, $0xf4\n hlt',
      {
        mode: 'long64',
        maxExits: 1,
      },
    );
    try {
      g.vcpu.requestInterruptWindow(true);
      const e = runToExit(g.vcpu);
      assert.ok(e.reason === 'io' && e.data[0] === 2, `got ${e.reason}`);
    } finally {
      g.vm.destroy();
    }
  },
  'set-sregs-efer-unchecked': () => {
    withVcpu(minimalCpuid(backend()), (v, mem) => {
      const base = enterMode(v, mem, 'long64', 0x1000);
      for (const bit of [12, 13, 15]) v.setSregs({ ...base, efer: base.efer | (1n << BigInt(bit)) });
    });
  },
};

test('PVM deviation records are complete and each has a reproduction', () => {
  const ids = PVM_DEVIATIONS.map((d) => d.id);
  assert.equal(new Set(ids).size, ids.length, 'unique ids');
  for (const d of PVM_DEVIATIONS) {
    assert.ok(d.what.length > 20 && d.evidence.length > 20, d.id);
    assert.match(d.seenOn.kernel, /^\d+\.\d+/);
    assert.equal(d.seenOn.module, 'kvm_pvm');
    if (d.probe.kind === 'custom') assert.ok(CUSTOM[d.id], `no reproduction for ${d.id}`);
  }
  assert.deepEqual(
    Object.keys(CUSTOM).sort(),
    PVM_DEVIATIONS.filter((d) => d.probe.kind === 'custom')
      .map((d) => d.id)
      .sort(),
  );
});

for (const d of PVM_DEVIATIONS) {
  test(`PVM deviation still holds: ${d.id}`, { skip: pvmSkip }, () => {
    if (d.probe.kind === 'custom') {
      CUSTOM[d.id]!();
      return;
    }
    const p = d.probe;
    const be = backend();
    const g = runGuest(be, p.source, {
      mode: p.mode,
      cpuid: patchCpuid(be.supportedCpuid(), p.cpuidSet),
      cr4: p.cr4,
    });
    try {
      const got = summarize(g.trace);
      assert.ok(got.startsWith(p.observed), `${d.id}: observed "${got}", recorded "${p.observed}"`);
    } finally {
      g.vm.destroy();
    }
  });
}
