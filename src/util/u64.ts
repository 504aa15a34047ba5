// 64-bit helpers for the API boundary (bigint) and for hot paths (lo/hi int32 pairs).

export const U64_MASK = (1n << 64n) - 1n;

export function u64(x: bigint): bigint {
  return x & U64_MASK;
}

/** Parse a decimal or 0x-hex string into a uint64; undefined when malformed or out of range. */
export function parseU64(text: string): bigint | undefined {
  const t = text.trim().replace(/_/g, '');
  if (!/^(0x[0-9a-f]+|0b[01]+|[0-9]+)$/i.test(t)) return undefined;
  const v = BigInt(t);
  return v > U64_MASK ? undefined : v;
}

export function hex(x: number | bigint, width = 0): string {
  const v = typeof x === 'bigint' ? u64(x) : x >>> 0;
  return '0x' + v.toString(16).padStart(width, '0');
}

export function hex32(x: number): string {
  return '0x' + (x >>> 0).toString(16).padStart(8, '0');
}

export function bit(n: number): bigint {
  return 1n << BigInt(n);
}

export function lo32(x: bigint): number {
  return Number(x & 0xffffffffn) | 0;
}
export function hi32(x: bigint): number {
  return Number((x >> 32n) & 0xffffffffn) | 0;
}
export function fromHiLo(hi: number, lo: number): bigint {
  return (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);
}

/** Mask of bits [lo, hi] inclusive, as bigint. */
export function bitRange(lo: number, hi: number): bigint {
  return ((1n << BigInt(hi - lo + 1)) - 1n) << BigInt(lo);
}
