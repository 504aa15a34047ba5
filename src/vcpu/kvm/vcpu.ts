// One KVM vCPU: the vCPU file descriptor and its mmap'd kvm_run page (Linux
// Documentation/virt/kvm/api.rst §4 "vcpu ioctl", §5 "The kvm_run structure").
//
// run() is KVM_RUN bounded by a time slice (default 10 ms, KVM_EXIT_INTR semantics): a guest that
// never exits still comes back as { reason: 'intr' } so the machine can poll timers, inject
// interrupts and honour its time limit (native/tsvmm_kvm.c, "Bounded KVM_RUN").
//
// Completing an exit: api.rst (kvm_run, the NOTE after KVM_EXIT_MMIO) says the operation behind a
// KVM_EXIT_IO or KVM_EXIT_MMIO is complete, and guest state consistent, only once userspace has
// re-entered KVM_RUN; the kernel first finishes it, then checks for pending signals. So an 'intr'
// after an IN exit still delivered the IN data. Before reading or writing vCPU state after such an
// exit this class re-enters KVM_RUN with kvm_run.immediate_exit = 1: KVM completes the pending
// operation and returns -EINTR without running the guest (the KVM selftests' "complete IO" step). The
// exit's data must therefore be filled before any get/set of vCPU state, as before the next run().

import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import type { Fpu, MsrEntry, Regs, Sregs, Vcpu, VcpuExit, Xcr } from '../backend.ts';
import { BackendError } from '../backend.ts';
import { decodeExit } from './exit.ts';
import { Ioctl } from './ioctls.ts';
import { KvmFpu, KvmInterrupt, KvmRegs, KvmRun, KvmSregs, KvmXcrs } from './layout.ts';
import { isErrnoError, kvmIoctl, MAP_SHARED, PROT_READ, PROT_WRITE, type KvmNative } from './native.ts';
import type { OracleCheck, OracleContext, Prediction } from './oracle.ts';
import {
  cpuid2Buffer,
  decodeCpuid2,
  decodeFpu,
  decodeMsrs,
  decodeRegs,
  decodeSregs,
  decodeXcrs,
} from './structs.ts';
import { encodeCpuid2, encodeFpu, encodeMsrs, encodeRegs, encodeSregs, encodeXcrs } from './structs.ts';

const hex = (v: bigint | number): string => '0x' + v.toString(16);

/**
 * Default time slice of one run(). A guest that never exits gets its timers, injected interrupts and
 * the machine's time limit checked about this often (so at most ~100 PIT ticks a second reach such a
 * guest); guests that exit are unaffected, every exit returns at once.
 */
export const DEFAULT_RUN_SLICE_MS = 10;
/** Largest slice accepted (the binding refuses more than an hour). */
export const MAX_RUN_SLICE_MS = 3_600_000;

/** Validate a slice in milliseconds (0 = unbounded KVM_RUN) and convert it to whole nanoseconds. */
export function runSliceNs(ms: number): number {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0 || ms > MAX_RUN_SLICE_MS) {
    throw new BackendError(
      'EINVAL',
      `runSliceMs must be a number of milliseconds from 0 (unbounded) to ${MAX_RUN_SLICE_MS} (got ${String(ms)})`,
    );
  }
  const ns = Math.round(ms * 1e6);
  return ms > 0 && ns === 0 ? 1 : ns;
}

/** vCPU state ioctls: a pending I/O or MMIO exit is completed before any of them. */
const STATE_IOCTLS: ReadonlySet<keyof typeof Ioctl> = new Set([
  'KVM_GET_REGS',
  'KVM_SET_REGS',
  'KVM_GET_SREGS',
  'KVM_SET_SREGS',
  'KVM_GET_MSRS',
  'KVM_SET_MSRS',
  'KVM_GET_XCRS',
  'KVM_SET_XCRS',
  'KVM_GET_FPU',
  'KVM_SET_FPU',
] as const);

const INTR: VcpuExit = Object.freeze({ reason: 'intr' });

export class KvmVcpu implements Vcpu {
  private readonly run_: ArrayBuffer;
  private readonly runView: DataView;
  private cpuid: readonly CpuidEntry[] = [];
  private closed = false;
  private hasRun = false;
  private sliceNs: number;
  /** the last exit was IN/OUT or MMIO and KVM has not yet been re-entered to complete it */
  private ioPending = false;
  /** completing a pending exit produced a new exit; the next run() returns it without entering */
  private deferredExit = false;
  /** the last exit was x86_rdmsr/x86_wrmsr: its error/data go into kvm_run before KVM re-enters */
  private msrExit: Extract<VcpuExit, { reason: 'x86_rdmsr' | 'x86_wrmsr' }> | undefined;
  /** With the oracle: why the last setMsrs() stopped early, when the contract had a reason. */
  lastMsrRefusal: { index: number; reason: string } | undefined;

  constructor(
    private readonly native: KvmNative,
    readonly id: number,
    /** the vCPU file descriptor */
    readonly fd: number,
    mmapSize: number,
    private readonly oracle: OracleCheck | undefined,
    private readonly onDestroy: (v: KvmVcpu) => void,
    /** time slice of one run() in ms; 0 = unbounded (a guest that never exits never returns) */
    runSliceMs: number = DEFAULT_RUN_SLICE_MS,
    /** KVM_CAP_IMMEDIATE_EXIT: without it a pending exit is only completed by the next run() */
    private readonly immediateExit = true,
  ) {
    try {
      this.sliceNs = runSliceNs(runSliceMs);
    } catch (e) {
      native.close(fd);
      throw e;
    }
    try {
      this.run_ = native.mmap(fd, mmapSize, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    } catch (e) {
      native.close(fd);
      throw new BackendError('ENOMEM', `mmap of kvm_run for vcpu ${id} failed: ${(e as Error).message}`);
    }
    this.runView = new DataView(this.run_);
  }

  /** The time slice of one run() in milliseconds; 0 = unbounded. BackendError('EINVAL') when invalid. */
  get runSliceMs(): number {
    return this.sliceNs / 1e6;
  }

  set runSliceMs(ms: number) {
    this.sliceNs = runSliceNs(ms);
  }

  /** True while an I/O or MMIO exit awaits completion by the next KVM_RUN. */
  get hasPendingIo(): boolean {
    return this.ioPending;
  }

  /**
   * Finish a pending IN/OUT/MMIO exit now (KVM_RUN with kvm_run.immediate_exit = 1: KVM copies the
   * data from kvm_run into the guest and returns EINTR without entering it). Called before every
   * state get/set; harmless when nothing is pending; a no-op without KVM_CAP_IMMEDIATE_EXIT
   * (Linux < 4.11), where only the next run() completes it. If KVM needs another exit to finish the
   * instruction (a string I/O or a wide MMIO access crossing a boundary), that exit is kept and the
   * next run() returns it.
   */
  completePendingIo(): void {
    if (!this.ioPending || this.deferredExit || this.closed || !this.immediateExit) return;
    this.flushMsrExit();
    this.runView.setUint8(KvmRun.immediate_exit, 1);
    try {
      this.native.ioctl(this.fd, Ioctl.KVM_RUN, 0);
      this.deferredExit = true; // KVM returned a new exit; ioPending stays set for it
      return;
    } catch (e) {
      if (!(isErrnoError(e) && (e.code === 'EINTR' || e.code === 'EAGAIN'))) {
        if (isErrnoError(e)) throw new BackendError(e.code, `KVM_RUN (completing an I/O exit): ${e.message}`);
        throw e;
      }
    } finally {
      this.runView.setUint8(KvmRun.immediate_exit, 0);
    }
    this.ioPending = false;
  }

  private ioctl(name: keyof typeof Ioctl, arg: number | ArrayBufferView): number {
    if (this.closed) throw new BackendError('EBADF', `vcpu ${this.id} is destroyed`);
    if (this.ioPending && STATE_IOCTLS.has(name)) this.completePendingIo();
    return kvmIoctl(this.native, this.fd, name, Ioctl[name], arg);
  }

  setCpuid(entries: readonly CpuidEntry[]): void {
    if (!Array.isArray(entries)) throw new BackendError('EINVAL', 'setCpuid takes an array of CPUID entries');
    this.ioctl('KVM_SET_CPUID2', encodeCpuid2(entries));
    this.cpuid = entries.map((e) => ({ ...e }));
  }

  getCpuid(): CpuidEntry[] {
    for (let nent = 64; ; nent *= 2) {
      const buf = cpuid2Buffer(nent);
      try {
        this.ioctl('KVM_GET_CPUID2', buf);
        return decodeCpuid2(buf);
      } catch (e) {
        if (!(e instanceof BackendError && e.code === 'E2BIG') || nent >= 8192) throw e;
      }
    }
  }

  getRegs(): Regs {
    const buf = new Uint8Array(KvmRegs.SIZE);
    this.ioctl('KVM_GET_REGS', buf);
    return decodeRegs(buf);
  }

  setRegs(regs: Regs): void {
    this.ioctl('KVM_SET_REGS', encodeRegs(regs));
  }

  getSregs(): Sregs {
    const buf = new Uint8Array(KvmSregs.SIZE);
    this.ioctl('KVM_GET_SREGS', buf);
    return decodeSregs(buf);
  }

  setSregs(sregs: Sregs): void {
    const buf = encodeSregs(sregs);
    if (!this.oracle) {
      this.ioctl('KVM_SET_SREGS', buf);
      return;
    }
    const predicted = this.oracle.predictSregs(this.context(), sregs);
    const input = `cr0=${hex(sregs.cr0)} cr4=${hex(sregs.cr4)} efer=${hex(sregs.efer)}`;
    const before = this.oracle.mode === 'enforce' && !predicted.ok ? encodeSregs(this.getSregs()) : undefined;
    try {
      this.ioctl('KVM_SET_SREGS', buf);
    } catch (e) {
      if (!(e instanceof BackendError)) throw e;
      this.oracle.compare(this.id, 'KVM_SET_SREGS', input, predicted, { ok: false, code: e.code });
      throw refusal(e, predicted);
    }
    this.oracle.compare(this.id, 'KVM_SET_SREGS', input, predicted, { ok: true });
    if (before && !predicted.ok) {
      this.ioctl('KVM_SET_SREGS', before);
      throw new BackendError(
        'EINVAL',
        `KVM_SET_SREGS refused by the contract: ${predicted.reason}`,
        predicted.reason,
      );
    }
  }

  private context(): OracleContext {
    return {
      cpuid: this.cpuid,
      hasRun: this.hasRun,
      sregs: () => this.getSregs(),
      xcr0: () => this.getXcrs().find((x) => x.xcr === 0)?.value ?? 1n,
      msr: (index) => this.getMsrs([index])[0]?.data,
    };
  }

  getMsrs(indices: readonly number[]): MsrEntry[] {
    const buf = encodeMsrs(indices.map((index) => ({ index, data: 0n })));
    const n = this.ioctl('KVM_GET_MSRS', buf);
    return decodeMsrs(buf, n);
  }

  setMsrs(entries: readonly MsrEntry[]): number {
    if (!this.oracle) return this.ioctl('KVM_SET_MSRS', encodeMsrs(entries));
    // With the oracle, one MSR per ioctl so each KVM answer can be compared with its prediction.
    let done = 0;
    this.lastMsrRefusal = undefined;
    for (const e of entries) {
      const predicted = this.oracle.predictMsr(this.context(), e.index, e.data);
      const input = `msr ${hex(e.index)}=${hex(e.data)}`;
      const old = this.oracle.mode === 'enforce' && !predicted.ok ? this.getMsrs([e.index]) : [];
      const n = this.ioctl('KVM_SET_MSRS', encodeMsrs([e]));
      this.oracle.compare(
        this.id,
        'KVM_SET_MSRS',
        input,
        predicted,
        n === 1 ? { ok: true } : { ok: false, code: 'EINVAL' },
      );
      if (!predicted.ok && (n !== 1 || this.oracle.mode === 'enforce')) {
        this.lastMsrRefusal = { index: e.index, reason: predicted.reason };
      }
      if (n !== 1) break;
      if (!predicted.ok && this.oracle.mode === 'enforce') {
        if (old.length === 1) this.ioctl('KVM_SET_MSRS', encodeMsrs(old));
        break;
      }
      done++;
    }
    return done;
  }

  getXcrs(): Xcr[] {
    const buf = new Uint8Array(KvmXcrs.SIZE);
    this.ioctl('KVM_GET_XCRS', buf);
    return decodeXcrs(buf);
  }

  setXcrs(xcrs: readonly Xcr[]): void {
    this.ioctl('KVM_SET_XCRS', encodeXcrs(xcrs));
  }

  getFpu(): Fpu {
    const buf = new Uint8Array(KvmFpu.SIZE);
    this.ioctl('KVM_GET_FPU', buf);
    return decodeFpu(buf);
  }

  setFpu(fpu: Fpu): void {
    this.ioctl('KVM_SET_FPU', encodeFpu(fpu));
  }

  injectInterrupt(vector: number): void {
    if (!Number.isInteger(vector) || vector < 0 || vector > 255) {
      throw new BackendError('EINVAL', `interrupt vector must be 0..255 (got ${vector})`);
    }
    const buf = new Uint8Array(KvmInterrupt.SIZE);
    new DataView(buf.buffer).setUint32(KvmInterrupt.irq, vector, true);
    this.ioctl('KVM_INTERRUPT', buf);
  }

  injectNmi(): void {
    this.ioctl('KVM_NMI', 0);
  }

  /**
   * KVM_GET_TSC_KHZ (vCPU ioctl): the guest TSC rate. Some hosts (this PVM) answer it while
   * KVM_CHECK_EXTENSION(KVM_CAP_GET_TSC_KHZ) says 0, so the ioctl itself is the test.
   */
  guestTscHz(): number | undefined {
    try {
      const khz = this.ioctl('KVM_GET_TSC_KHZ', 0);
      return khz > 0 ? khz * 1000 : undefined;
    } catch (e) {
      if (e instanceof BackendError && e.code !== 'EBADF') return undefined;
      throw e;
    }
  }

  requestInterruptWindow(on: boolean): void {
    this.runView.setUint8(KvmRun.request_interrupt_window, on ? 1 : 0);
  }

  readyForInterruptInjection(): boolean {
    return this.runView.getUint8(KvmRun.ready_for_interrupt_injection) !== 0;
  }

  interruptFlag(): boolean {
    return this.runView.getUint8(KvmRun.if_flag) !== 0;
  }

  run(): VcpuExit {
    if (this.closed) throw new BackendError('EBADF', `vcpu ${this.id} is destroyed`);
    this.hasRun = true;
    if (this.deferredExit) {
      this.deferredExit = false;
      return this.decode();
    }
    this.flushMsrExit();
    try {
      this.native.run(this.fd, Ioctl.KVM_RUN, this.run_, KvmRun.immediate_exit, this.sliceNs);
    } catch (e) {
      if (!isErrnoError(e)) throw e;
      // KVM_EXIT_INTR: the slice's signal (or immediate_exit) ended KVM_RUN. KVM completes a pending
      // I/O exit before it looks at signals or immediate_exit, so nothing is pending any more.
      if (e.code === 'EINTR' || e.code === 'EAGAIN') {
        this.ioPending = false;
        return INTR;
      }
      throw new BackendError(e.code, `KVM_RUN: ${e.code} (${e.message})`);
    }
    return this.decode();
  }

  private decode(): VcpuExit {
    const exit = decodeExit(this.run_, this.runView);
    const msr = exit.reason === 'x86_rdmsr' || exit.reason === 'x86_wrmsr';
    this.ioPending = exit.reason === 'io' || exit.reason === 'mmio' || msr;
    this.msrExit = msr ? exit : undefined;
    return exit;
  }

  /**
   * The VMM's answer to an MSR exit, into kvm_run (api.rst: "error" non-zero = inject #GP; for RDMSR
   * "data" is the value); KVM finishes the instruction when it is next entered.
   */
  private flushMsrExit(): void {
    const x = this.msrExit;
    if (!x) return;
    this.msrExit = undefined;
    this.runView.setUint8(KvmRun.msr_error, x.error ? 1 : 0);
    if (x.reason === 'x86_rdmsr')
      this.runView.setBigUint64(KvmRun.msr_data, BigInt.asUintN(64, x.data), true);
  }

  destroy(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.munmap(this.run_);
    this.native.close(this.fd);
    this.onDestroy(this);
  }
}

function refusal(e: BackendError, predicted: Prediction): BackendError {
  if (predicted.ok) return e;
  return new BackendError(e.code, `${e.message}; the contract says: ${predicted.reason}`, predicted.reason);
}
