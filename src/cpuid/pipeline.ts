// The policy pipeline, end to end: host → supported → guest → normalized (spec
// shared/spec/kvm-contract.md §5; DESIGN.md §3.4). Each stage is a pure function over CpuidTable and
// attaches a reason to every bit it hides, adds or forces. This is the entry point the contract layer
// and both backends consume: buildGuestCpuid().

import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import type { BackendName, Change, PolicyRefusal, Reason } from './reasons.ts';
import type { StageResult } from './stage.ts';
import { kvmSupportedFromHost, kvmSupportedFromIoctl } from './supported/kvm.ts';
import { interpSupportedFromHost } from './supported/interp-supported.ts';
import { withTsvmmPromises } from './supported/promises.ts';
import { guestStage, parseCpuSpec, type CpuSpec } from './guest.ts';
import { normalizeStage } from './normalize.ts';
import { explainFeature, type Explanation } from './explain.ts';
import type { CpuModel } from './models/model.ts';

export interface GuestRequest {
  /** host CPUID (raw, as a dump or `cpuid -r` reports it) */
  readonly host: CpuidTable;
  readonly backend: BackendName;
  /** the real KVM_GET_SUPPORTED_CPUID result; when absent (kvm backend) KVM's rules are modelled */
  readonly kvmSupported?: CpuidTable;
  /** features the host kernel disabled (see supported/common.ts osDisabledFeatures) */
  readonly hostOsDisabled?: ReadonlySet<string>;
  /** "host", a model name, with +feat/-feat/force:feat edits (default "host") */
  readonly cpu?: string | CpuSpec;
  readonly vcpus?: number;
  /** KVM with two-dimensional paging (default true) */
  readonly tdp?: boolean;
  /** models usable as --cpu bases besides the registry (e.g. policyAsModel of a baseline) */
  readonly extraModels?: readonly CpuModel[];
}

export interface GuestCpuid {
  /** true when nothing was refused */
  readonly ok: boolean;
  /** the normalized guest table (refused bits left out) */
  readonly table: CpuidTable;
  readonly stages: {
    readonly host: CpuidTable;
    readonly supported: StageResult;
    readonly guest: StageResult;
    readonly normalized: StageResult;
  };
  readonly changes: readonly Change[];
  readonly refusals: readonly PolicyRefusal[];
  readonly unsafe: readonly { feature: string; edit: string; overrides: readonly Reason[] }[];
  readonly notes: readonly string[];
  readonly spec: CpuSpec;
  readonly backend: BackendName;
  readonly model?: CpuModel;
  explain(feature: string): Explanation;
}

/** The supported stage for a backend. */
export function supportedStage(
  req: Pick<GuestRequest, 'host' | 'backend' | 'kvmSupported' | 'hostOsDisabled' | 'tdp'>,
): StageResult {
  if (req.backend === 'interp') return withTsvmmPromises(interpSupportedFromHost(req.host), 'interp');
  const opts = {
    tdp: req.tdp ?? true,
    ...(req.hostOsDisabled ? { hostOsDisabled: req.hostOsDisabled } : {}),
  };
  return withTsvmmPromises(
    req.kvmSupported
      ? kvmSupportedFromIoctl(req.host, req.kvmSupported, opts)
      : kvmSupportedFromHost(req.host, opts),
    'kvm',
  );
}

export function buildGuestCpuid(req: GuestRequest): GuestCpuid {
  const spec = typeof req.cpu === 'object' ? req.cpu : parseCpuSpec(req.cpu ?? 'host');
  const supported = supportedStage(req);
  const guest = guestStage({
    host: req.host,
    supported,
    spec,
    ...(req.extraModels ? { extraModels: req.extraModels } : {}),
  });
  const normalized = normalizeStage(guest.table, supported.table, { vcpus: req.vcpus ?? 1 });
  const changes = [...supported.changes, ...guest.changes, ...normalized.changes];
  const hostNotes = req.host.get(0, 0)
    ? []
    : [
        'the host table has no leaf values (a lossy /proc/cpuinfo dump?): vendor, XSAVE sizes, caches and MAXPHYADDR fall back to defaults',
      ];
  const stages = { host: req.host, supported, guest, normalized };
  const result: GuestCpuid = {
    ok: guest.refusals.length === 0,
    table: normalized.table,
    stages,
    changes,
    refusals: guest.refusals,
    unsafe: guest.unsafe,
    notes: [...hostNotes, ...supported.notes, ...guest.notes, ...normalized.notes],
    spec,
    backend: req.backend,
    ...(guest.model ? { model: guest.model } : {}),
    explain: (feature: string) => explainFeature(feature, result),
  };
  return result;
}
