// CPUID feature bits that gate instructions in the interpreter's table (Linux X86_FEATURE_* names,
// lower case). Locations: Intel SDM Vol. 2A "CPUID" Tables 3-8..3-10 and leaf 7; AMD APM Vol. 3
// Appendix E (0x80000001). Only the features the instruction table names are listed.

import type { BitLocation } from '../../../arch/x86/cpuid/types.ts';
import type { CpuidTable } from '../../../arch/x86/cpuid/table.ts';

export const GATE_FEATURES: Readonly<Record<string, BitLocation>> = {
  fpu: { leaf: 1, reg: 'edx', bit: 0 },
  tsc: { leaf: 1, reg: 'edx', bit: 4 },
  msr: { leaf: 1, reg: 'edx', bit: 5 },
  cx8: { leaf: 1, reg: 'edx', bit: 8 },
  sep: { leaf: 1, reg: 'edx', bit: 11 },
  cmov: { leaf: 1, reg: 'edx', bit: 15 },
  clflush: { leaf: 1, reg: 'edx', bit: 19 },
  mmx: { leaf: 1, reg: 'edx', bit: 23 },
  fxsr: { leaf: 1, reg: 'edx', bit: 24 },
  xmm: { leaf: 1, reg: 'edx', bit: 25 },
  xmm2: { leaf: 1, reg: 'edx', bit: 26 },
  pni: { leaf: 1, reg: 'ecx', bit: 0 },
  mwait: { leaf: 1, reg: 'ecx', bit: 3 },
  ssse3: { leaf: 1, reg: 'ecx', bit: 9 },
  sse4_1: { leaf: 1, reg: 'ecx', bit: 19 },
  sse4_2: { leaf: 1, reg: 'ecx', bit: 20 },
  cx16: { leaf: 1, reg: 'ecx', bit: 13 },
  movbe: { leaf: 1, reg: 'ecx', bit: 22 },
  popcnt: { leaf: 1, reg: 'ecx', bit: 23 },
  xsave: { leaf: 1, reg: 'ecx', bit: 26 },
  rdrand: { leaf: 1, reg: 'ecx', bit: 30 },
  fsgsbase: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 0 },
  bmi1: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 3 },
  bmi2: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 8 },
  invpcid: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 10 },
  rdseed: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 18 },
  adx: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 19 },
  smap: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 20 },
  umip: { leaf: 7, subleaf: 0, reg: 'ecx', bit: 2 },
  pku: { leaf: 7, subleaf: 0, reg: 'ecx', bit: 3 },
  rdpid: { leaf: 7, subleaf: 0, reg: 'ecx', bit: 22 },
  xsaveopt: { leaf: 0xd, subleaf: 1, reg: 'eax', bit: 0 },
  xsavec: { leaf: 0xd, subleaf: 1, reg: 'eax', bit: 1 },
  xsaves: { leaf: 0xd, subleaf: 1, reg: 'eax', bit: 3 },
  lahf_lm: { leaf: 0x80000001, reg: 'ecx', bit: 0 },
  abm: { leaf: 0x80000001, reg: 'ecx', bit: 5 },
  syscall: { leaf: 0x80000001, reg: 'edx', bit: 11 },
  rdtscp: { leaf: 0x80000001, reg: 'edx', bit: 27 },
  lm: { leaf: 0x80000001, reg: 'edx', bit: 29 },
};

export function guestHas(table: CpuidTable, name: string): boolean {
  const loc = GATE_FEATURES[name];
  if (!loc) throw new Error(`feature '${name}' has no CPUID location in GATE_FEATURES`);
  return table.hasBit(loc);
}
