// CPU vendor identification from the CPUID leaf 0 vendor string (EBX, EDX, ECX).
// Intel SDM Vol. 2A "CPUID—CPU Identification", leaf 0; AMD APM Vol. 3 Appendix E.3.1 (Fn0000_0000).
// The AMD-like grouping follows KVM's is_guest_vendor_amd()/is_guest_vendor_hygon() (arch/x86/kvm/cpuid.h).

import { TsvmmError } from '../../../util/result.ts';
import type { CpuidTable } from './table.ts';
import type { Vendor } from './types.ts';

/** Every 12-byte vendor string we recognise, and the vendor it names. */
export const VENDOR_STRINGS: Readonly<Record<string, Vendor>> = {
  GenuineIntel: 'intel',
  AuthenticAMD: 'amd',
  'AMDisbetter!': 'amd', // early AMD K5 engineering samples; KVM treats it as AMD too
  HygonGenuine: 'hygon',
  CentaurHauls: 'centaur',
  'VIA VIA VIA ': 'centaur',
  '  Shanghai  ': 'zhaoxin',
};

/** The canonical vendor string each vendor reports (what a VMM writes into guest leaf 0). */
export const CANONICAL_VENDOR_STRING: Readonly<Record<Exclude<Vendor, 'unknown'>, string>> = {
  intel: 'GenuineIntel',
  amd: 'AuthenticAMD',
  hygon: 'HygonGenuine',
  centaur: 'CentaurHauls',
  zhaoxin: '  Shanghai  ',
};

/**
 * The vendor of a CPUID table (leaf 0) or of a raw vendor string. Unrecognised strings give
 * 'unknown' (a legal answer: hypervisors and simulators invent vendor strings). A string that is
 * not 12 characters is a caller error.
 */
export function vendorOf(src: CpuidTable | string): Vendor {
  const s = typeof src === 'string' ? src : src.vendorString();
  if (typeof src === 'string' && s.length !== 12) {
    throw new TsvmmError(
      'CPUID_BAD_VENDOR_STRING',
      `a CPUID vendor string is 12 characters (EBX, EDX, ECX of leaf 0), got ${s.length}: ${JSON.stringify(s)}`,
    );
  }
  return VENDOR_STRINGS[s] ?? 'unknown';
}

/**
 * AMD and Hygon share AMD's CPUID conventions: an out-of-range leaf reads as all zeros (Intel
 * returns the highest basic leaf instead, see spec §5.6), PML4E bit 8 is ignored rather than
 * reserved, and 0x80000001:EDX mirrors many 1:EDX bits.
 */
export function isAmdLike(vendor: Vendor): boolean {
  return vendor === 'amd' || vendor === 'hygon';
}
