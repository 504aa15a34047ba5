import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMachine, type MachineOptions, type RunSlice } from './machine.ts';
import { ManualClock } from './clock.ts';
import {
  FakeBackend,
  inExit,
  outExit,
  outString,
  type FakeVcpu,
  type ScriptStep,
} from './testing/fake-backend.ts';
import { MiB } from './layout.ts';
import { BackendError, type VcpuExit } from '../vcpu/backend.ts';
import { pitNsAt } from '../devices/pit8254/pit.ts';
import { FwCfgKey } from '../devices/fw-cfg/fw-cfg.ts';
import { BootEfer } from '../loaders/boot/boot-state.ts';

const COM1 = 0x3f8;

function make(script: ScriptStep[], extra: Partial<MachineOptions> = {}) {
  const backend = new FakeBackend(script);
  const out: number[] = [];
  const clock = new ManualClock();
  const m = createMachine({
    backend,
    memoryBytes: 16 * MiB,
    cpuid: backend.supportedCpuid(),
    serial: { out: (b) => out.push(...b) },
    clock,
    ...extra,
  });
  const vcpu = backend.vms[0]!.vcpus[0]!;
  return { m, vcpu, out, clock, backend };
}

/** The PIC initialization a guest does: vectors 0x20/0x28, everything masked except `unmasked`. */
function picInit(unmaskedMaster: number): ScriptStep[] {
  return [
    outExit(0x20, 1, 0x11),
    outExit(0x21, 1, 0x20),
    outExit(0x21, 1, 0x04),
    outExit(0x21, 1, 0x01),
    outExit(0xa0, 1, 0x11),
    outExit(0xa1, 1, 0x28),
    outExit(0xa1, 1, 0x02),
    outExit(0xa1, 1, 0x01),
    outExit(0x21, 1, ~unmaskedMaster & 0xff),
    outExit(0xa1, 1, 0xff),
  ];
}

test('memory slots follow the layout; CPUID set; fw_cfg reports CPU count and the policy file', () => {
  const { m, vcpu, backend } = make([]);
  assert.deepEqual(
    backend.vms[0]!.regions.map((r) => [r.slot, r.guestPhysAddr]),
    [[0, 0n]],
  );
  assert.deepEqual(vcpu.cpuid, backend.supportedCpuid());
  assert.equal(m.fwCfg.item(FwCfgKey.NB_CPUS)![0], 1);
  assert.equal(m.fwCfg.item(0x20)!.length, 40);
  m.memory.writeU32(0x5000, 0x12345678);
  assert.equal(
    new DataView(backend.vms[0]!.regions[0]!.memory).getUint32(0x5000, true),
    0x12345678,
    'machine.memory is the guest RAM',
  );
});

test('bad machine options are refused clearly', () => {
  const backend = new FakeBackend();
  assert.throws(() => createMachine({ backend, memoryBytes: 12345, cpuid: [] }), { code: 'MEMORY_SIZE' });
  assert.throws(() => createMachine({ backend, memoryBytes: 16 * MiB, cpuid: [], vcpus: 2 }), {
    code: 'SMP_UNSUPPORTED',
  });
  // a backend refusal while building the VM (here KVM_SET_CPUID2) leaves no half-built VM behind
  const refusing = new FakeBackend();
  const origCreate = refusing.createVm.bind(refusing);
  refusing.createVm = () => {
    const vm = origCreate();
    const origVcpu = vm.createVcpu.bind(vm);
    vm.createVcpu = (id: number) => {
      const v = origVcpu(id);
      v.setCpuid = () => {
        throw new BackendError('EINVAL', 'KVM_SET_CPUID2 refused');
      };
      return v;
    };
    return vm;
  };
  assert.throws(() => createMachine({ backend: refusing, memoryBytes: 16 * MiB, cpuid: [] }), {
    code: 'EINVAL',
  });
  assert.equal(refusing.vms[0]!.destroyed, true);
});

test('serial output then debug-exit: outcome, exit status, serial text, exit count', async () => {
  const { m, out } = make([
    outString(COM1, 'hello '),
    outExit(COM1, 1, 0x21),
    outExit(0x80, 1, 0x42),
    outExit(0xf4, 4, 0x10),
    outExit(COM1, 1, 0x58),
  ]);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit');
  assert.equal(r.exitCode, 0x21);
  assert.equal(r.serial, 'hello !');
  assert.equal(String.fromCharCode(...out), 'hello !');
  assert.equal(r.exits, 4, 'the run stops right after the debug-exit write');
  assert.equal(m.post.lastCode, 0x42);
});

test('IN exits are filled from the device: LSR of the UART, unclaimed port all-ones', async () => {
  const lsr = inExit(COM1 + 5, 1);
  const nothing = inExit(0x2f8, 2);
  const { m } = make([lsr, nothing, outExit(0xf4, 1, 0)]);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit');
  assert.equal(r.exitCode, 1);
  assert.equal(lsr.data[0]! & 0x60, 0x60);
  assert.deepEqual([...nothing.data], [0xff, 0xff]);
  assert.equal(m.bus.stats('pio').unclaimedReads, 1);
});

test('shutdown (triple fault) is reported as such', async () => {
  const { m } = make([outString(COM1, 'x'), { reason: 'shutdown' }]);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'shutdown');
  assert.match(r.detail, /triple/);
  assert.equal(r.serial, 'x');
});

test('internal_error is a backend error carrying the instruction bytes, never a guest verdict', async () => {
  const insn = new Uint8Array([0x0f, 0x01, 0xca]); // CLAC
  const { m } = make([
    { reason: 'internal_error', suberror: 1, data: [], insnBytes: insn, message: 'emulation failure' },
  ]);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'backend-error');
  assert.equal(r.exitCode, undefined);
  assert.deepEqual([...r.insnBytes!], [0x0f, 0x01, 0xca]);
  assert.match(r.detail, /0f 01 ca/);
  assert.match(r.detail, /emulation failure/);
});

test('fail_entry and unknown exits are backend errors', async () => {
  const a = await make([{ reason: 'fail_entry', hardwareEntryFailureReason: 0x21n, cpu: 0 }]).m.run({
    timeoutMs: 1000,
  });
  assert.equal(a.outcome, 'backend-error');
  const b = await make([{ reason: 'unknown', hardwareExitReason: 7n }]).m.run({ timeoutMs: 1000 });
  assert.equal(b.outcome, 'backend-error');
});

test('hlt with interrupts disabled ends the run', async () => {
  const { m, vcpu } = make([outString(COM1, 'bye'), { reason: 'hlt' }]);
  vcpu.ifFlag = false;
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'hlt');
  assert.match(r.detail, /IF=0/);
});

test('hlt with interrupts enabled and nothing that could wake it ends the run as hlt', async () => {
  const { m, vcpu } = make([{ reason: 'hlt' }]);
  vcpu.ifFlag = true;
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'hlt');
  assert.match(r.detail, /no timer/);
});

test('periodic PIT tick: HLT waits for IRQ0, the vector is injected, the guest EOIs and counts ticks', async () => {
  let ticks = 0;
  const script: ScriptStep[] = [
    ...picInit(0x01),
    outExit(0x43, 1, 0x34), // counter 0, lobyte/hibyte, mode 2
    outExit(0x40, 1, 0x9c), // 11932 = 0x2e9c → 100 Hz
    outExit(0x40, 1, 0x2e),
  ];
  for (let i = 0; i < 5; i++) {
    script.push({ reason: 'hlt' });
    script.push((v: FakeVcpu) => {
      // the guest's handler runs after the injection: it checks it got vector 0x20, then EOIs
      if (v.injected.length === i + 1 && v.injected[i] === 0x20) ticks++;
      return outExit(0x20, 1, 0x20);
    });
  }
  script.push(outExit(0xf4, 1, 0));
  const { m, vcpu, clock } = make(script);
  vcpu.ifFlag = true;
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit');
  assert.equal(ticks, 5);
  assert.deepEqual(vcpu.injected, [0x20, 0x20, 0x20, 0x20, 0x20]);
  assert.equal(clock.nowNs(), pitNsAt(5 * 11932), 'virtual time advanced exactly five periods');
});

test('masked PIC: no injection, the halted guest times out', async () => {
  const script: ScriptStep[] = [
    ...picInit(0x00),
    outExit(0x43, 1, 0x34),
    outExit(0x40, 1, 0x00),
    outExit(0x40, 1, 0x10),
    { reason: 'hlt' },
  ];
  const { m, vcpu } = make(script);
  vcpu.ifFlag = true;
  const r = await m.run({ timeoutMs: 50 });
  assert.equal(r.outcome, 'timeout');
  assert.deepEqual(vcpu.injected, []);
});

test('not ready for injection: the machine requests an interrupt window, injects when it opens', async () => {
  const script: ScriptStep[] = [
    ...picInit(0x10),
    outExit(COM1 + 1, 1, 0x02), // IER: THRE interrupt → IRQ4 at once
    (v) => {
      v.ready = true;
      return { reason: 'irq_window_open' };
    },
    outExit(0xf4, 1, 1),
  ];
  const { m, vcpu } = make(script);
  vcpu.ready = false;
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit');
  assert.equal(r.exitCode, 3);
  assert.deepEqual(vcpu.injected, [0x24]);
  assert.deepEqual(vcpu.windowRequests, [true, false]);
});

test('timeout when the guest keeps running (intr exits) past the limit', async () => {
  const { m, vcpu, clock } = make([]);
  vcpu.fallback = { reason: 'intr' };
  const origRun = vcpu.run.bind(vcpu);
  vcpu.run = () => {
    clock.advance(1_000_000); // 1 ms of guest time per run
    return origRun();
  };
  const r = await m.run({ timeoutMs: 20 });
  assert.equal(r.outcome, 'timeout');
  assert.ok(r.exits >= 19 && r.exits <= 21, `exits ${r.exits}`);
  const budget = await m.run({ timeoutMs: 1e9, maxExits: 7 });
  assert.equal(budget.outcome, 'timeout');
  assert.equal(budget.exits, 7);
  await assert.rejects(m.run({ timeoutMs: 10, maxInstructions: 5 }), { code: 'RUN_OPTIONS' });
  await assert.rejects(m.run({ timeoutMs: 0 }), { code: 'RUN_OPTIONS' });
});

test('a vCPU with a run slice gets at most the time to the next PIT edge; the slice is restored', async () => {
  const seen: number[] = [];
  const record = (v: FakeVcpu): VcpuExit => {
    seen.push((v as FakeVcpu & RunSlice).runSliceMs);
    return { reason: 'intr' };
  };
  const script: ScriptStep[] = [
    record,
    ...picInit(0x01),
    outExit(0x43, 1, 0x34),
    outExit(0x40, 1, 0xa9), // 1193 = 0x04a9 → about 1 kHz
    outExit(0x40, 1, 0x04),
    record,
    outExit(0xf4, 1, 0),
  ];
  const { m, vcpu } = make(script);
  Object.assign(vcpu, { runSliceMs: 10 });
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(seen[0], 10, 'no timer armed: the full slice');
  assert.ok(seen[1]! > 0 && seen[1]! <= pitNsAt(1193) / 1e6, `PIT armed: slice ${seen[1]} ms`);
  assert.equal((vcpu as FakeVcpu & RunSlice).runSliceMs, 10, 'restored when run() ends');
});

test('guest reset request: stop by default, reboot re-loads the image when asked', async () => {
  const stop = make([outExit(0x64, 1, 0xfe)]);
  const r = await stop.m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'shutdown');
  assert.match(r.detail, /reset/);

  const image = new Uint8Array([0xf4]);
  const reboot = make([outExit(0x92, 1, 0x03), outExit(0xf4, 1, 2)], { onReset: 'reboot' });
  reboot.m.load({ kind: 'flat', image, address: 0x100000, mode: 'long64' });
  reboot.vcpu.regs.rip = 0x999n;
  reboot.m.memory.writeU8(0x100000, 0);
  const r2 = await reboot.m.run({ timeoutMs: 1000 });
  assert.equal(r2.outcome, 'debug-exit');
  assert.equal(reboot.vcpu.regs.rip, 0x100000n, 'entry state re-applied');
  assert.equal(reboot.m.memory.readU8(0x100000), 0xf4, 'image re-loaded');
});

test('load() applies the entry state to the vCPU (regs and sregs merged over the reset state)', () => {
  const { m, vcpu } = make([]);
  const st = m.load({ kind: 'flat', image: new Uint8Array([0x90, 0xf4]), address: 0x200000, mode: 'long64' });
  assert.equal(vcpu.regs.rip, 0x200000n);
  assert.equal(vcpu.sregs.efer, BootEfer.LME | BootEfer.LMA);
  assert.equal(vcpu.sregs.apicBase, 0xfee00900n, 'untouched fields keep the vCPU value');
  assert.equal(st.mode, 'long64');
});

test('serial input reaches the UART receiver', async () => {
  const rbr = inExit(COM1, 1);
  const lsr = inExit(COM1 + 5, 1);
  // the intr exit lets the machine yield to the event loop, so the input pump runs
  const script: ScriptStep[] = [{ reason: 'intr' }, lsr, rbr, outExit(0xf4, 1, 0)];
  const { m } = make(script, {
    serial: {
      out: () => {},
      input: (async function* () {
        yield 'k';
      })(),
    },
  });
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit');
  assert.equal(lsr.data[0]! & 1, 1, 'data ready');
  assert.equal(String.fromCharCode(rbr.data[0]!), 'k');
});

test('host errors inside device code are reported as host-error, not as a guest result', async () => {
  const { m } = make([outExit(0x510, 2, 0), outExit(0xf4, 1, 0)]);
  m.fwCfg.write = () => {
    throw new Error('boom');
  };
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'host-error');
  assert.match(r.detail, /boom/);
});
