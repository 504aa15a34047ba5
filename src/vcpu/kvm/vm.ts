// One KVM VM: the VM file descriptor, its guest memory slots and vCPUs (Linux
// Documentation/virt/kvm/api.rst §4: KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, KVM_SET_TSS_ADDR).

import type { MemoryRegion, MsrRange, Vcpu, Vm } from '../backend.ts';
import { BackendError } from '../backend.ts';
import { Ioctl, KvmCap } from './ioctls.ts';
import {
  KvmEnableCap,
  KvmMsrFilter,
  KvmMsrFilterRange,
  KvmUserspaceMemoryRegion,
  KVM_MEM_READONLY,
  KVM_MSR_EXIT_REASON_FILTER,
  KVM_MSR_EXIT_REASON_INVAL,
  KVM_MSR_FILTER_MAX_RANGES,
  KVM_MSR_FILTER_READ,
  KVM_MSR_FILTER_WRITE,
} from './layout.ts';
import { kvmIoctl, type KvmNative } from './native.ts';
import type { OracleCheck } from './oracle.ts';
import { KvmVcpu } from './vcpu.ts';

const PAGE = 4096;

export interface KvmVmConfig {
  readonly vcpuMmapSize: number;
  readonly maxVcpus: number;
  readonly maxMemslots: number;
  readonly oracle: OracleCheck | undefined;
  /** time slice of each new vCPU's run() (ms; 0 = unbounded) */
  readonly runSliceMs?: number;
  /** KVM_CAP_IMMEDIATE_EXIT (Linux 4.11+): kvm_run.immediate_exit is honoured */
  readonly immediateExit?: boolean;
}

export class KvmVm implements Vm {
  private readonly memory = new Set<ArrayBuffer>();
  /** slot → the buffer KVM maps there; kept referenced so GC can never unmap live guest memory */
  private readonly slots = new Map<number, ArrayBuffer>();
  private readonly vcpus = new Map<number, KvmVcpu>();
  private closed = false;
  private userMsrEnabled = false;

  constructor(
    private readonly native: KvmNative,
    /** the VM file descriptor */
    readonly fd: number,
    private readonly config: KvmVmConfig,
  ) {}

  private ioctl(name: keyof typeof Ioctl, arg: number | ArrayBufferView): number {
    if (this.closed) throw new BackendError('EBADF', 'the VM is destroyed');
    return kvmIoctl(this.native, this.fd, name, Ioctl[name], arg);
  }

  allocateMemory(bytes: number): ArrayBuffer {
    if (this.closed) throw new BackendError('EBADF', 'the VM is destroyed');
    if (!Number.isSafeInteger(bytes) || bytes <= 0 || bytes % PAGE !== 0) {
      throw new BackendError(
        'EINVAL',
        `guest memory size must be a positive multiple of 4096 bytes (got ${bytes})`,
      );
    }
    let mem: ArrayBuffer;
    try {
      mem = this.native.mmapAnonymous(bytes);
    } catch (e) {
      throw new BackendError('ENOMEM', `cannot map ${bytes} bytes of guest memory: ${(e as Error).message}`);
    }
    this.memory.add(mem);
    return mem;
  }

  setUserMemoryRegion(region: MemoryRegion): void {
    const { slot, guestPhysAddr, memory } = region;
    const offset = region.offset ?? 0;
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.config.maxMemslots) {
      throw new BackendError('EINVAL', `memory slot must be 0..${this.config.maxMemslots - 1} (got ${slot})`);
    }
    if (!this.memory.has(memory)) {
      throw new BackendError('EINVAL', "guest memory must come from this VM's allocateMemory()");
    }
    if (typeof guestPhysAddr !== 'bigint' || guestPhysAddr < 0n || guestPhysAddr % BigInt(PAGE) !== 0n) {
      throw new BackendError(
        'EINVAL',
        `guestPhysAddr must be a 4 KiB-aligned bigint (got ${String(guestPhysAddr)})`,
      );
    }
    if (!Number.isInteger(offset) || offset < 0 || offset % PAGE !== 0 || offset > memory.byteLength) {
      throw new BackendError('EINVAL', `offset must be 4 KiB-aligned and inside the buffer (got ${offset})`);
    }
    const size = region.size ?? memory.byteLength - offset;
    if (!Number.isInteger(size) || size < 0 || size % PAGE !== 0 || offset + size > memory.byteLength) {
      throw new BackendError('EINVAL', `size must be a multiple of 4 KiB inside the buffer (got ${size})`);
    }
    const buf = new Uint8Array(KvmUserspaceMemoryRegion.SIZE);
    const dv = new DataView(buf.buffer);
    dv.setUint32(KvmUserspaceMemoryRegion.slot, slot, true);
    dv.setUint32(KvmUserspaceMemoryRegion.flags, region.readonly ? KVM_MEM_READONLY : 0, true);
    dv.setBigUint64(KvmUserspaceMemoryRegion.guest_phys_addr, guestPhysAddr, true);
    dv.setBigUint64(KvmUserspaceMemoryRegion.memory_size, BigInt(size), true);
    dv.setBigUint64(
      KvmUserspaceMemoryRegion.userspace_addr,
      this.native.address(memory) + BigInt(offset),
      true,
    );
    this.ioctl('KVM_SET_USER_MEMORY_REGION', buf);
    if (size === 0) this.slots.delete(slot);
    else this.slots.set(slot, memory);
  }

  createVcpu(id: number): Vcpu {
    if (!Number.isInteger(id) || id < 0 || id >= this.config.maxVcpus) {
      throw new BackendError('EINVAL', `vcpu id must be 0..${this.config.maxVcpus - 1} (got ${id})`);
    }
    if (this.vcpus.has(id)) throw new BackendError('EEXIST', `vcpu ${id} already exists`);
    const fd = this.ioctl('KVM_CREATE_VCPU', id);
    const vcpu = new KvmVcpu(
      this.native,
      id,
      fd,
      this.config.vcpuMmapSize,
      this.config.oracle,
      (v) => this.vcpus.delete(v.id),
      this.config.runSliceMs,
      this.config.immediateExit ?? true,
    );
    this.vcpus.set(id, vcpu);
    return vcpu;
  }

  /**
   * Userspace MSR exits (backend.ts Vm.setUserspaceMsrs; api.rst KVM_CAP_X86_USER_SPACE_MSR and
   * KVM_X86_SET_MSR_FILTER). KVM_ENABLE_CAP with KVM_MSR_EXIT_REASON_FILTER | _INVAL, then a filter
   * denying `ranges` for reads and writes (bitmap all zero). The x2APIC range 0x800-0x8FF cannot be
   * filtered (KVM always lets it through to its own x2APIC code); tsvmm never creates an in-kernel
   * LAPIC, so KVM fails those accesses and the _INVAL reason sends them to userspace as well — as it
   * does every other MSR access KVM itself would #GP (the VMM answers error = true for those).
   * Returns false when KVM lacks the capabilities or refuses them.
   */
  setUserspaceMsrs(ranges: readonly MsrRange[]): boolean {
    if (this.closed) throw new BackendError('EBADF', 'the VM is destroyed');
    const filtered = filterableRanges(ranges);
    if (filtered.length > KVM_MSR_FILTER_MAX_RANGES)
      throw new BackendError(
        'EINVAL',
        `KVM_X86_SET_MSR_FILTER takes at most ${KVM_MSR_FILTER_MAX_RANGES} ranges`,
      );
    try {
      if (
        this.ioctl('KVM_CHECK_EXTENSION', KvmCap.X86_USER_SPACE_MSR) === 0 ||
        this.ioctl('KVM_CHECK_EXTENSION', KvmCap.X86_MSR_FILTER) === 0
      )
        return false;
      if (!this.userMsrEnabled) {
        const cap = new Uint8Array(KvmEnableCap.SIZE);
        const cv = new DataView(cap.buffer);
        cv.setUint32(KvmEnableCap.cap, KvmCap.X86_USER_SPACE_MSR, true);
        cv.setBigUint64(
          KvmEnableCap.args,
          BigInt(KVM_MSR_EXIT_REASON_FILTER | KVM_MSR_EXIT_REASON_INVAL),
          true,
        );
        this.ioctl('KVM_ENABLE_CAP', cap);
        this.userMsrEnabled = true;
      }
      const f = new Uint8Array(KvmMsrFilter.SIZE);
      const fv = new DataView(f.buffer);
      const bitmaps: Uint8Array[] = []; // kept alive until the ioctl has copied them
      filtered.forEach((r, i) => {
        const bitmap = new Uint8Array(Math.ceil(r.count / 8)); // all clear: deny
        bitmaps.push(bitmap);
        const o = KvmMsrFilter.ranges + i * KvmMsrFilterRange.SIZE;
        fv.setUint32(o + KvmMsrFilterRange.flags, KVM_MSR_FILTER_READ | KVM_MSR_FILTER_WRITE, true);
        fv.setUint32(o + KvmMsrFilterRange.nmsrs, r.count, true);
        fv.setUint32(o + KvmMsrFilterRange.base, r.base, true);
        fv.setBigUint64(o + KvmMsrFilterRange.bitmap, this.native.address(bitmap), true);
      });
      this.ioctl('KVM_X86_SET_MSR_FILTER', f);
      bitmaps.length = 0;
      return true;
    } catch (e) {
      if (e instanceof BackendError && e.code !== 'EBADF') return false;
      throw e;
    }
  }

  /** KVM_SET_TSS_ADDR: the three pages VMX needs for real-mode emulation (no-op on SVM). */
  setTssAddr(addr: number): void {
    this.ioctl('KVM_SET_TSS_ADDR', addr);
  }

  /** Destroys the vCPUs, closes the VM and unmaps the guest memory it allocated (buffers detach). */
  destroy(): void {
    if (this.closed) return;
    for (const v of [...this.vcpus.values()]) v.destroy();
    this.closed = true;
    this.native.close(this.fd);
    this.slots.clear();
    for (const m of this.memory) this.native.munmap(m);
    this.memory.clear();
  }
}

/** X2APIC MSRs: never subject to KVM's MSR filter (api.rst KVM_X86_SET_MSR_FILTER). */
const X2APIC_FIRST = 0x800;
const X2APIC_END = 0x900;

/** `ranges` checked and with the x2APIC MSRs cut out (they reach userspace through _INVAL exits). */
export function filterableRanges(ranges: readonly MsrRange[]): MsrRange[] {
  if (!Array.isArray(ranges))
    throw new BackendError('EINVAL', 'setUserspaceMsrs takes an array of { base, count }');
  const out: MsrRange[] = [];
  for (const r of ranges) {
    if (
      !r ||
      !Number.isInteger(r.base) ||
      r.base < 0 ||
      !Number.isInteger(r.count) ||
      r.count < 1 ||
      r.base + r.count > 0x100000000
    )
      throw new BackendError(
        'EINVAL',
        `bad MSR range ${JSON.stringify(r)}: base and count must be whole, count ≥ 1, within 32-bit indices`,
      );
    const end = r.base + r.count;
    if (r.base < X2APIC_FIRST) out.push({ base: r.base, count: Math.min(end, X2APIC_FIRST) - r.base });
    if (end > X2APIC_END) {
      const b = Math.max(r.base, X2APIC_END);
      out.push({ base: b, count: end - b });
    }
  }
  return out;
}
