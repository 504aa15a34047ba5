// The MMU's public vocabulary: guest-physical memory as the walker sees it, access-kind flags,
// the paging control state and the result of a translation. Intel SDM Vol. 3A ch. 4 "Paging"
// (§4.1.3 paging-mode modifiers, §4.6 access rights, §4.7 page-fault exceptions); AMD APM Vol. 2
// ch. 5; the KVM rules in shared/spec/kvm-contract.md §8.

import { TsvmmError } from '../util/result.ts';

/**
 * Guest physical memory for page-table reads and A/D writes. `pa` is a non-negative JS number
 * below 2^52, 4-byte aligned for paging entries. Reads of unbacked addresses return 0xFFFFFFFF
 * (or -1: the walker only looks at bits).
 */
export interface PhysMem {
  readU32(pa: number): number;
  writeU32(pa: number, v: number): void;
}

// ---- access kinds (int flags; one number per access, no objects) ----------------------------

/** a data read (no flag set) */
export const ACC_READ = 0;
/** the access writes (PFEC.W) */
export const ACC_WRITE = 1;
/** a user-mode access: CPL=3 and not an implicit supervisor access (PFEC.U) */
export const ACC_USER = 2;
/** an instruction fetch (PFEC.I/D when NXE or SMEP) */
export const ACC_FETCH = 4;
/** an implicit supervisor access: GDT/LDT/IDT/TSS reads, delivery-time stack pushes (SDM 3A §4.6:
 *  "implicit supervisor-mode access"); RFLAGS.AC never overrides SMAP/LASS for these */
export const ACC_IMPLICIT = 8;
/** a CET shadow-stack access (PFEC.SS; SDM 3A §4.6.1): never cached in the TLB */
export const ACC_SHADOW_STACK = 16;
/** the reference uses SS: non-canonical and LASS violations raise #SS(0) instead of #GP(0) */
export const ACC_STACK = 32;

/** Build the access flags for a data access at `cpl` (implicit accesses are never user-mode). */
export function dataAccess(cpl: number, write: boolean, implicit = false): number {
  return (write ? ACC_WRITE : 0) | (cpl === 3 && !implicit ? ACC_USER : 0) | (implicit ? ACC_IMPLICIT : 0);
}

/** Access flags for an instruction fetch at `cpl`. */
export function fetchAccess(cpl: number): number {
  return ACC_FETCH | (cpl === 3 ? ACC_USER : 0);
}

/** "read" | "write|user|stack" … for traces and the CLI. */
export function formatAccess(access: number): string {
  const p: string[] = [];
  p.push(access & ACC_FETCH ? 'fetch' : access & ACC_WRITE ? 'write' : 'read');
  if (access & ACC_USER) p.push('user');
  else p.push('supervisor');
  if (access & ACC_IMPLICIT) p.push('implicit');
  if (access & ACC_SHADOW_STACK) p.push('shadow-stack');
  if (access & ACC_STACK) p.push('stack');
  return p.join('|');
}

// ---- page-fault error code (SDM 3A §4.7, Figure 4-12; spec §8.4) ------------------------------

export const PFEC = {
  P: 1 << 0,
  W: 1 << 1,
  U: 1 << 2,
  RSVD: 1 << 3,
  ID: 1 << 4,
  PK: 1 << 5,
  SS: 1 << 6,
} as const;

export function formatPfec(ec: number): string {
  const p: string[] = [];
  for (const [k, v] of Object.entries(PFEC)) if (ec & v) p.push(k);
  return p.length ? p.join('|') : '0';
}

// ---- paging control state --------------------------------------------------------------------

/**
 * Everything a translation depends on besides memory, as plain numbers (no bigint). 64-bit
 * registers whose upper half never matters to paging (CR0, CR4 up to bit 31, EFER) are given as
 * their low 32 bits. Built from the guest model by the caller (the MMU does not depend on the
 * contract layer). Fields that are derived from these (paging mode, NX, LA57, LASS, PKE
 * effectiveness) are computed by the MMU.
 */
export interface PagingState {
  /** CR0 bits 31:0 (PG, WP matter) */
  readonly cr0: number;
  /** CR3 bits 31:0 (PCID in 11:0 when CR4.PCIDE=1) */
  readonly cr3Lo: number;
  /** CR3 bits 63:32 (NOFLUSH bit 63 is never stored: strip it; LAM bits 62:61 are ignored) */
  readonly cr3Hi: number;
  /** CR4 bits 31:0 (PSE, PAE, PGE, LA57, PCIDE, SMEP, SMAP, PKE, LASS matter) */
  readonly cr4: number;
  /** IA32_EFER bits 31:0 (LMA, NXE matter) */
  readonly efer: number;
  /** RFLAGS.AC (SMAP/LASS override for explicit supervisor data accesses) */
  readonly ac: boolean;
  /** current privilege level; informative (the access flags carry ACC_USER) */
  readonly cpl: number;
  /** PKRU (2 bits per key: AD = bit 2k, WD = bit 2k+1) */
  readonly pkru: number;
  /** the 4 PAE PDPTE registers as lo,hi pairs (8 numbers), as loaded by the last MOV CR0/CR3/CR4;
   *  undefined = read them from memory at CR3 (the CLI's case) */
  readonly pdptes?: ArrayLike<number> | undefined;
  /** guest MAXPHYADDR, CPUID 0x80000008:EAX[7:0] (36 when the leaf is absent) */
  readonly maxPhyAddr: number;
  /** guest has 1-GiB pages (CPUID 0x80000001:EDX[26]); else PS in a PDPTE is reserved */
  readonly gbpages: boolean;
  /** AMD-compatible guest: bit 8 of PML4Es/PML5Es is reserved (KVM nonleaf_bit8_rsvd) */
  readonly vendorAmd: boolean;
}

export const DEFAULT_PAGING_STATE: PagingState = {
  cr0: 0,
  cr3Lo: 0,
  cr3Hi: 0,
  cr4: 0,
  efer: 0,
  ac: false,
  cpl: 0,
  pkru: 0,
  pdptes: undefined,
  maxPhyAddr: 36,
  gbpages: true,
  vendorAmd: false,
};

/** A full state from a partial one (defaults: paging off, MAXPHYADDR 36, 1-GiB pages, Intel). */
export function pagingState(p: Partial<PagingState>): PagingState {
  return { ...DEFAULT_PAGING_STATE, ...p };
}

/** Throw a TsvmmError('MMU_BAD_STATE') naming the first malformed field of a paging state. */
export function checkPagingState(s: PagingState): void {
  const bad = (msg: string): never => {
    throw new TsvmmError('MMU_BAD_STATE', `paging state: ${msg}`);
  };
  for (const k of ['cr0', 'cr3Lo', 'cr3Hi', 'cr4', 'efer', 'pkru'] as const) {
    const v = s[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < -0x80000000 || v > 0xffffffff) bad(`${k} must be a 32-bit integer, got ${String(v)}`);
  }
  if (!Number.isInteger(s.maxPhyAddr) || s.maxPhyAddr < 32 || s.maxPhyAddr > 52) bad(`maxPhyAddr must be an integer 32..52, got ${String(s.maxPhyAddr)}`);
  if (!Number.isInteger(s.cpl) || s.cpl < 0 || s.cpl > 3) bad(`cpl must be 0..3, got ${String(s.cpl)}`);
  if (s.pdptes !== undefined && s.pdptes.length !== 8) bad(`pdptes must hold 8 numbers (4 lo/hi pairs), got ${s.pdptes.length}`);
}

/** The paging mode (SDM 3A §4.1.1 Table 4-1; kvm_calc_cpu_role). */
export type PagingMode = 'none' | '32bit' | 'pae' | '4level' | '5level';

// ---- translation result (the pure function's answer; allocation is fine here) ----------------

export type EntryName = 'PML5E' | 'PML4E' | 'PDPTE' | 'PDE' | 'PTE';

/** One paging-structure entry the walk read. */
export interface WalkLevel {
  readonly name: EntryName;
  /** 5..1 (PML5E=5 … PTE=1) */
  readonly level: number;
  /** physical address of the entry (for PAE PDPTEs: where it was loaded from) */
  readonly entryAddress: number;
  /** entry value as read (before any A/D update), low/high halves (high = 0 for 32-bit entries) */
  readonly lo: number;
  readonly hi: number;
  readonly present: boolean;
  /** this entry maps the page (PS=1 or a PTE) */
  readonly leaf: boolean;
  /** reserved bit positions set in the entry (empty when none) */
  readonly reservedBits: readonly number[];
  /** rights accumulated down to and including this level */
  readonly user: boolean;
  readonly writable: boolean;
  readonly executeDisable: boolean;
}

export interface EffectiveRights {
  readonly user: boolean;
  readonly writable: boolean;
  /** XD (ORed over the levels; false when EFER.NXE=0) */
  readonly executeDisable: boolean;
  /** protection key (leaf bits 62:59) when PKU is in effect, else 0 */
  readonly pkey: number;
  readonly global: boolean;
  readonly dirty: boolean;
}

export interface TranslateOk {
  readonly ok: true;
  readonly mode: PagingMode;
  readonly physical: number;
  /** 4096, 2 MiB, 4 MiB or 1 GiB (0 when paging is off) */
  readonly pageSize: number;
  readonly levels: readonly WalkLevel[];
  readonly rights: EffectiveRights;
  /** entries whose A or D bit the walk set, as "PDE.A" style strings */
  readonly adUpdates: readonly string[];
}

export interface TranslateFault {
  readonly ok: false;
  readonly mode: PagingMode;
  /** 14 #PF, 13 #GP, 12 #SS */
  readonly vector: number;
  readonly errorCode: number;
  /** the faulting linear address (CR2 for #PF) */
  readonly cr2Lo: number;
  readonly cr2Hi: number;
  /** why, in the manual's terms */
  readonly reason: string;
  /** the entries read before the fault (empty for canonical/LASS faults) */
  readonly levels: readonly WalkLevel[];
  /** rights down to the faulting level (for permission faults) */
  readonly rights?: EffectiveRights | undefined;
}

export type TranslateResult = TranslateOk | TranslateFault;

// ---- TLB flush kinds (spec §1.4, §2; SDM 3A §4.10.4) ------------------------------------------

/** 'all' = every PCID incl. global; 'current' = current PCID's non-global entries;
 *  'nonglobal' = every PCID's non-global entries */
export type FlushKind = 'all' | 'current' | 'nonglobal';

// ---- UMIP (SDM 3A §2.5 CR4.UMIP; spec §8.9) --------------------------------------------------

/** CR4.UMIP is bit 11. */
const CR4_UMIP = 1 << 11;

/** True when SGDT/SIDT/SLDT/SMSW/STR must raise #GP(0): CR4.UMIP=1 and CPL>0. */
export function umipFault(cr4: number, cpl: number): boolean {
  return (cr4 & CR4_UMIP) !== 0 && cpl > 0;
}
