// KVM x86-64 UAPI struct layouts as offset tables (Linux include/uapi/linux/kvm.h and
// arch/x86/include/uapi/asm/kvm.h; Documentation/virt/kvm/api.rst §4 names each struct per ioctl).
// Offsets are byte offsets on x86-64 (LP64, natural alignment). layout.test.ts compiles a C program
// against <linux/kvm.h> and checks every row here against offsetof/sizeof.

/** struct kvm_regs: 18 × __u64 in this order. */
export const KvmRegs = {
  rax: 0x00,
  rbx: 0x08,
  rcx: 0x10,
  rdx: 0x18,
  rsi: 0x20,
  rdi: 0x28,
  rsp: 0x30,
  rbp: 0x38,
  r8: 0x40,
  r9: 0x48,
  r10: 0x50,
  r11: 0x58,
  r12: 0x60,
  r13: 0x68,
  r14: 0x70,
  r15: 0x78,
  rip: 0x80,
  rflags: 0x88,
  SIZE: 0x90,
} as const;

/** struct kvm_segment */
export const KvmSegment = {
  base: 0x00, // __u64
  limit: 0x08, // __u32
  selector: 0x0c, // __u16
  type: 0x0e, // __u8 each from here
  present: 0x0f,
  dpl: 0x10,
  db: 0x11,
  s: 0x12,
  l: 0x13,
  g: 0x14,
  avl: 0x15,
  unusable: 0x16,
  padding: 0x17,
  SIZE: 0x18,
} as const;

/** struct kvm_dtable */
export const KvmDtable = {
  base: 0x00, // __u64
  limit: 0x08, // __u16
  padding: 0x0a, // __u16[3]
  SIZE: 0x10,
} as const;

/** struct kvm_sregs */
export const KvmSregs = {
  cs: 0x00,
  ds: 0x18,
  es: 0x30,
  fs: 0x48,
  gs: 0x60,
  ss: 0x78,
  tr: 0x90,
  ldt: 0xa8,
  gdt: 0xc0,
  idt: 0xd0,
  cr0: 0xe0,
  cr2: 0xe8,
  cr3: 0xf0,
  cr4: 0xf8,
  cr8: 0x100,
  efer: 0x108,
  apic_base: 0x110,
  /** __u64[(KVM_NR_INTERRUPTS + 63) / 64], KVM_NR_INTERRUPTS = 256 */
  interrupt_bitmap: 0x118,
  SIZE: 0x138,
} as const;

/** struct kvm_msr_entry */
export const KvmMsrEntry = { index: 0x00, reserved: 0x04, data: 0x08, SIZE: 0x10 } as const;
/** struct kvm_msrs (header; entries[] follow) */
export const KvmMsrs = { nmsrs: 0x00, pad: 0x04, entries: 0x08, SIZE: 0x08 } as const;
/** struct kvm_msr_list (header; __u32 indices[] follow) */
export const KvmMsrList = { nmsrs: 0x00, indices: 0x04, SIZE: 0x04 } as const;

/** struct kvm_cpuid_entry2 */
export const KvmCpuidEntry2 = {
  function: 0x00,
  index: 0x04,
  flags: 0x08,
  eax: 0x0c,
  ebx: 0x10,
  ecx: 0x14,
  edx: 0x18,
  padding: 0x1c, // __u32[3]
  SIZE: 0x28,
} as const;
/** struct kvm_cpuid2 (header; entries[] follow) */
export const KvmCpuid2 = { nent: 0x00, padding: 0x04, entries: 0x08, SIZE: 0x08 } as const;

/** struct kvm_xcr / struct kvm_xcrs (KVM_MAX_XCRS = 16) */
export const KvmXcr = { xcr: 0x00, reserved: 0x04, value: 0x08, SIZE: 0x10 } as const;
export const KvmXcrs = { nr_xcrs: 0x00, flags: 0x04, xcrs: 0x08, padding: 0x108, SIZE: 0x188 } as const;
export const KVM_MAX_XCRS = 16;

/** struct kvm_fpu */
export const KvmFpu = {
  fpr: 0x00, // __u8[8][16]
  fcw: 0x80, // __u16
  fsw: 0x82, // __u16
  ftwx: 0x84, // __u8
  pad1: 0x85,
  last_opcode: 0x86, // __u16
  last_ip: 0x88, // __u64
  last_dp: 0x90, // __u64
  xmm: 0x98, // __u8[16][16]
  mxcsr: 0x198, // __u32
  pad2: 0x19c,
  SIZE: 0x1a0,
} as const;

/** struct kvm_interrupt */
export const KvmInterrupt = { irq: 0x00, SIZE: 0x04 } as const;

/** struct kvm_userspace_memory_region */
export const KvmUserspaceMemoryRegion = {
  slot: 0x00, // __u32
  flags: 0x04, // __u32: KVM_MEM_LOG_DIRTY_PAGES = 1, KVM_MEM_READONLY = 2
  guest_phys_addr: 0x08,
  memory_size: 0x10,
  userspace_addr: 0x18,
  SIZE: 0x20,
} as const;
export const KVM_MEM_READONLY = 2;

/** struct kvm_enable_cap (KVM_ENABLE_CAP) */
export const KvmEnableCap = { cap: 0x00, flags: 0x04, args: 0x08, pad: 0x28, SIZE: 0x68 } as const;

/** struct kvm_msr_filter_range: bitmap bit set = allow, clear = deny (api.rst KVM_X86_SET_MSR_FILTER) */
export const KvmMsrFilterRange = { flags: 0x00, nmsrs: 0x04, base: 0x08, bitmap: 0x10, SIZE: 0x18 } as const;
/** struct kvm_msr_filter: flags (KVM_MSR_FILTER_DEFAULT_ALLOW 0 / _DENY 1) and 16 ranges */
export const KvmMsrFilter = { flags: 0x00, ranges: 0x08, SIZE: 0x188 } as const;
export const KVM_MSR_FILTER_MAX_RANGES = 16;
/** kvm_msr_filter_range.flags */
export const KVM_MSR_FILTER_READ = 1;
export const KVM_MSR_FILTER_WRITE = 2;
/** KVM_CAP_X86_USER_SPACE_MSR args[0]: which failed MSR accesses exit to userspace */
export const KVM_MSR_EXIT_REASON_INVAL = 1;
export const KVM_MSR_EXIT_REASON_UNKNOWN = 2;
export const KVM_MSR_EXIT_REASON_FILTER = 4;

/**
 * struct kvm_run, the page shared with KVM after mmap(vcpu_fd). The exit-specific union starts at
 * 0x20 and is 256 bytes; its members are listed as absolute offsets under their exit name.
 */
export const KvmRun = {
  request_interrupt_window: 0x00, // __u8 in
  immediate_exit: 0x01, // __u8 in
  exit_reason: 0x08, // __u32 out
  ready_for_interrupt_injection: 0x0c, // __u8 out
  if_flag: 0x0d, // __u8 out
  flags: 0x0e, // __u16 out
  cr8: 0x10, // __u64 in/out
  apic_base: 0x18, // __u64 in/out
  /** the union */
  exit: 0x20,
  /** KVM_EXIT_UNKNOWN: __u64 hardware_exit_reason */
  hw_hardware_exit_reason: 0x20,
  /** KVM_EXIT_FAIL_ENTRY */
  fail_entry_hardware_entry_failure_reason: 0x20, // __u64
  fail_entry_cpu: 0x28, // __u32
  /** KVM_EXIT_EXCEPTION */
  ex_exception: 0x20,
  ex_error_code: 0x24,
  /** KVM_EXIT_IO */
  io_direction: 0x20, // __u8: KVM_EXIT_IO_IN 0, KVM_EXIT_IO_OUT 1
  io_size: 0x21, // __u8
  io_port: 0x22, // __u16
  io_count: 0x24, // __u32
  io_data_offset: 0x28, // __u64, relative to the start of kvm_run
  /** KVM_EXIT_DEBUG: struct kvm_debug_exit_arch */
  debug_exception: 0x20, // __u32
  debug_pc: 0x28, // __u64
  debug_dr6: 0x30,
  debug_dr7: 0x38,
  /** KVM_EXIT_MMIO */
  mmio_phys_addr: 0x20, // __u64
  mmio_data: 0x28, // __u8[8]
  mmio_len: 0x30, // __u32
  mmio_is_write: 0x34, // __u8
  /** KVM_EXIT_INTERNAL_ERROR */
  internal_suberror: 0x20, // __u32
  internal_ndata: 0x24, // __u32
  internal_data: 0x28, // __u64[16]
  /** KVM_EXIT_INTERNAL_ERROR, suberror KVM_INTERNAL_ERROR_EMULATION (same suberror/ndata words) */
  emulation_failure_flags: 0x28, // __u64
  emulation_failure_insn_size: 0x30, // __u8
  emulation_failure_insn_bytes: 0x31, // __u8[15]
  /** KVM_EXIT_X86_RDMSR / KVM_EXIT_X86_WRMSR: error is written by the VMM before the next KVM_RUN */
  msr_error: 0x20, // __u8 in
  msr_reason: 0x28, // __u32 out: KVM_MSR_EXIT_REASON_*
  msr_index: 0x2c, // __u32 out
  msr_data: 0x30, // __u64 in (RDMSR) / out (WRMSR)
  /** KVM_EXIT_SYSTEM_EVENT */
  system_event_type: 0x20, // __u32
  system_event_ndata: 0x24, // __u32
  system_event_data: 0x28, // __u64[16] (older kernels: one __u64 flags here)
  /** after the union */
  kvm_valid_regs: 0x120,
  kvm_dirty_regs: 0x128,
  /** struct kvm_sync_regs area */
  s: 0x130,
} as const;

export const KVM_INTERNAL_ERROR_DATA_MAX = 16;
export const KVM_SYSTEM_EVENT_DATA_MAX = 16;
