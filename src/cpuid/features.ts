// The policy engine's view of the closed feature list (src/arch/x86/cpuid/, Intel SDM Vol. 2A "CPUID",
// AMD APM Vol. 3 Appendix E): name lookup with aliases, presence in a table, and dependency closures
// computed from each feature's `depends`.

import { FEATURES, featureByName } from '../arch/x86/cpuid/index.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import type { FeatureDef } from '../arch/x86/cpuid/types.ts';
import { TsvmmError } from '../util/result.ts';

export type { FeatureDef };

export function allFeatures(): readonly FeatureDef[] {
  return FEATURES;
}

/** The feature for a name or alias (case-insensitive), or undefined. */
export function lookupFeature(name: string): FeatureDef | undefined {
  return featureByName(name.trim().toLowerCase()) ?? featureByName(name.trim());
}

/** The feature for a name or alias, or a CPUID_UNKNOWN_FEATURE error. */
export function requireFeature(name: string): FeatureDef {
  const f = lookupFeature(name);
  if (!f) {
    throw new TsvmmError(
      'CPUID_UNKNOWN_FEATURE',
      `unknown CPUID feature '${name}' (names are Linux's, e.g. avx2, xsaves, gbpages)`,
      {
        feature: name,
      },
    );
  }
  return f;
}

export function hasFeature(t: CpuidTable, f: FeatureDef): boolean {
  return t.hasBit(f);
}

export function setFeature(t: CpuidTable, f: FeatureDef, on: boolean): void {
  t.setBit(f, on);
}

/** Canonical names of every listed feature set in `t`. */
export function featureSet(t: CpuidTable): Set<string> {
  const s = new Set<string>();
  for (const f of FEATURES) if (t.hasBit(f)) s.add(f.name);
  return s;
}

/** Direct dependencies of `f`, resolved to features (unknown names are skipped). */
export function directDeps(f: FeatureDef): FeatureDef[] {
  const out: FeatureDef[] = [];
  for (const d of f.depends ?? []) {
    const g = lookupFeature(d);
    if (g && g.name !== f.name) out.push(g);
  }
  return out;
}

let dependantsIndex: Map<string, FeatureDef[]> | undefined;

/** Features that list `name` directly in their `depends`. */
export function directDependantsOf(name: string): FeatureDef[] {
  if (!dependantsIndex) {
    dependantsIndex = new Map();
    for (const f of FEATURES) {
      for (const d of directDeps(f)) {
        const list = dependantsIndex.get(d.name) ?? [];
        list.push(f);
        dependantsIndex.set(d.name, list);
      }
    }
  }
  return dependantsIndex.get(name) ?? [];
}

/** Every feature that (transitively) depends on `name`, each with the feature it depends on through. */
export function dependantsClosure(name: string): { feature: FeatureDef; via: string }[] {
  const out: { feature: FeatureDef; via: string }[] = [];
  const seen = new Set<string>([name]);
  const queue = [name];
  while (queue.length) {
    const n = queue.shift()!;
    for (const d of directDependantsOf(n)) {
      if (seen.has(d.name)) continue;
      seen.add(d.name);
      out.push({ feature: d, via: n });
      queue.push(d.name);
    }
  }
  return out;
}

/** Every feature `f` needs (transitively), excluding itself. */
export function dependencyClosureOf(f: FeatureDef): FeatureDef[] {
  const out: FeatureDef[] = [];
  const seen = new Set<string>([f.name]);
  const queue = [f];
  while (queue.length) {
    for (const d of directDeps(queue.shift()!)) {
      if (seen.has(d.name)) continue;
      seen.add(d.name);
      out.push(d);
      queue.push(d);
    }
  }
  return out;
}
