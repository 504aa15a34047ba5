// The "supported" stage for the KVM backend: KVM_GET_SUPPORTED_CPUID semantics (spec
// shared/spec/kvm-contract.md §5). Two sources: the real ioctl result (handed over by the KVM backend as
// a table), or, when only a host dump is known, a model of KVM's rules: the capability declarators of
// §5.1 (data in kvm-caps.ts), the bits KVM adds or hides (§5.2/§5.3, errata/), and the per-leaf
// massaging of __do_cpuid_func (§5.4).

import { CpuidTable, KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../../arch/x86/cpuid/table.ts';
import { vendorOf } from '../../arch/x86/cpuid/vendor.ts';
import { AMD_LEAF1_EDX_MIRRORS } from '../../arch/x86/cpuid/index.ts';
import { allFeatures, lookupFeature, type FeatureDef } from '../features.ts';
import { applicableErrata, type QuirkContext } from '../errata/errata.ts';
import type { Reason } from '../reasons.ts';
import { ChangeLog, type StageResult } from '../stage.ts';
import {
  KVM_SUPPORTED_XCR0,
  KVM_SUPPORTED_XSS,
  XSAVE_COMPONENTS,
  compactedSize,
  standardSize,
} from '../xsave.ts';
import { KVM_CAPS, KVM_SOURCE, VENDOR_RULES, type KvmMechanism } from './kvm-caps.ts';
import { applyFeatureBits } from './common.ts';

export interface KvmModelOptions {
  /** two-dimensional paging in use (default true: EPT/NPT on every host tsvmm targets) */
  readonly tdp?: boolean;
  /** features the host kernel disabled (raw CPUID has them, /proc/cpuinfo does not) */
  readonly hostOsDisabled?: ReadonlySet<string>;
  readonly allowSmallerMaxphyaddr?: boolean;
}

/** KVM PV features reported by default in 0x40000001:EAX (spec §5.7). */
export const KVM_PV_FEATURES_EAX =
  (1 << 0) |
  (1 << 1) |
  (1 << 3) |
  (1 << 4) |
  (1 << 5) |
  (1 << 6) |
  (1 << 7) |
  (1 << 9) |
  (1 << 10) |
  (1 << 11) |
  (1 << 12) |
  (1 << 13) |
  (1 << 14) |
  (1 << 24);
/** "KVMKVMKVM\0\0\0" as EBX, ECX, EDX. */
export const KVM_SIGNATURE = { ebx: 0x4b4d564b, ecx: 0x564b4d56, edx: 0x0000004d } as const;

const MAX_BASIC = 0x24;
const MAX_EXTENDED = 0x80000022;

let capsByCanonical: Map<string, KvmMechanism> | undefined;
/** KVM_CAPS keyed by the feature database's canonical names; names the database lacks are listed. */
export function kvmCaps(): { caps: Map<string, KvmMechanism>; unresolved: string[] } {
  const unresolved: string[] = [];
  if (!capsByCanonical) {
    capsByCanonical = new Map();
    for (const [n, m] of Object.entries(KVM_CAPS)) {
      const f = lookupFeature(n);
      if (f) capsByCanonical.set(f.name, m);
    }
  }
  for (const n of Object.keys(KVM_CAPS)) if (!lookupFeature(n)) unresolved.push(n);
  return { caps: capsByCanonical, unresolved };
}

const backendReason = (rule: string, source = KVM_SOURCE): Reason => ({
  kind: 'backend',
  backend: 'kvm',
  rule,
  source,
});
const synthReason = (rule: string, source = KVM_SOURCE): Reason => ({
  kind: 'synthesized',
  backend: 'kvm',
  rule,
  source,
});

function isPvLeaf(f: FeatureDef): boolean {
  return f.leaf >= 0x40000000 && f.leaf < 0x40000100;
}

/** Decide every listed feature for the KVM model. */
function decideFeatures(host: CpuidTable, opts: KvmModelOptions, log: ChangeLog): Set<string> {
  const offered = new Set<string>();
  const { caps } = kvmCaps();
  const osOff = opts.hostOsDisabled ?? new Set<string>();
  const hostXcr0 = host.reg(0xd, 0, 'eax');
  const vendor = vendorOf(host);
  const aliased: { f: FeatureDef; of: string }[] = [];
  for (const f of allFeatures()) {
    const hostHas = host.hasBit(f);
    if (f.kind === 'os') {
      log.hide(f.name, {
        kind: 'os-reflected',
        mirrors: f.name === 'ospke' ? 'CR4.PKE' : f.name === 'osxsave' ? 'CR4.OSXSAVE' : 'guest OS state',
      });
      continue;
    }
    if (isPvLeaf(f)) {
      if (f.leaf === 0x40000001 && f.reg === 'eax' && (KVM_PV_FEATURES_EAX >>> f.bit) & 1) {
        offered.add(f.name);
        log.add(f.name, synthReason('KVM reports this PV feature in 0x40000001 by default', 'spec §5.7'));
      } else if (f.leaf === 0x40000000) {
        offered.add(f.name);
      } else {
        log.hide(
          f.name,
          backendReason('a PV feature KVM does not report by default (VMM opt-in)', 'spec §5.7'),
        );
      }
      continue;
    }
    const mirrorOf = (AMD_LEAF1_EDX_MIRRORS as Readonly<Record<string, string | undefined>>)[f.name];
    const mech: KvmMechanism | undefined = mirrorOf ? 'ALIASED_1_EDX_F' : caps.get(f.name);
    if (!mech) {
      log.hide(f.name, backendReason('not declared in kvm_initialize_cpu_caps: KVM never advertises it'));
      if (!hostHas) log.hide(f.name, { kind: 'host-lacks' });
      continue;
    }
    switch (mech) {
      case 'F':
      case 'X86_64_F':
      case 'SCATTERED_F':
        if (!hostHas) log.hide(f.name, { kind: 'host-lacks' });
        else if (osOff.has(f.name))
          log.hide(f.name, {
            kind: 'host-os-disabled',
            detail: `${mech}(${f.name}) needs the host kernel's cap; /proc/cpuinfo lacks it`,
          });
        else offered.add(f.name);
        break;
      case 'EMULATED_F':
        offered.add(f.name);
        if (!hostHas) log.add(f.name, synthReason('EMULATED_F: advertised whatever the host has'));
        break;
      case 'SYNTHESIZED_F':
        if (hostHas) offered.add(f.name);
        else log.hide(f.name, { kind: 'host-lacks' });
        break;
      case 'PASSTHROUGH_F':
        if (hostHas) {
          offered.add(f.name);
          if (osOff.has(f.name))
            log.add(
              f.name,
              synthReason('PASSTHROUGH_F: offered from raw CPUID although the host kernel disabled it'),
            );
        } else log.hide(f.name, { kind: 'host-lacks' });
        break;
      case 'VENDOR_F': {
        const mpxOk = f.name === 'mpx' && vendor === 'intel' && hostHas && ((hostXcr0 >>> 3) & 3) === 3;
        if (mpxOk) offered.add(f.name);
        else {
          log.hide(
            f.name,
            backendReason(
              `VENDOR_F: ${VENDOR_RULES[f.name] ?? 'set only by vendor code under conditions tsvmm does not meet'}`,
            ),
          );
          if (!hostHas) log.hide(f.name, { kind: 'host-lacks' });
        }
        break;
      }
      case 'ALIASED_1_EDX_F':
        aliased.push({ f, of: mirrorOf! });
        break;
      case 'RUNTIME_F':
        log.hide(
          f.name,
          backendReason(
            'RUNTIME_F: never advertised; KVM mirrors it at run time (MONITOR/MWAIT exit and are emulated)',
          ),
        );
        break;
    }
  }
  // AMD's 0x80000001:EDX mirrors follow their leaf-1 bit (decided above) when the host mirrors them
  for (const { f, of } of aliased) {
    if (!host.hasBit(f)) log.hide(f.name, { kind: 'host-lacks' });
    else if (offered.has(of)) offered.add(f.name);
    else log.hide(f.name, { kind: 'dependency', on: of });
  }
  // errata and KVM quirks (errata/errata.ts)
  const ctx: QuirkContext = {
    backend: 'kvm',
    tdp: opts.tdp ?? true,
    hostOspke: ((host.reg(7, 0, 'ecx') >>> 4) & 1) === 1,
    vendor: vendor === 'intel' || vendor === 'amd' || vendor === 'hygon' ? vendor : 'other',
    allowSmallerMaxphyaddr: opts.allowSmallerMaxphyaddr ?? false,
  };
  for (const e of applicableErrata(vendor, host.reg(1, 0, 'eax'), ctx)) {
    const reason: Reason = { kind: 'erratum', id: e.id, title: e.title, source: e.source };
    for (const n of e.hide ?? []) {
      const f = lookupFeature(n);
      if (f && offered.has(f.name)) {
        offered.delete(f.name);
        log.hide(f.name, reason);
      }
    }
    for (const n of e.force ?? []) {
      const f = lookupFeature(n);
      if (f && !offered.has(f.name)) {
        offered.add(f.name);
        log.add(f.name, reason);
      }
    }
  }
  return offered;
}

/** Copy every subleaf of `leaf` from host to out (optionally transformed). */
function copyLeaf(out: CpuidTable, host: CpuidTable, leaf: number): void {
  for (const e of host.entries()) if (e.function === leaf) out.put(e);
}

/** XCR0/XSS and leaf 0xD for a set of offered features (KVM's __do_cpuid_func case 0xD, spec §4.3). */
export function buildXsaveLeaf(
  out: CpuidTable,
  src: CpuidTable,
  offered: ReadonlySet<string>,
  limits: { xcr0: number; xss: number },
): { xcr0: number; xss: number } {
  const featureOn = (names: readonly string[]): boolean =>
    names.some((n) => {
      const f = lookupFeature(n);
      return f !== undefined && offered.has(f.name);
    });
  if (!featureOn(['xsave'])) {
    for (const e of out.entries()) if (e.function === 0xd) out.delete(0xd, e.index);
    return { xcr0: 0, xss: 0 };
  }
  let xcr0 = 0x3 & limits.xcr0;
  let xss = 0;
  for (const c of XSAVE_COMPONENTS) {
    if (!featureOn(c.features)) continue;
    if (c.supervisor) xss |= (1 << c.bit) & limits.xss;
    else xcr0 |= (1 << c.bit) & limits.xcr0;
  }
  // XSS components need XSAVES (kvm_setup_xss_caps)
  if (!featureOn(['xsaves'])) xss = 0;
  for (const e of out.entries()) if (e.function === 0xd) out.delete(0xd, e.index);
  const I = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  const std = standardSize(src, xcr0);
  out.put({ function: 0xd, index: 0, flags: I, eax: xcr0 >>> 0, ebx: std, ecx: std, edx: 0 });
  const compacted = featureOn(['xsaves', 'xsavec']) ? compactedSize(src, (xcr0 | xss) >>> 0) : 0;
  out.put({ function: 0xd, index: 1, flags: I, eax: 0, ebx: compacted, ecx: xss >>> 0, edx: 0 });
  const xfd = featureOn(['xfd']);
  for (let bit = 2; bit < 32; bit++) {
    if (!(((xcr0 | xss) >>> bit) & 1)) continue;
    const h = src.get(0xd, bit);
    const c = XSAVE_COMPONENTS.find((x) => x.bit === bit);
    const eax = h && h.eax ? h.eax : (c?.size ?? 0);
    const ebx = h && h.eax ? h.ebx : c?.supervisor ? 0 : (c?.offset ?? 0);
    let ecx = h && h.eax ? h.ecx : c?.supervisor ? 1 : 0;
    if (!xfd) ecx &= ~4;
    out.put({ function: 0xd, index: bit, flags: I, eax, ebx, ecx, edx: 0 });
  }
  return { xcr0, xss };
}

/** KVM_GET_SUPPORTED_CPUID modelled from a host dump. */
export function kvmSupportedFromHost(host: CpuidTable, opts: KvmModelOptions = {}): StageResult {
  const log = new ChangeLog('supported');
  const offered = decideFeatures(host, opts, log);
  const out = new CpuidTable();
  const I = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
  const maxBasic = Math.min(host.maxBasicLeaf(), MAX_BASIC);
  const hostMaxExt = host.maxExtendedLeaf();
  const maxExt = hostMaxExt ? Math.min(hostMaxExt, MAX_EXTENDED) : 0;
  const zero = (fn: number, index = 0, indexed = false): void =>
    out.put({ function: fn, index, flags: indexed ? I : 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  const h0 = host.get(0, 0);
  if (h0) out.put({ ...h0, eax: maxBasic });
  for (let fn = 1; fn <= maxBasic; fn++) {
    const h = host.get(fn, 0);
    switch (fn) {
      case 1:
        if (h) out.put({ ...h, ecx: 0, edx: 0 });
        break;
      case 2:
        if (h) out.put(h);
        break;
      case 4:
        copyLeaf(out, host, fn);
        break;
      case 6:
        out.put({ function: 6, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: 0 });
        break;
      case 7: {
        const maxSub = Math.min(host.reg(7, 0, 'eax'), 2);
        for (let s = 0; s <= maxSub; s++) zero(7, s, true);
        out.put({ ...out.get(7, 0)!, eax: maxSub });
        break;
      }
      case 0xa:
        zero(0xa);
        log.note('leaf 0xA (architectural PMU) is zero: tsvmm does not offer a vPMU');
        break;
      case 0xb:
      case 0x1f:
        zero(fn, 0, true);
        break;
      case 0xd:
        break; // below, once the features are known
      case 0x1d:
      case 0x1e:
        if (offered.has(lookupFeature('amx_tile')?.name ?? '-')) copyLeaf(out, host, fn);
        else zero(fn, 0, true);
        break;
      default:
        zero(
          fn,
          0,
          fn === 0x12 ||
            fn === 0x14 ||
            fn === 0x17 ||
            fn === 0x18 ||
            fn === 0x20 ||
            fn === 0x23 ||
            fn === 0x24,
        );
    }
  }
  if (maxBasic >= 0xd) {
    const lim = {
      xcr0: host.reg(0xd, 0, 'eax') & KVM_SUPPORTED_XCR0,
      xss: host.reg(0xd, 1, 'ecx') & KVM_SUPPORTED_XSS,
    };
    buildXsaveLeaf(out, host, offered, lim);
  }
  // KVM's own leaves
  out.put({ function: 0x40000000, index: 0, flags: 0, eax: 0x40000001, ...KVM_SIGNATURE });
  out.put({ function: 0x40000001, index: 0, flags: 0, eax: KVM_PV_FEATURES_EAX, ebx: 0, ecx: 0, edx: 0 });
  if (maxExt) {
    const e0 = host.get(0x80000000, 0)!;
    out.put({ ...e0, eax: maxExt });
    for (let fn = 0x80000001; fn <= maxExt; fn++) {
      const h = host.get(fn, 0);
      switch (fn) {
        case 0x80000001:
          if (h) out.put({ ...h, ebx: h.ebx & ~0x0fff0000, ecx: 0, edx: 0 });
          break;
        case 0x80000002:
        case 0x80000003:
        case 0x80000004:
        case 0x80000005:
          if (h) out.put(h);
          break;
        case 0x80000006:
          if (h) out.put({ ...h, edx: h.edx & ~0x30000 });
          break;
        case 0x80000007:
          zero(fn);
          break;
        case 0x80000008: {
          const phys = host.reg(fn, 0, 'eax') & 0xff;
          const virt = Math.max((host.reg(fn, 0, 'eax') >>> 8) & 0xff, 48);
          out.put({
            function: fn,
            index: 0,
            flags: 0,
            eax: phys | (virt << 8),
            ebx: 0,
            ecx: host.reg(fn, 0, 'ecx') & ~0xffff0f00,
            edx: 0,
          });
          break;
        }
        case 0x80000019:
          if (h) out.put({ ...h, ecx: 0, edx: 0 });
          break;
        case 0x8000001a:
          out.put({ function: fn, index: 0, flags: 0, eax: (h?.eax ?? 0) & 7, ebx: 0, ecx: 0, edx: 0 });
          break;
        case 0x8000001d:
          copyLeaf(out, host, fn);
          break;
        default:
          zero(fn, 0, fn === 0x80000020 || fn === 0x80000026);
      }
    }
  }
  applyFeatureBits(out, offered);
  return { stage: 'supported', table: out, changes: log.changes, notes: log.notes };
}

/**
 * The supported stage from the real KVM_GET_SUPPORTED_CPUID result. Each host bit the ioctl omits is
 * hidden with the reason "the ioctl does not report it", plus the model's reason when the model
 * explains it (a bit the model would offer points at the host kernel/KVM build, e.g. PVM).
 */
export function kvmSupportedFromIoctl(
  host: CpuidTable,
  real: CpuidTable,
  opts: KvmModelOptions = {},
): StageResult {
  const log = new ChangeLog('supported');
  const model = kvmSupportedFromHost(host, opts);
  for (const f of allFeatures()) {
    const inHost = host.hasBit(f);
    const inReal = real.hasBit(f);
    const modelReasons = model.changes.filter((c) => c.feature === f.name);
    if (!inReal && (inHost || f.kind !== 'hardware')) {
      if (f.kind === 'os') {
        log.hide(f.name, { kind: 'os-reflected', mirrors: f.name === 'ospke' ? 'CR4.PKE' : 'CR4.OSXSAVE' });
        continue;
      }
      log.hide(
        f.name,
        backendReason(
          'the real KVM_GET_SUPPORTED_CPUID result does not report it',
          'KVM_GET_SUPPORTED_CPUID ioctl',
        ),
      );
      for (const c of modelReasons) if (c.action === 'hidden') log.hide(f.name, c.reason);
      if (!modelReasons.some((c) => c.action === 'hidden')) {
        log.hide(
          f.name,
          backendReason(
            "KVM's rules would offer it: the host kernel or KVM build withholds it",
            'spec §5.1 model',
          ),
        );
      }
    } else if (!inReal && !inHost) {
      log.hide(f.name, { kind: 'host-lacks' });
    } else if (inReal && !inHost) {
      log.add(
        f.name,
        synthReason(
          'reported by KVM_GET_SUPPORTED_CPUID although the host CPU lacks it',
          'KVM_GET_SUPPORTED_CPUID ioctl',
        ),
      );
    }
  }
  return { stage: 'supported', table: real.clone(), changes: log.changes, notes: log.notes };
}
