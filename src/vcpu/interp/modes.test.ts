// Modes, exceptions and interrupts on the interpreter: a real → protected → long mode boot sequence,
// exception delivery through the IDT with error codes (SDM Vol. 3A ch. 6), #PF through the MMU with
// CR2, #DF and triple fault, INT n/IRET, external interrupts and the STI shadow, I/O and MMIO exits,
// self-modifying code, CPUID feature gating and unimplemented-instruction reporting. Needs GNU as.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, haveAssembler, makeGuest, CODE_BASE, IDT_BASE, type Guest } from './testing/harness.ts';
import { createInterpBackend } from './index.ts';

const skip = !haveAssembler();

/** handlers at CODE_BASE + 0x1000 + 0x40*v: r14 = vector, r15 = error code (if any), r13 = CR2; then hlt */
const ERRC = new Set([8, 10, 11, 12, 13, 14, 17]);
function handlers(): string {
  let s = '';
  for (let v = 0; v < 32; v++) {
    s += `.org 0x${(0x1000 + v * 0x40).toString(16)}\n mov r14, ${v}\n${ERRC.has(v) ? ' pop r15\n' : ''} mov r13, cr2\n hlt\n`;
  }
  s += `.org 0x${(0x1000 + 32 * 0x40).toString(16)}\n mov r14, 32\n iretq\n`; // vector 32: returns
  s += `.org 0x${(0x1000 + 33 * 0x40).toString(16)}\n inc r12\n iretq\n`; // vector 33: counts
  return s;
}
function installIdt(g: Guest, presentMask = (_v: number) => true): void {
  for (let v = 0; v < 34; v++) {
    const off = CODE_BASE + 0x1000 + v * 0x40;
    const e = IDT_BASE + v * 16;
    g.dv.setUint32(e, (off & 0xffff) | (0x08 << 16), true);
    g.dv.setUint32(e + 4, (off & 0xffff0000) | (presentMask(v) ? 0x8e00 : 0x0e00), true);
    g.dv.setUint32(e + 8, 0, true);
    g.dv.setUint32(e + 12, 0, true);
  }
}
/** TSS.RSP0 = 0x90000, then IRETQ to CPL 3 at the label `user` (CS 0x23, SS 0x2b, RSP 0x70000, IF=0) */
const TO_CPL3 = `mov qword ptr [0x704], 0x90000
    push 0x2b
    push 0x70000
    push 0x2
    push 0x23
    lea rax, [rip + user]
    push rax
    iretq`;

function longGuest(body: string, present?: (v: number) => boolean): Guest {
  const g = makeGuest(assemble(`${body}\n hlt\n${handlers()}`));
  installIdt(g, present);
  return g;
}

test('real mode → protected mode → long mode boot sequence reaches an OUT exit', { skip }, () => {
  const code = assemble(`
    .code16
    cli
    xor ax, ax
    mov ds, ax
    mov al, 'R'
    out 0xe9, al
    lgdt [gdtr - 0x7c00 + 0x7c00]
    mov eax, cr0
    or eax, 1
    mov cr0, eax
    ljmp 0x18, offset pm32
    .code32
  pm32:
    mov ax, 0x10
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov esp, 0x7000
    mov al, 'P'
    out 0xe9, al
    mov eax, cr4
    or eax, 0x20
    mov cr4, eax
    mov eax, 0x2000
    mov cr3, eax
    mov ecx, 0xc0000080
    rdmsr
    or eax, 0x100
    wrmsr
    mov eax, cr0
    or eax, 0x80000000
    mov cr0, eax
    ljmp 0x08, offset lm64
    .code64
  lm64:
    mov rax, 0x123456789
    add rax, rax
    mov dx, 0xe9
    mov al, 'L'
    out dx, al
    mov rcx, 0xc0000080
    rdmsr
    hlt
  .align 8
  gdtr:
    .word 0x3f
    .long 0x500
  `, 16, 0x7c00);
  const g = makeGuest(code, 'real');
  const { exit, out } = g.runToHalt();
  assert.equal(exit.reason, 'hlt');
  assert.equal(String.fromCharCode(...out), 'RPL');
  const r = g.regs();
  assert.equal(r.rax & 0xfffn, 0x500n); // EFER as read by RDMSR in 64-bit mode: LME | LMA
  const s = g.vcpu.getSregs();
  assert.equal(s.cs.l, true);
  assert.equal(s.efer & 0x500n, 0x500n);
});

test('#GP(0) from a reserved CR4 bit is delivered through the IDT with its error code', { skip }, () => {
  const g = longGuest(' mov rax, cr4\n bts rax, 40\n mov cr4, rax\n mov r14, 99');
  const { exit } = g.runToHalt();
  assert.equal(exit.reason, 'hlt');
  const r = g.regs();
  assert.equal(r.r14, 13n);
  assert.equal(r.r15, 0n);
});

test('#PF carries the error code and CR2 from the MMU walk', { skip }, () => {
  const g = longGuest(' mov rbx, 0x40000123\n mov dword ptr [rbx], 1');
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r14, 14n);
  assert.equal(r.r15, 2n); // W=1, P=0, U=0
  assert.equal(r.r13, 0x40000123n);
});

test('#PF whose handler gate is not present becomes #DF; a fault delivering #DF is a triple fault', { skip }, () => {
  const g = longGuest(' mov rbx, 0x40000000\n mov eax, [rbx]', (v) => v !== 14 && v !== 11);
  g.runToHalt();
  assert.equal(g.regs().r14, 8n);
  assert.equal(g.regs().r15, 0n);
  const t = longGuest(' mov rbx, 0x40000000\n mov eax, [rbx]', (v) => v !== 14 && v !== 11 && v !== 8);
  const { exit } = t.runToHalt();
  assert.equal(exit.reason, 'shutdown');
});

test('INT n and IRETQ return to the next instruction; #UD for an undefined opcode; #DE', { skip }, () => {
  const g = longGuest(' mov r12, 5\n int 33\n int 33\n mov rbx, r12\n ud2');
  g.runToHalt();
  assert.equal(g.regs().rbx, 7n);
  assert.equal(g.regs().r14, 6n);
  const d = longGuest(' xor ecx, ecx\n mov eax, 1\n div ecx');
  d.runToHalt();
  assert.equal(d.regs().r14, 0n);
});

test('external interrupts: delivered only with IF=1, after the STI shadow, waking HLT', { skip }, () => {
  const g = longGuest(' mov r12, 0\n cli\n nop\n sti\n mov rbx, r12\n mov rcx, r12\n hlt\n mov rdx, r12');
  const v = g.vcpu;
  v.injectInterrupt(33);
  assert.throws(() => v.injectInterrupt(33));
  const e = v.run();
  assert.equal(e.reason, 'hlt');
  const r = g.regs();
  assert.equal(r.rbx, 0n, 'not delivered in the STI shadow');
  assert.equal(r.rcx, 1n, 'delivered right after the instruction following STI');
  v.injectInterrupt(33);
  v.run(); // wakes from HLT, runs the handler, then RDX
  assert.equal(g.regs().rdx, 2n);
});

test('IN/OUT exits: IN completes on the next run with the VMM data; MMIO read/write exits', { skip }, () => {
  const g = longGuest(' in eax, 0x71\n mov rbx, rax\n mov rsi, 0x30000000\n mov ecx, [rsi]\n mov dword ptr [rsi+8], 0xabcd\n mov rdx, rcx');
  let e = g.vcpu.run();
  assert.equal(e.reason, 'io');
  if (e.reason !== 'io') return;
  assert.equal(e.direction, 'in'); assert.equal(e.port, 0x71); assert.equal(e.size, 4);
  e.data.set([0x78, 0x56, 0x34, 0x12]);
  e = g.vcpu.run();
  assert.equal(e.reason, 'mmio');
  if (e.reason !== 'mmio') return;
  assert.equal(e.physAddr, 0x30000000n); assert.equal(e.isWrite, false); assert.equal(e.len, 4);
  e.data.set([1, 2, 3, 4]);
  e = g.vcpu.run();
  assert.equal(e.reason, 'mmio');
  if (e.reason !== 'mmio') return;
  assert.equal(e.isWrite, true); assert.equal(e.physAddr, 0x30000008n);
  assert.deepEqual([...e.data.subarray(0, 4)], [0xcd, 0xab, 0, 0]);
  assert.equal(g.vcpu.run().reason, 'hlt');
  assert.equal(g.regs().rbx, 0x12345678n);
  assert.equal(g.regs().rdx, 0x04030201n);
});

test('self-modifying code executes the new bytes', { skip }, () => {
  const g = longGuest(' lea rdi, [rip + patch]\n mov byte ptr [rdi+1], 42\n patch: mov al, 7\n movzx ebx, al');
  g.runToHalt();
  assert.equal(g.regs().rbx, 42n);
});

test('feature gating: POPCNT is #UD without CPUID.1:ECX.POPCNT; LZCNT runs as BSR without ABM', { skip }, () => {
  const be = createInterpBackend();
  const cpuid = be.supportedCpuid().map((e) => (e.function === 1 ? { ...e, ecx: e.ecx & ~(1 << 23) } : e.function === 0x80000001 ? { ...e, ecx: e.ecx & ~(1 << 5) } : e));
  const code = assemble(` mov ebx, 0x10\n lzcnt eax, ebx\n mov r8, rax\n popcnt eax, ebx\n hlt\n${handlers()}`);
  const g = makeGuest(code, 'long', cpuid);
  installIdt(g);
  g.runToHalt();
  assert.equal(g.regs().r8, 4n); // BSR(0x10) = 4; LZCNT would give 27
  assert.equal(g.regs().r14, 6n);
});

test('an instruction decoded but not implemented is an internal_error exit with its bytes', { skip }, () => {
  // x87 arithmetic is decoded (for length and #NM/#UD) but not executed yet
  const g = longGuest(' fsin');
  const e = g.vcpu.run();
  assert.equal(e.reason, 'internal_error');
  if (e.reason !== 'internal_error') return;
  assert.equal(e.suberror, 1);
  assert.deepEqual([...(e.insnBytes ?? new Uint8Array(0)).subarray(0, 2)], [0xd9, 0xfe]);
});

test('decoder: LOCK on a non-lockable instruction is #UD; more than 15 bytes is #GP', { skip }, () => {
  const g = longGuest(' .byte 0xf0\n mov eax, ebx');
  g.runToHalt();
  assert.equal(g.regs().r14, 6n);
  const l = longGuest(' .byte 0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66,0x66\n add eax, 1');
  l.runToHalt();
  assert.equal(l.regs().r14, 13n);
});

test('CPUID answers from the table with OSXSAVE mirroring CR4 and out-of-range leaves (Intel rule)', { skip }, () => {
  const g = longGuest(' mov eax, 1\n cpuid\n mov r8, rcx\n mov rax, cr4\n bts rax, 18\n mov cr4, rax\n mov eax, 1\n cpuid\n mov r9, rcx\n mov eax, 0x7fffffff\n cpuid\n mov r10, rax');
  const cpuid = createInterpBackend().supportedCpuid().map((e) => (e.function === 1 ? { ...e, ecx: e.ecx | (1 << 26) } : e));
  g.vcpu.setCpuid(cpuid);
  g.runToHalt();
  const r = g.regs();
  assert.equal((r.r8 >> 27n) & 1n, 0n);
  assert.equal((r.r9 >> 27n) & 1n, 1n);
  const max = cpuid.find((e) => e.function === 0)!.eax;
  assert.equal(r.r10, BigInt(cpuid.find((e) => e.function === max)?.eax ?? 0));
});

test('string instructions with REP in 64-bit mode; SYSCALL/SYSRET round trip', { skip }, () => {
  const g = longGuest(`
    mov rdi, 0x200000
    mov rcx, 100
    mov al, 0x5a
    rep stosb
    mov rsi, 0x200000
    mov rdi, 0x300000
    mov rcx, 25
    rep movsd
    mov rdi, 0x300000
    mov rcx, 200
    mov al, 0
    repne scasb
    mov r8, rcx
    mov ecx, 0xc0000081
    xor eax, eax
    mov edx, 0x00130008
    wrmsr
    mov ecx, 0xc0000082
    lea rax, [rip + kernel]
    xor edx, edx
    wrmsr
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1
    wrmsr
    syscall
    mov r9, 1
    jmp done
  kernel:
    mov r10, rcx
    sysretq
  done:
    mov rbx, cs
  `);
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r8, 99n); // scan stops after the first zero byte past the 100 copied bytes
  assert.equal(r.r9, 1n);
  assert.equal(r.rbx, 0x23n); // SYSRET: STAR[63:48]+16 | 3
});

test('long mode: IRETQ to CPL 3, INT from user mode switches to TSS.RSP0, CPL-3 IN without IOPL is #GP', { skip }, () => {
  const g = longGuest(`
    mov qword ptr [0x704], 0x90000
    push 0x2b
    push 0x70000
    push 0x202
    push 0x23
    lea rax, [rip + user]
    push rax
    iretq
  user:
    mov r12, 10
    int 33
    mov rbx, rsp
    mov rcx, cs
    in al, 0x80
  `);
  // gate 33 callable from CPL 3
  g.dv.setUint32(IDT_BASE + 33 * 16 + 4, (g.dv.getUint32(IDT_BASE + 33 * 16 + 4, true) & 0xffff0000) | 0xee00, true);
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r12, 11n);
  assert.equal(r.rbx, 0x70000n);
  assert.equal(r.rcx, 0x23n);
  assert.equal(r.r14, 13n);
  assert.equal(r.r15, 0n);
  // the #GP frame on the RSP0 stack: RIP, CS, RFLAGS, RSP, SS
  const f = 0x90000 - 40;
  assert.equal(g.dv.getUint32(f + 8, true), 0x23);
  assert.equal(g.dv.getUint32(f + 24, true), 0x70000);
  assert.equal(g.dv.getUint32(f + 32, true), 0x2b);
  assert.equal(r.rsp, BigInt(f));
});

test('32-bit protected mode: CALL/RET, far CALL/RETF, INT through a 32-bit gate, segment limit #GP', { skip }, () => {
  const code = assemble(`
    mov esp, 0x80000
    mov eax, 5
    call twice
    mov ebx, eax
    lcall 0x18, offset farproc
    mov ecx, edx
    int 0x21
    mov esi, edi
    mov ax, 0x38
    mov ds, ax
    mov eax, [0x1000]
    hlt
  twice:
    add eax, eax
    ret
  farproc:
    mov edx, 0x77
    lret
  .org 0x800
  int21:
    mov edi, 0x99
    iretd
  .org 0x900
  gp:
    pop ebp
    mov esi, 13
    hlt
  `, 32);
  const g = makeGuest(code, 'prot32');
  const gate = (v: number, off: number): void => {
    g.dv.setUint32(IDT_BASE + v * 8, (off & 0xffff) | (0x18 << 16), true);
    g.dv.setUint32(IDT_BASE + v * 8 + 4, (off & 0xffff0000) | 0x8e00, true);
  };
  gate(0x21, 0x10800);
  gate(13, 0x10900);
  // GDT[7] = data segment base 0x100000, byte-granular limit 0xfff
  g.dv.setUint32(0x500 + 0x38, 0x00000fff, true);
  g.dv.setUint32(0x500 + 0x3c, 0x00409210, true);
  const { exit } = g.runToHalt();
  assert.equal(exit.reason, 'hlt');
  const r = g.regs();
  assert.equal(r.rbx, 10n);
  assert.equal(r.rcx, 0x77n);
  assert.equal(r.rdi, 0x99n);
  assert.equal(r.rsi, 13n);
  assert.equal(r.rbp, 0n); // #GP(0) for a limit violation
});

test('real mode: INT through the IVT and IRET; 16-bit arithmetic and segment:offset addressing', { skip }, () => {
  const code = assemble(`
    mov ax, 0x1234
    mov bx, 0xffff
    add ax, bx
    mov cx, ax
    mov ax, 0x2000
    mov es, ax
    mov word ptr es:[0x10], 0xbeef
    mov dx, word ptr es:[0x10]
    int 0x40
    hlt
  .org 0x100
    mov si, 0x55
    iret
  `, 16, 0x7c00);
  const g = makeGuest(code, 'real');
  g.dv.setUint16(0x40 * 4, 0x7d00, true);
  g.dv.setUint16(0x40 * 4 + 2, 0, true);
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.rcx & 0xffffn, 0x1233n);
  assert.equal(r.rdx & 0xffffn, 0xbeefn);
  assert.equal(g.dv.getUint16(0x20010, true), 0xbeef);
  assert.equal(r.rsi & 0xffffn, 0x55n);
});

test('decode cache: patching an already-executed instruction takes effect (same physical address)', { skip }, () => {
  const g = longGuest(`
    mov ecx, 2
    xor ebx, ebx
  again:
    lea rdi, [rip + patch]
  patch:
    add ebx, 1
    mov byte ptr [rdi + 2], 100
    dec ecx
    jnz again
  `);
  g.runToHalt();
  assert.equal(g.regs().rbx, 101n);
});

test('SSE data movement and logic: MOVDQU/MOVAPS/MOVQ/MOVSS/MOVD/PXOR, alignment #GP, OSFXSR #UD', { skip }, () => {
  const sse = createInterpBackend().supportedCpuid().map((e) => (e.function === 1 ? { ...e, edx: e.edx | (3 << 25) } : e));
  const code = assemble(`
    mov rsi, 0x200000
    mov rdi, 0x200100
    movdqu xmm1, [rsi + 1]
    movdqu [rdi], xmm1
    movaps xmm2, [rsi]
    pxor xmm2, xmm1
    movdqa [rdi + 16], xmm2
    movq xmm3, qword ptr [rsi]
    movdqu [rdi + 32], xmm3
    movss xmm4, dword ptr [rsi + 4]
    movdqu [rdi + 48], xmm4
    mov rax, 0x1122334455667788
    movq xmm5, rax
    movd ebx, xmm5
    pxor xmm6, xmm6
    movq rcx, xmm6
    movaps xmm7, [rsi + 8]
    hlt
  ${handlers()}`);
  const g = makeGuest(code, 'long', sse);
  installIdt(g);
  for (let i = 0; i < 48; i++) g.mem[0x200000 + i] = i + 1;
  g.runToHalt();
  const m = (a: number, n: number): number[] => [...g.mem.subarray(a, a + n)];
  assert.deepEqual(m(0x200100, 16), Array.from({ length: 16 }, (_, i) => i + 2));
  assert.deepEqual(m(0x200110, 16), Array.from({ length: 16 }, (_, i) => (i + 1) ^ (i + 2)));
  assert.deepEqual(m(0x200120, 16), [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0]);
  assert.deepEqual(m(0x200130, 16), [5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
  const r = g.regs();
  assert.equal(r.rbx, 0x55667788n);
  assert.equal(r.rcx, 0n);
  assert.equal(r.r14, 13n); // MOVAPS from an address that is not 16-byte aligned
  // CR4.OSFXSR = 0: SSE instructions are #UD
  const u = makeGuest(assemble(` mov rax, cr4\n btr rax, 9\n mov cr4, rax\n pxor xmm0, xmm0\n hlt\n${handlers()}`), 'long', sse);
  installIdt(u);
  u.runToHalt();
  assert.equal(u.regs().r14, 6n);
});

test('NMI is delivered with IF=0; RFLAGS.TF single-steps with a #DB trap after the instruction', { skip }, () => {
  const g = longGuest(' cli\n mov rbx, 1\n mov rbx, 2\n jmp .');
  g.vcpu.injectNmi();
  g.runToHalt();
  assert.equal(g.regs().r14, 2n);
  const t = longGuest(' pushfq\n or qword ptr [rsp], 0x100\n popfq\n mov rbx, 5\n mov rcx, 6');
  t.runToHalt();
  const r = t.regs();
  assert.equal(r.r14, 1n);
  assert.equal(r.rbx, 5n, 'the instruction after POPF runs, then #DB');
  assert.equal(r.rcx, 0n);
});

test('system instructions: SWAPGS, WRGSBASE/RDFSBASE, LAR/LSL/VERR/VERW, SGDT/SIDT, IST stack for a gate', { skip }, () => {
  const g = longGuest(`
    mov rax, cr4
    bts rax, 16
    mov cr4, rax
    mov rax, 0x0000722233334444
    wrgsbase rax
    mov ecx, 0xc0000102
    mov eax, 0x5555
    xor edx, edx
    wrmsr
    swapgs
    rdgsbase r8
    mov ecx, 0xc0000102
    rdmsr
    mov r9, rax
    mov ax, 0x10
    lar r10d, ax
    lsl r11d, ax
    verr ax
    setz bl
    mov ax, 0x08
    verw ax
    setz bh
    sgdt [0x200000]
    sidt [0x200010]
    mov qword ptr [0x724], 0x95000
    int 32
    mov r12, rsp
  `);
  // gate 32 uses IST1 (TSS+0x24)
  g.dv.setUint32(IDT_BASE + 32 * 16 + 4, g.dv.getUint32(IDT_BASE + 32 * 16 + 4, true) | 1, true);
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r8, 0x5555n);
  assert.equal(r.r9, 0x33334444n);
  assert.equal(r.r10, 0xc09200n); // LAR 32-bit: descriptor dword 2 & 0x00F0FF00
  assert.equal(r.r11, 0xffffffffn);
  assert.equal(r.rbx & 0xffffn, 0x0001n); // VERR data: ZF=1; VERW code: ZF=0
  assert.equal(g.dv.getUint16(0x200000, true), 0x3f);
  assert.equal(g.dv.getUint32(0x200002, true), 0x500);
  assert.equal(g.dv.getUint16(0x200010, true), 0xfff);
  assert.equal(r.r12, 0x80000n);
  // the IST frame is on the IST1 stack: RIP, CS at 0x95000-40
  assert.equal(g.dv.getUint32(0x95000 - 40 + 8, true), 0x08);
});

test('UMIP: SGDT at CPL 3 with CR4.UMIP is #GP(0); at CPL 0 it works', { skip }, () => {
  const g = longGuest(`
    mov rax, cr4
    bts rax, 11
    mov cr4, rax
    sgdt [0x200000]
    ${TO_CPL3}
  user:
    sgdt [0x200010]
  `);
  g.runToHalt();
  assert.equal(g.regs().r14, 13n);
  assert.equal(g.dv.getUint16(0x200000, true), 0x3f);
  assert.equal(g.dv.getUint16(0x200010, true), 0);
});

test('XSAVE/XRSTOR (standard format, x87+SSE): state round trip, XSTATE_BV, init on restore, alignment #GP', { skip }, () => {
  const base = createInterpBackend().supportedCpuid();
  const cpuid = base.map((e) => (e.function === 1 ? { ...e, ecx: e.ecx | (1 << 26), edx: e.edx | (3 << 25) | (1 << 24) } : e.function === 0 ? { ...e, eax: 0xd } : e));
  cpuid.push({ function: 0xd, index: 0, flags: 1, eax: 3, ebx: 576, ecx: 576, edx: 0 }, { function: 0xd, index: 1, flags: 1, eax: 0, ebx: 0, ecx: 0, edx: 0 });
  const code = assemble(`
    mov rax, cr4
    bts rax, 18
    mov cr4, rax
    xor ecx, ecx
    mov eax, 3
    xor edx, edx
    xsetbv
    mov rax, 0x1122334455667788
    movq xmm3, rax
    fninit
    mov word ptr [0x200800], 0x027f
    fldcw [0x200800]
    mov eax, 3
    xor edx, edx
    xsave [0x200000]
    pxor xmm3, xmm3
    fninit
    xrstor [0x200000]
    movq rbx, xmm3
    fnstcw [0x200810]
    mov dword ptr [0x200200], 1
    xrstor [0x200000]
    movq rcx, xmm3
    xsave [0x200008]
    hlt
  ${handlers()}`);
  const g = makeGuest(code, 'long', cpuid);
  installIdt(g);
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.rbx, 0x1122334455667788n);
  assert.equal(g.dv.getUint16(0x200810, true), 0x027f);
  assert.equal(g.dv.getUint32(0x200000 + 512, true) & 3, 1, 'XSTATE_BV after the second restore (x87 only)');
  assert.equal(r.rcx, 0n, 'SSE state initialized when XSTATE_BV[1] = 0');
  assert.equal(r.r14, 13n, 'XSAVE to a misaligned area');
});

test('far CALL through a 64-bit call gate from CPL 3 to CPL 0 switches to TSS.RSP0; RETFQ returns to CPL 3', { skip }, () => {
  const g = longGuest(`
    ${TO_CPL3}
  user:
    call fword ptr [rip + fp]
    mov rbx, cs
    mov rcx, rsp
    hlt
  fp:
    .long 0
    .word 0x3b
  .org 0x800
    mov r12, cs
    mov r10, rsp
    retfq
  `);
  const target = CODE_BASE + 0x800;
  // 64-bit call gate (type 0xC, DPL 3) at GDT[7..8], selector 0x38, target 0x08:target
  g.dv.setUint32(0x500 + 0x38, (target & 0xffff) | (0x08 << 16), true);
  g.dv.setUint32(0x500 + 0x3c, (target & 0xffff0000) | 0xec00, true);
  g.dv.setUint32(0x500 + 0x40, 0, true);
  g.dv.setUint32(0x500 + 0x44, 0, true);
  const s = g.vcpu.getSregs();
  g.vcpu.setSregs({ ...s, gdt: { base: 0x500n, limit: 0x47 } });
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r12, 0x08n);
  assert.equal(r.r10, 0x90000n - 32n); // SS, RSP, CS, RIP pushed on the RSP0 stack
  assert.equal(r.rbx, 0x23n);
  assert.equal(r.rcx, 0x70000n);
  assert.equal(r.r14, 13n); // HLT at CPL 3
});

test('TSS I/O permission bitmap at CPL 3 > IOPL: a clear bit allows the port, a set bit is #GP(0)', { skip }, () => {
  const g = longGuest(`
    ${TO_CPL3}
  user:
    in al, 0x80
    mov rbx, 1
    in al, 0x81
  `);
  g.dv.setUint16(0x700 + 0x66, 0x68, true); // I/O map base
  for (let i = 0; i < 0x11; i++) g.mem[0x768 + i] = 0xff;
  g.mem[0x768 + 0x10] = 0xfe; // port 0x80 allowed, 0x81 denied
  const s = g.vcpu.getSregs();
  g.vcpu.setSregs({ ...s, tr: { ...s.tr, limit: 0x68 + 0x11 } });
  const e = g.vcpu.run();
  assert.equal(e.reason, 'io');
  if (e.reason === 'io') assert.equal(e.port, 0x80);
  g.runToHalt();
  assert.equal(g.regs().rbx, 1n);
  assert.equal(g.regs().r14, 13n);
});

test('instruction-fetch #PF reports the faulting linear address in CR2 and I/D in the error code', { skip }, () => {
  const g = longGuest(' mov rax, 0x40000ff3\n jmp rax');
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r14, 14n);
  assert.equal(r.r13, 0x40000ff3n);
  assert.equal(r.r15, 0x10n); // I/D (EFER.NXE=1), not present, supervisor
});

test('SLDT/STR to a 32/64-bit register zero-extend the selector; to a 16-bit register keep the upper bits (SDM "STR")', { skip }, () => {
  const g = longGuest(' mov rax, -1\n str eax\n mov rbx, -1\n str bx\n mov rcx, -1\n sldt rcx');
  const tr = g.vcpu.getSregs().tr.selector;
  const ldt = BigInt(g.vcpu.getSregs().ldt.selector);
  g.runToHalt();
  assert.equal(g.regs().rax, BigInt(tr));
  assert.equal(g.regs().rbx, 0xffffffffffff0000n | BigInt(tr));
  assert.equal(g.regs().rcx, ldt);
});
