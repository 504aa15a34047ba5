// Checking a device snapshot before restore(): snapshots are plain JSON data that may come from a
// file, so a malformed one is refused with a clear error instead of corrupting device state.

import { TsvmmError } from '../util/result.ts';

export type FieldKind = 'number' | 'boolean' | 'string' | 'array' | 'object';

/** Throws SNAPSHOT_INVALID unless `state` is an object whose fields have the given kinds. */
export function checkSnapshot<T>(device: string, state: unknown, shape: Record<string, FieldKind>): T {
  if (typeof state !== 'object' || state === null || Array.isArray(state)) {
    throw new TsvmmError('SNAPSHOT_INVALID', `${device}: snapshot must be an object`);
  }
  const o = state as Record<string, unknown>;
  for (const [k, kind] of Object.entries(shape)) {
    const v = o[k];
    const good =
      kind === 'array'
        ? Array.isArray(v)
        : kind === 'object'
          ? typeof v === 'object' && v !== null
          : typeof v === kind;
    if (!good || (kind === 'number' && !Number.isFinite(v))) {
      throw new TsvmmError(
        'SNAPSHOT_INVALID',
        `${device}: snapshot field '${k}' must be ${kind === 'array' ? 'an array' : `a ${kind}`}`,
      );
    }
  }
  return state as T;
}
