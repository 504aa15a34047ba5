// Round trips of the KVM struct encoders (structs.ts) and their refusal of malformed values.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Fpu, Regs, Segment, Sregs } from '../backend.ts';
import { BackendError } from '../backend.ts';
import { KvmRegs, KvmSregs } from './layout.ts';
import * as S from './structs.ts';

function seg(selector: number, l = false): Segment {
  return {
    base: 0x1234n,
    limit: 0xfffff,
    selector,
    type: 11,
    present: true,
    dpl: 3,
    db: !l,
    s: true,
    l,
    g: true,
    avl: true,
    unusable: false,
  };
}

function sampleSregs(): Sregs {
  return {
    cs: seg(8, true),
    ds: seg(0x10),
    es: seg(0x18),
    fs: { ...seg(0), base: 0xffff800000001000n },
    gs: seg(0x20),
    ss: seg(0x28),
    tr: { ...seg(0x30), type: 11, s: false },
    ldt: { ...seg(0), unusable: true, present: false },
    gdt: { base: 0x500n, limit: 23 },
    idt: { base: 0xffffffff81000000n, limit: 0xfff },
    cr0: 0x80050033n,
    cr2: 0xdeadbeefn,
    cr3: 0x9000n,
    cr4: 0x3406e0n,
    cr8: 0n,
    efer: 0xd01n,
    apicBase: 0xfee00900n,
    pendingInterrupt: 0x41,
  };
}

test('kvm_regs round trip keeps all 18 registers at their offsets', () => {
  const names = [
    'rax',
    'rbx',
    'rcx',
    'rdx',
    'rsi',
    'rdi',
    'rsp',
    'rbp',
    'r8',
    'r9',
    'r10',
    'r11',
    'r12',
    'r13',
    'r14',
    'r15',
    'rip',
    'rflags',
  ] as const;
  const r = {} as Regs;
  names.forEach((n, i) => (r[n] = (0x1111111111111111n * BigInt(i + 1)) & ((1n << 64n) - 1n)));
  const buf = S.encodeRegs(r);
  assert.equal(buf.length, KvmRegs.SIZE);
  assert.equal(new DataView(buf.buffer).getBigUint64(KvmRegs.rip, true), r.rip);
  assert.deepEqual(S.decodeRegs(buf), r);
});

test('kvm_sregs round trip, including the pending-interrupt bitmap', () => {
  const s = sampleSregs();
  const buf = S.encodeSregs(s);
  assert.equal(buf.length, KvmSregs.SIZE);
  // vector 0x41 is bit 1 of interrupt_bitmap[1]
  assert.equal(new DataView(buf.buffer).getBigUint64(KvmSregs.interrupt_bitmap + 8, true), 2n);
  assert.deepEqual(S.decodeSregs(buf), s);
  assert.equal(S.decodeSregs(S.encodeSregs({ ...s, pendingInterrupt: -1 })).pendingInterrupt, -1);
});

test('cpuid2, msrs, xcrs and fpu round trips', () => {
  const cpuid = [
    { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 },
    { function: 7, index: 1, flags: 1, eax: 0xffffffff, ebx: 0, ecx: 1, edx: 2 },
  ];
  assert.deepEqual(S.decodeCpuid2(S.encodeCpuid2(cpuid)), cpuid);
  const msrs = [
    { index: 0xc0000080, data: 0xd01n },
    { index: 0x10a, data: 1n << 63n },
  ];
  assert.deepEqual(S.decodeMsrs(S.encodeMsrs(msrs), 2), msrs);
  const xcrs = [{ xcr: 0, value: 7n }];
  assert.deepEqual(S.decodeXcrs(S.encodeXcrs(xcrs)), xcrs);
  const fpu: Fpu = {
    fpr: new Uint8Array(128).map((_, i) => i),
    fcw: 0x37f,
    fsw: 0x1234,
    ftwx: 0xaa,
    lastOpcode: 0x7ff,
    lastIp: 0x401000n,
    lastDp: 0x601000n,
    xmm: new Uint8Array(256).map((_, i) => 255 - i),
    mxcsr: 0x1f80,
  };
  assert.deepEqual(S.decodeFpu(S.encodeFpu(fpu)), fpu);
});

test('malformed values are refused with BackendError naming the field', () => {
  const s = sampleSregs();
  assert.throws(
    () => S.encodeSregs({ ...s, cs: { ...s.cs, type: 16 } }),
    (e: unknown) => e instanceof BackendError && e.code === 'EINVAL' && /sregs\.cs\.type/.test(e.message),
  );
  assert.throws(() => S.encodeSregs({ ...s, gdt: { base: 0n, limit: 0x10000 } }), /sregs\.gdt\.limit/);
  assert.throws(() => S.encodeSregs({ ...s, cr4: 5 as unknown as bigint }), /sregs\.cr4 must be a bigint/);
  assert.throws(() => S.encodeSregs({ ...s, pendingInterrupt: 256 }), /pendingInterrupt/);
  assert.throws(() => S.encodeMsrs([{ index: -1, data: 0n }]), /msrs\[0\]\.index/);
  assert.throws(
    () => S.encodeXcrs(Array.from({ length: 17 }, () => ({ xcr: 0, value: 1n }))),
    (e: unknown) => e instanceof BackendError && e.code === 'E2BIG',
  );
  assert.throws(() => S.encodeFpu({ fpr: new Uint8Array(3) } as unknown as Fpu), /fpu\.fpr/);
});
