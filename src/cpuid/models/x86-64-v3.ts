// Model "x86-64-v3": x86-64 psABI micro-architecture level 3 (x86-64 psABI §3.1.1): level 2 plus AVX,
// AVX2, BMI1, BMI2, F16C, FMA, LZCNT (ABM), MOVBE, XSAVE (OSXSAVE is OS-reflected and set at run time).
// Runs on Haswell / Zen 1 and later.

import type { CpuModel } from './model.ts';
import { X86_64_V2 } from './x86-64-v2.ts';

export const X86_64_V3: CpuModel = {
  name: 'x86-64-v3',
  description: 'x86-64 psABI level 3 (AVX2 class): Haswell, Zen 1 and later',
  vendor: 'host',
  features: [...X86_64_V2.features, 'avx', 'avx2', 'bmi1', 'bmi2', 'f16c', 'fma', 'abm', 'movbe', 'xsave'],
  added: X86_64_V2.added ?? {},
  removed: {
    ...X86_64_V2.removed,
    xsaveopt: 'left out: not part of psABI v3; guests use plain XSAVE',
  },
};
