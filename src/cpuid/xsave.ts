// XSAVE state components and area sizes: CPUID leaf 0xD (Intel SDM Vol. 1 §13.2 "Enumeration of
// CPU Support for XSAVE Instructions and XSAVE-Supported Features", Vol. 1 §13.4.3 compacted format;
// AMD APM Vol. 2 §11.5). KVM computes sizes the same way (xstate_required_size in arch/x86/kvm/cpuid.c).

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';

export interface XsaveComponentDef {
  readonly bit: number;
  readonly name: string;
  /** features any one of which makes the component meaningful to a guest */
  readonly features: readonly string[];
  /** supervisor state (IA32_XSS) rather than user state (XCR0) */
  readonly supervisor: boolean;
  /** standard-format size and offset (Intel layout), used when a dump lacks the 0xD subleaf */
  readonly size: number;
  readonly offset: number;
}

/** Legacy area (x87 + SSE, 512 bytes) plus the 64-byte XSAVE header. */
export const XSAVE_LEGACY_AND_HEADER = 576;

export const XSAVE_COMPONENTS: readonly XsaveComponentDef[] = [
  { bit: 2, name: 'AVX (YMM_Hi128)', features: ['avx'], supervisor: false, size: 256, offset: 576 },
  { bit: 3, name: 'MPX BNDREGS', features: ['mpx'], supervisor: false, size: 64, offset: 960 },
  { bit: 4, name: 'MPX BNDCSR', features: ['mpx'], supervisor: false, size: 64, offset: 1024 },
  { bit: 5, name: 'AVX-512 opmask', features: ['avx512f'], supervisor: false, size: 64, offset: 1088 },
  { bit: 6, name: 'AVX-512 ZMM_Hi256', features: ['avx512f'], supervisor: false, size: 512, offset: 1152 },
  { bit: 7, name: 'AVX-512 Hi16_ZMM', features: ['avx512f'], supervisor: false, size: 1024, offset: 1664 },
  { bit: 8, name: 'PT', features: ['intel_pt'], supervisor: true, size: 128, offset: 0 },
  { bit: 9, name: 'PKRU', features: ['pku'], supervisor: false, size: 8, offset: 2688 },
  { bit: 11, name: 'CET_U', features: ['shstk', 'ibt'], supervisor: true, size: 16, offset: 0 },
  { bit: 12, name: 'CET_S', features: ['shstk'], supervisor: true, size: 24, offset: 0 },
  { bit: 17, name: 'AMX XTILECFG', features: ['amx_tile'], supervisor: false, size: 64, offset: 2752 },
  { bit: 18, name: 'AMX XTILEDATA', features: ['amx_tile'], supervisor: false, size: 8192, offset: 2816 },
];

/** XCR0 bits KVM can ever offer (KVM_SUPPORTED_XCR0, spec §4.1): x87, SSE, AVX, MPX, AVX-512, PKRU, AMX. */
export const KVM_SUPPORTED_XCR0 = 0x000602ff;
/** IA32_XSS bits KVM can offer on 6.18+ (CET_U, CET_S; spec §4.2). */
export const KVM_SUPPORTED_XSS = (1 << 11) | (1 << 12);

export interface ComponentGeometry {
  readonly size: number;
  readonly offset: number;
  readonly align64: boolean;
}

/** Size/offset of component `bit` from the table's 0xD subleaf, else the standard layout. */
export function componentGeometry(t: CpuidTable | undefined, bit: number): ComponentGeometry {
  const e = t?.get(0xd, bit);
  if (e && e.eax !== 0) return { size: e.eax, offset: e.ebx, align64: (e.ecx & 2) !== 0 };
  const d = XSAVE_COMPONENTS.find((c) => c.bit === bit);
  return { size: d?.size ?? 0, offset: d?.offset ?? 0, align64: false };
}

/** Standard-format XSAVE area size for the user components in `xcr0`. */
export function standardSize(t: CpuidTable | undefined, xcr0: number): number {
  let size = XSAVE_LEGACY_AND_HEADER;
  for (let bit = 2; bit < 32; bit++) {
    if (!((xcr0 >>> bit) & 1)) continue;
    const g = componentGeometry(t, bit);
    if (g.offset) size = Math.max(size, g.offset + g.size);
  }
  return size;
}

/** Compacted-format (XSAVEC/XSAVES) size for the components in `mask` (XCR0 | XSS). */
export function compactedSize(t: CpuidTable | undefined, mask: number): number {
  let size = XSAVE_LEGACY_AND_HEADER;
  for (let bit = 2; bit < 32; bit++) {
    if (!((mask >>> bit) & 1)) continue;
    const g = componentGeometry(t, bit);
    if (g.align64) size = (size + 63) & ~63;
    size += g.size;
  }
  return size;
}
