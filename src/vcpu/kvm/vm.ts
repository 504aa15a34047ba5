// One KVM VM: the VM file descriptor, its guest memory slots and vCPUs (Linux
// Documentation/virt/kvm/api.rst §4: KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, KVM_SET_TSS_ADDR).

import type { MemoryRegion, Vcpu, Vm } from '../backend.ts';
import { BackendError } from '../backend.ts';
import { Ioctl } from './ioctls.ts';
import { KvmUserspaceMemoryRegion, KVM_MEM_READONLY } from './layout.ts';
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
