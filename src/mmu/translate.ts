// The pure translation: (paging state, memory, linear address, access) → physical address and the
// whole walk, or the fault with its vector, error code, CR2 and reason. Intel SDM Vol. 3A ch. 4;
// spec §8. Used by the CLI (`tsvmm mmu explain`) and the tests; the interpreter uses the same walk
// through Mmu (mmu.ts). The walk sets A/D bits in `mem` as the processor would.

import { MODE_NAMES, MODE_NONE, MODE_PAE, PagingConfig, R_EXEC, R_USER, R_WRITE } from './config.ts';
import { LEVEL_NAMES, faultReason } from './reason.ts';
import { checkPagingState, type EffectiveRights, type PagingState, type PhysMem, type TranslateResult, type WalkLevel } from './types.ts';
import { WalkOut, checkLinear, loadPdptes, walk, type TraceLevel } from './walk.ts';

function bitsOf(lo: number, hi: number): number[] {
  const r: number[] = [];
  for (let b = 0; b < 32; b++) if ((lo >>> b) & 1) r.push(b);
  for (let b = 0; b < 32; b++) if ((hi >>> b) & 1) r.push(32 + b);
  return r;
}

function toLevel(t: TraceLevel): WalkLevel {
  return {
    name: LEVEL_NAMES[t.level]!,
    level: t.level,
    entryAddress: t.entryAddress,
    lo: t.lo >>> 0,
    hi: t.hi >>> 0,
    present: t.present,
    leaf: t.leaf,
    reservedBits: bitsOf(t.rsvdLo, t.rsvdHi),
    user: (t.rights & R_USER) !== 0,
    writable: (t.rights & R_WRITE) !== 0,
    executeDisable: (t.rights & R_EXEC) === 0,
  };
}

function rightsOf(out: WalkOut): EffectiveRights {
  return {
    user: (out.rights & R_USER) !== 0,
    writable: (out.rights & R_WRITE) !== 0,
    executeDisable: (out.rights & R_EXEC) === 0,
    pkey: out.pkey,
    global: out.global,
    dirty: out.dirty,
  };
}

/** (lo, hi) + n as a 64-bit wrap-around add. */
function add64(lo: number, hi: number, n: number): [number, number] {
  const s = (lo >>> 0) + n;
  return [s >>> 0, (hi + Math.floor(s / 4294967296)) | 0];
}

/**
 * Translate one access. `size` (default 1) extends the canonical and LASS checks to the last byte
 * of the access (a straddling access is a violation); the walk covers the page of the first byte
 * (translate the next page separately for a page-crossing access). Outside long mode only linLo
 * is used.
 */
export function translate(state: PagingState, mem: PhysMem, linLo: number, linHi: number, access: number, size = 1): TranslateResult {
  checkPagingState(state);
  const cfg = new PagingConfig(state);
  const mode = MODE_NAMES[cfg.mode]!;
  if (!cfg.lma) linHi = 0;
  const out = new WalkOut();
  const fault = (levels: WalkLevel[], reason: string, rights?: EffectiveRights): TranslateResult => ({
    ok: false,
    mode,
    vector: out.vector,
    errorCode: out.errorCode,
    cr2Lo: out.vector === 14 ? linLo >>> 0 : 0,
    cr2Hi: out.vector === 14 ? linHi >>> 0 : 0,
    reason,
    levels,
    rights,
  });
  if (cfg.mode === MODE_NONE) {
    return { ok: true, mode, physical: linLo >>> 0, pageSize: 0, levels: [], rights: rightsOf(out), adUpdates: [] };
  }
  const [lastLo, lastHi] = add64(linLo, linHi, Math.max(1, size) - 1);
  if (!checkLinear(cfg, linHi, access, state.ac, out)) return fault([], faultReason(out, linLo, linHi, access));
  if (size > 1 && cfg.lma) {
    if (!checkLinear(cfg, lastHi, access, state.ac, out)) return fault([], faultReason(out, lastLo, lastHi, access));
    if (cfg.lass && (lastHi < 0) !== (linHi < 0)) {
      out.vector = access & 32 ? 12 : 13;
      out.errorCode = 0;
      return fault([], `${out.vector === 12 ? '#SS' : '#GP'}(0): LASS: the access straddles the user/supervisor halves`);
    }
  }
  let pdptes: ArrayLike<number>;
  if (cfg.mode === MODE_PAE && state.pdptes === undefined) {
    const loaded = new Int32Array(8);
    const bad = loadPdptes(cfg, mem, state.cr3Lo, loaded);
    if (bad >= 0) {
      out.vector = 13;
      out.errorCode = 0;
      return fault([], `#GP(0): PDPTE ${bad} is present with a reserved bit set: the MOV to CR0/CR3/CR4 that loads it faults`);
    }
    pdptes = loaded;
  } else pdptes = state.pdptes ?? new Int32Array(8);
  const trace: TraceLevel[] = [];
  const ok = walk(cfg, mem, state.cr3Lo, state.cr3Hi & 0x7fffffff, pdptes, linLo, linHi, access, state.ac, out, trace);
  const levels = trace.map(toLevel);
  if (!ok) {
    const last = trace[trace.length - 1];
    const rights: EffectiveRights | undefined =
      out.why >= 5 && last ? { ...rightsOf(out), user: (last.rights & R_USER) !== 0, writable: (last.rights & R_WRITE) !== 0, executeDisable: (last.rights & R_EXEC) === 0 } : undefined;
    return fault(levels, faultReason(out, linLo, linHi, access), rights);
  }
  const adUpdates: string[] = [];
  for (let i = 0; i < out.adCount; i++) adUpdates.push(`${LEVEL_NAMES[out.ad[i]! >> 1]}.${out.ad[i]! & 1 ? 'D' : 'A'}`);
  return { ok: true, mode, physical: out.physical, pageSize: 2 ** out.pageShift, levels, rights: rightsOf(out), adUpdates };
}
