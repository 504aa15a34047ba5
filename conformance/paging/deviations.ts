// What the paging conformance matrix (conformance/programs/paging_*.c, issue 6 item 5) finds where a
// backend departs from the Intel SDM, as conformance deviations (conformance/deviations.ts): kind 'bug'
// for defects in tsvmm (shown as KNOWN-BUG; remove the entry when fixed — paging.test.ts notes when an
// entry no longer matches anything), kind 'host' for how this host's KVM behaves (shown as DEVIATION).
// A different wrong answer on the same line still fails. Each entry names the exact case and who is
// right per the manual.

import type { ConformanceDeviation } from '../deviations.ts';

export const PAGING_DEVIATIONS: readonly ConformanceDeviation[] = [
  {
    id: 'pvm-page-split-write-partial',
    kind: 'host',
    backend: 'kvm',
    flavours: ['kvm_pvm'],
    check: /^paging\.page-cross(\.nxe)?\.no-partial-write$/,
    expect: 'first-page-untouched',
    got: 'first-page-written',
    what:
      'An 8-byte write that crosses from a writable page into a not-present page raises #PF (error code and CR2 = ' +
      'the second page are right) but has already stored its first 4 bytes on the first page. Intel SDM Vol. 3A ' +
      '§6.5: a fault is reported with the machine state as before the faulting instruction, so nothing may be ' +
      "stored. KVM's instruction emulator writes a page-split access one page at a time " +
      '(emulator_write_emulated: the first chunk, then the second, which faults). With the second page present ' +
      'but supervisor-only or read-only the write stores nothing. The interpreter stores nothing in every case.',
    evidence:
      'seen 2026-11-23 on kvm_pvm: paging_exec, movq to 0x8000000ffc at CPL0 and CPL3 with PTE[1]=0: #PF(0x2)/' +
      '#PF(0x6), CR2=0x8000001000, bytes 0x...ffc-fff of the first frame changed from 0xee (2 of 5 faulting writes).',
  },
];
