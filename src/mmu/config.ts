// The walker's configuration, folded from the paging control state: paging mode (SDM 3A §4.1.1
// Table 4-1; kvm_calc_cpu_role, spec §8.1), reserved-bit masks per level and MAXPHYADDR (SDM 3A
// §4.3-4.5 Tables 4-4..4-20; spec §8.2, __reset_rsvds_bits_mask), and the permission bitmaps
// (SDM 3A §4.6; spec §8.3, update_permission_bitmask / update_pkru_bitmask). Rebuilt only when
// the bits that feed it change; the walk and the TLB read it as plain numbers.

import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { Cr4 } from '../arch/x86/registers/cr4.ts';
import { Efer } from '../arch/x86/registers/efer.ts';
import type { PagingMode, PagingState } from './types.ts';

// Number forms of the register bits the MMU reads (all below bit 32).
export const CR0_WP = Number(Cr0.WP);
export const CR0_PG = Number(Cr0.PG) | 0;
export const CR4_PSE = Number(Cr4.PSE);
export const CR4_PAE = Number(Cr4.PAE);
export const CR4_PGE = Number(Cr4.PGE);
export const CR4_LA57 = Number(Cr4.LA57);
export const CR4_PCIDE = Number(Cr4.PCIDE);
export const CR4_SMEP = Number(Cr4.SMEP);
export const CR4_SMAP = Number(Cr4.SMAP);
export const CR4_PKE = Number(Cr4.PKE);
export const CR4_LASS = Number(Cr4.LASS);
export const EFER_LMA = Number(Efer.LMA);
export const EFER_NXE = Number(Efer.NXE);

/** Numeric paging-mode ids used on the hot path. */
export const MODE_NONE = 0;
export const MODE_32 = 1;
export const MODE_PAE = 2;
export const MODE_4L = 3;
export const MODE_5L = 4;
export const MODE_NAMES: readonly PagingMode[] = ['none', '32bit', 'pae', '4level', '5level'];

/** Effective-rights bits of a translation, the column index of the permission bitmap (like
 *  KVM's ACC_EXEC_MASK/ACC_WRITE_MASK/ACC_USER_MASK). */
export const R_USER = 1;
export const R_WRITE = 2;
export const R_EXEC = 4;

/**
 * TLB access-kind index, 5 bits (a bit position in a 32-bit allow mask):
 *
 *    4    3    2    1    0
 *  ┌────┬────┬────┬────┬────┐
 *  │ AC │ I  │ F  │ U  │ W  │   W = ACC_WRITE, U = ACC_USER, F = ACC_FETCH, I = ACC_IMPLICIT,
 *  └────┴────┴────┴────┴────┘   AC = RFLAGS.AC at the time of the access
 *
 * The low 4 bits are the access flags themselves (types.ts), so kind = (access & 15) | acBit.
 */
export const KIND_AC = 16;
/** the allow-mask bits of every write kind (W set) */
export const WRITE_KINDS = (() => {
  let m = 0;
  for (let k = 0; k < 32; k++) if (k & 1) m |= 1 << k;
  return m;
})();

/** Bits [lo, hi] of a 64-bit value as (loMask, hiMask) int32 halves, written into out[0..1]. */
function range64(lo: number, hi: number, out: Int32Array, at: number): void {
  for (let b = lo; b <= hi; b++) {
    if (b < 32) out[at] |= 1 << b;
    else out[at + 1] |= 1 << (b - 32);
  }
}

/** Index into the reserved-mask arrays: (level * 2 + ps) * 2 → lo, +1 → hi. */
export function rsvdIndex(level: number, ps: number): number {
  return (level * 2 + ps) * 2;
}

export class PagingConfig {
  mode = MODE_NONE;
  lma = false;
  nxe = false;
  wp = false;
  pse = false;
  pge = false;
  pcide = false;
  smep = false;
  smap = false;
  /** CR4.PKE ∧ LMA */
  pke = false;
  /** CR4.LASS ∧ LMA */
  lass = false;
  /** canonical width: 48 or 57 in long mode */
  vaBits = 48;
  maxPhyAddr = 36;
  gbpages = true;
  vendorAmd = false;
  pkru = 0;

  /** reserved-bit masks, lo/hi pairs indexed by rsvdIndex(level, ps) (levels 1..5) */
  readonly rsvd = new Int32Array(24);
  /** PAE PDPTE reserved bits (checked at load), lo/hi */
  readonly pdpteRsvd = new Int32Array(2);
  /** permission bitmap like KVM's mmu->permissions: index = W|U<<1|F<<2|smapOverride<<3 (the
   *  access flags' low 3 bits plus "RFLAGS.AC overrides SMAP"); bit r set = fault for rights r */
  readonly perms = new Uint8Array(16);
  /** TLB: per effective rights r (R_USER|R_WRITE|R_EXEC), the 32-bit mask of access kinds allowed */
  readonly allowByRights = new Int32Array(8);
  /** TLB: LASS allow masks for the user half [0] and the supervisor half [1] of the address space */
  readonly lassAllow = new Int32Array(2);
  /** TLB: per protection key, the access kinds PKRU denies on a user page */
  readonly pkuDeny = new Int32Array(16);

  constructor(s?: PagingState) {
    if (s) this.update(s);
  }

  /** Refold everything from `s`. Returns true when anything the cached translations depend on
   *  (mode, rights tables, reserved masks) changed. */
  update(s: PagingState): boolean {
    const pg = (s.cr0 & CR0_PG) !== 0;
    this.lma = pg && (s.efer & EFER_LMA) !== 0;
    const pae = (s.cr4 & CR4_PAE) !== 0;
    this.mode = !pg
      ? MODE_NONE
      : this.lma
        ? s.cr4 & CR4_LA57
          ? MODE_5L
          : MODE_4L
        : pae
          ? MODE_PAE
          : MODE_32;
    this.nxe = (s.efer & EFER_NXE) !== 0 && (this.mode === MODE_PAE || this.lma);
    this.wp = (s.cr0 & CR0_WP) !== 0;
    this.pse = (s.cr4 & CR4_PSE) !== 0;
    this.pge = (s.cr4 & CR4_PGE) !== 0;
    this.pcide = this.lma && (s.cr4 & CR4_PCIDE) !== 0;
    this.smep = (s.cr4 & CR4_SMEP) !== 0;
    this.smap = (s.cr4 & CR4_SMAP) !== 0;
    this.pke = this.lma && (s.cr4 & CR4_PKE) !== 0;
    this.lass = this.lma && (s.cr4 & CR4_LASS) !== 0;
    this.vaBits = this.mode === MODE_5L ? 57 : 48;
    this.maxPhyAddr = Math.max(32, Math.min(52, s.maxPhyAddr | 0));
    this.gbpages = s.gbpages;
    this.vendorAmd = s.vendorAmd;
    const pkru = s.pkru | 0;
    const sig = this.signature();
    if (sig === this.builtFor) {
      // nothing the tables depend on changed (KVM rebuilds only on the role bits too)
      this.setPkru(pkru);
      return false;
    }
    this.builtFor = sig;
    this.pkru = pkru;
    this.buildReserved();
    this.buildPermissions();
    this.buildPku();
    return true;
  }

  /** the signature the tables were last built for */
  private builtFor = '';

  /** Set PKRU only (WRPKRU/XRSTOR): rebuilds the key masks. Returns true when it changed. */
  setPkru(pkru: number): boolean {
    if ((pkru | 0) === this.pkru) return false;
    this.pkru = pkru | 0;
    this.buildPku();
    return true;
  }

  private signature(): string {
    return [
      this.mode,
      this.nxe,
      this.wp,
      this.pse,
      this.pge,
      this.smep,
      this.smap,
      this.pke,
      this.lass,
      this.maxPhyAddr,
      this.gbpages,
      this.vendorAmd,
    ].join();
  }

  // ---- reserved bits (spec §8.2) ----------------------------------------------------------

  private buildReserved(): void {
    const r = this.rsvd;
    r.fill(0);
    this.pdpteRsvd.fill(0);
    const m = this.maxPhyAddr;
    const tmp = new Int32Array(2);
    // high(M): bits M..51 for 4/5-level, M..62 for PAE (reserved_gpa_bits masked to the format)
    const high = (top: number): [number, number] => {
      tmp.fill(0);
      if (m <= top) range64(m, top, tmp, 0);
      return [tmp[0]!, tmp[1]!];
    };
    const set = (level: number, ps: number, lo: number, hi: number): void => {
      r[rsvdIndex(level, ps)] = lo;
      r[rsvdIndex(level, ps) + 1] = hi;
    };
    const nxHi = this.nxe ? 0 : 1 << 31;
    const bits = (a: number, b: number): number => {
      tmp.fill(0);
      range64(a, b, tmp, 0);
      return tmp[0]!;
    };
    {
      // PAE PDPTE register load (whatever the current mode: the load happens while entering PAE):
      // bit 63, high(M) = M..62, bits 8:5 and 2:1 (pdptr_rsvd_bits)
      const [hLo, hHi] = high(62);
      this.pdpteRsvd[0] = hLo | bits(5, 8) | bits(1, 2);
      this.pdpteRsvd[1] = hHi | (1 << 31);
    }
    switch (this.mode) {
      case MODE_32:
        // 4-KiB PDE/PTE: none. 4-MiB PDE (only when CR4.PSE=1): bits 21:17 (PSE-36 as KVM assumes:
        // bits 16:13 carry PA[35:32]).
        if (this.pse) set(2, 1, bits(17, 21), 0);
        break;
      case MODE_PAE: {
        const [hLo, hHi] = high(62);
        set(1, 0, hLo, hHi | nxHi);
        set(2, 0, hLo, hHi | nxHi);
        set(2, 1, hLo | bits(13, 20), hHi | nxHi);
        break;
      }
      case MODE_4L:
      case MODE_5L: {
        const [hLo, hHi] = high(51);
        const hi = hHi | nxHi;
        set(1, 0, hLo, hi);
        set(2, 0, hLo, hi);
        set(2, 1, hLo | bits(13, 20), hi);
        set(3, 0, hLo, hi);
        set(3, 1, this.gbpages ? hLo | bits(13, 29) : hLo | 0x80, hi);
        // PML4E/PML5E: PS (bit 7) always, bit 8 on AMD-compatible guests (nonleaf_bit8_rsvd)
        const top = hLo | 0x80 | (this.vendorAmd ? 0x100 : 0);
        for (const lvl of [4, 5]) {
          set(lvl, 0, top, hi);
          set(lvl, 1, top, hi);
        }
        break;
      }
      default:
        break;
    }
  }

  // ---- permissions (spec §8.3) ------------------------------------------------------------

  private buildPermissions(): void {
    for (let pi = 0; pi < 16; pi++) {
      const w = (pi & 1) !== 0;
      const u = (pi & 2) !== 0;
      const f = (pi & 4) !== 0;
      const override = (pi & 8) !== 0;
      let map = 0;
      for (let r = 0; r < 8; r++) {
        const pu = (r & R_USER) !== 0;
        const pw = (r & R_WRITE) !== 0;
        const px = (r & R_EXEC) !== 0;
        const uf = u && !pu;
        const wf = w && !pw && (u || this.wp);
        const ff = f && !px;
        const smepf = this.smep && f && !u && pu;
        const smapf = this.smap && !f && !u && pu && !override;
        if (uf || wf || ff || smepf || smapf) map |= 1 << r;
      }
      this.perms[pi] = map;
    }
    for (let r = 0; r < 8; r++) {
      let allow = 0;
      for (let k = 0; k < 32; k++) if (((this.perms[permIndex(k & 15, (k & KIND_AC) !== 0)]! >> r) & 1) === 0) allow |= 1 << k;
      this.allowByRights[r] = allow;
    }
    for (let half = 0; half < 2; half++) {
      let allow = 0;
      for (let k = 0; k < 32; k++) if (!lassViolation(this.lass, this.smap, k & 15, (k & KIND_AC) !== 0, half === 1)) allow |= 1 << k;
      this.lassAllow[half] = allow;
    }
  }

  private buildPku(): void {
    for (let key = 0; key < 16; key++) {
      let deny = 0;
      if (this.pke) for (let k = 0; k < 32; k++) if (this.pkuFault(key, k & 15)) deny |= 1 << k;
      this.pkuDeny[key] = deny;
    }
  }

  /** PKRU check for a data access to a user page (caller ensures PKE is in effect). */
  pkuFault(key: number, access: number): boolean {
    if (!this.pke || access & 4) return false;
    const ad = (this.pkru >>> (2 * key)) & 1;
    const wd = (this.pkru >>> (2 * key + 1)) & 1;
    return ad !== 0 || (wd !== 0 && (access & 1) !== 0 && ((access & 2) !== 0 || this.wp));
  }
}

/** Index into PagingConfig.perms for the access flags (low 4 bits used) and RFLAGS.AC. The SMAP
 *  override needs AC=1, an explicit access, and supervisor mode. */
export function permIndex(access: number, ac: boolean): number {
  const override = ac && (access & 8) === 0 && (access & 2) === 0 ? 8 : 0;
  return (access & 7) | override;
}

/**
 * LASS (spec §8.6): is an access of this kind to this half a violation? `access` carries
 * W/U/F/I flags; `supervisorHalf` = linear address bit 63.
 */
export function lassViolation(active: boolean, smap: boolean, access: number, ac: boolean, supervisorHalf: boolean): boolean {
  if (!active) return false;
  if (access & 2) return supervisorHalf; // user-mode access to the supervisor half
  if (access & 4) return !supervisorHalf; // supervisor fetch from the user half
  if (!smap) return false; // supervisor data accesses are enforced only with CR4.SMAP=1
  if (ac && (access & 8) === 0) return false; // explicit access, RFLAGS.AC=1
  return !supervisorHalf;
}
