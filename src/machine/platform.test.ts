import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMachine, type MachineOptions } from './machine.ts';
import { ManualClock } from './clock.ts';
import { FakeBackend, FakeVm, outExit, type FakeVcpu, type ScriptStep } from './testing/fake-backend.ts';
import { E820, MiB } from './layout.ts';
import type { MsrRange, VcpuExit } from '../vcpu/backend.ts';
import { LAPIC_MSR_RANGES, FW_CFG_E820_FILE, pcCpuidForVcpu, withTscLeaves } from './platform.ts';
import { tscHzFromLeaf15 } from '../platform/tsc.ts';
import { FwCfgKey } from '../devices/fw-cfg/fw-cfg.ts';
import { ACPI_PM_BASE, Pm1Cnt, PmReg } from '../platform/acpi/pm.ts';
import { syntheticBzImage } from '../loaders/testing/bzimage.ts';
import { BOOT_PARAMS } from '../loaders/linux/boot-params.ts';
import { LINUX_BOOT_PARAMS_ADDR } from '../loaders/linux/linux.ts';

const LAPIC = 0xfee00000;
const IOAPIC = 0xfec00000;

function mmioWrite(addr: number, value: number): VcpuExit {
  const data = new Uint8Array(4);
  new DataView(data.buffer).setUint32(0, value >>> 0, true);
  return { reason: 'mmio', physAddr: BigInt(addr), isWrite: true, len: 4, data };
}

function mmioRead(addr: number): Extract<VcpuExit, { reason: 'mmio' }> {
  return { reason: 'mmio', physAddr: BigInt(addr), isWrite: false, len: 4, data: new Uint8Array(4) };
}

function u32(e: Extract<VcpuExit, { reason: 'mmio' }>): number {
  return new DataView(e.data.buffer).getUint32(0, true);
}

function rdmsr(index: number): Extract<VcpuExit, { reason: 'x86_rdmsr' }> {
  return { reason: 'x86_rdmsr', index, data: 0n, error: false };
}

function wrmsr(index: number, data: bigint): Extract<VcpuExit, { reason: 'x86_wrmsr' }> {
  return { reason: 'x86_wrmsr', index, data, error: false };
}

/** A backend whose VMs accept Vm.setUserspaceMsrs (as KVM with KVM_CAP_X86_USER_SPACE_MSR would). */
class MsrFakeBackend extends FakeBackend {
  ranges: MsrRange[] = [];
  override createVm(): FakeVm {
    const vm = super.createVm() as FakeVm & { setUserspaceMsrs(r: readonly MsrRange[]): boolean };
    vm.setUserspaceMsrs = (r) => {
      this.ranges.push(...r);
      return true;
    };
    return vm;
  }
}

function make(script: ScriptStep[], extra: Partial<MachineOptions> = {}, backend = new FakeBackend(script)) {
  const clock = new ManualClock();
  const out: number[] = [];
  const m = createMachine({
    backend,
    memoryBytes: 64 * MiB,
    cpuid: backend.supportedCpuid(),
    serial: { out: (b) => out.push(...b) },
    clock,
    platform: 'pc',
    rtcEpochSec: 1_700_000_000,
    ...extra,
  });
  return { m, clock, backend, out, vcpu: backend.vms[0]!.vcpus[0]! };
}

/** Mask both 8259s so only the IOAPIC path can deliver. */
const maskPic: ScriptStep[] = [outExit(0x21, 1, 0xff), outExit(0xa1, 1, 0xff)];

test('pc platform: an IOAPIC-routed UART interrupt (IRQ4 → GSI 4) reaches the vCPU as the programmed vector; EOI retires it', async () => {
  const isr = mmioRead(LAPIC + 0x120); // ISR bits 64-95 (vector 0x41 is bit 1)
  const isrAfterEoi = mmioRead(LAPIC + 0x120);
  const script: ScriptStep[] = [
    ...maskPic,
    mmioWrite(LAPIC + 0xf0, 0x1ff), // SVR: APIC software-enabled, spurious vector 0xFF
    mmioWrite(IOAPIC, 0x10 + 2 * 4), // IOREGSEL = redirection entry 4, low half
    mmioWrite(IOAPIC + 0x10, 0x41), // vector 0x41, fixed, physical, edge, unmasked
    mmioWrite(IOAPIC, 0x10 + 2 * 4 + 1),
    mmioWrite(IOAPIC + 0x10, 0), // destination APIC 0
    outExit(0x3f9, 1, 0x02), // UART IER: THR-empty interrupt → IRQ4 now
    isr,
    mmioWrite(LAPIC + 0xb0, 0), // EOI
    isrAfterEoi,
    outExit(0xf4, 1, 0),
  ];
  const { m, vcpu } = make(script);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.deepEqual(vcpu.injected, [0x41], 'the IOAPIC vector, once, and nothing from the masked 8259');
  assert.equal(u32(isr) & 2, 2, 'vector 0x41 in service after the injection');
  assert.equal(u32(isrAfterEoi) & 2, 0, 'EOI cleared it');
  m.destroy();
});

test('pc platform: with the APIC as the firmware left it (LINT0 ExtINT), the 8259 reaches the BSP', async () => {
  // ICW1-4: vectors 0x20/0x28, then unmask IRQ4 only; UART THRE interrupt → IRQ4 → vector 0x24.
  const script: ScriptStep[] = [
    outExit(0x20, 1, 0x11),
    outExit(0x21, 1, 0x20),
    outExit(0x21, 1, 0x04),
    outExit(0x21, 1, 0x01),
    outExit(0xa0, 1, 0x11),
    outExit(0xa1, 1, 0x28),
    outExit(0xa1, 1, 0x02),
    outExit(0xa1, 1, 0x01),
    outExit(0x21, 1, 0xef),
    outExit(0xa1, 1, 0xff),
    outExit(0x3f9, 1, 0x02),
    outExit(0xf4, 1, 0),
  ];
  const { m, vcpu } = make(script);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.deepEqual(vcpu.injected, [0x24], 'IRQ4 through the 8259 (vector base 0x20), once');
  m.destroy();
});

test('pc platform: the LAPIC one-shot timer fires through the run loop while the vCPU halts', async () => {
  let firedAt = -1;
  const script: ScriptStep[] = [
    ...maskPic,
    mmioWrite(LAPIC + 0xf0, 0x1ff),
    mmioWrite(LAPIC + 0x3e0, 0xb), // divide by 1: 1 ns per count (1 GHz APIC bus)
    mmioWrite(LAPIC + 0x320, 0x30), // LVT timer: vector 0x30, one-shot, unmasked
    mmioWrite(LAPIC + 0x380, 2_000_000), // initial count: 2 ms
    (v) => {
      v.ifFlag = true;
      return { reason: 'hlt' };
    },
    (v) => {
      firedAt = clock.nowNs();
      v.ifFlag = false;
      return outExit(0xf4, 1, 0);
    },
  ];
  const { m, vcpu, clock } = make(script);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.deepEqual(vcpu.injected, [0x30]);
  assert.ok(firedAt >= 2_000_000, `the timer vector came at ${firedAt} ns, not before its 2 ms deadline`);
  m.destroy();
});

test('pc platform: a periodic LAPIC timer keeps a halted guest ticking; masked it lets the run end as hlt', async () => {
  let ticks = 0;
  const halt = (v: FakeVcpu): VcpuExit => {
    v.ifFlag = true;
    if (v.injected.length > ticks) {
      ticks = v.injected.length;
      // EOI (without it the next tick waits in IRR behind the in-service vector); mask after 3
      return ticks === 3 ? mmioWrite(LAPIC + 0x320, 0x10000 | 0x20031) : mmioWrite(LAPIC + 0xb0, 0);
    }
    return { reason: 'hlt' };
  };
  const script: ScriptStep[] = [
    ...maskPic,
    mmioWrite(LAPIC + 0xf0, 0x1ff),
    mmioWrite(LAPIC + 0x3e0, 0xb),
    mmioWrite(LAPIC + 0x320, 0x20031), // periodic, vector 0x31
    mmioWrite(LAPIC + 0x380, 1_000_000),
    ...Array.from({ length: 12 }, () => halt),
  ];
  const { m, vcpu } = make(script);
  vcpu.fallback = { reason: 'hlt' };
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'hlt', r.detail);
  assert.deepEqual(vcpu.injected, [0x31, 0x31, 0x31]);
  m.destroy();
});

test('pc platform: APIC MSR exits are answered by the vCPU local APIC (x2APIC mode), #GP for bad ones', async () => {
  const base = rdmsr(0x1b);
  const toX2 = wrmsr(0x1b, 0xfee00d00n); // EN | EXTD | BSP
  const id = rdmsr(0x802);
  const ver = rdmsr(0x803);
  const tpr = wrmsr(0x808, 0x20n);
  const tprBack = rdmsr(0x808);
  const reserved = rdmsr(0x8ff);
  const eoiRead = rdmsr(0x80b);
  const script: ScriptStep[] = [base, toX2, id, ver, tpr, tprBack, reserved, eoiRead, outExit(0xf4, 1, 0)];
  const backend = new MsrFakeBackend(script);
  // the guest CPUID offers x2APIC (without it IA32_APIC_BASE.EXTD is reserved: #GP, as under KVM)
  const cpuid = [
    ...backend.supportedCpuid(),
    { function: 1, index: 0, flags: 0, eax: 0x806f0, ebx: 0, ecx: 1 << 21, edx: 1 << 9 },
  ];
  const { m, vcpu } = make(script, { cpuid }, backend);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.deepEqual(backend.ranges, LAPIC_MSR_RANGES, 'the machine claimed the APIC MSRs');
  assert.equal(base.data, 0xfee00900n, 'IA32_APIC_BASE: 0xFEE00000 | EN | BSP');
  assert.equal(toX2.error, false);
  assert.equal(id.error, false);
  assert.equal(id.data, 0n, 'x2APIC ID of vCPU 0');
  assert.equal(ver.data & 0xffn, 0x14n);
  assert.equal(tpr.error, false);
  assert.equal(tprBack.data, 0x20n);
  assert.equal(reserved.error, true, '0x8FF does not exist: #GP');
  assert.equal(eoiRead.error, true, 'EOI is write-only: #GP');
  const leaf1 = vcpu.getCpuid().find((e) => e.function === 1);
  if (leaf1) {
    assert.equal((leaf1.edx >>> 9) & 1, 1, 'CPUID APIC');
  }
  m.destroy();
});

test('pc platform: without userspace MSR exits x2APIC and TSC-deadline are hidden; per-vCPU APIC IDs in CPUID', () => {
  const backend = new FakeBackend([]);
  const cpuid = [
    { function: 0, index: 0, flags: 0, eax: 0xb, ebx: 0, ecx: 0, edx: 0 },
    {
      function: 1,
      index: 0,
      flags: 0,
      eax: 0x806f0,
      ebx: 0x00010800,
      ecx: (1 << 21) | (1 << 24) | 1,
      edx: 0,
    },
    { function: 0xb, index: 0, flags: 1, eax: 0, ebx: 1, ecx: 0x100, edx: 0 },
  ];
  const m = createMachine({
    backend,
    memoryBytes: 64 * MiB,
    cpuid,
    platform: 'pc',
    vcpus: 3,
    clock: new ManualClock(),
  });
  const vcpus = backend.vms[0]!.vcpus;
  assert.equal(vcpus.length, 3);
  vcpus.forEach((v, i) => {
    const l1 = v.getCpuid().find((e) => e.function === 1)!;
    assert.equal(l1.ebx >>> 24, i, `vCPU ${i}: CPUID.1:EBX[31:24] = APIC ID`);
    assert.equal(l1.ecx & ((1 << 21) | (1 << 24)), 0, 'x2APIC and TSC-deadline hidden');
    assert.equal(l1.ecx & 1, 1, 'other bits kept');
    assert.equal((l1.edx >>> 9) & 1, 1, 'APIC present');
    assert.equal(v.getCpuid().find((e) => e.function === 0xb)!.edx, i, 'leaf 0xB x2APIC ID');
  });
  assert.equal(m.platform!.lapics.length, 3);
  assert.deepEqual(
    m.platform!.lapics.map((a) => a.mpState),
    ['runnable', 'init-received', 'init-received'],
    'APs wait for INIT/SIPI',
  );
  // fw_cfg: CPU count and the e820 map (with the ACPI region reserved)
  m.bus.write('pio', 0x510, 2, FwCfgKey.NB_CPUS);
  assert.equal(m.bus.read('pio', 0x511, 1), 3);
  assert.ok(
    m.platform!.e820.some((e) => e.type === E820.RESERVED && e.base === m.platform!.acpi.region.base),
  );
  assert.ok(FW_CFG_E820_FILE.length > 0);
  m.destroy();
});

test('minimal platform: unchanged CPUID, no APIC devices, SMP refused with a clear error', () => {
  const backend = new FakeBackend([]);
  const cpuid = [{ function: 1, index: 0, flags: 0, eax: 0x806f0, ebx: 0, ecx: 1 << 21, edx: 0 }];
  const m = createMachine({ backend, memoryBytes: 16 * MiB, cpuid });
  assert.deepEqual(backend.vms[0]!.vcpus[0]!.getCpuid(), cpuid);
  assert.equal(m.platform, undefined);
  m.destroy();
  assert.throws(() => createMachine({ backend, memoryBytes: 16 * MiB, cpuid, vcpus: 2 }), {
    code: 'SMP_UNSUPPORTED',
  });
  assert.throws(() => createMachine({ backend, memoryBytes: 16 * MiB, cpuid, platform: 'bogus' as 'pc' }), {
    code: 'PLATFORM',
  });
});

test('pc platform: ACPI S5 (SLP_TYP 5 | SLP_EN to PM1a_CNT) powers the guest off', async () => {
  const { m } = make([outExit(ACPI_PM_BASE + PmReg.PM1_CNT, 2, (5 << Pm1Cnt.SLP_TYP_SHIFT) | Pm1Cnt.SLP_EN)]);
  const r = await m.run({ timeoutMs: 1000 });
  assert.equal(r.outcome, 'shutdown');
  assert.equal(r.poweredOff, true, r.detail);
  assert.match(r.detail, /S5/);
  m.destroy();
});

test('pc platform: load linux writes ACPI tables and passes the RSDP and the reserved region in boot_params', () => {
  const { m, vcpu } = make([]);
  const st = m.load({
    kind: 'linux',
    kernel: syntheticBzImage(),
    cmdline: 'console=ttyS0',
    kernelName: 'synth',
  });
  assert.equal(st.regs.rip, 0x1000200n);
  assert.equal(vcpu.regs.rsi, BigInt(LINUX_BOOT_PARAMS_ADDR));
  const acpi = m.platform!.acpi;
  const sig = new TextDecoder().decode(m.memory.read(acpi.rsdpAddress, 8));
  assert.equal(sig, 'RSD PTR ');
  const bp = new DataView(m.memory.read(LINUX_BOOT_PARAMS_ADDR, 0x1000).slice().buffer);
  assert.equal(bp.getBigUint64(BOOT_PARAMS.acpi_rsdp_addr[0], true), BigInt(acpi.rsdpAddress));
  const n = bp.getUint8(BOOT_PARAMS.e820_entries[0]);
  const entries = Array.from({ length: n }, (_, i) => ({
    base: Number(bp.getBigUint64(BOOT_PARAMS.e820_table[0] + i * 20, true)),
    type: bp.getUint32(BOOT_PARAMS.e820_table[0] + i * 20 + 16, true),
  }));
  assert.ok(
    entries.some((e) => e.base === acpi.region.base && e.type === E820.RESERVED),
    JSON.stringify(entries),
  );
  assert.throws(
    () => m.load({ kind: 'linux', kernel: new Uint8Array(100) }),
    (e: Error & { code?: string }) => /^LINUX_|^BZIMAGE/.test(e.code ?? ''),
  );
  m.destroy();
});

test('pcCpuidForVcpu: x2APIC follows the APIC MSR hook, TSC-deadline also needs a matching TSC', () => {
  const t = [
    { function: 1, index: 0, flags: 0, eax: 0x806f0, ebx: 0x0a010800, ecx: (1 << 21) | (1 << 24), edx: 0 },
  ];
  const ecx = (edits: { apicMsrs: boolean; tscDeadline: boolean }): number =>
    pcCpuidForVcpu(t, 5, edits)[0]!.ecx;
  assert.equal(ecx({ apicMsrs: true, tscDeadline: true }), (1 << 21) | (1 << 24));
  assert.equal(ecx({ apicMsrs: true, tscDeadline: false }), 1 << 21);
  assert.equal(ecx({ apicMsrs: false, tscDeadline: true }), 0);
  const l1 = pcCpuidForVcpu(t, 5, { apicMsrs: false, tscDeadline: false })[0]!;
  assert.equal(l1.ebx, 0x05010800, 'APIC ID replaced, the rest of EBX kept');
  assert.equal(t[0]!.ecx, (1 << 21) | (1 << 24), 'the input table is not modified');
});

test('withTscLeaves: the TSC frequency in 0x15/0x16/0x40000010, max leaves raised, invariant TSC, input untouched', () => {
  const t = [
    { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 1, ecx: 2, edx: 3 },
    { function: 0x15, index: 0, flags: 0, eax: 9, ebx: 9, ecx: 9, edx: 0 },
    {
      function: 0x40000000,
      index: 0,
      flags: 0,
      eax: 0x40000001,
      ebx: 0x4b4d564b,
      ecx: 0x564b4d56,
      edx: 0x4d,
    },
    { function: 0x80000000, index: 0, flags: 0, eax: 0x80000008, ebx: 0, ecx: 0, edx: 0 },
    { function: 0x80000007, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 },
  ];
  const out = withTscLeaves(t, 2_500_000_000);
  const leaf = (fn: number) => out.filter((e) => e.function === fn);
  assert.equal(leaf(0)[0]!.eax, 0x16, 'max basic leaf raised to 0x16');
  assert.equal(leaf(0x15).length, 1, 'the old 0x15 replaced');
  assert.equal(tscHzFromLeaf15(leaf(0x15)[0]!), 2_500_000_000);
  assert.equal(leaf(0x16)[0]!.eax, 2500, '0x16 EAX = base MHz');
  assert.equal(leaf(0x40000000)[0]!.eax, 0x40000010, 'hypervisor max leaf covers 0x40000010');
  assert.equal(leaf(0x40000000)[0]!.ebx, 0x4b4d564b, 'signature kept');
  assert.equal(leaf(0x40000010)[0]!.eax, 2_500_000, '0x40000010 EAX = TSC kHz');
  assert.equal((leaf(0x80000007)[0]!.edx >>> 8) & 1, 1, 'invariant TSC');
  assert.deepEqual(
    out.map((e) => e.function),
    [...out.map((e) => e.function)].sort((a, b) => a - b),
    'sorted',
  );
  assert.equal(t[1]!.eax, 9, 'the input table is not modified');
  assert.equal(t[4]!.edx, 0);
  // pcCpuidForVcpu adds them only with a tscHz (the backend's TSC follows the machine clock)
  assert.equal(
    pcCpuidForVcpu(t, 0, { apicMsrs: true, tscDeadline: true }).some((e) => e.function === 0x40000010),
    false,
  );
  assert.equal(
    pcCpuidForVcpu(t, 0, { apicMsrs: true, tscDeadline: true, tscHz: 1e9 }).some(
      (e) => e.function === 0x40000010,
    ),
    true,
  );
});
