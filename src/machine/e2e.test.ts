// End-to-end: tiny guests on the real backends through the whole machine (loader → vCPU → bus →
// devices → RunResult). KVM cases skip with the reason when /dev/kvm is unusable here; the PIT tick
// guest also needs GNU binutils to assemble.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createMachine, type BootImage, type RunResult } from './machine.ts';
import { MiB } from './layout.ts';
import type { Backend } from '../vcpu/backend.ts';
import { buildElf, concat, multibootHeader } from '../loaders/testing/images.ts';
import { assemble } from '../vcpu/kvm/testing/assemble.ts';

async function kvmBackend(runSliceMs?: number): Promise<{ backend?: Backend; skip?: string }> {
  try {
    const kvm = await import('../vcpu/kvm/index.ts');
    const a = kvm.isKvmAvailable();
    if (!a.ok) return { skip: `KVM unavailable: ${a.reason}` };
    return { backend: kvm.createKvmBackend(runSliceMs === undefined ? {} : { runSliceMs }) };
  } catch (e) {
    return { skip: `KVM backend not loadable: ${(e as Error).message}` };
  }
}

async function interpBackend(): Promise<Backend> {
  return (await import('../vcpu/interp/index.ts')).createInterpBackend();
}

/** the backend a test cell runs on: KVM (or the reason it is skipped) or the interpreter */
async function backendFor(which: 'kvm' | 'interp', runSliceMs?: number): Promise<{ backend?: Backend; skip?: string }> {
  return which === 'kvm' ? kvmBackend(runSliceMs) : { backend: await interpBackend() };
}

async function boot(
  backend: Backend,
  image: BootImage,
  timeoutMs = 10_000,
  input?: Iterable<string>,
): Promise<RunResult> {
  const m = createMachine({
    backend,
    memoryBytes: 64 * MiB,
    cpuid: backend.supportedCpuid(),
    serial: { out: () => {}, ...(input ? { input } : {}) },
  });
  try {
    m.load(image);
    return await m.run({ timeoutMs });
  } finally {
    m.destroy();
  }
}

// mov dx,0x3f8; mov al,'o'; out dx,al; mov al,'k'; out dx,al; mov al,10; out dx,al; mov al,0x10; out 0xf4,al; hlt
// prettier-ignore
const FLAT_OK = new Uint8Array([
  0x66, 0xba, 0xf8, 0x03, 0xb0, 0x6f, 0xee, 0xb0, 0x6b, 0xee, 0xb0, 0x0a, 0xee, 0xb0, 0x10, 0xe6, 0xf4, 0xf4,
]);

/**
 * 64-bit multiboot entry: check RAX = 0x2BADB002, print the command line found through the info
 * structure in RDI (cmdline at offset 0x10), then debug-exit 0x11 (status 0x23); 0x22 on a bad magic.
 */
// prettier-ignore
const MB64_CODE = new Uint8Array([
  0x66, 0xba, 0xf8, 0x03, //       mov dx, 0x3f8
  0x3d, 0x02, 0xb0, 0xad, 0x2b, // cmp eax, 0x2badb002
  0x75, 0x13, //                   jne fail
  0x8b, 0x77, 0x10, //             mov esi, [rdi+0x10]
  0x8a, 0x06, //             loop: mov al, [rsi]
  0x84, 0xc0, //                   test al, al
  0x74, 0x06, //                   jz done
  0xee, //                         out dx, al
  0x48, 0xff, 0xc6, //             inc rsi
  0xeb, 0xf4, //                   jmp loop
  0xb0, 0x11, //             done: mov al, 0x11
  0xe6, 0xf4, //                   out 0xf4, al
  0xb0, 0x22, //             fail: mov al, 0x22
  0xe6, 0xf4, //                   out 0xf4, al
  0xf4, //                         hlt
]);

/** The same in 32-bit protected mode (multiboot32 entry): the info structure is in EBX. */
// prettier-ignore
const MB32_CODE = new Uint8Array([
  0x66, 0xba, 0xf8, 0x03, //       mov dx, 0x3f8
  0x3d, 0x02, 0xb0, 0xad, 0x2b, // cmp eax, 0x2badb002
  0x75, 0x11, //                   jne fail
  0x8b, 0x73, 0x10, //             mov esi, [ebx+0x10]
  0x8a, 0x06, //             loop: mov al, [esi]
  0x84, 0xc0, //                   test al, al
  0x74, 0x04, //                   jz done
  0xee, //                         out dx, al
  0x46, //                         inc esi
  0xeb, 0xf6, //                   jmp loop
  0xb0, 0x11, //             done: mov al, 0x11
  0xe6, 0xf4, //                   out 0xf4, al
  0xb0, 0x22, //             fail: mov al, 0x22
  0xe6, 0xf4, //                   out 0xf4, al
  0xf4, //                         hlt
]);

function multiboot32Image(): Uint8Array {
  const text = concat(multibootHeader({ flags: 0x3 }), new Uint8Array(4), MB32_CODE);
  return buildElf({
    bits: 32,
    entry: 0x100010,
    segments: [{ paddr: 0x100000, data: text, align: 0x1000, offset: 0x1000 }],
  });
}

function multiboot64Image(): Uint8Array {
  const hdr = multibootHeader({ flags: 0x3 });
  const text = concat(hdr, new Uint8Array(4), MB64_CODE);
  return buildElf({
    bits: 64,
    entry: 0x100010,
    segments: [{ paddr: 0x100000, data: text, align: 0x1000, offset: 0x1000 }],
  });
}

/** Long mode: IDT gate for vector 0x20, PIC init (only IRQ0 unmasked), PIT 1 kHz, count five ticks in HLT. */
const TICK_SRC = `
.intel_syntax noprefix
.code64
start:
  movabs rax, offset handler
  lea rbx, [rip + idt + 0x20*16]
  mov word ptr [rbx], ax
  mov word ptr [rbx + 2], 0x08
  mov word ptr [rbx + 4], 0x8e00
  shr rax, 16
  mov word ptr [rbx + 6], ax
  shr rax, 16
  mov dword ptr [rbx + 8], eax
  lidt [rip + idtr]
  mov al, 0x11
  out 0x20, al
  mov al, 0x20
  out 0x21, al
  mov al, 0x04
  out 0x21, al
  mov al, 0x01
  out 0x21, al
  mov al, 0x11
  out 0xa0, al
  mov al, 0x28
  out 0xa1, al
  mov al, 0x02
  out 0xa1, al
  mov al, 0x01
  out 0xa1, al
  mov al, 0xfe
  out 0x21, al
  mov al, 0xff
  out 0xa1, al
  mov al, 0x34
  out 0x43, al
  mov al, 0xa9
  out 0x40, al
  mov al, 0x04
  out 0x40, al
  sti
wait:
  hlt
  cmp dword ptr [rip + ticks], 5
  jb wait
  cli
  mov dx, 0x3f8
  mov al, 'T'
  out dx, al
  mov al, 0x10
  out 0xf4, al
  hlt
handler:
  push rax
  inc dword ptr [rip + ticks]
  mov al, 0x20
  out 0x20, al
  pop rax
  iretq
.align 16
idtr:
  .word 256*16-1
  .quad idt
ticks:
  .long 0
.align 16
idt:
  .fill 256*16, 1, 0
`;

/**
 * TICK_SRC without HLT: the guest spins on the tick counter with IF=1 and never exits on its own, so
 * ticks arrive only because run() returns at the end of each slice ('intr') and the machine polls the
 * PIT and injects IRQ0 then.
 */
const BUSY_TICK_SRC = TICK_SRC.replace('wait:\n  hlt\n', 'wait:\n');

test('e2e kvm: a guest spinning on `jmp .` ends with outcome timeout (KVM_RUN is sliced)', async (t) => {
  const k = await kvmBackend();
  if (!k.backend) return t.skip(k.skip);
  const r = await boot(
    k.backend,
    { kind: 'flat', image: new Uint8Array([0xeb, 0xfe]), address: 0x100000, mode: 'long64' },
    500,
  );
  assert.equal(r.outcome, 'timeout', r.detail);
  assert.equal(r.rip, 0x100000n, 'stopped on the jmp');
});

test('e2e kvm: 200 short runs of a spinning guest all time out; no stray signal ends Node', async (t) => {
  const k = await kvmBackend(1);
  if (!k.backend) return t.skip(k.skip);
  const m = createMachine({
    backend: k.backend,
    memoryBytes: 16 * MiB,
    cpuid: k.backend.supportedCpuid(),
    serial: { out: () => {} },
  });
  try {
    m.load({ kind: 'flat', image: new Uint8Array([0xeb, 0xfe]), address: 0x100000, mode: 'long64' });
    const outcomes = new Set<string>();
    for (let i = 0; i < 200; i++) outcomes.add((await m.run({ timeoutMs: 1 })).outcome);
    assert.deepEqual([...outcomes], ['timeout']);
    await new Promise((res) => setTimeout(res, 20)); // a timer left armed would fire now
  } finally {
    m.destroy();
  }
});

test('e2e interp: flat long64 binary prints and exits through debug-exit', async () => {
  const r = await boot(await interpBackend(), {
    kind: 'flat',
    image: FLAT_OK,
    address: 0x100000,
    mode: 'long64',
  });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(r.exitCode, 0x21);
  assert.equal(r.serial, 'ok\n');
});

test('e2e kvm: flat long64 binary prints and exits through debug-exit', async (t) => {
  const k = await kvmBackend();
  if (!k.backend) return t.skip(k.skip);
  const r = await boot(k.backend, { kind: 'flat', image: FLAT_OK, address: 0x100000, mode: 'long64' });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(r.exitCode, 0x21);
  assert.equal(r.serial, 'ok\n');
});

test('e2e kvm: multiboot ELF64 long64 entry sees the magic and the info structure', async (t) => {
  const k = await kvmBackend();
  if (!k.backend) return t.skip(k.skip);
  const r = await boot(k.backend, {
    kind: 'multiboot',
    image: multiboot64Image(),
    cmdline: 'hello from cmdline',
    entry: 'long64',
  });
  assert.equal(r.outcome, 'debug-exit', r.detail);
  assert.equal(r.exitCode, 0x23, 'magic was 0x2BADB002');
  assert.equal(r.serial, 'hello from cmdline');
});

/** Poll LSR.DR, echo each received byte until 'q', then debug-exit 0x2a (status 0x55). */
const ECHO_SRC = `
.intel_syntax noprefix
.code64
  mov dx, 0x3fd
poll:
  in al, dx
  test al, 1
  jz poll
  mov dx, 0x3f8
  in al, dx
  cmp al, 'q'
  je done
  out dx, al
  mov dx, 0x3fd
  jmp poll
done:
  mov al, 0x2a
  out 0xf4, al
  hlt
`;

for (const which of ['kvm', 'interp'] as const) {
  test(`e2e ${which}: serial input reaches the guest through the UART (IN exits filled by the machine)`, async (t) => {
    const a = assemble(ECHO_SRC, 0x100000);
    if (!a.ok) return t.skip(a.reason);
    const k = await backendFor(which);
    if (!k.backend) return t.skip(k.skip);
    const backend = k.backend;
    const r = await boot(
      backend,
      { kind: 'flat', image: a.code, address: 0x100000, mode: 'long64' },
      10_000,
      ['echo me\n', 'q'],
    );
    assert.equal(r.outcome, 'debug-exit', r.detail);
    assert.equal(r.exitCode, 0x55);
    assert.equal(r.serial, 'echo me\n');
  });

  test(`e2e ${which}: multiboot ELF32 multiboot32 entry sees EAX magic and the info structure in EBX`, async (t) => {
    const k = await backendFor(which);
    if (!k.backend) return t.skip(k.skip);
    const backend = k.backend;
    const r = await boot(backend, {
      kind: 'multiboot',
      image: multiboot32Image(),
      cmdline: 'thirty-two',
      entry: 'multiboot32',
    });
    assert.equal(r.outcome, 'debug-exit', r.detail);
    assert.equal(r.exitCode, 0x23);
    assert.equal(r.serial, 'thirty-two');
  });

  test(`e2e ${which}: periodic PIT tick through the PIC into a long-mode IDT handler`, async (t) => {
    const a = assemble(TICK_SRC, 0x100000);
    if (!a.ok) return t.skip(a.reason);
    const k = await backendFor(which);
    if (!k.backend) return t.skip(k.skip);
    const backend = k.backend;
    const r = await boot(backend, { kind: 'flat', image: a.code, address: 0x100000, mode: 'long64' });
    assert.equal(r.outcome, 'debug-exit', r.detail);
    assert.equal(r.serial, 'T');
    assert.equal(r.exitCode, 0x21);
  });

  test(`e2e ${which}: PIT ticks reach a guest busy-looping with IF=1 and no exits`, async (t) => {
    assert.notEqual(BUSY_TICK_SRC, TICK_SRC, 'the HLT was removed from the wait loop');
    const a = assemble(BUSY_TICK_SRC, 0x100000);
    if (!a.ok) return t.skip(a.reason);
    const k = await backendFor(which);
    if (!k.backend) return t.skip(k.skip);
    const backend = k.backend;
    const r = await boot(backend, { kind: 'flat', image: a.code, address: 0x100000, mode: 'long64' });
    assert.equal(r.outcome, 'debug-exit', r.detail);
    assert.equal(r.serial, 'T');
    assert.equal(r.exitCode, 0x21);
  });
}
