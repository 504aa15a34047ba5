// The registry of named CPU models (data files beside this one). See model.ts for the shape.

import { EPYC_GENOA } from './epyc-genoa.ts';
import { EPYC_ROME } from './epyc-rome.ts';
import type { CpuModel } from './model.ts';
import { SKYLAKE_SERVER } from './skylake-server.ts';
import { X86_64_V2 } from './x86-64-v2.ts';
import { X86_64_V3 } from './x86-64-v3.ts';

export const MODELS: readonly CpuModel[] = [X86_64_V2, X86_64_V3, SKYLAKE_SERVER, EPYC_ROME, EPYC_GENOA];

export function findModel(name: string): CpuModel | undefined {
  const n = name.toLowerCase();
  return MODELS.find(
    (m) => m.name.toLowerCase() === n || (m.aliases ?? []).some((a) => a.toLowerCase() === n),
  );
}

export function modelNames(): string[] {
  return MODELS.map((m) => m.name);
}
