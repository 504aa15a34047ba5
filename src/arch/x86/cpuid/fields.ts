// CPUID non-flag fields (counts, sizes, IDs, strings) as a typed bit-range table, with decoders.
// Intel SDM Vol. 2A "CPUID—CPU Identification" (Table 3-8 and the leaf 01H/04H/0BH/0DH/14H/1FH
// descriptions, Figure 3-6 family/model); AMD APM Vol. 3 Appendix E (Fn8000_0000..Fn8000_001F).
// MAXPHYADDR fallback (36) follows KVM's cpuid_query_maxphyaddr (spec §5.6).

import { TsvmmError } from '../../../util/result.ts';
import type { CpuidTable } from './table.ts';
import type { CpuidReg } from './types.ts';

/** One multi-bit field: bits lo..hi (inclusive) of `reg`. `perSubleaf` leaves repeat the field per ECX index. */
export interface FieldDef {
  readonly name: string;
  readonly leaf: number;
  /** Fixed subleaf; undefined for non-indexed leaves and for `perSubleaf` fields. */
  readonly subleaf?: number;
  /** The field repeats in every subleaf (leaf 4, 0BH, 0DH i≥2, 1FH, 8000001DH): pass the subleaf when reading. */
  readonly perSubleaf?: boolean;
  readonly reg: CpuidReg;
  readonly lo: number;
  readonly hi: number;
  readonly meaning: string;
  readonly doc: string;
}

const SDM_0 = 'SDM Vol.2A CPUID leaf 00H';
const SDM_1 = 'SDM Vol.2A CPUID leaf 01H, Figure 3-6';
const SDM_4 = 'SDM Vol.2A CPUID leaf 04H';
const SDM_7 = 'SDM Vol.2A CPUID leaf 07H';
const SDM_B = 'SDM Vol.2A CPUID leaf 0BH / 1FH';
const SDM_D = 'SDM Vol.2A CPUID leaf 0DH; SDM Vol.1 13.2';
const SDM_14 = 'SDM Vol.2A CPUID leaf 14H';
const KVM_SIG = 'Linux Documentation/virt/kvm/x86/cpuid.rst (KVM_CPUID_SIGNATURE)';
const APM_80 = 'APM Vol.3 E.4.1 (Fn8000_0000)';
const APM_81 = 'APM Vol.3 E.4.2 (Fn8000_0001_EBX)';
const APM_BRAND = 'APM Vol.3 E.4.3 (Fn8000_000[4:2]); SDM Vol.2A leaf 80000002H-80000004H';
const APM_88 = 'APM Vol.3 E.4.7 (Fn8000_0008); SDM Vol.2A leaf 80000008H';
const APM_8A = 'APM Vol.3 E.4.9 (Fn8000_000A)';
const APM_8D = 'APM Vol.3 E.4.15 (Fn8000_001D)';
const APM_8F = 'APM Vol.3 E.4.17 (Fn8000_001F)';
const APM_821 = 'APM Vol.3 E.4.19 (Fn8000_0021_EBX)';

export const FIELDS = [
  // Leaf 0
  { name: 'max_basic_leaf', leaf: 0, reg: 'eax', lo: 0, hi: 31, meaning: 'Highest basic leaf', doc: SDM_0 },
  { name: 'vendor_0', leaf: 0, reg: 'ebx', lo: 0, hi: 31, meaning: 'Vendor string bytes 0-3', doc: SDM_0 },
  { name: 'vendor_1', leaf: 0, reg: 'edx', lo: 0, hi: 31, meaning: 'Vendor string bytes 4-7', doc: SDM_0 },
  { name: 'vendor_2', leaf: 0, reg: 'ecx', lo: 0, hi: 31, meaning: 'Vendor string bytes 8-11', doc: SDM_0 },
  // Leaf 1 EAX: version information
  { name: 'stepping', leaf: 1, reg: 'eax', lo: 0, hi: 3, meaning: 'Stepping ID', doc: SDM_1 },
  { name: 'base_model', leaf: 1, reg: 'eax', lo: 4, hi: 7, meaning: 'Model (base)', doc: SDM_1 },
  { name: 'base_family', leaf: 1, reg: 'eax', lo: 8, hi: 11, meaning: 'Family (base)', doc: SDM_1 },
  { name: 'processor_type', leaf: 1, reg: 'eax', lo: 12, hi: 13, meaning: 'Processor type (Intel: 0 OEM, 1 OverDrive, 2 dual)', doc: SDM_1 },
  { name: 'ext_model', leaf: 1, reg: 'eax', lo: 16, hi: 19, meaning: 'Extended model (used when base family is 6 or 0FH)', doc: SDM_1 },
  { name: 'ext_family', leaf: 1, reg: 'eax', lo: 20, hi: 27, meaning: 'Extended family (added when base family is 0FH)', doc: SDM_1 },
  // Leaf 1 EBX
  { name: 'brand_index', leaf: 1, reg: 'ebx', lo: 0, hi: 7, meaning: 'Brand index', doc: SDM_1 },
  { name: 'clflush_line_size', leaf: 1, reg: 'ebx', lo: 8, hi: 15, meaning: 'CLFLUSH line size in 8-byte units', doc: SDM_1 },
  { name: 'max_logical_processors', leaf: 1, reg: 'ebx', lo: 16, hi: 23, meaning: 'Max addressable logical processor IDs in the package (valid if HTT)', doc: SDM_1 },
  { name: 'initial_apic_id', leaf: 1, reg: 'ebx', lo: 24, hi: 31, meaning: 'Initial (8-bit) APIC ID', doc: SDM_1 },
  // Leaf 4: deterministic cache parameters (per subleaf)
  { name: 'cache_type', leaf: 4, perSubleaf: true, reg: 'eax', lo: 0, hi: 4, meaning: 'Cache type: 0 none (end), 1 data, 2 instruction, 3 unified', doc: SDM_4 },
  { name: 'cache_level', leaf: 4, perSubleaf: true, reg: 'eax', lo: 5, hi: 7, meaning: 'Cache level (from 1)', doc: SDM_4 },
  { name: 'cache_self_init', leaf: 4, perSubleaf: true, reg: 'eax', lo: 8, hi: 8, meaning: 'Self-initializing cache level', doc: SDM_4 },
  { name: 'cache_fully_assoc', leaf: 4, perSubleaf: true, reg: 'eax', lo: 9, hi: 9, meaning: 'Fully associative', doc: SDM_4 },
  { name: 'cache_sharing_ids', leaf: 4, perSubleaf: true, reg: 'eax', lo: 14, hi: 25, meaning: 'Max logical processor IDs sharing this cache, minus 1', doc: SDM_4 },
  { name: 'cache_core_ids', leaf: 4, perSubleaf: true, reg: 'eax', lo: 26, hi: 31, meaning: 'Max core IDs in the package, minus 1', doc: SDM_4 },
  { name: 'cache_line_size', leaf: 4, perSubleaf: true, reg: 'ebx', lo: 0, hi: 11, meaning: 'System coherency line size, minus 1', doc: SDM_4 },
  { name: 'cache_partitions', leaf: 4, perSubleaf: true, reg: 'ebx', lo: 12, hi: 21, meaning: 'Physical line partitions, minus 1', doc: SDM_4 },
  { name: 'cache_ways', leaf: 4, perSubleaf: true, reg: 'ebx', lo: 22, hi: 31, meaning: 'Ways of associativity, minus 1', doc: SDM_4 },
  { name: 'cache_sets', leaf: 4, perSubleaf: true, reg: 'ecx', lo: 0, hi: 31, meaning: 'Number of sets, minus 1', doc: SDM_4 },
  { name: 'cache_wbinvd_noinval_lower', leaf: 4, perSubleaf: true, reg: 'edx', lo: 0, hi: 0, meaning: 'WBINVD/INVD may not act on lower caches of sharing threads', doc: SDM_4 },
  { name: 'cache_inclusive', leaf: 4, perSubleaf: true, reg: 'edx', lo: 1, hi: 1, meaning: 'Cache is inclusive of lower levels', doc: SDM_4 },
  { name: 'cache_complex_index', leaf: 4, perSubleaf: true, reg: 'edx', lo: 2, hi: 2, meaning: 'Complex (hashed) indexing', doc: SDM_4 },
  // Leaf 7
  { name: 'max_subleaf_7', leaf: 7, subleaf: 0, reg: 'eax', lo: 0, hi: 31, meaning: 'Highest leaf 07H subleaf', doc: SDM_7 },
  // Leaf 0BH / 1FH: extended topology (per subleaf)
  { name: 'topo_shift', leaf: 0xb, perSubleaf: true, reg: 'eax', lo: 0, hi: 4, meaning: 'Bits to shift the x2APIC ID right to get the next level ID', doc: SDM_B },
  { name: 'topo_logical_count', leaf: 0xb, perSubleaf: true, reg: 'ebx', lo: 0, hi: 15, meaning: 'Logical processors at this level (informational)', doc: SDM_B },
  { name: 'topo_level_number', leaf: 0xb, perSubleaf: true, reg: 'ecx', lo: 0, hi: 7, meaning: 'Level number (= input ECX)', doc: SDM_B },
  { name: 'topo_level_type', leaf: 0xb, perSubleaf: true, reg: 'ecx', lo: 8, hi: 15, meaning: 'Level type: 0 invalid, 1 SMT, 2 core, 3 module, 4 tile, 5 die (1FH)', doc: SDM_B },
  { name: 'topo_x2apic_id', leaf: 0xb, perSubleaf: true, reg: 'edx', lo: 0, hi: 31, meaning: 'x2APIC ID of the current logical processor', doc: SDM_B },
  { name: 'v2topo_shift', leaf: 0x1f, perSubleaf: true, reg: 'eax', lo: 0, hi: 4, meaning: 'As topo_shift, leaf 1FH', doc: SDM_B },
  { name: 'v2topo_logical_count', leaf: 0x1f, perSubleaf: true, reg: 'ebx', lo: 0, hi: 15, meaning: 'As topo_logical_count, leaf 1FH', doc: SDM_B },
  { name: 'v2topo_level_number', leaf: 0x1f, perSubleaf: true, reg: 'ecx', lo: 0, hi: 7, meaning: 'As topo_level_number, leaf 1FH', doc: SDM_B },
  { name: 'v2topo_level_type', leaf: 0x1f, perSubleaf: true, reg: 'ecx', lo: 8, hi: 15, meaning: 'As topo_level_type, leaf 1FH', doc: SDM_B },
  { name: 'v2topo_x2apic_id', leaf: 0x1f, perSubleaf: true, reg: 'edx', lo: 0, hi: 31, meaning: 'As topo_x2apic_id, leaf 1FH', doc: SDM_B },
  // Leaf 0DH
  { name: 'xcr0_supported_lo', leaf: 0xd, subleaf: 0, reg: 'eax', lo: 0, hi: 31, meaning: 'XCR0 bits 31:0 that may be set', doc: SDM_D },
  { name: 'xsave_size_enabled', leaf: 0xd, subleaf: 0, reg: 'ebx', lo: 0, hi: 31, meaning: 'XSAVE area size (standard format) for the current XCR0', doc: SDM_D },
  { name: 'xsave_size_max', leaf: 0xd, subleaf: 0, reg: 'ecx', lo: 0, hi: 31, meaning: 'XSAVE area size (standard format) for every supported XCR0 bit', doc: SDM_D },
  { name: 'xcr0_supported_hi', leaf: 0xd, subleaf: 0, reg: 'edx', lo: 0, hi: 31, meaning: 'XCR0 bits 63:32 that may be set', doc: SDM_D },
  { name: 'xsave_size_compacted', leaf: 0xd, subleaf: 1, reg: 'ebx', lo: 0, hi: 31, meaning: 'XSAVES/XSAVEC area size for the current XCR0 | IA32_XSS', doc: SDM_D },
  { name: 'xss_supported_lo', leaf: 0xd, subleaf: 1, reg: 'ecx', lo: 0, hi: 31, meaning: 'IA32_XSS bits 31:0 that may be set', doc: SDM_D },
  { name: 'xss_supported_hi', leaf: 0xd, subleaf: 1, reg: 'edx', lo: 0, hi: 31, meaning: 'IA32_XSS bits 63:32 that may be set', doc: SDM_D },
  { name: 'xcomp_size', leaf: 0xd, perSubleaf: true, reg: 'eax', lo: 0, hi: 31, meaning: 'Component i (i≥2) save area size in bytes; 0 = not supported', doc: SDM_D },
  { name: 'xcomp_offset', leaf: 0xd, perSubleaf: true, reg: 'ebx', lo: 0, hi: 31, meaning: 'Component i offset in the standard format (0 for supervisor components)', doc: SDM_D },
  { name: 'xcomp_supervisor', leaf: 0xd, perSubleaf: true, reg: 'ecx', lo: 0, hi: 0, meaning: 'Component i is managed by IA32_XSS (supervisor), not XCR0', doc: SDM_D },
  { name: 'xcomp_align64', leaf: 0xd, perSubleaf: true, reg: 'ecx', lo: 1, hi: 1, meaning: 'Component i is 64-byte aligned in the compacted format', doc: SDM_D },
  { name: 'xcomp_xfd', leaf: 0xd, perSubleaf: true, reg: 'ecx', lo: 2, hi: 2, meaning: 'Component i supports extended feature disable (IA32_XFD)', doc: SDM_D },
  // Leaf 14H (Intel PT)
  { name: 'pt_max_subleaf', leaf: 0x14, subleaf: 0, reg: 'eax', lo: 0, hi: 31, meaning: 'Highest leaf 14H subleaf', doc: SDM_14 },
  { name: 'pt_addr_ranges', leaf: 0x14, subleaf: 1, reg: 'eax', lo: 0, hi: 2, meaning: 'Number of configurable address ranges for filtering', doc: SDM_14 },
  { name: 'pt_mtc_periods', leaf: 0x14, subleaf: 1, reg: 'eax', lo: 16, hi: 31, meaning: 'Bitmap of supported MTC period encodings', doc: SDM_14 },
  { name: 'pt_cyc_thresholds', leaf: 0x14, subleaf: 1, reg: 'ebx', lo: 0, hi: 15, meaning: 'Bitmap of supported cycle threshold encodings', doc: SDM_14 },
  { name: 'pt_psb_freqs', leaf: 0x14, subleaf: 1, reg: 'ebx', lo: 16, hi: 31, meaning: 'Bitmap of supported configurable PSB frequency encodings', doc: SDM_14 },
  // Hypervisor leaves (KVM's signature leaf)
  { name: 'hv_max_leaf', leaf: 0x40000000, reg: 'eax', lo: 0, hi: 31, meaning: 'Highest hypervisor leaf (KVM: 0x40000001)', doc: KVM_SIG },
  { name: 'hv_signature_0', leaf: 0x40000000, reg: 'ebx', lo: 0, hi: 31, meaning: 'Hypervisor signature bytes 0-3 ("KVMK")', doc: KVM_SIG },
  { name: 'hv_signature_1', leaf: 0x40000000, reg: 'ecx', lo: 0, hi: 31, meaning: 'Hypervisor signature bytes 4-7 ("VMKV")', doc: KVM_SIG },
  { name: 'hv_signature_2', leaf: 0x40000000, reg: 'edx', lo: 0, hi: 31, meaning: 'Hypervisor signature bytes 8-11 ("M\\0\\0\\0")', doc: KVM_SIG },
  // Extended leaves
  { name: 'max_ext_leaf', leaf: 0x80000000, reg: 'eax', lo: 0, hi: 31, meaning: 'Highest extended leaf', doc: APM_80 },
  { name: 'amd_brand_id', leaf: 0x80000001, reg: 'ebx', lo: 0, hi: 15, meaning: 'AMD brand ID', doc: APM_81 },
  { name: 'amd_pkg_type', leaf: 0x80000001, reg: 'ebx', lo: 28, hi: 31, meaning: 'AMD package type', doc: APM_81 },
  { name: 'brand_0', leaf: 0x80000002, reg: 'eax', lo: 0, hi: 31, meaning: 'Brand string bytes 0-3', doc: APM_BRAND },
  { name: 'brand_1', leaf: 0x80000002, reg: 'ebx', lo: 0, hi: 31, meaning: 'Brand string bytes 4-7', doc: APM_BRAND },
  { name: 'brand_2', leaf: 0x80000002, reg: 'ecx', lo: 0, hi: 31, meaning: 'Brand string bytes 8-11', doc: APM_BRAND },
  { name: 'brand_3', leaf: 0x80000002, reg: 'edx', lo: 0, hi: 31, meaning: 'Brand string bytes 12-15', doc: APM_BRAND },
  { name: 'brand_4', leaf: 0x80000003, reg: 'eax', lo: 0, hi: 31, meaning: 'Brand string bytes 16-19', doc: APM_BRAND },
  { name: 'brand_5', leaf: 0x80000003, reg: 'ebx', lo: 0, hi: 31, meaning: 'Brand string bytes 20-23', doc: APM_BRAND },
  { name: 'brand_6', leaf: 0x80000003, reg: 'ecx', lo: 0, hi: 31, meaning: 'Brand string bytes 24-27', doc: APM_BRAND },
  { name: 'brand_7', leaf: 0x80000003, reg: 'edx', lo: 0, hi: 31, meaning: 'Brand string bytes 28-31', doc: APM_BRAND },
  { name: 'brand_8', leaf: 0x80000004, reg: 'eax', lo: 0, hi: 31, meaning: 'Brand string bytes 32-35', doc: APM_BRAND },
  { name: 'brand_9', leaf: 0x80000004, reg: 'ebx', lo: 0, hi: 31, meaning: 'Brand string bytes 36-39', doc: APM_BRAND },
  { name: 'brand_10', leaf: 0x80000004, reg: 'ecx', lo: 0, hi: 31, meaning: 'Brand string bytes 40-43', doc: APM_BRAND },
  { name: 'brand_11', leaf: 0x80000004, reg: 'edx', lo: 0, hi: 31, meaning: 'Brand string bytes 44-47', doc: APM_BRAND },
  { name: 'phys_addr_bits', leaf: 0x80000008, reg: 'eax', lo: 0, hi: 7, meaning: 'MAXPHYADDR: physical address width', doc: APM_88 },
  { name: 'virt_addr_bits', leaf: 0x80000008, reg: 'eax', lo: 8, hi: 15, meaning: 'Linear address width (48 or 57); KVM accepts 0, 48, 57', doc: APM_88 },
  { name: 'guest_phys_addr_bits', leaf: 0x80000008, reg: 'eax', lo: 16, hi: 23, meaning: 'AMD GuestPhysAddrSize: max guest physical width under NPT; 0 = same as phys_addr_bits', doc: APM_88 },
  { name: 'nc', leaf: 0x80000008, reg: 'ecx', lo: 0, hi: 7, meaning: 'AMD: number of physical threads in the package, minus 1', doc: APM_88 },
  { name: 'apic_id_size', leaf: 0x80000008, reg: 'ecx', lo: 12, hi: 15, meaning: 'AMD: APIC ID bits that identify the thread within the package (0 = legacy, use nc)', doc: APM_88 },
  { name: 'perf_tsc_size', leaf: 0x80000008, reg: 'ecx', lo: 16, hi: 17, meaning: 'AMD: performance TSC size (0 = 40 bits)', doc: APM_88 },
  { name: 'invlpgb_count_max', leaf: 0x80000008, reg: 'edx', lo: 0, hi: 15, meaning: 'AMD: max page count for INVLPGB, minus 1', doc: APM_88 },
  { name: 'rdpru_max_ecx', leaf: 0x80000008, reg: 'edx', lo: 16, hi: 31, meaning: 'AMD: highest ECX value RDPRU accepts', doc: APM_88 },
  { name: 'svm_revision', leaf: 0x8000000a, reg: 'eax', lo: 0, hi: 7, meaning: 'SVM revision number', doc: APM_8A },
  { name: 'svm_nasid', leaf: 0x8000000a, reg: 'ebx', lo: 0, hi: 31, meaning: 'Number of address space identifiers (ASIDs)', doc: APM_8A },
  { name: 'ext_cache_type', leaf: 0x8000001d, perSubleaf: true, reg: 'eax', lo: 0, hi: 4, meaning: 'Cache type: 0 none (end), 1 data, 2 instruction, 3 unified', doc: APM_8D },
  { name: 'ext_cache_level', leaf: 0x8000001d, perSubleaf: true, reg: 'eax', lo: 5, hi: 7, meaning: 'Cache level', doc: APM_8D },
  { name: 'ext_cache_self_init', leaf: 0x8000001d, perSubleaf: true, reg: 'eax', lo: 8, hi: 8, meaning: 'Self-initializing', doc: APM_8D },
  { name: 'ext_cache_fully_assoc', leaf: 0x8000001d, perSubleaf: true, reg: 'eax', lo: 9, hi: 9, meaning: 'Fully associative', doc: APM_8D },
  { name: 'ext_cache_sharing', leaf: 0x8000001d, perSubleaf: true, reg: 'eax', lo: 14, hi: 25, meaning: 'Logical processors sharing this cache, minus 1', doc: APM_8D },
  { name: 'ext_cache_line_size', leaf: 0x8000001d, perSubleaf: true, reg: 'ebx', lo: 0, hi: 11, meaning: 'Line size, minus 1', doc: APM_8D },
  { name: 'ext_cache_partitions', leaf: 0x8000001d, perSubleaf: true, reg: 'ebx', lo: 12, hi: 21, meaning: 'Physical line partitions, minus 1', doc: APM_8D },
  { name: 'ext_cache_ways', leaf: 0x8000001d, perSubleaf: true, reg: 'ebx', lo: 22, hi: 31, meaning: 'Ways, minus 1', doc: APM_8D },
  { name: 'ext_cache_sets', leaf: 0x8000001d, perSubleaf: true, reg: 'ecx', lo: 0, hi: 31, meaning: 'Sets, minus 1', doc: APM_8D },
  { name: 'ext_cache_wbinvd_noinval_lower', leaf: 0x8000001d, perSubleaf: true, reg: 'edx', lo: 0, hi: 0, meaning: 'WBINVD/INVD may not act on lower caches of sharing threads', doc: APM_8D },
  { name: 'ext_cache_inclusive', leaf: 0x8000001d, perSubleaf: true, reg: 'edx', lo: 1, hi: 1, meaning: 'Cache is inclusive of lower levels', doc: APM_8D },
  { name: 'c_bit_position', leaf: 0x8000001f, reg: 'ebx', lo: 0, hi: 5, meaning: 'Page-table bit that marks memory encrypted (C-bit)', doc: APM_8F },
  { name: 'phys_addr_reduction', leaf: 0x8000001f, reg: 'ebx', lo: 6, hi: 11, meaning: 'Physical address bits lost when memory encryption is on', doc: APM_8F },
  { name: 'num_vmpl', leaf: 0x8000001f, reg: 'ebx', lo: 12, hi: 15, meaning: 'Number of VM permission levels', doc: APM_8F },
  { name: 'num_encrypted_guests', leaf: 0x8000001f, reg: 'ecx', lo: 0, hi: 31, meaning: 'Number of simultaneous encrypted guests', doc: APM_8F },
  { name: 'min_sev_no_es_asid', leaf: 0x8000001f, reg: 'edx', lo: 0, hi: 31, meaning: 'Lowest ASID for an SEV guest without SEV-ES', doc: APM_8F },
  { name: 'microcode_patch_size', leaf: 0x80000021, reg: 'ebx', lo: 0, hi: 11, meaning: 'Microcode patch size in 16-byte units (unverified)', doc: APM_821 },
  { name: 'rap_size', leaf: 0x80000021, reg: 'ebx', lo: 16, hi: 23, meaning: 'Return address predictor size (with ERAPS; KVM keeps only these bits)', doc: APM_821 },
] as const satisfies readonly FieldDef[];

export type FieldName = (typeof FIELDS)[number]['name'];

/** Name → row, e.g. `Field.phys_addr_bits`. */
export const Field: { readonly [K in FieldName]: FieldDef & { readonly name: K } } = Object.freeze(
  Object.fromEntries(FIELDS.map((f) => [f.name, f])),
) as { readonly [K in FieldName]: FieldDef & { readonly name: K } };

function fieldDef(f: FieldDef | FieldName): FieldDef {
  if (typeof f !== 'string') return f;
  const d = (Field as Record<string, FieldDef | undefined>)[f];
  if (!d) throw new TsvmmError('CPUID_UNKNOWN_FIELD', `unknown CPUID field ${JSON.stringify(f)}`, { field: f });
  return d;
}

/** Extract bits lo..hi of a 32-bit value (unsigned). */
export function extractBits(value: number, lo: number, hi: number): number {
  const width = hi - lo + 1;
  const v = value >>> lo;
  return width >= 32 ? v >>> 0 : (v & ((1 << width) - 1)) >>> 0;
}

/**
 * Read one field from the table (a missing leaf reads as zero). Fields marked `perSubleaf` need
 * the subleaf; for the others a given subleaf must match the field's own.
 */
export function readField(table: CpuidTable, field: FieldDef | FieldName, subleaf?: number): number {
  const f = fieldDef(field);
  let idx: number;
  if (f.perSubleaf) {
    if (subleaf === undefined || !Number.isInteger(subleaf) || subleaf < 0) {
      throw new TsvmmError('CPUID_BAD_ARGUMENT', `field ${f.name} repeats per subleaf of leaf 0x${f.leaf.toString(16)}: pass a subleaf ≥ 0`);
    }
    idx = subleaf;
  } else {
    idx = f.subleaf ?? 0;
    if (subleaf !== undefined && subleaf !== idx) {
      throw new TsvmmError('CPUID_BAD_ARGUMENT', `field ${f.name} lives in subleaf ${idx}, not ${subleaf}`);
    }
  }
  return extractBits(table.reg(f.leaf, idx, f.reg), f.lo, f.hi);
}

function regsToString(words: readonly number[]): string {
  let s = '';
  for (const w of words) for (let i = 0; i < 4; i++) s += String.fromCharCode((w >>> (8 * i)) & 0xff);
  return s;
}

// ---------------------------------------------------------------------------------------------
// Decoders
// ---------------------------------------------------------------------------------------------

export function maxBasicLeaf(table: CpuidTable): number {
  return table.maxBasicLeaf();
}

/** Highest extended leaf, 0 when absent or not in the 8000_0000H range. */
export function maxExtendedLeaf(table: CpuidTable): number {
  return table.maxExtendedLeaf();
}

export interface FamilyModelStepping {
  /** Display family: base family, plus extended family when base family is 0FH. */
  readonly family: number;
  /** Display model: (extended model << 4) + base model when base family is 6 or 0FH, else base model. */
  readonly model: number;
  readonly stepping: number;
  /** CPUID.1:EAX as read. */
  readonly raw: number;
}

/** Family/model/stepping with the SDM's extended-field rules (SDM Vol.2A Figure 3-6; APM E.3.2). */
export function familyModelStepping(table: CpuidTable): FamilyModelStepping {
  return familyModelSteppingOf(table.reg(1, 0, 'eax'));
}

/** The same rules applied to a raw CPUID.1:EAX value. */
export function familyModelSteppingOf(eax: number): FamilyModelStepping {
  const raw = eax >>> 0;
  const baseFamily = extractBits(raw, 8, 11);
  const baseModel = extractBits(raw, 4, 7);
  const family = baseFamily === 0xf ? baseFamily + extractBits(raw, 20, 27) : baseFamily;
  const model = baseFamily === 0x6 || baseFamily === 0xf ? (extractBits(raw, 16, 19) << 4) + baseModel : baseModel;
  return { family, model, stepping: extractBits(raw, 0, 3), raw };
}

/** The 48-byte processor brand string (leaves 8000_0002H-8000_0004H), NULs and edge spaces removed; '' when absent. */
export function brandString(table: CpuidTable): string {
  if (table.maxExtendedLeaf() < 0x80000004) return '';
  const words: number[] = [];
  for (let leaf = 0x80000002; leaf <= 0x80000004; leaf++) {
    for (const r of ['eax', 'ebx', 'ecx', 'edx'] as const) words.push(table.reg(leaf, 0, r));
  }
  const s = regsToString(words);
  const nul = s.indexOf('\0');
  return (nul < 0 ? s : s.slice(0, nul)).trim();
}

export interface Leaf1Ebx {
  readonly brandIndex: number;
  /** CLFLUSH line size in bytes (field × 8). */
  readonly clflushLineSize: number;
  readonly maxLogicalProcessors: number;
  readonly initialApicId: number;
}

export function leaf1Ebx(table: CpuidTable): Leaf1Ebx {
  const ebx = table.reg(1, 0, 'ebx');
  return {
    brandIndex: extractBits(ebx, 0, 7),
    clflushLineSize: extractBits(ebx, 8, 15) * 8,
    maxLogicalProcessors: extractBits(ebx, 16, 23),
    initialApicId: extractBits(ebx, 24, 31),
  };
}

export type CacheType = 'data' | 'instruction' | 'unified' | 'reserved';

export interface CacheDescriptor {
  readonly subleaf: number;
  readonly type: CacheType;
  readonly level: number;
  readonly selfInitializing: boolean;
  readonly fullyAssociative: boolean;
  /** Logical processors sharing the cache (field + 1). */
  readonly sharingThreads: number;
  readonly lineSize: number;
  readonly partitions: number;
  readonly ways: number;
  readonly sets: number;
  /** ways × partitions × lineSize × sets. */
  readonly sizeBytes: number;
  readonly inclusive: boolean;
}

const CACHE_TYPES: readonly CacheType[] = ['reserved', 'data', 'instruction', 'unified'];
/** Upper bound on subleaves walked, so a malformed table (type never 0) cannot loop forever. */
const MAX_CACHE_SUBLEAVES = 64;

/**
 * Cache descriptors from leaf 4 (Intel) or 8000_001DH (AMD), subleaf 0 upward until a null
 * cache type or a missing subleaf.
 */
export function cacheDescriptors(table: CpuidTable, leaf: 4 | 0x8000001d): CacheDescriptor[] {
  if (leaf !== 4 && leaf !== 0x8000001d) {
    throw new TsvmmError('CPUID_BAD_ARGUMENT', `cache descriptors live in leaf 4 or 0x8000001d, not 0x${Number(leaf).toString(16)}`);
  }
  const out: CacheDescriptor[] = [];
  for (let i = 0; i < MAX_CACHE_SUBLEAVES; i++) {
    const e = table.get(leaf, i);
    if (!e) break;
    const typeCode = extractBits(e.eax, 0, 4);
    if (typeCode === 0) break;
    const lineSize = extractBits(e.ebx, 0, 11) + 1;
    const partitions = extractBits(e.ebx, 12, 21) + 1;
    const ways = extractBits(e.ebx, 22, 31) + 1;
    const sets = (e.ecx >>> 0) + 1;
    out.push({
      subleaf: i,
      type: CACHE_TYPES[typeCode] ?? 'reserved',
      level: extractBits(e.eax, 5, 7),
      selfInitializing: extractBits(e.eax, 8, 8) === 1,
      fullyAssociative: extractBits(e.eax, 9, 9) === 1,
      sharingThreads: extractBits(e.eax, 14, 25) + 1,
      lineSize,
      partitions,
      ways,
      sets,
      sizeBytes: ways * partitions * lineSize * sets,
      inclusive: extractBits(e.edx, 1, 1) === 1,
    });
  }
  return out;
}

export type TopologyLevelType = 'smt' | 'core' | 'module' | 'tile' | 'die' | 'reserved';

export interface TopologyLevel {
  readonly subleaf: number;
  readonly type: TopologyLevelType;
  readonly typeCode: number;
  /** x2APIC ID right-shift to reach the next level's ID. */
  readonly shift: number;
  readonly logicalCount: number;
  readonly x2apicId: number;
}

const TOPO_TYPES: readonly TopologyLevelType[] = ['reserved', 'smt', 'core', 'module', 'tile', 'die'];

/** Topology levels from leaf 0BH or 1FH, until a level of type 0 (invalid) or a missing subleaf. */
export function topologyLevels(table: CpuidTable, leaf: 0xb | 0x1f): TopologyLevel[] {
  if (leaf !== 0xb && leaf !== 0x1f) {
    throw new TsvmmError('CPUID_BAD_ARGUMENT', `topology lives in leaf 0xb or 0x1f, not 0x${Number(leaf).toString(16)}`);
  }
  const out: TopologyLevel[] = [];
  for (let i = 0; i < MAX_CACHE_SUBLEAVES; i++) {
    const e = table.get(leaf, i);
    if (!e) break;
    const typeCode = extractBits(e.ecx, 8, 15);
    if (typeCode === 0) break;
    out.push({
      subleaf: i,
      type: TOPO_TYPES[typeCode] ?? 'reserved',
      typeCode,
      shift: extractBits(e.eax, 0, 4),
      logicalCount: extractBits(e.ebx, 0, 15),
      x2apicId: e.edx >>> 0,
    });
  }
  return out;
}

/** XCR0 bits the processor supports (CPUID.(EAX=0DH,ECX=0) EDX:EAX). */
export function xsaveSupportedXcr0(table: CpuidTable): bigint {
  return (BigInt(table.reg(0xd, 0, 'edx')) << 32n) | BigInt(table.reg(0xd, 0, 'eax'));
}

/** IA32_XSS bits the processor supports (CPUID.(EAX=0DH,ECX=1) EDX:ECX). */
export function xsaveSupportedXss(table: CpuidTable): bigint {
  return (BigInt(table.reg(0xd, 1, 'edx')) << 32n) | BigInt(table.reg(0xd, 1, 'ecx'));
}

export interface XsaveSizes {
  /** 0DH.0:EBX: standard-format size for the XCR0 currently set (KVM reports it for the permitted XCR0). */
  readonly enabled: number;
  /** 0DH.0:ECX: standard-format size for all supported XCR0 bits. */
  readonly max: number;
  /** 0DH.1:EBX: compacted size for XCR0 | XSS (0 without XSAVEC/XSAVES). */
  readonly compacted: number;
}

export function xsaveSizes(table: CpuidTable): XsaveSizes {
  return {
    enabled: table.reg(0xd, 0, 'ebx'),
    max: table.reg(0xd, 0, 'ecx'),
    compacted: table.reg(0xd, 1, 'ebx'),
  };
}

export interface XsaveComponent {
  readonly index: number;
  readonly size: number;
  /** Offset in the standard (non-compacted) format; 0 for supervisor components. */
  readonly offset: number;
  /** Managed by IA32_XSS rather than XCR0. */
  readonly supervisor: boolean;
  readonly align64: boolean;
  readonly xfd: boolean;
}

/**
 * Layout of XSAVE state component `i` (2..63) from CPUID.(EAX=0DH,ECX=i); undefined when the
 * subleaf is missing or reports size 0 (component not supported). Components 0 (x87) and 1 (SSE)
 * live in the fixed legacy region and have no subleaf of their own.
 */
export function xsaveComponent(table: CpuidTable, i: number): XsaveComponent | undefined {
  if (!Number.isInteger(i) || i < 2 || i > 63) {
    throw new TsvmmError('CPUID_BAD_ARGUMENT', `XSAVE component index must be an integer in 2..63, got ${i}`);
  }
  const e = table.get(0xd, i);
  if (!e || e.eax === 0) return undefined;
  return {
    index: i,
    size: e.eax >>> 0,
    offset: e.ebx >>> 0,
    supervisor: (e.ecx & 1) === 1,
    align64: ((e.ecx >>> 1) & 1) === 1,
    xfd: ((e.ecx >>> 2) & 1) === 1,
  };
}

/** MAXPHYADDR: 8000_0008H:EAX[7:0] when the max extended leaf reaches it, else 36 (KVM cpuid_query_maxphyaddr, spec §5.6). */
export function maxPhysAddr(table: CpuidTable): number {
  if (table.maxExtendedLeaf() < 0x80000008) return 36;
  return extractBits(table.reg(0x80000008, 0, 'eax'), 0, 7);
}

/**
 * Linear address width: 8000_0008H:EAX[15:8] when the leaf exists; otherwise 48 if long mode is
 * enumerated, else 32. (A present leaf reporting 0 returns 0, which KVM also accepts.)
 */
export function virtAddrBits(table: CpuidTable): number {
  if (table.maxExtendedLeaf() >= 0x80000008) return extractBits(table.reg(0x80000008, 0, 'eax'), 8, 15);
  return (table.reg(0x80000001, 0, 'edx') >>> 29) & 1 ? 48 : 32;
}

/** AMD GuestPhysAddrSize (8000_0008H:EAX[23:16]); 0 means "same as MAXPHYADDR". 0 when the leaf is absent. */
export function guestPhysAddrBits(table: CpuidTable): number {
  if (table.maxExtendedLeaf() < 0x80000008) return 0;
  return extractBits(table.reg(0x80000008, 0, 'eax'), 16, 23);
}

/** The 12-byte hypervisor signature at leaf 4000_0000H (EBX, ECX, EDX), trailing NULs removed; '' when absent. */
export function hypervisorSignature(table: CpuidTable, base = 0x40000000): string {
  const e = table.get(base, 0);
  if (!e) return '';
  return regsToString([e.ebx, e.ecx, e.edx]).replace(/\0+$/, '');
}

/** Highest hypervisor leaf at `base` (EAX of leaf 4000_0000H); 0 when absent. */
export function hypervisorMaxLeaf(table: CpuidTable, base = 0x40000000): number {
  return table.reg(base, 0, 'eax');
}
