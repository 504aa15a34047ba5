// The contract's view of CPUID features: where a named feature lives (from the feature database in
// src/arch/x86/cpuid) and how a reason names it, e.g. "CPUID.(EAX=7,ECX=1):EAX[6] LASS".
// Also the few pseudo features the contract needs that are not single CPUID bits (spec §7.5 PMU).

import { formatBitLocation, type BitLocation } from '../arch/x86/cpuid/types.ts';
import type { CpuidTable } from '../arch/x86/cpuid/table.ts';
import { featureByName } from '../arch/x86/cpuid/features.ts';

/** Pseudo features: conditions on CPUID that are not one bit (documented where used). */
export const PSEUDO_FEATURES: Record<
  string,
  { readonly test: (t: CpuidTable) => boolean; readonly text: string }
> = {
  perf_global_ctrl: {
    test: (t) => (t.reg(0xa, 0, 'eax') & 0xff) >= 2,
    text: 'CPUID.(EAX=0xA):EAX[7:0] (architectural PMU version) ≥ 2',
  },
};

/** Where feature `name` lives, or undefined for an unknown name. */
export function featureLocation(name: string): BitLocation | undefined {
  return featureByName(name);
}

/** "CPUID.(EAX=7,ECX=1):EAX[6] LASS" (or the pseudo feature's description). */
export function featureText(name: string): string {
  const p = PSEUDO_FEATURES[name];
  if (p) return p.text;
  const loc = featureLocation(name);
  const label = name.toUpperCase();
  return loc ? `${formatBitLocation(loc)} ${label}` : `${label} (unknown feature)`;
}

/** Is `name` set in `table`? Unknown names read as absent. */
export function tableHas(table: CpuidTable, name: string): boolean {
  const p = PSEUDO_FEATURES[name];
  if (p) return p.test(table);
  const loc = featureLocation(name);
  return loc ? table.hasBit(loc) : false;
}

/** Every name this layer can resolve (for table-consistency tests). */
export function knownFeature(name: string): boolean {
  return name in PSEUDO_FEATURES || featureLocation(name) !== undefined;
}
