// The "guest" stage: what the user asks the guest to see — a named model, `host` (everything the
// supported set offers) or either with edits — checked against the supported set and the feature
// dependencies (spec shared/spec/kvm-contract.md §5.6: KVM silently ignores guest bits it does not
// support, so tsvmm refuses them up front instead).
//
// Spec grammar:  BASE[,EDIT]*   BASE = host | <model name>
//                EDIT = +feat | -feat | force:feat | +feat!
// Edits are order-independent: removals (with their dependants) apply first, then additions, then
// forced bits; an added bit whose dependency is absent is refused naming both ends.

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { vendorOf } from '../arch/x86/cpuid/vendor.ts';
import { CANONICAL_VENDOR_STRING } from '../arch/x86/cpuid/vendor.ts';
import { TsvmmError } from '../util/result.ts';
import {
  dependantsClosure,
  dependencyClosureOf,
  lookupFeature,
  allFeatures,
  type FeatureDef,
} from './features.ts';
import { findModel, modelNames } from './models/index.ts';
import type { CpuModel } from './models/model.ts';
import type { PolicyRefusal, Reason } from './reasons.ts';
import { ChangeLog, reasonsIn, type StageResult } from './stage.ts';
import { applyFeatureBits, setReg } from './supported/common.ts';
import { TSVMM_PROMISES } from './supported/promises.ts';

export interface CpuEdit {
  readonly op: '+' | '-' | 'force';
  readonly name: string;
  readonly text: string;
}

export interface CpuSpec {
  readonly base: string;
  readonly edits: readonly CpuEdit[];
  readonly text: string;
}

/** Parse "host,-avx,+avx2,force:xsaves". Syntax errors are TsvmmError CPUID_BAD_SPEC. */
export function parseCpuSpec(text: string): CpuSpec {
  const parts = text.split(',').map((p) => p.trim());
  if (parts.length === 0 || parts[0] === '') {
    throw new TsvmmError(
      'CPUID_BAD_SPEC',
      `--cpu '${text}': expected BASE[,+feat|-feat|force:feat]... (BASE = host or a model: ${modelNames().join(', ')})`,
    );
  }
  const [base, ...rest] = parts;
  if (/^[+-]|^force:/.test(base!)) {
    throw new TsvmmError(
      'CPUID_BAD_SPEC',
      `--cpu '${text}': the first item must be a base (host or a model), not the edit '${base}'`,
    );
  }
  const edits: CpuEdit[] = rest.map((p) => {
    let m: RegExpExecArray | null;
    if ((m = /^force:([A-Za-z0-9_.]+)$/.exec(p))) return { op: 'force', name: m[1]!, text: p };
    if ((m = /^\+([A-Za-z0-9_.]+)!$/.exec(p))) return { op: 'force', name: m[1]!, text: p };
    if ((m = /^([+-])([A-Za-z0-9_.]+)$/.exec(p))) return { op: m[1] as '+' | '-', name: m[2]!, text: p };
    throw new TsvmmError(
      'CPUID_BAD_SPEC',
      `--cpu '${text}': cannot parse '${p}' (expected +feat, -feat, force:feat or +feat!)`,
    );
  });
  return { base: base!.toLowerCase(), edits, text };
}

export interface GuestStageResult extends StageResult {
  readonly refusals: readonly PolicyRefusal[];
  /** forced bits: allowed, unsafe, with the reasons they override */
  readonly unsafe: readonly { feature: string; edit: string; overrides: readonly Reason[] }[];
  readonly model?: CpuModel;
}

/** Reasons the supported stage recorded for a missing feature (host-lacks when none). */
function whyUnsupported(supported: StageResult, host: CpuidTable, f: FeatureDef): Reason[] {
  const r = reasonsIn(supported.changes, f.name, 'hidden');
  if (r.length) return r;
  return host.hasBit(f)
    ? [{ kind: 'backend', backend: 'kvm', rule: 'not in the supported set', source: 'supported stage' }]
    : [{ kind: 'host-lacks' }];
}

function brandWords(brand: string): number[] {
  const bytes = Buffer.alloc(48, 0);
  bytes.write(brand.slice(0, 47), 'latin1');
  const out: number[] = [];
  for (let i = 0; i < 12; i++) out.push(bytes.readUInt32LE(i * 4));
  return out;
}

/** A model's table on top of the supported table's non-feature leaves. */
function modelTable(
  m: CpuModel,
  supported: CpuidTable,
  log: ChangeLog,
  refusals: PolicyRefusal[],
  sup: StageResult,
  host: CpuidTable,
): CpuidTable {
  const t = supported.clone();
  if (m.vendor !== 'host') {
    const vs = CANONICAL_VENDOR_STRING[m.vendor];
    const w = [0, 4, 8].map((o) => Buffer.from(vs, 'latin1').readUInt32LE(o));
    setReg(t, 0, 0, 'ebx', w[0]!, false);
    setReg(t, 0, 0, 'edx', w[1]!, false);
    setReg(t, 0, 0, 'ecx', w[2]!, false);
    if (t.get(0x80000000, 0)) {
      setReg(t, 0x80000000, 0, 'ebx', m.vendor === 'amd' ? w[0]! : 0, false);
      setReg(t, 0x80000000, 0, 'edx', m.vendor === 'amd' ? w[1]! : 0, false);
      setReg(t, 0x80000000, 0, 'ecx', m.vendor === 'amd' ? w[2]! : 0, false);
    }
    if (vendorOf(host) !== m.vendor) {
      log.note(
        `model ${m.name} is ${m.vendor} but the host is ${vendorOf(host)}: a cross-vendor guest works for user code but kernels may take vendor-specific paths`,
      );
    }
  }
  if (m.signature) {
    const { family, model, stepping } = m.signature;
    const baseFam = family >= 0xf ? 0xf : family;
    const extFam = family >= 0xf ? family - 0xf : 0;
    const eax =
      ((extFam & 0xff) << 20) |
      (((model >> 4) & 0xf) << 16) |
      ((baseFam & 0xf) << 8) |
      ((model & 0xf) << 4) |
      (stepping & 0xf);
    setReg(t, 1, 0, 'eax', eax, false);
    if (t.get(0x80000001, 0)) setReg(t, 0x80000001, 0, 'eax', eax, false);
  }
  if (m.brand && t.get(0x80000004, 0)) {
    const w = brandWords(m.brand);
    for (let i = 0; i < 3; i++) {
      t.put({
        function: 0x80000002 + i,
        index: 0,
        flags: 0,
        eax: w[i * 4]!,
        ebx: w[i * 4 + 1]!,
        ecx: w[i * 4 + 2]!,
        edx: w[i * 4 + 3]!,
      });
    }
  }
  if (m.physAddrBits && t.get(0x80000008, 0)) {
    setReg(t, 0x80000008, 0, 'eax', (t.reg(0x80000008, 0, 'eax') & ~0xff) | m.physAddrBits, false);
  }
  const want = new Set<string>();
  for (const n of m.features) {
    const f = lookupFeature(n);
    if (!f) {
      refusals.push({
        code: 'unknown-feature',
        feature: n,
        message: `model ${m.name} names an unknown feature '${n}'`,
        reasons: [],
      });
      continue;
    }
    want.add(f.name);
  }
  const offered = new Set<string>();
  for (const f of allFeatures()) {
    const inSup = supported.hasBit(f);
    if (want.has(f.name)) {
      if (inSup) offered.add(f.name);
      else {
        refusals.push({
          code: 'not-supported',
          feature: f.name,
          message: `model ${m.name} needs ${f.name}, which the supported set lacks`,
          reasons: whyUnsupported(sup, host, f),
        });
      }
    } else if (inSup && f.kind !== 'vmm' && !(f.name in TSVMM_PROMISES)) {
      const removedWhy = Object.entries(m.removed ?? {}).find(
        ([k]) => lookupFeature(k)?.name === f.name,
      )?.[1];
      log.hide(f.name, { kind: 'model', model: m.name, why: removedWhy ?? `not part of model ${m.name}` });
    } else if (inSup) {
      offered.add(f.name); // VMM-synthesized leaves (KVM PV bits) stay
    }
  }
  applyFeatureBits(t, offered);
  return t;
}

export function guestStage(args: {
  host: CpuidTable;
  supported: StageResult;
  spec: CpuSpec;
  /** models beyond the registry, e.g. a baseline policy (policy.ts policyAsModel) */
  extraModels?: readonly CpuModel[];
}): GuestStageResult {
  const { host, supported, spec } = args;
  const log = new ChangeLog('guest');
  const refusals: PolicyRefusal[] = [];
  const unsafe: { feature: string; edit: string; overrides: Reason[] }[] = [];
  let table: CpuidTable;
  let model: CpuModel | undefined;
  if (spec.base === 'host') {
    table = supported.table.clone();
  } else {
    model = args.extraModels?.find((m) => m.name.toLowerCase() === spec.base) ?? findModel(spec.base);
    if (!model) {
      throw new TsvmmError(
        'CPUID_UNKNOWN_MODEL',
        `unknown CPU model '${spec.base}' (known: host, ${modelNames().join(', ')})`,
      );
    }
    table = modelTable(model, supported.table, log, refusals, supported, host);
  }
  const resolved: { edit: CpuEdit; f: FeatureDef }[] = [];
  for (const e of spec.edits) {
    const f = lookupFeature(e.name);
    if (!f) {
      refusals.push({
        code: 'unknown-feature',
        feature: e.name,
        message: `${e.text}: unknown feature '${e.name}'`,
        reasons: [],
      });
      continue;
    }
    if (f.kind === 'os') {
      refusals.push({
        code: 'bad-spec',
        feature: f.name,
        message: `${e.text}: ${f.name} is OS-reflected (computed from guest CR4 at run time) and cannot be set by policy`,
        reasons: [{ kind: 'os-reflected', mirrors: f.name === 'ospke' ? 'CR4.PKE' : 'CR4.OSXSAVE' }],
      });
      continue;
    }
    resolved.push({ edit: e, f });
  }
  const removedBy = new Map<string, string>(); // feature → the -edit that removed it
  // 1. removals and their dependants
  for (const { edit, f } of resolved.filter((r) => r.edit.op === '-')) {
    removedBy.set(f.name, edit.text);
    if (table.hasBit(f)) {
      table.setBit(f, false);
      log.hide(f.name, { kind: 'user-edit', edit: edit.text });
    } else {
      log.note(`${edit.text}: ${f.name} was already absent`);
    }
    for (const { feature: d, via } of dependantsClosure(f.name)) {
      if (!table.hasBit(d)) continue;
      table.setBit(d, false);
      removedBy.set(d.name, edit.text);
      log.hide(d.name, { kind: 'dependency', on: via, removedBy: edit.text });
    }
  }
  // 2. additions
  const explicit: { edit: CpuEdit; f: FeatureDef }[] = [];
  for (const r of resolved.filter((x) => x.edit.op === '+')) {
    const { edit, f } = r;
    if (!supported.table.hasBit(f)) {
      refusals.push({
        code: 'not-supported',
        feature: f.name,
        message: `${edit.text}: ${f.name} is not in the supported set (use force:${f.name} to override, unsafe)`,
        reasons: whyUnsupported(supported, host, f),
      });
      continue;
    }
    if (!table.hasBit(f)) {
      table.setBit(f, true);
      log.add(f.name, { kind: 'user-edit', edit: edit.text });
    }
    explicit.push(r);
  }
  // 3. forced bits
  for (const r of resolved.filter((x) => x.edit.op === 'force')) {
    const { edit, f } = r;
    if (supported.table.hasBit(f)) {
      log.note(`${edit.text}: ${f.name} is supported; forcing it is not needed`);
      if (!table.hasBit(f)) {
        table.setBit(f, true);
        log.add(f.name, { kind: 'user-edit', edit: edit.text });
      }
    } else {
      const overrides = whyUnsupported(supported, host, f);
      table.setBit(f, true);
      log.force(f.name, { kind: 'forced', edit: edit.text, overrides });
      unsafe.push({ feature: f.name, edit: edit.text, overrides });
    }
    explicit.push(r);
  }
  // 4. every explicitly requested bit needs its dependencies
  for (const { edit, f } of explicit) {
    for (const d of dependencyClosureOf(f)) {
      if (table.hasBit(d)) continue;
      const cause = removedBy.get(d.name);
      refusals.push({
        code: 'broken-dependency',
        feature: f.name,
        other: d.name,
        message: `${edit.text}: ${f.name} depends on ${d.name}, which ${cause ? `${cause} removes` : 'the guest lacks'}`,
        reasons: cause
          ? [{ kind: 'user-edit', edit: cause }]
          : reasonsIn(supported.changes, d.name, 'hidden'),
      });
      if (table.hasBit(f)) table.setBit(f, false);
    }
  }
  // 5. base consistency: a bit whose dependency is absent goes, with the reason
  for (const f of allFeatures()) {
    if (!table.hasBit(f)) continue;
    for (const d of dependencyClosureOf(f)) {
      if (table.hasBit(d)) continue;
      if (explicit.some((x) => x.f.name === f.name)) break;
      table.setBit(f, false);
      log.hide(f.name, { kind: 'dependency', on: d.name });
      break;
    }
  }
  return {
    stage: 'guest',
    table,
    changes: log.changes,
    notes: log.notes,
    refusals,
    unsafe,
    ...(model ? { model } : {}),
  };
}
