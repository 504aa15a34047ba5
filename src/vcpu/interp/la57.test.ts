// Canonical addresses under 5-level paging (repro for the Linux KASLR boot halt, issue #8): with
// CR4.LA57 a 64-bit linear address is canonical when bits 63:56 equal bit 56 (SDM Vol. 3A §3.3.7.1,
// §4.5), so the kernel's 5-level direct map at 0xFF11_0000_0000_0000 is a valid address. The interpreter
// used the 4-level rule (bits 63:47) everywhere, and Debian's kernel, which the in-guest decompressor
// switches to 5-level paging when CPUID offers LA57, took #GP in early boot and halted.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { makeGuest } from './testing/harness.ts';
import { createInterpBackend } from './index.ts';

const u64 = (v: bigint): number[] =>
  Array.from({ length: 8 }, (_, i) => Number((v >> BigInt(8 * i)) & 0xffn));
const HIGH = 0xff11000000000000n; // PML5 index 0x111: canonical only with LA57

// movabs rax, HIGH+0x2000; mov rbx, [rax]; movabs rcx, HIGH+0x10019; jmp rcx; (0x10019:) hlt
const CODE = new Uint8Array([
  0x48,
  0xb8,
  ...u64(HIGH + 0x2000n),
  0x48,
  0x8b,
  0x18,
  0x48,
  0xb9,
  ...u64(HIGH + 0x10019n),
  0xff,
  0xe1,
  0xf4,
]);

function guest(la57: boolean) {
  const cpuid = createInterpBackend()
    .supportedCpuid()
    .map((e) => (e.function === 7 && e.index === 0 ? { ...e, ecx: (e.ecx | (1 << 16)) >>> 0 } : e));
  const g = makeGuest(CODE, 'long', cpuid);
  // PML5 at 0x5000: entries 0 and 0x111 both lead to the harness's PML4 (identity map of 1 GiB)
  g.dv.setUint32(0x5000, 0x2007, true);
  g.dv.setUint32(0x5000 + 0x111 * 8, 0x2007, true);
  const s = g.vcpu.getSregs();
  if (la57) g.vcpu.setSregs({ ...s, cr3: 0x5000n, cr4: s.cr4 | 0x1000n });
  return g;
}

test('LA57: 0xFF11_0000_0000_2000 is canonical under 5-level paging (loads and branch targets)', () => {
  const g = guest(true);
  const e = g.run();
  assert.equal(e.reason, 'hlt', JSON.stringify(e));
  const r = g.regs();
  // physical 0x2000 holds the PML4 entry 0x3007 (plus the accessed bit the walk just set)
  assert.equal(r.rbx & ~0x20n, 0x3007n, 'the load through the PML5[0x111] mapping read physical 0x2000');
  assert.equal(r.rip, HIGH + 0x1001an, 'the jump to the 57-bit-canonical target ran its HLT');
});

test('without LA57 the same address is non-canonical: #GP (here: no IDT, so a triple fault)', () => {
  const g = guest(false);
  assert.equal(g.run().reason, 'shutdown');
  assert.equal(g.regs().rip, 0x1000an, 'the fault is at the load, before RBX changes');
});
