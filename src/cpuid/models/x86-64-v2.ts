// Model "x86-64-v2": the x86-64 psABI micro-architecture level 2 (x86-64 psABI §3.1.1 "Micro-
// architecture levels"): baseline x86-64 (CMOV, CX8, FPU, FXSR, MMX, SCE, SSE, SSE2) plus CMPXCHG16B,
// LAHF/SAHF, POPCNT, SSE3, SSSE3, SSE4.1, SSE4.2; with the system features every 64-bit OS needs
// (Intel SDM Vol. 3A ch. 4 paging, APM Vol. 2). The most conservative model: runs on any x86-64 host
// since ~2009 (Nehalem, Bulldozer).

import type { CpuModel } from './model.ts';

export const X86_64_V2: CpuModel = {
  name: 'x86-64-v2',
  aliases: ['baseline'],
  description: 'x86-64 psABI level 2: a conservative baseline for migration across any modern host',
  vendor: 'host',
  features: [
    // level 1 (baseline x86-64)
    'fpu',
    'cx8',
    'cmov',
    'fxsr',
    'mmx',
    'syscall',
    'sse',
    'sse2',
    'lm',
    'nx',
    // level 2
    'cx16',
    'lahf_lm',
    'popcnt',
    'pni',
    'ssse3',
    'sse4_1',
    'sse4_2',
    // system features an x86-64 OS relies on
    'vme',
    'de',
    'pse',
    'tsc',
    'msr',
    'pae',
    'mce',
    'apic',
    'sep',
    'mtrr',
    'pge',
    'mca',
    'pat',
    'pse36',
    'clflush',
    // VMM-synthesized
    'hypervisor',
    'x2apic',
  ],
  added: {
    hypervisor: 'every VMM sets CPUID.1:ECX[31] so the guest knows it is virtualized',
    x2apic: 'the VMM emulates x2APIC whatever the host has (KVM EMULATED_F); large vCPU counts need it',
  },
  removed: {
    gbpages: 'left out: 1 GiB pages are not in psABI v2 and not on every v2-class host',
  },
};
