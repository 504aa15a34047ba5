// The conformance programs' manifest: for each guest program, the manual section it checks and the
// CPU features it is about. The runner (conformance/matrix.ts) runs a program under the base policy
// and once with each of its features turned off (plus the named models), so every feature-gated rule
// is seen both ways. Sections: Intel SDM Vol. 3A §2.5 (control registers), §2.2.1 (EFER), Vol. 1 §13
// (XSAVE), Vol. 4 (MSRs), Vol. 3C §24/App. A (VMX capability MSRs), Vol. 2 (instructions), Vol. 3A
// §6.13 (error codes); shared/spec/kvm-contract.md.

export interface ProgramManifest {
  /** manual section(s) the program checks */
  readonly section: string;
  readonly title: string;
  /** policy-engine feature names turned off one at a time (`host,-feature`) */
  readonly features: readonly string[];
  /** also run through the multiboot32 entry under the base policy */
  readonly multiboot32?: true;
}

export const MANIFEST: Readonly<Record<string, ProgramManifest>> = {
  guestlib: { section: 'harness', title: 'the guest library itself (boot, IDT, report protocol)', features: [] },
  cr0: { section: 'SDM 3A §2.5 CR0', title: 'every CR0 bit under MOV to CR0', features: [] },
  cr4: {
    section: 'SDM 3A §2.5 CR4 (Table 2-2)',
    title: 'every CR4 bit with and without its feature (generated table)',
    features: ['smep', 'smap', 'umip', 'fsgsbase', 'pcid', 'xsave', 'pku', 'vmx', 'la57'],
    multiboot32: true,
  },
  crx: {
    section: 'SDM 3A §2.5 CR3/CR8, §17.2 DR6/DR7',
    title: 'CR3, CR8, DR6 and DR7 reserved bits',
    features: ['pcid'],
  },
  efer: {
    section: 'SDM 3A §2.2.1, APM 2 §3.1.7 EFER',
    title: 'every EFER bit with and without its feature (generated table)',
    features: ['nx', 'syscall', 'fxsr_opt', 'svm'],
  },
  xcr0: { section: 'SDM 1 §13.3 XCR0/XSETBV', title: 'XCR0 through XSETBV', features: ['xsave', 'avx'] },
  xss: {
    section: 'SDM 1 §13.3, Vol. 4 IA32_XSS; XSAVES/XSAVEC',
    title: 'IA32_XSS bits and XSAVES/XSAVEC/XSAVEOPT gating (generated table)',
    features: ['xsaves', 'xsavec', 'xsaveopt', 'xsave'],
  },
  msr: { section: 'SDM 4 Table 2-2', title: 'MSR value rules (PAT, APIC base, canonical…)', features: ['rdtscp', 'x2apic'] },
  msrgate: {
    section: 'SDM 4 Table 2-2, spec §6',
    title: 'every MSR in the contract table: exists or #GP per CPUID (generated table)',
    features: ['rdtscp', 'rdpid', 'mtrr', 'tsc_adjust', 'xsaves', 'arch_capabilities', 'pdcm', 'mca'],
  },
  vmxmsr: {
    section: 'SDM 3D App. A, spec §7',
    title: 'nested VMX capability MSRs as the guest reads them (#GP without VMX)',
    features: ['vmx'],
  },
  cpuid: {
    section: 'SDM 2A CPUID, spec §1.5',
    title: 'the CPUID the guest sees: the policy, OS-reflected bits tracking CR4',
    features: ['xsave', 'pku'],
  },
  sysinsn: {
    section: 'SDM 2B SYSCALL/SYSRET/SYSENTER, RDPID/RDTSCP, RD/WR{FS,GS}BASE, INVPCID',
    title: 'instruction gating by CPUID and control bits',
    features: ['syscall', 'sep', 'rdtscp', 'rdpid', 'fsgsbase', 'invpcid', 'pcid'],
  },
  cpl3: { section: 'SDM 3A §2.5 UMIP/TSD, SMEP/SMAP', title: 'user-mode rules (UMIP, TSD, SMEP, SMAP)', features: ['umip', 'smep', 'smap'] },
  excodes: {
    section: 'SDM 3A §6.13, §6.15 (Table 6-1)',
    title: 'exception vectors and error codes',
    features: [],
  },
};

/** The manifest entry of a program; programs owned elsewhere (paging*) get an empty one. */
export function manifestOf(program: string): ProgramManifest {
  return MANIFEST[program] ?? { section: 'unlisted', title: program, features: [] };
}
