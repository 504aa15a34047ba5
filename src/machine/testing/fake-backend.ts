// A scripted test double of the Backend/Vm/Vcpu interfaces (vcpu/backend.ts): run() returns a fixed
// sequence of VcpuExits (or computes one from a step function), and every call the machine makes
// (setRegs, setSregs, injectInterrupt, requestInterruptWindow) is recorded so tests can check the
// run loop's dispatch and outcomes without KVM or the interpreter.

import type {
  Backend,
  BackendName,
  Fpu,
  MemoryRegion,
  MsrEntry,
  Regs,
  Segment,
  Sregs,
  Vcpu,
  VcpuExit,
  Vm,
  Xcr,
} from '../../vcpu/backend.ts';
import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import { zeroRegs } from '../../loaders/boot/boot-state.ts';

/** One step of the script: an exit, or a function of the vCPU producing one (it may mutate state). */
export type ScriptStep = VcpuExit | ((vcpu: FakeVcpu) => VcpuExit);

function resetSegment(selector: number, type: number, s = true): Segment {
  return {
    base: 0n,
    limit: 0xffff,
    selector,
    type,
    present: true,
    dpl: 0,
    db: false,
    s,
    l: false,
    g: false,
    avl: false,
    unusable: false,
  };
}

export function resetSregs(): Sregs {
  return {
    cs: { ...resetSegment(0xf000, 0xb), base: 0xffff0000n },
    ds: resetSegment(0, 3),
    es: resetSegment(0, 3),
    fs: resetSegment(0, 3),
    gs: resetSegment(0, 3),
    ss: resetSegment(0, 3),
    tr: resetSegment(0, 0xb, false),
    ldt: resetSegment(0, 2, false),
    gdt: { base: 0n, limit: 0xffff },
    idt: { base: 0n, limit: 0xffff },
    cr0: 0x60000010n,
    cr2: 0n,
    cr3: 0n,
    cr4: 0n,
    cr8: 0n,
    efer: 0n,
    apicBase: 0xfee00900n,
    pendingInterrupt: -1,
  };
}

export class FakeVcpu implements Vcpu {
  regs: Regs = { ...zeroRegs(), rip: 0xfff0n, rflags: 2n };

  sregs: Sregs = resetSregs();
  cpuid: CpuidEntry[] = [];
  injected: number[] = [];
  windowRequests: boolean[] = [];
  /** what readyForInterruptInjection() answers */
  ready = true;
  /** what interruptFlag() answers */
  ifFlag = false;
  runs = 0;
  destroyed = false;
  /** exits returned after the script runs out */
  fallback: VcpuExit = { reason: 'intr' };

  constructor(
    readonly id: number,
    private readonly script: ScriptStep[],
  ) {}

  setCpuid(entries: readonly CpuidEntry[]): void {
    this.cpuid = [...entries];
  }
  getCpuid(): CpuidEntry[] {
    return [...this.cpuid];
  }
  getRegs(): Regs {
    return { ...this.regs };
  }
  setRegs(regs: Regs): void {
    this.regs = { ...regs };
  }
  getSregs(): Sregs {
    return structuredClone(this.sregs);
  }
  setSregs(sregs: Sregs): void {
    this.sregs = structuredClone(sregs);
  }
  getMsrs(_indices: readonly number[]): MsrEntry[] {
    return [];
  }
  setMsrs(_entries: readonly MsrEntry[]): number {
    return 0;
  }
  getXcrs(): Xcr[] {
    return [{ xcr: 0, value: 1n }];
  }
  setXcrs(_xcrs: readonly Xcr[]): void {}
  getFpu(): Fpu {
    return {
      fpr: new Uint8Array(128),
      fcw: 0x37f,
      fsw: 0,
      ftwx: 0,
      lastOpcode: 0,
      lastIp: 0n,
      lastDp: 0n,
      xmm: new Uint8Array(256),
      mxcsr: 0x1f80,
    };
  }
  setFpu(_fpu: Fpu): void {}
  injectInterrupt(vector: number): void {
    this.injected.push(vector);
  }
  injectNmi(): void {}
  requestInterruptWindow(on: boolean): void {
    this.windowRequests.push(on);
  }
  readyForInterruptInjection(): boolean {
    return this.ready;
  }
  interruptFlag(): boolean {
    return this.ifFlag;
  }
  run(): VcpuExit {
    const step = this.script[this.runs++];
    if (step === undefined) return this.fallback;
    return typeof step === 'function' ? step(this) : step;
  }
  destroy(): void {
    this.destroyed = true;
  }
}

export class FakeVm implements Vm {
  readonly regions: MemoryRegion[] = [];
  readonly vcpus: FakeVcpu[] = [];
  constructor(private readonly script: ScriptStep[]) {}
  allocateMemory(bytes: number): ArrayBuffer {
    return new ArrayBuffer(bytes);
  }
  setUserMemoryRegion(region: MemoryRegion): void {
    this.regions.push(region);
  }
  createVcpu(id: number): FakeVcpu {
    const v = new FakeVcpu(id, this.script);
    this.vcpus.push(v);
    return v;
  }
  destroyed = false;
  destroy(): void {
    this.destroyed = true;
  }
}

export class FakeBackend implements Backend {
  readonly vms: FakeVm[] = [];
  constructor(
    private readonly script: ScriptStep[] = [],
    readonly name: BackendName = 'interp',
  ) {}
  supportedCpuid(): CpuidEntry[] {
    return [{ function: 0, index: 0, flags: 0, eax: 1, ebx: 0x756e6547, ecx: 0x6c65746e, edx: 0x49656e69 }];
  }
  emulatedCpuid(): CpuidEntry[] {
    return [];
  }
  msrIndexList(): number[] {
    return [];
  }
  createVm(): FakeVm {
    const vm = new FakeVm(this.script);
    this.vms.push(vm);
    return vm;
  }
}

/** Exit helpers */
export function outExit(port: number, size: 1 | 2 | 4, value: number): VcpuExit {
  const data = new Uint8Array(size);
  for (let i = 0; i < size; i++) data[i] = (value >>> (8 * i)) & 0xff;
  return { reason: 'io', direction: 'out', port, size, count: 1, data };
}
/** An IN exit; the test keeps `data` to see what the machine filled in. */
export function inExit(port: number, size: 1 | 2 | 4): Extract<VcpuExit, { reason: 'io' }> {
  return { reason: 'io', direction: 'in', port, size, count: 1, data: new Uint8Array(size) };
}
export function outString(port: number, text: string): VcpuExit {
  const data = new TextEncoder().encode(text);
  return { reason: 'io', direction: 'out', port, size: 1, count: data.length, data };
}
