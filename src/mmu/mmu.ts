// The interpreter's MMU: paging state, the TLB fast path and the control-register side effects on
// translations. Intel SDM Vol. 3A ch. 4 (paging), §4.10.4 (TLB invalidation by MOV CR0/CR3/CR4,
// INVLPG, INVPCID); spec §1.4, §2, §8 (KVM's flush and PDPTE-load rules). The interpreter calls
// translate() on every memory access: a TLB hit costs a hash, five typed-array loads and no
// allocation; a miss walks (walk.ts) and refills; a fault throws CpuFault (the only allocation).
//
// Contract with the caller:
//  - translate() works on one page: an access that crosses a page boundary is translated once per
//    page (so canonical and LASS checks also cover the last byte; the LASS halves and the 2^64 wrap
//    are page boundaries). Outside long mode pass linHi = 0.
//  - The caller validates MOV CR/WRMSR values against the contract first; movCr0/movCr3/movCr4
//    return false only when loading the PAE PDPTEs fails (the caller raises #GP(0); nothing changed).
//  - RFLAGS.AC, PKRU and CPL changes are reported with setAc / setPkru / setCpl.

import { CpuFault } from '../arch/x86/exceptions.ts';
import {
  CR0_PG,
  CR4_PAE,
  CR4_PCIDE,
  CR4_PGE,
  CR4_SMEP,
  EFER_LMA,
  KIND_AC,
  MODE_NONE,
  MODE_PAE,
  PagingConfig,
  R_USER,
  WRITE_KINDS,
} from './config.ts';
import { faultReason, type FaultFacts } from './reason.ts';
import { INFO_HAS_CODE, TLB_MASK, Tlb } from './tlb.ts';
import { ACC_SHADOW_STACK, checkPagingState, type FlushKind, type PagingState, type PhysMem } from './types.ts';
import { WalkOut, checkLinear, loadPdptes, walk } from './walk.ts';
import { Cr0 } from '../arch/x86/registers/cr0.ts';
import { Cr4 } from '../arch/x86/registers/cr4.ts';

/** CR0 bits whose change reloads the PDPTEs in PAE paging (X86_CR0_PDPTR_BITS). */
const CR0_PDPTR = Number(Cr0.CD | Cr0.NW | Cr0.PG) | 0;
/** CR4 bits whose change reloads the PDPTEs (X86_CR4_PDPTR_BITS). */
const CR4_PDPTR = Number(Cr4.PGE | Cr4.PSE | Cr4.PAE | Cr4.SMEP);

/** The fields of a fault raised by translate() (a CpuFault whose `reason` is built when read). */
interface MmuFaultFields {
  vector: number;
  errorCode: number;
  cr2Lo: number;
  cr2Hi: number;
  faultLevel: number;
  why: number;
  linLo: number;
  linHi: number;
  access: number;
  text: string | undefined;
}

/**
 * The prototype of translate()'s faults: a CpuFault whose `reason` getter formats the explanation on
 * first read (traces, tests), since guests that take many page faults would otherwise spend much of
 * their time formatting text nobody reads. The objects are made with Object.create (one fixed shape),
 * not by the CpuFault constructor, whose own `reason` data property would hide the getter.
 */
const MMU_FAULT: object = Object.create(CpuFault.prototype, {
  reason: {
    get(this: MmuFaultFields): string {
      return (this.text ??= faultReason(
        { faultLevel: this.faultLevel, vector: this.vector, errorCode: this.errorCode, why: this.why },
        this.linLo,
        this.linHi,
        this.access,
      ));
    },
    enumerable: true,
    configurable: true,
  },
});

/** A fault of translate() (an instanceof CpuFault; see MMU_FAULT). */
export function mmuFault(out: FaultFacts, linLo: number, linHi: number, access: number): CpuFault {
  const f = Object.create(MMU_FAULT) as MmuFaultFields;
  f.vector = out.vector;
  f.errorCode = out.errorCode;
  f.cr2Lo = out.vector === 14 ? linLo | 0 : 0;
  f.cr2Hi = out.vector === 14 ? linHi | 0 : 0;
  f.faultLevel = out.faultLevel;
  f.why = out.why;
  f.linLo = linLo;
  f.linHi = linHi;
  f.access = access;
  f.text = undefined;
  return f as unknown as CpuFault;
}

export class Mmu {
  readonly cfg = new PagingConfig();
  readonly tlb = new Tlb();
  /** the PAE PDPTE registers, lo/hi pairs */
  readonly pdptes = new Int32Array(8);
  /** physical pages that hold decoded code (indexed by physical page number), or null; see noteCodePage */
  codePages: Uint8Array | null = null;
  /** called (slow path) before a write to a page marked in codePages completes */
  onCodeWrite: ((physPage: number) => void) | null = null;

  cr0 = 0;
  cr3Lo = 0;
  cr3Hi = 0;
  cr4 = 0;
  efer = 0;
  cpl = 0;
  pkru = 0;
  maxPhyAddr = 36;
  gbpages = true;
  vendorAmd = false;
  /** KIND_AC when RFLAGS.AC=1, else 0 (folded into the TLB access kind) */
  private acBit = 0;
  private pagingOn = false;
  private readonly out = new WalkOut();
  /** statistics */
  hits = 0;
  misses = 0;

  constructor(
    public mem: PhysMem,
    state?: Partial<PagingState>,
  ) {
    this.setState(state ?? {});
  }

  /** The current state as a PagingState (for the pure translate() and the CLI). */
  state(): PagingState {
    return {
      cr0: this.cr0,
      cr3Lo: this.cr3Lo,
      cr3Hi: this.cr3Hi,
      cr4: this.cr4,
      efer: this.efer,
      ac: this.acBit !== 0,
      cpl: this.cpl,
      pkru: this.pkru,
      pdptes: Array.from(this.pdptes),
      maxPhyAddr: this.maxPhyAddr,
      gbpages: this.gbpages,
      vendorAmd: this.vendorAmd,
    };
  }

  /**
   * Replace the whole state (RESET/INIT, KVM_SET_SREGS, tests); unspecified fields keep their
   * current value. Flushes the whole TLB. PDPTEs: taken from `p.pdptes` when given, else loaded
   * from memory when PAE paging is on; returns false (and keeps the old PDPTEs) when that load
   * finds a reserved bit.
   */
  setState(p: Partial<PagingState>): boolean {
    const s: PagingState = { ...this.state(), ...p };
    checkPagingState(s);
    this.cr0 = s.cr0 | 0;
    this.cr3Lo = s.cr3Lo | 0;
    this.cr3Hi = s.cr3Hi & 0x7fffffff;
    this.cr4 = s.cr4 | 0;
    this.efer = s.efer | 0;
    this.acBit = s.ac ? KIND_AC : 0;
    this.cpl = s.cpl;
    this.pkru = s.pkru | 0;
    this.maxPhyAddr = s.maxPhyAddr;
    this.gbpages = s.gbpages;
    this.vendorAmd = s.vendorAmd;
    this.cfg.update(this.state());
    this.pagingOn = this.cfg.mode !== MODE_NONE;
    let ok = true;
    if (p.pdptes) for (let i = 0; i < 8; i++) this.pdptes[i] = p.pdptes[i]! | 0;
    else if (this.cfg.mode === MODE_PAE) ok = loadPdptes(this.cfg, this.mem, this.cr3Lo, this.pdptes) < 0;
    this.tlb.switchPcid(this.cfg.pcide ? this.cr3Lo & 0xfff : 0);
    this.tlb.flushAll();
    return ok;
  }

  /** RFLAGS.AC changed (STAC, CLAC, POPF, IRET, …). */
  setAc(ac: boolean): void {
    this.acBit = ac ? KIND_AC : 0;
  }

  /** CPL changed (informative; the access flags carry ACC_USER). */
  setCpl(cpl: number): void {
    this.cpl = cpl;
  }

  /** WRPKRU / XRSTOR of PKRU. Cached PKU decisions are dropped (a full flush, which the
   *  architecture always permits). */
  setPkru(pkru: number): void {
    this.pkru = pkru | 0;
    if (this.cfg.setPkru(pkru) && this.cfg.pke) this.tlb.flushAll();
  }

  /** Is PAE paging in effect for these register values? */
  private static paePaging(cr0: number, cr4: number, efer: number): boolean {
    return (cr0 & CR0_PG) !== 0 && (cr4 & CR4_PAE) !== 0 && (efer & EFER_LMA) === 0;
  }

  /** Reload the PDPTEs from the current CR3 (SDM 3A §4.4.1). False = a present PDPTE has a
   *  reserved bit (the caller raises #GP(0)); the registers are then unchanged. */
  loadPdptrs(): boolean {
    return loadPdptes(this.cfg, this.mem, this.cr3Lo, this.pdptes) < 0;
  }

  /**
   * MOV to CR0, already validated. `efer` is EFER after the write (LMA set/cleared by the PG
   * transition; the caller computes it). False = PDPTE load failed: raise #GP(0), nothing changed.
   */
  movCr0(cr0: number, efer: number = this.efer): boolean {
    const old = this.cr0;
    if (Mmu.paePaging(cr0, this.cr4, efer) && ((cr0 ^ old) & CR0_PDPTR) !== 0) {
      if (!this.loadPdptrs()) return false;
    }
    this.cr0 = cr0 | 0;
    this.efer = efer | 0;
    const roleChanged = this.refold();
    // PG 1→0 flushes the guest TLB (kvm_post_set_cr0); a role change drops our cached permission
    // decisions too (more than the architecture requires, always allowed)
    if ((old & CR0_PG && !(cr0 & CR0_PG)) || roleChanged) this.tlb.flushAll();
    return true;
  }

  /**
   * MOV to CR3, already validated (bits ≥ MAXPHYADDR refused by the contract). With CR4.PCIDE=1,
   * bit 63 (NOFLUSH) keeps the new PCID's entries; otherwise its non-global entries are dropped
   * (SDM 3A §4.10.4.1). In PAE paging the PDPTEs are reloaded; false = #GP(0), nothing changed.
   */
  movCr3(lo: number, hi: number): boolean {
    const noflush = this.cfg.pcide && hi < 0;
    if (this.cfg.mode === MODE_PAE) {
      if (loadPdptes(this.cfg, this.mem, lo, this.pdptes) >= 0) return false;
    }
    this.cr3Lo = lo | 0;
    this.cr3Hi = hi & 0x7fffffff;
    const pcid = this.cfg.pcide ? lo & 0xfff : 0;
    this.tlb.switchPcid(pcid);
    if (!noflush) this.tlb.flushPcid(pcid);
    return true;
  }

  /** MOV to CR4, already validated. Side effects per spec §1.4. False = PDPTE load failed. */
  movCr4(cr4: number): boolean {
    const old = this.cr4;
    const chg = old ^ cr4;
    if (Mmu.paePaging(this.cr0, cr4, this.efer) && (chg & CR4_PDPTR) !== 0) {
      if (!this.loadPdptrs()) return false;
    }
    this.cr4 = cr4 | 0;
    const roleChanged = this.refold();
    this.tlb.switchPcid(this.cfg.pcide ? this.cr3Lo & 0xfff : 0);
    if (chg & CR4_PGE || (old & CR4_PCIDE && !(cr4 & CR4_PCIDE)) || roleChanged) this.tlb.flushAll();
    else if (chg & CR4_PAE || (cr4 & CR4_SMEP && !(old & CR4_SMEP))) this.tlb.flushPcid(this.tlb.curPcid);
    return true;
  }

  /** WRMSR IA32_EFER (or an LMA change), already validated. NXE/LMA changes rebuild the tables. */
  writeEfer(efer: number): void {
    this.efer = efer | 0;
    if (this.refold()) this.tlb.flushAll();
  }

  /** Re-read CR0/CR4/EFER/CR3 after the caller assigned the public fields directly. The previous
   *  values are unknown here, so this rebuilds the tables and flushes everything (always allowed);
   *  movCr0/movCr3/movCr4/writeEfer apply the exact side effects instead. */
  onCr0Cr4EferChange(): void {
    this.refold();
    this.tlb.switchPcid(this.cfg.pcide ? this.cr3Lo & 0xfff : 0);
    this.tlb.flushAll();
  }

  private refold(): boolean {
    const changed = this.cfg.update(this.state());
    this.pagingOn = this.cfg.mode !== MODE_NONE;
    return changed;
  }

  /** Flush: 'all' (incl. global), 'current' (current PCID, non-global), 'nonglobal' (all PCIDs). */
  flush(kind: FlushKind): void {
    if (kind === 'all') this.tlb.flushAll();
    else if (kind === 'current') this.tlb.flushPcid(this.tlb.curPcid);
    else this.tlb.flushNonGlobal();
  }

  /** INVLPG (SDM Vol. 2 INVLPG; 3A §4.10.4.1): the page's entries for the current PCID and its
   *  global entries, whatever PCID. Never faults (no canonical or LASS check on the operand, spec §8.5). */
  invlpg(linLo: number, linHi: number): void {
    this.tlb.invalidatePage(linLo, linHi, -1, true, true);
  }

  /**
   * INVPCID (SDM Vol. 2 INVPCID): 0 = one address in `pcid` (non-global), 1 = all non-global of
   * `pcid`, 2 = everything incl. global, 3 = all non-global. Returns false when the instruction
   * must raise #GP(0): type > 3, `pcid` (descriptor bits 63:0) ≥ 4096 for any type, type 0 with a
   * non-canonical address, or type 0/1 with CR4.PCIDE=0 and PCID ≠ 0. (#UD without the feature is
   * the caller's check.)
   */
  invpcid(type: number, pcid: number, linLo: number, linHi: number): boolean {
    if (type < 0 || type > 3) return false;
    if (pcid < 0 || pcid > 0xfff) return false; // descriptor bits 63:12 must be 0, every type
    if ((type === 0 || type === 1) && !this.cfg.pcide && pcid !== 0) return false;
    switch (type) {
      case 0: {
        const sh = 64 - this.cfg.vaBits;
        if ((linHi << sh) >> sh !== (linHi | 0)) return false;
        this.tlb.invalidatePage(linLo, linHi, pcid, false, true);
        return true;
      }
      case 1:
        this.tlb.flushPcid(pcid);
        return true;
      case 2:
        this.tlb.flushAll();
        return true;
      default:
        this.tlb.flushNonGlobal();
        return true;
    }
  }

  /**
   * Translate one access: the physical address (≥ 0), or throw CpuFault (#PF with CR2, #GP(0) or
   * #SS(0)). `access` is ACC_* flags. The hit path allocates nothing.
   */
  translate(linLo: number, linHi: number, access: number): number {
    if (!this.pagingOn) return linLo >>> 0;
    const t = this.tlb;
    const i = ((linLo >>> 12) ^ linHi ^ (linHi >>> 12)) & TLB_MASK; // tlbSlot(), inlined
    if (t.tagLo[i] === (linLo & ~0xfff) && t.tagHi[i] === (linHi | 0)) {
      const c = t.ctx[i];
      if (
        (c === t.curCtx || c === t.globalCtx) &&
        ((t.allow[i]! >>> ((access & 15) | this.acBit)) & 1) !== 0 &&
        (access & ACC_SHADOW_STACK) === 0
      ) {
        this.hits++;
        return t.phys[i]! + (linLo & 0xfff);
      }
    }
    return this.miss(linLo, linHi, access);
  }

  /** The slow path: checks, walk, TLB fill. */
  private miss(linLo: number, linHi: number, access: number): number {
    this.misses++;
    const cfg = this.cfg;
    const out = this.out;
    const ac = this.acBit !== 0;
    if (!this.cfg.lma) linHi = 0;
    if (!checkLinear(cfg, linHi, access, ac, out) || !walk(cfg, this.mem, this.cr3Lo, this.cr3Hi, this.pdptes, linLo, linHi, access, ac, out, null)) {
      // a page fault invalidates the TLB entries for the faulting address (SDM 3A §4.10.4.1)
      if (out.vector === 14) this.tlb.invalidatePage(linLo, linHi, -1, true, true);
      throw mmuFault(out, linLo, linHi, access);
    }
    const physPage = out.physical - (linLo & 0xfff);
    let hasCode = false;
    const cp = this.codePages;
    if (cp !== null) {
      const pfn = physPage / 4096;
      if (pfn < cp.length && cp[pfn] !== 0) {
        if (access & 1 && this.onCodeWrite !== null) this.onCodeWrite(pfn);
        hasCode = cp[pfn] !== 0; // the hook may have dropped the page's code
      }
    }
    let allow =
      cfg.allowByRights[out.rights]! & cfg.lassAllow[linHi < 0 ? 1 : 0]! & (out.rights & R_USER ? ~cfg.pkuDeny[out.pkey]! : -1);
    if (!out.dirty || hasCode) allow &= ~WRITE_KINDS;
    this.tlb.fill(linLo, linHi, physPage, allow, out.global, out.pageShift, hasCode);
    return out.physical;
  }

  /**
   * The interpreter decoded code from physical page `physPage` (address / 4096): record it in
   * codePages (allocating a bitmap that covers it if needed) and strip write permission from the TLB
   * entries that map it, so the next write goes through the slow path and onCodeWrite.
   */
  noteCodePage(physPage: number): void {
    if (this.codePages === null || physPage >= this.codePages.length) {
      const n = new Uint8Array(Math.max(physPage + 1, (this.codePages?.length ?? 0) * 2, 1024));
      if (this.codePages) n.set(this.codePages);
      this.codePages = n;
    }
    this.codePages[physPage] = 1;
    this.tlb.markCode(physPage * 4096, WRITE_KINDS);
  }

  /** The interpreter dropped its decoded code for `physPage`. */
  clearCodePage(physPage: number): void {
    if (this.codePages !== null && physPage < this.codePages.length) this.codePages[physPage] = 0;
  }

  /** Is the current TLB entry for this page marked as holding code? (tests, tools) */
  tlbHasCode(linLo: number, linHi: number): boolean {
    const i = this.tlb.lookup(linLo, linHi);
    return i >= 0 && (this.tlb.info[i]! & INFO_HAS_CODE) !== 0;
  }

  /** Is there a live TLB entry for this page (tests)? */
  tlbHas(linLo: number, linHi: number): boolean {
    return this.tlb.lookup(linLo, linHi) >= 0;
  }
}
