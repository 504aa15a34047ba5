// Compare two CPUID policies for migration: what a guest started under policy A gains or loses on a
// destination offering policy B, and the first incompatibility with its reason. A guest's CPUID is
// frozen after its first run (KVM_SET_CPUID2 after KVM_RUN must be identical, spec §5.6), so anything A
// offers that B lacks can break a running guest. Order of checks: vendor, feature bits (leaf order),
// XSAVE components (XCR0/XSS), MAXPHYADDR.

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { vendorOf } from '../arch/x86/cpuid/vendor.ts';
import { allFeatures } from './features.ts';
import type { CpuidPolicy } from './policy.ts';

export interface PolicyInput {
  readonly label: string;
  readonly table: CpuidTable;
  readonly policy?: CpuidPolicy;
}

export interface Comparison {
  readonly from: string;
  readonly to: string;
  readonly gained: readonly string[];
  readonly lost: readonly string[];
  readonly fields: readonly { field: string; from: string; to: string; compatible: boolean }[];
  readonly compatible: boolean;
  readonly firstIncompatibility?: { readonly what: string; readonly why: string };
}

export function comparePolicies(a: PolicyInput, b: PolicyInput): Comparison {
  const gained: string[] = [];
  const lost: string[] = [];
  for (const f of allFeatures()) {
    if (f.kind === 'os') continue;
    const inA = a.table.hasBit(f);
    const inB = b.table.hasBit(f);
    if (inA && !inB) lost.push(f.name);
    else if (!inA && inB) gained.push(f.name);
  }
  const fields: { field: string; from: string; to: string; compatible: boolean }[] = [];
  const va = vendorOf(a.table);
  const vb = vendorOf(b.table);
  fields.push({ field: 'vendor', from: va, to: vb, compatible: va === vb });
  const xa = a.table.reg(0xd, 0, 'eax');
  const xb = b.table.reg(0xd, 0, 'eax');
  fields.push({
    field: 'XCR0 components',
    from: '0x' + xa.toString(16),
    to: '0x' + xb.toString(16),
    compatible: (xa & ~xb) === 0,
  });
  const sa = a.table.reg(0xd, 1, 'ecx');
  const sb = b.table.reg(0xd, 1, 'ecx');
  fields.push({
    field: 'XSS components',
    from: '0x' + sa.toString(16),
    to: '0x' + sb.toString(16),
    compatible: (sa & ~sb) === 0,
  });
  const pa = a.table.reg(0x80000008, 0, 'eax') & 0xff || 36;
  const pb = b.table.reg(0x80000008, 0, 'eax') & 0xff || 36;
  fields.push({ field: 'MAXPHYADDR', from: String(pa), to: String(pb), compatible: pa <= pb });
  let first: { what: string; why: string } | undefined;
  if (va !== vb) {
    first = {
      what: 'vendor',
      why: `${a.label} is ${va} and ${b.label} is ${vb}: the guest's vendor-specific code paths (chosen at boot) would run on the other vendor's CPU`,
    };
  } else if (lost.length) {
    const f = allFeatures().find((x) => x.name === lost[0])!;
    const hid = b.policy?.hidden[f.name]?.map((h) => h.text).join('; ');
    first = {
      what: f.name,
      why: `the guest may use ${f.name} (${f.meaning}); ${b.label} does not offer it${hid ? ` — ${hid}` : ''}`,
    };
  } else {
    const bad = fields.find((x) => !x.compatible);
    if (bad)
      first = {
        what: bad.field,
        why: `${bad.field} ${bad.from} on ${a.label} does not fit ${bad.to} on ${b.label}`,
      };
  }
  return {
    from: a.label,
    to: b.label,
    gained,
    lost,
    fields,
    compatible: first === undefined,
    ...(first ? { firstIncompatibility: first } : {}),
  };
}
