// The interpreter's fast paths for system code keep the architectural behaviour: the hot MSRs held as
// int32 pairs (state.ts msrHotSlot: STAR/LSTAR/CSTAR/FMASK, SYSENTER_*, KERNEL_GS_BASE, TSC_AUX; SDM
// Vol. 4 Table 2-2) answer RDMSR/WRMSR and KVM_GET/SET_MSRS as one state; the fetch windows kept per
// CPL class across SYSCALL/SYSRET never let CPL 3 run a supervisor page (SDM Vol. 3A §4.6) and are
// dropped by INVLPG; port-I/O exits are reused objects valid until the next run (backend.ts VcpuExit).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, haveAssembler, makeGuest, CODE_BASE, IDT_BASE, type Guest } from './testing/harness.ts';

const skip = !haveAssembler();

/** the #PF handler at CODE_BASE + 0x1000 (vector 14): r14 = 14, r15 = error code, r13 = CR2; hlt */
function pfGuest(body: string): Guest {
  const g = makeGuest(assemble(`${body}\n hlt\n.org 0x1000\n mov r14, 14\n pop r15\n mov r13, cr2\n hlt\n`));
  const off = CODE_BASE + 0x1000, e = IDT_BASE + 14 * 16;
  g.dv.setUint32(e, (off & 0xffff) | (0x08 << 16), true);
  g.dv.setUint32(e + 4, (off & 0xffff0000) | 0x8e00, true);
  g.dv.setUint32(e + 8, 0, true);
  g.dv.setUint32(e + 12, 0, true);
  g.dv.setUint32(0x704, 0x90000, true); // TSS.RSP0
  return g;
}

const SYSCALL_SETUP = `
    mov ecx, 0xc0000081
    xor eax, eax
    mov edx, 0x00130008
    wrmsr
    mov ecx, 0xc0000082
    lea rax, [rip + kentry]
    xor edx, edx
    wrmsr
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1
    wrmsr
`;

test('hot MSRs: host KVM_SET_MSRS, guest RDMSR/WRMSR, SWAPGS, RDTSCP and SYSCALL see one state', { skip }, () => {
  const g = makeGuest(assemble(`
    mov ecx, 0xc0000102
    rdmsr
    shl rdx, 32
    or rax, rdx
    mov r8, rax
    swapgs
    rdgsbase r9
    rdtscp
    mov r10, rcx
    mov ecx, 0xc0000083
    mov eax, 0x89abcdef
    mov edx, 0xffff8000
    wrmsr
    pushfq
    or qword ptr [rsp], 0x600
    popfq
    mov ecx, 0xc0000080
    rdmsr
    or eax, 1
    wrmsr
    syscall
    hlt
  kentry:
    pushfq
    pop r11
    mov r12, rcx
    hlt
  `));
  const v = g.vcpu;
  const sr = v.getSregs();
  v.setSregs({ ...sr, cr4: sr.cr4 | 0x10000n }); // FSGSBASE
  assert.equal(v.setMsrs([
    { index: 0xc0000102, data: 0x0000712345678abcn }, // KERNEL_GS_BASE
    { index: 0xc0000103, data: 0x77n }, // TSC_AUX
    { index: 0xc0000081, data: 0x0013000800000000n }, // STAR
    { index: 0xc0000084, data: 0x400n }, // FMASK: DF
  ]), 4);
  // LSTAR = the kentry label, found as the byte after the first HLT following SYSCALL (0f 05 f4)
  let at = -1;
  for (let i = CODE_BASE; i < CODE_BASE + 0x100; i++) if (g.mem[i] === 0x0f && g.mem[i + 1] === 0x05 && g.mem[i + 2] === 0xf4) at = i + 3;
  assert.ok(at > 0, 'SYSCALL; HLT found');
  v.setMsrs([{ index: 0xc0000082, data: BigInt(at) }]);
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r8, 0x0000712345678abcn, 'RDMSR returns the host-set KERNEL_GS_BASE');
  assert.equal(r.r9, 0x0000712345678abcn, 'SWAPGS moved it into GS.base');
  assert.equal(r.r10, 0x77n, 'RDTSCP reads TSC_AUX');
  assert.equal(r.rip, BigInt(at + 7), 'SYSCALL went to LSTAR (PUSHFQ, POP R11, MOV R12 RCX, HLT: 7 bytes)');
  assert.equal(r.r12, BigInt(at - 1), 'RCX = the return address (the HLT after SYSCALL)');
  assert.equal(r.r11 & 0x600n, 0x200n, 'FMASK cleared DF, kept IF');
  const m = v.getMsrs([0xc0000102, 0xc0000083, 0xc0000081, 0xc0000082, 0xc0000084, 0xc0000103]);
  assert.deepEqual(m.map((e) => e.data), [0n, 0xffff800089abcdefn, 0x0013000800000000n, BigInt(at), 0x400n, 0x77n],
    'KERNEL_GS_BASE holds the old GS.base (0) after SWAPGS; CSTAR keeps its high half');
});

test('SYSRET to a supervisor-only page faults at CPL 3 even right after CPL 0 ran it', { skip }, () => {
  const g = pfGuest(`${SYSCALL_SETUP}
    lea rcx, [rip + target]
    mov r11, 2
    sysretq
  target:
    nop
  kentry:
    hlt
  `);
  g.dv.setUint32(0x4000, 0x83, true); // PD entry 0 (0-2 MiB): supervisor only
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r14, 14n);
  assert.equal(r.r15, 0x15n, '#PF error code: present, user, instruction fetch');
  assert.equal(r.r13, r.rcx, 'CR2 = the SYSRET target');
});

test('user code keeps running across SYSCALL/SYSRET round trips; INVLPG drops its cached fetch page', { skip }, () => {
  const g = pfGuest(`${SYSCALL_SETUP}
    xor r12, r12
    mov rcx, 0x200000
    mov r11, 2
    sysretq
  kentry:
    inc r12
    cmp r12, 5
    je revoke
    mov rcx, 0x200000
    mov r11, 2
    sysretq
  revoke:
    and qword ptr [0x4008], ~4
    invlpg [0x200000]
    mov rcx, 0x200000
    mov r11, 2
    sysretq
  `);
  g.dv.setUint32(0x4000, 0x83, true); // the kernel's 2 MiB: supervisor only
  g.mem[0x200000] = 0x0f; g.mem[0x200001] = 0x05; // user code at 2 MiB: SYSCALL
  g.runToHalt();
  const r = g.regs();
  assert.equal(r.r12, 5n, 'five round trips');
  assert.equal(r.r14, 14n, 'then the user page, made supervisor-only and INVLPGed, faults');
  assert.equal(r.r15, 0x15n);
  assert.equal(r.r13, 0x200000n);
});

test('port I/O exits: one reused object per vCPU, data right at every exit, IN data read on the next run', { skip }, () => {
  const g = makeGuest(assemble(`
    mov al, 0x11
    out 0x80, al
    mov ax, 0x2233
    out 0x82, ax
    in eax, 0x84
    mov ebx, eax
    mov al, 0x44
    out 0x80, al
    hlt
  `));
  const v = g.vcpu;
  const e1 = v.run();
  assert.ok(e1.reason === 'io' && e1.direction === 'out' && e1.port === 0x80 && e1.size === 1);
  assert.deepEqual([...e1.data], [0x11]);
  const e2 = v.run();
  assert.ok(e2.reason === 'io' && e2.direction === 'out' && e2.port === 0x82 && e2.size === 2);
  assert.deepEqual([...e2.data], [0x33, 0x22]);
  assert.equal(e2, e1, 'the exit object is reused');
  const e3 = v.run();
  assert.ok(e3.reason === 'io' && e3.direction === 'in' && e3.port === 0x84 && e3.size === 4);
  assert.deepEqual([...e3.data], [0, 0, 0, 0]);
  e3.data.set([0xef, 0xbe, 0xad, 0xde]);
  const e4 = v.run();
  assert.ok(e4.reason === 'io' && e4.direction === 'out' && e4.size === 1);
  assert.deepEqual([...e4.data], [0x44]);
  assert.equal(g.regs().rbx, 0xdeadbeefn, 'IN completed with the data the VMM wrote into the exit');
  assert.equal(v.run().reason, 'hlt');
});
