// Why a CPUID bit is or is not offered: the reason chain every pipeline stage attaches to each bit it
// hides, adds or forces (DESIGN.md §3.4). The stages are the policy pipeline of spec
// shared/spec/kvm-contract.md §5: host → supported (KVM_GET_SUPPORTED_CPUID or the interpreter's list)
// → guest (model/host/edits) → normalized.

export type Stage = 'host' | 'supported' | 'guest' | 'normalized';
export const STAGES: readonly Stage[] = ['host', 'supported', 'guest', 'normalized'];

export type BackendName = 'kvm' | 'interp';

export type Reason =
  /** the host CPU does not enumerate the bit */
  | { readonly kind: 'host-lacks' }
  /** the host kernel cleared the bit (raw CPUID has it, /proc/cpuinfo does not) */
  | { readonly kind: 'host-os-disabled'; readonly detail: string }
  /** the backend cannot (or by design does not) virtualize the bit */
  | {
      readonly kind: 'backend';
      readonly backend: BackendName;
      readonly rule: string;
      readonly source: string;
    }
  /** the backend offers the bit without hardware (EMULATED_F, synthesized, interpreter-implemented) */
  | {
      readonly kind: 'synthesized';
      readonly backend: BackendName;
      readonly rule: string;
      readonly source: string;
    }
  /** a CPU erratum or a backend quirk that behaves like one (data in src/cpuid/errata/) */
  | { readonly kind: 'erratum'; readonly id: string; readonly title: string; readonly source: string }
  /** removed because a feature it depends on is absent */
  | { readonly kind: 'dependency'; readonly on: string; readonly removedBy?: string }
  /** a named CPU model leaves it out (or puts it in) */
  | { readonly kind: 'model'; readonly model: string; readonly why: string }
  /** a migration baseline hides it because some hosts lack it */
  | { readonly kind: 'baseline'; readonly missingOn: readonly string[]; readonly why: string }
  /** the user's --cpu edit */
  | { readonly kind: 'user-edit'; readonly edit: string }
  /** the user forced it past the reasons listed (unsafe) */
  | { readonly kind: 'forced'; readonly edit: string; readonly overrides: readonly Reason[] }
  /** an OS-reflected bit: computed live from guest state, never part of a policy */
  | { readonly kind: 'os-reflected'; readonly mirrors: string }
  /** the bit belongs to another vendor than the guest's */
  | { readonly kind: 'vendor'; readonly vendor: string; readonly why: string };

/** One bit changed by one stage. */
export interface Change {
  readonly feature: string;
  readonly stage: Stage;
  readonly action: 'hidden' | 'added' | 'forced';
  readonly reason: Reason;
}

/** A policy refusal: the requested guest cannot be built as asked. */
export interface PolicyRefusal {
  readonly code:
    | 'not-supported'
    | 'broken-dependency'
    | 'unknown-feature'
    | 'unknown-model'
    | 'bad-spec'
    | 'vendor-mismatch';
  readonly feature?: string;
  /** the other end of a broken dependency */
  readonly other?: string;
  readonly message: string;
  readonly reasons: readonly Reason[];
}

/** One line of human text for a reason. */
export function describeReason(r: Reason): string {
  switch (r.kind) {
    case 'host-lacks':
      return 'the host CPU does not have it';
    case 'host-os-disabled':
      return `the host kernel disabled it (${r.detail})`;
    case 'backend':
      return `the ${r.backend} backend does not offer it: ${r.rule} [${r.source}]`;
    case 'synthesized':
      return `the ${r.backend} backend offers it without hardware: ${r.rule} [${r.source}]`;
    case 'erratum':
      return `${r.id}: ${r.title} [${r.source}]`;
    case 'dependency':
      return `it depends on ${r.on}, which ${r.removedBy ? `${r.removedBy} removes` : 'is absent'}`;
    case 'model':
      return `model ${r.model}: ${r.why}`;
    case 'baseline':
      return `baseline: ${r.why}${r.missingOn.length ? ` (missing on ${r.missingOn.join(', ')})` : ''}`;
    case 'user-edit':
      return `user edit ${r.edit}`;
    case 'forced':
      return `forced by ${r.edit} (UNSAFE) over: ${r.overrides.map(describeReason).join('; ') || 'nothing'}`;
    case 'os-reflected':
      return `OS-reflected bit (mirrors ${r.mirrors} at run time; never part of a policy)`;
    case 'vendor':
      return `vendor ${r.vendor}: ${r.why}`;
  }
}
