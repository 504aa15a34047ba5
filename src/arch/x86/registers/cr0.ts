// CR0, the system control flags: Intel SDM Vol. 3A §2.5 "Control Registers" (Figure 2-7); AMD APM
// Vol. 2 §3.1.1 "CR0 Register". KVM's handling: shared/spec/kvm-contract.md §2 (kvm_set_cr0, x86.c).

import { maskOf, masksByName, type RegisterBit } from './bits.ts';

export const CR0_BITS = [
  { name: 'PE', bit: 0, doc: 'SDM 3A §2.5: protection enable' },
  { name: 'MP', bit: 1, doc: 'SDM 3A §2.5: monitor coprocessor' },
  { name: 'EM', bit: 2, doc: 'SDM 3A §2.5: x87 emulation' },
  { name: 'TS', bit: 3, doc: 'SDM 3A §2.5: task switched' },
  { name: 'ET', bit: 4, doc: 'SDM 3A §2.5: extension type, hard-wired to 1 since the i486' },
  { name: 'NE', bit: 5, doc: 'SDM 3A §2.5: numeric error (native x87 error reporting)' },
  { name: 'WP', bit: 16, doc: 'SDM 3A §2.5: supervisor write protect' },
  { name: 'AM', bit: 18, doc: 'SDM 3A §2.5: alignment mask (with RFLAGS.AC at CPL3)' },
  { name: 'NW', bit: 29, doc: 'SDM 3A §2.5: not write-through' },
  { name: 'CD', bit: 30, doc: 'SDM 3A §2.5: cache disable' },
  { name: 'PG', bit: 31, doc: 'SDM 3A §2.5: paging' },
] as const satisfies readonly RegisterBit[];

export type Cr0BitName = (typeof CR0_BITS)[number]['name'];

/** Cr0.PG etc. as bigint masks. */
export const Cr0 = masksByName(CR0_BITS);

/** Bits a MOV to CR0 may hold (KVM's complement of CR0_RESERVED_BITS, kvm_host.h). */
export const CR0_DEFINED_MASK = maskOf(CR0_BITS);

/** Bits 63:32: a set bit makes MOV CR0 #GP (kvm_is_valid_cr0, 64-bit hosts). */
export const CR0_HIGH_RESERVED = 0xffff_ffff_0000_0000n;

/** Undefined bits 31:0: silently dropped by KVM ("writes to CR0 reserved bits are ignored, even on Intel"). */
export const CR0_LOW_IGNORED = 0xffff_ffffn & ~CR0_DEFINED_MASK;

/** CR0 bits that change the paging mode or permission tables (KVM_MMU_CR0_ROLE_BITS, mmu.h). */
export const CR0_MMU_ROLE_BITS = Cr0.PG | Cr0.WP;

/** CR0 bits whose change reloads the PAE PDPTEs (X86_CR0_PDPTR_BITS, kvm_cache_regs.h). */
export const CR0_PDPTR_BITS = Cr0.CD | Cr0.NW | Cr0.PG;

/** CR0 at RESET/INIT: ET|CD|NW = 0x60000010 (SDM 3A Table 10-1). */
export const CR0_RESET = Cr0.ET | Cr0.CD | Cr0.NW;

/** LMSW can load only these bits, and can set PE but not clear it (kvm_lmsw). */
export const CR0_LMSW_BITS = Cr0.PE | Cr0.MP | Cr0.EM | Cr0.TS;

export const CR0_NOTES = [
  'Bits 63:32 set → #GP (kvm_is_valid_cr0). Undefined bits 31:0 are silently dropped, not faulted (kvm_set_cr0), on Intel and AMD alike under KVM.',
  'ET is forced to 1 on every write.',
  'PG=1 with PE=0 and NW=1 with CD=0 are illegal (#GP).',
  'No CR0 bit is gated by CPUID.',
] as const;
