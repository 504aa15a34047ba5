// Test helper: a plain ArrayBuffer-backed guest-physical memory and a page-table builder for the four
// paging formats (SDM Vol. 3A §4.3-4.5 entry layouts). Used by the MMU tests, the benchmark and the
// CLI test; not part of the hot path (bigint is fine here).

import type { PhysMem } from './types.ts';

export class TestMem implements PhysMem {
  readonly view: DataView;
  reads = 0;
  writes = 0;
  constructor(readonly size = 8 << 20) {
    this.view = new DataView(new ArrayBuffer(size));
  }
  readU32(pa: number): number {
    this.reads++;
    return pa + 4 <= this.size ? this.view.getUint32(pa, true) : 0xffffffff;
  }
  writeU32(pa: number, v: number): void {
    this.writes++;
    if (pa + 4 <= this.size) this.view.setUint32(pa, v >>> 0, true);
  }
  read64(pa: number): bigint {
    return BigInt(this.view.getUint32(pa, true)) | (BigInt(this.view.getUint32(pa + 4, true)) << 32n);
  }
  write64(pa: number, v: bigint): void {
    this.view.setUint32(pa, Number(v & 0xffffffffn), true);
    this.view.setUint32(pa + 4, Number((v >> 32n) & 0xffffffffn), true);
  }
}

export type BuilderMode = '32bit' | 'pae' | '4level' | '5level';

export const P = 1n;
export const RW = 2n;
export const US = 4n;
export const PWT = 8n;
export const PCD = 16n;
export const A = 32n;
export const D = 64n;
export const PS = 128n;
export const G = 256n;
export const XD = 1n << 63n;
export const pkeyBits = (k: number): bigint => BigInt(k) << 59n;

export interface MapOptions {
  /** log2 page size: 12 (default), 21, 22 (32-bit only), 30 */
  size?: 12 | 21 | 22 | 30;
  /** flags of the leaf entry (default P|RW|US) */
  leaf?: bigint;
  /** flags of every non-leaf entry (default P|RW|US; PAE PDPTEs get only P) */
  upper?: bigint;
  /** per-level override of the flags (level 5..1) */
  at?: Partial<Record<number, bigint>>;
}

/** Builds page tables in a TestMem; tables are allocated from `next` upwards, 4 KiB each. */
export class PageTableBuilder {
  readonly root: number;
  private next: number;
  constructor(
    readonly mem: TestMem,
    readonly mode: BuilderMode,
    tableBase = 0x100000,
  ) {
    this.next = tableBase;
    this.root = this.alloc();
  }

  alloc(): number {
    const a = this.next;
    this.next += 4096;
    for (let i = 0; i < 4096; i += 4) this.mem.view.setUint32(a + i, 0, true);
    return a;
  }

  get topLevel(): number {
    return this.mode === '5level' ? 5 : this.mode === '4level' ? 4 : this.mode === 'pae' ? 3 : 2;
  }

  get entrySize(): number {
    return this.mode === '32bit' ? 4 : 8;
  }

  /** index of `la` at `level` */
  index(la: bigint, level: number): number {
    if (this.mode === '32bit') return Number(level === 2 ? (la >> 22n) & 0x3ffn : (la >> 12n) & 0x3ffn);
    if (this.mode === 'pae' && level === 3) return Number((la >> 30n) & 3n);
    return Number((la >> BigInt(12 + 9 * (level - 1))) & 0x1ffn);
  }

  readEntry(pa: number): bigint {
    return this.entrySize === 4 ? BigInt(this.mem.view.getUint32(pa, true)) : this.mem.read64(pa);
  }
  writeEntry(pa: number, v: bigint): void {
    if (this.entrySize === 4) this.mem.view.setUint32(pa, Number(v & 0xffffffffn), true);
    else this.mem.write64(pa, v);
  }

  /** Physical address of the entry for `la` at `level` (tables must exist down to level+1). */
  entryAddress(la: bigint, level: number): number {
    let table = this.root;
    for (let l = this.topLevel; l > level; l--) {
      const e = this.readEntry(table + this.index(la, l) * this.entrySize);
      if (!(e & 1n)) throw new Error(`no table at level ${l - 1} for ${la.toString(16)}`);
      table = Number(e & (this.entrySize === 4 ? 0xfffff000n : 0x000ffffffffff000n));
    }
    return table + this.index(la, level) * this.entrySize;
  }

  getEntry(la: bigint, level: number): bigint {
    return this.readEntry(this.entryAddress(la, level));
  }
  setEntry(la: bigint, level: number, v: bigint): void {
    this.writeEntry(this.entryAddress(la, level), v);
  }
  /** OR / AND-NOT bits into an existing entry. */
  modify(la: bigint, level: number, set: bigint, clear = 0n): void {
    const a = this.entryAddress(la, level);
    this.writeEntry(a, (this.readEntry(a) | set) & ~clear);
  }

  /** Map the page of `la` to `pa`. */
  map(la: bigint, pa: bigint, o: MapOptions = {}): void {
    const size = o.size ?? 12;
    const leafLevel = size === 12 ? 1 : size === 30 ? 3 : 2;
    let table = this.root;
    for (let l = this.topLevel; l > leafLevel; l--) {
      const ea = table + this.index(la, l) * this.entrySize;
      let e = this.readEntry(ea);
      const flags = o.at?.[l] ?? (this.mode === 'pae' && l === 3 ? P : (o.upper ?? P | RW | US));
      if (!(e & 1n) || (e & ~0x000ffffffffff000n) !== flags) {
        const t = e & 1n ? Number(e & 0x000ffffffffff000n) : this.alloc();
        e = BigInt(t) | flags;
        this.writeEntry(ea, e);
      }
      table = Number(e & 0x000ffffffffff000n);
    }
    const flags = o.at?.[leafLevel] ?? o.leaf ?? P | RW | US;
    let addr: bigint;
    if (size === 22) {
      // 4-MiB 32-bit page: PA[31:22] in 31:22, PA[35:32] in 16:13 (PSE-36)
      addr = (pa & 0xffc00000n) | (((pa >> 32n) & 0xfn) << 13n);
    } else addr = pa & ~((1n << BigInt(size)) - 1n);
    this.writeEntry(table + this.index(la, leafLevel) * this.entrySize, addr | flags | (size > 12 ? PS : 0n));
  }

  /** The 4 PAE PDPTEs as the 8 numbers PagingState.pdptes wants. */
  pdptes(): number[] {
    const r: number[] = [];
    for (let i = 0; i < 4; i++) {
      r.push(this.mem.view.getUint32(this.root + i * 8, true) | 0, this.mem.view.getUint32(this.root + i * 8 + 4, true) | 0);
    }
    return r;
  }
}

/** lo/hi halves of a 64-bit linear address. */
export function split(la: bigint): [number, number] {
  return [Number(la & 0xffffffffn) | 0, Number((la >> 32n) & 0xffffffffn) | 0];
}

/** Register values for the four modes (CR0.PG|PE, CR4.PAE/LA57, EFER.LME|LMA). */
export function modeRegs(mode: BuilderMode): { cr0: number; cr4: number; efer: number } {
  const PG = 0x80000001 | 0;
  switch (mode) {
    case '32bit':
      return { cr0: PG, cr4: 0, efer: 0 };
    case 'pae':
      return { cr0: PG, cr4: 1 << 5, efer: 0 };
    case '4level':
      return { cr0: PG, cr4: 1 << 5, efer: 0x500 };
    case '5level':
      return { cr0: PG, cr4: (1 << 5) | (1 << 12), efer: 0x500 };
  }
}
