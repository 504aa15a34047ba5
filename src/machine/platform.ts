// The PC platform around the vCPUs (src/platform/README.md is the recipe): one local APIC per vCPU on
// an APIC bus (Intel SDM Vol. 3A ch. 11), the xAPIC MMIO page at 0xFEE00000 (§11.4.1), the IOAPIC at
// 0xFEC00000 (82093AA datasheet), the ISA interrupt router (8259 + IOAPIC with the ACPI 6.5 §5.2.12.5
// overrides), the RTC/CMOS (MC146818A) with the firmware's memory-size bytes, the ACPI PM register
// blocks (ACPI 6.5 §4.8) and the boot tables (ACPI tables, e820) for this memory size and vCPU count.
// The machine (machine.ts) owns the run loop; this file only builds and polls the parts.
//
// Per-vCPU CPUID (what firmware/QEMU set per vCPU, SDM Vol. 2A CPUID): leaf 1 EBX[31:24] = initial
// APIC ID, leaves 0xB/0x1F EDX = x2APIC ID, leaf 1 EDX[9] APIC = 1 (the platform has local APICs).
// x2APIC (1:ECX[21]) is only offered when the backend forwards the APIC MSRs to the VMM
// (Vm.setUserspaceMsrs, KVM_CAP_X86_USER_SPACE_MSR): otherwise the guest would write MSRs nobody
// implements (KVM without an in-kernel irqchip drops IA32_TSC_DEADLINE writes and #GPs x2APIC MSRs).
// TSC-deadline (1:ECX[24]) also needs a guest TSC of known rate — following the machine clock
// (Vm.setTscClock: the interpreter) or KVM's (Vcpu.guestTscHz) — so IA32_TSC_DEADLINE values convert to
// clock time; the guest is then also told its frequency (leaves 0x15/0x16, 0x40000010;
// platform/tsc.ts) and, for the machine-clock TSC, that it is invariant (0x80000007:EDX[8]).

import type { CpuidEntry } from '../arch/x86/cpuid/table.ts';
import type { Clock } from '../devices/device.ts';
import type { MsrRange, Vm } from '../vcpu/backend.ts';
import type { MachineClock } from './clock.ts';
import { ApicBus } from '../devices/lapic/apic-bus.ts';
import { LocalApic } from '../devices/lapic/lapic.ts';
import { LapicPage } from '../devices/lapic/lapic-page.ts';
import {
  DeliveryMode,
  LapicReg,
  Svr,
  LAPIC_DEFAULT_BASE,
  LAPIC_MMIO_SIZE,
  MSR_IA32_APIC_BASE,
  MSR_IA32_TSC_DEADLINE,
  X2APIC_MSR_BASE,
  X2APIC_MSR_LAST,
} from '../devices/lapic/regs.ts';
import { IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE, IoApic } from '../devices/ioapic/ioapic.ts';
import { RTC_BASE, RTC_IRQ, RTC_PORTS, Rtc } from '../devices/rtc/rtc.ts';
import { cmosMemoryBytes } from '../devices/rtc/cmos-memory.ts';
import { InterruptRouter, SCI_IRQ, type IrqSink } from '../platform/irq-routing.ts';
import { AcpiPm, ACPI_PM_BASE, ACPI_PM_PORTS } from '../platform/acpi/pm.ts';
import { buildAcpiTables, type AcpiTables } from '../platform/acpi/tables.ts';
import { buildE820, encodeE820 } from '../platform/e820.ts';
import {
  cpuidLeaf15,
  cpuidLeaf16,
  DEFAULT_TSC_HZ,
  FixedTsc,
  hypervisorTimingLeaves,
  type TscSource,
} from '../platform/tsc.ts';
import type { Bus } from './bus.ts';
import { E820, type E820Entry, type MemoryLayout } from './layout.ts';
import type { FwCfg } from '../devices/fw-cfg/fw-cfg.ts';

/** The MSRs the CPU forwards to its local APIC (LocalApic.handlesMsr). */
export const LAPIC_MSR_RANGES: readonly MsrRange[] = [
  { base: MSR_IA32_APIC_BASE, count: 1 },
  { base: MSR_IA32_TSC_DEADLINE, count: 1 },
  { base: X2APIC_MSR_BASE, count: X2APIC_MSR_LAST - X2APIC_MSR_BASE + 1 },
];

/** QEMU's fw_cfg name for the e820 map (20-byte struct boot_e820_entry records). */
export const FW_CFG_E820_FILE = 'etc/e820';

/** CPUID bits this file edits (SDM Vol. 2A Table 3-10/3-11). */
const Leaf1 = { ECX_X2APIC: 1 << 21, ECX_TSC_DEADLINE: 1 << 24, EDX_APIC: 1 << 9 } as const;
/** CPUID 0x80000007:EDX[8] invariant TSC (SDM Vol. 2A; AMD APM Vol. 3 E.4.7 "TscInvariant") */
const EDX_INVARIANT_TSC = 1 << 8;

export interface CpuidEdits {
  /** the APIC MSRs reach the VMM: x2APIC may be offered */
  readonly apicMsrs: boolean;
  /**
   * TSC-deadline may be offered: needs the APIC MSRs and a guest TSC whose rate the machine knows
   * (Vm.setTscClock, or Vcpu.guestTscHz on KVM), so IA32_TSC_DEADLINE values convert to clock time.
   */
  readonly tscDeadline: boolean;
  /**
   * The guest TSC runs at this frequency (the machine clock's, Vm.setTscClock; or KVM's real-time rate,
   * Vcpu.guestTscHz): report it (leaves 0x15, 0x16, 0x40000010, max basic leaf raised to 0x16 if lower).
   * Undefined: the rate is unknown; no frequency is promised.
   */
  readonly tscHz?: number;
  /** with tscHz: the TSC follows the machine clock, so it is invariant (0x80000007:EDX[8]); default true */
  readonly tscInvariant?: boolean;
}

/** The guest CPUID of vCPU `apicId` on the PC platform (see the header). Returns a new table. */
export function pcCpuidForVcpu(
  table: readonly CpuidEntry[],
  apicId: number,
  edits: CpuidEdits,
): CpuidEntry[] {
  const out = table.map((e) => {
    if (e.function === 1) {
      let ecx = e.ecx;
      if (!edits.apicMsrs) ecx &= ~Leaf1.ECX_X2APIC;
      if (!edits.apicMsrs || !edits.tscDeadline) ecx &= ~Leaf1.ECX_TSC_DEADLINE;
      return {
        ...e,
        ebx: ((e.ebx & 0x00ffffff) | ((apicId & 0xff) << 24)) >>> 0,
        ecx: ecx >>> 0,
        edx: (e.edx | Leaf1.EDX_APIC) >>> 0,
      };
    }
    if (e.function === 0xb || e.function === 0x1f) return { ...e, edx: apicId >>> 0 };
    return { ...e };
  });
  return edits.tscHz === undefined ? out : withTscLeaves(out, edits.tscHz, edits.tscInvariant ?? true);
}

/**
 * Tell the guest its TSC frequency and that the TSC is invariant (platform/tsc.ts): CPUID 0x15 and 0x16
 * (raising the max basic leaf to 0x16 when it is lower), the hypervisor leaves 0x40000000 (max leaf ≥
 * 0x40000010, signature kept) and 0x40000010, and (invariant) 0x80000007:EDX[8] when the extended range has it.
 */
export function withTscLeaves(table: readonly CpuidEntry[], tscHz: number, invariant = true): CpuidEntry[] {
  const replaced = new Set([0x15, 0x16, 0x40000010]);
  const out = table.filter((e) => !replaced.has(e.function)).map((e) => ({ ...e }));
  const leaf0 = out.find((e) => e.function === 0);
  if (leaf0 && leaf0.eax >>> 0 < 0x16) leaf0.eax = 0x16;
  const [hv0, hv1, hv10] = hypervisorTimingLeaves(tscHz);
  const h0 = out.find((e) => e.function === 0x40000000);
  if (h0) h0.eax = Math.max(h0.eax >>> 0, 0x40000010);
  else out.push(hv0!);
  if (!out.some((e) => e.function === 0x40000001)) out.push(hv1!);
  out.push(cpuidLeaf15(tscHz), cpuidLeaf16(tscHz), hv10!);
  const ext = out.find((e) => e.function === 0x80000000);
  const e7 = out.find((e) => e.function === 0x80000007);
  if (invariant && ext && ext.eax >>> 0 >= 0x80000007) {
    if (e7) e7.edx = (e7.edx | EDX_INVARIANT_TSC) >>> 0;
    else
      out.push({ function: 0x80000007, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: EDX_INVARIANT_TSC });
  }
  return out.sort((a, b) => a.function - b.function || a.index - b.index);
}

/** CPUID.1:EAX, the processor signature that INIT and SIPI leave in EDX (SDM Vol. 3A §9.1.4). */
export function cpuSignature(table: readonly CpuidEntry[]): number {
  return table.find((e) => e.function === 1 && e.index === 0)?.eax ?? 0x600;
}

export interface PcPlatformOptions {
  vcpus: number;
  clock: Clock;
  layout: MemoryLayout;
  bus: Bus;
  /** the 8259 pair as an IRQ sink */
  pic: IrqSink;
  fwCfg: FwCfg;
  /** guest TSC frequency for IA32_TSC_DEADLINE (default 2 GHz) */
  tscHz?: number;
  /** CPUID.1:ECX.x2APIC is offered: may the guest set IA32_APIC_BASE.EXTD (default true) */
  x2apic?: boolean;
  /** RTC wall-clock seconds at clock 0 (default: the host's time) */
  rtcEpochSec?: number;
  /** the guest asked for a sleep state (SLP_TYP written with SLP_EN) */
  onSleep: (slpTyp: number) => void;
  /** something became deliverable to a vCPU (wake the run loop) */
  kick: () => void;
}

export class PcPlatform {
  readonly apicBus = new ApicBus();
  readonly lapics: LocalApic[] = [];
  readonly lapicPage: LapicPage;
  readonly ioapic: IoApic;
  readonly router: InterruptRouter;
  readonly rtc: Rtc;
  readonly pm: AcpiPm;
  /** the guest TSC at offset 0 (what every vCPU's TSC reads until the guest moves it) */
  readonly tsc: TscSource;
  /**
   * per vCPU: the TSC its local APIC converts IA32_TSC_DEADLINE with; the machine re-anchors its
   * offset to the vCPU's IA32_TSC on each deadline write (a guest may have moved its TSC)
   */
  readonly tscs: FixedTsc[] = [];
  readonly acpi: AcpiTables;
  /** the map the guest gets (boot_params, fw_cfg etc/e820): the layout with the ACPI region reserved */
  readonly e820: readonly E820Entry[];

  constructor(opts: PcPlatformOptions) {
    this.tsc = new FixedTsc(opts.tscHz);
    const apicIds = Array.from({ length: opts.vcpus }, (_, i) => i);
    for (const id of apicIds) {
      const tsc = new FixedTsc(this.tsc.hz);
      this.tscs.push(tsc);
      this.lapics.push(
        new LocalApic({
          id,
          bsp: id === 0,
          bus: this.apicBus,
          clock: opts.clock,
          tsc,
          kick: opts.kick,
          x2apic: opts.x2apic ?? true,
        }),
      );
    }
    this.parkAps();
    this.lapicPage = new LapicPage(this.lapics[0]!);
    // IOAPIC ID after the CPUs' APIC IDs, as the MADT states (acpi/tables.ts default).
    const ioapicId = opts.vcpus;
    this.ioapic = new IoApic(this.apicBus, ioapicId);
    this.router = new InterruptRouter({ pic: opts.pic, ioapic: this.ioapic });
    this.rtc = new Rtc({
      clock: opts.clock,
      irq: this.router.isaLine(RTC_IRQ),
      ...(opts.rtcEpochSec !== undefined ? { epochSec: opts.rtcEpochSec } : {}),
    });
    for (const [i, v] of cmosMemoryBytes(opts.layout, opts.vcpus)) this.rtc.setCmosByte(i, v);
    this.pm = new AcpiPm(opts.clock, this.router.isaLine(SCI_IRQ), opts.onSleep);
    this.acpi = buildAcpiTables({ apicIds, ioapicId });
    this.e820 = buildE820(opts.layout, [
      { base: this.acpi.region.base, size: this.acpi.region.size, type: E820.RESERVED },
    ]);
    opts.fwCfg.addFile(FW_CFG_E820_FILE, encodeE820(this.e820));

    const b = opts.bus;
    b.register('mmio', LAPIC_DEFAULT_BASE, LAPIC_MMIO_SIZE, this.lapicPage);
    b.register('mmio', IOAPIC_DEFAULT_BASE, IOAPIC_MMIO_SIZE, this.ioapic);
    b.register('pio', RTC_BASE, RTC_PORTS, this.rtc);
    b.register('pio', ACPI_PM_BASE, ACPI_PM_PORTS, this.pm);
  }

  /**
   * Power-on as the firmware leaves it: application processors in wait-for-SIPI
   * (KVM_MP_STATE_INIT_RECEIVED); the BSP's APIC software-enabled in virtual-wire mode (MP spec 1.4
   * §3.6.2.2: LINT0 = ExtINT, LINT1 = NMI, as SeaBIOS leaves it and KVM's LINT0 quirk does), so the
   * 8259 reaches the BSP until the OS programs the APIC.
   */
  private parkAps(): void {
    const bsp = this.lapics[0]!;
    bsp.writeRegister(LapicReg.SVR, Svr.APIC_ENABLE | 0xff);
    bsp.writeRegister(LapicReg.LVT_LINT0, DeliveryMode.EXTINT << 8);
    bsp.writeRegister(LapicReg.LVT_LINT1, DeliveryMode.NMI << 8);
    for (let i = 1; i < this.lapics.length; i++) this.lapics[i]!.mpState = 'init-received';
  }

  /** Power-on reset of the APICs (the bus resets the registered devices). */
  resetApics(): void {
    for (const a of this.lapics) a.reset();
    this.parkAps();
  }

  /** Bring timers up to date: RTC and PM-timer flags, local APIC timers due at `now`. */
  poll(now: number): void {
    this.rtc.poll();
    this.pm.poll();
    for (let i = 0; i < this.lapics.length; i++) this.lapics[i]!.tick(now);
  }

  /** The earliest time (clock ns) a platform timer can raise an interrupt, or undefined. */
  nextEventNs(): number | undefined {
    let next = this.rtc.nextEventNs();
    const pm = this.pm.nextEventNs();
    if (pm !== undefined && (next === undefined || pm < next)) next = pm;
    for (let i = 0; i < this.lapics.length; i++) {
      const t = this.lapics[i]!.nextTimerDeadlineNs();
      if (t !== undefined && (next === undefined || t < next)) next = t;
    }
    return next;
  }
}

/** Ask the backend to forward the local APIC MSRs (false when it cannot). */
export function enableApicMsrExits(vm: Vm): boolean {
  if (typeof vm.setUserspaceMsrs !== 'function') return false;
  return vm.setUserspaceMsrs(LAPIC_MSR_RANGES);
}

/** Ask the backend to run every vCPU's TSC at `hz` on the machine clock (false when it cannot). */
export function enableTscClock(vm: Vm, clock: MachineClock, hz: number = DEFAULT_TSC_HZ): boolean {
  if (typeof vm.setTscClock !== 'function') return false;
  return vm.setTscClock({ hz, nowNs: () => clock.nowNs() });
}
