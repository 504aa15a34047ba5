// The generated conformance header (conformance/guest/contract-tables.h) must match the contract tables
// it is generated from: regenerating changes nothing (DESIGN.md §3.5), and it holds every row.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CR4_BITS } from '../../src/arch/x86/registers/cr4.ts';
import { EFER_BITS } from '../../src/arch/x86/registers/efer.ts';
import { XCR0_BITS } from '../../src/arch/x86/registers/xcr0.ts';
import { XSS_BITS } from '../../src/arch/x86/registers/xss.ts';
import { MSR_TABLE } from '../../src/arch/x86/msr/table.ts';
import { contractDecides, generateConformanceTables, msrCheckName, OUT_PATH } from './conformance-bits.ts';

test('conformance/guest/contract-tables.h is up to date (node --import tsx tools/gen/conformance-bits.ts)', () => {
  assert.equal(readFileSync(OUT_PATH, 'utf8'), generateConformanceTables());
});

test('the header has one row per contract row, with the gates and kinds of the tables', () => {
  const h = generateConformanceTables();
  assert.match(h, new RegExp(`#define CT_CR4_NBITS ${CR4_BITS.length}\\b`));
  assert.match(h, new RegExp(`#define CT_EFER_NBITS ${EFER_BITS.length}\\b`));
  assert.match(h, new RegExp(`#define CT_XCR0_NBITS ${XCR0_BITS.length}\\b`));
  assert.match(h, new RegExp(`#define CT_XSS_NBITS ${XSS_BITS.length}\\b`));
  assert.match(h, new RegExp(`#define CT_NMSRS ${MSR_TABLE.length}\\b`));
  // SMEP: gated on CPUID.(EAX=7,ECX=0):EBX[7]; LASS: never under KVM; PCE: always, no gate
  assert.match(h, /\{"SMEP", 20, 1, 0, 1, \{\{0x7, 0, 1, 7\}/);
  assert.match(h, /\{"LASS", 27, 2, 0, 1, \{\{0x7, 1, 0, 6\}/);
  assert.match(h, /\{"PCE", 8, 0, 0, 0, /);
  // EFER.SCE: ungated under KVM, architecturally gated on SYSCALL (0x80000001:EDX[11])
  assert.match(h, /\{"SCE", 0, 3, 0, 1, \{\{0x80000001, 0, 3, 11\}/);
  // IA32_TSC_AUX: any of RDTSCP (0x80000001:EDX[27]) or RDPID (7.0:ECX[22])
  assert.match(h, /\{0xc0000103, 1, "IA32_TSC_AUX", 2, \{\{0x80000001, 0, 3, 27\}, \{0x7, 0, 2, 22\}/);
  for (const d of MSR_TABLE) assert.ok(h.includes(`"${msrCheckName(d)}"`), d.name);
  assert.ok(MSR_TABLE.some(contractDecides) === h.includes('| CT_MSR_CONTRACT') || !MSR_TABLE.some(contractDecides));
  assert.equal(msrCheckName({ name: 'IA32_MTRR_PHYSBASE/PHYSMASK0-7' }), 'IA32_MTRR_PHYSBASE_PHYSMASK0_7');
});
