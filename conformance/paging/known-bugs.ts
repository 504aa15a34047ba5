// Known tsvmm defects the paging conformance matrix (conformance/programs/paging_*.c, issue 6 item 5)
// finds, as conformance deviations of kind 'bug' (conformance/deviations.ts): the runner shows a FAIL
// line that matches one as KNOWN-BUG, and a different wrong answer on the same line still fails. Each
// entry names the exact case, who is right per the Intel SDM, and where the defect lives. Remove an
// entry when its bug is fixed (paging.test.ts prints a note when an entry no longer matches anything).

import type { ConformanceDeviation } from '../deviations.ts';

export const PAGING_KNOWN_BUGS: readonly ConformanceDeviation[] = [
  {
    id: 'interp-fetch-pf-cr2-page-base',
    kind: 'bug',
    backend: 'interp',
    flavours: ['none'],
    check: /^paging\./,
    expect: 'cr2-linear',
    got: 'cr2-page-base',
    what:
      'OPEN BUG in the interpreter: a #PF raised by an instruction fetch loads CR2 with the base of the page ' +
      'instead of the linear address of the byte being fetched. Intel SDM Vol. 3A §4.7 ("the processor loads ' +
      'CR2 with the linear address that generated the exception") and §6.15 (#PF: CR2 = the faulting linear ' +
      'address); KVM reports the byte address. Cause: Cpu.fillFetch (src/vcpu/interp/cpu.ts) translates ' +
      '`lo & ~0xfff`, so the MMU faults on the page base; it should translate the address being fetched (and ' +
      'take the page from the result). Only instruction fetches whose address is not page-aligned show it.',
    evidence:
      'seen 2026-11-23: every paging_* group with fetches, e.g. paging.fetch: CPL0 fetch at 0x8000000040 with ' +
      'PTE=0x1 (U/S=0) and PDE XD=1, NXE=0 → #PF(0x9) as expected, CR2=0x8000000000 (KVM: 0x8000000040); the ' +
      'line reports expect=cr2-linear got=cr2-page-base when every mismatch of the group is this one.',
  },
];
