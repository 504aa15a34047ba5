// One KVM vCPU: the vCPU file descriptor and its mmap'd kvm_run page (Linux
// Documentation/virt/kvm/api.rst §4 "vcpu ioctl", §5 "The kvm_run structure").

import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import type { Fpu, MsrEntry, Regs, Sregs, Vcpu, VcpuExit, Xcr } from '../backend.ts';
import { BackendError } from '../backend.ts';
import { decodeExit } from './exit.ts';
import { Ioctl } from './ioctls.ts';
import { KvmFpu, KvmInterrupt, KvmRegs, KvmRun, KvmSregs, KvmXcrs } from './layout.ts';
import { kvmIoctl, MAP_SHARED, PROT_READ, PROT_WRITE, type KvmNative } from './native.ts';
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

export class KvmVcpu implements Vcpu {
  private readonly run_: ArrayBuffer;
  private readonly runView: DataView;
  private cpuid: readonly CpuidEntry[] = [];
  private closed = false;
  private hasRun = false;
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
  ) {
    try {
      this.run_ = native.mmap(fd, mmapSize, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    } catch (e) {
      native.close(fd);
      throw new BackendError('ENOMEM', `mmap of kvm_run for vcpu ${id} failed: ${(e as Error).message}`);
    }
    this.runView = new DataView(this.run_);
  }

  private ioctl(name: keyof typeof Ioctl, arg: number | ArrayBufferView): number {
    if (this.closed) throw new BackendError('EBADF', `vcpu ${this.id} is destroyed`);
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
    this.hasRun = true;
    try {
      this.ioctl('KVM_RUN', 0);
    } catch (e) {
      // A signal interrupted KVM_RUN before or during guest execution.
      if (e instanceof BackendError && (e.code === 'EINTR' || e.code === 'EAGAIN')) return { reason: 'intr' };
      throw e;
    }
    return decodeExit(this.run_, this.runView);
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
