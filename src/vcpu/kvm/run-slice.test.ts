// Bounded KVM_RUN on the real /dev/kvm (native/tsvmm_kvm.c "Bounded KVM_RUN"; Linux
// Documentation/virt/kvm/api.rst: KVM_EXIT_INTR, kvm_run.immediate_exit, and the note that an I/O
// exit is completed when KVM_RUN is re-entered): a guest that never exits comes back as 'intr', the
// slice is configurable, IN data is delivered on an 'intr' and by an immediate_exit completion, and
// the kick signal never escapes to Node. Skips without /dev/kvm, the binding or binutils.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Worker } from 'node:worker_threads';
import { BackendError, type VcpuExit } from '../backend.ts';
import { loadNative, type NativeRunInfo } from './native.ts';
import { createKvmBackend, type KvmBackend } from './system.ts';
import type { KvmVcpu } from './vcpu.ts';
import { runGuest, type GuestRun } from './testing/guest.ts';
import { kvmGuestSkip, kvmSkip } from './testing/host.ts';

let shared: KvmBackend | undefined;
function backend(): KvmBackend {
  shared ??= createKvmBackend({ contract: 'off' });
  return shared;
}

/** Load a long-mode guest without running it (maxExits 0); the test drives vcpu.run() itself. */
function load(source: string): GuestRun & { kvcpu: KvmVcpu } {
  const g = runGuest(backend(), source, { mode: 'long64', maxExits: 0, idt: false });
  return { ...g, kvcpu: g.vcpu as KvmVcpu };
}

function runInfo(): NativeRunInfo {
  const n = loadNative();
  assert.ok(n.ok);
  return n.native.runInfo();
}

test('runSliceMs is validated on the backend and on a vCPU', { skip: kvmSkip }, () => {
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 3_600_001]) {
    assert.throws(
      () => createKvmBackend({ contract: 'off', runSliceMs: bad }),
      (e: unknown) => e instanceof BackendError && e.code === 'EINVAL' && /runSliceMs/.test(e.message),
    );
  }
  const be = createKvmBackend({ contract: 'off', runSliceMs: 25 });
  try {
    assert.equal(be.runSliceMs, 25);
    const vm = be.createVm();
    const v = vm.createVcpu(0) as KvmVcpu;
    assert.equal(v.runSliceMs, 25, 'a vCPU starts with the backend slice');
    v.runSliceMs = 0.5;
    assert.equal(v.runSliceMs, 0.5);
    v.runSliceMs = 0;
    assert.equal(v.runSliceMs, 0, '0 = unbounded KVM_RUN');
    assert.throws(
      () => {
        v.runSliceMs = -3;
      },
      (e: unknown) => e instanceof BackendError && e.code === 'EINVAL',
    );
    assert.equal(v.runSliceMs, 0, 'a refused value leaves the slice unchanged');
    vm.destroy();
  } finally {
    be.close();
  }
});

test('a guest spinning on `jmp .` comes back from run() as an intr exit', { skip: kvmGuestSkip }, () => {
  const g = load('1: jmp 1b');
  try {
    g.kvcpu.runSliceMs = 5;
    const before = runInfo();
    assert.ok(before.signal > 0, `a kick signal is installed (got ${before.signal})`);
    const exits: VcpuExit['reason'][] = [];
    for (let i = 0; i < 3; i++) exits.push(g.vcpu.run().reason);
    assert.deepEqual(exits, ['intr', 'intr', 'intr']);
    assert.equal(g.vcpu.getRegs().rip, 0x1000n, 'the guest is still on its jmp');
    const after = runInfo();
    assert.ok(after.kicks >= before.kicks + 1, 'the slice timer ended at least one run');
    assert.equal(after.strays, 0, 'no timer signal arrived outside a run');
  } finally {
    g.vm.destroy();
  }
});

test(
  'an IN exit is completed by the intr run that follows it (KVM finishes I/O before checking signals)',
  { skip: kvmGuestSkip },
  () => {
    const g = load(' in $0x71, %al\n mov %al, 0x5000\n 1: jmp 1b');
    try {
      const e = g.vcpu.run();
      assert.ok(e.reason === 'io' && e.direction === 'in' && e.port === 0x71, `got ${e.reason}`);
      e.data[0] = 0x5a;
      assert.equal(g.vcpu.run().reason, 'intr');
      assert.equal(new Uint8Array(g.memory)[0x5000], 0x5a, 'the IN value reached AL and memory');
      assert.equal(g.kvcpu.hasPendingIo, false);
    } finally {
      g.vm.destroy();
    }
  },
);

test(
  'vCPU state read after an IN exit sees the IN data (completed with immediate_exit, guest not run)',
  { skip: kvmGuestSkip },
  () => {
    const g = load(' mov $0x1111, %rax\n in $0x71, %al\n mov %al, 0x5000\n 1: jmp 1b');
    try {
      const e = g.vcpu.run();
      assert.ok(e.reason === 'io' && e.direction === 'in', `got ${e.reason}`);
      assert.equal(g.kvcpu.hasPendingIo, true);
      e.data[0] = 0xa7;
      const regs = g.vcpu.getRegs();
      assert.equal(g.kvcpu.hasPendingIo, false);
      assert.equal(regs.rax, 0x11a7n, 'AL holds the IN data; the rest of RAX is kept');
      assert.equal(new Uint8Array(g.memory)[0x5000], 0, 'the guest did not run past the IN');
      const e2 = g.vcpu.run();
      assert.equal(e2.reason, 'intr');
      assert.equal(new Uint8Array(g.memory)[0x5000], 0xa7);
    } finally {
      g.vm.destroy();
    }
  },
);

test(
  'thousands of runs with a tiny slice: progress after every intr, no stray signal, Node survives',
  { skip: kvmGuestSkip },
  async () => {
    // Count in AL and report each value with OUT: every io exit must carry the next value, whether
    // the previous run ended by an exit or by the slice timer (immediate_exit must not stick).
    const g = load(' xor %eax, %eax\n1: inc %al\n out %al, $0x80\n jmp 1b');
    try {
      g.kvcpu.runSliceMs = 0.02;
      let expect = 1;
      let ios = 0;
      let intrs = 0;
      for (let i = 0; i < 2000; i++) {
        const e = g.vcpu.run();
        if (e.reason === 'intr') {
          intrs++;
          continue;
        }
        assert.ok(e.reason === 'io' && e.port === 0x80, `run ${i}: got ${e.reason}`);
        assert.equal(e.data[0], expect & 0xff, `run ${i}: OUT values are consecutive`);
        expect++;
        ios++;
      }
      assert.ok(ios > 0, 'the guest made progress');
      assert.equal(ios + intrs, 2000);
      // Leave time for any timer that was (wrongly) left armed to fire while no run is in progress.
      await new Promise((r) => setTimeout(r, 30));
      assert.equal(runInfo().strays, 0, 'no timer signal arrived outside a run');
      g.kvcpu.runSliceMs = 5;
      const e = g.vcpu.run();
      assert.ok(e.reason === 'io' && e.data[0] === (expect & 0xff), 'the vCPU still runs normally');
    } finally {
      g.vm.destroy();
    }
  },
);

test('a kick signal sent by hand when no run is in progress is ignored, not fatal', { skip: kvmSkip }, () => {
  const { signal } = runInfo();
  assert.ok(signal > 0);
  // The default action of a real-time signal terminates the process; the handler must catch it.
  const r = spawnSync('kill', [`-${signal}`, String(process.pid)]);
  if (r.error) return; // no kill(1) here: nothing to check
  assert.equal(r.status, 0);
  assert.equal(runInfo().strays, 0, 'a signal not from a slice timer is not counted as one');
});

test(
  'a vCPU in a worker thread gets its own slice timer; the main thread is unaffected when it ends',
  { skip: kvmGuestSkip, timeout: 30_000 },
  async () => {
    const before = runInfo();
    // The worker loads the TypeScript helper through tsx's API (workers do not inherit --import).
    const helper = new URL('./testing/slice-worker.ts', import.meta.url).href;
    const w = new Worker(
      `import('tsx/esm/api').then((t) => { t.register(); return import(${JSON.stringify(helper)}); })`,
      { eval: true },
    );
    const reasons = await new Promise<unknown>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
    assert.equal(await new Promise((r) => w.once('exit', r)), 0);
    assert.deepEqual(reasons, ['intr', 'intr', 'intr']);
    const after = runInfo();
    assert.ok(after.threadTimers >= before.threadTimers + 1, 'the worker made its own timer');
    assert.equal(after.strays, 0);
    const g = load('1: jmp 1b');
    try {
      g.kvcpu.runSliceMs = 2;
      assert.equal(g.vcpu.run().reason, 'intr', 'the main thread still runs sliced');
    } finally {
      g.vm.destroy();
    }
  },
);
