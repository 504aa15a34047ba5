// The one backend interface, shaped after the KVM ioctls (Linux Documentation/virt/kvm/api.rst):
// KVM_CREATE_VM, KVM_SET_USER_MEMORY_REGION, KVM_CREATE_VCPU, KVM_{GET,SET}_{REGS,SREGS,MSRS,
// CPUID2,XCRS,FPU}, KVM_INTERRUPT, KVM_NMI, KVM_RUN. The machine cannot tell which backend it drives.
// 64-bit values cross this interface as bigint; hot paths inside a backend never use bigint.

import type { CpuidEntry } from '../arch/x86/cpuid/table.ts';

export type BackendName = 'kvm' | 'interp';

/** struct kvm_regs */
export interface Regs {
  rax: bigint;
  rbx: bigint;
  rcx: bigint;
  rdx: bigint;
  rsi: bigint;
  rdi: bigint;
  rsp: bigint;
  rbp: bigint;
  r8: bigint;
  r9: bigint;
  r10: bigint;
  r11: bigint;
  r12: bigint;
  r13: bigint;
  r14: bigint;
  r15: bigint;
  rip: bigint;
  rflags: bigint;
}

/** struct kvm_segment (the cached, "unpacked" descriptor). */
export interface Segment {
  base: bigint;
  limit: number;
  selector: number;
  /** descriptor type field (4 bits) */
  type: number;
  present: boolean;
  dpl: number;
  /** D/B (default operation size) */
  db: boolean;
  /** S (1 = code/data, 0 = system) */
  s: boolean;
  /** L (64-bit code segment) */
  l: boolean;
  /** G (granularity) */
  g: boolean;
  avl: boolean;
  unusable: boolean;
}

/** struct kvm_dtable */
export interface DescriptorTable {
  base: bigint;
  limit: number;
}

/** struct kvm_sregs */
export interface Sregs {
  cs: Segment;
  ds: Segment;
  es: Segment;
  fs: Segment;
  gs: Segment;
  ss: Segment;
  tr: Segment;
  ldt: Segment;
  gdt: DescriptorTable;
  idt: DescriptorTable;
  cr0: bigint;
  cr2: bigint;
  cr3: bigint;
  cr4: bigint;
  cr8: bigint;
  efer: bigint;
  apicBase: bigint;
  /** pending external interrupt vector (KVM's interrupt_bitmap, reduced to one vector), or -1 */
  pendingInterrupt: number;
}

/** struct kvm_msr_entry */
export interface MsrEntry {
  index: number;
  data: bigint;
}

/** struct kvm_xcr */
export interface Xcr {
  xcr: number;
  value: bigint;
}

/** struct kvm_fpu (the legacy FXSAVE image fields) */
export interface Fpu {
  /** 8 x87 registers, 16 bytes each (80-bit value in the low 10 bytes) */
  fpr: Uint8Array;
  fcw: number;
  fsw: number;
  /** abridged tag word, as in FXSAVE */
  ftwx: number;
  lastOpcode: number;
  lastIp: bigint;
  lastDp: bigint;
  /** 16 XMM registers, 16 bytes each */
  xmm: Uint8Array;
  mxcsr: number;
}

/**
 * VcpuExit mirrors KVM_EXIT_* one to one (the `reason` is the KVM name, lower-case, without the prefix).
 * `io.data` and `mmio.data` are views the VMM reads (OUT / MMIO write) or fills (IN / MMIO read) before
 * the next run(), exactly as with kvm_run's shared page. A backend may reuse one exit object per vCPU.
 */
export type VcpuExit =
  | { reason: 'io'; direction: 'in' | 'out'; port: number; size: 1 | 2 | 4; count: number; data: Uint8Array }
  | { reason: 'mmio'; physAddr: bigint; isWrite: boolean; len: number; data: Uint8Array }
  | { reason: 'hlt' }
  | { reason: 'shutdown'; why?: string }
  | { reason: 'fail_entry'; hardwareEntryFailureReason: bigint; cpu: number }
  | {
      reason: 'internal_error';
      /** KVM_INTERNAL_ERROR_* (1 = emulation failure) */
      suberror: number;
      data: bigint[];
      /** instruction bytes, when KVM reported them (KVM_INTERNAL_ERROR_EMULATION with insn bytes) */
      insnBytes?: Uint8Array;
      message?: string;
    }
  | { reason: 'system_event'; type: number; flags: bigint[] }
  | { reason: 'debug'; exception: number; pc: bigint; dr6: bigint; dr7: bigint }
  /** KVM_EXIT_INTR: run() returned early (signal on KVM; instruction budget on the interpreter) */
  | { reason: 'intr' }
  | { reason: 'irq_window_open' }
  /**
   * KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR (KVM_CAP_X86_USER_SPACE_MSR): the guest executed RDMSR /
   * WRMSR on an index the VMM claimed with Vm.setUserspaceMsrs(). RIP is still at the instruction.
   * Before the next run() the VMM sets `error` (true = the instruction raises #GP(0)) and, for RDMSR,
   * `data`; run() then completes the instruction (EDX:EAX = data and RIP advanced, or the #GP).
   */
  | { reason: 'x86_rdmsr'; index: number; data: bigint; error: boolean }
  | { reason: 'x86_wrmsr'; index: number; data: bigint; error: boolean }
  | { reason: 'unknown'; hardwareExitReason: bigint };

export type VcpuExitReason = VcpuExit['reason'];

/** Errors of the ioctl-shaped calls: errno-like code plus, when the contract refused, its reason. */
export class BackendError extends Error {
  override name = 'BackendError';
  constructor(
    /** 'EINVAL', 'E2BIG', 'EFAULT', 'ENOTSUP', 'EBUSY', 'ENODEV' … */
    readonly code: string,
    message: string,
    readonly reason?: string,
  ) {
    super(message);
  }
}

export interface MemoryRegion {
  slot: number;
  guestPhysAddr: bigint;
  /** host memory from Vm.allocateMemory(); size = memory.byteLength - offset unless given */
  memory: ArrayBuffer;
  offset?: number;
  size?: number;
  /** KVM_MEM_READONLY = 2 (writes exit as MMIO) */
  readonly?: boolean;
}

export interface Backend {
  readonly name: BackendName;
  /** KVM_GET_SUPPORTED_CPUID: what this backend can offer a guest. */
  supportedCpuid(): CpuidEntry[];
  /** KVM_GET_EMULATED_CPUID */
  emulatedCpuid(): CpuidEntry[];
  /** KVM_GET_MSR_INDEX_LIST */
  msrIndexList(): number[];
  createVm(): Vm;
}

/** An MSR index range [base, base + count) for Vm.setUserspaceMsrs. */
export interface MsrRange {
  base: number;
  count: number;
}

/**
 * The time base a guest TSC can follow (Vm.setTscClock): the VMM's monotonic clock (the machine clock)
 * and the guest TSC frequency, the pair KVM takes as KVM_SET_TSC_KHZ plus the host clock.
 */
export interface TscClock {
  /** guest TSC frequency in Hz (a whole number, 1 MHz … 100 GHz) */
  readonly hz: number;
  /** the VMM clock in nanoseconds (monotonic, starts near 0) */
  nowNs(): number;
}

export interface Vm {
  /**
   * Optional (additive): the VM-wide KVM_SET_TSC_KHZ (KVM_CAP_VM_TSC_CONTROL), called before the first
   * createVcpu. Every vCPU's TSC then reads floor(clock.nowNs() * hz / 1e9) plus its own offset
   * (IA32_TSC and IA32_TSC_ADJUST writes move the offset, as on hardware), so a guest calibrating its
   * TSC against the PIT or the ACPI PM timer (which run on the same clock) gets `hz`. Returns false when
   * the backend cannot follow the given clock (then the guest TSC is whatever the backend runs — the
   * host TSC on KVM, the retired-instruction count on a bare interpreter — and the VMM must not
   * promise a frequency or convert TSC values to clock time: no TSC-deadline timer).
   */
  setTscClock?(clock: TscClock): boolean;
  /**
   * Optional: KVM_ENABLE_CAP(KVM_CAP_X86_USER_SPACE_MSR, KVM_MSR_EXIT_REASON_FILTER) plus
   * KVM_X86_SET_MSR_FILTER denying `ranges`: from now on every guest RDMSR/WRMSR of an index in
   * `ranges` leaves run() as an x86_rdmsr / x86_wrmsr exit for the VMM to complete (the machine uses
   * it for the local APIC's MSRs: IA32_APIC_BASE 0x1B, IA32_TSC_DEADLINE 0x6E0, x2APIC 0x800-0x8FF).
   * Returns false when the backend cannot (then the VMM hides the features needing it from CPUID).
   * Host-initiated getMsrs/setMsrs are not affected. A backend without the method cannot either.
   */
  setUserspaceMsrs?(ranges: readonly MsrRange[]): boolean;
  /** Anonymous guest memory suitable for setUserMemoryRegion (mmap'd on KVM). Zero-filled. */
  allocateMemory(bytes: number): ArrayBuffer;
  setUserMemoryRegion(region: MemoryRegion): void;
  createVcpu(id: number): Vcpu;
  destroy(): void;
}

export interface Vcpu {
  readonly id: number;
  /** KVM_SET_CPUID2. After the first run() only an identical table is accepted (EINVAL otherwise). */
  setCpuid(entries: readonly CpuidEntry[]): void;
  getCpuid(): CpuidEntry[];
  getRegs(): Regs;
  setRegs(regs: Regs): void;
  getSregs(): Sregs;
  /** KVM_SET_SREGS: invalid state → BackendError('EINVAL') and the vCPU is unchanged. */
  setSregs(sregs: Sregs): void;
  /** KVM_GET_MSRS: returns the entries read, stopping at the first MSR that cannot be read. */
  getMsrs(indices: readonly number[]): MsrEntry[];
  /** KVM_SET_MSRS (host-initiated): returns how many were set, stopping at the first refusal. */
  setMsrs(entries: readonly MsrEntry[]): number;
  getXcrs(): Xcr[];
  setXcrs(xcrs: readonly Xcr[]): void;
  getFpu(): Fpu;
  setFpu(fpu: Fpu): void;
  /** KVM_INTERRUPT: queue an external interrupt (userspace irqchip). */
  injectInterrupt(vector: number): void;
  /** KVM_NMI */
  injectNmi(): void;
  /** kvm_run.request_interrupt_window */
  requestInterruptWindow(on: boolean): void;
  /** kvm_run.ready_for_interrupt_injection */
  readyForInterruptInjection(): boolean;
  /** kvm_run.if_flag */
  interruptFlag(): boolean;
  /**
   * Optional (additive): KVM_GET_TSC_KHZ × 1000 — the rate, in Hz, at which this vCPU's TSC advances
   * in real time, or undefined when the backend cannot say. The machine uses it, when the TSC does not
   * follow its clock (no Vm.setTscClock), to convert IA32_TSC_DEADLINE values (relative to the vCPU's
   * IA32_TSC at the write) and to report the frequency to the guest.
   */
  guestTscHz?(): number | undefined;
  /** KVM_RUN until the next exit. */
  run(): VcpuExit;
  destroy(): void;
}
