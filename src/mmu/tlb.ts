// The translation lookaside buffer: a direct-mapped, hashed cache of linear→physical translations
// with PCID tagging, global pages and generation-stamp invalidation. Intel SDM Vol. 3A §4.10
// "Caching Translation Information" (§4.10.2 TLBs, §4.10.4 invalidation: INVLPG, INVPCID, MOV CR3,
// MOV CR4); AMD APM Vol. 2 §5.5. Flush triggers: spec §1.4 and §2 (kvm_post_set_cr4/cr0, kvm_set_cr3).
// Design: shared/DESIGN.md §4.
//
// One slot per hash of the 4-KiB virtual page number. Larger pages (2 MiB, 4 MiB, 1 GiB) are cached
// per 4-KiB page they cover (simplest: a hit never needs a size-dependent mask); INVLPG of an address
// in a large page then scans the whole TLB for entries of that large page (only while large-page
// entries may be live).
//
// Slot i (parallel typed arrays):
//
//   tagLo[i]  int32   linear address bits 31:12 (bits 11:0 zero)
//   tagHi[i]  int32   linear address bits 63:32
//   ctx[i]    int32   context stamp: > 0 = non-global entry of the PCID context with that stamp,
//                     < 0 = global entry of global generation -ctx, 0 = empty
//   allow[i]  int32   bit k set = access kind k may use this entry without a walk (config.ts: kind =
//                     W|U<<1|F<<2|I<<3|AC<<4); write kinds only once the leaf's D bit is set
//   phys[i]   float64 physical address of the 4-KiB page (up to 2^52)
//   info[i]   uint8   bits 4:0 log2(page size) of the mapping, bit 7 HAS_CODE
//
// A hit: tagLo, tagHi equal; ctx equal to the current PCID's stamp or the current global stamp;
// allow bit of the access kind set. Invalidation never touches the arrays in bulk: it moves the
// stamps (a new stamp for one PCID, a floor below which every PCID stamp is stale, a new global
// generation), so stale slots simply stop matching.

export const TLB_BITS = 12;
export const TLB_SIZE = 1 << TLB_BITS;
export const TLB_MASK = TLB_SIZE - 1;
export const INFO_SHIFT_MASK = 0x1f;
export const INFO_HAS_CODE = 0x80;
/** large pages tracked individually for INVLPG before it falls back to scanning the TLB */
const LARGE_MAX = 64;

/** The slot of a linear page. */
export function tlbSlot(linLo: number, linHi: number): number {
  return ((linLo >>> 12) ^ linHi ^ (linHi >>> 12)) & TLB_MASK;
}

export class Tlb {
  readonly tagLo = new Int32Array(TLB_SIZE);
  readonly tagHi = new Int32Array(TLB_SIZE);
  readonly ctx = new Int32Array(TLB_SIZE);
  readonly allow = new Int32Array(TLB_SIZE);
  readonly phys = new Float64Array(TLB_SIZE);
  readonly info = new Uint8Array(TLB_SIZE);

  /** stamp of the current PCID's non-global entries */
  curCtx = 1;
  /** stamp of live global entries (negative) */
  globalCtx = -1;
  curPcid = 0;
  /** last stamp handed out */
  private next = 1;
  /** PCID stamps at or below this are stale (set by flushes of every PCID) */
  private floor = 0;
  /** per-PCID stamp (12-bit PCIDs) */
  private readonly pcidCtx = new Int32Array(4096);
  /** a large-page entry may be live: INVLPG must scan */
  private largeLive = false;
  /** the large pages filled since the last full flush (base lo, base hi, log2 size), up to
   *  LARGE_MAX of them: INVLPG scans only for an address inside one (or after an overflow) */
  private readonly large = new Int32Array(3 * LARGE_MAX);
  private largeCount = 0;
  private largeOverflow = false;

  constructor() {
    this.pcidCtx[0] = 1;
  }

  /** Hand out a new PCID stamp. After ~2^31 of them (one per MOV CR3 without NOFLUSH) the stamps
   *  start over: every entry is dropped once, the only bulk write to the arrays. */
  private stamp(): number {
    if (this.next >= 0x7ffffff0) this.restart();
    return ++this.next;
  }

  private restart(): void {
    this.ctx.fill(0);
    this.pcidCtx.fill(0);
    this.next = 1;
    this.floor = 0;
    this.globalCtx = -1;
    this.pcidCtx[this.curPcid] = 1;
    this.curCtx = 1;
  }

  /** The live stamp of `pcid`'s non-global entries. */
  private ctxOf(pcid: number): number {
    let v = this.pcidCtx[pcid]!;
    if (v <= this.floor) {
      v = this.stamp();
      this.pcidCtx[pcid] = v;
    }
    return v;
  }

  /** MOV CR3 / PCIDE change: make `pcid` current (entries it already has stay usable). */
  switchPcid(pcid: number): void {
    this.curPcid = pcid & 0xfff;
    this.curCtx = this.ctxOf(this.curPcid);
  }

  /** Drop `pcid`'s non-global entries (MOV CR3 without NOFLUSH, INVPCID type 1). */
  flushPcid(pcid: number): void {
    pcid &= 0xfff;
    const v = this.stamp();
    this.pcidCtx[pcid] = v;
    if (pcid === this.curPcid) this.curCtx = v;
  }

  /** Drop every PCID's non-global entries (INVPCID type 3). */
  flushNonGlobal(): void {
    this.floor = this.next;
    this.curCtx = this.ctxOf(this.curPcid);
  }

  /** Drop everything, global entries too (PGE toggle, PCIDE 1→0, INVPCID type 2, CR0.PG 1→0). */
  flushAll(): void {
    if (this.globalCtx <= -0x7ffffff0) this.restart();
    this.flushNonGlobal();
    this.globalCtx--;
    this.largeLive = false;
    this.largeCount = 0;
    this.largeOverflow = false;
  }

  /** Record a translation (the caller computed the allow mask). */
  fill(linLo: number, linHi: number, physPage: number, allow: number, global: boolean, pageShift: number, hasCode: boolean): void {
    const i = tlbSlot(linLo, linHi);
    this.tagLo[i] = linLo & ~0xfff;
    this.tagHi[i] = linHi;
    this.ctx[i] = global ? this.globalCtx : this.curCtx;
    this.allow[i] = allow;
    this.phys[i] = physPage;
    this.info[i] = pageShift | (hasCode ? INFO_HAS_CODE : 0);
    if (pageShift > 12) {
      this.largeLive = true;
      if (!this.largeOverflow) this.noteLarge(linLo, linHi, pageShift);
    }
  }

  private noteLarge(linLo: number, linHi: number, sh: number): void {
    const base = linLo & ~((1 << sh) - 1), L = this.large;
    for (let k = 0; k < this.largeCount * 3; k += 3) if (L[k] === base && L[k + 1] === (linHi | 0) && L[k + 2] === sh) return;
    if (this.largeCount === LARGE_MAX) {
      this.largeOverflow = true;
      return;
    }
    const k = this.largeCount++ * 3;
    L[k] = base; L[k + 1] = linHi; L[k + 2] = sh;
  }

  /** may a large-page entry covering this address be live? */
  private inLarge(linLo: number, linHi: number): boolean {
    if (this.largeOverflow) return true;
    const L = this.large;
    for (let k = 0; k < this.largeCount * 3; k += 3) {
      if (L[k + 1] === (linHi | 0) && (linLo & ~((1 << L[k + 2]!) - 1)) === L[k]) return true;
    }
    return false;
  }

  /** The slot holding a live translation of this page for the current context, or -1. */
  lookup(linLo: number, linHi: number): number {
    const i = tlbSlot(linLo, linHi);
    if (this.tagLo[i] !== (linLo & ~0xfff) || this.tagHi[i] !== (linHi | 0)) return -1;
    const c = this.ctx[i];
    return c === this.curCtx || c === this.globalCtx ? i : -1;
  }

  /**
   * Invalidate the translations of the page containing (linLo, linHi), for the mapping's whole page
   * size. `pcid` < 0 = the current PCID. `global`: global entries go too (INVLPG); `nonGlobal`:
   * the PCID's non-global entries go (both INVLPG and INVPCID type 0).
   */
  invalidatePage(linLo: number, linHi: number, pcid: number, global: boolean, nonGlobal: boolean): void {
    const want = pcid < 0 ? this.curCtx : this.pcidCtx[pcid & 0xfff]! > this.floor ? this.pcidCtx[pcid & 0xfff]! : -0x7fffffff;
    const g = global ? this.globalCtx : 0; // 0 = empty slot: "killing" it changes nothing
    const ng = nonGlobal ? want : 0;
    const ctx = this.ctx;
    const i = tlbSlot(linLo, linHi);
    if (this.tagLo[i] === (linLo & ~0xfff) && this.tagHi[i] === (linHi | 0) && (ctx[i] === g || ctx[i] === ng)) ctx[i] = 0;
    if (!this.largeLive || !this.inLarge(linLo, linHi)) return;
    for (let j = 0; j < TLB_SIZE; j++) {
      const sh = this.info[j]! & INFO_SHIFT_MASK;
      if (sh <= 12 || this.tagHi[j] !== (linHi | 0)) continue;
      // same large page: tags agree above the page size (all large sizes are < 2^32)
      const mask = ~((1 << sh) - 1);
      if ((this.tagLo[j]! & mask) === (linLo & mask) && (ctx[j] === g || ctx[j] === ng)) ctx[j] = 0;
    }
  }

  /** Strip write permission from every entry mapping physical page `physPage` (a page that now
   *  holds decoded code), so the next write takes the slow path. */
  markCode(physPage: number, writeKinds: number): void {
    for (let j = 0; j < TLB_SIZE; j++) {
      if (this.phys[j] === physPage && this.ctx[j] !== 0) {
        this.allow[j] = this.allow[j]! & ~writeKinds;
        this.info[j] = this.info[j]! | INFO_HAS_CODE;
      }
    }
  }

  /** Number of slots live for the current context (tests, stats). */
  liveCount(): number {
    let n = 0;
    for (let j = 0; j < TLB_SIZE; j++) {
      const c = this.ctx[j];
      if (c === this.curCtx || c === this.globalCtx) n++;
    }
    return n;
  }
}
