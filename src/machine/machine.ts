// The tsvmm PC: guest RAM laid out around the PCI hole (layout.ts), the PIO/MMIO bus (bus.ts) with
// the first devices, one vCPU from a Backend, and the run loop that turns VcpuExits (KVM_EXIT_*,
// Linux Documentation/virt/kvm/api.rst "kvm_run") into device accesses, interrupt injection through
// the userspace-irqchip protocol (KVM_INTERRUPT when ready_for_interrupt_injection, else
// request_interrupt_window), timer polling, and one RunResult. It cannot tell which backend it drives.
//
// Devices and their wiring:
//   port(s)        device                     IRQ
//   0x20-0x21      8259A master               → CPU INTR (vector from ICW2)
//   0xA0-0xA1      8259A slave                → master IR2
//   0x4D0-0x4D1    ELCR
//   0x40-0x43      8254 PIT                   counter 0 → IRQ0
//   0x61           port B (PIT counter 2 gate, speaker)
//   0x64           8042 command (0xFE = reset)
//   0x80           POST code sink
//   0x92           system control port A (fast reset)
//   0xF4-0xF7      isa-debug-exit
//   0x3F8-0x3FF    16550A UART (COM1)         IRQ4
//   0x510-0x51B    fw_cfg (selector, data, DMA)
// platform 'pc' adds (platform.ts): local APICs (MMIO 0xFEE00000, MSRs through x86_rdmsr/x86_wrmsr
// exits), the IOAPIC (MMIO 0xFEC00000), the RTC/CMOS (0x70-0x71, IRQ8), the ACPI PM blocks
// (0x600-0x60B, SCI = IRQ9), ACPI tables + e820 for Linux; ISA IRQs then reach both the 8259 and the
// IOAPIC (platform/irq-routing.ts) and each vCPU's interrupt comes from its LAPIC or, through LINT0
// virtual wire, the 8259. SMP: N vCPUs interleaved on this thread; APs wait for INIT/SIPI.
//
// Outcomes: 'debug-exit' (guest wrote the debug-exit port; exitCode = (v << 1) | 1), 'shutdown'
// (triple fault, system_event shutdown, a guest reset request with onReset 'stop', or an ACPI S5
// power-off, which sets RunResult.poweredOff), 'hlt' (halted
// with nothing that could ever wake it), 'timeout' (time or instruction/exit budget), 'backend-error'
// (KVM internal error / failed entry / unknown exit: the backend could not run the guest; never a guest
// verdict), 'host-error' (a bug or refusal in tsvmm itself).

import type { Backend, Vcpu, VcpuExit, Vm } from '../vcpu/backend.ts';
import { BackendError } from '../vcpu/backend.ts';
import type { CpuidEntry } from '../arch/x86/cpuid/table.ts';
import type { AccessSize, Clock } from '../devices/device.ts';
import { TsvmmError } from '../util/result.ts';
import { hex } from '../util/u64.ts';
import { Bus } from './bus.ts';
import { asMachineClock, type MachineClock } from './clock.ts';
import { computeLayout, type MemoryLayout } from './layout.ts';
import { checkMemorySize, GuestMemory } from './memory.ts';
import { COM1_BASE, COM1_IRQ, UART_PORTS, Uart16550 } from '../devices/uart16550/uart.ts';
import { DEBUG_EXIT_PORT, DEBUG_EXIT_SIZE, DebugExit } from '../devices/debug-exit/debug-exit.ts';
import {
  encodeCpuPolicy,
  FW_CFG_PORT_BASE,
  FW_CFG_PORTS,
  FwCfg,
  TSVMM_CPU_POLICY_FILE,
} from '../devices/fw-cfg/fw-cfg.ts';
import { PIC_ELCR_BASE, PIC_MASTER_BASE, PIC_SLAVE_BASE, PicPair } from '../devices/pic8259/pic.ts';
import { PIT_BASE, PIT_IRQ, PIT_PORTS, Pit8254, PORT_61, Port61Device } from '../devices/pit8254/pit.ts';
import { POST_PORT, PostPort } from '../devices/post/post.ts';
import {
  KBC_CMD_PORT,
  Kbc8042ResetPort,
  SYSCTRL_A_PORT,
  SystemControlPortA,
} from '../devices/reset/reset.ts';
import { loadMultiboot, type MultibootOptions } from '../loaders/multiboot/multiboot.ts';
import { loadFlat, type FlatOptions } from '../loaders/flat/flat.ts';
import type { BootState } from '../loaders/boot/boot-state.ts';
import { applyLinuxBootPlan, planLinuxBoot } from '../loaders/linux/linux.ts';
import type { LocalApic } from '../devices/lapic/lapic.ts';
import type { IrqLine } from '../devices/device.ts';
import { ACPI_S5_SLP_TYP } from '../platform/acpi/pm.ts';
import { initState, sipiState } from '../platform/smp.ts';
import { cpuSignature, enableApicMsrExits, enableTscClock, pcCpuidForVcpu, PcPlatform } from './platform.ts';
import { DEFAULT_TSC_HZ } from '../platform/tsc.ts';
import { MSR_IA32_TSC_DEADLINE } from '../devices/lapic/regs.ts';

/** IA32_TIME_STAMP_COUNTER (SDM Vol. 4 Table 2-2) */
const MSR_IA32_TSC = 0x10;
/** CPUID.1:ECX[21] x2APIC */
const LEAF1_ECX_X2APIC = 1 << 21;

export type RunOutcome = 'debug-exit' | 'shutdown' | 'hlt' | 'timeout' | 'backend-error' | 'host-error';

export interface RunResult {
  readonly outcome: RunOutcome;
  /** 'debug-exit' only: (value << 1) | 1 */
  readonly exitCode?: number;
  /** 'shutdown' only: the guest powered off cleanly (ACPI S5 through PM1a_CNT), not a fault or reset */
  readonly poweredOff?: boolean;
  /** everything the guest wrote to COM1 during this run (UTF-8 decoded) */
  readonly serial: string;
  /** one human-readable line: why the run ended */
  readonly detail: string;
  /** 'backend-error' from an emulation failure: the instruction bytes the backend reported */
  readonly insnBytes?: Uint8Array;
  /** guest RIP when the run ended, when the backend could report it */
  readonly rip?: bigint;
  readonly exits: number;
  /** machine-clock time the run took */
  readonly elapsedNs: number;
}

export type SerialInput = AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>;

export interface SerialOptions {
  out: (bytes: Uint8Array) => void;
  /** bytes for the UART's receiver (e.g. stdin) */
  input?: SerialInput;
}

export interface MachineOptions {
  backend: Backend;
  memoryBytes: number;
  /** the guest CPUID table (KVM_SET_CPUID2), also published as fw_cfg "etc/tsvmm/cpu-policy" */
  cpuid: readonly CpuidEntry[];
  /** vCPUs (default 1); more than 1 needs platform 'pc' (local APICs for INIT/SIPI) */
  vcpus?: number;
  /**
   * 'minimal' (default): 8259/8254/UART/fw_cfg and one vCPU, the machine the conformance guests use.
   * 'pc': adds local APICs, IOAPIC, RTC/CMOS, ACPI PM and tables, e820 (platform.ts), SMP.
   */
  platform?: 'minimal' | 'pc';
  /**
   * 'pc': guest TSC frequency (default 2 GHz). When the backend can run the vCPUs' TSC on the machine
   * clock (Vm.setTscClock: the interpreter) the guest TSC runs at this rate, CPUID reports it and
   * TSC-deadline may be offered; otherwise the TSC is the backend's own.
   */
  tscHz?: number;
  /** 'pc': RTC wall-clock seconds since 1970 at clock time 0 (default: the host's time) */
  rtcEpochSec?: number;
  serial?: SerialOptions;
  /** a MachineClock (or a plain Clock; waiting then uses host timers). Default: the host clock. */
  clock?: Clock | MachineClock;
  /** what a guest reset request (port 0x92, 0x64 ← 0xFE, system_event reset) does. Default 'stop'. */
  onReset?: 'stop' | 'reboot';
  /** diagnostic lines (unclaimed I/O, resets) */
  log?: (line: string) => void;
  /** the serial text kept in RunResult.serial is capped at this many bytes (default 16 MiB) */
  serialCaptureLimit?: number;
}

export interface RunOptions {
  /** wall (machine-clock) time limit */
  timeoutMs: number;
  /** instruction budget; only for backends whose vCPU counts retired instructions (see InstructionCounter) */
  maxInstructions?: number;
  /** exit budget (a guard for tests) */
  maxExits?: number;
}

/** Optional vCPU capability a backend may offer for RunOptions.maxInstructions. */
export interface InstructionCounter {
  retiredInstructions(): number;
}

/**
 * Optional vCPU capability: the longest one run() may last, in ms (the KVM backend's run slice; 0 =
 * unbounded). The loop shortens it to the next PIT edge or the time limit, so a guest that never exits
 * still gets every tick, and restores it when run() ends.
 */
export interface RunSlice {
  runSliceMs: number;
}

/** Shortest slice the loop asks for when a timer is due (each slice costs a timer signal and an exit). */
const MIN_RUN_SLICE_MS = 0.1;

export type BootImage =
  | ({ kind: 'multiboot' } & MultibootOptions)
  | ({ kind: 'flat' } & FlatOptions)
  /** a Linux bzImage (64-bit boot protocol, loaders/linux): ACPI tables and e820 from the platform */
  | {
      kind: 'linux';
      kernel: Uint8Array;
      initrd?: Uint8Array;
      cmdline?: string;
      kernelName?: string;
      /** unpack vmlinux on the host and enter startup_64 (loaders/linux/payload.ts) */
      hostDecompress?: boolean;
    }
  /** a ready-made entry state (the caller already wrote memory) */
  | { kind: 'state'; state: BootState };

export interface Machine {
  readonly memory: GuestMemory;
  readonly layout: MemoryLayout;
  readonly bus: Bus;
  /** the boot processor (vcpus[0]) */
  readonly vcpu: Vcpu;
  readonly vcpus: readonly Vcpu[];
  /** the PC platform parts (platform 'pc' only) */
  readonly platform: PcPlatform | undefined;
  readonly pic: PicPair;
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly fwCfg: FwCfg;
  readonly post: PostPort;
  readonly clock: MachineClock;
  /** Load an image into guest memory and set the vCPU to its entry state. */
  load(image: BootImage): BootState;
  run(opts: RunOptions): Promise<RunResult>;
  /** End the current run at the next exit with outcome 'timeout' and this detail (host-side stop). */
  requestStop(detail: string): void;
  /** Reset devices and, when an image was loaded, load it again (a warm reboot). */
  reset(): void;
  destroy(): void;
}

const MAX_REBOOTS = 8;
/** Yield to the event loop (serial input, signals) at least every this many exits. */
const YIELD_EVERY_EXITS = 256;
interface Stop {
  outcome: RunOutcome;
  detail: string;
  poweredOff?: boolean;
  exitCode?: number;
  insnBytes?: Uint8Array;
}

function insnHex(b: Uint8Array | undefined): string {
  return b && b.length ? [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ') : '(none)';
}

/** One vCPU of the machine and its run-loop state. */
interface VcpuSlot {
  readonly index: number;
  readonly vcpu: Vcpu;
  /** its local APIC (platform 'pc') */
  readonly lapic: LocalApic | undefined;
  /** CPUID.1:EAX, for the INIT / SIPI state */
  readonly signature: number;
  /** HLT executed; runs again when an interrupt, NMI or INIT is deliverable */
  halted: boolean;
  windowRequested: boolean;
  /** an ExtINT message arrived (IOAPIC or LVT): the next INTA goes to the 8259 */
  extInt: boolean;
}

class PcMachine implements Machine {
  readonly memory: GuestMemory;
  readonly layout: MemoryLayout;
  readonly bus = new Bus();
  readonly vcpus: Vcpu[] = [];
  readonly pic = new PicPair();
  readonly pit: Pit8254;
  readonly uart: Uart16550;
  readonly fwCfg: FwCfg;
  readonly post = new PostPort();
  readonly clock: MachineClock;
  readonly platform: PcPlatform | undefined;

  private readonly vm: Vm;
  private readonly slots: VcpuSlot[] = [];
  /** the vCPUs' TSC runs on this.clock at the platform's frequency (Vm.setTscClock accepted) */
  readonly tscFollowsClock: boolean = false;
  /** the guest TSC rate is known (tscFollowsClock, or the backend's guestTscHz): deadlines convert */
  readonly tscRateKnown: boolean = false;
  /** the guest TSC rate in Hz (meaningful when tscRateKnown) */
  readonly tscHz: number = DEFAULT_TSC_HZ;
  /** the APIC MSRs reach the machine (Vm.setUserspaceMsrs accepted): x2APIC may be offered */
  readonly apicMsrs: boolean = false;
  private stop: Stop | undefined;
  private lastImage: BootImage | undefined;
  private reboots = 0;
  private readonly onReset: 'stop' | 'reboot';
  private readonly log: (line: string) => void;
  private pendingReboot = false;

  // serial capture and input
  /** captured serial bytes (grown by doubling, no allocation per byte) */
  private serialBuf = new Uint8Array(4096);
  private serialBytes = 0;
  private serialTruncated = false;
  private readonly serialLimit: number;
  /** host bytes waiting for room in the UART receiver: rxQueue[rxHead…] */
  private rxQueue: number[] = [];
  private rxHead = 0;
  private inputOpen = false;
  private inputStarted = false;
  private wake = new AbortController();

  constructor(private readonly opts: MachineOptions) {
    const vcpus = opts.vcpus ?? 1;
    const kind = opts.platform ?? 'minimal';
    if (kind !== 'minimal' && kind !== 'pc')
      throw new TsvmmError('PLATFORM', `platform must be 'minimal' or 'pc', not '${String(kind)}'`);
    if (!Number.isInteger(vcpus) || vcpus < 1 || vcpus > 254)
      throw new TsvmmError('SMP_UNSUPPORTED', `${vcpus} vCPUs requested; tsvmm runs 1-254 vCPUs`);
    if (vcpus !== 1 && kind !== 'pc')
      throw new TsvmmError(
        'SMP_UNSUPPORTED',
        `${vcpus} vCPUs requested; the 'minimal' platform runs 1 vCPU (SMP needs platform 'pc' for the local APICs)`,
      );
    checkMemorySize(opts.memoryBytes);
    this.layout = computeLayout(opts.memoryBytes);
    this.clock = asMachineClock(opts.clock);
    this.onReset = opts.onReset ?? 'stop';
    this.log = opts.log ?? (() => {});
    this.serialLimit = opts.serialCaptureLimit ?? 16 * 1024 * 1024;

    this.vm = opts.backend.createVm();
    try {
      const buffers = this.layout.ram.map((r, slot) => {
        const buf = this.vm.allocateMemory(r.size);
        this.vm.setUserMemoryRegion({ slot, guestPhysAddr: BigInt(r.base), memory: buf, size: r.size });
        return buf;
      });
      this.memory = new GuestMemory(this.layout, buffers);
      const apicMsrs = kind === 'pc' && enableApicMsrExits(this.vm);
      if (kind === 'pc' && !apicMsrs)
        this.log(
          `the ${opts.backend.name} backend does not forward the APIC MSRs (Vm.setUserspaceMsrs): x2APIC and TSC-deadline hidden from the guest CPUID`,
        );
      let tscHz = opts.tscHz ?? DEFAULT_TSC_HZ;
      const tscClock = kind === 'pc' && enableTscClock(this.vm, this.clock, tscHz);
      for (let i = 0; i < vcpus; i++) this.vcpus.push(this.vm.createVcpu(i));
      // Without Vm.setTscClock the TSC is the backend's own; its real-time rate (KVM_GET_TSC_KHZ) is
      // enough to convert IA32_TSC_DEADLINE values relative to the vCPU's IA32_TSC at each write.
      let tscKnown = tscClock;
      if (kind === 'pc' && !tscClock) {
        const hz = this.vcpus[0]!.guestTscHz?.();
        if (hz !== undefined && Number.isSafeInteger(hz) && hz >= 1_000_000 && hz <= 100_000_000_000) {
          tscHz = hz;
          tscKnown = true;
        } else
          this.log(
            `the ${opts.backend.name} backend runs its own TSC at an unknown rate: no TSC frequency reported, TSC-deadline hidden`,
          );
      }
      this.apicMsrs = apicMsrs;
      this.tscFollowsClock = tscClock;
      this.tscRateKnown = tscKnown;
      this.tscHz = tscHz;
      this.vcpus.forEach((vcpu, i) =>
        vcpu.setCpuid(
          kind === 'pc'
            ? pcCpuidForVcpu(opts.cpuid, i, {
                apicMsrs,
                tscDeadline: apicMsrs && tscKnown,
                ...(tscKnown ? { tscHz, tscInvariant: tscClock } : {}),
              })
            : opts.cpuid,
        ),
      );
    } catch (e) {
      for (const v of this.vcpus) v.destroy();
      this.vm.destroy(); // no half-built VM left behind (KVM file descriptors, mappings)
      throw e;
    }

    this.fwCfg = new FwCfg({ cpus: vcpus, ramBytes: opts.memoryBytes, memory: this.memory });
    this.fwCfg.addFile(TSVMM_CPU_POLICY_FILE, encodeCpuPolicy(opts.cpuid));
    this.platform =
      kind === 'pc'
        ? new PcPlatform({
            vcpus,
            clock: this.clock,
            layout: this.layout,
            bus: this.bus,
            pic: this.pic,
            fwCfg: this.fwCfg,
            tscHz: this.tscHz,
            x2apic: this.apicMsrs && x2apicOffered(opts.cpuid),
            ...(opts.rtcEpochSec !== undefined ? { rtcEpochSec: opts.rtcEpochSec } : {}),
            onSleep: (typ) => this.sleep(typ),
            kick: () => this.kick(),
          })
        : undefined;
    const signature = cpuSignature(opts.cpuid);
    this.vcpus.forEach((vcpu, index) =>
      this.slots.push({
        index,
        vcpu,
        lapic: this.platform?.lapics[index],
        signature,
        halted: false,
        windowRequested: false,
        extInt: false,
      }),
    );
    /** ISA IRQ n: the 8259 alone, or the 8259 and the IOAPIC through the router */
    const isa = (n: number): IrqLine => (this.platform ? this.platform.router.isaLine(n) : this.pic.irqLine(n));

    const serialOut = opts.serial?.out;
    this.uart = new Uart16550((b) => this.serialOut(b, serialOut), isa(COM1_IRQ));
    this.pit = new Pit8254(this.clock, isa(PIT_IRQ));
    const requestReset = (why: string): void => this.guestReset(why);

    const b = this.bus;
    b.register('pio', PIC_MASTER_BASE, 2, this.pic.master);
    b.register('pio', PIC_SLAVE_BASE, 2, this.pic.slave);
    b.register('pio', PIC_ELCR_BASE, 2, this.pic.elcr);
    b.register('pio', PIT_BASE, PIT_PORTS, this.pit);
    b.register('pio', PORT_61, 1, new Port61Device(this.pit));
    b.register('pio', KBC_CMD_PORT, 1, new Kbc8042ResetPort(requestReset));
    b.register('pio', POST_PORT, 1, this.post);
    b.register('pio', SYSCTRL_A_PORT, 1, new SystemControlPortA(requestReset));
    b.register(
      'pio',
      DEBUG_EXIT_PORT,
      DEBUG_EXIT_SIZE,
      new DebugExit((status, v) => this.debugExit(status, v)),
    );
    b.register('pio', COM1_BASE, UART_PORTS, this.uart);
    b.register('pio', FW_CFG_PORT_BASE, FW_CFG_PORTS, this.fwCfg);
    b.onUnclaimed = (a) =>
      this.log(
        `unclaimed ${a.space} ${a.kind} ${hex(a.addr)} size ${a.size}${a.value !== undefined ? ` value ${hex(a.value)}` : ''}`,
      );
  }

  get vcpu(): Vcpu {
    return this.vcpus[0]!;
  }

  private serialOut(bytes: Uint8Array, sink: ((b: Uint8Array) => void) | undefined): void {
    sink?.(bytes);
    if (this.serialBytes + bytes.length <= this.serialLimit) {
      if (this.serialBytes + bytes.length > this.serialBuf.length) {
        const grown = new Uint8Array(Math.max(this.serialBuf.length * 2, this.serialBytes + bytes.length));
        grown.set(this.serialBuf.subarray(0, this.serialBytes));
        this.serialBuf = grown;
      }
      this.serialBuf.set(bytes, this.serialBytes);
      this.serialBytes += bytes.length;
    } else {
      this.serialTruncated = true;
    }
  }

  private debugExit(status: number, value: number): void {
    this.stop ??= {
      outcome: 'debug-exit',
      exitCode: status,
      detail: `guest wrote ${hex(value)} to the debug-exit port: exit status ${status}`,
    };
  }

  /** ACPI sleep request (PM1a_CNT SLP_EN): S5 is power-off; other states are not modelled. */
  private sleep(slpTyp: number): void {
    if (slpTyp === ACPI_S5_SLP_TYP) {
      this.stop ??= {
        outcome: 'shutdown',
        poweredOff: true,
        detail: `the guest powered off (ACPI S5: SLP_TYP ${slpTyp} | SLP_EN written to PM1a_CNT)`,
      };
    } else {
      this.log(`guest asked for ACPI sleep type ${slpTyp}; only S5 (power-off) is modelled, ignored`);
    }
  }

  requestStop(detail: string): void {
    this.stop ??= { outcome: 'timeout', detail: `stopped by the host: ${detail}` };
    this.wake.abort();
  }

  private guestReset(why: string): void {
    if (this.onReset === 'stop' || this.reboots >= MAX_REBOOTS) {
      const more = this.onReset === 'reboot' ? ` (after ${this.reboots} reboots)` : '';
      this.stop ??= { outcome: 'shutdown', detail: `guest requested a reset: ${why}${more}` };
      return;
    }
    this.reboots++;
    this.log(`guest reset (${why}); rebooting`);
    this.pendingReboot = true;
  }

  load(image: BootImage): BootState {
    let state: BootState;
    switch (image.kind) {
      case 'multiboot':
        state = loadMultiboot(this.memory, image);
        break;
      case 'flat':
        state = loadFlat(this.memory, image);
        break;
      case 'state':
        state = image.state;
        break;
      case 'linux': {
        const plan = planLinuxBoot({
          kernel: image.kernel,
          ...(image.initrd ? { initrd: image.initrd } : {}),
          cmdline: image.cmdline ?? '',
          layout: this.layout,
          ...(this.platform ? { acpi: this.platform.acpi } : {}),
          ...(image.kernelName !== undefined ? { kernelName: image.kernelName } : {}),
          ...(image.hostDecompress ? { hostDecompress: true } : {}),
        });
        state = applyLinuxBootPlan(this.memory, plan);
        break;
      }
    }
    this.applyState(this.vcpu, state);
    this.lastImage = image;
    return state;
  }

  private applyState(vcpu: Vcpu, state: Pick<BootState, 'regs' | 'sregs'>): void {
    const sregs = { ...vcpu.getSregs(), ...state.sregs, pendingInterrupt: -1 };
    vcpu.setSregs(sregs);
    vcpu.setRegs(state.regs);
  }

  reset(): void {
    this.bus.resetDevices();
    this.pic.reset();
    this.platform?.resetApics();
    for (const s of this.slots) {
      s.windowRequested = false;
      s.halted = false;
      s.extInt = false;
      s.vcpu.requestInterruptWindow(false);
    }
    if (this.lastImage) this.load(this.lastImage);
  }

  destroy(): void {
    this.wake.abort();
    this.inputOpen = false;
    for (const v of this.vcpus) v.destroy();
    this.vm.destroy();
  }

  private startInput(): void {
    if (this.inputStarted || !this.opts.serial?.input) return;
    this.inputStarted = true;
    this.inputOpen = true;
    const input = this.opts.serial.input;
    const enc = new TextEncoder();
    void (async () => {
      try {
        for await (const chunk of input as AsyncIterable<Uint8Array | string>) {
          if (!this.inputOpen) break;
          const bytes = typeof chunk === 'string' ? enc.encode(chunk) : chunk;
          for (const x of bytes) this.rxQueue.push(x);
          this.wake.abort();
        }
      } catch (e) {
        if (this.inputOpen) this.log(`serial input failed: ${(e as Error).message}`);
      } finally {
        this.inputOpen = false;
        this.wake.abort();
      }
    })();
  }

  /** Move host-side input into the UART as far as its receiver has room. */
  private feedSerial(): void {
    while (this.rxHead < this.rxQueue.length && this.uart.rxSpace() > 0)
      this.uart.receive(this.rxQueue[this.rxHead++]!);
    if (this.rxHead > 4096 && this.rxHead * 2 > this.rxQueue.length) {
      this.rxQueue = this.rxQueue.slice(this.rxHead);
      this.rxHead = 0;
    }
  }

  /** Poll every timer source (PIT, RTC, PM timer, local APIC timers) and the serial input. */
  private pollDevices(now: number = this.clock.nowNs()): void {
    this.pit.poll();
    this.platform?.poll(now);
    this.feedSerial();
  }

  /** The earliest time a device timer can raise an interrupt (clock ns), or undefined. */
  private nextEventNs(): number | undefined {
    const pit = this.pit.nextEventNs();
    const plat = this.platform?.nextEventNs();
    if (pit === undefined) return plat;
    return plat === undefined || pit < plat ? pit : plat;
  }

  /**
   * Where slot's next external interrupt comes from (platform/irq-routing.ts pendingInterruptSource,
   * plus an ExtINT message): the 8259 (BSP only; LINT0 virtual wire, APIC off, or ExtINT), the LAPIC.
   */
  private interruptSource(s: VcpuSlot): 'pic' | 'apic' | null {
    const lapic = s.lapic;
    if (lapic?.takeExtInt()) s.extInt = true;
    if (s.index === 0 && (!lapic || s.extInt || lapic.acceptsPicInterrupts()) && this.pic.hasInterrupt())
      return 'pic';
    if (lapic?.hasPendingInterrupt()) return 'apic';
    return null;
  }

  /**
   * A local APIC accepted something (IRR, NMI, INIT, SIPI, ExtINT): wake the loop if it waits, and take
   * INITs at once, so that a start-up IPI sent right after the INIT (before the target vCPU is next
   * scheduled) finds it in wait-for-SIPI instead of being wiped by a late INIT.
   */
  private kick(): void {
    this.wake.abort();
    for (let i = 0; i < this.slots.length; i++) this.takeInit(this.slots[i]!);
  }

  private takeInit(s: VcpuSlot): void {
    if (!s.lapic?.takeInit()) return;
    s.halted = false;
    s.windowRequested = false;
    s.extInt = false;
    s.vcpu.requestInterruptWindow(false);
    if (s.index === 0) this.log('INIT IPI to the BSP: registers kept (tsvmm has no firmware to re-run)');
    else this.applyState(s.vcpu, initState(s.signature));
  }

  /**
   * INIT and start-up IPIs (SDM Vol. 3A §9.4.4, platform/smp.ts): apply the INIT state and wait for a
   * SIPI, then start in real mode at vector << 12. Returns whether the vCPU may run now.
   */
  private mpReady(s: VcpuSlot): boolean {
    const lapic = s.lapic;
    if (!lapic) return true;
    this.takeInit(s);
    if (lapic.mpState === 'sipi-received') {
      const vector = lapic.startFromSipi();
      this.applyState(s.vcpu, sipiState(vector, s.signature));
      s.halted = false;
      this.log(`vCPU ${s.index} started by SIPI at ${hex(vector << 12)}`);
    }
    return lapic.mpState === 'runnable';
  }

  /** Can a halted vCPU resume (an interrupt it would take, or an NMI)? */
  private wakeable(s: VcpuSlot): boolean {
    if (s.lapic?.hasPendingNmi()) return true;
    return this.interruptSource(s) !== null && s.vcpu.interruptFlag();
  }

  /** Userspace irqchip: inject the pending vector when the vCPU can take it, else ask for a window. */
  private deliverInterrupts(s: VcpuSlot): void {
    const v = s.vcpu;
    if (s.lapic?.takeNmi()) v.injectNmi();
    const src = this.interruptSource(s);
    if (src !== null) {
      if (v.readyForInterruptInjection()) {
        if (src === 'pic') {
          s.extInt = false;
          v.injectInterrupt(this.pic.acknowledge());
        } else {
          v.injectInterrupt(s.lapic!.acknowledge());
        }
        if (s.windowRequested) {
          s.windowRequested = false;
          v.requestInterruptWindow(false);
        }
      } else if (!s.windowRequested) {
        s.windowRequested = true;
        v.requestInterruptWindow(true);
      }
    } else if (s.windowRequested) {
      s.windowRequested = false;
      v.requestInterruptWindow(false);
    }
  }

  private ioExit(exit: Extract<VcpuExit, { reason: 'io' }>): void {
    const { size, port, data } = exit;
    const n = exit.count > 0 ? exit.count : 1;
    for (let i = 0; i < n; i++) {
      const off = i * size;
      if (exit.direction === 'out') {
        let v = data[off]!;
        if (size >= 2) v |= data[off + 1]! << 8;
        if (size === 4) v |= (data[off + 2]! << 16) | (data[off + 3]! << 24);
        this.bus.write('pio', port, size, v >>> 0);
      } else {
        const v = this.bus.read('pio', port, size);
        data[off] = v & 0xff;
        if (size >= 2) data[off + 1] = (v >>> 8) & 0xff;
        if (size === 4) {
          data[off + 2] = (v >>> 16) & 0xff;
          data[off + 3] = (v >>> 24) & 0xff;
        }
      }
      if (this.stop) return; // e.g. debug-exit in the middle of a REP OUTS
    }
  }

  private mmioExit(exit: Extract<VcpuExit, { reason: 'mmio' }>): void {
    const addr = Number(exit.physAddr);
    const { data, len } = exit;
    // 8-byte (and odd-sized) accesses go as 4/2/1-byte pieces, little-endian
    let done = 0;
    while (done < len) {
      const left = len - done;
      const size: AccessSize = left >= 4 ? 4 : left >= 2 ? 2 : 1;
      if (exit.isWrite) {
        let v = 0;
        for (let i = 0; i < size; i++) v |= data[done + i]! << (8 * i);
        this.bus.write('mmio', addr + done, size, v >>> 0);
      } else {
        const v = this.bus.read('mmio', addr + done, size);
        for (let i = 0; i < size; i++) data[done + i] = (v >>> (8 * i)) & 0xff;
      }
      done += size;
    }
  }

  /**
   * RDMSR/WRMSR the backend forwarded (Vm.setUserspaceMsrs): the vCPU's local APIC answers; any other
   * index (KVM's "invalid MSR" exits) #GPs, as KVM would have done itself.
   */
  private msrExit(exit: Extract<VcpuExit, { reason: 'x86_rdmsr' | 'x86_wrmsr' }>, s: VcpuSlot): void {
    const lapic = s.lapic;
    if (!lapic) {
      exit.error = true; // no APIC on this platform: #GP, as for an MSR that does not exist
      return;
    }
    if (exit.reason === 'x86_wrmsr' && exit.index >>> 0 === MSR_IA32_TSC_DEADLINE && this.tscRateKnown) {
      // IA32_TSC_DEADLINE writes never fault; say so before reading IA32_TSC (on KVM a state ioctl
      // completes the pending exit)
      exit.error = false;
      this.anchorTsc(s);
    }
    if (exit.reason === 'x86_rdmsr') {
      const r = lapic.rdmsr(exit.index >>> 0);
      exit.error = r !== null;
      if (r === null) exit.data = (BigInt(lapic.msrHi >>> 0) << 32n) | BigInt(lapic.msrLo >>> 0);
    } else {
      const d = exit.data;
      const r = lapic.wrmsr(exit.index >>> 0, Number(d & 0xffffffffn), Number((d >> 32n) & 0xffffffffn));
      exit.error = r !== null;
    }
  }

  /**
   * Re-anchor the vCPU's deadline converter to its TSC now (the guest may have written IA32_TSC or
   * IA32_TSC_ADJUST since): TscSource offset = IA32_TSC - ticks(now).
   */
  private anchorTsc(s: VcpuSlot): void {
    const tsc = this.platform?.tscs[s.index];
    const t = s.vcpu.getMsrs([MSR_IA32_TSC])[0];
    if (!tsc || !t) return;
    const now = this.clock.nowNs();
    tsc.offset = Number(BigInt.asIntN(64, t.data)) - (tsc.tscAt(now) - tsc.offset);
  }

  private serialText(): string {
    const all = this.serialBuf.subarray(0, this.serialBytes);
    return (
      new TextDecoder().decode(all) + (this.serialTruncated ? '\n[tsvmm: serial capture truncated]\n' : '')
    );
  }

  private rip(vcpu: Vcpu): bigint | undefined {
    try {
      return vcpu.getRegs().rip;
    } catch {
      return undefined;
    }
  }

  /**
   * One exit → maybe a Stop. Returns 'halt' when the vCPU halted and should wait for an interrupt,
   * 'yield' when it should give up the thread (its slice ended).
   */
  private dispatch(exit: VcpuExit, s: VcpuSlot): 'halt' | 'yield' | undefined {
    switch (exit.reason) {
      case 'io':
        this.ioExit(exit);
        return undefined;
      case 'mmio':
        if (this.platform && s.lapic) this.platform.lapicPage.current = s.lapic;
        this.mmioExit(exit);
        return undefined;
      case 'x86_rdmsr':
      case 'x86_wrmsr':
        this.msrExit(exit, s);
        return undefined;
      case 'hlt':
        if (!s.vcpu.interruptFlag()) {
          // An AP parked with interrupts off (e.g. stop_this_cpu) waits for NMI/INIT; the BSP ends the run.
          if (s.index === 0) {
            this.stop ??= {
              outcome: 'hlt',
              detail: 'the guest halted with interrupts disabled (HLT with RFLAGS.IF=0)',
            };
            return undefined;
          }
        }
        return 'halt';
      case 'shutdown':
        this.stop ??= {
          outcome: 'shutdown',
          detail: `the guest triple-faulted (shutdown${exit.why ? `: ${exit.why}` : ''}${this.slots.length > 1 ? `, vCPU ${s.index}` : ''})`,
        };
        return undefined;
      case 'system_event':
        // KVM_SYSTEM_EVENT_SHUTDOWN = 1, _RESET = 2, _CRASH = 3
        if (exit.type === 2) this.guestReset('system_event reset');
        else
          this.stop ??= {
            outcome: 'shutdown',
            detail: `system event ${exit.type === 1 ? 'shutdown' : exit.type === 3 ? 'crash' : exit.type}`,
          };
        return undefined;
      case 'internal_error':
        this.stop ??= {
          outcome: 'backend-error',
          detail:
            `backend internal error (suberror ${exit.suberror}${exit.suberror === 1 ? ', emulation failure' : ''})` +
            (exit.message ? `: ${exit.message}` : '') +
            (exit.message?.includes(insnHex(exit.insnBytes))
              ? ''
              : `; instruction bytes: ${insnHex(exit.insnBytes)}`),
          ...(exit.insnBytes ? { insnBytes: exit.insnBytes.slice() } : {}),
        };
        return undefined;
      case 'fail_entry':
        this.stop ??= {
          outcome: 'backend-error',
          detail: `VM entry failed (hardware reason ${hex(exit.hardwareEntryFailureReason)}, cpu ${exit.cpu})`,
        };
        return undefined;
      case 'unknown':
        this.stop ??= {
          outcome: 'backend-error',
          detail: `unknown exit (hardware reason ${hex(exit.hardwareExitReason)})`,
        };
        return undefined;
      case 'debug':
        this.stop ??= {
          outcome: 'backend-error',
          detail: `unexpected debug exit (exception ${exit.exception} at ${hex(exit.pc)}); tsvmm does not enable guest debugging`,
        };
        return undefined;
      case 'intr':
        return 'yield';
      case 'irq_window_open':
        return undefined;
    }
  }

  /**
   * The next vCPU to run, round-robin from `from` (the current one first): one that is runnable
   * (past INIT/SIPI) and not halted, or halted with something now deliverable. -1 when none is.
   */
  private pickSlot(from: number): number {
    const n = this.slots.length;
    for (let k = 0; k < n; k++) {
      const i = (from + k) % n;
      const s = this.slots[i]!;
      if (!this.mpReady(s)) continue;
      if (s.halted) {
        if (!this.wakeable(s)) continue;
        s.halted = false;
      }
      return i;
    }
    return -1;
  }

  async run(opts: RunOptions): Promise<RunResult> {
    if (!(opts.timeoutMs > 0) || !Number.isFinite(opts.timeoutMs)) {
      throw new TsvmmError(
        'RUN_OPTIONS',
        `timeoutMs must be a positive number of milliseconds (got ${opts.timeoutMs})`,
      );
    }
    const counter = this.vcpu as Partial<InstructionCounter>;
    if (opts.maxInstructions !== undefined && typeof counter.retiredInstructions !== 'function') {
      throw new TsvmmError(
        'RUN_OPTIONS',
        `this backend does not count instructions, so maxInstructions cannot be honoured`,
      );
    }
    this.stop = undefined;
    this.serialBytes = 0;
    this.serialTruncated = false;
    this.startInput();
    const start = this.clock.nowNs();
    const deadline = start + opts.timeoutMs * 1e6;
    const insnStart = opts.maxInstructions !== undefined ? counter.retiredInstructions!() : 0;
    // The RunSlice capability, per vCPU (all vCPUs of one backend share the property's presence).
    const sliced = this.vcpus.map((v) =>
      typeof (v as Partial<RunSlice>).runSliceMs === 'number' ? (v as unknown as RunSlice) : undefined,
    );
    const baseSlice = sliced.map((x) => x?.runSliceMs ?? 0);
    let exits = 0;
    let sinceYield = 0;
    let cur = 0;

    const finish = (s: Stop): RunResult => {
      sliced.forEach((x, i) => {
        if (x && x.runSliceMs !== baseSlice[i]) x.runSliceMs = baseSlice[i]!;
      });
      return result(s);
    };
    const result = (s: Stop): RunResult => ({
      outcome: s.outcome,
      ...(s.exitCode !== undefined ? { exitCode: s.exitCode } : {}),
      ...(s.poweredOff ? { poweredOff: true } : {}),
      ...(s.insnBytes ? { insnBytes: s.insnBytes } : {}),
      serial: this.serialText(),
      detail: s.detail,
      rip: this.rip(this.vcpus[cur] ?? this.vcpu),
      exits,
      elapsedNs: this.clock.nowNs() - start,
    });

    try {
      for (;;) {
        if (this.pendingReboot) {
          this.pendingReboot = false;
          this.reset();
        }
        if (this.stop) return finish(this.stop);
        const now = this.clock.nowNs();
        this.pollDevices(now);
        if (now >= deadline)
          return finish({
            outcome: 'timeout',
            detail: `the guest did not finish within ${opts.timeoutMs} ms`,
          });
        if (opts.maxExits !== undefined && exits >= opts.maxExits)
          return finish({ outcome: 'timeout', detail: `exit budget of ${opts.maxExits} exits used up` });
        if (
          opts.maxInstructions !== undefined &&
          counter.retiredInstructions!() - insnStart >= opts.maxInstructions
        ) {
          return finish({
            outcome: 'timeout',
            detail: `instruction budget of ${opts.maxInstructions} used up`,
          });
        }
        const next = this.pickSlot(cur);
        if (next < 0) {
          // Every vCPU is halted or waiting for a SIPI: wait for a timer, serial input or a kick.
          const w = await this.waitWhileHalted(deadline);
          if (w) return finish(w);
          sinceYield = 0;
          continue;
        }
        cur = next;
        const s = this.slots[cur]!;
        this.deliverInterrupts(s);
        const sl = sliced[cur];
        const base = baseSlice[cur]!;
        if (sl && base > 0) {
          const due = Math.min(this.nextEventNs() ?? deadline, deadline) - this.clock.nowNs();
          sl.runSliceMs = Math.min(base, Math.max(due / 1e6, MIN_RUN_SLICE_MS));
        }

        let exit: VcpuExit;
        try {
          exit = s.vcpu.run();
        } catch (e) {
          if (e instanceof BackendError) {
            return finish({
              outcome: 'backend-error',
              detail: `KVM_RUN failed${this.slots.length > 1 ? ` on vCPU ${cur}` : ''}: ${e.code}: ${e.message}${e.reason ? ` (${e.reason})` : ''}`,
            });
          }
          throw e;
        }
        exits++;
        sinceYield++;
        const r = this.dispatch(exit, s);
        if (r === 'halt') {
          s.halted = true;
          cur = (cur + 1) % this.slots.length;
        } else if (r === 'yield' || sinceYield >= YIELD_EVERY_EXITS) {
          if (r === 'yield') cur = (cur + 1) % this.slots.length;
          sinceYield = 0;
          await new Promise<void>((res) => setImmediate(res));
        }
      }
    } catch (e) {
      const msg =
        e instanceof TsvmmError
          ? `${e.message} [${e.code}]`
          : e instanceof Error
            ? `${e.name}: ${e.message}`
            : String(e);
      return finish({ outcome: 'host-error', detail: `tsvmm failed while running the guest: ${msg}` });
    }
  }

  /** No vCPU can run: wait for the next timer event or serial input, until one can. */
  private async waitWhileHalted(deadline: number): Promise<Stop | undefined> {
    for (;;) {
      this.pollDevices();
      if (this.stop) return undefined;
      if (this.slots.some((s) => (s.lapic ? s.lapic.mpState !== 'init-received' : true) && this.wakeable(s)))
        return undefined;
      if (this.slots.some((s) => s.lapic?.mpState === 'sipi-received')) return undefined;
      const now = this.clock.nowNs();
      if (now >= deadline)
        return {
          outcome: 'timeout',
          detail: 'the guest was halted waiting for an interrupt when the time limit came',
        };
      const next = this.nextEventNs();
      if (next === undefined && !this.inputOpen && this.rxHead >= this.rxQueue.length) {
        return {
          outcome: 'hlt',
          detail:
            'the guest halted with interrupts enabled but no timer armed and no serial input to wake it',
        };
      }
      if (this.wake.signal.aborted) this.wake = new AbortController();
      await this.clock.waitUntil(Math.min(next ?? deadline, deadline), this.wake.signal);
    }
  }
}

function x2apicOffered(cpuid: readonly CpuidEntry[]): boolean {
  const l1 = cpuid.find((e) => e.function === 1 && e.index === 0);
  return l1 !== undefined && (l1.ecx & LEAF1_ECX_X2APIC) !== 0;
}

/** Build the PC: RAM, bus, devices, the vCPUs with the given CPUID (and the 'pc' platform parts). */
export function createMachine(opts: MachineOptions): Machine {
  return new PcMachine(opts);
}
