// The closed list of CPUID feature flags: one row per architecturally defined flag bit.
// Intel SDM Vol. 2A "CPUID—CPU Identification" (Tables 3-8, 3-10, 3-11 and the leaf 07H/0DH/14H/19H
// descriptions); AMD APM Vol. 3 Appendix E "Obtaining Processor Information Via the CPUID
// Instruction"; KVM's paravirtual leaves from Linux Documentation/virt/kvm/x86/cpuid.rst and
// include/uapi/asm/kvm_para.h (spec §5.7). Names follow Linux's X86_FEATURE_* (cpufeatures.h,
// arch/x86/kvm/reverse_cpuid.h) lower-cased; /proc/cpuinfo and QEMU spellings are aliases.
// Dependencies follow Linux arch/x86/kernel/cpu/cpuid-deps.c (plus a few stated architectural
// ones, each marked in its meaning). Bits whose position could not be checked against a source
// during writing say '(unverified)' in their meaning.

import { TsvmmError } from '../../../util/result.ts';
import type { CpuidTable } from './table.ts';
import { formatBitLocation } from './types.ts';
import type { CpuidReg, FeatureDef, FeatureKind, VendorScope } from './types.ts';

interface Loc {
  readonly leaf: number;
  readonly subleaf?: number;
  readonly reg: CpuidReg;
}

/** A row as written in the tables below: location and doc come from the register group. */
interface RowIn {
  readonly name: string;
  readonly bit: number;
  readonly vendor: VendorScope;
  readonly kind?: FeatureKind;
  readonly aliases?: readonly string[];
  readonly depends?: readonly string[];
  readonly meaning: string;
  readonly doc?: string;
}

type Rows<R extends readonly RowIn[]> = {
  readonly [K in keyof R]: R[K] extends { readonly name: infer N extends string } ? FeatureDef & { readonly name: N } : never;
};

/** Expand one register's rows, keeping each name as a literal type. `kind` defaults to 'hardware'. */
function reg<const R extends readonly RowIn[]>(loc: Loc, doc: string, rows: R): Rows<R> {
  return rows.map((r) => {
    const row: FeatureDef = {
      name: r.name,
      leaf: loc.leaf,
      ...(loc.subleaf === undefined ? {} : { subleaf: loc.subleaf }),
      reg: loc.reg,
      bit: r.bit,
      vendor: r.vendor,
      kind: r.kind ?? 'hardware',
      ...(r.aliases ? { aliases: r.aliases } : {}),
      ...(r.depends ? { depends: r.depends } : {}),
      meaning: r.meaning,
      doc: r.doc ?? doc,
    };
    return Object.freeze(row);
  }) as unknown as Rows<R>;
}

const SDM_1_ECX = 'SDM Vol.2A CPUID Table 3-10 (leaf 01H ECX)';
const SDM_1_EDX = 'SDM Vol.2A CPUID Table 3-11 (leaf 01H EDX)';
const SDM_6 = 'SDM Vol.2A CPUID Table 3-8 (leaf 06H EAX)';
const SDM_7_0 = 'SDM Vol.2A CPUID Table 3-8 (leaf 07H, ECX=0)';
const SDM_7_1 = 'SDM Vol.2A CPUID Table 3-8 (leaf 07H, ECX=1)';
const SDM_7_2 = 'SDM Vol.2A CPUID Table 3-8 (leaf 07H, ECX=2)';
const SDM_D_1 = 'SDM Vol.2A CPUID Table 3-8 (leaf 0DH, ECX=1)';
const SDM_14 = 'SDM Vol.2A CPUID Table 3-8 (leaf 14H, ECX=0)';
const SDM_19 = 'SDM Vol.2A CPUID Table 3-8 (leaf 19H); Key Locker Specification';
const APM_81_ECX = 'APM Vol.3 E.4.2 (Fn8000_0001_ECX)';
const APM_81_EDX = 'APM Vol.3 E.4.2 (Fn8000_0001_EDX)';
const APM_87 = 'APM Vol.3 E.4.6 (Fn8000_0007_EDX)';
const APM_88 = 'APM Vol.3 E.4.7 (Fn8000_0008_EBX)';
const APM_8A = 'APM Vol.3 E.4.9 (Fn8000_000A_EDX)';
const APM_8F = 'APM Vol.3 E.4.17 (Fn8000_001F_EAX)';
const APM_821 = 'APM Vol.3 E.4.19 (Fn8000_0021)';
const KVM_PV = 'Linux Documentation/virt/kvm/x86/cpuid.rst (KVM_CPUID_FEATURES); spec §5.7';

// ---------------------------------------------------------------------------------------------
// Leaf 01H
// ---------------------------------------------------------------------------------------------

const L1_ECX = reg({ leaf: 1, reg: 'ecx' }, SDM_1_ECX, [
  { name: 'xmm3', bit: 0, vendor: 'both', aliases: ['pni', 'sse3'], depends: ['xmm2'], meaning: 'SSE3 instructions' },
  { name: 'pclmulqdq', bit: 1, vendor: 'both', depends: ['xmm2'], meaning: 'PCLMULQDQ carry-less multiply' },
  { name: 'dtes64', bit: 2, vendor: 'intel', meaning: '64-bit DS save area layout' },
  { name: 'mwait', bit: 3, vendor: 'both', aliases: ['monitor'], meaning: 'MONITOR/MWAIT instructions' },
  { name: 'dscpl', bit: 4, vendor: 'intel', aliases: ['ds_cpl', 'ds-cpl'], meaning: 'CPL-qualified debug store' },
  { name: 'vmx', bit: 5, vendor: 'intel', meaning: 'Virtual Machine Extensions (VMX)' },
  { name: 'smx', bit: 6, vendor: 'intel', meaning: 'Safer Mode Extensions (GETSEC)' },
  { name: 'est', bit: 7, vendor: 'intel', meaning: 'Enhanced Intel SpeedStep' },
  { name: 'tm2', bit: 8, vendor: 'intel', meaning: 'Thermal Monitor 2' },
  { name: 'ssse3', bit: 9, vendor: 'both', depends: ['xmm2'], meaning: 'Supplemental SSE3 instructions' },
  { name: 'cid', bit: 10, vendor: 'intel', aliases: ['cnxt-id', 'cnxt_id'], meaning: 'L1 context ID (adaptive/shared L1 mode)' },
  { name: 'sdbg', bit: 11, vendor: 'intel', meaning: 'IA32_DEBUG_INTERFACE MSR (silicon debug)' },
  { name: 'fma', bit: 12, vendor: 'both', aliases: ['fma3'], depends: ['avx'], meaning: 'FMA3 fused multiply-add (VEX)' },
  { name: 'cx16', bit: 13, vendor: 'both', aliases: ['cmpxchg16b'], meaning: 'CMPXCHG16B instruction' },
  { name: 'xtpr', bit: 14, vendor: 'intel', meaning: 'xTPR update control (IA32_MISC_ENABLE[23])' },
  { name: 'pdcm', bit: 15, vendor: 'intel', meaning: 'IA32_PERF_CAPABILITIES MSR' },
  { name: 'pcid', bit: 17, vendor: 'both', meaning: 'Process-context identifiers (CR4.PCIDE)' },
  { name: 'dca', bit: 18, vendor: 'intel', meaning: 'Direct cache access (prefetch from a memory-mapped device)' },
  { name: 'xmm4_1', bit: 19, vendor: 'both', aliases: ['sse4_1', 'sse4.1'], depends: ['xmm2'], meaning: 'SSE4.1 instructions' },
  { name: 'xmm4_2', bit: 20, vendor: 'both', aliases: ['sse4_2', 'sse4.2'], depends: ['xmm2'], meaning: 'SSE4.2 instructions' },
  { name: 'x2apic', bit: 21, vendor: 'both', depends: ['apic'], meaning: 'x2APIC mode (architectural: x2APIC extends the local APIC)' },
  { name: 'movbe', bit: 22, vendor: 'both', meaning: 'MOVBE instruction' },
  { name: 'popcnt', bit: 23, vendor: 'both', meaning: 'POPCNT instruction' },
  { name: 'tsc_deadline_timer', bit: 24, vendor: 'both', aliases: ['tsc-deadline'], meaning: 'Local APIC timer TSC-deadline mode' },
  { name: 'aes', bit: 25, vendor: 'both', aliases: ['aes-ni', 'aesni'], depends: ['xmm2'], meaning: 'AES-NI instructions' },
  { name: 'xsave', bit: 26, vendor: 'both', depends: ['fxsr'], meaning: 'XSAVE/XRSTOR/XSETBV/XGETBV and XCR0' },
  { name: 'osxsave', bit: 27, vendor: 'both', kind: 'os', depends: ['xsave'], meaning: 'Mirrors CR4.OSXSAVE (OS enabled XSAVE); computed live' },
  { name: 'avx', bit: 28, vendor: 'both', depends: ['xsave'], meaning: 'AVX instructions (VEX, YMM state)' },
  { name: 'f16c', bit: 29, vendor: 'both', depends: ['xmm2'], meaning: '16-bit float conversion (VCVTPH2PS/VCVTPS2PH)' },
  { name: 'rdrand', bit: 30, vendor: 'both', meaning: 'RDRAND instruction' },
  { name: 'hypervisor', bit: 31, vendor: 'both', kind: 'vmm', meaning: 'Running under a hypervisor (always 0 on bare metal)' },
]);

const L1_EDX = reg({ leaf: 1, reg: 'edx' }, SDM_1_EDX, [
  { name: 'fpu', bit: 0, vendor: 'both', meaning: 'x87 FPU on chip' },
  { name: 'vme', bit: 1, vendor: 'both', meaning: 'Virtual-8086 mode enhancements (CR4.VME/PVI)' },
  { name: 'de', bit: 2, vendor: 'both', meaning: 'Debugging extensions (CR4.DE, I/O breakpoints)' },
  { name: 'pse', bit: 3, vendor: 'both', meaning: 'Page size extension: 4 MiB pages (CR4.PSE)' },
  { name: 'tsc', bit: 4, vendor: 'both', meaning: 'Time-stamp counter and RDTSC (CR4.TSD)' },
  { name: 'msr', bit: 5, vendor: 'both', meaning: 'RDMSR/WRMSR instructions' },
  { name: 'pae', bit: 6, vendor: 'both', meaning: 'Physical address extension (CR4.PAE)' },
  { name: 'mce', bit: 7, vendor: 'both', meaning: 'Machine-check exception (CR4.MCE)' },
  { name: 'cx8', bit: 8, vendor: 'both', aliases: ['cmpxchg8b'], meaning: 'CMPXCHG8B instruction' },
  { name: 'apic', bit: 9, vendor: 'both', meaning: 'On-chip local APIC' },
  { name: 'sep', bit: 11, vendor: 'both', meaning: 'SYSENTER/SYSEXIT instructions' },
  { name: 'mtrr', bit: 12, vendor: 'both', meaning: 'Memory type range registers' },
  { name: 'pge', bit: 13, vendor: 'both', meaning: 'Global pages (CR4.PGE)' },
  { name: 'mca', bit: 14, vendor: 'both', meaning: 'Machine-check architecture (MCG_CAP)' },
  { name: 'cmov', bit: 15, vendor: 'both', depends: ['fxsr'], meaning: 'CMOVcc (and FCMOVcc/FCOMI with FPU)' },
  { name: 'pat', bit: 16, vendor: 'both', meaning: 'Page attribute table' },
  { name: 'pse36', bit: 17, vendor: 'both', meaning: '36-bit page size extension (4 MiB pages above 4 GiB)' },
  { name: 'pn', bit: 18, vendor: 'intel', aliases: ['psn'], meaning: 'Processor serial number (leaf 3)' },
  { name: 'clflush', bit: 19, vendor: 'both', meaning: 'CLFLUSH instruction' },
  { name: 'ds', bit: 21, vendor: 'intel', aliases: ['dts'], meaning: 'Debug store (BTS/PEBS buffers)' },
  { name: 'acpi', bit: 22, vendor: 'intel', meaning: 'Thermal monitor and software-controlled clock (ACPI) MSRs' },
  { name: 'mmx', bit: 23, vendor: 'both', depends: ['fxsr'], meaning: 'MMX instructions' },
  { name: 'fxsr', bit: 24, vendor: 'both', depends: ['fpu'], meaning: 'FXSAVE/FXRSTOR and CR4.OSFXSR' },
  { name: 'xmm', bit: 25, vendor: 'both', aliases: ['sse'], depends: ['fxsr'], meaning: 'SSE instructions' },
  { name: 'xmm2', bit: 26, vendor: 'both', aliases: ['sse2'], depends: ['xmm'], meaning: 'SSE2 instructions' },
  { name: 'selfsnoop', bit: 27, vendor: 'intel', aliases: ['ss'], meaning: 'Self snoop' },
  { name: 'ht', bit: 28, vendor: 'both', aliases: ['htt'], meaning: 'Max APIC IDs field (1:EBX[23:16]) is valid (multi-threading)' },
  { name: 'acc', bit: 29, vendor: 'intel', aliases: ['tm'], meaning: 'Thermal monitor (automatic clock control)' },
  { name: 'ia64', bit: 30, vendor: 'intel', meaning: 'IA-64 processor running x86 code (historical; reserved in the current SDM)' },
  { name: 'pbe', bit: 31, vendor: 'intel', meaning: 'Pending break enable (FERR#/PBE#)' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 06H EAX (thermal and power management)
// ---------------------------------------------------------------------------------------------

const L6_EAX = reg({ leaf: 6, reg: 'eax' }, SDM_6, [
  { name: 'dtherm', bit: 0, vendor: 'intel', meaning: 'Digital temperature sensor' },
  { name: 'ida', bit: 1, vendor: 'intel', meaning: 'Intel Turbo Boost (dynamic acceleration)' },
  { name: 'arat', bit: 2, vendor: 'both', meaning: 'APIC timer always running (not stopped in deep C-states)' },
  { name: 'pln', bit: 4, vendor: 'intel', meaning: 'Power limit notification controls' },
  { name: 'ecmd', bit: 5, vendor: 'intel', meaning: 'Clock modulation duty cycle extension' },
  { name: 'pts', bit: 6, vendor: 'intel', meaning: 'Package thermal management' },
  { name: 'hwp', bit: 7, vendor: 'intel', meaning: 'HWP base registers (IA32_PM_ENABLE, HWP_CAPABILITIES, HWP_REQUEST, HWP_STATUS)' },
  { name: 'hwp_notify', bit: 8, vendor: 'intel', depends: ['hwp'], meaning: 'HWP notification (IA32_HWP_INTERRUPT)' },
  { name: 'hwp_act_window', bit: 9, vendor: 'intel', depends: ['hwp'], meaning: 'HWP activity window field' },
  { name: 'hwp_epp', bit: 10, vendor: 'intel', depends: ['hwp'], meaning: 'HWP energy/performance preference field' },
  { name: 'hwp_pkg_req', bit: 11, vendor: 'intel', depends: ['hwp'], meaning: 'HWP package-level request MSR' },
  { name: 'hdc', bit: 13, vendor: 'intel', meaning: 'Hardware duty cycling (IA32_PKG_HDC_CTL etc.)' },
  { name: 'turbo_boost_max_3', bit: 14, vendor: 'intel', meaning: 'Intel Turbo Boost Max Technology 3.0' },
  { name: 'hwp_highest_perf_change', bit: 15, vendor: 'intel', meaning: 'HWP highest-performance change interrupt' },
  { name: 'hwp_peci_override', bit: 16, vendor: 'intel', meaning: 'HWP PECI override (unverified)' },
  { name: 'hwp_flexible', bit: 17, vendor: 'intel', meaning: 'Flexible HWP (unverified)' },
  { name: 'hwp_fast_request', bit: 18, vendor: 'intel', meaning: 'Fast access mode for IA32_HWP_REQUEST (unverified)' },
  { name: 'hfi', bit: 19, vendor: 'intel', meaning: 'Hardware feedback interface' },
  { name: 'hwp_ignore_idle', bit: 20, vendor: 'intel', meaning: 'Ignoring idle logical processor HWP request (unverified)' },
  { name: 'hwp_ctl', bit: 22, vendor: 'intel', meaning: 'IA32_HWP_CTL MSR (unverified)' },
  { name: 'intel_thread_director', bit: 23, vendor: 'intel', meaning: 'Intel Thread Director (unverified)' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 07H subleaf 0
// ---------------------------------------------------------------------------------------------

const L7_0_EBX = reg({ leaf: 7, subleaf: 0, reg: 'ebx' }, SDM_7_0, [
  { name: 'fsgsbase', bit: 0, vendor: 'both', meaning: 'RDFSBASE/RDGSBASE/WRFSBASE/WRGSBASE (CR4.FSGSBASE)' },
  { name: 'tsc_adjust', bit: 1, vendor: 'both', meaning: 'IA32_TSC_ADJUST MSR' },
  { name: 'sgx', bit: 2, vendor: 'intel', meaning: 'Software Guard Extensions' },
  { name: 'bmi1', bit: 3, vendor: 'both', meaning: 'BMI1 bit-manipulation instructions' },
  { name: 'hle', bit: 4, vendor: 'intel', meaning: 'TSX hardware lock elision' },
  { name: 'avx2', bit: 5, vendor: 'both', depends: ['avx'], meaning: 'AVX2 instructions' },
  { name: 'fdp_excptn_only', bit: 6, vendor: 'intel', meaning: 'x87 FDP updated only on unmasked x87 exceptions' },
  { name: 'smep', bit: 7, vendor: 'both', meaning: 'Supervisor-mode execution prevention (CR4.SMEP)' },
  { name: 'bmi2', bit: 8, vendor: 'both', meaning: 'BMI2 bit-manipulation instructions' },
  { name: 'erms', bit: 9, vendor: 'both', meaning: 'Enhanced REP MOVSB/STOSB' },
  { name: 'invpcid', bit: 10, vendor: 'both', meaning: 'INVPCID instruction' },
  { name: 'rtm', bit: 11, vendor: 'intel', meaning: 'TSX restricted transactional memory (XBEGIN/XEND)' },
  { name: 'cqm', bit: 12, vendor: 'both', aliases: ['rdt_m', 'pqm'], meaning: 'RDT monitoring (platform QoS monitoring)' },
  { name: 'zero_fcs_fds', bit: 13, vendor: 'intel', meaning: 'x87 FCS and FDS deprecated (stored as zero)' },
  { name: 'mpx', bit: 14, vendor: 'intel', depends: ['xsave'], meaning: 'Memory Protection Extensions (BNDCFGS, BND regs)' },
  { name: 'rdt_a', bit: 15, vendor: 'both', aliases: ['pqe'], meaning: 'RDT allocation (platform QoS enforcement)' },
  { name: 'avx512f', bit: 16, vendor: 'both', depends: ['avx'], meaning: 'AVX-512 foundation' },
  { name: 'avx512dq', bit: 17, vendor: 'both', depends: ['avx512f'], meaning: 'AVX-512 doubleword/quadword instructions' },
  { name: 'rdseed', bit: 18, vendor: 'both', meaning: 'RDSEED instruction' },
  { name: 'adx', bit: 19, vendor: 'both', meaning: 'ADCX/ADOX instructions' },
  { name: 'smap', bit: 20, vendor: 'both', meaning: 'Supervisor-mode access prevention (CR4.SMAP, STAC/CLAC)' },
  { name: 'avx512ifma', bit: 21, vendor: 'both', depends: ['avx512f'], meaning: 'AVX-512 integer fused multiply-add' },
  { name: 'clflushopt', bit: 23, vendor: 'both', meaning: 'CLFLUSHOPT instruction' },
  { name: 'clwb', bit: 24, vendor: 'both', meaning: 'CLWB instruction' },
  { name: 'intel_pt', bit: 25, vendor: 'intel', meaning: 'Intel Processor Trace' },
  { name: 'avx512pf', bit: 26, vendor: 'intel', depends: ['avx512f'], meaning: 'AVX-512 prefetch (Xeon Phi)' },
  { name: 'avx512er', bit: 27, vendor: 'intel', depends: ['avx512f'], meaning: 'AVX-512 exponential and reciprocal (Xeon Phi)' },
  { name: 'avx512cd', bit: 28, vendor: 'both', depends: ['avx512f'], meaning: 'AVX-512 conflict detection' },
  { name: 'sha_ni', bit: 29, vendor: 'both', aliases: ['sha'], depends: ['xmm2'], meaning: 'SHA-1/SHA-256 extensions' },
  { name: 'avx512bw', bit: 30, vendor: 'both', depends: ['avx512f'], meaning: 'AVX-512 byte/word instructions' },
  { name: 'avx512vl', bit: 31, vendor: 'both', depends: ['avx512f'], meaning: 'AVX-512 128/256-bit vector lengths' },
]);

const L7_0_ECX = reg({ leaf: 7, subleaf: 0, reg: 'ecx' }, SDM_7_0, [
  { name: 'prefetchwt1', bit: 0, vendor: 'intel', meaning: 'PREFETCHWT1 instruction (Xeon Phi)' },
  { name: 'avx512vbmi', bit: 1, vendor: 'both', depends: ['avx512f'], meaning: 'AVX-512 vector byte manipulation' },
  { name: 'umip', bit: 2, vendor: 'both', meaning: 'User-mode instruction prevention (CR4.UMIP)' },
  { name: 'pku', bit: 3, vendor: 'both', depends: ['xsave'], meaning: 'Protection keys for user-mode pages (CR4.PKE, PKRU)' },
  { name: 'ospke', bit: 4, vendor: 'both', kind: 'os', depends: ['pku'], meaning: 'Mirrors CR4.PKE (OS enabled protection keys); computed live' },
  { name: 'waitpkg', bit: 5, vendor: 'intel', meaning: 'UMONITOR/UMWAIT/TPAUSE' },
  { name: 'avx512_vbmi2', bit: 6, vendor: 'both', depends: ['avx512vl'], meaning: 'AVX-512 VBMI2' },
  { name: 'shstk', bit: 7, vendor: 'both', aliases: ['cet_ss', 'cet-ss'], depends: ['xsaves'], meaning: 'CET shadow stacks' },
  { name: 'gfni', bit: 8, vendor: 'both', depends: ['xmm2'], meaning: 'Galois field instructions' },
  { name: 'vaes', bit: 9, vendor: 'both', depends: ['avx'], meaning: 'Vector AES (VEX/EVEX 256/512-bit)' },
  { name: 'vpclmulqdq', bit: 10, vendor: 'both', depends: ['avx'], meaning: 'Vector carry-less multiply' },
  { name: 'avx512_vnni', bit: 11, vendor: 'both', depends: ['avx512vl'], meaning: 'AVX-512 vector neural network instructions' },
  { name: 'avx512_bitalg', bit: 12, vendor: 'both', depends: ['avx512vl'], meaning: 'AVX-512 VPOPCNTB/W and VPSHUFBITQMB' },
  { name: 'tme', bit: 13, vendor: 'intel', meaning: 'Total memory encryption MSRs' },
  { name: 'avx512_vpopcntdq', bit: 14, vendor: 'both', depends: ['avx512f'], meaning: 'AVX-512 VPOPCNTD/Q' },
  { name: 'la57', bit: 16, vendor: 'both', meaning: '5-level paging (CR4.LA57, 57-bit linear addresses)' },
  { name: 'rdpid', bit: 22, vendor: 'both', meaning: 'RDPID instruction (reads IA32_TSC_AUX)' },
  { name: 'keylocker', bit: 23, vendor: 'intel', aliases: ['kl'], meaning: 'Key Locker (CR4.KL, LOADIWKEY; leaf 19H valid)' },
  { name: 'bus_lock_detect', bit: 24, vendor: 'both', meaning: 'OS bus-lock detection (#DB after a bus lock)' },
  { name: 'cldemote', bit: 25, vendor: 'intel', meaning: 'CLDEMOTE instruction' },
  { name: 'movdiri', bit: 27, vendor: 'both', meaning: 'MOVDIRI instruction' },
  { name: 'movdir64b', bit: 28, vendor: 'both', meaning: 'MOVDIR64B instruction' },
  { name: 'enqcmd', bit: 29, vendor: 'intel', depends: ['xsaves'], meaning: 'ENQCMD/ENQCMDS instructions (IA32_PASID)' },
  { name: 'sgx_lc', bit: 30, vendor: 'intel', depends: ['sgx'], meaning: 'SGX launch configuration' },
  { name: 'pks', bit: 31, vendor: 'intel', meaning: 'Protection keys for supervisor-mode pages (CR4.PKS, IA32_PKRS)' },
]);

const L7_0_EDX = reg({ leaf: 7, subleaf: 0, reg: 'edx' }, SDM_7_0, [
  { name: 'sgx_keys', bit: 1, vendor: 'intel', meaning: 'Attestation services for SGX (SGX-KEYS)' },
  { name: 'avx512_4vnniw', bit: 2, vendor: 'intel', depends: ['avx512f'], meaning: 'AVX-512 4-iteration VNNI word (Xeon Phi)' },
  { name: 'avx512_4fmaps', bit: 3, vendor: 'intel', depends: ['avx512f'], meaning: 'AVX-512 4-iteration FMA single (Xeon Phi)' },
  { name: 'fsrm', bit: 4, vendor: 'both', meaning: 'Fast short REP MOV' },
  { name: 'uintr', bit: 5, vendor: 'intel', meaning: 'User interrupts (UIRET, SENDUIPI, CR4.UINTR)' },
  { name: 'avx512_vp2intersect', bit: 8, vendor: 'both', depends: ['avx512vl'], meaning: 'AVX-512 VP2INTERSECTD/Q' },
  { name: 'srbds_ctrl', bit: 9, vendor: 'intel', meaning: 'IA32_MCU_OPT_CTRL (SRBDS mitigation control)' },
  { name: 'md_clear', bit: 10, vendor: 'intel', meaning: 'VERW clears microarchitectural buffers (MDS)' },
  { name: 'rtm_always_abort', bit: 11, vendor: 'intel', meaning: 'XBEGIN always aborts' },
  { name: 'tsx_force_abort', bit: 13, vendor: 'intel', meaning: 'TSX_FORCE_ABORT MSR' },
  { name: 'serialize', bit: 14, vendor: 'both', meaning: 'SERIALIZE instruction' },
  { name: 'hybrid_cpu', bit: 15, vendor: 'intel', meaning: 'Hybrid part (leaf 1AH gives the core type)' },
  { name: 'tsxldtrk', bit: 16, vendor: 'intel', meaning: 'TSX suspend load address tracking (XSUSLDTRK)' },
  { name: 'pconfig', bit: 18, vendor: 'intel', meaning: 'PCONFIG instruction' },
  { name: 'arch_lbr', bit: 19, vendor: 'intel', meaning: 'Architectural LBRs' },
  { name: 'ibt', bit: 20, vendor: 'intel', aliases: ['cet_ibt', 'cet-ibt'], meaning: 'CET indirect branch tracking' },
  { name: 'amx_bf16', bit: 22, vendor: 'intel', depends: ['amx_tile'], meaning: 'AMX bfloat16 tile operations' },
  { name: 'avx512_fp16', bit: 23, vendor: 'both', depends: ['avx512bw'], meaning: 'AVX-512 FP16 instructions' },
  { name: 'amx_tile', bit: 24, vendor: 'intel', depends: ['xfd'], meaning: 'AMX tile architecture (XTILECFG/XTILEDATA state)' },
  { name: 'amx_int8', bit: 25, vendor: 'intel', depends: ['amx_tile'], meaning: 'AMX 8-bit integer tile operations' },
  { name: 'spec_ctrl', bit: 26, vendor: 'intel', meaning: 'IBRS and IBPB (IA32_SPEC_CTRL, IA32_PRED_CMD)' },
  { name: 'intel_stibp', bit: 27, vendor: 'intel', meaning: 'STIBP (IA32_SPEC_CTRL[1])' },
  { name: 'flush_l1d', bit: 28, vendor: 'intel', meaning: 'IA32_FLUSH_CMD (L1D flush)' },
  { name: 'arch_capabilities', bit: 29, vendor: 'both', meaning: 'IA32_ARCH_CAPABILITIES MSR' },
  { name: 'core_capabilities', bit: 30, vendor: 'intel', meaning: 'IA32_CORE_CAPABILITIES MSR' },
  { name: 'spec_ctrl_ssbd', bit: 31, vendor: 'intel', depends: ['spec_ctrl'], meaning: 'Speculative store bypass disable (IA32_SPEC_CTRL[2])' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 07H subleaf 1 and 2
// ---------------------------------------------------------------------------------------------

const L7_1_EAX = reg({ leaf: 7, subleaf: 1, reg: 'eax' }, SDM_7_1, [
  { name: 'sha512', bit: 0, vendor: 'intel', depends: ['avx'], meaning: 'SHA512 instructions (VEX)' },
  { name: 'sm3', bit: 1, vendor: 'intel', depends: ['avx'], meaning: 'SM3 instructions (VEX)' },
  { name: 'sm4', bit: 2, vendor: 'intel', depends: ['avx'], meaning: 'SM4 instructions (VEX)' },
  { name: 'rao_int', bit: 3, vendor: 'intel', meaning: 'RAO-INT remote atomic integer instructions (AADD etc.)' },
  { name: 'avx_vnni', bit: 4, vendor: 'both', depends: ['avx'], meaning: 'AVX (VEX) vector neural network instructions' },
  { name: 'avx512_bf16', bit: 5, vendor: 'both', depends: ['avx512vl'], meaning: 'AVX-512 bfloat16 instructions' },
  { name: 'lass', bit: 6, vendor: 'intel', depends: ['smap'], meaning: 'Linear address space separation (CR4.LASS)' },
  { name: 'cmpccxadd', bit: 7, vendor: 'intel', meaning: 'CMPccXADD instructions' },
  { name: 'arch_perfmon_ext', bit: 8, vendor: 'intel', meaning: 'Architectural performance monitoring extended leaf (23H)' },
  { name: 'dedup', bit: 9, vendor: 'intel', meaning: 'DEDUP (meaning not confirmed from a primary source) (unverified)' },
  { name: 'fzrm', bit: 10, vendor: 'intel', meaning: 'Fast zero-length REP MOVSB' },
  { name: 'fsrs', bit: 11, vendor: 'intel', meaning: 'Fast short REP STOSB' },
  { name: 'fsrc', bit: 12, vendor: 'intel', meaning: 'Fast short REP CMPSB/SCASB' },
  { name: 'fred', bit: 17, vendor: 'intel', depends: ['lkgs'], meaning: 'Flexible return and event delivery (CR4.FRED)' },
  { name: 'lkgs', bit: 18, vendor: 'intel', meaning: 'LKGS instruction (load GS base into IA32_KERNEL_GS_BASE)' },
  { name: 'wrmsrns', bit: 19, vendor: 'intel', meaning: 'Non-serializing WRMSR' },
  { name: 'nmi_source', bit: 20, vendor: 'intel', depends: ['fred'], meaning: 'FRED NMI-source reporting' },
  { name: 'amx_fp16', bit: 21, vendor: 'intel', depends: ['amx_tile'], meaning: 'AMX FP16 tile operations' },
  { name: 'hreset', bit: 22, vendor: 'intel', meaning: 'HRESET instruction and IA32_HRESET_ENABLE' },
  { name: 'avx_ifma', bit: 23, vendor: 'intel', depends: ['avx'], meaning: 'AVX (VEX) VPMADD52H/LUQ' },
  { name: 'lam', bit: 26, vendor: 'intel', meaning: 'Linear address masking (CR3.LAM_U48/U57, CR4.LAM_SUP); a posted patch makes it depend on lass' },
  { name: 'msrlist', bit: 27, vendor: 'intel', meaning: 'RDMSRLIST/WRMSRLIST and IA32_BARRIER' },
  { name: 'invd_disable_post_bios_done', bit: 30, vendor: 'intel', meaning: 'INVD execution prevention after BIOS done' },
  { name: 'movrs', bit: 31, vendor: 'intel', meaning: 'MOVRS instructions (read-shared hint)' },
]);

const L7_1_EBX = reg({ leaf: 7, subleaf: 1, reg: 'ebx' }, SDM_7_1, [
  { name: 'intel_ppin', bit: 0, vendor: 'intel', meaning: 'IA32_PPIN and IA32_PPIN_CTL MSRs' },
  { name: 'pbndkb', bit: 1, vendor: 'intel', meaning: 'PBNDKB instruction (total storage encryption key binding)' },
]);

const L7_1_ECX = reg({ leaf: 7, subleaf: 1, reg: 'ecx' }, SDM_7_1, [
  { name: 'x86s', bit: 2, vendor: 'intel', aliases: ['legacy_reduced_isa'], meaning: 'Legacy reduced ISA (X86S)' },
  { name: 'sipi64', bit: 4, vendor: 'intel', meaning: '64-bit SIPI' },
  { name: 'msr_imm', bit: 5, vendor: 'intel', meaning: 'Immediate-form RDMSR/WRMSRNS' },
]);

const L7_1_EDX = reg({ leaf: 7, subleaf: 1, reg: 'edx' }, SDM_7_1, [
  { name: 'avx_vnni_int8', bit: 4, vendor: 'intel', depends: ['avx'], meaning: 'AVX-VNNI-INT8 instructions' },
  { name: 'avx_ne_convert', bit: 5, vendor: 'intel', depends: ['avx'], meaning: 'AVX-NE-CONVERT (bf16/fp16 conversions)' },
  { name: 'amx_complex', bit: 8, vendor: 'intel', depends: ['amx_tile'], meaning: 'AMX complex-number tile operations' },
  { name: 'avx_vnni_int16', bit: 10, vendor: 'intel', depends: ['avx'], meaning: 'AVX-VNNI-INT16 instructions' },
  { name: 'utmr', bit: 13, vendor: 'intel', meaning: 'User-timer events' },
  { name: 'prefetchiti', bit: 14, vendor: 'intel', meaning: 'PREFETCHIT0/PREFETCHIT1 instructions' },
  { name: 'user_msr', bit: 15, vendor: 'intel', meaning: 'URDMSR/UWRMSR user-mode MSR access' },
  { name: 'uiret_uif', bit: 17, vendor: 'intel', depends: ['uintr'], meaning: 'UIRET sets UIF from the popped RFLAGS value' },
  { name: 'cet_sss', bit: 18, vendor: 'intel', depends: ['shstk'], meaning: 'CET supervisor shadow stack (SSS) behaviour enumerated' },
  { name: 'avx10', bit: 19, vendor: 'intel', meaning: 'AVX10 converged vector ISA (leaf 24H valid)' },
  { name: 'apx', bit: 21, vendor: 'intel', aliases: ['apx_f'], meaning: 'Advanced performance extensions (REX2, 32 GPRs)' },
  { name: 'mwait_leaf7', bit: 23, vendor: 'intel', meaning: 'MWAIT instruction enumerated here (unverified)' },
]);

const L7_2_EDX = reg({ leaf: 7, subleaf: 2, reg: 'edx' }, SDM_7_2, [
  { name: 'intel_psfd', bit: 0, vendor: 'intel', meaning: 'IA32_SPEC_CTRL.PSFD (predictive store forwarding disable)' },
  { name: 'ipred_ctrl', bit: 1, vendor: 'intel', meaning: 'IA32_SPEC_CTRL.IPRED_DIS_U/S' },
  { name: 'rrsba_ctrl', bit: 2, vendor: 'intel', meaning: 'IA32_SPEC_CTRL.RRSBA_DIS_U/S' },
  { name: 'ddpd_u', bit: 3, vendor: 'intel', meaning: 'IA32_SPEC_CTRL.DDPD_U (data-dependent prefetcher disable)' },
  { name: 'bhi_ctrl', bit: 4, vendor: 'intel', meaning: 'IA32_SPEC_CTRL.BHI_DIS_S' },
  { name: 'mcdt_no', bit: 5, vendor: 'intel', kind: 'software', meaning: 'Not affected by MXCSR configuration dependent timing' },
  { name: 'uc_lock_disable', bit: 6, vendor: 'intel', meaning: 'UC-lock disable supported (MSR_MEMORY_CTRL)' },
  { name: 'monitor_mitg_no', bit: 7, vendor: 'intel', kind: 'software', meaning: 'MONITOR/UMONITOR not affected by the monitor performance/power issue' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 0DH subleaf 1 EAX (XSAVE instruction variants) — spec §4.3
// ---------------------------------------------------------------------------------------------

const LD_1_EAX = reg({ leaf: 0xd, subleaf: 1, reg: 'eax' }, SDM_D_1, [
  { name: 'xsaveopt', bit: 0, vendor: 'both', depends: ['xsave'], meaning: 'XSAVEOPT instruction' },
  { name: 'xsavec', bit: 1, vendor: 'both', depends: ['xsave'], meaning: 'XSAVEC (compacted format)' },
  { name: 'xgetbv1', bit: 2, vendor: 'both', depends: ['xsave'], meaning: 'XGETBV with ECX=1 (XINUSE)' },
  { name: 'xsaves', bit: 3, vendor: 'both', depends: ['xsave'], meaning: 'XSAVES/XRSTORS and IA32_XSS' },
  { name: 'xfd', bit: 4, vendor: 'intel', depends: ['xsaves', 'xgetbv1'], meaning: 'Extended feature disable (IA32_XFD, IA32_XFD_ERR)' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 14H subleaf 0 (Intel PT capabilities); names are ours, prefixed pt_
// ---------------------------------------------------------------------------------------------

const L14_EBX = reg({ leaf: 0x14, subleaf: 0, reg: 'ebx' }, SDM_14, [
  { name: 'pt_cr3_filter', bit: 0, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: CR3 filtering (IA32_RTIT_CR3_MATCH)' },
  { name: 'pt_psb_cyc', bit: 1, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: configurable PSB and cycle-accurate mode' },
  { name: 'pt_ip_filter', bit: 2, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: IP filtering, TraceStop, preserved PT MSRs across warm reset' },
  { name: 'pt_mtc', bit: 3, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: MTC timing packets' },
  { name: 'pt_ptwrite', bit: 4, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: PTWRITE instruction' },
  { name: 'pt_power_event', bit: 5, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: power event trace' },
  { name: 'pt_psb_pmi_preserve', bit: 6, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: PSB and PMI preservation' },
  { name: 'pt_event_trace', bit: 7, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: event trace packets' },
  { name: 'pt_tnt_disable', bit: 8, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: TNT packet generation can be disabled' },
]);

const L14_ECX = reg({ leaf: 0x14, subleaf: 0, reg: 'ecx' }, SDM_14, [
  { name: 'pt_topa', bit: 0, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: ToPA output' },
  { name: 'pt_topa_multi', bit: 1, vendor: 'intel', depends: ['pt_topa'], meaning: 'PT: ToPA tables may hold more than one output entry' },
  { name: 'pt_single_range', bit: 2, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: single-range output' },
  { name: 'pt_trace_transport', bit: 3, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: output to trace transport subsystem' },
  { name: 'pt_lip', bit: 31, vendor: 'intel', depends: ['intel_pt'], meaning: 'PT: IP payloads are linear (LIP) rather than effective addresses' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 19H (Key Locker); names are ours, prefixed kl_
// ---------------------------------------------------------------------------------------------

const L19_EAX = reg({ leaf: 0x19, reg: 'eax' }, SDM_19, [
  { name: 'kl_cpl0_only', bit: 0, vendor: 'intel', depends: ['keylocker'], meaning: 'Key Locker restriction: CPL0-only handles supported' },
  { name: 'kl_no_encrypt', bit: 1, vendor: 'intel', depends: ['keylocker'], meaning: 'Key Locker restriction: no-encrypt handles supported' },
  { name: 'kl_no_decrypt', bit: 2, vendor: 'intel', depends: ['keylocker'], meaning: 'Key Locker restriction: no-decrypt handles supported' },
]);

const L19_EBX = reg({ leaf: 0x19, reg: 'ebx' }, SDM_19, [
  { name: 'kl_aeskle', bit: 0, vendor: 'intel', depends: ['keylocker'], meaning: 'AES Key Locker instructions fully enabled (AESKLE)' },
  { name: 'kl_wide', bit: 2, vendor: 'intel', depends: ['kl_aeskle'], meaning: 'AES wide Key Locker instructions (AESENCWIDE*KL)' },
  { name: 'kl_iwkey_backup', bit: 4, vendor: 'intel', depends: ['keylocker'], meaning: 'IWKey backup MSRs (IA32_COPY_LOCAL_TO_PLATFORM etc.)' },
]);

const L19_ECX = reg({ leaf: 0x19, reg: 'ecx' }, SDM_19, [
  { name: 'kl_nobackup', bit: 0, vendor: 'intel', depends: ['keylocker'], meaning: 'LOADIWKEY NoBackup parameter supported' },
  { name: 'kl_random_iwkey', bit: 1, vendor: 'intel', depends: ['keylocker'], meaning: 'LOADIWKEY KeySource 1 (random IWKey) supported' },
]);

// ---------------------------------------------------------------------------------------------
// KVM paravirtual leaf 40000001H — spec §5.7
// ---------------------------------------------------------------------------------------------

const L4_1_EAX = reg({ leaf: 0x40000001, reg: 'eax' }, KVM_PV, [
  { name: 'kvm_clocksource', bit: 0, vendor: 'both', kind: 'vmm', aliases: ['kvmclock'], meaning: 'kvmclock at MSRs 0x11/0x12 (old)' },
  { name: 'kvm_nop_io_delay', bit: 1, vendor: 'both', kind: 'vmm', aliases: ['kvm_nopiodelay', 'kvm-nopiodelay'], meaning: 'No delay needed on port-I/O' },
  { name: 'kvm_mmu_op', bit: 2, vendor: 'both', kind: 'vmm', aliases: ['kvm-mmu'], meaning: 'Deprecated PV MMU operations' },
  { name: 'kvm_clocksource2', bit: 3, vendor: 'both', kind: 'vmm', meaning: 'kvmclock at MSRs 0x4b564d00/01' },
  { name: 'kvm_async_pf', bit: 4, vendor: 'both', kind: 'vmm', aliases: ['kvm-asyncpf'], meaning: 'Asynchronous page faults (MSR_KVM_ASYNC_PF_EN)' },
  { name: 'kvm_steal_time', bit: 5, vendor: 'both', kind: 'vmm', aliases: ['kvm-steal-time'], meaning: 'Steal time (MSR_KVM_STEAL_TIME)' },
  { name: 'kvm_pv_eoi', bit: 6, vendor: 'both', kind: 'vmm', aliases: ['kvm-pv-eoi'], meaning: 'Paravirtual end of interrupt (MSR_KVM_PV_EOI_EN)' },
  { name: 'kvm_pv_unhalt', bit: 7, vendor: 'both', kind: 'vmm', aliases: ['kvm-pv-unhalt'], meaning: 'KVM_HC_KICK_CPU (PV spinlock unhalt)' },
  { name: 'kvm_pv_tlb_flush', bit: 9, vendor: 'both', kind: 'vmm', aliases: ['kvm-pv-tlb-flush'], meaning: 'Paravirtual TLB flush via steal-time preempted flag' },
  { name: 'kvm_async_pf_vmexit', bit: 10, vendor: 'both', kind: 'vmm', aliases: ['kvm-asyncpf-vmexit'], depends: ['kvm_async_pf'], meaning: 'Async PF delivered as #PF VM exit to L1' },
  { name: 'kvm_pv_send_ipi', bit: 11, vendor: 'both', kind: 'vmm', aliases: ['kvm-pv-ipi'], meaning: 'KVM_HC_SEND_IPI' },
  { name: 'kvm_poll_control', bit: 12, vendor: 'both', kind: 'vmm', aliases: ['kvm-poll-control'], meaning: 'MSR_KVM_POLL_CONTROL (host-side halt polling control)' },
  { name: 'kvm_pv_sched_yield', bit: 13, vendor: 'both', kind: 'vmm', aliases: ['kvm-pv-sched-yield'], meaning: 'KVM_HC_SCHED_YIELD' },
  { name: 'kvm_async_pf_int', bit: 14, vendor: 'both', kind: 'vmm', aliases: ['kvm-asyncpf-int'], depends: ['kvm_async_pf'], meaning: 'Async PF "page ready" via interrupt (MSR_KVM_ASYNC_PF_INT)' },
  { name: 'kvm_msi_ext_dest_id', bit: 15, vendor: 'both', kind: 'vmm', aliases: ['kvm-msi-ext-dest-id'], meaning: 'MSI extended destination ID (VMM opt-in)' },
  { name: 'kvm_hc_map_gpa_range', bit: 16, vendor: 'both', kind: 'vmm', meaning: 'KVM_HC_MAP_GPA_RANGE hypercall (VMM opt-in)' },
  { name: 'kvm_migration_control', bit: 17, vendor: 'both', kind: 'vmm', meaning: 'MSR_KVM_MIGRATION_CONTROL (VMM opt-in)' },
  { name: 'kvm_clocksource_stable_bit', bit: 24, vendor: 'both', kind: 'vmm', aliases: ['kvmclock-stable-bit'], meaning: 'kvmclock PVCLOCK_TSC_STABLE_BIT may be trusted' },
]);

const L4_1_EDX = reg({ leaf: 0x40000001, reg: 'edx' }, KVM_PV, [
  { name: 'kvm_hints_realtime', bit: 0, vendor: 'both', kind: 'vmm', meaning: 'Hint: vCPUs are never preempted, idle polling is fine (VMM opt-in)' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 80000001H
// ---------------------------------------------------------------------------------------------

const L81_ECX = reg({ leaf: 0x80000001, reg: 'ecx' }, APM_81_ECX, [
  { name: 'lahf_lm', bit: 0, vendor: 'both', meaning: 'LAHF/SAHF in 64-bit mode' },
  { name: 'cmp_legacy', bit: 1, vendor: 'amd', meaning: 'Core multi-processing legacy mode (HTT bit not valid for threads)' },
  { name: 'svm', bit: 2, vendor: 'amd', meaning: 'Secure Virtual Machine (EFER.SVME, VMRUN)' },
  { name: 'extapic', bit: 3, vendor: 'amd', meaning: 'Extended APIC register space' },
  { name: 'cr8_legacy', bit: 4, vendor: 'amd', meaning: 'LOCK MOV CR0 means MOV CR8 (CR8 in 32-bit mode)' },
  { name: 'abm', bit: 5, vendor: 'both', aliases: ['lzcnt'], meaning: 'LZCNT (advanced bit manipulation)' },
  { name: 'sse4a', bit: 6, vendor: 'amd', depends: ['xmm2'], meaning: 'SSE4A instructions (EXTRQ/INSERTQ/MOVNTSS/MOVNTSD)' },
  { name: 'misalignsse', bit: 7, vendor: 'amd', meaning: 'Misaligned SSE mode (MXCSR.MM)' },
  { name: '3dnowprefetch', bit: 8, vendor: 'both', aliases: ['prefetchw'], meaning: 'PREFETCH/PREFETCHW instructions' },
  { name: 'osvw', bit: 9, vendor: 'amd', meaning: 'OS-visible workaround MSRs' },
  { name: 'ibs', bit: 10, vendor: 'amd', meaning: 'Instruction-based sampling' },
  { name: 'xop', bit: 11, vendor: 'amd', meaning: 'XOP instructions' },
  { name: 'skinit', bit: 12, vendor: 'amd', depends: ['svm'], meaning: 'SKINIT/STGI (secure init and jump)' },
  { name: 'wdt', bit: 13, vendor: 'amd', meaning: 'Watchdog timer' },
  { name: 'lwp', bit: 15, vendor: 'amd', meaning: 'Lightweight profiling' },
  { name: 'fma4', bit: 16, vendor: 'amd', meaning: 'FMA4 four-operand fused multiply-add' },
  { name: 'tce', bit: 17, vendor: 'amd', meaning: 'Translation cache extension (EFER.TCE)' },
  { name: 'nodeid_msr', bit: 19, vendor: 'amd', meaning: 'NodeId MSR (C001_100C)' },
  { name: 'tbm', bit: 21, vendor: 'amd', meaning: 'Trailing bit manipulation instructions' },
  { name: 'topoext', bit: 22, vendor: 'amd', meaning: 'Topology extensions (leaves 8000001DH/1EH)' },
  { name: 'perfctr_core', bit: 23, vendor: 'amd', meaning: 'Core performance counter extensions (6 counters)' },
  { name: 'perfctr_nb', bit: 24, vendor: 'amd', meaning: 'Northbridge/data fabric performance counters' },
  { name: 'stream_perf_mon', bit: 25, vendor: 'amd', meaning: 'Streaming performance monitor (unverified)' },
  { name: 'bpext', bit: 26, vendor: 'amd', meaning: 'Data breakpoint address mask extension' },
  { name: 'ptsc', bit: 27, vendor: 'amd', meaning: 'Performance time-stamp counter' },
  { name: 'perfctr_llc', bit: 28, vendor: 'amd', meaning: 'L3/last-level cache performance counters' },
  { name: 'mwaitx', bit: 29, vendor: 'amd', meaning: 'MONITORX/MWAITX instructions' },
  { name: 'addr_mask_ext', bit: 30, vendor: 'amd', meaning: 'Instruction breakpoint address mask extension to bit 31 (unverified)' },
]);

const L81_EDX = reg({ leaf: 0x80000001, reg: 'edx' }, APM_81_EDX, [
  // AMD copies of 1:EDX (KVM ALIASED_1_EDX_F). Linux has no separate names; ours are ext_<leaf-1 name>.
  { name: 'ext_fpu', bit: 0, vendor: 'amd', meaning: 'AMD copy of 1:EDX fpu' },
  { name: 'ext_vme', bit: 1, vendor: 'amd', meaning: 'AMD copy of 1:EDX vme' },
  { name: 'ext_de', bit: 2, vendor: 'amd', meaning: 'AMD copy of 1:EDX de' },
  { name: 'ext_pse', bit: 3, vendor: 'amd', meaning: 'AMD copy of 1:EDX pse' },
  { name: 'ext_tsc', bit: 4, vendor: 'amd', meaning: 'AMD copy of 1:EDX tsc' },
  { name: 'ext_msr', bit: 5, vendor: 'amd', meaning: 'AMD copy of 1:EDX msr' },
  { name: 'ext_pae', bit: 6, vendor: 'amd', meaning: 'AMD copy of 1:EDX pae' },
  { name: 'ext_mce', bit: 7, vendor: 'amd', meaning: 'AMD copy of 1:EDX mce' },
  { name: 'ext_cx8', bit: 8, vendor: 'amd', meaning: 'AMD copy of 1:EDX cx8' },
  { name: 'ext_apic', bit: 9, vendor: 'amd', meaning: 'AMD copy of 1:EDX apic' },
  { name: 'syscall', bit: 11, vendor: 'both', meaning: 'SYSCALL/SYSRET (Intel: in 64-bit mode only)' },
  { name: 'ext_mtrr', bit: 12, vendor: 'amd', meaning: 'AMD copy of 1:EDX mtrr' },
  { name: 'ext_pge', bit: 13, vendor: 'amd', meaning: 'AMD copy of 1:EDX pge' },
  { name: 'ext_mca', bit: 14, vendor: 'amd', meaning: 'AMD copy of 1:EDX mca' },
  { name: 'ext_cmov', bit: 15, vendor: 'amd', meaning: 'AMD copy of 1:EDX cmov' },
  { name: 'ext_pat', bit: 16, vendor: 'amd', meaning: 'AMD copy of 1:EDX pat' },
  { name: 'ext_pse36', bit: 17, vendor: 'amd', meaning: 'AMD copy of 1:EDX pse36' },
  { name: 'mp', bit: 19, vendor: 'amd', meaning: 'Multiprocessor capable (Athlon MP era)' },
  { name: 'nx', bit: 20, vendor: 'both', aliases: ['xd'], meaning: 'No-execute page protection (EFER.NXE)' },
  { name: 'mmxext', bit: 22, vendor: 'amd', depends: ['mmx'], meaning: 'AMD MMX extensions' },
  { name: 'ext_mmx', bit: 23, vendor: 'amd', meaning: 'AMD copy of 1:EDX mmx' },
  { name: 'ext_fxsr', bit: 24, vendor: 'amd', meaning: 'AMD copy of 1:EDX fxsr' },
  { name: 'fxsr_opt', bit: 25, vendor: 'amd', depends: ['fxsr'], meaning: 'FXSAVE/FXRSTOR optimizations (EFER.FFXSR)' },
  { name: 'gbpages', bit: 26, vendor: 'both', aliases: ['pdpe1gb', 'page1gb'], meaning: '1 GiB pages' },
  { name: 'rdtscp', bit: 27, vendor: 'both', meaning: 'RDTSCP instruction and IA32_TSC_AUX' },
  { name: 'lm', bit: 29, vendor: 'both', aliases: ['em64t', 'x86_64', 'long_mode'], meaning: 'Long mode (Intel 64 / AMD64)' },
  { name: '3dnowext', bit: 30, vendor: 'amd', depends: ['3dnow'], meaning: 'AMD 3DNow! extensions (architectural: extends 3DNow!)' },
  { name: '3dnow', bit: 31, vendor: 'amd', meaning: 'AMD 3DNow! instructions' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 80000007H EDX (advanced power management); only bit 8 is defined by Intel too
// ---------------------------------------------------------------------------------------------

const L87_EDX = reg({ leaf: 0x80000007, reg: 'edx' }, APM_87, [
  { name: 'pwr_ts', bit: 0, vendor: 'amd', meaning: 'Temperature sensor' },
  { name: 'pwr_fid', bit: 1, vendor: 'amd', meaning: 'Frequency ID control (legacy)' },
  { name: 'pwr_vid', bit: 2, vendor: 'amd', meaning: 'Voltage ID control (legacy)' },
  { name: 'pwr_ttp', bit: 3, vendor: 'amd', meaning: 'THERMTRIP' },
  { name: 'pwr_htc', bit: 4, vendor: 'amd', meaning: 'Hardware thermal control (HTC)' },
  { name: 'pwr_100mhz_steps', bit: 6, vendor: 'amd', meaning: '100 MHz multiplier control' },
  { name: 'hw_pstate', bit: 7, vendor: 'amd', meaning: 'Hardware P-state control MSRs' },
  { name: 'constant_tsc', bit: 8, vendor: 'both', aliases: ['invtsc', 'nonstop_tsc', 'tsc_invariant'], meaning: 'Invariant TSC: constant rate in all P/C/T-states' },
  { name: 'cpb', bit: 9, vendor: 'amd', meaning: 'Core performance boost' },
  { name: 'eff_freq_ro', bit: 10, vendor: 'amd', meaning: 'Read-only effective frequency interface (MPERF/APERF RO)' },
  { name: 'proc_feedback', bit: 11, vendor: 'amd', meaning: 'Processor feedback interface (deprecated)' },
  { name: 'proc_power_reporting', bit: 12, vendor: 'amd', meaning: 'Core power reporting interface' },
  { name: 'connected_standby', bit: 13, vendor: 'amd', meaning: 'Connected standby (unverified)' },
  { name: 'rapl', bit: 14, vendor: 'amd', meaning: 'Running average power limit interface' },
  { name: 'amd_fast_cppc', bit: 15, vendor: 'amd', meaning: 'Fast CPPC' },
  { name: 'cppc_perf_prio', bit: 16, vendor: 'amd', meaning: 'CPPC floor performance / priority support' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 80000008H EBX (extended feature identifiers)
// ---------------------------------------------------------------------------------------------

const L88_EBX = reg({ leaf: 0x80000008, reg: 'ebx' }, APM_88, [
  { name: 'clzero', bit: 0, vendor: 'amd', meaning: 'CLZERO instruction' },
  { name: 'irperf', bit: 1, vendor: 'amd', meaning: 'Instructions-retired counter MSR (IRPerfCount)' },
  { name: 'xsaveerptr', bit: 2, vendor: 'amd', meaning: 'FXSAVE/XSAVE always save x87 error pointers' },
  { name: 'invlpgb', bit: 3, vendor: 'amd', meaning: 'INVLPGB and TLBSYNC instructions' },
  { name: 'rdpru', bit: 4, vendor: 'amd', meaning: 'RDPRU instruction' },
  { name: 'mba', bit: 6, vendor: 'amd', meaning: 'Memory bandwidth allocation (AMD QoS)' },
  { name: 'mcommit', bit: 8, vendor: 'amd', meaning: 'MCOMMIT instruction (EFER.MCOMMIT)' },
  { name: 'wbnoinvd', bit: 9, vendor: 'both', meaning: 'WBNOINVD instruction' },
  { name: 'amd_ibpb', bit: 12, vendor: 'amd', aliases: ['ibpb_amd'], meaning: 'IBPB (PRED_CMD[0])' },
  { name: 'int_wbinvd', bit: 13, vendor: 'amd', meaning: 'WBINVD/WBNOINVD are interruptible' },
  { name: 'amd_ibrs', bit: 14, vendor: 'amd', meaning: 'IBRS (SPEC_CTRL[0])' },
  { name: 'amd_stibp', bit: 15, vendor: 'amd', meaning: 'STIBP (SPEC_CTRL[1])' },
  { name: 'amd_ibrs_always_on', bit: 16, vendor: 'amd', meaning: 'IBRS always-on preferred' },
  { name: 'amd_stibp_always_on', bit: 17, vendor: 'amd', meaning: 'STIBP always-on preferred' },
  { name: 'amd_ibrs_preferred', bit: 18, vendor: 'amd', meaning: 'IBRS preferred over software mitigations' },
  { name: 'amd_ibrs_same_mode', bit: 19, vendor: 'amd', meaning: 'IBRS provides same-mode protection' },
  { name: 'efer_lmsle_mbz', bit: 20, vendor: 'amd', kind: 'software', aliases: ['no_lmsl', 'efer_lmsle_unsupported', 'eferlmsleunsupported'], meaning: 'EFER.LMSLE is unsupported and must be zero (spec §3.3)' },
  { name: 'invlpgb_nested', bit: 21, vendor: 'amd', depends: ['invlpgb'], meaning: 'INVLPGB supports nested page translations (unverified)' },
  { name: 'amd_ppin', bit: 23, vendor: 'amd', meaning: 'Protected processor inventory number' },
  { name: 'amd_ssbd', bit: 24, vendor: 'amd', meaning: 'SSBD via SPEC_CTRL[2]' },
  { name: 'virt_ssbd', bit: 25, vendor: 'amd', meaning: 'SSBD via VIRT_SPEC_CTRL MSR' },
  { name: 'amd_ssb_no', bit: 26, vendor: 'amd', kind: 'software', meaning: 'Not vulnerable to speculative store bypass' },
  { name: 'cppc', bit: 27, vendor: 'amd', meaning: 'Collaborative processor performance control' },
  { name: 'amd_psfd', bit: 28, vendor: 'amd', meaning: 'Predictive store forwarding disable (SPEC_CTRL[7])' },
  { name: 'btc_no', bit: 29, vendor: 'amd', kind: 'software', meaning: 'Not vulnerable to branch type confusion' },
  { name: 'amd_ibpb_ret', bit: 30, vendor: 'amd', meaning: 'IBPB also clears the return address predictor' },
  { name: 'brs', bit: 31, vendor: 'amd', meaning: 'Branch sampling' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 8000000AH EDX (SVM features); all require SVM (the leaf is reserved without it)
// ---------------------------------------------------------------------------------------------

const L8A_EDX = reg({ leaf: 0x8000000a, reg: 'edx' }, APM_8A, [
  { name: 'npt', bit: 0, vendor: 'amd', depends: ['svm'], meaning: 'Nested paging' },
  { name: 'lbrv', bit: 1, vendor: 'amd', depends: ['svm'], meaning: 'LBR virtualization' },
  { name: 'svml', bit: 2, vendor: 'amd', depends: ['svm'], aliases: ['svm_lock'], meaning: 'SVM lock (VM_CR.SVMDIS lockable)' },
  { name: 'nrips', bit: 3, vendor: 'amd', depends: ['svm'], aliases: ['nrip_save', 'nrip-save'], meaning: 'Next RIP saved on #VMEXIT' },
  { name: 'tscratemsr', bit: 4, vendor: 'amd', depends: ['svm'], aliases: ['tsc_scale', 'tsc-scale'], meaning: 'TSC ratio MSR (TSC scaling)' },
  { name: 'vmcbclean', bit: 5, vendor: 'amd', depends: ['svm'], aliases: ['vmcb_clean', 'vmcb-clean'], meaning: 'VMCB clean bits' },
  { name: 'flushbyasid', bit: 6, vendor: 'amd', depends: ['svm'], meaning: 'Flush by ASID (TLB_CONTROL 3/7)' },
  { name: 'decodeassists', bit: 7, vendor: 'amd', depends: ['svm'], meaning: 'Decode assists' },
  { name: 'pmcvirt', bit: 8, vendor: 'amd', depends: ['svm'], meaning: 'PMC virtualization (unverified)' },
  { name: 'pausefilter', bit: 10, vendor: 'amd', depends: ['svm'], aliases: ['pause-filter'], meaning: 'PAUSE intercept filter count' },
  { name: 'pfthreshold', bit: 12, vendor: 'amd', depends: ['pausefilter'], meaning: 'PAUSE filter cycle threshold' },
  { name: 'avic', bit: 13, vendor: 'amd', depends: ['svm'], meaning: 'Advanced virtual interrupt controller' },
  { name: 'v_vmsave_vmload', bit: 15, vendor: 'amd', depends: ['svm'], aliases: ['v-vmsave-vmload'], meaning: 'Virtualized VMSAVE/VMLOAD' },
  { name: 'vgif', bit: 16, vendor: 'amd', depends: ['svm'], meaning: 'Virtualized GIF' },
  { name: 'gmet', bit: 17, vendor: 'amd', depends: ['npt'], meaning: 'Guest mode execute trap' },
  { name: 'x2avic', bit: 18, vendor: 'amd', depends: ['avic'], meaning: 'x2APIC mode in AVIC' },
  { name: 'sss_check', bit: 19, vendor: 'amd', depends: ['svm'], meaning: 'Supervisor shadow stack restrictions in nested page tables (unverified)' },
  { name: 'v_spec_ctrl', bit: 20, vendor: 'amd', depends: ['svm'], meaning: 'Virtualized SPEC_CTRL in the VMCB' },
  { name: 'rogpt', bit: 21, vendor: 'amd', depends: ['npt'], meaning: 'Read-only guest page table support (unverified)' },
  { name: 'host_mce_override', bit: 23, vendor: 'amd', depends: ['svm'], meaning: 'Host MCE override (unverified)' },
  { name: 'tlbictl', bit: 24, vendor: 'amd', depends: ['svm'], meaning: 'INVLPGB/TLBSYNC hypervisor enable in the VMCB (unverified)' },
  { name: 'vnmi', bit: 25, vendor: 'amd', depends: ['svm'], meaning: 'Virtual NMI' },
  { name: 'ibs_virt', bit: 26, vendor: 'amd', depends: ['svm'], meaning: 'IBS virtualization (unverified)' },
  { name: 'avic_extlvt_access_chg', bit: 27, vendor: 'amd', depends: ['avic'], meaning: 'Extended LVT AVIC access changes (unverified)' },
  { name: 'svme_addr_chk', bit: 28, vendor: 'amd', depends: ['svm'], meaning: 'VMRUN/VMLOAD/VMSAVE check the VMCB address against reserved ranges' },
  { name: 'bus_lock_threshold', bit: 29, vendor: 'amd', depends: ['svm'], meaning: 'Bus lock threshold intercept' },
  { name: 'idle_hlt', bit: 30, vendor: 'amd', depends: ['svm'], meaning: 'Idle HLT intercept' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 8000001FH EAX (memory encryption)
// ---------------------------------------------------------------------------------------------

const L8F_EAX = reg({ leaf: 0x8000001f, reg: 'eax' }, APM_8F, [
  { name: 'sme', bit: 0, vendor: 'amd', meaning: 'Secure memory encryption' },
  { name: 'sev', bit: 1, vendor: 'amd', meaning: 'Secure encrypted virtualization' },
  { name: 'vm_page_flush', bit: 2, vendor: 'amd', meaning: 'VM_PAGE_FLUSH MSR' },
  { name: 'sev_es', bit: 3, vendor: 'amd', meaning: 'SEV encrypted state' },
  { name: 'sev_snp', bit: 4, vendor: 'amd', meaning: 'SEV secure nested paging' },
  { name: 'vmpl', bit: 5, vendor: 'amd', meaning: 'VM permission levels' },
  { name: 'rmpquery', bit: 6, vendor: 'amd', meaning: 'RMPQUERY instruction (unverified)' },
  { name: 'vmpl_sss', bit: 7, vendor: 'amd', meaning: 'VMPL supervisor shadow stack (unverified)' },
  { name: 'snp_secure_tsc', bit: 8, vendor: 'amd', meaning: 'SEV-SNP secure TSC' },
  { name: 'v_tsc_aux', bit: 9, vendor: 'amd', meaning: 'Virtual TSC_AUX for SEV-ES guests' },
  { name: 'sme_coherent', bit: 10, vendor: 'amd', meaning: 'Hardware cache coherency across encryption domains' },
  { name: 'req_64bit_hypervisor', bit: 11, vendor: 'amd', meaning: 'SEV guests require a 64-bit hypervisor (unverified)' },
  { name: 'restricted_injection', bit: 12, vendor: 'amd', meaning: 'SEV-SNP restricted injection (unverified)' },
  { name: 'alternate_injection', bit: 13, vendor: 'amd', meaning: 'SEV-SNP alternate injection (unverified)' },
  { name: 'debug_swap', bit: 14, vendor: 'amd', meaning: 'SEV-ES full debug state swap' },
  { name: 'prevent_host_ibs', bit: 15, vendor: 'amd', meaning: 'Host IBS disallowed for SEV-ES guests (unverified)' },
  { name: 'vte', bit: 16, vendor: 'amd', meaning: 'Virtual transparent encryption (unverified)' },
  { name: 'vmgexit_parameter', bit: 17, vendor: 'amd', meaning: 'VMGEXIT parameter (unverified)' },
  { name: 'virtual_tom_msr', bit: 18, vendor: 'amd', meaning: 'Virtual TOM MSR (unverified)' },
  { name: 'ibs_virt_guest_ctl', bit: 19, vendor: 'amd', meaning: 'IBS virtualization for SEV-ES guests (unverified)' },
  { name: 'rmpread', bit: 21, vendor: 'amd', meaning: 'RMPREAD instruction' },
  { name: 'segmented_rmp', bit: 23, vendor: 'amd', meaning: 'Segmented RMP table' },
  { name: 'vmsa_reg_prot', bit: 24, vendor: 'amd', meaning: 'VMSA register protection (unverified)' },
  { name: 'smt_protection', bit: 25, vendor: 'amd', meaning: 'SMT protection (unverified)' },
  { name: 'allowed_sev_features', bit: 27, vendor: 'amd', meaning: 'Allowed SEV features field in the VMCB' },
  { name: 'svsm', bit: 28, vendor: 'amd', meaning: 'SVSM communication page MSR (SVSM present)' },
  { name: 'hv_inuse_wr_allowed', bit: 30, vendor: 'amd', meaning: 'Hypervisor may write in-use hypervisor-owned pages' },
]);

// ---------------------------------------------------------------------------------------------
// Leaf 80000021H (extended feature 2)
// ---------------------------------------------------------------------------------------------

const L821_EAX = reg({ leaf: 0x80000021, reg: 'eax' }, APM_821, [
  { name: 'no_nested_data_bp', bit: 0, vendor: 'amd', meaning: 'Processor ignores nested data breakpoints' },
  { name: 'wrmsr_xx_base_ns', bit: 1, vendor: 'amd', meaning: 'WRMSR to FS/GS/KERNEL_GS base is non-serializing' },
  { name: 'lfence_rdtsc', bit: 2, vendor: 'amd', meaning: 'LFENCE is always dispatch serializing' },
  { name: 'smm_pgcfg_lock', bit: 3, vendor: 'amd', meaning: 'SMM paging configuration lock' },
  { name: 'verw_clear', bit: 5, vendor: 'amd', meaning: 'Memory-form VERW clears microarchitectural buffers (TSA)' },
  { name: 'null_sel_clr_base', bit: 6, vendor: 'amd', kind: 'software', aliases: ['null_sel_clears_base', 'nullselclearsbase'], meaning: 'Loading a null selector clears the segment base' },
  { name: 'upper_address_ignore', bit: 7, vendor: 'amd', meaning: 'Upper address ignore (EFER.UAIE) (unverified)' },
  { name: 'autoibrs', bit: 8, vendor: 'amd', aliases: ['auto_ibrs'], meaning: 'Automatic IBRS (EFER.AIBRSE)' },
  { name: 'no_smm_ctl_msr', bit: 9, vendor: 'amd', kind: 'software', meaning: 'SMM_CTL MSR (C001_0116) is not present' },
  { name: 'prefetch_ctl_msr', bit: 13, vendor: 'amd', meaning: 'Prefetch control MSR (unverified)' },
  { name: 'gp_on_user_cpuid', bit: 17, vendor: 'amd', aliases: ['cpuid_user_dis'], meaning: 'CPUID at CPL>0 can be made to #GP (CPUID faulting)' },
  { name: 'epsf', bit: 18, vendor: 'amd', meaning: 'Enhanced predictive store forwarding (unverified)' },
  { name: 'prefetchi', bit: 20, vendor: 'amd', meaning: 'PREFETCHIT0/1 instructions' },
  { name: 'amd_workload_class', bit: 22, vendor: 'amd', meaning: 'Workload classification' },
  { name: 'avx512_bmm', bit: 23, vendor: 'amd', depends: ['avx512f'], meaning: 'AVX-512 bit matrix multiply' },
  { name: 'eraps', bit: 24, vendor: 'amd', meaning: 'Enhanced return address predictor security' },
  { name: 'sbpb', bit: 27, vendor: 'amd', meaning: 'Selective branch predictor barrier (PRED_CMD[7])' },
  { name: 'ibpb_brtype', bit: 28, vendor: 'amd', meaning: 'IBPB flushes all branch type predictions' },
  { name: 'srso_no', bit: 29, vendor: 'amd', kind: 'software', meaning: 'Not vulnerable to SRSO' },
  { name: 'srso_user_kernel_no', bit: 30, vendor: 'amd', kind: 'software', meaning: 'Not vulnerable to SRSO across the user/kernel boundary' },
  { name: 'srso_msr_fix', bit: 31, vendor: 'amd', aliases: ['srso_bp_spec_reduce'], meaning: 'BP_CFG[BpSpecReduce] mitigates SRSO for guests' },
]);

const L821_ECX = reg({ leaf: 0x80000021, reg: 'ecx' }, APM_821, [
  { name: 'tsa_sq_no', bit: 1, vendor: 'amd', kind: 'software', meaning: 'Not vulnerable to TSA-SQ (transient scheduler attack, store queue)' },
  { name: 'tsa_l1_no', bit: 2, vendor: 'amd', kind: 'software', meaning: 'Not vulnerable to TSA-L1' },
]);

// ---------------------------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------------------------

/** Every feature flag, grouped by register in leaf order. */
export const FEATURES = [
  ...L1_ECX,
  ...L1_EDX,
  ...L6_EAX,
  ...L7_0_EBX,
  ...L7_0_ECX,
  ...L7_0_EDX,
  ...L7_1_EAX,
  ...L7_1_EBX,
  ...L7_1_ECX,
  ...L7_1_EDX,
  ...L7_2_EDX,
  ...LD_1_EAX,
  ...L14_EBX,
  ...L14_ECX,
  ...L19_EAX,
  ...L19_EBX,
  ...L19_ECX,
  ...L4_1_EAX,
  ...L4_1_EDX,
  ...L81_ECX,
  ...L81_EDX,
  ...L87_EDX,
  ...L88_EBX,
  ...L8A_EDX,
  ...L8F_EAX,
  ...L821_EAX,
  ...L821_ECX,
] as const satisfies readonly FeatureDef[];

export type FeatureName = (typeof FEATURES)[number]['name'];

/** A feature row whose name is known statically. */
export type NamedFeature<N extends FeatureName = FeatureName> = FeatureDef & { readonly name: N };

/** Name → row, so logic can write `Feature.lass`, `Feature.xsaves`. */
export const Feature: { readonly [K in FeatureName]: NamedFeature<K> } = Object.freeze(
  Object.fromEntries(FEATURES.map((f) => [f.name, f])),
) as { readonly [K in FeatureName]: NamedFeature<K> };

/**
 * 0x80000001:EDX bits that AMD defines as copies of 1:EDX bits (KVM's ALIASED_1_EDX_F): the
 * ext_* row name → the leaf-1 feature it mirrors. A policy that hides `fpu` on an AMD-like guest
 * should hide `ext_fpu` too.
 */
export const AMD_LEAF1_EDX_MIRRORS: Readonly<Partial<Record<FeatureName, FeatureName>>> = Object.freeze(
  Object.fromEntries(
    FEATURES.filter((f) => f.name.startsWith('ext_') && f.leaf === 0x80000001).map((f) => [f.name, f.name.slice(4)]),
  ),
);

// ---------------------------------------------------------------------------------------------
// Lookups (built once)
// ---------------------------------------------------------------------------------------------

const byLowerName = new Map<string, NamedFeature>();
for (const f of FEATURES) {
  byLowerName.set(f.name.toLowerCase(), f);
}
for (const f of FEATURES) {
  const aliases: readonly string[] = 'aliases' in f && f.aliases ? f.aliases : [];
  for (const a of aliases) {
    const k = a.toLowerCase();
    if (!byLowerName.has(k)) byLowerName.set(k, f);
  }
}

function regKey(leaf: number, subleaf: number | undefined, r: CpuidReg): string {
  return `${leaf >>> 0}:${(subleaf ?? 0) >>> 0}:${r}`;
}
const byReg = new Map<string, NamedFeature[]>();
for (const f of FEATURES) {
  const k = regKey(f.leaf, 'subleaf' in f ? f.subleaf : undefined, f.reg);
  const list = byReg.get(k) ?? [];
  list.push(f);
  byReg.set(k, list);
}
for (const list of byReg.values()) list.sort((a, b) => a.bit - b.bit);

const dependants = new Map<FeatureName, NamedFeature[]>();
for (const f of FEATURES) {
  const deps: readonly string[] = 'depends' in f && f.depends ? f.depends : [];
  for (const d of deps) {
    const list = dependants.get(d as FeatureName) ?? [];
    list.push(f);
    dependants.set(d as FeatureName, list);
  }
}

/** The row for a name or alias (case-insensitive), or undefined when unknown. */
export function featureByName(nameOrAlias: string): NamedFeature | undefined {
  if (typeof nameOrAlias !== 'string') return undefined;
  return byLowerName.get(nameOrAlias.trim().toLowerCase());
}

function mustFind(nameOrAlias: string): NamedFeature {
  const f = featureByName(nameOrAlias);
  if (!f) {
    throw new TsvmmError('CPUID_UNKNOWN_FEATURE', `unknown CPUID feature ${JSON.stringify(nameOrAlias)}`, {
      feature: nameOrAlias,
    });
  }
  return f;
}

/** The features defined in one register, by ascending bit. `subleaf` undefined and 0 are the same. */
export function featuresIn(leaf: number, subleaf: number | undefined, r: CpuidReg): readonly NamedFeature[] {
  return byReg.get(regKey(leaf, subleaf, r)) ?? [];
}

/** Every register that holds feature flags, in table order (leaf, subleaf (undefined = not indexed), reg). */
export function featureRegisters(): readonly { readonly leaf: number; readonly subleaf: number | undefined; readonly reg: CpuidReg }[] {
  return featureRegs;
}
const featureRegs: { leaf: number; subleaf: number | undefined; reg: CpuidReg }[] = [];
{
  const seen = new Set<string>();
  for (const f of FEATURES as readonly FeatureDef[]) {
    const k = regKey(f.leaf, f.subleaf, f.reg);
    if (seen.has(k)) continue;
    seen.add(k);
    featureRegs.push({ leaf: f.leaf, subleaf: f.subleaf, reg: f.reg });
  }
}

/** The names of all features whose bit is set in the table, in table order. */
export function presentFeatures(table: CpuidTable): FeatureName[] {
  return FEATURES.filter((f) => table.hasBit(f)).map((f) => f.name);
}

/** True when the feature's bit is set in the table (a missing leaf reads as zero). */
export function hasFeature(table: CpuidTable, name: FeatureName | FeatureDef): boolean {
  const f = typeof name === 'string' ? mustFind(name) : name;
  return table.hasBit(f);
}

/** Features that list `name` directly in their `depends`. */
export function directDependants(name: FeatureName | string): readonly NamedFeature[] {
  return dependants.get(mustFind(name).name) ?? [];
}

/** The direct dependencies of one feature. */
export function directDependencies(name: FeatureName | string): readonly NamedFeature[] {
  const f = mustFind(name);
  const deps: readonly string[] = f.depends ?? [];
  return deps.map(mustFind);
}

/**
 * Everything the given features require, transitively (the given features are not included
 * unless one requires another). Unknown names throw CPUID_UNKNOWN_FEATURE.
 */
export function dependencyClosure(names: Iterable<FeatureName | string>): Set<FeatureName> {
  const out = new Set<FeatureName>();
  const stack = [...names].map((n) => mustFind(n));
  while (stack.length) {
    const f = stack.pop()!;
    for (const d of directDependencies(f.name)) {
      if (!out.has(d.name)) {
        out.add(d.name);
        stack.push(d);
      }
    }
  }
  return out;
}

/**
 * Everything that transitively requires any of the given features (what must go when they go).
 * The given features are not included unless one depends on another.
 */
export function dependantClosure(names: Iterable<FeatureName | string>): Set<FeatureName> {
  const out = new Set<FeatureName>();
  const stack = [...names].map((n) => mustFind(n));
  while (stack.length) {
    const f = stack.pop()!;
    for (const d of dependants.get(f.name) ?? []) {
      if (!out.has(d.name)) {
        out.add(d.name);
        stack.push(d);
      }
    }
  }
  return out;
}

/** "LASS CPUID.(EAX=7,ECX=1):EAX[6]". */
export function describeFeature(def: FeatureDef): string {
  return `${def.name.toUpperCase()} ${formatBitLocation(def)}`;
}
