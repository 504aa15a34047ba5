// Where KVM on this machine's /dev/kvm (the kvm_pvm module: KVM without VT-x/SVM, guests run
// through KVM's instruction emulator and shadow MMU) departs from the architecture (Intel SDM /
// AMD APM) or from upstream KVM (spec/kvm-contract.md), recorded as data with the evidence.
// pvm-deviations.test.ts re-runs every `probe` on a kvm_pvm host and checks the evidence still holds.
// An internal_error of suberror 1 (KVM_INTERNAL_ERROR_EMULATION) is "oracle unavailable" for that
// instruction: never a pass or a fail.

import type { GuestMode } from './testing/guest-setup.ts';

export interface SeenOn {
  /** `uname -r` */
  readonly kernel: string;
  readonly module: 'kvm_pvm';
}

/** A guest program (GNU as, linked at 0x1000) whose run reproduces the deviation. */
export interface GuestProbe {
  readonly kind: 'guest';
  readonly mode: GuestMode;
  readonly source: string;
  /** guest CPUID changes on top of KVM_GET_SUPPORTED_CPUID: [function, index, reg, bits to set] */
  readonly cpuidSet?: readonly (readonly [number, number, 'eax' | 'ebx' | 'ecx' | 'edx', number])[];
  readonly cr4?: bigint;
  /** summarize(trace) on PVM starts with this (see testing/guest.ts) */
  readonly observed: string;
  /** what the architecture (or upstream KVM) would do instead */
  readonly expected: string;
}

/** Reproduced by dedicated code in pvm-deviations.test.ts (keyed by id). */
export interface CustomProbe {
  readonly kind: 'custom';
}

export interface PvmDeviation {
  readonly id: string;
  readonly what: string;
  readonly evidence: string;
  readonly seenOn: SeenOn;
  readonly probe: GuestProbe | CustomProbe;
}

const SEEN: SeenOn = { kernel: '6.18.44-fc-v509', module: 'kvm_pvm' };

const CR4_OSFXSR = 1n << 9n;
const CR4_OSXMMEXCPT = 1n << 10n;
const CR4_OSXSAVE = 1n << 18n;
const CR4_SMAP = 1n << 21n;

export const PVM_DEVIATIONS: readonly PvmDeviation[] = [
  {
    id: 'cpuid-host-bits-merged',
    what:
      'KVM_SET_CPUID2 does not install the table given: host feature bits are ORed into CPUID leaf 1 ECX/EDX ' +
      '(and leaf 7.0 EBX/ECX/EDX, 7.1 EAX when those leaves are present), and leaf 0xD subleaves are added. The ' +
      'guest CPUID instruction and KVM_GET_CPUID2 then report features KVM_GET_SUPPORTED_CPUID does not offer ' +
      '(SSE3…AVX, MOVBE, POPCNT, XSAVE, AVX2, SMEP, SMAP, AVX-512 …). KVM_GET_CPUID2 and the guest also differ ' +
      'from each other in leaf 7.0 EBX bits 10, 12, 15. A CPU policy that hides these features cannot be ' +
      'enforced on this KVM; after KVM_RUN only the rewritten table is accepted again by KVM_SET_CPUID2.',
    evidence:
      'KVM_SET_CPUID2 with the supported table (leaf 1 ECX=0x81202000, EDX=0x078bfbff; leaf 7.0 EBX=0x01800002), ' +
      'then KVM_GET_CPUID2 (before any KVM_RUN): leaf 1 ECX=0xf7f83203 EDX=0x178bfbff, leaf 7.0 EBX=0xf1bf97ab, ' +
      '7.1 EAX=0x30; guest CPUID(1).ECX=0xf7f83203, CPUID(7,0).EBX=0xf1bf03ab. With leaf 1 ECX=0, EDX=0x41 and no ' +
      'leaf 7: KVM_GET_CPUID2 leaf 1 ECX=0x76d81203 EDX=0x178bfbff, leaf 7 absent, 0xD.0/1/2/5/6/7 added. After ' +
      'KVM_RUN, KVM_SET_CPUID2 of the original table → EINVAL; of the KVM_GET_CPUID2 table → accepted.',
    seenOn: SEEN,
    probe: { kind: 'custom' },
  },
  {
    id: 'cr4-not-gated-by-guest-cpuid',
    what:
      'CR4 reserved bits do not follow the guest CPUID: KVM_SET_SREGS (and a guest MOV to CR4) accept FSGSBASE, ' +
      'OSXSAVE, SMEP, SMAP and PKE with a guest CPUID that has no leaf 7 and leaf 1 ECX=0; the accepted set is the ' +
      'same fixed set (bits 0-11, 16, 18, 20, 21, 22) for any table. Upstream KVM refuses a CR4 bit whose feature ' +
      'is not in the guest CPUID (spec/kvm-contract.md §1.1). Conformance cells "bit refused without its feature" ' +
      'cannot pass on this KVM.',
    evidence:
      'long mode via KVM_SET_SREGS, guest CPUID = leaves 0, 1 (ECX=0, EDX=0x41), 0x80000000, 0x80000001 ' +
      '(EDX=LM), 0x80000008: setting each CR4 bit alone through KVM_SET_SREGS accepted bits 0-11,16,18,20,21,22 and ' +
      'refused 12-15,17,19,23-31 (EINVAL) — identical to the result with the full supported table. A guest ' +
      '`mov %rax,%cr4` setting SMEP (bit 20) with that table completed without #GP.',
    seenOn: SEEN,
    probe: { kind: 'custom' },
  },
  {
    id: 'irq-window-late',
    what:
      'request_interrupt_window is honoured only at the next exit: with IF going 0→1 (STI; NOP) PVM keeps ' +
      'emulating and exits at the next OUT instead of with KVM_EXIT_IRQ_WINDOW_OPEN. ready_for_interrupt_injection ' +
      'and if_flag are correct at every exit, so the VMM should inject at the next exit.',
    evidence:
      'long mode: cli; OUT 0xf4 (exit, if_flag=0, ready=0); request_interrupt_window=1; KVM_RUN over sti; nop; ' +
      'mov $2,%al; out → KVM_EXIT_IO port 0xf4 data 2 with if_flag=1, ready_for_interrupt_injection=1 (hardware ' +
      'KVM exits KVM_EXIT_IRQ_WINDOW_OPEN after the NOP).',
    seenOn: SEEN,
    probe: { kind: 'custom' },
  },
  {
    id: 'set-sregs-efer-unchecked',
    what:
      'KVM_SET_SREGS accepts any EFER bit (SVME, LMSLE, FFXSR, TCE, AUTOIBRS) regardless of guest CPUID. Upstream ' +
      '6.18 does the same (EFER is validated in KVM_SET_SREGS only from the 2026 "check EFER in ' +
      'kvm_is_valid_sregs" patch, spec/kvm-contract.md §1.6), so this is listed for the contract, not blamed on PVM.',
    evidence:
      'long mode via KVM_SET_SREGS with the supported table and with a minimal table: EFER |= bit 0, 11, 12, 13, 14, ' +
      '15 or 21 → accepted each time.',
    seenOn: SEEN,
    probe: { kind: 'custom' },
  },
  {
    id: 'paging-outside-long-mode',
    what:
      'Enabling paging outside long mode triple-faults: MOV CR0 setting PG with EFER.LME=0 (32-bit paging with 4 KiB ' +
      'or 4 MiB pages, or PAE paging) ends the run in KVM_EXIT_SHUTDOWN at the MOV, CR0 unchanged. This is why ' +
      '32-bit guest kernels triple-fault. Real mode, unpaged 32-bit protected mode, real→protected switches and ' +
      'the protected→long-mode switch (PAE+LME+PG) all work.',
    evidence:
      'guest at 0x1000 in flat 32-bit PM: PDE[0]=0x83 at 0x9000, CR3=0x9000, CR4.PSE=1, MOV CR0 with PG → ' +
      'KVM_EXIT_SHUTDOWN, rip=0x101f (the MOV CR0), CR0=0x31. Same with a 4 KiB page table (rip at the MOV CR0) and ' +
      'with CR4.PAE=1 and a PDPT. Entering with CR0.PG=1/CR4.PSE=1 through KVM_SET_SREGS: SET_SREGS succeeds, the ' +
      'first KVM_RUN returns KVM_EXIT_SHUTDOWN (a second KVM_RUN then executed the OUT).',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'protected32',
      source: [
        ' mov $0x9000, %edi',
        ' movl $0x83, (%edi)',
        ' mov %edi, %cr3',
        ' mov %cr4, %eax',
        ' or $0x10, %eax',
        ' mov %eax, %cr4',
        ' mov %cr0, %eax',
        ' or $0x80000000, %eax',
        ' mov %eax, %cr0',
        ' mov $0x33, %al',
        ' out %al, $0xf4',
        ' hlt',
      ].join('\n'),
      observed: 'shutdown',
      expected: 'out 0xf4=0x33; hlt',
    },
  },
  {
    id: 'int-n-emulation-failure',
    what: 'INT3 and INT n are not emulated: KVM internal error, emulation failure, even with a valid 64-bit IDT.',
    evidence:
      'long mode, IDT with 64 interrupt gates at 0x3000: `int3` → KVM_EXIT_INTERNAL_ERROR suberror 1 (EMULATION), ' +
      'data[0] flags=0x1 (instruction bytes present), insn_bytes "cc b0 99 …"; `int $0x21` → same with "cd 21 …". ' +
      'Exceptions raised by the emulator itself (#UD from ud2, #DE, #PF, #GP) are delivered through the IDT.',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' int $0x21\n hlt',
      observed: 'internal_error 1 insn cd 21',
      expected: 'vector 33; hlt',
    },
  },
  {
    id: 'clac-stac-emulation-failure',
    what:
      'CLAC/STAC end in an emulation failure whether or not the guest CPUID has SMAP (architecturally #UD without ' +
      'SMAP, executed with it).',
    evidence:
      'long mode, IDT installed: `clac` → KVM_EXIT_INTERNAL_ERROR suberror 1, insn_bytes "0f 01 ca …" with the ' +
      'supported CPUID (no SMAP, expect #UD) and with CPUID.7.0:EBX[20] SMAP set and CR4.SMAP=1 (expect execution); ' +
      '`stac` → same with "0f 01 cb".',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' clac\n mov $0x77, %al\n out %al, $0xf4\n hlt',
      cpuidSet: [[7, 0, 'ebx', 1 << 20]],
      cr4: CR4_SMAP,
      observed: 'internal_error 1 insn 0f 01 ca',
      expected: 'out 0xf4=0x77; hlt',
    },
  },
  {
    id: 'xgetbv-emulation-failure',
    what:
      'XGETBV is not emulated (with CR4.OSXSAVE=1, and also with OSXSAVE=0 where it must #UD); XSETBV works ' +
      '(XSETBV XCR0=3 executed and the next OUT ran).',
    evidence:
      'long mode, CR4.OSXSAVE=1, ECX=0: `xgetbv` → KVM_EXIT_INTERNAL_ERROR suberror 1, insn_bytes "0f 01 d0 …"; ' +
      'with CR4.OSXSAVE=0 the same exit instead of vector 6.',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' xor %ecx, %ecx\n xgetbv\n out %eax, $0xf4\n hlt',
      cr4: CR4_OSXSAVE,
      observed: 'internal_error 1 insn 0f 01 d0',
      expected: 'out 0xf4=0x1; hlt (XCR0 reset value 1)',
    },
  },
  {
    id: 'invpcid-emulation-failure',
    what: 'INVPCID ends in an emulation failure (the supported CPUID lacks INVPCID, so #UD was expected).',
    evidence:
      'long mode: `invpcid (%rbx), %rax` → KVM_EXIT_INTERNAL_ERROR suberror 1, insn_bytes "66 0f 38 82 03 …".',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' mov $0x3000, %rbx\n xor %eax, %eax\n invpcid (%rbx), %rax\n hlt',
      observed: 'internal_error 1 insn 66 0f 38 82',
      expected: 'vector 6; hlt',
    },
  },
  {
    id: 'clwb-emulation-failure',
    what: 'CLWB ends in an emulation failure (CLFLUSH works).',
    evidence: 'long mode: `clwb (%rbx)` → KVM_EXIT_INTERNAL_ERROR suberror 1, insn_bytes "66 0f ae 33 …".',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' mov $0x3000, %rbx\n clwb (%rbx)\n hlt',
      observed: 'internal_error 1 insn 66 0f ae 33',
      expected: 'hlt, or vector 6 without CLWB in CPUID',
    },
  },
  {
    id: 'sse-emulation-failure',
    what:
      'SSE instructions are not emulated: PXOR xmm with CR4.OSFXSR=1 ends in an emulation failure. Guest programs ' +
      'meant for this KVM must be built without SSE (e.g. gcc -mgeneral-regs-only).',
    evidence:
      'long mode, CR0.EM=0, CR0.TS=0, CR4.OSFXSR|OSXMMEXCPT: `pxor %xmm0,%xmm0` → KVM_EXIT_INTERNAL_ERROR ' +
      'suberror 1, insn_bytes "66 0f ef c0 …".',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' pxor %xmm0, %xmm0\n mov $0x55, %al\n out %al, $0xf4\n hlt',
      cr4: CR4_OSFXSR | CR4_OSXMMEXCPT,
      observed: 'internal_error 1 insn 66 0f ef c0',
      expected: 'out 0xf4=0x55; hlt',
    },
  },
  {
    id: 'popcnt-emulation-failure',
    what: 'POPCNT ends in an emulation failure with or without CPUID.1:ECX[23] POPCNT (#UD expected without it).',
    evidence:
      'long mode: `popcnt %eax,%eax` → KVM_EXIT_INTERNAL_ERROR suberror 1, insn_bytes "f3 0f b8 c0 …".',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' mov $7, %eax\n popcnt %eax, %eax\n out %eax, $0xf4\n hlt',
      cpuidSet: [[1, 0, 'ecx', 1 << 23]],
      observed: 'internal_error 1 insn f3 0f b8 c0',
      expected: 'out 0xf4=0x3; hlt',
    },
  },
  {
    id: 'cmpxchg16b-emulation-failure',
    what: 'CMPXCHG16B ends in an emulation failure although CX16 is in KVM_GET_SUPPORTED_CPUID.',
    evidence:
      'long mode: `cmpxchg16b (%rbx)` → KVM_EXIT_INTERNAL_ERROR suberror 1, insn_bytes "48 0f c7 0b …".',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' mov $0x3000, %rbx\n cmpxchg16b (%rbx)\n mov $0x16, %al\n out %al, $0xf4\n hlt',
      observed: 'internal_error 1 insn 48 0f c7 0b',
      expected: 'out 0xf4=0x16; hlt',
    },
  },
  {
    id: 'movbe-ud-despite-emulated-cpuid',
    what:
      'MOVBE raises #UD even with CPUID.1:ECX[22] MOVBE in the guest CPUID, although KVM_GET_EMULATED_CPUID ' +
      'offers MOVBE (leaf 1 ECX=0x00400000). (The issue reported an emulation failure for MOVBE; with an IDT it is #UD.)',
    evidence:
      'long mode, guest CPUID = supported + leaf 1 ECX bit 22: `movbe (%rbx),%eax` → vector 6 delivered through ' +
      'the IDT (OUT 0xf5=6, then HLT).',
    seenOn: SEEN,
    probe: {
      kind: 'guest',
      mode: 'long64',
      source: ' mov $0x3000, %rbx\n movl $0x11223344, (%rbx)\n movbe (%rbx), %eax\n out %eax, $0xf4\n hlt',
      cpuidSet: [[1, 0, 'ecx', 1 << 22]],
      observed: 'vector 6; hlt',
      expected: 'out 0xf4=0x44332211; hlt',
    },
  },
  {
    id: 'arch-capabilities-write-refused',
    what:
      'Host-initiated KVM_SET_MSRS of IA32_ARCH_CAPABILITIES (0x10a) is refused for every nonzero value, even the ' +
      'value KVM itself reports for the feature MSR; only 0 is accepted. Upstream accepts any subset of the ' +
      'reported value. This is why QEMU -cpu host/max aborts.',
    evidence:
      'KVM_GET_MSRS on /dev/kvm (feature MSR) 0x10a = 0x400000000c000069; KVM_SET_MSRS on a vCPU with the ' +
      'supported CPUID (which has CPUID.7.0:EDX[29] ARCH_CAPABILITIES): {0x10a: 0x400000000c000069} → 0 MSRs set; ' +
      'also 0 for 0x1, 0x2, 0x20, 0x8000000, 1<<63; {0x10a: 0} → 1.',
    seenOn: SEEN,
    probe: { kind: 'custom' },
  },
];

export function deviationById(id: string): PvmDeviation | undefined {
  return PVM_DEVIATIONS.find((d) => d.id === id);
}
