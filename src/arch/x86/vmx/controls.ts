// VMX execution, VM-exit and VM-entry control bits: Intel SDM Vol. 3C §25.6.1-25.6.2 (pin-based,
// primary/secondary processor-based), §25.7.1 (VM-exit), §25.8.1 (VM-entry); the default-1 classes in
// SDM Vol. 3D Appendix A.3-A.5. Names follow Linux's arch/x86/include/asm/vmx.h spelling.
//
// `requires` is the guest CPUID feature a control is tied to *in the tsvmm policy layer*: after the
// 2022 revert (8805875aa473, 9389d5774aca) KVM no longer rewrites the nested control MSRs from CPUID,
// so the VMM clears a tied control when the guest lacks the feature (spec §7.5). Controls without
// `requires` are pure VMX capabilities with no CPUID bit behind them. 'perf_global_ctrl' is a pseudo
// feature: CPUID.0AH:EAX[7:0] (architectural PMU version) ≥ 2, where IA32_PERF_GLOBAL_CTRL exists.

import { masksByName, type RegisterBit } from '../registers/bits.ts';

export const PIN_CONTROLS = [
  { name: 'EXT_INTR_EXITING', bit: 0, doc: 'SDM 3C Table 25-5: external-interrupt exiting' },
  { name: 'NMI_EXITING', bit: 3, doc: 'SDM 3C Table 25-5: NMI exiting' },
  { name: 'VIRTUAL_NMIS', bit: 5, doc: 'SDM 3C Table 25-5: virtual NMIs' },
  { name: 'VMX_PREEMPTION_TIMER', bit: 6, doc: 'SDM 3C Table 25-5: activate VMX-preemption timer' },
  { name: 'POSTED_INTR', bit: 7, doc: 'SDM 3C Table 25-5: process posted interrupts' },
] as const satisfies readonly RegisterBit[];

export const PROC_CONTROLS = [
  { name: 'INTR_WINDOW_EXITING', bit: 2, doc: 'SDM 3C Table 25-6: interrupt-window exiting' },
  { name: 'USE_TSC_OFFSETTING', bit: 3, doc: 'SDM 3C Table 25-6: use TSC offsetting' },
  { name: 'HLT_EXITING', bit: 7, doc: 'SDM 3C Table 25-6: HLT exiting' },
  { name: 'INVLPG_EXITING', bit: 9, doc: 'SDM 3C Table 25-6: INVLPG exiting' },
  { name: 'MWAIT_EXITING', bit: 10, doc: 'SDM 3C Table 25-6: MWAIT exiting' },
  { name: 'RDPMC_EXITING', bit: 11, doc: 'SDM 3C Table 25-6: RDPMC exiting' },
  { name: 'RDTSC_EXITING', bit: 12, doc: 'SDM 3C Table 25-6: RDTSC exiting' },
  { name: 'CR3_LOAD_EXITING', bit: 15, doc: 'SDM 3C Table 25-6: CR3-load exiting (default-1)' },
  { name: 'CR3_STORE_EXITING', bit: 16, doc: 'SDM 3C Table 25-6: CR3-store exiting (default-1)' },
  { name: 'ACTIVATE_TERTIARY_CONTROLS', bit: 17, doc: 'SDM 3C Table 25-6: activate tertiary controls' },
  { name: 'CR8_LOAD_EXITING', bit: 19, requires: 'lm', doc: 'SDM 3C Table 25-6: CR8-load exiting' },
  { name: 'CR8_STORE_EXITING', bit: 20, requires: 'lm', doc: 'SDM 3C Table 25-6: CR8-store exiting' },
  { name: 'TPR_SHADOW', bit: 21, doc: 'SDM 3C Table 25-6: use TPR shadow' },
  { name: 'NMI_WINDOW_EXITING', bit: 22, doc: 'SDM 3C Table 25-6: NMI-window exiting' },
  { name: 'MOV_DR_EXITING', bit: 23, doc: 'SDM 3C Table 25-6: MOV-DR exiting' },
  { name: 'UNCOND_IO_EXITING', bit: 24, doc: 'SDM 3C Table 25-6: unconditional I/O exiting' },
  { name: 'USE_IO_BITMAPS', bit: 25, doc: 'SDM 3C Table 25-6: use I/O bitmaps' },
  { name: 'MONITOR_TRAP_FLAG', bit: 27, doc: 'SDM 3C Table 25-6: monitor trap flag' },
  { name: 'USE_MSR_BITMAPS', bit: 28, doc: 'SDM 3C Table 25-6: use MSR bitmaps' },
  { name: 'MONITOR_EXITING', bit: 29, doc: 'SDM 3C Table 25-6: MONITOR exiting' },
  { name: 'PAUSE_EXITING', bit: 30, doc: 'SDM 3C Table 25-6: PAUSE exiting' },
  { name: 'ACTIVATE_SECONDARY_CONTROLS', bit: 31, doc: 'SDM 3C Table 25-6: activate secondary controls' },
] as const satisfies readonly RegisterBit[];

export const PROC2_CONTROLS = [
  { name: 'VIRTUALIZE_APIC_ACCESSES', bit: 0, doc: 'SDM 3C Table 25-7: virtualize APIC accesses' },
  { name: 'ENABLE_EPT', bit: 1, doc: 'SDM 3C Table 25-7: enable EPT' },
  {
    name: 'DESC',
    bit: 2,
    doc: 'SDM 3C Table 25-7: descriptor-table exiting (L1 uses it to emulate UMIP; not tied to CPUID)',
  },
  { name: 'ENABLE_RDTSCP', bit: 3, requires: 'rdtscp', doc: 'SDM 3C Table 25-7: enable RDTSCP' },
  {
    name: 'VIRTUALIZE_X2APIC_MODE',
    bit: 4,
    requires: 'x2apic',
    doc: 'SDM 3C Table 25-7: virtualize x2APIC mode',
  },
  { name: 'ENABLE_VPID', bit: 5, doc: 'SDM 3C Table 25-7: enable VPID' },
  { name: 'WBINVD_EXITING', bit: 6, doc: 'SDM 3C Table 25-7: WBINVD exiting' },
  { name: 'UNRESTRICTED_GUEST', bit: 7, doc: 'SDM 3C Table 25-7: unrestricted guest' },
  { name: 'APIC_REGISTER_VIRT', bit: 8, doc: 'SDM 3C Table 25-7: APIC-register virtualization' },
  { name: 'VIRTUAL_INTR_DELIVERY', bit: 9, doc: 'SDM 3C Table 25-7: virtual-interrupt delivery' },
  { name: 'PAUSE_LOOP_EXITING', bit: 10, doc: 'SDM 3C Table 25-7: PAUSE-loop exiting' },
  { name: 'RDRAND_EXITING', bit: 11, requires: 'rdrand', doc: 'SDM 3C Table 25-7: RDRAND exiting' },
  { name: 'ENABLE_INVPCID', bit: 12, requires: 'invpcid', doc: 'SDM 3C Table 25-7: enable INVPCID' },
  { name: 'ENABLE_VMFUNC', bit: 13, doc: 'SDM 3C Table 25-7: enable VM functions' },
  { name: 'SHADOW_VMCS', bit: 14, doc: 'SDM 3C Table 25-7: VMCS shadowing' },
  { name: 'ENCLS_EXITING', bit: 15, requires: 'sgx', doc: 'SDM 3C Table 25-7: ENCLS exiting' },
  { name: 'RDSEED_EXITING', bit: 16, requires: 'rdseed', doc: 'SDM 3C Table 25-7: RDSEED exiting' },
  { name: 'ENABLE_PML', bit: 17, doc: 'SDM 3C Table 25-7: enable PML' },
  { name: 'EPT_VIOLATION_VE', bit: 18, doc: 'SDM 3C Table 25-7: EPT-violation #VE' },
  { name: 'PT_CONCEAL_VMX', bit: 19, requires: 'intel_pt', doc: 'SDM 3C Table 25-7: conceal VMX from PT' },
  { name: 'ENABLE_XSAVES', bit: 20, requires: 'xsaves', doc: 'SDM 3C Table 25-7: enable XSAVES/XRSTORS' },
  { name: 'MODE_BASED_EPT_EXEC', bit: 22, doc: 'SDM 3C Table 25-7: mode-based execute control for EPT' },
  { name: 'EPT_SUB_PAGE', bit: 23, doc: 'SDM 3C Table 25-7: sub-page write permissions for EPT' },
  {
    name: 'PT_USE_GPA',
    bit: 24,
    requires: 'intel_pt',
    doc: 'SDM 3C Table 25-7: Intel PT uses guest physical addresses',
  },
  { name: 'TSC_SCALING', bit: 25, doc: 'SDM 3C Table 25-7: use TSC scaling' },
  {
    name: 'ENABLE_USR_WAIT_PAUSE',
    bit: 26,
    requires: 'waitpkg',
    doc: 'SDM 3C Table 25-7: enable user wait and pause',
  },
  { name: 'ENABLE_PCONFIG', bit: 27, requires: 'pconfig', doc: 'SDM 3C Table 25-7: enable PCONFIG' },
  { name: 'ENCLV_EXITING', bit: 28, requires: 'sgx', doc: 'SDM 3C Table 25-7: enable ENCLV exiting' },
  { name: 'BUS_LOCK_DETECTION', bit: 30, doc: 'SDM 3C Table 25-7: VMM bus-lock detection' },
  { name: 'NOTIFY_VM_EXITING', bit: 31, doc: 'SDM 3C Table 25-7: instruction timeout' },
] as const satisfies readonly RegisterBit[];

export const EXIT_CONTROLS = [
  { name: 'SAVE_DEBUG_CONTROLS', bit: 2, doc: 'SDM 3C Table 25-14: save debug controls (default-1)' },
  {
    name: 'HOST_ADDR_SPACE_SIZE',
    bit: 9,
    requires: 'lm',
    doc: 'SDM 3C Table 25-14: host address-space size (64-bit host)',
  },
  {
    name: 'LOAD_IA32_PERF_GLOBAL_CTRL',
    bit: 12,
    requires: 'perf_global_ctrl',
    doc: 'SDM 3C Table 25-14: load IA32_PERF_GLOBAL_CTRL',
  },
  { name: 'ACK_INTR_ON_EXIT', bit: 15, doc: 'SDM 3C Table 25-14: acknowledge interrupt on exit' },
  { name: 'SAVE_IA32_PAT', bit: 18, requires: 'pat', doc: 'SDM 3C Table 25-14: save IA32_PAT' },
  { name: 'LOAD_IA32_PAT', bit: 19, requires: 'pat', doc: 'SDM 3C Table 25-14: load IA32_PAT' },
  { name: 'SAVE_IA32_EFER', bit: 20, doc: 'SDM 3C Table 25-14: save IA32_EFER' },
  { name: 'LOAD_IA32_EFER', bit: 21, doc: 'SDM 3C Table 25-14: load IA32_EFER' },
  { name: 'SAVE_VMX_PREEMPTION_TIMER', bit: 22, doc: 'SDM 3C Table 25-14: save VMX-preemption timer value' },
  { name: 'CLEAR_BNDCFGS', bit: 23, requires: 'mpx', doc: 'SDM 3C Table 25-14: clear IA32_BNDCFGS' },
  {
    name: 'PT_CONCEAL_PIP',
    bit: 24,
    requires: 'intel_pt',
    doc: 'SDM 3C Table 25-14: conceal VM exits from PT',
  },
  {
    name: 'CLEAR_IA32_RTIT_CTL',
    bit: 25,
    requires: 'intel_pt',
    doc: 'SDM 3C Table 25-14: clear IA32_RTIT_CTL',
  },
  {
    name: 'CLEAR_IA32_LBR_CTL',
    bit: 26,
    requires: 'arch_lbr',
    doc: 'SDM 3C Table 25-14: clear IA32_LBR_CTL',
  },
  { name: 'CLEAR_UINV', bit: 27, requires: 'uintr', doc: 'SDM 3C Table 25-14: clear UINV' },
  { name: 'LOAD_CET_STATE', bit: 28, requires: ['shstk', 'ibt'], doc: 'SDM 3C Table 25-14: load CET state' },
  { name: 'LOAD_PKRS', bit: 29, requires: 'pks', doc: 'SDM 3C Table 25-14: load PKRS' },
  {
    name: 'SAVE_IA32_PERF_GLOBAL_CTL',
    bit: 30,
    requires: 'perf_global_ctrl',
    doc: 'SDM 3C Table 25-14: save IA32_PERF_GLOBAL_CTL',
  },
  {
    name: 'ACTIVATE_SECONDARY_CONTROLS',
    bit: 31,
    doc: 'SDM 3C Table 25-14: activate secondary VM-exit controls',
  },
] as const satisfies readonly RegisterBit[];

export const ENTRY_CONTROLS = [
  { name: 'LOAD_DEBUG_CONTROLS', bit: 2, doc: 'SDM 3C Table 25-16: load debug controls (default-1)' },
  { name: 'IA32E_MODE', bit: 9, requires: 'lm', doc: 'SDM 3C Table 25-16: IA-32e mode guest' },
  { name: 'SMM', bit: 10, doc: 'SDM 3C Table 25-16: entry to SMM' },
  { name: 'DEACT_DUAL_MONITOR', bit: 11, doc: 'SDM 3C Table 25-16: deactivate dual-monitor treatment' },
  {
    name: 'LOAD_IA32_PERF_GLOBAL_CTRL',
    bit: 13,
    requires: 'perf_global_ctrl',
    doc: 'SDM 3C Table 25-16: load IA32_PERF_GLOBAL_CTRL',
  },
  { name: 'LOAD_IA32_PAT', bit: 14, requires: 'pat', doc: 'SDM 3C Table 25-16: load IA32_PAT' },
  { name: 'LOAD_IA32_EFER', bit: 15, doc: 'SDM 3C Table 25-16: load IA32_EFER' },
  { name: 'LOAD_BNDCFGS', bit: 16, requires: 'mpx', doc: 'SDM 3C Table 25-16: load IA32_BNDCFGS' },
  {
    name: 'PT_CONCEAL_PIP',
    bit: 17,
    requires: 'intel_pt',
    doc: 'SDM 3C Table 25-16: conceal VM entries from PT',
  },
  {
    name: 'LOAD_IA32_RTIT_CTL',
    bit: 18,
    requires: 'intel_pt',
    doc: 'SDM 3C Table 25-16: load IA32_RTIT_CTL',
  },
  { name: 'LOAD_UINV', bit: 19, requires: 'uintr', doc: 'SDM 3C Table 25-16: load UINV' },
  { name: 'LOAD_CET_STATE', bit: 20, requires: ['shstk', 'ibt'], doc: 'SDM 3C Table 25-16: load CET state' },
  {
    name: 'LOAD_IA32_LBR_CTL',
    bit: 21,
    requires: 'arch_lbr',
    doc: 'SDM 3C Table 25-16: load guest IA32_LBR_CTL',
  },
  { name: 'LOAD_PKRS', bit: 22, requires: 'pks', doc: 'SDM 3C Table 25-16: load PKRS' },
] as const satisfies readonly RegisterBit[];

export const PinCtl = masksByName(PIN_CONTROLS);
export const ProcCtl = masksByName(PROC_CONTROLS);
export const Proc2Ctl = masksByName(PROC2_CONTROLS);
export const ExitCtl = masksByName(EXIT_CONTROLS);
export const EntryCtl = masksByName(ENTRY_CONTROLS);

/** Default-1 classes, which the non-TRUE MSRs report as must-be-1 (SDM 3D A.3-A.5;
 *  KVM's *_ALWAYSON_WITHOUT_TRUE_MSR in vmx/nested.h). */
export const PIN_DEFAULT1 = 0x0000_0016n;
export const PROC_DEFAULT1 = 0x0401_e172n;
export const EXIT_DEFAULT1 = 0x0003_6dffn;
export const ENTRY_DEFAULT1 = 0x0000_11ffn;
