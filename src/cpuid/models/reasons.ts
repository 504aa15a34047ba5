// Shared reasons for the named models' choices (models/*.ts). KVM's rules: shared/spec/kvm-contract.md
// §5.1–§5.3.

/** Bits KVM never advertises (not declared in kvm_initialize_cpu_caps): hardware monitoring, debug store, PMU and
 *  power-management controls, RDT, host-only virtualization and security features. */
export const NOT_VIRTUALIZED =
  'not virtualized by KVM (undeclared in kvm_initialize_cpu_caps), so no guest can use it';

/** Bits KVM sets only under vendor conditions tsvmm does not meet (nested, SEV, PT, MONITOR/MWAIT). */
export const VENDOR_ONLY =
  'offered by KVM only with nested virtualization, SEV, Intel PT host_guest mode or MWAIT passthrough, none of which tsvmm uses';

/** Bits a VMM adds whatever the silicon: KVM EMULATED_F (spec §5.2). */
export const VMM_ADDED =
  'added by the VMM (KVM EMULATED_F): the hypervisor bit / emulated LAPIC timer and TSC_ADJUST';
