// The "supported" stage for the interpreter backend: the features src/vcpu/interp implements (data in
// interp.ts), independent of the host's hardware bits because the interpreter executes every
// instruction in software. Identity and cache leaves come from the host so a guest sees a plausible
// CPU. Leaves: Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.

import { CpuidTable, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../../arch/x86/cpuid/table.ts';
import { allFeatures, lookupFeature } from '../features.ts';
import { applicableErrata } from '../errata/errata.ts';
import { vendorOf } from '../../arch/x86/cpuid/vendor.ts';
import { ChangeLog, type StageResult } from '../stage.ts';
import { applyFeatureBits } from './common.ts';
import { INTERP_GROUPS, INTERP_KVM_PV_FEATURES_EAX, INTERP_SOURCE, INTERP_SYNTHESIZED } from './interp.ts';
import { KVM_SIGNATURE, buildXsaveLeaf } from './kvm.ts';

/** XCR0 the interpreter offers: x87 | SSE (AVX is not offered: interp.ts). */
export const INTERP_XCR0 = 0x3;

export function interpSupportedFromHost(host: CpuidTable): StageResult {
  const log = new ChangeLog('supported');
  const offered = new Set<string>();
  const groupOf = new Map<string, string>();
  for (const g of INTERP_GROUPS) {
    for (const n of g.features) {
      const f = lookupFeature(n);
      if (f) groupOf.set(f.name, g.why);
    }
  }
  const synth = new Map<string, string>();
  for (const [n, why] of Object.entries(INTERP_SYNTHESIZED)) {
    const f = lookupFeature(n);
    if (f) synth.set(f.name, why);
  }
  for (const f of allFeatures()) {
    const hostHas = host.hasBit(f);
    if (f.kind === 'os') {
      log.hide(f.name, {
        kind: 'os-reflected',
        mirrors: f.name === 'ospke' ? 'CR4.PKE' : f.name === 'osxsave' ? 'CR4.OSXSAVE' : 'guest OS state',
      });
    } else if (synth.has(f.name)) {
      offered.add(f.name);
      if (!hostHas)
        log.add(f.name, {
          kind: 'synthesized',
          backend: 'interp',
          rule: synth.get(f.name)!,
          source: INTERP_SOURCE,
        });
    } else if (groupOf.has(f.name)) {
      offered.add(f.name);
      if (!hostHas)
        log.add(f.name, {
          kind: 'synthesized',
          backend: 'interp',
          rule: `implemented in software: ${groupOf.get(f.name)!}`,
          source: INTERP_SOURCE,
        });
    } else {
      log.hide(f.name, {
        kind: 'backend',
        backend: 'interp',
        rule: 'not implemented by the interpreter',
        source: INTERP_SOURCE,
      });
    }
  }
  // silicon errata do not apply: the interpreter runs its own implementation of every instruction
  for (const e of applicableErrata(vendorOf(host), host.reg(1, 0, 'eax'), {
    backend: 'interp',
    tdp: true,
    hostOspke: false,
    vendor: 'other',
    allowSmallerMaxphyaddr: false,
  })) {
    log.note(`host erratum ${e.id} does not apply to the interpreter (it runs its own implementation)`);
  }
  const out = new CpuidTable();
  const I = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  const maxBasic = Math.min(host.maxBasicLeaf() || 0xd, 0x1f);
  const h0 = host.get(0, 0);
  out.put({
    function: 0,
    index: 0,
    flags: 0,
    eax: Math.max(maxBasic, 0xd),
    ebx: h0?.ebx ?? 0,
    ecx: h0?.ecx ?? 0,
    edx: h0?.edx ?? 0,
  });
  const h1 = host.get(1, 0);
  out.put({
    function: 1,
    index: 0,
    flags: 0,
    eax: h1?.eax ?? 0,
    ebx: (h1?.ebx ?? 0) & 0x0000ffff,
    ecx: 0,
    edx: 0,
  });
  for (const e of host.entries()) if (e.function === 4) out.put(e);
  out.put({ function: 6, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  out.put({ function: 7, index: 0, flags: I, eax: 1, ebx: 0, ecx: 0, edx: 0 });
  out.put({ function: 7, index: 1, flags: I, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  out.put({ function: 0xb, index: 0, flags: I, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  out.put({ function: 0x40000000, index: 0, flags: 0, eax: 0x40000001, ...KVM_SIGNATURE });
  out.put({
    function: 0x40000001,
    index: 0,
    flags: 0,
    eax: INTERP_KVM_PV_FEATURES_EAX,
    ebx: 0,
    ecx: 0,
    edx: 0,
  });
  const e80 = host.get(0x80000000, 0);
  out.put({
    function: 0x80000000,
    index: 0,
    flags: 0,
    eax: 0x80000008,
    ebx: e80?.ebx ?? 0,
    ecx: e80?.ecx ?? 0,
    edx: e80?.edx ?? 0,
  });
  const h81 = host.get(0x80000001, 0);
  out.put({ function: 0x80000001, index: 0, flags: 0, eax: h81?.eax ?? 0, ebx: 0, ecx: 0, edx: 0 });
  for (const fn of [0x80000002, 0x80000003, 0x80000004, 0x80000005, 0x80000006]) {
    const h = host.get(fn, 0);
    out.put(h ?? { function: fn, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  }
  out.put({ function: 0x80000007, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  const la57 = offered.has(lookupFeature('la57')?.name ?? '-');
  const phys = host.reg(0x80000008, 0, 'eax') & 0xff || 36;
  out.put({
    function: 0x80000008,
    index: 0,
    flags: 0,
    eax: Math.min(phys, 52) | ((la57 ? 57 : 48) << 8),
    ebx: 0,
    ecx: 0,
    edx: 0,
  });
  applyFeatureBits(out, offered);
  buildXsaveLeaf(out, host, offered, { xcr0: INTERP_XCR0, xss: 0 });
  applyFeatureBits(out, offered);
  log.note('XSAVE state: x87 and SSE components only (XCR0 = 0x3)');
  return { stage: 'supported', table: out, changes: log.changes, notes: log.notes };
}
