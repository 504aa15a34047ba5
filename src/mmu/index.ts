// The MMU's public surface: paging walks (32-bit, PAE, 4-level, 5-level), permission checks and the
// TLB. Intel SDM Vol. 3A ch. 4; AMD APM Vol. 2 ch. 5; shared/spec/kvm-contract.md §8.
//
//   translate(state, mem, linLo, linHi, access, size?) → TranslateResult   the pure function
//   new Mmu(mem, state?)                                                    the interpreter's fast path
//     .translate(linLo, linHi, access) → physical (≥ 0) | throws CpuFault
//     .movCr0/.movCr3/.movCr4 → false = #GP(0) (PDPTE load), .writeEfer, .setAc, .setPkru, .setCpl
//     .flush(kind), .invlpg(lo, hi), .invpcid(type, pcid, lo, hi) → false = #GP(0), .loadPdptrs()
//     .noteCodePage(pfn) / .clearCodePage(pfn) / .onCodeWrite  (decode-cache cooperation)

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
export { Mmu } from './mmu.ts';
export { PagingConfig } from './config.ts';
export { Tlb, TLB_SIZE } from './tlb.ts';
