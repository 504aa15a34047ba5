// KVM ioctl request numbers, exit reasons and capability numbers (Linux include/uapi/linux/kvm.h;
// Documentation/virt/kvm/api.rst §4). Request numbers are built with the _IOC encoding of
// include/uapi/asm-generic/ioctl.h: dir(2) << 30 | size(14) << 16 | type(8) << 8 | nr(8).

import { KvmCpuid2, KvmFpu, KvmInterrupt, KvmMsrList, KvmMsrs, KvmRegs, KvmSregs } from './layout.ts';
import { KvmEnableCap, KvmMsrFilter, KvmUserspaceMemoryRegion, KvmXcrs } from './layout.ts';

const KVMIO = 0xae;
const IOC_NONE = 0;
const IOC_WRITE = 1;
const IOC_READ = 2;

function ioc(dir: number, nr: number, size: number): number {
  return ((dir << 30) | (size << 16) | (KVMIO << 8) | nr) >>> 0;
}
const io = (nr: number): number => ioc(IOC_NONE, nr, 0);
const iow = (nr: number, size: number): number => ioc(IOC_WRITE, nr, size);
const ior = (nr: number, size: number): number => ioc(IOC_READ, nr, size);
const iowr = (nr: number, size: number): number => ioc(IOC_READ | IOC_WRITE, nr, size);

export const Ioctl = {
  // system ioctls (on the /dev/kvm fd)
  KVM_GET_API_VERSION: io(0x00),
  KVM_CREATE_VM: io(0x01),
  KVM_GET_MSR_INDEX_LIST: iowr(0x02, KvmMsrList.SIZE),
  KVM_CHECK_EXTENSION: io(0x03),
  KVM_GET_VCPU_MMAP_SIZE: io(0x04),
  KVM_GET_SUPPORTED_CPUID: iowr(0x05, KvmCpuid2.SIZE),
  KVM_GET_EMULATED_CPUID: iowr(0x09, KvmCpuid2.SIZE),
  KVM_GET_MSR_FEATURE_INDEX_LIST: iowr(0x0a, KvmMsrList.SIZE),
  // VM ioctls
  KVM_CREATE_VCPU: io(0x41),
  KVM_SET_USER_MEMORY_REGION: iow(0x46, KvmUserspaceMemoryRegion.SIZE),
  KVM_SET_TSS_ADDR: io(0x47),
  KVM_SET_IDENTITY_MAP_ADDR: iow(0x48, 8),
  KVM_ENABLE_CAP: iow(0xa3, KvmEnableCap.SIZE),
  KVM_GET_TSC_KHZ: io(0xa3),
  KVM_X86_SET_MSR_FILTER: iow(0xc6, KvmMsrFilter.SIZE),
  // vCPU ioctls
  KVM_RUN: io(0x80),
  KVM_GET_REGS: ior(0x81, KvmRegs.SIZE),
  KVM_SET_REGS: iow(0x82, KvmRegs.SIZE),
  KVM_GET_SREGS: ior(0x83, KvmSregs.SIZE),
  KVM_SET_SREGS: iow(0x84, KvmSregs.SIZE),
  KVM_INTERRUPT: iow(0x86, KvmInterrupt.SIZE),
  KVM_GET_MSRS: iowr(0x88, KvmMsrs.SIZE),
  KVM_SET_MSRS: iow(0x89, KvmMsrs.SIZE),
  KVM_GET_FPU: ior(0x8c, KvmFpu.SIZE),
  KVM_SET_FPU: iow(0x8d, KvmFpu.SIZE),
  KVM_SET_CPUID2: iow(0x90, KvmCpuid2.SIZE),
  KVM_GET_CPUID2: iowr(0x91, KvmCpuid2.SIZE),
  KVM_NMI: io(0x9a),
  KVM_GET_XCRS: ior(0xa6, KvmXcrs.SIZE),
  KVM_SET_XCRS: iow(0xa7, KvmXcrs.SIZE),
} as const;

export type IoctlName = keyof typeof Ioctl;

/** KVM_EXIT_* (kvm_run.exit_reason) */
export const KvmExit = {
  UNKNOWN: 0,
  EXCEPTION: 1,
  IO: 2,
  HYPERCALL: 3,
  DEBUG: 4,
  HLT: 5,
  MMIO: 6,
  IRQ_WINDOW_OPEN: 7,
  SHUTDOWN: 8,
  FAIL_ENTRY: 9,
  INTR: 10,
  SET_TPR: 11,
  TPR_ACCESS: 12,
  NMI: 16,
  INTERNAL_ERROR: 17,
  SYSTEM_EVENT: 24,
  IOAPIC_EOI: 26,
  HYPERV: 27,
  X86_RDMSR: 29,
  X86_WRMSR: 30,
  DIRTY_RING_FULL: 31,
  X86_BUS_LOCK: 33,
  XEN: 34,
  NOTIFY: 37,
  MEMORY_FAULT: 39,
} as const;

export const KVM_EXIT_IO_IN = 0;
export const KVM_EXIT_IO_OUT = 1;

/** KVM_INTERNAL_ERROR_* (kvm_run.internal.suberror) */
export const KvmInternalError = {
  EMULATION: 1,
  SIMUL_EX: 2,
  DELIVERY_EV: 3,
  UNEXPECTED_EXIT_REASON: 4,
} as const;
export const KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES = 1n;

/** KVM_SYSTEM_EVENT_* */
export const KvmSystemEvent = {
  SHUTDOWN: 1,
  RESET: 2,
  CRASH: 3,
  WAKEUP: 4,
  SUSPEND: 5,
  SEV_TERM: 6,
} as const;

/** KVM_CAP_* used by the backend */
export const KvmCap = {
  IRQCHIP: 0,
  USER_MEMORY: 3,
  SET_TSS_ADDR: 4,
  EXT_CPUID: 7,
  NR_VCPUS: 9,
  NR_MEMSLOTS: 10,
  SET_IDENTITY_MAP_ADDR: 37,
  INTERNAL_ERROR_DATA: 40,
  VCPU_EVENTS: 41,
  XSAVE: 55,
  XCRS: 56,
  MAX_VCPUS: 66,
  READONLY_MEM: 81,
  EXT_EMUL_CPUID: 95,
  IMMEDIATE_EXIT: 136,
  GET_MSR_FEATURES: 153,
  X86_USER_SPACE_MSR: 188,
  X86_MSR_FILTER: 189,
  EXIT_ON_EMULATION_FAILURE: 204,
} as const;

/** The KVM API version every kernel since 2.6.22 reports. */
export const KVM_API_VERSION = 12;
