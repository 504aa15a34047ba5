// The KVM system: the /dev/kvm file descriptor and its system ioctls (Linux
// Documentation/virt/kvm/api.rst §4: KVM_GET_API_VERSION, KVM_CHECK_EXTENSION, KVM_GET_VCPU_MMAP_SIZE,
// KVM_GET_SUPPORTED_CPUID, KVM_GET_EMULATED_CPUID, KVM_GET_MSR_INDEX_LIST, KVM_CREATE_VM).

import { existsSync } from 'node:fs';
import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import type { Backend, MsrEntry, Vm } from '../backend.ts';
import { BackendError } from '../backend.ts';
import { Ioctl, KvmCap, KVM_API_VERSION } from './ioctls.ts';
import { KvmMsrList } from './layout.ts';
import { isErrnoError, kvmIoctl, loadNative, O_CLOEXEC, O_RDWR, type KvmNative } from './native.ts';
import { contractOracle, detectKvmModule, type ContractOracleOptions } from './contract-oracle.ts';
import { OracleCheck, type OracleOptions } from './oracle.ts';
import { cpuid2Buffer, decodeCpuid2, decodeMsrs, encodeMsrs } from './structs.ts';
import { KvmVm } from './vm.ts';
import { DEFAULT_RUN_SLICE_MS, runSliceNs } from './vcpu.ts';

/**
 * The KVM device. TSVMM_KVM_DEVICE overrides it (e.g. `TSVMM_KVM_DEVICE=/nonexistent npm test` checks
 * that everything passes, with the KVM cells skipped, on a host without /dev/kvm).
 */
export const KVM_DEVICE = process.env.TSVMM_KVM_DEVICE || '/dev/kvm';

/** Where KVM_SET_TSS_ADDR puts its 3 pages: just below the 4 GiB BIOS area, as Firecracker/QEMU do. */
export const KVM_TSS_ADDR = 0xfffbd000;

export interface KvmBackendOptions {
  /** device path (default /dev/kvm) */
  readonly device?: string;
  /**
   * The contract oracle check (oracle.ts): 'observe' (default) predicts every KVM_SET_SREGS and
   * KVM_SET_MSRS with src/contract, attaches the contract's reason to refusals and logs
   * disagreements in `backend.oracle.log`; 'enforce' also rolls back what the contract refuses;
   * 'off' disables it; or pass your own ContractOracle.
   */
  readonly contract?: 'observe' | 'enforce' | 'off' | OracleOptions;
  /**
   * Time slice of one vcpu.run() in milliseconds (default 10): KVM_RUN is interrupted by a timer
   * signal after this long and run() returns { reason: 'intr' } (KVM_EXIT_INTR), so a guest that
   * never exits cannot starve timers or time limits. 0 = unbounded KVM_RUN. Per vCPU: `runSliceMs`.
   */
  readonly runSliceMs?: number;
}

export class KvmBackend implements Backend {
  readonly name = 'kvm' as const;
  readonly apiVersion: number;
  readonly vcpuMmapSize: number;
  /** the contract oracle check, when configured: its `log` holds every disagreement seen */
  readonly oracle: OracleCheck | undefined;
  /** the run slice new vCPUs start with (KvmBackendOptions.runSliceMs) */
  readonly runSliceMs: number;
  private closed = false;

  constructor(
    private readonly native: KvmNative,
    /** the /dev/kvm file descriptor */
    readonly fd: number,
    options: KvmBackendOptions = {},
  ) {
    this.runSliceMs = options.runSliceMs ?? DEFAULT_RUN_SLICE_MS;
    runSliceNs(this.runSliceMs); // validates: BackendError('EINVAL') naming the option
    this.apiVersion = this.ioctl('KVM_GET_API_VERSION', 0);
    if (this.apiVersion !== KVM_API_VERSION) {
      throw new BackendError('ENOTSUP', `KVM API version ${this.apiVersion}, expected ${KVM_API_VERSION}`);
    }
    this.vcpuMmapSize = this.ioctl('KVM_GET_VCPU_MMAP_SIZE', 0);
    const c = options.contract ?? 'observe';
    this.oracle =
      c === 'off'
        ? undefined
        : new OracleCheck(
            typeof c === 'string'
              ? { oracle: contractOracle(this.oracleOptions()), mode: c }
              : c,
          );
  }

  /**
   * What the contract needs to predict this KVM: its supported CPUID, vendor module, advertised MSRs,
   * and whether KVM_SET_SREGS validates EFER (kernel-version dependent, spec §1.6) — probed once on a
   * scratch vCPU with EFER.TCE (bit 15, reserved under every KVM) rather than guessed from `uname`.
   */
  private oracleOptions(): ContractOracleOptions {
    const kvmModule = detectKvmModule(existsSync);
    let sregsEferCheck: boolean | undefined;
    let vm: Vm | undefined;
    try {
      vm = this.createVm();
      const vcpu = vm.createVcpu(0);
      const s = vcpu.getSregs();
      try {
        vcpu.setSregs({ ...s, efer: s.efer | (1n << 15n) });
        sregsEferCheck = false;
      } catch (e) {
        if (e instanceof BackendError && e.code === 'EINVAL') sregsEferCheck = true;
      }
    } catch {
      // no probe possible: leave the contract's default
    } finally {
      vm?.destroy();
    }
    let advertised: Set<number> | undefined;
    try {
      advertised = new Set([...this.msrIndexList(), ...this.msrFeatureIndexList()]);
    } catch {
      advertised = undefined;
    }
    return {
      supported: this.supportedCpuid(),
      ...(kvmModule ? { kvmModule } : {}),
      ...(advertised ? { advertised } : {}),
      ...(sregsEferCheck !== undefined ? { sregsEferCheck } : {}),
    };
  }

  private ioctl(name: keyof typeof Ioctl, arg: number | ArrayBufferView): number {
    if (this.closed) throw new BackendError('EBADF', 'the KVM backend is closed');
    return kvmIoctl(this.native, this.fd, name, Ioctl[name], arg);
  }

  /** KVM_CHECK_EXTENSION: 0 when absent, else 1 or a capability-specific number. */
  checkExtension(cap: number): number {
    return this.ioctl('KVM_CHECK_EXTENSION', cap);
  }

  supportedCpuid(): CpuidEntry[] {
    return this.cpuidQuery('KVM_GET_SUPPORTED_CPUID');
  }

  emulatedCpuid(): CpuidEntry[] {
    if (this.checkExtension(KvmCap.EXT_EMUL_CPUID) === 0) return [];
    return this.cpuidQuery('KVM_GET_EMULATED_CPUID');
  }

  /** Both CPUID queries fail with E2BIG until the buffer is big enough; grow and retry. */
  private cpuidQuery(name: 'KVM_GET_SUPPORTED_CPUID' | 'KVM_GET_EMULATED_CPUID'): CpuidEntry[] {
    for (let nent = 64; ; nent *= 2) {
      const buf = cpuid2Buffer(nent);
      try {
        this.ioctl(name, buf);
        return decodeCpuid2(buf);
      } catch (e) {
        if (!(e instanceof BackendError && e.code === 'E2BIG') || nent >= 8192) throw e;
      }
    }
  }

  msrIndexList(): number[] {
    return this.msrList('KVM_GET_MSR_INDEX_LIST');
  }

  /** KVM_GET_MSR_FEATURE_INDEX_LIST (the feature MSRs readable on the system fd) */
  msrFeatureIndexList(): number[] {
    if (this.checkExtension(KvmCap.GET_MSR_FEATURES) === 0) return [];
    return this.msrList('KVM_GET_MSR_FEATURE_INDEX_LIST');
  }

  /** KVM_GET_MSRS on the system fd: the values of feature MSRs (those in msrFeatureIndexList()). */
  featureMsrs(indices: readonly number[]): MsrEntry[] {
    const buf = encodeMsrs(indices.map((index) => ({ index, data: 0n })));
    const n = this.ioctl('KVM_GET_MSRS', buf);
    return decodeMsrs(buf, n);
  }

  private msrList(name: 'KVM_GET_MSR_INDEX_LIST' | 'KVM_GET_MSR_FEATURE_INDEX_LIST'): number[] {
    // First call with nmsrs = 0: KVM answers E2BIG and writes the real count back.
    let n = 0;
    for (let tries = 0; tries < 4; tries++) {
      const buf = new Uint8Array(KvmMsrList.SIZE + 4 * n);
      const dv = new DataView(buf.buffer);
      dv.setUint32(KvmMsrList.nmsrs, n, true);
      try {
        this.ioctl(name, buf);
      } catch (e) {
        if (!(e instanceof BackendError && e.code === 'E2BIG')) throw e;
        n = dv.getUint32(KvmMsrList.nmsrs, true);
        continue;
      }
      const count = Math.min(dv.getUint32(KvmMsrList.nmsrs, true), n);
      const out: number[] = [];
      for (let i = 0; i < count; i++) out.push(dv.getUint32(KvmMsrList.indices + 4 * i, true));
      return out;
    }
    throw new BackendError('E2BIG', `${name}: the MSR count kept changing`);
  }

  createVm(): Vm {
    const fd = this.ioctl('KVM_CREATE_VM', 0);
    const maxVcpus = this.checkExtension(KvmCap.MAX_VCPUS) || this.checkExtension(KvmCap.NR_VCPUS) || 1;
    const maxMemslots = this.checkExtension(KvmCap.NR_MEMSLOTS) || 32;
    const vm = new KvmVm(this.native, fd, {
      vcpuMmapSize: this.vcpuMmapSize,
      maxVcpus,
      maxMemslots,
      oracle: this.oracle,
      runSliceMs: this.runSliceMs,
      immediateExit: this.checkExtension(KvmCap.IMMEDIATE_EXIT) !== 0,
    });
    // VMX without unrestricted guest needs a TSS for real mode; SVM and others accept and ignore it.
    if (this.checkExtension(KvmCap.SET_TSS_ADDR) !== 0) {
      try {
        vm.setTssAddr(KVM_TSS_ADDR);
      } catch (e) {
        vm.destroy();
        throw e;
      }
    }
    return vm;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.native.close(this.fd);
  }
}

/** The vendor module behind /dev/kvm (from /sys/module), so callers can apply pvm-deviations.ts. */
export function kvmModule(): 'kvm_intel' | 'kvm_amd' | 'kvm_pvm' | 'unknown' {
  for (const m of ['kvm_pvm', 'kvm_intel', 'kvm_amd'] as const) if (existsSync(`/sys/module/${m}`)) return m;
  return 'unknown';
}

export type KvmAvailability = { ok: true } | { ok: false; reason: string };

/** Can a KVM backend be created here? Never throws; `reason` says what is missing. */
export function isKvmAvailable(device = KVM_DEVICE): KvmAvailability {
  const loaded = loadNative();
  if (!loaded.ok) return loaded;
  let fd: number;
  try {
    fd = loaded.native.open(device, O_RDWR | O_CLOEXEC);
  } catch (e) {
    const code = isErrnoError(e) ? e.code : 'error';
    return { ok: false, reason: `cannot open ${device}: ${code} (${(e as Error).message})` };
  }
  try {
    const v = loaded.native.ioctl(fd, Ioctl.KVM_GET_API_VERSION, 0);
    if (v !== KVM_API_VERSION)
      return { ok: false, reason: `${device} reports KVM API version ${v}, expected 12` };
    return { ok: true };
  } catch (e) {
    return { ok: false, reason: `${device} is not a KVM device: ${(e as Error).message}` };
  } finally {
    loaded.native.close(fd);
  }
}

/** Open /dev/kvm and return the backend; BackendError('ENODEV') with the reason when unavailable. */
export function createKvmBackend(options: KvmBackendOptions = {}): KvmBackend {
  const device = options.device ?? KVM_DEVICE;
  const avail = isKvmAvailable(device);
  if (!avail.ok)
    throw new BackendError('ENODEV', `the KVM backend is unavailable: ${avail.reason}`, avail.reason);
  const loaded = loadNative();
  if (!loaded.ok) throw new BackendError('ENODEV', loaded.reason, loaded.reason);
  const fd = loaded.native.open(device, O_RDWR | O_CLOEXEC);
  try {
    return new KvmBackend(loaded.native, fd, options);
  } catch (e) {
    loaded.native.close(fd);
    throw e;
  }
}
