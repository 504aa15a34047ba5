// Where KVM's answer for an instruction-corpus case differs from the interpreter's on a defined result,
// and KVM is the one that is wrong: recorded as data with the evidence and the referee (the host CPU
// running the same case natively, native.ts, or — for CPL 0 behaviour the host cannot run in a user
// process — the Intel SDM / AMD APM page). On this host /dev/kvm is kvm_pvm: every guest instruction
// goes through KVM's x86 instruction emulator (arch/x86/kvm/emulate.c). See also
// src/vcpu/kvm/pvm-deviations.ts (raw probes) and conformance/deviations.ts (the contract programs).

import type { InsnRow } from '../../src/vcpu/interp/spec/table.ts';
import type { InsnCase } from './cases.ts';
import type { FieldDiff } from './compare.ts';

export interface InsnDeviation {
  readonly id: string;
  /** does this deviation explain case `c`'s disagreement (`diffs`: interp = a, kvm = b)? */
  readonly matches: (c: Pick<InsnCase, 'desc'>, row: InsnRow, diffs: readonly FieldDiff[]) => boolean;
  /** 'host': the native run agrees with the interpreter on every differing field (re-checked by the test) */
  readonly referee: 'host' | 'manual';
  readonly what: string;
  readonly evidence: string;
}

const SEEN = 'seen 2026-11-23 on Linux 6.18.44-fc-v509, kvm_pvm, AMD EPYC (Zen 4) host';
const GPRS = new Set(['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15']);

export const INSN_DEVIATIONS: readonly InsnDeviation[] = [
  {
    id: 'tzcnt-runs-as-bsf',
    matches: (_c, row, diffs) => row.op === 'TZCNT' && diffs.every((d) => d.field === 'rflags' || GPRS.has(d.field)),
    referee: 'host',
    what:
      "TZCNT (F3 0F BC) executes as BSF although the guest CPUID has BMI1 (7.0:EBX[3]): a zero source leaves the " +
      'destination unchanged with ZF=1 instead of giving the operand size with CF=1, and ZF follows the source ' +
      "instead of the result. KVM's emulator has no TZCNT and ignores the F3 prefix on 0F BC (SDM Vol. 2B TZCNT).",
    evidence: `${SEEN}: tzcnt ax, r9w with r9w=0 → kvm: ax unchanged, ZF=1, CF=0; interpreter and the host CPU: ax=16, CF=1, ZF=0. 66 of 90 TZCNT cases differ.`,
  },
  {
    id: 'enter-ignores-operand-size',
    matches: (c, row, diffs) => row.op === 'ENTER' && c.desc.includes(' o16 ') && diffs.every((d) => d.field === 'rsp' || d.field === 'rbp' || d.field.startsWith('mem')),
    referee: 'host',
    what:
      'ENTER with a 66h prefix (16-bit operand size) pushes 8 bytes of RBP and sets all of RSP/RBP as in 64-bit ' +
      'operand size; the SDM (Vol. 2A ENTER, 64-bit mode) pushes BP (2 bytes) and writes BP only. ENTER with a ' +
      'nesting level above 0 is an emulation failure on this KVM.',
    evidence: `${SEEN}: 66 c8 00 00 00 with RSP=scratch+200 → kvm RSP−8 and RBP=RSP (64-bit), interpreter and host CPU RSP−2, only BP written.`,
  },
  {
    id: 'cmpxchg-r32-fail-zero-extends',
    matches: (c, row, diffs) =>
      row.op === 'CMPXCHG' && c.desc.includes(' o32 reg') &&
      diffs.every((d) => GPRS.has(d.field) && d.field !== 'rax' && (BigInt(d.a) & 0xffffffffn) === BigInt(d.b)),
    referee: 'host',
    what:
      'CMPXCHG r32, r32 whose comparison fails zero-extends the 32-bit destination register (KVM writes the ' +
      'destination back, the Intel SDM reading "the destination operand is written back if the comparison ' +
      'fails"); the AMD host, like the AMD APM (the destination is only loaded into the accumulator), leaves the ' +
      "destination register's upper half unchanged. Vendor-specific: the interpreter follows the host (AMD).",
    evidence: `${SEEN}: 45 0f b1 ee (cmpxchg r14d, r13d) with eax ≠ r14d → kvm r14 = 0x00000000_xxxxxxxx, interpreter and host CPU keep r14[63:32].`,
  },
  {
    id: 'movbe-ud',
    matches: (_c, row, diffs) => row.op === 'MOVBE' && diffs.length === 1 && diffs[0]!.field === 'outcome' && diffs[0]!.b === '#6',
    referee: 'host',
    what:
      'MOVBE raises #UD although the guest CPUID has MOVBE (1:ECX[22]); recorded with a raw probe as ' +
      'src/vcpu/kvm/pvm-deviations.ts movbe-ud-despite-emulated-cpuid.',
    evidence: `${SEEN}: every MOVBE case (16/32/64-bit, load and store) → vector 6 on kvm; the interpreter and the host CPU execute it.`,
  },
  {
    id: 'iretd-gp-in-64-bit-mode',
    matches: (c, row, diffs) => row.op === 'IRET' && c.desc.includes(' o32 ') && diffs.length === 1 && diffs[0]!.field === 'outcome' && diffs[0]!.b === '#13',
    referee: 'manual',
    what:
      'IRET with 32-bit operand size (IRETD, no REX.W) in 64-bit mode raises #GP on this KVM; IRETQ works. In ' +
      'IA-32e mode IRETD pops EIP, CS, EFLAGS, ESP and SS as doublewords and returns (SDM Vol. 2A IRET, ' +
      '"IA-32e-MODE" operation; AMD APM Vol. 3 IRET). The host cannot referee a CPL 0 IRET in a user process.',
    evidence: `${SEEN}: cf with the stack [EIP=next, CS=0x08, EFLAGS, ESP, SS=0x10] as doublewords → kvm vector 13; interpreter returns to the next instruction.`,
  },
  {
    id: 'aam-aad-flags',
    matches: (_c, row, diffs) => (row.op === 'AAM' || row.op === 'AAD') && diffs.length === 1 && diffs[0]!.field === 'eflags',
    referee: 'host',
    what:
      'AAM and AAD set SF, ZF and PF wrongly (AX itself is right): "the SF, ZF and PF flags are set according to ' +
      'the resulting binary value in the AL register" (SDM Vol. 2A AAM, AAD), but KVM reports SF=1, ZF=0 for AL=0 ' +
      'and SF=1 for every small AL. The host CPU (the legacy image run natively in compatibility mode) agrees ' +
      'with the interpreter.',
    evidence: `${SEEN}: 32-bit protected mode, d4 0a / d5 0a with AX=0 → AX=0 on both, EFLAGS kvm SF|PF (0x86), interpreter ZF|PF (0x46); 27 AAM and 19 AAD cases differ only in SF/ZF.`,
  },
];

/** The deviation that explains a disagreement, if any. */
export function explain(c: Pick<InsnCase, 'desc'>, row: InsnRow, diffs: readonly FieldDiff[]): InsnDeviation | undefined {
  return INSN_DEVIATIONS.find((d) => d.matches(c, row, diffs));
}
