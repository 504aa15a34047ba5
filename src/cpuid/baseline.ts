// Migration baseline: from N host dumps, the largest guest CPUID that every host can offer (each host's
// supported set, spec shared/spec/kvm-contract.md §5, intersected), made migration-safe: features and
// XSAVE components must match on all hosts, MAXPHYADDR and max leaves are the minimum, and every hidden
// bit says which hosts lack it and why.
//
// Vendor rule: all hosts of one vendor → that vendor. Mixed vendors are refused unless a vendor is
// chosen (--vendor); then the policy uses that vendor's identity (the first host of it is the template),
// keeps only vendor-neutral bits common to all hosts, hides the other vendor's bits with a reason, and
// hides XSAVE components whose standard-format layout differs between hosts (Intel and AMD place PKRU
// differently). A cross-vendor guest still sees one vendor string; kernels pick vendor paths at boot,
// so the policy notes that live migration across vendors is at the user's risk.

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { CANONICAL_VENDOR_STRING, vendorOf } from '../arch/x86/cpuid/vendor.ts';
import { TsvmmError } from '../util/result.ts';
import { allFeatures, lookupFeature } from './features.ts';
import { normalizeStage } from './normalize.ts';
import { supportedStage } from './pipeline.ts';
import { POLICY_KIND, hiddenEntry, tableEntries, type CpuidPolicy } from './policy.ts';
import type { BackendName, Change, Reason } from './reasons.ts';
import { reasonsIn, type StageResult } from './stage.ts';
import { applyFeatureBits, setReg } from './supported/common.ts';
import { buildXsaveLeaf } from './supported/kvm.ts';
import { XSAVE_COMPONENTS } from './xsave.ts';

export interface BaselineHost {
  readonly label: string;
  readonly table: CpuidTable;
  readonly osDisabled?: ReadonlySet<string>;
}

export interface BaselineOptions {
  readonly backend: BackendName;
  /** required when the hosts mix vendors */
  readonly vendor?: 'intel' | 'amd';
  readonly tdp?: boolean;
}

export interface BaselineResult {
  readonly policy: CpuidPolicy;
  readonly table: CpuidTable;
  readonly changes: readonly Change[];
  readonly supported: readonly StageResult[];
}

export function computeBaseline(hosts: readonly BaselineHost[], opts: BaselineOptions): BaselineResult {
  if (hosts.length === 0)
    throw new TsvmmError('CPUID_BASELINE_EMPTY', 'a baseline needs at least one host dump');
  const vendors = hosts.map((h) => vendorOf(h.table));
  const distinct = [...new Set(vendors)];
  let vendor: string;
  if (distinct.length === 1) {
    vendor = distinct[0]!;
    if (opts.vendor && opts.vendor !== vendor) {
      throw new TsvmmError(
        'CPUID_BASELINE_VENDOR',
        `--vendor ${opts.vendor} given but every host is ${vendor}`,
      );
    }
  } else {
    if (!opts.vendor) {
      const groups = distinct.map(
        (v) =>
          `${v} (${hosts
            .filter((_, i) => vendors[i] === v)
            .map((h) => h.label)
            .join(', ')})`,
      );
      throw new TsvmmError(
        'CPUID_BASELINE_VENDOR',
        `hosts mix vendors: ${groups.join(' and ')}. Pass --vendor intel|amd to build a cross-vendor baseline (vendor-neutral bits only, that vendor's identity)`,
        { vendors: distinct },
      );
    }
    vendor = opts.vendor;
  }
  const templateIdx = vendors.findIndex((v) => v === vendor);
  if (templateIdx < 0)
    throw new TsvmmError('CPUID_BASELINE_VENDOR', `--vendor ${vendor}: no host of that vendor`);
  const mixed = distinct.length > 1;
  const supported = hosts.map((h) =>
    supportedStage({
      host: h.table,
      backend: opts.backend,
      ...(h.osDisabled ? { hostOsDisabled: h.osDisabled } : {}),
      ...(opts.tdp === undefined ? {} : { tdp: opts.tdp }),
    }),
  );
  const changes: Change[] = [];
  const hiddenMap = new Map<string, Reason[]>();
  const hide = (feature: string, reason: Reason): void => {
    changes.push({ feature, stage: 'guest', action: 'hidden', reason });
    const l = hiddenMap.get(feature) ?? [];
    l.push(reason);
    hiddenMap.set(feature, l);
  };
  const notes: string[] = [];
  const template = supported[templateIdx]!.table.clone();
  const offered = new Set<string>();
  for (const f of allFeatures()) {
    if (f.kind === 'os') continue;
    const missing = hosts.filter((_, i) => !supported[i]!.table.hasBit(f)).map((h) => h.label);
    const anyHas = missing.length < hosts.length;
    if (mixed && f.vendor !== 'both' && f.vendor !== vendor && anyHas) {
      hide(f.name, {
        kind: 'vendor',
        vendor,
        why: `${f.name} is ${f.vendor}-only and the policy's vendor is ${vendor}`,
      });
      continue;
    }
    if (missing.length === 0) {
      offered.add(f.name);
    } else if (anyHas) {
      const why: string[] = [];
      hosts.forEach((h, i) => {
        if (supported[i]!.table.hasBit(f)) return;
        const rs = reasonsIn(supported[i]!.changes, f.name, 'hidden');
        const first = rs[0];
        why.push(
          `${h.label}: ${first ? (first.kind === 'erratum' ? first.id : first.kind === 'host-lacks' ? 'host lacks it' : first.kind) : 'not supported'}`,
        );
      });
      hide(f.name, {
        kind: 'baseline',
        missingOn: missing,
        why: `not offered on every host (${why.join('; ')})`,
      });
    }
  }
  // XSAVE components must have the same standard-format layout on every host
  for (const c of XSAVE_COMPONENTS) {
    if (c.supervisor) continue;
    const geo = supported.map((s) => s.table.get(0xd, c.bit)).filter((e) => e && e.eax);
    const uniq = new Set(geo.map((e) => `${e!.eax}@${e!.ebx}`));
    if (uniq.size <= 1) continue;
    for (const n of c.features) {
      const f = lookupFeature(n);
      if (f && offered.has(f.name)) {
        offered.delete(f.name);
        hide(f.name, {
          kind: 'baseline',
          missingOn: [],
          why: `XSAVE component ${c.bit} (${c.name}) has different size@offset across hosts: ${[...uniq].join(', ')}`,
        });
      }
    }
  }
  applyFeatureBits(template, offered);
  // identity
  if (mixed) {
    const vs = CANONICAL_VENDOR_STRING[vendor as 'intel' | 'amd'];
    const b = Buffer.from(vs, 'latin1');
    setReg(template, 0, 0, 'ebx', b.readUInt32LE(0), false);
    setReg(template, 0, 0, 'edx', b.readUInt32LE(4), false);
    setReg(template, 0, 0, 'ecx', b.readUInt32LE(8), false);
    notes.push(
      `cross-vendor baseline: guests see ${vendor} (${hosts[templateIdx]!.label}'s identity); live migration across vendors is at the user's risk (kernels choose vendor code paths at boot)`,
    );
  }
  notes.push(`family/model/stepping, brand and cache leaves come from ${hosts[templateIdx]!.label}`);
  // fields: minimum MAXPHYADDR and max leaves, common XSAVE components
  const phys = Math.min(...supported.map((s) => s.table.reg(0x80000008, 0, 'eax') & 0xff || 36));
  const e8 = template.get(0x80000008, 0);
  if (e8) template.put({ ...e8, eax: (e8.eax & ~0xff) | phys });
  const maxBasic = Math.min(...supported.map((s) => s.table.maxBasicLeaf()));
  const maxExt = Math.min(...supported.map((s) => s.table.maxExtendedLeaf() || 0x80000000));
  setReg(template, 0, 0, 'eax', maxBasic, false);
  if (template.get(0x80000000, 0)) setReg(template, 0x80000000, 0, 'eax', maxExt, false);
  const xcr0 = supported.reduce((m, s) => m & s.table.reg(0xd, 0, 'eax'), 0xffffffff);
  const xss = supported.reduce((m, s) => m & s.table.reg(0xd, 1, 'ecx'), 0xffffffff);
  const d1 = template.reg(0xd, 1, 'eax');
  if (template.get(0xd, 0)) {
    buildXsaveLeaf(template, supported[templateIdx]!.table, offered, { xcr0, xss });
    if (template.get(0xd, 1)) setReg(template, 0xd, 1, 'eax', d1, true);
  }
  const norm = normalizeStage(template, template, { vcpus: 1 });
  const table = norm.table;
  notes.push(...norm.notes.filter((n) => !n.startsWith('topology')));
  const hidden: Record<string, ReturnType<typeof hiddenEntry>> = {};
  for (const [k, v] of hiddenMap) hidden[k] = hiddenEntry(v);
  const policy: CpuidPolicy = {
    kind: POLICY_KIND,
    version: 1,
    backend: opts.backend,
    vendor,
    hosts: hosts.map((h) => h.label),
    features: allFeatures()
      .filter((f) => table.hasBit(f))
      .map((f) => f.name),
    hidden,
    fields: {
      physAddrBits: table.reg(0x80000008, 0, 'eax') & 0xff,
      virtAddrBits: (table.reg(0x80000008, 0, 'eax') >>> 8) & 0xff,
      xcr0: '0x' + table.reg(0xd, 0, 'eax').toString(16),
      xss: '0x' + table.reg(0xd, 1, 'ecx').toString(16),
      maxBasicLeaf: '0x' + table.maxBasicLeaf().toString(16),
      maxExtendedLeaf: '0x' + table.maxExtendedLeaf().toString(16),
    },
    notes,
    entries: tableEntries(table),
  };
  return { policy, table, changes, supported };
}
