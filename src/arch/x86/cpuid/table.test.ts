import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuidTable, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from './table.ts';
import { formatBitLocation } from './types.ts';

test('indexed and non-indexed lookups', () => {
  const t = new CpuidTable([
    { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 },
    { function: 7, index: 1, flags: KVM_CPUID_FLAG_SIGNIFCANT_INDEX, eax: 0x40, ebx: 0, ecx: 0, edx: 0 },
    { function: 1, index: 5, flags: 0, eax: 1, ebx: 2, ecx: 3, edx: 4 },
  ]);
  assert.equal(t.vendorString(), 'AuthenticAMD');
  assert.equal(t.get(7, 1)?.eax, 0x40);
  assert.equal(t.get(7, 0), undefined);
  // a non-indexed entry answers any index and is stored with index 0
  assert.equal(t.get(1, 9)?.ecx, 3);
  assert.equal(t.hasBit({ leaf: 7, subleaf: 1, reg: 'eax', bit: 6 }), true);
  assert.equal(t.hasBit({ leaf: 7, subleaf: 1, reg: 'eax', bit: 5 }), false);
});

test('withBit creates leaves and leaves the original untouched', () => {
  const t = new CpuidTable();
  const u = t.withBit({ leaf: 0x80000008, reg: 'ebx', bit: 20 }, true);
  assert.equal(t.size, 0);
  assert.equal(u.reg(0x80000008, 0, 'ebx'), 1 << 20);
  const v = u.withBit({ leaf: 0x80000008, reg: 'ebx', bit: 20 }, false);
  assert.equal(v.reg(0x80000008, 0, 'ebx'), 0);
  assert.equal(u.equals(v), false);
  assert.equal(u.equals(u.clone()), true);
});

test('bit locations print in SDM notation', () => {
  assert.equal(formatBitLocation({ leaf: 7, subleaf: 1, reg: 'eax', bit: 6 }), 'CPUID.(EAX=7,ECX=1):EAX[6]');
  assert.equal(formatBitLocation({ leaf: 0x80000008, reg: 'ebx', bit: 20 }), 'CPUID.(EAX=0x80000008):EBX[20]');
});
