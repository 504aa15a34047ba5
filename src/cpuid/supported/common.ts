// Helpers shared by the "supported" stages (KVM model and interpreter): which CPUID registers carry
// listed feature flags, and the host-kernel view (/proc/cpuinfo) of what the host OS disabled.
// Leaves: Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.

import type { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import type { CpuidReg } from '../../arch/x86/cpuid/types.ts';
import { allFeatures, type FeatureDef } from '../features.ts';

export interface RegKey {
  readonly leaf: number;
  readonly subleaf: number;
  readonly reg: CpuidReg;
}

/** Every (leaf, subleaf, register) that holds at least one listed feature flag. */
export function featureRegisters(): RegKey[] {
  const seen = new Map<string, RegKey>();
  for (const f of allFeatures()) {
    const k = `${f.leaf}:${f.subleaf ?? 0}:${f.reg}`;
    if (!seen.has(k)) seen.set(k, { leaf: f.leaf, subleaf: f.subleaf ?? 0, reg: f.reg });
  }
  return [...seen.values()];
}

/** Set register `reg` of (leaf, subleaf) to `value`, creating the entry if needed. */
export function setReg(
  t: CpuidTable,
  leaf: number,
  subleaf: number,
  reg: CpuidReg,
  value: number,
  indexed: boolean,
): void {
  const e = t.get(leaf, subleaf) ?? {
    function: leaf,
    index: subleaf,
    flags: indexed ? 1 : 0,
    eax: 0,
    ebx: 0,
    ecx: 0,
    edx: 0,
  };
  t.put({ ...e, index: subleaf, [reg]: value >>> 0 });
}

/** Zero every feature register that exists in `t`, then set the features in `offered`. */
export function applyFeatureBits(t: CpuidTable, offered: ReadonlySet<string>): void {
  for (const r of featureRegisters()) {
    const e = t.get(r.leaf, r.subleaf);
    if (e) t.put({ ...e, index: r.subleaf, [r.reg]: 0 });
  }
  for (const f of allFeatures()) if (offered.has(f.name)) t.setBit(f, true);
}

/**
 * Names Linux does not print in /proc/cpuinfo although it knows the bit (empty name string in
 * cpufeatures.h, or OS-reflected): their absence from the flags line does not mean "disabled".
 */
const NOT_IN_CPUINFO = new Set([
  'osxsave',
  'ospke',
  'pn',
  'ia64',
  'cid',
  'sdbg',
  // hidden or renamed by Linux ("" in cpufeatures.h, or shown under a synthetic name such as user_shstk)
  'shstk',
  'lfence_rdtsc',
  'amd_ibpb_ret',
  'amd_stibp_always_on',
  'amd_psfd',
]);

/**
 * Features the host kernel disabled: set in raw host CPUID, absent from the host's /proc/cpuinfo
 * flags under every spelling. Only meaningful for a flags line captured on the same host.
 */
export function osDisabledFeatures(
  host: CpuidTable,
  cpuinfoFlags: ReadonlySet<string>,
): Map<string, FeatureDef> {
  const out = new Map<string, FeatureDef>();
  for (const f of allFeatures()) {
    // ext_* are AMD's 0x80000001:EDX copies of 1:EDX bits; cpuinfo shows only the leaf-1 name
    if (f.kind !== 'hardware' || NOT_IN_CPUINFO.has(f.name) || f.name.startsWith('ext_') || !host.hasBit(f))
      continue;
    const names = [f.name, ...(f.aliases ?? [])];
    if (!names.some((n) => cpuinfoFlags.has(n.toLowerCase()))) out.set(f.name, f);
  }
  return out;
}
