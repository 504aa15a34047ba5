// Which CPUID leaves are indexed by ECX (subleaf), i.e. carry KVM_CPUID_FLAG_SIGNIFCANT_INDEX in a
// kvm_cpuid_entry2. The list follows KVM's __do_cpuid_func (arch/x86/kvm/cpuid.c), which flags the
// leaves whose output depends on ECX; Intel SDM Vol. 2A "CPUID" and AMD APM Vol. 3 Appendix E define
// each leaf's subleaf scheme.

import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../../arch/x86/cpuid/table.ts';

/**
 * 4 deterministic cache parameters, 7 structured extended features, 0xB/0x1F/0x80000026 extended
 * topology, 0xD XSAVE components, 0xF/0x10 RDT monitoring/allocation, 0x12 SGX, 0x14 Intel PT,
 * 0x17 SoC vendor, 0x18 deterministic address translation, 0x1D/0x1E AMX tiles/TMUL, 0x20 HRESET,
 * 0x23 architectural PMU extended, 0x24 AVX10, 0x8000001D AMD cache topology, 0x80000020 AMD PQoS.
 */
export const KVM_INDEXED_LEAVES: ReadonlySet<number> = new Set([
  0x4, 0x7, 0xb, 0xd, 0xf, 0x10, 0x12, 0x14, 0x17, 0x18, 0x1d, 0x1e, 0x1f, 0x20, 0x23, 0x24, 0x8000001d,
  0x80000020, 0x80000026,
]);

/** Flags for an entry of `leaf`; `sawNonZeroSubleaf` marks leaves a dump showed with several subleaves. */
export function indexFlags(leaf: number, sawNonZeroSubleaf = false): number {
  return KVM_INDEXED_LEAVES.has(leaf >>> 0) || sawNonZeroSubleaf ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
}
