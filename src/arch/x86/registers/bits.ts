// Typed register bit tables: the row shape shared by CR0/CR3/CR4/EFER/XCR0/XSS/RFLAGS/DR6/DR7 and the
// helpers that derive masks and decodings from the rows (DESIGN.md §3.2: bits are tables, not shifts).
// Positions: Intel SDM Vol. 3A §2.5 (control registers), §2.6 (XCR0), §17.2 (debug registers).

import type { FeatureName } from '../cpuid/features.ts';

/**
 * A CPUID feature name (Linux's X86_FEATURE_* suffix in lower case, checked against the feature
 * database), or a pseudo feature the contract evaluates itself: 'perf_global_ctrl' =
 * CPUID.0AH:EAX[7:0] ≥ 2 (IA32_PERF_GLOBAL_CTRL exists).
 */
export type FeatureRef = FeatureName | 'perf_global_ctrl';

/** The feature(s) that make a bit meaningful; an array means any one of them suffices. */
export type Requires = FeatureRef | readonly FeatureRef[];

export interface RegisterBit {
  /** the manual's spelling, e.g. 'PCIDE' */
  readonly name: string;
  /** lowest bit position */
  readonly bit: number;
  /** number of bits for a multi-bit field (default 1) */
  readonly width?: number;
  /** CPUID feature that un-reserves the bit architecturally (any-of for arrays) */
  readonly requires?: Requires;
  /** where it is defined */
  readonly doc: string;
}

/** The mask of one row (all bits of a multi-bit field). */
export function rowMask(row: RegisterBit): bigint {
  const w = BigInt(row.width ?? 1);
  return ((1n << w) - 1n) << BigInt(row.bit);
}

/** The OR of every row's mask. */
export function maskOf(rows: readonly RegisterBit[]): bigint {
  let m = 0n;
  for (const r of rows) m |= rowMask(r);
  return m;
}

/** { NAME: mask } for every row, typed by the table's literal names. */
export function masksByName<const R extends readonly RegisterBit[]>(
  rows: R,
): { readonly [K in R[number]['name']]: bigint } {
  const o: Record<string, bigint> = {};
  for (const r of rows) o[r.name] = rowMask(r);
  return o as { readonly [K in R[number]['name']]: bigint };
}

/** The features a `requires` names, as an array. */
export function requiredFeatures(req: Requires | undefined): readonly FeatureRef[] {
  if (req === undefined) return [];
  return typeof req === 'string' ? [req] : req;
}

export interface DecodedBit<R extends RegisterBit = RegisterBit> {
  readonly row: R;
  /** field value (0/1 for single bits) */
  readonly value: bigint;
}

export interface Decoded<R extends RegisterBit = RegisterBit> {
  /** rows whose field is non-zero */
  readonly set: readonly DecodedBit<R>[];
  /** bit positions set in the value that no row names */
  readonly unknown: readonly number[];
}

/** Split a value into the named fields that are non-zero and the positions no row covers. */
export function decodeBits<R extends RegisterBit>(rows: readonly R[], value: bigint): Decoded<R> {
  const set: DecodedBit<R>[] = [];
  for (const r of rows) {
    const v = (value & rowMask(r)) >> BigInt(r.bit);
    if (v !== 0n) set.push({ row: r, value: v });
  }
  const known = maskOf(rows);
  const unknown: number[] = [];
  for (let i = 0; i < 64; i++) if ((value >> BigInt(i)) & 1n && !((known >> BigInt(i)) & 1n)) unknown.push(i);
  return { set, unknown };
}

/** "PE|ET|PG" style rendering; unknown bits are shown as bitN, fields as NAME=v. */
export function formatBits(rows: readonly RegisterBit[], value: bigint): string {
  const d = decodeBits(rows, value);
  const parts = d.set.map((b) => ((b.row.width ?? 1) > 1 ? `${b.row.name}=${b.value}` : b.row.name));
  for (const u of d.unknown) parts.push(`bit${u}`);
  return parts.length ? parts.join('|') : '0';
}

/** The row named `name` (throws on a typo: tables are closed). */
export function rowByName<R extends RegisterBit>(rows: readonly R[], name: string): R {
  const r = rows.find((x) => x.name === name);
  if (!r) throw new Error(`no bit named ${name}`);
  return r;
}

/** The row covering bit position `bit`, if any. */
export function rowAt<R extends RegisterBit>(rows: readonly R[], bit: number): R | undefined {
  return rows.find((r) => bit >= r.bit && bit < r.bit + (r.width ?? 1));
}
