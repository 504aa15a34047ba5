// Tests for the contract cross-check (contract-check.ts): report lines are turned back into the writes
// the guest made, and the contract's verdicts are compared with the program's and the backend's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CpuidTable, type CpuidEntry } from '../src/arch/x86/cpuid/table.ts';
import { compareWithContract } from './contract-check.ts';
import { parseReport } from './report.ts';

const ENTRIES: CpuidEntry[] = [
  { function: 0, index: 0, flags: 0, eax: 0xd, ebx: 0x68747541, ecx: 0x444d4163, edx: 0x69746e65 },
  // XSAVE, no PCID
  { function: 1, index: 0, flags: 0, eax: 0xb00f21, ebx: 0, ecx: 1 << 26, edx: 0x078bfbff },
  // FSGSBASE, no SMEP
  { function: 7, index: 0, flags: 1, eax: 0, ebx: 1, ecx: 0, edx: 0 },
  { function: 0xd, index: 0, flags: 1, eax: 0x7, ebx: 0x340, ecx: 0x340, edx: 0 },
  { function: 0x80000000, index: 0, flags: 0, eax: 0x80000008, ebx: 0, ecx: 0, edx: 0 },
  { function: 0x80000001, index: 0, flags: 0, eax: 0, ebx: 0, ecx: 0, edx: (1 << 20) | (1 << 29) | (1 << 11) },
  { function: 0x80000008, index: 0, flags: 0, eax: 0x3030, ebx: 0, ecx: 0, edx: 0 },
];
const TABLE = CpuidTable.from(ENTRIES);

function lines(...l: string[]): ReturnType<typeof parseReport>['lines'] {
  return parseReport(['TSVMM-BEGIN t', ...l.map((x) => `TSVMM-REPORT ${x}`), ''].join('\n')).lines;
}

test('agreeing lines produce no disagreement; each reconstructible line is compared', () => {
  const r = compareWithContract(
    lines(
      'PASS cr4.SMEP bit20 cpuid=0(7.0:EBX[7]) rule=gated expect=#GP got=#GP',
      'PASS cr4.FSGSBASE bit16 cpuid=1(7.0:EBX[0]) rule=gated expect=ok got=ok',
      'PASS cr4.LASS bit27 cpuid=0(7.1:EAX[6]) rule=reserved(KVM) expect=#GP got=#GP',
      'PASS cr4.PAE bit5 clear rule=PAE-must-stay-set-in-long-mode expect=#GP got=#GP',
      'PASS efer.NXE bit11 cpuid=1(0x80000001:EDX[20]) rule=gated expect=ok got=ok',
      'PASS efer.LME bit8 clear rule=no-LME-change-while-CR0.PG=1 expect=#GP got=#GP',
      'PASS xcr0.x87-required value=0x0 rule=x87-must-be-set expect=#GP got=#GP',
      'PASS xcr0.bit9 bit9 not-in-0xD.0 rule=unsupported expect=#GP got=#GP',
      'PASS xcr0.ud-without-osxsave CR4.OSXSAVE=0 xsave=1 expect=#UD got=#UD',
      'PASS msr.undefined.read rdmsr(0x12345678) rule=undefined-MSR expect=#GP got=#GP',
      'PASS cr4.OSXSAVE.cpuid-mirror 1:ECX[27] off=0 on=1 off-again=0 set=ok',
      'PASS cr0.NW bit29 rule=NW-needs-CD expect=#GP got=#GP',
      'PASS cr0.bit40 bit40 rule=reserved-high-bit expect=#GP got=#GP',
      'PASS cr0.bit7 bit7 rule=reserved-low-bit-dropped(KVM) expect=ok got=ok',
      'PASS cr0.PG bit31 clear rule=no-PG-clear-in-64-bit-mode expect=#GP got=#GP',
    ),
    TABLE,
  );
  assert.equal(r.error, undefined);
  assert.equal(r.compared, 14, 'the mirror line has no write to reconstruct');
  assert.deepEqual(r.disagreements, []);
});

test('a backend that accepts a reserved bit disagrees with the contract, which gives its rule and reason', () => {
  const r = compareWithContract(lines('FAIL cr4.SMEP bit20 cpuid=0(7.0:EBX[7]) rule=gated expect=#GP got=ok'), TABLE);
  assert.equal(r.disagreements.length, 1);
  const d = r.disagreements[0]!;
  assert.equal(d.name, 'cr4.SMEP');
  assert.equal(d.contract, '#GP');
  assert.equal(d.got, 'ok');
  assert.equal(d.expect, '#GP');
  assert.ok(d.rule && d.reason && /SMEP/.test(d.reason), JSON.stringify(d));
});

test('a program whose expectation differs from the contract is shown too', () => {
  const r = compareWithContract(lines('PASS cr4.SMEP bit20 cpuid=0 rule=gated expect=ok got=ok'), TABLE);
  assert.equal(r.disagreements.length, 1);
  assert.equal(r.disagreements[0]!.contract, '#GP');
});
