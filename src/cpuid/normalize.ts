// The "normalized" stage: makes a guest table self-consistent before it is handed to a backend
// (KVM_SET_CPUID2) and to the contract layer. Spec shared/spec/kvm-contract.md §1.5 (OS-reflected bits),
// §4.3 (leaf 0xD), §5.4 (topology, MAXPHYADDR), §5.6 (max leaves, MAXPHYADDR default 36).
//   - OS-reflected bits (OSXSAVE, OSPKE) cleared: they are live mirrors of guest CR4.
//   - Leaf 0xD: XCR0/XSS components exactly those of the offered XSAVE features, sizes computed from
//     the component sizes (0xD subleaves) — Intel SDM Vol. 1 §13.2, §13.4.3.
//   - Topology for N vCPUs: one package, N cores, one thread each (leaves 1, 4, 0xB, 0x1F, AMD 0x80000008
//     ECX and 0x8000001E). APIC IDs are 0 here; the VMM patches each vCPU's own ID.
//   - MAXPHYADDR capped by the supported set; virtual-address width 48 or 57 (LA57).
//   - Max leaf values (0, 7.0:EAX, 0x40000000, 0x80000000) match the entries present.

import { CpuidTable, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../arch/x86/cpuid/table.ts';
import { vendorOf, isAmdLike } from '../arch/x86/cpuid/vendor.ts';
import { TsvmmError } from '../util/result.ts';
import { allFeatures, lookupFeature } from './features.ts';
import { ChangeLog, type StageResult } from './stage.ts';
import { buildXsaveLeaf } from './supported/kvm.ts';
import { featureSet } from './features.ts';
import { setReg } from './supported/common.ts';

export interface NormalizeOptions {
  readonly vcpus?: number;
}

const I = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;

function log2ceil(n: number): number {
  let s = 0;
  while (1 << s < n) s++;
  return s;
}

function topology(t: CpuidTable, n: number, log: ChangeLog): void {
  const shift = log2ceil(n);
  const e1 = t.get(1, 0);
  if (e1) {
    let ebx = (e1.ebx & 0x0000ffff) | ((Math.min(n, 255) & 0xff) << 16);
    ebx &= 0x00ffffff; // initial APIC ID: per vCPU, patched by the VMM
    const htt = lookupFeature('ht');
    t.put({ ...e1, ebx });
    if (htt) t.setBit(htt, n > 1);
  }
  // leaf 4: EAX[31:26] = cores per package - 1 (power of two), EAX[25:14] = threads sharing the cache - 1
  for (const e of t.entries()) {
    if (e.function !== 4) continue;
    const level = (e.eax >>> 5) & 7;
    const sharing = level >= 3 ? (1 << shift) - 1 : 0;
    const eax = (e.eax & 0x3fff) | ((sharing & 0xfff) << 14) | ((((1 << shift) - 1) & 0x3f) << 26);
    t.put({ ...e, eax: eax >>> 0 });
  }
  const maxBasic = t.maxBasicLeaf();
  for (const leaf of [0xb, 0x1f]) {
    if (leaf > maxBasic || (leaf === 0x1f && !t.get(0x1f, 0))) continue;
    for (const e of t.entries()) if (e.function === leaf) t.delete(leaf, e.index);
    t.put({ function: leaf, index: 0, flags: I, eax: 0, ebx: 1, ecx: 0x100, edx: 0 });
    t.put({ function: leaf, index: 1, flags: I, eax: shift, ebx: n, ecx: 0x201, edx: 0 });
    t.put({ function: leaf, index: 2, flags: I, eax: 0, ebx: 0, ecx: 2, edx: 0 });
  }
  if (isAmdLike(vendorOf(t))) {
    const e8 = t.get(0x80000008, 0);
    if (e8) t.put({ ...e8, ecx: (e8.ecx & ~0xf0ff) | ((n - 1) & 0xff) | ((shift & 0xf) << 12) });
    if (t.get(0x8000001e, 0))
      t.put({ function: 0x8000001e, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
    for (const e of t.entries()) if (e.function === 0x80000026) t.delete(0x80000026, e.index);
  }
  log.note(`topology: 1 package, ${n} core(s), 1 thread per core; APIC ID field 0 (patched per vCPU)`);
}

function fixMaxLeaves(t: CpuidTable, log: ChangeLog): void {
  const ranges: [number, number][] = [
    [0, 0x3fffffff],
    [0x40000000, 0x400000ff],
    [0x80000000, 0x8fffffff],
  ];
  for (const [lo, hi] of ranges) {
    const head = t.get(lo, 0);
    if (!head) continue;
    const present = t.entries().filter((e) => e.function > lo && e.function <= hi);
    const highest = present.reduce((m, e) => Math.max(m, e.function), lo);
    let max = head.eax >>> 0;
    if (max < lo || max > hi) max = highest;
    for (const e of present) {
      if (e.function > max) {
        t.delete(e.function, e.index);
      }
    }
    const newMax = Math.min(
      max,
      t
        .entries()
        .filter((e) => e.function >= lo && e.function <= hi)
        .reduce((m, e) => Math.max(m, e.function), lo),
    );
    if (newMax !== head.eax >>> 0)
      log.note(
        `max leaf 0x${lo.toString(16)}:EAX ${'0x' + (head.eax >>> 0).toString(16)} → 0x${newMax.toString(16)} (entries present)`,
      );
    t.put({ ...head, eax: newMax });
  }
  const e7 = t.get(7, 0);
  if (e7) {
    const subs = t
      .entries()
      .filter((e) => e.function === 7)
      .reduce((m, e) => Math.max(m, e.index), 0);
    if (subs !== e7.eax) t.put({ ...e7, eax: subs });
  }
}

export function normalizeStage(
  guest: CpuidTable,
  supported: CpuidTable,
  opts: NormalizeOptions = {},
): StageResult {
  const n = opts.vcpus ?? 1;
  if (!Number.isInteger(n) || n < 1 || n > 255) {
    throw new TsvmmError('CPUID_BAD_VCPUS', `vCPU count must be an integer 1..255, got ${opts.vcpus}`);
  }
  const log = new ChangeLog('normalized');
  const t = guest.clone();
  for (const f of allFeatures()) {
    if (f.kind === 'os' && t.hasBit(f)) {
      t.setBit(f, false);
      log.hide(f.name, {
        kind: 'os-reflected',
        mirrors: f.name === 'ospke' ? 'CR4.PKE' : f.name === 'osxsave' ? 'CR4.OSXSAVE' : 'guest OS state',
      });
    }
  }
  // leaf 0xD from the offered features, limited to the components the supported set enumerates
  if (t.maxBasicLeaf() >= 0xd || t.get(0xd, 0)) {
    const feats = featureSet(t);
    const d1eax = t.reg(0xd, 1, 'eax');
    const limits = { xcr0: supported.reg(0xd, 0, 'eax') | 3, xss: supported.reg(0xd, 1, 'ecx') };
    const { xcr0, xss } = buildXsaveLeaf(t, supported, feats, limits);
    if (t.get(0xd, 1)) setReg(t, 0xd, 1, 'eax', d1eax, true);
    if (xcr0)
      log.note(
        `XSAVE: XCR0 components 0x${xcr0.toString(16)}, XSS 0x${xss.toString(16)}; standard size ${t.reg(0xd, 0, 'ecx')} bytes`,
      );
  }
  topology(t, n, log);
  // MAXPHYADDR and the virtual-address width
  const e8 = t.get(0x80000008, 0);
  if (e8) {
    const want = e8.eax & 0xff;
    const cap = supported.get(0x80000008, 0) ? supported.reg(0x80000008, 0, 'eax') & 0xff : want;
    const phys = Math.min(want || 36, cap || 36);
    if (phys !== want) log.note(`MAXPHYADDR ${want} capped to ${phys} (the supported set's)`);
    const la57 = lookupFeature('la57');
    const virt = la57 && t.hasBit(la57) ? 57 : 48;
    t.put({ ...e8, eax: phys | (virt << 8) });
  }
  fixMaxLeaves(t, log);
  return { stage: 'normalized', table: t, changes: log.changes, notes: log.notes };
}
