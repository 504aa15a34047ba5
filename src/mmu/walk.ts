// The page walk: linear → physical through 32-bit (PSE, PSE-36), PAE, 4-level and 5-level paging
// structures, with reserved-bit checks, the permission check, protection keys and the accessed/
// dirty updates. Intel SDM Vol. 3A §4.3 (32-bit), §4.4 (PAE), §4.5 (4/5-level), §4.6 (access
// rights), §4.6.2 (protection keys), §4.7 (page-fault error code), §4.8 (A/D flags); AMD APM
// Vol. 2 §5.3-5.6; spec §8.2-8.4. The canonical and LASS checks that precede the walk are here too.
//
// One implementation serves both callers: the Mmu's miss path (no allocation: results go into a
// reused WalkOut) and the pure translate() (which also passes a trace array to record the levels).

import {
  MODE_32,
  MODE_4L,
  MODE_5L,
  MODE_PAE,
  R_EXEC,
  R_USER,
  R_WRITE,
  lassViolation,
  permIndex,
  rsvdIndex,
  type PagingConfig,
} from './config.ts';
import { ACC_FETCH, ACC_SHADOW_STACK, ACC_STACK, ACC_USER, ACC_WRITE, PFEC, type PhysMem } from './types.ts';

const TWO32 = 4294967296;

/** Why a translation failed (codes; the text is built only on the fault path). */
export const Why = {
  NONE: 0,
  NONCANONICAL: 1,
  LASS: 2,
  NOT_PRESENT: 3,
  RSVD: 4,
  USER: 5,
  WRITE: 6,
  XD: 7,
  SMEP: 8,
  SMAP: 9,
  PK: 10,
  SHADOW_STACK: 11,
} as const;

/** Result of one walk, reused (no allocation on the Mmu path). */
export class WalkOut {
  /** physical address of the access (valid when vector < 0) */
  physical = 0;
  /** log2 of the page size (12, 21, 22, 30) */
  pageShift = 12;
  /** effective rights R_USER|R_WRITE|R_EXEC */
  rights = 0;
  pkey = 0;
  global = false;
  /** the leaf's D bit after the walk's updates */
  dirty = false;
  /** -1 = success, else 14/13/12 */
  vector = -1;
  errorCode = 0;
  why: number = Why.NONE;
  /** level (5..1) of the entry that failed, 0 for pre-walk checks */
  faultLevel = 0;
  /** A/D bits the walk set, as (level << 1 | isDirty) codes, count in adCount */
  readonly ad = new Int32Array(10);
  adCount = 0;
}

/** One recorded level (the pure path only). */
export interface TraceLevel {
  level: number;
  entryAddress: number;
  lo: number;
  hi: number;
  present: boolean;
  leaf: boolean;
  rsvdLo: number;
  rsvdHi: number;
  rights: number;
}

/**
 * Canonical check (spec §8.1): in long mode bits 63:(vaBits-1) must all equal. Only the high half
 * matters (vaBits ≥ 48). Outside long mode every address passes.
 */
export function isCanonical(cfg: PagingConfig, linHi: number): boolean {
  if (!cfg.lma) return true;
  const sh = 64 - cfg.vaBits; // 16 or 7 within the high half
  return (linHi << sh) >> sh === (linHi | 0);
}

/** The pre-walk checks (canonical, LASS) for one byte address; sets out.vector on failure. */
export function checkLinear(cfg: PagingConfig, linHi: number, access: number, ac: boolean, out: WalkOut): boolean {
  if (!cfg.lma) return true;
  if (!isCanonical(cfg, linHi)) return preFault(out, access, Why.NONCANONICAL);
  if (cfg.lass && lassViolation(true, cfg.smap, access & 15, ac, linHi < 0)) return preFault(out, access, Why.LASS);
  return true;
}

function preFault(out: WalkOut, access: number, why: number): false {
  out.vector = access & ACC_STACK ? 12 : 13;
  out.errorCode = 0;
  out.why = why;
  out.faultLevel = 0;
  return false;
}

function pfecBase(cfg: PagingConfig, access: number): number {
  let ec = 0;
  if (access & ACC_WRITE) ec |= PFEC.W;
  if (access & ACC_USER) ec |= PFEC.U;
  if (access & ACC_FETCH && (cfg.nxe || cfg.smep)) ec |= PFEC.ID;
  if (access & ACC_SHADOW_STACK) ec |= PFEC.SS;
  return ec;
}

function pageFault(cfg: PagingConfig, out: WalkOut, access: number, extra: number, why: number, level: number): false {
  out.vector = 14;
  out.errorCode = pfecBase(cfg, access) | extra;
  out.why = why;
  out.faultLevel = level;
  return false;
}

// Entry addresses and low words of the entries traversed (for the A/D pass), per walk.
const walkAddr = new Float64Array(6);
const walkLo = new Int32Array(6);
const walkLevel = new Int32Array(6);

/**
 * Walk the paging structures for one linear address. Precondition: paging is on and the pre-walk
 * checks passed. `pdptes` are the PAE PDPTE registers (8 numbers, lo/hi pairs). On success
 * fills out.physical etc. and returns true; on a fault fills out.vector/errorCode/why and
 * returns false, with no A/D update. `trace`, when given, receives every entry read.
 */
export function walk(
  cfg: PagingConfig,
  mem: PhysMem,
  cr3Lo: number,
  cr3Hi: number,
  pdptes: ArrayLike<number>,
  linLo: number,
  linHi: number,
  access: number,
  ac: boolean,
  out: WalkOut,
  trace: TraceLevel[] | null,
): boolean {
  out.vector = -1;
  out.why = Why.NONE;
  out.adCount = 0;
  const mode = cfg.mode;
  const wide = mode !== MODE_32;
  let level: number;
  let tableBase: number; // physical address of the current table
  if (mode === MODE_5L || mode === MODE_4L) {
    level = mode === MODE_5L ? 5 : 4;
    tableBase = (cr3Hi & 0xfffff) * TWO32 + ((cr3Lo & 0xfffff000) >>> 0);
  } else if (mode === MODE_PAE) {
    level = 3;
    tableBase = (cr3Lo & 0xffffffe0) >>> 0;
  } else if (mode === MODE_32) {
    level = 2;
    tableBase = (cr3Lo & 0xfffff000) >>> 0;
  } else {
    out.physical = linLo >>> 0;
    out.pageShift = 12;
    out.rights = R_USER | R_WRITE | R_EXEC;
    return true;
  }
  let user = 1;
  let writable = 1;
  let xd = 0;
  let n = 0;
  let lo = 0;
  let hi = 0;
  let shift = 12;
  for (;;) {
    let entryAddr: number;
    let idx: number;
    if (!wide) {
      idx = level === 2 ? linLo >>> 22 : (linLo >>> 12) & 0x3ff;
      entryAddr = tableBase + idx * 4;
      lo = mem.readU32(entryAddr) | 0;
      hi = 0;
    } else if (mode === MODE_PAE && level === 3) {
      idx = linLo >>> 30;
      entryAddr = tableBase + idx * 8;
      lo = pdptes[idx * 2]! | 0;
      hi = pdptes[idx * 2 + 1]! | 0;
    } else {
      switch (level) {
        case 5:
          idx = (linHi >>> 16) & 0x1ff;
          break;
        case 4:
          idx = (linHi >>> 7) & 0x1ff;
          break;
        case 3:
          idx = mode === MODE_PAE ? linLo >>> 30 : ((linHi & 0x7f) << 2) | (linLo >>> 30);
          break;
        case 2:
          idx = (linLo >>> 21) & 0x1ff;
          break;
        default:
          idx = (linLo >>> 12) & 0x1ff;
      }
      entryAddr = tableBase + idx * 8;
      lo = mem.readU32(entryAddr) | 0;
      hi = mem.readU32(entryAddr + 4) | 0;
    }
    const present = (lo & 1) !== 0;
    // PS is meaningful in PDEs (32-bit: only with CR4.PSE), PDPTEs of 4/5-level paging and (as a
    // reserved bit) in PML4Es/PML5Es; a PTE's bit 7 is PAT.
    let ps = 0;
    if (level >= 2 && lo & 0x80) {
      if (!wide) ps = cfg.pse ? 1 : 0;
      else if (!(mode === MODE_PAE && level === 3)) ps = 1;
    }
    const ri = rsvdIndex(level, ps);
    const rLo = present && !(mode === MODE_PAE && level === 3) ? lo & cfg.rsvd[ri]! : 0;
    const rHi = present && !(mode === MODE_PAE && level === 3) ? hi & cfg.rsvd[ri + 1]! : 0;
    if (present && !(mode === MODE_PAE && level === 3)) {
      user &= (lo >>> 2) & 1;
      writable &= (lo >>> 1) & 1;
      if (cfg.nxe) xd |= hi >>> 31;
    }
    const leaf = present && (level === 1 || (ps === 1 && level <= 3));
    if (trace)
      trace.push({
        level,
        entryAddress: entryAddr,
        lo,
        hi,
        present,
        leaf,
        rsvdLo: rLo,
        rsvdHi: rHi,
        rights: (user ? R_USER : 0) | (writable ? R_WRITE : 0) | (xd ? 0 : R_EXEC),
      });
    if (!present) return pageFault(cfg, out, access, 0, Why.NOT_PRESENT, level);
    if ((rLo | rHi) !== 0) return pageFault(cfg, out, access, PFEC.P | PFEC.RSVD, Why.RSVD, level);
    if (!(mode === MODE_PAE && level === 3)) {
      walkAddr[n] = entryAddr;
      walkLo[n] = lo;
      walkLevel[n] = level;
      n++;
    }
    if (leaf) break;
    // next table: bits M-1:12 of the entry (reserved bits above M are already known to be 0)
    tableBase = wide ? (hi & 0xfffff) * TWO32 + ((lo & 0xfffff000) >>> 0) : (lo & 0xfffff000) >>> 0;
    level--;
  }

  // ---- the leaf: page size and physical address ----
  if (level === 1) {
    shift = 12;
    out.physical = (wide ? (hi & 0xfffff) * TWO32 : 0) + ((lo & 0xfffff000) >>> 0) + (linLo & 0xfff);
  } else if (!wide) {
    // 4-MiB page: PA[31:22] from bits 31:22, PA[35:32] from bits 16:13 (PSE-36)
    shift = 22;
    out.physical = ((lo >>> 13) & 0xf) * TWO32 + ((lo & 0xffc00000) >>> 0) + (linLo & 0x3fffff);
  } else if (level === 2) {
    shift = 21;
    out.physical = (hi & 0xfffff) * TWO32 + ((lo & 0xffe00000) >>> 0) + (linLo & 0x1fffff);
  } else {
    shift = 30;
    out.physical = (hi & 0xfffff) * TWO32 + ((lo & 0xc0000000) >>> 0) + (linLo & 0x3fffffff);
  }
  out.pageShift = shift;
  const rights = (user ? R_USER : 0) | (writable ? R_WRITE : 0) | (xd ? 0 : R_EXEC);
  out.rights = rights;
  out.pkey = cfg.pke ? (hi >>> 27) & 15 : 0;
  out.global = cfg.pge && (lo & 0x100) !== 0;

  // ---- permission check (spec §8.3) ----
  let fault: boolean;
  let why: number = Why.NONE;
  if (access & ACC_SHADOW_STACK) {
    // CET shadow-stack access (SDM 3A §4.6.1): needs a shadow-stack page (leaf R/W=0, D=1, R/W=1
    // at every non-leaf level) of the access's own privilege (no supervisor access to user pages).
    const upperWritable = n === 1 || allUpperWritable(n);
    const ssPage = wide && (lo & 2) === 0 && (lo & 0x40) !== 0 && upperWritable;
    const wrongPriv = access & ACC_USER ? !user : !!user;
    fault = !ssPage || wrongPriv;
    if (fault) why = Why.SHADOW_STACK;
  } else {
    fault = ((cfg.perms[permIndex(access, ac)]! >> rights) & 1) !== 0;
    if (fault) why = permissionWhy(cfg, access, ac, rights);
  }
  let pk = false;
  if (cfg.pke && user && !(access & ACC_FETCH)) pk = cfg.pkuFault(out.pkey, access & 15);
  if (fault || pk) return pageFault(cfg, out, access, PFEC.P | (pk ? PFEC.PK : 0), fault ? why : Why.PK, level);

  // ---- accessed and dirty flags (SDM 3A §4.8): only now that no fault occurred ----
  for (let i = 0; i < n; i++) {
    const a = walkAddr[i]!;
    const cur = mem.readU32(a) | 0;
    const isLeaf = i === n - 1;
    const want = isLeaf && access & ACC_WRITE ? 0x60 : 0x20;
    if ((cur & want) !== want) {
      mem.writeU32(a, (cur | want) >>> 0);
      if (!(cur & 0x20)) out.ad[out.adCount++] = walkLevel[i]! << 1;
      if (want === 0x60 && !(cur & 0x40)) out.ad[out.adCount++] = (walkLevel[i]! << 1) | 1;
    }
    if (isLeaf) out.dirty = ((cur | want) & 0x40) !== 0;
  }
  return true;
}

function allUpperWritable(n: number): boolean {
  for (let i = 0; i < n - 1; i++) if ((walkLo[i]! & 2) === 0) return false;
  return true;
}

/** The first rule that denies the access (for the reason text; fault path only). */
function permissionWhy(cfg: PagingConfig, access: number, ac: boolean, rights: number): number {
  const u = (access & ACC_USER) !== 0;
  const f = (access & ACC_FETCH) !== 0;
  const w = (access & ACC_WRITE) !== 0;
  if (u && !(rights & R_USER)) return Why.USER;
  if (w && !(rights & R_WRITE) && (u || cfg.wp)) return Why.WRITE;
  if (f && !(rights & R_EXEC)) return Why.XD;
  if (cfg.smep && f && !u && rights & R_USER) return Why.SMEP;
  if (cfg.smap && !f && !u && rights & R_USER && !(permIndex(access, ac) & 8)) return Why.SMAP;
  return Why.NONE;
}

/**
 * Load the 4 PAE PDPTE registers from CR3 (SDM 3A §4.4.1; spec §8.2 load_pdptrs) into `into`
 * (8 numbers). Returns the index of the first present PDPTE with a reserved bit set, or -1 when
 * all are valid (the registers are written only then).
 */
export function loadPdptes(cfg: PagingConfig, mem: PhysMem, cr3Lo: number, into: Int32Array | number[]): number {
  const base = (cr3Lo & 0xffffffe0) >>> 0;
  const tmp = [0, 0, 0, 0, 0, 0, 0, 0];
  for (let i = 0; i < 4; i++) {
    const lo = mem.readU32(base + i * 8) | 0;
    const hi = mem.readU32(base + i * 8 + 4) | 0;
    if (lo & 1 && ((lo & cfg.pdpteRsvd[0]!) | (hi & cfg.pdpteRsvd[1]!)) !== 0) return i;
    tmp[i * 2] = lo;
    tmp[i * 2 + 1] = hi;
  }
  for (let i = 0; i < 8; i++) into[i] = tmp[i]!;
  return -1;
}
