// The MMU's public surface: paging walks (32-bit, PAE, 4-level, 5-level), permission checks and the
// TLB. Intel SDM Vol. 3A ch. 4; AMD APM Vol. 2 ch. 5; shared/spec/kvm-contract.md §8.
//
//   translate(state, mem, linLo, linHi, access, size?) → TranslateResult     the pure function
//     (checks canonical/LASS for [la, la+size-1], walks the first byte's page, sets A/D in mem)
//   new Mmu(mem, state?)                                                      the interpreter's fast path
//     .translate(linLo, linHi, access) → physical (≥ 0) | throws CpuFault (#PF with cr2, #GP(0), #SS(0));
//        one call per page touched; linHi = 0 outside long mode
//     .setState(partial) → false when the PAE PDPTE load failed     (reset / SET_SREGS: flushes all)
//     .movCr0(cr0, eferAfter?) / .movCr3(lo, hi) / .movCr4(cr4) → false = raise #GP(0), nothing changed
//     .writeEfer(efer), .setAc(ac), .setPkru(pkru), .setCpl(cpl), .onCr0Cr4EferChange()
//     .flush('all'|'current'|'nonglobal'), .invlpg(lo, hi), .invpcid(type, pcid, lo, hi) → false = #GP(0)
//     .loadPdptrs() → boolean
//     .noteCodePage(pfn) / .clearCodePage(pfn) / .onCodeWrite = (pfn) => …   (decode-cache cooperation)
//   Access flags: ACC_WRITE 1, ACC_USER 2 (CPL 3, not implicit), ACC_FETCH 4, ACC_IMPLICIT 8,
//   ACC_SHADOW_STACK 16, ACC_STACK 32 (#SS instead of #GP).   umipFault(cr4, cpl) for SGDT & co.

export {
  ACC_READ,
  ACC_WRITE,
  ACC_USER,
  ACC_FETCH,
  ACC_IMPLICIT,
  ACC_SHADOW_STACK,
  ACC_STACK,
  PFEC,
  DEFAULT_PAGING_STATE,
  dataAccess,
  fetchAccess,
  formatAccess,
  formatPfec,
  pagingState,
  checkPagingState,
  umipFault,
} from './types.ts';
export type {
  EffectiveRights,
  EntryName,
  FlushKind,
  PagingMode,
  PagingState,
  PhysMem,
  TranslateFault,
  TranslateOk,
  TranslateResult,
  WalkLevel,
} from './types.ts';
export { translate } from './translate.ts';
export { Mmu, mmuFault } from './mmu.ts';
export { PagingConfig } from './config.ts';
export { Tlb, TLB_SIZE } from './tlb.ts';
