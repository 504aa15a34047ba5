// A CPUID policy as a JSON document: the guest table (as kvm_cpuid2 entries, so any tool that reads
// KVM JSON reads a policy too — dumps/kvm-json.ts) plus the offered feature names and a reason per
// hidden bit. Produced by baseline.ts and `tsvmm cpuid baseline`, consumed by compare.ts / `cpuid diff`.
// Table layout: Linux Documentation/virt/kvm/api.rst (struct kvm_cpuid_entry2).

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { TsvmmError } from '../util/result.ts';
import { readKvmJson } from './dumps/kvm-json.ts';
import { describeReason, type BackendName, type Reason } from './reasons.ts';
import type { CpuModel } from './models/model.ts';

export const POLICY_KIND = 'tsvmm-cpuid-policy';

export interface CpuidPolicy {
  readonly kind: typeof POLICY_KIND;
  readonly version: 1;
  readonly backend: BackendName;
  readonly vendor: string;
  /** labels of the hosts the policy was computed from */
  readonly hosts: readonly string[];
  readonly features: readonly string[];
  /** feature → why it is hidden (each reason as text and as data) */
  readonly hidden: Readonly<Record<string, readonly { readonly text: string; readonly reason: Reason }[]>>;
  readonly fields: {
    readonly physAddrBits: number;
    readonly virtAddrBits: number;
    readonly xcr0: string;
    readonly xss: string;
    readonly maxBasicLeaf: string;
    readonly maxExtendedLeaf: string;
  };
  readonly notes: readonly string[];
  readonly entries: readonly Record<string, string | number>[];
}

const h8 = (v: number): string => '0x' + (v >>> 0).toString(16).padStart(8, '0');

export function tableEntries(t: CpuidTable): Record<string, string | number>[] {
  return t.entries().map((e) => ({
    function: h8(e.function),
    index: '0x' + (e.index >>> 0).toString(16),
    flags: e.flags,
    eax: h8(e.eax),
    ebx: h8(e.ebx),
    ecx: h8(e.ecx),
    edx: h8(e.edx),
  }));
}

export function hiddenEntry(reasons: readonly Reason[]): { text: string; reason: Reason }[] {
  return reasons.map((reason) => ({ text: describeReason(reason), reason }));
}

export function policyToJson(p: CpuidPolicy): string {
  return JSON.stringify(p, null, 2) + '\n';
}

/** Is this JSON text a policy document? */
export function looksLikePolicy(text: string): boolean {
  return /"kind"\s*:\s*"tsvmm-cpuid-policy"/.test(text.slice(0, 400));
}

/** Parse a policy document: its table (validated as kvm_cpuid2 entries) and its metadata. */
export function readPolicy(text: string, source?: string): { policy: CpuidPolicy; table: CpuidTable } {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new TsvmmError(
      'CPUID_POLICY_PARSE',
      `${source ?? 'policy'}: invalid JSON: ${(e as Error).message}`,
    );
  }
  const p = doc as Partial<CpuidPolicy>;
  if (
    !p ||
    p.kind !== POLICY_KIND ||
    !Array.isArray(p.features) ||
    !p.hidden ||
    typeof p.hidden !== 'object'
  ) {
    throw new TsvmmError(
      'CPUID_POLICY_PARSE',
      `${source ?? 'policy'}: not a ${POLICY_KIND} document (needs kind, features, hidden, entries)`,
    );
  }
  const table = readKvmJson(text, source ? { source } : {}).table;
  return { policy: p as CpuidPolicy, table };
}

/**
 * A policy used as a --cpu base ("policy:FILE"): a model whose features are the policy's and whose
 * removed bits carry the policy's reasons (so explain shows "baseline: … missing on …").
 */
export function policyAsModel(name: string, p: CpuidPolicy): CpuModel {
  const removed: Record<string, string> = {};
  for (const [k, hs] of Object.entries(p.hidden)) removed[k] = hs.map((h) => h.text).join('; ');
  return {
    name: name.toLowerCase(),
    description: `baseline policy of ${p.hosts.join(', ')}`,
    vendor: 'host',
    physAddrBits: p.fields.physAddrBits,
    features: p.features,
    removed,
  };
}
