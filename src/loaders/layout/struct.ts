// One helper for protocol layouts described as offset tables (DESIGN.md §3.8): a table maps field
// names to [offset, size] with the specification's hex offsets; reads and writes go through a
// DataView, little-endian unless the table says otherwise. Sizes 1, 2, 4 give numbers, 8 gives bigint.

export type FieldSize = 1 | 2 | 4 | 8;
export type StructTable = Readonly<Record<string, readonly [offset: number, size: FieldSize]>>;

/** Size of a table: the end of its last field. */
export function structSize(t: StructTable): number {
  let end = 0;
  for (const [o, s] of Object.values(t)) end = Math.max(end, o + s);
  return end;
}

export function getField(
  dv: DataView,
  base: number,
  t: StructTable,
  name: string,
  littleEndian = true,
): number | bigint {
  const f = t[name];
  if (!f) throw new RangeError(`no field ${name}`);
  const [o, s] = f;
  switch (s) {
    case 1:
      return dv.getUint8(base + o);
    case 2:
      return dv.getUint16(base + o, littleEndian);
    case 4:
      return dv.getUint32(base + o, littleEndian);
    default:
      return dv.getBigUint64(base + o, littleEndian);
  }
}

/** A numeric field (for 8-byte fields: as a JS number, exact up to 2^53). */
export function getNum(
  dv: DataView,
  base: number,
  t: StructTable,
  name: string,
  littleEndian = true,
): number {
  return Number(getField(dv, base, t, name, littleEndian));
}

export function setField(
  dv: DataView,
  base: number,
  t: StructTable,
  name: string,
  value: number | bigint,
  littleEndian = true,
): void {
  const f = t[name];
  if (!f) throw new RangeError(`no field ${name}`);
  const [o, s] = f;
  switch (s) {
    case 1:
      dv.setUint8(base + o, Number(value));
      return;
    case 2:
      dv.setUint16(base + o, Number(value), littleEndian);
      return;
    case 4:
      dv.setUint32(base + o, Number(value) >>> 0, littleEndian);
      return;
    default:
      dv.setBigUint64(base + o, BigInt.asUintN(64, BigInt(value)), littleEndian);
  }
}
