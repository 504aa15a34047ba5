// The CPUID table value: the equivalent of an array of `struct kvm_cpuid_entry2`
// (Linux Documentation/virt/kvm/api.rst, KVM_SET_CPUID2). Plain data; both backends consume it.
//
//   struct kvm_cpuid_entry2 { u32 function, index, flags, eax, ebx, ecx, edx, padding[3]; }
//   flags bit 0 = KVM_CPUID_FLAG_SIGNIFCANT_INDEX: `index` (ECX input) selects the entry.

import type { BitLocation, CpuidReg } from './types.ts';

export const KVM_CPUID_FLAG_SIGNIFCANT_INDEX = 1;

export interface CpuidEntry {
  readonly function: number;
  readonly index: number;
  readonly flags: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface CpuidRegs {
  eax: number;
  ebx: number;
  ecx: number;
  edx: number;
}

function key(fn: number, index: number): string {
  return `${fn >>> 0}:${index >>> 0}`;
}

/**
 * An immutable-by-convention CPUID table. Lookups are exact (function, index) matches, with
 * index ignored for entries that lack the significant-index flag. What a guest's CPUID
 * *instruction* returns for a missing leaf is vendor-specific and lives in the contract layer.
 */
export class CpuidTable {
  private readonly map = new Map<string, CpuidEntry>();

  constructor(entries: Iterable<CpuidEntry> = []) {
    for (const e of entries) this.put(e);
  }

  static from(entries: Iterable<CpuidEntry>): CpuidTable {
    return new CpuidTable(entries);
  }

  /** Insert or replace an entry (values are normalized to uint32). */
  put(e: CpuidEntry): void {
    const n: CpuidEntry = {
      function: e.function >>> 0,
      index: (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX ? e.index : 0) >>> 0,
      flags: e.flags >>> 0,
      eax: e.eax >>> 0,
      ebx: e.ebx >>> 0,
      ecx: e.ecx >>> 0,
      edx: e.edx >>> 0,
    };
    this.map.set(key(n.function, n.index), n);
  }

  delete(fn: number, index = 0): boolean {
    return this.map.delete(key(fn, index)) || this.map.delete(key(fn, 0));
  }

  /** The entry for (function, index), or undefined. Non-indexed entries match any index. */
  get(fn: number, index = 0): CpuidEntry | undefined {
    const exact = this.map.get(key(fn, index));
    if (exact) return exact;
    const base = this.map.get(key(fn, 0));
    if (base && !(base.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX)) return base;
    return undefined;
  }

  reg(fn: number, index: number, reg: CpuidReg): number {
    const e = this.get(fn, index);
    return e ? e[reg] >>> 0 : 0;
  }

  /** True when the bit at `loc` is set (a missing leaf reads as zero). */
  hasBit(loc: BitLocation): boolean {
    return ((this.reg(loc.leaf, loc.subleaf ?? 0, loc.reg) >>> loc.bit) & 1) === 1;
  }

  /** A copy with the bit at `loc` set or cleared; creates the leaf if needed. */
  withBit(loc: BitLocation, value: boolean): CpuidTable {
    const t = this.clone();
    t.setBit(loc, value);
    return t;
  }

  setBit(loc: BitLocation, value: boolean): void {
    const idx = loc.subleaf ?? 0;
    const e = this.get(loc.leaf, idx) ?? {
      function: loc.leaf,
      index: idx,
      flags: loc.subleaf === undefined ? 0 : KVM_CPUID_FLAG_SIGNIFCANT_INDEX,
      eax: 0,
      ebx: 0,
      ecx: 0,
      edx: 0,
    };
    const m = (1 << loc.bit) >>> 0;
    const v = value ? (e[loc.reg] | m) >>> 0 : (e[loc.reg] & ~m) >>> 0;
    this.put({ ...e, index: idx, [loc.reg]: v });
  }

  /** Entries sorted by (function, index). */
  entries(): CpuidEntry[] {
    return [...this.map.values()].sort((a, b) => a.function - b.function || a.index - b.index);
  }

  get size(): number {
    return this.map.size;
  }

  clone(): CpuidTable {
    return new CpuidTable(this.map.values());
  }

  /** Highest basic leaf (CPUID.0:EAX), 0 when absent. */
  maxBasicLeaf(): number {
    return this.reg(0, 0, 'eax');
  }

  /** Highest extended leaf (CPUID.80000000h:EAX), 0 when absent or not in the extended range. */
  maxExtendedLeaf(): number {
    const v = this.reg(0x80000000, 0, 'eax');
    return v >= 0x80000000 ? v : 0;
  }

  /** The 12-byte vendor string from leaf 0 (EBX, EDX, ECX). */
  vendorString(): string {
    const e = this.get(0, 0);
    if (!e) return '';
    let s = '';
    for (const w of [e.ebx, e.edx, e.ecx]) {
      for (let i = 0; i < 4; i++) s += String.fromCharCode((w >>> (8 * i)) & 0xff);
    }
    return s;
  }

  /** Structural equality of two tables. */
  equals(other: CpuidTable): boolean {
    if (other.size !== this.size) return false;
    for (const e of this.map.values()) {
      const o = other.get(e.function, e.index);
      if (!o || o.flags !== e.flags || o.eax !== e.eax || o.ebx !== e.ebx || o.ecx !== e.ecx || o.edx !== e.edx)
        return false;
    }
    return true;
  }
}
