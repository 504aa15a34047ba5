// The MSR table (SDM Vol. 4; KVM PV MSRs per Documentation/virt/kvm/x86/msr.rst).

export * from './table.ts';
export * from './x2apic.ts';
