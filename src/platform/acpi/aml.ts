// A tiny ACPI Machine Language encoder for the few terms a minimal DSDT needs: ACPI 6.5 spec §20.2
// "AML Grammar Definition" — §20.2.2 name objects (NameSeg, NameString with RootChar '\',
// DualNamePrefix 0x2E, MultiNamePrefix 0x2F), §20.2.3 data objects (ZeroOp 0x00, OneOp 0x01, OnesOp
// 0xFF, BytePrefix 0x0A, WordPrefix 0x0B, DWordPrefix 0x0C, StringPrefix 0x0D, QWordPrefix 0x0E),
// §20.2.4 PkgLength, §20.2.5 terms (NameOp 0x08, ScopeOp 0x10, PackageOp 0x12, MethodOp 0x14,
// ReturnOp 0xA4, DeviceOp 0x5B 0x82). Each function returns the encoded bytes of one term.

export const AmlOp = {
  ZERO: 0x00,
  ONE: 0x01,
  NAME: 0x08,
  BYTE_PREFIX: 0x0a,
  WORD_PREFIX: 0x0b,
  DWORD_PREFIX: 0x0c,
  STRING_PREFIX: 0x0d,
  QWORD_PREFIX: 0x0e,
  SCOPE: 0x10,
  PACKAGE: 0x12,
  METHOD: 0x14,
  DUAL_NAME_PREFIX: 0x2e,
  MULTI_NAME_PREFIX: 0x2f,
  EXT_PREFIX: 0x5b,
  ROOT_CHAR: 0x5c,
  PARENT_PREFIX: 0x5e,
  EXT_DEVICE: 0x82,
  RETURN: 0xa4,
  ONES: 0xff,
} as const;

export type AmlBytes = readonly number[];

function concat(parts: readonly AmlBytes[]): number[] {
  const out: number[] = [];
  for (const p of parts) for (const b of p) out.push(b);
  return out;
}

/**
 * PkgLength (§20.2.4) for `contentLength` bytes that follow it; the encoded length counts itself.
 * One byte up to 63; otherwise bits 7:6 of the lead byte give 1-3 following bytes, its bits 3:0 the
 * low nibble and the following bytes the rest, least significant first.
 */
export function pkgLength(contentLength: number): number[] {
  if (contentLength + 1 < 0x40) return [contentLength + 1];
  for (let extra = 1; extra <= 3; extra++) {
    const total = contentLength + 1 + extra;
    if (total < 1 << (4 + 8 * extra)) {
      const out = [(extra << 6) | (total & 0xf)];
      for (let i = 0; i < extra; i++) out.push((total >> (4 + 8 * i)) & 0xff);
      return out;
    }
  }
  throw new RangeError(`AML package of ${contentLength} bytes is too long for a PkgLength`);
}

/** A NameSeg: 1-4 characters [A-Z_][A-Z0-9_]*, padded with '_'. */
export function nameSeg(seg: string): number[] {
  if (!/^[A-Z_][A-Z0-9_]{0,3}$/.test(seg)) throw new RangeError(`invalid AML NameSeg '${seg}'`);
  return [...seg.padEnd(4, '_')].map((c) => c.charCodeAt(0));
}

/** A NameString such as "\_SB_.PCI0", "_S5", "^FOO". */
export function nameString(path: string): number[] {
  const out: number[] = [];
  let rest = path;
  if (rest.startsWith('\\')) {
    out.push(AmlOp.ROOT_CHAR);
    rest = rest.slice(1);
  }
  while (rest.startsWith('^')) {
    out.push(AmlOp.PARENT_PREFIX);
    rest = rest.slice(1);
  }
  const segs = rest === '' ? [] : rest.split('.');
  if (segs.length === 0)
    out.push(0x00); // NullName
  else if (segs.length === 1) out.push(...nameSeg(segs[0]!));
  else if (segs.length === 2) out.push(AmlOp.DUAL_NAME_PREFIX, ...nameSeg(segs[0]!), ...nameSeg(segs[1]!));
  else out.push(AmlOp.MULTI_NAME_PREFIX, segs.length, ...segs.flatMap(nameSeg));
  return out;
}

/** An integer constant with the shortest encoding. */
export function integer(v: number | bigint): number[] {
  const x = BigInt.asUintN(64, BigInt(v));
  if (x === 0n) return [AmlOp.ZERO];
  if (x === 1n) return [AmlOp.ONE];
  if (x === 0xffffffffffffffffn) return [AmlOp.ONES];
  const le = (n: number): number[] =>
    Array.from({ length: n }, (_, i) => Number((x >> BigInt(8 * i)) & 0xffn));
  if (x <= 0xffn) return [AmlOp.BYTE_PREFIX, ...le(1)];
  if (x <= 0xffffn) return [AmlOp.WORD_PREFIX, ...le(2)];
  if (x <= 0xffffffffn) return [AmlOp.DWORD_PREFIX, ...le(4)];
  return [AmlOp.QWORD_PREFIX, ...le(8)];
}

export function string(s: string): number[] {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0 || c > 0x7f) throw new RangeError('AML strings are ASCII without NUL');
  }
  return [AmlOp.STRING_PREFIX, ...[...s].map((c) => c.charCodeAt(0)), 0];
}

/** Name(path, object) */
export function name(path: string, object: AmlBytes): number[] {
  return [AmlOp.NAME, ...nameString(path), ...object];
}

/** Scope(path) { terms } */
export function scope(path: string, ...terms: AmlBytes[]): number[] {
  const body = [...nameString(path), ...concat(terms)];
  return [AmlOp.SCOPE, ...pkgLength(body.length), ...body];
}

/** Device(path) { terms } */
export function device(path: string, ...terms: AmlBytes[]): number[] {
  const body = [...nameString(path), ...concat(terms)];
  return [AmlOp.EXT_PREFIX, AmlOp.EXT_DEVICE, ...pkgLength(body.length), ...body];
}

/** Package(n) { elements } (elements are data objects) */
export function packageOf(...elements: AmlBytes[]): number[] {
  if (elements.length > 255) throw new RangeError('a Package holds at most 255 elements (use VarPackage)');
  const body = [elements.length, ...concat(elements)];
  return [AmlOp.PACKAGE, ...pkgLength(body.length), ...body];
}

/** Method(path, argCount, serialized) { terms } */
export function method(path: string, argCount: number, serialized: boolean, ...terms: AmlBytes[]): number[] {
  if (argCount < 0 || argCount > 7) throw new RangeError('an AML method takes 0-7 arguments');
  const body = [...nameString(path), argCount | (serialized ? 8 : 0), ...concat(terms)];
  return [AmlOp.METHOD, ...pkgLength(body.length), ...body];
}

/** Return(object) */
export function returnOf(object: AmlBytes): number[] {
  return [AmlOp.RETURN, ...object];
}

/** A compressed EISA ID ("PNP0B00") as the 32-bit integer _HID takes (ACPI §19.6.35 EISAID). */
export function eisaId(id: string): number[] {
  if (!/^[A-Z]{3}[0-9A-F]{4}$/.test(id)) throw new RangeError(`invalid EISA ID '${id}'`);
  const c = (i: number): number => id.charCodeAt(i) - 0x40;
  const mfg = (c(0) << 10) | (c(1) << 5) | c(2);
  const prod = parseInt(id.slice(3), 16);
  // Stored big-endian in the 32-bit value: bytes mfg_hi, mfg_lo, prod_hi, prod_lo.
  const v = ((mfg >> 8) & 0xff) | ((mfg & 0xff) << 8) | (((prod >> 8) & 0xff) << 16) | ((prod & 0xff) << 24);
  return integer(v >>> 0);
}
