// Encoders/decoders between the Backend interface's objects and the KVM UAPI structs, driven by the
// offset tables of layout.ts (Linux Documentation/virt/kvm/api.rst: KVM_GET/SET_REGS, SREGS, FPU,
// MSRS, CPUID2, XCRS). Little-endian DataView access throughout; bigint only at this boundary.

import type { CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import type { DescriptorTable, Fpu, MsrEntry, Regs, Segment, Sregs, Xcr } from '../backend.ts';
import { BackendError } from '../backend.ts';
import { KvmCpuid2, KvmCpuidEntry2, KvmDtable, KvmFpu, KvmMsrEntry, KvmMsrs, KvmRegs } from './layout.ts';
import { KvmSegment, KvmSregs, KvmXcr, KvmXcrs, KVM_MAX_XCRS } from './layout.ts';

const REG_NAMES = [
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

const U64 = (1n << 64n) - 1n;

function u64(value: bigint, what: string): bigint {
  if (typeof value !== 'bigint')
    throw new BackendError('EINVAL', `${what} must be a bigint (got ${typeof value})`);
  return value & U64;
}

function uint(value: number, bits: number, what: string): number {
  if (!Number.isInteger(value) || value < 0 || value >= 2 ** bits) {
    throw new BackendError('EINVAL', `${what} must be an integer in [0, 2^${bits}) (got ${value})`);
  }
  return value;
}

export function encodeRegs(r: Regs): Uint8Array {
  const buf = new Uint8Array(KvmRegs.SIZE);
  const dv = new DataView(buf.buffer);
  for (const n of REG_NAMES) dv.setBigUint64(KvmRegs[n], u64(r[n], `regs.${n}`), true);
  return buf;
}

export function decodeRegs(buf: Uint8Array): Regs {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const r = {} as Regs;
  for (const n of REG_NAMES) r[n] = dv.getBigUint64(KvmRegs[n], true);
  return r;
}

const SEGMENTS = ['cs', 'ds', 'es', 'fs', 'gs', 'ss', 'tr', 'ldt'] as const;

function encodeSegment(dv: DataView, at: number, s: Segment, what: string): void {
  dv.setBigUint64(at + KvmSegment.base, u64(s.base, `${what}.base`), true);
  dv.setUint32(at + KvmSegment.limit, uint(s.limit, 32, `${what}.limit`), true);
  dv.setUint16(at + KvmSegment.selector, uint(s.selector, 16, `${what}.selector`), true);
  dv.setUint8(at + KvmSegment.type, uint(s.type, 4, `${what}.type`));
  dv.setUint8(at + KvmSegment.present, s.present ? 1 : 0);
  dv.setUint8(at + KvmSegment.dpl, uint(s.dpl, 2, `${what}.dpl`));
  dv.setUint8(at + KvmSegment.db, s.db ? 1 : 0);
  dv.setUint8(at + KvmSegment.s, s.s ? 1 : 0);
  dv.setUint8(at + KvmSegment.l, s.l ? 1 : 0);
  dv.setUint8(at + KvmSegment.g, s.g ? 1 : 0);
  dv.setUint8(at + KvmSegment.avl, s.avl ? 1 : 0);
  dv.setUint8(at + KvmSegment.unusable, s.unusable ? 1 : 0);
}

function decodeSegment(dv: DataView, at: number): Segment {
  return {
    base: dv.getBigUint64(at + KvmSegment.base, true),
    limit: dv.getUint32(at + KvmSegment.limit, true),
    selector: dv.getUint16(at + KvmSegment.selector, true),
    type: dv.getUint8(at + KvmSegment.type),
    present: dv.getUint8(at + KvmSegment.present) !== 0,
    dpl: dv.getUint8(at + KvmSegment.dpl),
    db: dv.getUint8(at + KvmSegment.db) !== 0,
    s: dv.getUint8(at + KvmSegment.s) !== 0,
    l: dv.getUint8(at + KvmSegment.l) !== 0,
    g: dv.getUint8(at + KvmSegment.g) !== 0,
    avl: dv.getUint8(at + KvmSegment.avl) !== 0,
    unusable: dv.getUint8(at + KvmSegment.unusable) !== 0,
  };
}

function encodeDtable(dv: DataView, at: number, t: DescriptorTable, what: string): void {
  dv.setBigUint64(at + KvmDtable.base, u64(t.base, `${what}.base`), true);
  dv.setUint16(at + KvmDtable.limit, uint(t.limit, 16, `${what}.limit`), true);
}

function decodeDtable(dv: DataView, at: number): DescriptorTable {
  return {
    base: dv.getBigUint64(at + KvmDtable.base, true),
    limit: dv.getUint16(at + KvmDtable.limit, true),
  };
}

export function encodeSregs(s: Sregs): Uint8Array {
  const buf = new Uint8Array(KvmSregs.SIZE);
  const dv = new DataView(buf.buffer);
  for (const n of SEGMENTS) encodeSegment(dv, KvmSregs[n], s[n], `sregs.${n}`);
  encodeDtable(dv, KvmSregs.gdt, s.gdt, 'sregs.gdt');
  encodeDtable(dv, KvmSregs.idt, s.idt, 'sregs.idt');
  dv.setBigUint64(KvmSregs.cr0, u64(s.cr0, 'sregs.cr0'), true);
  dv.setBigUint64(KvmSregs.cr2, u64(s.cr2, 'sregs.cr2'), true);
  dv.setBigUint64(KvmSregs.cr3, u64(s.cr3, 'sregs.cr3'), true);
  dv.setBigUint64(KvmSregs.cr4, u64(s.cr4, 'sregs.cr4'), true);
  dv.setBigUint64(KvmSregs.cr8, u64(s.cr8, 'sregs.cr8'), true);
  dv.setBigUint64(KvmSregs.efer, u64(s.efer, 'sregs.efer'), true);
  dv.setBigUint64(KvmSregs.apic_base, u64(s.apicBase, 'sregs.apicBase'), true);
  if (s.pendingInterrupt !== -1) {
    const v = uint(s.pendingInterrupt, 8, 'sregs.pendingInterrupt');
    const at = KvmSregs.interrupt_bitmap + (v >> 6) * 8;
    dv.setBigUint64(at, dv.getBigUint64(at, true) | (1n << BigInt(v & 63)), true);
  }
  return buf;
}

export function decodeSregs(buf: Uint8Array): Sregs {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let pending = -1;
  for (let w = 0; w < 4 && pending < 0; w++) {
    const word = dv.getBigUint64(KvmSregs.interrupt_bitmap + w * 8, true);
    for (let b = 0; b < 64; b++) {
      if ((word >> BigInt(b)) & 1n) {
        pending = w * 64 + b;
        break;
      }
    }
  }
  return {
    cs: decodeSegment(dv, KvmSregs.cs),
    ds: decodeSegment(dv, KvmSregs.ds),
    es: decodeSegment(dv, KvmSregs.es),
    fs: decodeSegment(dv, KvmSregs.fs),
    gs: decodeSegment(dv, KvmSregs.gs),
    ss: decodeSegment(dv, KvmSregs.ss),
    tr: decodeSegment(dv, KvmSregs.tr),
    ldt: decodeSegment(dv, KvmSregs.ldt),
    gdt: decodeDtable(dv, KvmSregs.gdt),
    idt: decodeDtable(dv, KvmSregs.idt),
    cr0: dv.getBigUint64(KvmSregs.cr0, true),
    cr2: dv.getBigUint64(KvmSregs.cr2, true),
    cr3: dv.getBigUint64(KvmSregs.cr3, true),
    cr4: dv.getBigUint64(KvmSregs.cr4, true),
    cr8: dv.getBigUint64(KvmSregs.cr8, true),
    efer: dv.getBigUint64(KvmSregs.efer, true),
    apicBase: dv.getBigUint64(KvmSregs.apic_base, true),
    pendingInterrupt: pending,
  };
}

/** struct kvm_cpuid2 with room for `nent` entries (KVM writes back the real count). */
export function cpuid2Buffer(nent: number): Uint8Array {
  const buf = new Uint8Array(KvmCpuid2.SIZE + nent * KvmCpuidEntry2.SIZE);
  new DataView(buf.buffer).setUint32(KvmCpuid2.nent, nent, true);
  return buf;
}

export function encodeCpuid2(entries: readonly CpuidEntry[]): Uint8Array {
  const buf = cpuid2Buffer(entries.length);
  const dv = new DataView(buf.buffer);
  entries.forEach((e, i) => {
    const at = KvmCpuid2.entries + i * KvmCpuidEntry2.SIZE;
    const what = `cpuid[${i}]`;
    dv.setUint32(at + KvmCpuidEntry2.function, uint(e.function >>> 0, 32, `${what}.function`), true);
    dv.setUint32(at + KvmCpuidEntry2.index, uint(e.index >>> 0, 32, `${what}.index`), true);
    dv.setUint32(at + KvmCpuidEntry2.flags, uint(e.flags >>> 0, 32, `${what}.flags`), true);
    dv.setUint32(at + KvmCpuidEntry2.eax, e.eax >>> 0, true);
    dv.setUint32(at + KvmCpuidEntry2.ebx, e.ebx >>> 0, true);
    dv.setUint32(at + KvmCpuidEntry2.ecx, e.ecx >>> 0, true);
    dv.setUint32(at + KvmCpuidEntry2.edx, e.edx >>> 0, true);
  });
  return buf;
}

export function decodeCpuid2(buf: Uint8Array): CpuidEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getUint32(KvmCpuid2.nent, true);
  const out: CpuidEntry[] = [];
  for (let i = 0; i < n; i++) {
    const at = KvmCpuid2.entries + i * KvmCpuidEntry2.SIZE;
    if (at + KvmCpuidEntry2.SIZE > buf.byteLength) break;
    out.push({
      function: dv.getUint32(at + KvmCpuidEntry2.function, true),
      index: dv.getUint32(at + KvmCpuidEntry2.index, true),
      flags: dv.getUint32(at + KvmCpuidEntry2.flags, true),
      eax: dv.getUint32(at + KvmCpuidEntry2.eax, true),
      ebx: dv.getUint32(at + KvmCpuidEntry2.ebx, true),
      ecx: dv.getUint32(at + KvmCpuidEntry2.ecx, true),
      edx: dv.getUint32(at + KvmCpuidEntry2.edx, true),
    });
  }
  return out;
}

export function encodeMsrs(entries: readonly MsrEntry[]): Uint8Array {
  const buf = new Uint8Array(KvmMsrs.SIZE + entries.length * KvmMsrEntry.SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(KvmMsrs.nmsrs, entries.length, true);
  entries.forEach((e, i) => {
    const at = KvmMsrs.entries + i * KvmMsrEntry.SIZE;
    dv.setUint32(at + KvmMsrEntry.index, uint(e.index, 32, `msrs[${i}].index`), true);
    dv.setBigUint64(at + KvmMsrEntry.data, u64(e.data, `msrs[${i}].data`), true);
  });
  return buf;
}

/** The first `count` entries of a kvm_msrs buffer. */
export function decodeMsrs(buf: Uint8Array, count: number): MsrEntry[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: MsrEntry[] = [];
  for (let i = 0; i < count; i++) {
    const at = KvmMsrs.entries + i * KvmMsrEntry.SIZE;
    out.push({
      index: dv.getUint32(at + KvmMsrEntry.index, true),
      data: dv.getBigUint64(at + KvmMsrEntry.data, true),
    });
  }
  return out;
}

export function encodeXcrs(xcrs: readonly Xcr[]): Uint8Array {
  if (xcrs.length > KVM_MAX_XCRS)
    throw new BackendError('E2BIG', `at most ${KVM_MAX_XCRS} XCRs (got ${xcrs.length})`);
  const buf = new Uint8Array(KvmXcrs.SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(KvmXcrs.nr_xcrs, xcrs.length, true);
  xcrs.forEach((x, i) => {
    const at = KvmXcrs.xcrs + i * KvmXcr.SIZE;
    dv.setUint32(at + KvmXcr.xcr, uint(x.xcr, 32, `xcrs[${i}].xcr`), true);
    dv.setBigUint64(at + KvmXcr.value, u64(x.value, `xcrs[${i}].value`), true);
  });
  return buf;
}

export function decodeXcrs(buf: Uint8Array): Xcr[] {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Math.min(dv.getUint32(KvmXcrs.nr_xcrs, true), KVM_MAX_XCRS);
  const out: Xcr[] = [];
  for (let i = 0; i < n; i++) {
    const at = KvmXcrs.xcrs + i * KvmXcr.SIZE;
    out.push({ xcr: dv.getUint32(at + KvmXcr.xcr, true), value: dv.getBigUint64(at + KvmXcr.value, true) });
  }
  return out;
}

export function encodeFpu(f: Fpu): Uint8Array {
  if (!(f.fpr instanceof Uint8Array) || f.fpr.length !== 128)
    throw new BackendError('EINVAL', 'fpu.fpr must be 128 bytes');
  if (!(f.xmm instanceof Uint8Array) || f.xmm.length !== 256)
    throw new BackendError('EINVAL', 'fpu.xmm must be 256 bytes');
  const buf = new Uint8Array(KvmFpu.SIZE);
  const dv = new DataView(buf.buffer);
  buf.set(f.fpr, KvmFpu.fpr);
  dv.setUint16(KvmFpu.fcw, uint(f.fcw, 16, 'fpu.fcw'), true);
  dv.setUint16(KvmFpu.fsw, uint(f.fsw, 16, 'fpu.fsw'), true);
  dv.setUint8(KvmFpu.ftwx, uint(f.ftwx, 8, 'fpu.ftwx'));
  dv.setUint16(KvmFpu.last_opcode, uint(f.lastOpcode, 16, 'fpu.lastOpcode'), true);
  dv.setBigUint64(KvmFpu.last_ip, u64(f.lastIp, 'fpu.lastIp'), true);
  dv.setBigUint64(KvmFpu.last_dp, u64(f.lastDp, 'fpu.lastDp'), true);
  buf.set(f.xmm, KvmFpu.xmm);
  dv.setUint32(KvmFpu.mxcsr, uint(f.mxcsr, 32, 'fpu.mxcsr'), true);
  return buf;
}

export function decodeFpu(buf: Uint8Array): Fpu {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  return {
    fpr: buf.slice(KvmFpu.fpr, KvmFpu.fpr + 128),
    fcw: dv.getUint16(KvmFpu.fcw, true),
    fsw: dv.getUint16(KvmFpu.fsw, true),
    ftwx: dv.getUint8(KvmFpu.ftwx),
    lastOpcode: dv.getUint16(KvmFpu.last_opcode, true),
    lastIp: dv.getBigUint64(KvmFpu.last_ip, true),
    lastDp: dv.getBigUint64(KvmFpu.last_dp, true),
    xmm: buf.slice(KvmFpu.xmm, KvmFpu.xmm + 256),
    mxcsr: dv.getUint32(KvmFpu.mxcsr, true),
  };
}
