// The register bit tables: well-formed rows, feature names that exist in the CPUID database, derived
// masks equal to the manuals' / KVM's constants, decoding and pretty-printing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featureByName } from '../cpuid/features.ts';
import {
  CR0_BITS,
  CR0_DEFINED_MASK,
  CR0_LOW_IGNORED,
  CR3_BITS,
  CR4_BITS,
  CR4_KVM_ALLOWLIST,
  CR4_KVM_ALWAYS_ALLOWED,
  Cr4,
  DR6_BITS,
  DR7_BITS,
  EFER_BITS,
  KVM_SUPPORTED_XCR0,
  KVM_SUPPORTED_XSS,
  RFLAGS_BITS,
  XCR0_BITS,
  XSS_BITS,
  decodeBits,
  formatBits,
  maskOf,
  requiredFeatures,
  rowAt,
  type RegisterBit,
} from './index.ts';
import {
  ENTRY_CONTROLS,
  EXIT_CONTROLS,
  PIN_CONTROLS,
  PROC2_CONTROLS,
  PROC_CONTROLS,
} from '../vmx/controls.ts';

const TABLES: Record<string, readonly RegisterBit[]> = {
  CR0: CR0_BITS,
  CR3: CR3_BITS,
  CR4: CR4_BITS,
  EFER: EFER_BITS,
  XCR0: XCR0_BITS,
  XSS: XSS_BITS,
  RFLAGS: RFLAGS_BITS,
  DR6: DR6_BITS,
  DR7: DR7_BITS,
  PIN: PIN_CONTROLS,
  PROC: PROC_CONTROLS,
  PROC2: PROC2_CONTROLS,
  EXIT: EXIT_CONTROLS,
  ENTRY: ENTRY_CONTROLS,
};

for (const [reg, rows] of Object.entries(TABLES)) {
  test(`${reg} table: unique names, no overlapping bits, ascending, documented, real feature names`, () => {
    const names = new Set<string>();
    let covered = 0n;
    let last = -1;
    for (const r of rows) {
      assert.ok(!names.has(r.name), `${reg}.${r.name} duplicated`);
      names.add(r.name);
      const m = maskOf([r]);
      assert.equal(covered & m, 0n, `${reg}.${r.name} overlaps`);
      covered |= m;
      assert.ok(r.bit > last, `${reg}.${r.name} out of order`);
      last = r.bit;
      assert.ok(r.bit >= 0 && r.bit + (r.width ?? 1) <= 64);
      assert.ok(r.doc.length > 5);
      for (const f of requiredFeatures(r.requires))
        if (f !== 'perf_global_ctrl') assert.ok(featureByName(f), `${reg}.${r.name}: unknown feature ${f}`);
    }
  });
}

test('derived masks equal the documented constants', () => {
  assert.equal(CR0_DEFINED_MASK, 0xe005_003fn);
  assert.equal(CR0_LOW_IGNORED, 0x1ffa_ffc0n);
  assert.equal(KVM_SUPPORTED_XCR0, 0x602ffn);
  assert.equal(KVM_SUPPORTED_XSS, 0x1800n);
  // spec §1.1: the static allowlist
  const allow = [
    'VME',
    'PVI',
    'TSD',
    'DE',
    'PSE',
    'PAE',
    'MCE',
    'PGE',
    'PCE',
    'OSFXSR',
    'PCIDE',
    'OSXSAVE',
    'SMEP',
    'FSGSBASE',
    'OSXMMEXCPT',
    'LA57',
    'VMXE',
    'SMAP',
    'PKE',
    'UMIP',
    'LAM_SUP',
    'CET',
  ] as const;
  assert.equal(
    CR4_KVM_ALLOWLIST,
    allow.reduce((m, n) => m | Cr4[n], 0n),
  );
  assert.equal(CR4_KVM_ALWAYS_ALLOWED, 0x7ffn);
  assert.equal(Cr4.LASS, 1n << 27n);
  assert.equal(Cr4.FRED, 1n << 32n);
});

test('decodeBits/formatBits/rowAt', () => {
  assert.equal(formatBits(CR0_BITS, 0x8000_0011n), 'PE|ET|PG');
  assert.equal(formatBits(CR4_BITS, (1n << 15n) | Cr4.PAE), 'PAE|bit15');
  assert.equal(formatBits(DR7_BITS, 0x0003_0401n), 'L0|FIXED1|RW0=3');
  assert.equal(formatBits(CR0_BITS, 0n), '0');
  const d = decodeBits(RFLAGS_BITS, 0x3002n);
  assert.deepEqual(
    d.set.map((b) => [b.row.name, b.value]),
    [
      ['FIXED1', 1n],
      ['IOPL', 3n],
    ],
  );
  assert.deepEqual(decodeBits(EFER_BITS, 1n << 63n).unknown, [63]);
  assert.equal(rowAt(DR7_BITS, 17)?.name, 'RW0');
  assert.equal(rowAt(CR4_BITS, 15), undefined);
});
