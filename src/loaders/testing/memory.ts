// Test helper: a GuestMemory of the machine's layout backed by plain ArrayBuffers.

import { computeLayout } from '../../machine/layout.ts';
import { GuestMemory } from '../../machine/memory.ts';

export function testMemory(bytes: number, fill = 0): GuestMemory {
  const layout = computeLayout(bytes);
  const m = new GuestMemory(
    layout,
    layout.ram.map((r) => new ArrayBuffer(r.size)),
  );
  if (fill) for (const s of m.slots) s.bytes.fill(fill);
  return m;
}
