// KVM's capability declarations, as data: how KVM_GET_SUPPORTED_CPUID decides each feature bit.
// Source: kvm_initialize_cpu_caps() (formerly kvm_set_cpu_caps()) in arch/x86/kvm/cpuid.c, summarised in
// shared/spec/kvm-contract.md §5.1–§5.3. The formula per bit is
//
//   caps = ((declared ∧ host-kernel caps) ∨ PASSTHROUGH) ∧ (raw CPUID ∨ SYNTHESIZED) ∨ EMULATED
//
// A feature of the closed feature list that is not named here is never advertised by KVM (it is an
// undeclared bit: DS-CPL, SMX, EST, TM2, PSN, ACPI, HTT, IBS, SKINIT, …). Names are resolved through the
// feature database (Linux X86_FEATURE_* spellings or their /proc/cpuinfo aliases).

/** The declarators of kvm_cpu_cap_init (spec §5.1). */
export type KvmMechanism =
  /** F(x): host kernel and raw CPUID must both have it */
  | 'F'
  /** X86_64_F(x): like F on 64-bit hosts (the only kind tsvmm runs on) */
  | 'X86_64_F'
  /** SCATTERED_F(x): like F, for bits the kernel keeps in scattered words */
  | 'SCATTERED_F'
  /** EMULATED_F(x): always set, whatever the host */
  | 'EMULATED_F'
  /** SYNTHESIZED_F(x): set when the host kernel has it, even as a synthetic flag (not masked by raw CPUID) */
  | 'SYNTHESIZED_F'
  /** PASSTHROUGH_F(x): set when raw CPUID has it, even if the host kernel disabled it */
  | 'PASSTHROUGH_F'
  /** ALIASED_1_EDX_F(x): an AMD 0x80000001:EDX copy of a 1:EDX bit, set when the 1:EDX bit is (ext_* rows) */
  | 'ALIASED_1_EDX_F'
  /** VENDOR_F(x): set later by vmx_set_cpu_caps/svm_set_cpu_caps under conditions (see VENDOR_RULES) */
  | 'VENDOR_F'
  /** RUNTIME_F(x): never advertised; KVM mirrors guest state into it at run time */
  | 'RUNTIME_F';

/** Feature name → declarator. Grouped by CPUID word as in kvm_initialize_cpu_caps. */
export const KVM_CAPS: Readonly<Record<string, KvmMechanism>> = {
  // CPUID_1_ECX
  pni: 'F',
  pclmulqdq: 'F',
  monitor: 'RUNTIME_F',
  vmx: 'VENDOR_F',
  ssse3: 'F',
  fma: 'F',
  cx16: 'F',
  pdcm: 'F',
  pcid: 'F',
  sse4_1: 'F',
  sse4_2: 'F',
  x2apic: 'EMULATED_F',
  movbe: 'F',
  popcnt: 'F',
  tsc_deadline_timer: 'EMULATED_F',
  aes: 'F',
  xsave: 'F',
  osxsave: 'RUNTIME_F',
  avx: 'F',
  f16c: 'F',
  rdrand: 'F',
  hypervisor: 'EMULATED_F',
  // leaf 6: __do_cpuid_func reports EAX = 0x4 (ARAT) whatever the host has
  arat: 'EMULATED_F',
  // CPUID_1_EDX
  fpu: 'F',
  vme: 'F',
  de: 'F',
  pse: 'F',
  tsc: 'F',
  msr: 'F',
  pae: 'F',
  mce: 'F',
  cx8: 'F',
  apic: 'F',
  sep: 'F',
  mtrr: 'F',
  pge: 'F',
  mca: 'F',
  cmov: 'F',
  pat: 'F',
  pse36: 'F',
  clflush: 'F',
  mmx: 'F',
  fxsr: 'F',
  sse: 'F',
  sse2: 'F',
  ss: 'F',
  // CPUID_7_0_EBX
  fsgsbase: 'F',
  tsc_adjust: 'EMULATED_F',
  sgx: 'VENDOR_F',
  bmi1: 'F',
  hle: 'F',
  avx2: 'F',
  fdp_excptn_only: 'F',
  smep: 'F',
  bmi2: 'F',
  erms: 'F',
  invpcid: 'F',
  rtm: 'F',
  zero_fcs_fds: 'F',
  mpx: 'VENDOR_F',
  avx512f: 'F',
  avx512dq: 'F',
  rdseed: 'F',
  adx: 'F',
  smap: 'F',
  avx512ifma: 'F',
  clflushopt: 'F',
  clwb: 'F',
  intel_pt: 'VENDOR_F',
  avx512pf: 'F',
  avx512er: 'F',
  avx512cd: 'F',
  sha_ni: 'F',
  avx512bw: 'F',
  avx512vl: 'F',
  // CPUID_7_ECX
  avx512vbmi: 'F',
  umip: 'F',
  pku: 'F',
  ospke: 'RUNTIME_F',
  waitpkg: 'VENDOR_F',
  avx512_vbmi2: 'F',
  shstk: 'X86_64_F',
  gfni: 'F',
  vaes: 'F',
  vpclmulqdq: 'F',
  avx512_vnni: 'F',
  avx512_bitalg: 'F',
  avx512_vpopcntdq: 'F',
  la57: 'PASSTHROUGH_F',
  rdpid: 'F',
  bus_lock_detect: 'F',
  cldemote: 'F',
  movdiri: 'F',
  movdir64b: 'F',
  sgx_lc: 'VENDOR_F',
  // CPUID_7_EDX
  avx512_4vnniw: 'F',
  avx512_4fmaps: 'F',
  fsrm: 'F',
  avx512_vp2intersect: 'F',
  md_clear: 'F',
  serialize: 'F',
  tsxldtrk: 'F',
  ibt: 'X86_64_F',
  amx_bf16: 'F',
  avx512_fp16: 'F',
  amx_tile: 'F',
  amx_int8: 'F',
  spec_ctrl: 'F',
  intel_stibp: 'F',
  flush_l1d: 'F',
  arch_capabilities: 'EMULATED_F',
  spec_ctrl_ssbd: 'F',
  // CPUID_7_1_EAX
  sha512: 'F',
  sm3: 'F',
  sm4: 'F',
  avx_vnni: 'F',
  avx512_bf16: 'F',
  cmpccxadd: 'F',
  fzrm: 'F',
  fsrs: 'F',
  fsrc: 'F',
  lkgs: 'X86_64_F',
  amx_fp16: 'F',
  avx_ifma: 'F',
  lam: 'X86_64_F',
  // CPUID_7_1_EDX
  avx_vnni_int8: 'F',
  avx_ne_convert: 'F',
  amx_complex: 'F',
  avx_vnni_int16: 'F',
  prefetchiti: 'F',
  avx10: 'F',
  // CPUID_7_2_EDX
  intel_psfd: 'F',
  ipred_ctrl: 'F',
  rrsba_ctrl: 'F',
  ddpd_u: 'F',
  bhi_ctrl: 'F',
  mcdt_no: 'F',
  // CPUID_D_1_EAX
  xsaveopt: 'F',
  xsavec: 'F',
  xgetbv1: 'F',
  xsaves: 'F',
  xfd: 'X86_64_F',
  // CPUID_8000_0001_ECX
  lahf_lm: 'F',
  cmp_legacy: 'F',
  svm: 'VENDOR_F',
  cr8_legacy: 'F',
  abm: 'F',
  sse4a: 'F',
  misalignsse: 'F',
  '3dnowprefetch': 'F',
  osvw: 'F',
  xop: 'F',
  fma4: 'F',
  tbm: 'F',
  topoext: 'F',
  perfctr_core: 'F',
  // CPUID_8000_0001_EDX
  syscall: 'F',
  nx: 'F',
  mmxext: 'F',
  fxsr_opt: 'F',
  gbpages: 'X86_64_F',
  rdtscp: 'F',
  lm: 'X86_64_F',
  '3dnowext': 'F',
  '3dnow': 'F',
  // CPUID_8000_0007_EDX
  constant_tsc: 'SCATTERED_F',
  // CPUID_8000_0008_EBX
  clzero: 'F',
  xsaveerptr: 'F',
  wbnoinvd: 'F',
  amd_ibpb: 'F',
  amd_ibrs: 'F',
  amd_ssbd: 'F',
  virt_ssbd: 'F',
  amd_ssb_no: 'F',
  amd_stibp: 'F',
  amd_stibp_always_on: 'F',
  amd_psfd: 'F',
  amd_ibpb_ret: 'F',
  efer_lmsle_mbz: 'PASSTHROUGH_F',
  // CPUID_8000_000A_EDX (SVM features: only with nested SVM)
  npt: 'VENDOR_F',
  nrip_save: 'VENDOR_F',
  vgif: 'VENDOR_F',
  vnmi: 'VENDOR_F',
  // CPUID_8000_001F_EAX (SEV: only when KVM is configured for it)
  sme: 'VENDOR_F',
  sev: 'VENDOR_F',
  sev_es: 'VENDOR_F',
  sev_snp: 'VENDOR_F',
  // CPUID_8000_0021_EAX / ECX
  no_nested_data_bp: 'F',
  lfence_rdtsc: 'SYNTHESIZED_F',
  null_sel_clr_base: 'F',
  autoibrs: 'F',
  no_smm_ctl_msr: 'EMULATED_F',
  gp_on_user_cpuid: 'EMULATED_F',
  prefetchi: 'F',
  sbpb: 'SYNTHESIZED_F',
  ibpb_brtype: 'SYNTHESIZED_F',
  srso_no: 'SYNTHESIZED_F',
  verw_clear: 'SYNTHESIZED_F',
  tsa_sq_no: 'SYNTHESIZED_F',
  tsa_l1_no: 'SYNTHESIZED_F',
};

/** Conditions under which a VENDOR_F bit is set (spec §5.2/§5.3; [R] in the spec where recalled). */
export const VENDOR_RULES: Readonly<Record<string, string>> = {
  vmx: 'set by vmx_set_cpu_caps only with nested=1 (tsvmm does not offer nested virtualization)',
  svm: 'set by svm_set_cpu_caps only with nested=1 (tsvmm does not offer nested virtualization)',
  npt: 'SVM feature leaf 0x8000000A is reported only with nested SVM',
  nrip_save: 'SVM feature leaf 0x8000000A is reported only with nested SVM',
  vgif: 'SVM feature leaf 0x8000000A is reported only with nested SVM',
  vnmi: 'SVM feature leaf 0x8000000A is reported only with nested SVM',
  mpx: 'VMX sets MPX only if kvm_mpx_supported() (both MPX XCR0 bits usable); SVM never sets it',
  intel_pt: 'Intel PT is offered only in pt_mode=host_guest, which is off by default',
  sgx: 'SGX needs an EPC section the VMM sets up; tsvmm does not',
  sgx_lc: 'SGX needs an EPC section the VMM sets up; tsvmm does not',
  waitpkg: 'VMX sets WAITPKG only with the "enable user wait and pause" secondary control; not modelled',
  sme: 'SEV/SME leaf 0x8000001F is reported only when KVM is configured for SEV; tsvmm does not use SEV',
  sev: 'SEV/SME leaf 0x8000001F is reported only when KVM is configured for SEV; tsvmm does not use SEV',
  sev_es: 'SEV/SME leaf 0x8000001F is reported only when KVM is configured for SEV; tsvmm does not use SEV',
  sev_snp: 'SEV/SME leaf 0x8000001F is reported only when KVM is configured for SEV; tsvmm does not use SEV',
};

/** Where each declarator is described, for reasons. */
export const KVM_SOURCE = 'arch/x86/kvm/cpuid.c kvm_initialize_cpu_caps; spec §5.1';
