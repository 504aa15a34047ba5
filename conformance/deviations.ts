// Known deviations seen by the conformance programs: cases where a backend on a given host does not do
// what the program asserts (KVM's contract, shared/spec/kvm-contract.md), recorded as data with the
// evidence. The runner shows a FAIL line that matches one of these as DEVIATION (never as PASS), so a
// cell still fails on anything unexplained. Each entry names the host flavour it was seen on; on other
// hosts (kvm_intel, kvm_amd) the lines stay plain failures until someone looks.
// See also src/vcpu/kvm/pvm-deviations.ts (the KVM backend's own list, found with raw probes).

/** Which KVM module serves /dev/kvm ('none' when there is no KVM, e.g. the interpreter). */
export type HostFlavour = 'kvm_pvm' | 'kvm_intel' | 'kvm_amd' | 'kvm_unknown' | 'none';

export interface ConformanceDeviation {
  readonly id: string;
  /**
   * 'host': how this backend on this host behaves (data about the oracle, kept).
   * 'bug': a defect in tsvmm itself, recorded so the suite stays readable; it must be fixed and removed.
   * 'contract': the contract's table (src/contract, src/arch/x86/msr) and KVM here disagree and the
   *   upstream source was not re-read to settle who is right; the contract owner must decide and either
   *   fix the table or turn the entry into a 'host' deviation.
   */
  readonly kind: 'host' | 'bug' | 'contract';
  readonly backend: 'kvm' | 'interp';
  readonly flavours: readonly HostFlavour[];
  /** report-line names this covers */
  readonly check: RegExp;
  /** the line's expect= and got= tokens must be these (so a different wrong answer is still a failure) */
  readonly expect: string;
  readonly got: string;
  /** what happens and why, with the source of the expectation */
  readonly what: string;
  /** how it was seen */
  readonly evidence: string;
  /** the check derails the guest on this host (it cannot report a line): the runner skips this check
   *  up front (tsvmm.skip=) and shows it as oracle-unavailable with this deviation's id */
  readonly skipCheck?: { readonly program: string; readonly check: string };
}

const SEEN = 'seen 2026-11-23 on Linux 6.18.44-fc-v509 with kvm_pvm (AMD family 1Ah), tsvmm KVM backend';

export const CONFORMANCE_DEVIATIONS: readonly ConformanceDeviation[] = [
  {
    id: 'emulated-mov-cr-drops-high-bits',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^(cr4\.(FRED|bit(3[3-9]|[45]\d|6[0-3]))|cr0\.bit(3[2-9]|[45]\d|6[0-3]))$/,
    expect: '#GP',
    got: 'ok',
    what:
      'MOV to CR0 or CR4 with any of bits 63:32 set does not fault; the bits are dropped (the register reads back the ' +
      'old value). ' +
      "KVM's instruction emulator hands MOV-to-CR0/CR4 to kvm_set_cr4 through mk_cr_64(current, value) whose new " +
      'value is 32 bits wide (emulator_set_cr, arch/x86/kvm/x86.c), so the upper half is replaced by the current ' +
      'one instead of being checked. On VMX/SVM, MOV CR4 is intercepted and kvm_set_cr4 sees all 64 bits (#GP for ' +
      'reserved bits, kvm-contract.md §1.1). Under PVM every MOV CR goes through the emulator.',
    evidence: `${SEEN}: cr4 program, every bit 32..63: expect=#GP got=ok readback=0x20 (CR4 unchanged); cr0 program, every bit 32..63: expect=#GP got=ok, CR0 unchanged.`,
  },
  {
    id: 'cr4-pke-without-pku',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^cr4\.PKE$/,
    expect: '#GP',
    got: 'ok',
    what:
      'CR4.PKE can be set although neither the guest CPUID (7.0:ECX[3]) nor KVM_GET_SUPPORTED_CPUID enumerate PKU; ' +
      "upstream KVM's __cr4_reserved_bits makes PKE reserved without PKU (kvm-contract.md §1.2).",
    evidence: `${SEEN}: cr4 program, "cr4.PKE bit22 cpuid=0(7.0:ECX[3]) rule=gated expect=#GP got=ok" under every policy.`,
  },
  {
    id: 'efer-ffxsr-refused-with-fxsr-opt',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^efer\.FFXSR$/,
    expect: 'ok',
    got: '#GP',
    what:
      'KVM_GET_SUPPORTED_CPUID (and the guest CPUID) enumerate FXSR_OPT (0x80000001:EDX[25]), yet WRMSR EFER.FFXSR ' +
      'raises #GP: EFER.FFXSR is un-reserved only by SVM hardware setup (kvm_enable_efer_bits(EFER_FFXSR) in ' +
      'svm_hardware_setup, kvm-contract.md §3.1), which kvm_pvm does not run.',
    evidence: `${SEEN}: efer program, "efer.FFXSR bit14 cpuid=1(0x80000001:EDX[25]) rule=gated expect=ok got=#GP".`,
  },
  {
    id: 'spec-ctrl-readable-without-cpuid',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.(IA32_)?SPEC_CTRL\.read$/,
    expect: '#GP',
    got: 'ok',
    what:
      'RDMSR IA32_SPEC_CTRL (0x48) succeeds although the guest CPUID has none of SPEC_CTRL (7.0:EDX[26]), AMD_IBRS, ' +
      "AMD_STIBP, AMD_SSBD (0x80000008:EBX[14,15,24]); upstream VMX/SVM refuse a guest access without them " +
      '(guest_has_spec_ctrl_msr).',
    evidence: `${SEEN}: msr program, "msr.SPEC_CTRL.read rdmsr(0x48) spec_ctrl=0 amd_ibrs=0 amd_stibp=0 amd_ssbd=0 expect=#GP got=ok"; msrgate program, "msr.IA32_SPEC_CTRL.read rdmsr(0x48) … absent=cpuid-gate rule=msr.absent expect=#GP got=ok" under every policy.`,
  },
  {
    id: 'pat-invalid-memory-type-accepted',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.PAT\.type[238]$/,
    expect: '#GP',
    got: 'ok',
    what:
      'WRMSR IA32_PAT with a reserved memory type (2, 3, or >= 8 in any byte) is accepted; the SDM (Vol. 3A §13.12.2) ' +
      'and upstream KVM (kvm_pat_valid, kvm-contract.md §6) raise #GP.',
    evidence: `${SEEN}: msr program, msr.PAT.type2/type3/type8 expect=#GP got=ok.`,
  },
  {
    id: 'cr4-tsd-not-enforced',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^cpl3\.rdtsc\.tsd1$/,
    expect: '#GP',
    got: 'ok',
    what:
      'RDTSC at CPL3 succeeds while the guest has CR4.TSD=1; the SDM (Vol. 3A §2.5, Vol. 2B RDTSC) raises #GP(0). ' +
      'PVM runs guest CPL3 code natively in host user mode, where the host\'s CR4.TSD applies, not the guest\'s.',
    evidence: `${SEEN}: cpl3 program, "cpl3.rdtsc.tsd1 CR4.TSD=1 rule=TSD expect=#GP got=ok" (TSD=0 case and UMIP cases behave).`,
  },
  {
    id: 'virt-spec-ctrl-readable-without-cpuid',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.MSR_AMD64_VIRT_SPEC_CTRL\.read$/,
    expect: '#GP',
    got: 'ok',
    what:
      'RDMSR MSR_AMD64_VIRT_SPEC_CTRL (0xC001011F) succeeds without VIRT_SSBD (0x80000008:EBX[25]) in the guest CPUID; ' +
      "upstream SVM's svm_get_msr refuses a guest read without guest_cpu_cap_has(VIRT_SSBD) (kvm-contract.md §6).",
    evidence: `${SEEN}: msrgate program, "msr.MSR_AMD64_VIRT_SPEC_CTRL.read rdmsr(0xc001011f) gate=virt_ssbd … expect=#GP got=ok" under every policy.`,
  },
  {
    id: 'vm-hsave-pa-readable-without-svm',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.MSR_VM_HSAVE_PA\.read$/,
    expect: '#GP',
    got: 'ok',
    what:
      'RDMSR MSR_VM_HSAVE_PA (0xC0010117) succeeds although the guest CPUID has no SVM (0x80000001:ECX[2]); the contract ' +
      'table gates it on SVM (kvm-contract.md §6). kvm_pvm answers it without that check.',
    evidence: `${SEEN}: msrgate program, "msr.MSR_VM_HSAVE_PA.read rdmsr(0xc0010117) gate=svm absent=cpuid-gate expect=#GP got=ok" under every policy.`,
  },
  {
    id: 'lbr-msrs-readable-without-lbrv',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.MSR_IA32_LASTBRANCH_LASTINT_FROM_TO_IP\.read$/,
    expect: '#GP',
    got: 'ok',
    what:
      'RDMSR of the legacy LBR MSRs (0x1DB-0x1DE) succeeds without LBRV (0x8000000A:EDX[1]) in the guest CPUID; the ' +
      'contract table gates them on LBRV. kvm_pvm returns them (as 0) regardless.',
    evidence: `${SEEN}: msrgate program, "msr.MSR_IA32_LASTBRANCH_LASTINT_FROM_TO_IP.read rdmsr(0x1db) gate=lbrv expect=#GP got=ok".`,
  },
  {
    id: 'kvm-wall-clock-readable',
    kind: 'contract',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.MSR_KVM_WALL_CLOCK(_NEW)?\.read$/,
    expect: '#GP',
    got: 'ok',
    what:
      "The contract's MSR table marks MSR_KVM_WALL_CLOCK (0x11) and MSR_KVM_WALL_CLOCK_NEW (0x4B564D00) write-only, but " +
      'KVM returns a value on RDMSR (kvm_get_msr_common appears to have a read case returning kvm->arch.wall_clock, ' +
      'gated on the PV CLOCKSOURCE/CLOCKSOURCE2 bits). Not re-verified against the upstream source: for the contract owner.',
    evidence: `${SEEN}: msrgate program, "msr.MSR_KVM_WALL_CLOCK.read rdmsr(0x11) pv=0 rule=msr.write-only expect=#GP got=ok", same for 0x4b564d00, under every policy.`,
  },
  {
    id: 'tsc-deadline-readable-without-cpuid',
    kind: 'contract',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.IA32_TSC_DEADLINE\.read$/,
    expect: '#GP',
    got: 'ok',
    what:
      "The contract gates IA32_TSC_DEADLINE (0x6E0) on CPUID.1:ECX[24] TSC_DEADLINE_TIMER, but KVM reads it without the bit " +
      '(kvm_get_msr_common serves it from the local APIC without a guest CPUID check, as far as recalled). For the contract owner.',
    evidence: `${SEEN}: msrgate program under x86-64-v2 (no TSC_DEADLINE in the guest CPUID): "msr.IA32_TSC_DEADLINE.read rdmsr(0x6e0) gate=tsc_deadline_timer absent=cpuid-gate expect=#GP got=ok".`,
  },
  {
    id: 'pvm-sysret-not-architectural',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^sysret\.sce0$/,
    expect: '#UD',
    got: 'crash',
    skipCheck: { program: 'sysinsn', check: 'sysret.sce0' },
    what:
      'SYSRET executed at CPL0 with EFER.SCE=0 does not raise #UD (Intel SDM Vol. 2B SYSRET, AMD APM Vol. 3): the guest ' +
      'continues with RSP=0 and its next exception cannot be delivered. PVM runs the guest kernel in ring 3 and uses ' +
      'SYSCALL/SYSRET for its own kernel/user switches, so a guest-kernel SYSRET is not the architectural instruction here.',
    evidence: `${SEEN}: sysinsn program, right after "TSVMM-TRY sysret.sce0": FAIL unexpected-exception vector=#PF error=0x2 cr2=0xfffffffffffffff8 (the exception return path writing below RSP=0); SYSCALL with SCE=0 did raise #UD.`,
  },
  {
    id: 'cr4-fsgsbase-not-enforced',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^fsgsbase\.cr4-0$/,
    expect: '#UD',
    got: 'ok',
    what:
      'RDFSBASE succeeds while the guest has CR4.FSGSBASE=0; the SDM (Vol. 2C RDFSBASE) raises #UD. PVM runs the guest ' +
      "natively in host ring 3, where the host's CR4.FSGSBASE applies, not the guest's (as with CR4.TSD).",
    evidence: `${SEEN}: sysinsn program, "fsgsbase.cr4-0 CR4.FSGSBASE=0 expect=#UD got=ok" under every policy.`,
  },
  {
    id: 'misc-enable-bts-pebs-writable',
    kind: 'contract',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^msr\.IA32_MISC_ENABLE\.read-only-bits$/,
    expect: '#GP',
    got: 'ok',
    what:
      'The contract makes IA32_MISC_ENABLE bits 11/12 (BTS_UNAVAIL, PEBS_UNAVAIL) read-only to the guest (#GP on a ' +
      'change), but KVM here accepts a WRMSR flipping bit 11. Upstream handling lives in the vendor PMU code; not ' +
      're-verified against the source: for the contract owner.',
    evidence: `${SEEN}: msrgate program, "msr.IA32_MISC_ENABLE.read-only-bits wrmsr(0x1a0,0x801) was=0x1 rule=misc-enable.read-only expect=#GP got=ok" under every policy; the interpreter (which follows the contract) raises #GP.`,
  },

  {
    id: 'pvm-page-cross-partial-write',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^paging\.page-cross(\.nxe)?\.no-partial-write$/,
    expect: 'first-page-untouched',
    got: 'first-page-written',
    what:
      'A store that crosses into a page it may not write faults, but the bytes on the first (writable) page have already ' +
      'been written: the SDM (Vol. 3A §6.5, faults are reported before the instruction changes state) and the interpreter ' +
      "leave memory untouched. KVM's emulator splits the page-crossing access and commits the first fragment.",
    evidence: `${SEEN}: paging_exec program (owned by the paging engineer), "paging.page-cross.no-partial-write faulting-writes=5 first-page-written=2 expect=first-page-untouched got=first-page-written".`,
  },

];

/** The deviation that explains this FAIL line on this backend and host, if any. */
export function findDeviation(
  backend: string,
  flavour: HostFlavour,
  line: { readonly name: string; readonly expect?: string; readonly got?: string },
  table: readonly ConformanceDeviation[] = CONFORMANCE_DEVIATIONS,
): ConformanceDeviation | undefined {
  return table.find(
    (d) =>
      d.backend === backend &&
      d.flavours.includes(flavour) &&
      d.check.test(line.name) &&
      d.expect === line.expect &&
      d.got === line.got,
  );
}

/**
 * The vCPU's CPUID table is not the one the VMM set. Shown by the runner when KVM_GET_CPUID2 after
 * KVM_SET_CPUID2 differs from the requested policy (a note on these hosts, a failure elsewhere).
 */
export const CPUID_TABLE_DEVIATION = {
  id: 'set-cpuid2-merges-host-features',
  flavours: ['kvm_pvm'] as readonly HostFlavour[],
  /** the leaves whose feature bits come back ORed with the host's, and the bits that don't */
  leaves: [1, 7] as readonly number[],
  except: ['hypervisor'] as readonly string[],
  what:
    'KVM_SET_CPUID2 does not keep the table it is given: leaves 1 and 7 come back from KVM_GET_CPUID2 (and from the ' +
    "guest's CPUID instruction) with host features ORed in (e.g. XSAVE, AVX, SMEP, SMAP, FSGSBASE, UMIP, even when " +
    'the table cleared them or KVM_GET_SUPPORTED_CPUID lacks them), while other bits (HYPERVISOR 1:ECX[31], NX ' +
    '0x80000001:EDX[20]) follow the table. Gating of CR4 bits then follows the rewritten table. So CPU policies that ' +
    'differ only in those bits are the same policy on this host.',
  evidence:
    'seen 2026-11-23 on Linux 6.18.44-fc-v509 with kvm_pvm: KVM_SET_CPUID2 with 1:ECX=0x81202000 (XSAVE cleared) and ' +
    '7.0:EBX=0x01800002 → KVM_GET_CPUID2 1:ECX=0xf7f83203, 7.0:EBX=0xf1bf03ab; the guest read the same values.',
} as const;

/**
 * Checks this host's KVM cannot execute (its instruction emulator stops with "emulation failure"; the
 * KVM backend surfaces that as an internal-error exit): recorded so the runner skips them up front
 * instead of re-running the program once per check (each re-run costs a whole KVM guest run). They are
 * still shown as ORACLE-UNAVAILABLE, never as passes. Found by the runner's TRY/re-run mechanism.
 */
export interface KnownUnavailable {
  readonly backend: 'kvm' | 'interp';
  readonly flavours: readonly HostFlavour[];
  readonly program: string;
  readonly checks: readonly string[];
  /** the instruction and what the backend said */
  readonly why: string;
}

export const KNOWN_UNAVAILABLE: readonly KnownUnavailable[] = [
  {
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    program: 'xcr0',
    checks: ['xcr0.roundtrip.x87', 'xcr0.roundtrip.x87-sse', 'xcr0.roundtrip.supported'],
    why: `XGETBV (0f 01 d0): KVM internal error, emulation failure (${SEEN})`,
  },
  {
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    program: 'xss',
    checks: ['xsaveopt.osxsave0', 'xsavec.osxsave0', 'xsaves.osxsave0', 'xsaveopt.osxsave1', 'xsavec.osxsave1', 'xsaves.osxsave1'],
    why: `XSAVEOPT/XSAVEC/XSAVES (0f ae /6, 0f c7 /4, 0f c7 /5): KVM internal error, emulation failure (${SEEN})`,
  },
  {
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    program: 'sysinsn',
    checks: ['sysenter.64bit', 'rdtscp', 'invpcid.type2'],
    why: `SYSENTER (0f 34), RDTSCP (0f 01 f9), INVPCID (66 0f 38 82): KVM internal error, emulation failure (${SEEN})`,
  },
];

/** The checks to skip up front for this program on this backend and host. */
export function knownUnavailable(program: string, backend: string, flavour: HostFlavour, table: readonly KnownUnavailable[] = KNOWN_UNAVAILABLE): { check: string; why: string }[] {
  return table
    .filter((k) => k.program === program && k.backend === backend && k.flavours.includes(flavour))
    .flatMap((k) => k.checks.map((check) => ({ check, why: k.why })));
}
