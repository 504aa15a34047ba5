// CR3, the paging-structure base and its control bits: Intel SDM Vol. 3A §4.5 (Tables 4-12/4-13),
// §4.10.4.1 (PCID and the NOFLUSH bit 63), LAM in SDM Vol. 3A §4.4/ISE ch. "Linear Address Masking";
// KVM: shared/spec/kvm-contract.md §2 "CR3 (kvm_set_cr3)" and §8.2.

import { masksByName, type RegisterBit } from './bits.ts';

export const CR3_BITS = [
  { name: 'PWT', bit: 3, doc: 'SDM 3A Table 4-12: page-level write-through (CR4.PCIDE=0 only)' },
  { name: 'PCD', bit: 4, doc: 'SDM 3A Table 4-12: page-level cache disable (CR4.PCIDE=0 only)' },
  { name: 'LAM_U57', bit: 61, requires: 'lam', doc: 'SDM 3A §4.4 (LAM): user pointers masked to 57 bits' },
  { name: 'LAM_U48', bit: 62, requires: 'lam', doc: 'SDM 3A §4.4 (LAM): user pointers masked to 48 bits' },
  {
    name: 'NOFLUSH',
    bit: 63,
    requires: 'pcid',
    doc: "SDM 3A §4.10.4.1: with CR4.PCIDE=1, MOV CR3 keeps the new PCID's TLB entries; never stored",
  },
] as const satisfies readonly RegisterBit[];

export const Cr3 = masksByName(CR3_BITS);

/** Bits 11:0: the PCID when CR4.PCIDE=1 (overlapping PWT/PCD). */
export const CR3_PCID_MASK = 0xfffn;

/** The LAM control bits (kvm_vcpu_is_legal_cr3 ignores them when the guest has LAM). */
export const CR3_LAM_BITS = Cr3.LAM_U57 | Cr3.LAM_U48;

export const CR3_NOTES = [
  'Bits at or above MAXPHYADDR are illegal in every mode (#GP), except LAM_U57/U48 when the guest has LAM and NOFLUSH (bit 63) when CR4.PCIDE=1.',
  'With PAE paging (PG=1, PAE=1, LMA=0) a MOV CR3 reloads the four PDPTEs; an invalid PDPTE → #GP.',
  'A MOV CR3 without NOFLUSH invalidates the non-global TLB entries of the new PCID (PCID 0 when PCIDE=0).',
] as const;
