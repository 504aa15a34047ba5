// Interpreter throughput: an integer ALU loop (machine code bytes, no assembler needed) run in 64-bit
// long mode on the interpreter backend for a fixed instruction count; prints MIPS.
// Usage: npm run bench [-- --instructions N]

import { createInterpBackend } from '../src/vcpu/interp/index.ts';
import type { Segment } from '../src/vcpu/backend.ts';

// loop:                      ; rcx = iterations
//   mov rax, rcx            48 89 c8
//   imul rax, rax, 0x1f     48 6b c0 1f
//   add rbx, rax            48 01 c3
//   xor rdx, rbx            48 31 da
//   shr rdx, 3              48 c1 ea 03
//   lea rsi, [rsi+rdx*2+7]  48 8d 74 56 07
//   mov [rdi+rcx*8], rsi    48 89 34 cf
//   and ecx, ecx            21 c9  (keeps flags busy)
//   sub rcx, 1              48 83 e9 01
//   jnz loop                75 de
//   hlt                     f4
const LOOP = [
  0x48, 0x89, 0xc8, 0x48, 0x6b, 0xc0, 0x1f, 0x48, 0x01, 0xc3, 0x48, 0x31, 0xda, 0x48, 0xc1, 0xea, 0x03,
  0x48, 0x8d, 0x74, 0x56, 0x07, 0x48, 0x89, 0x34, 0xcf, 0x21, 0xc9, 0x48, 0x83, 0xe9, 0x01, 0x75, 0xde, 0xf4,
];
const INSNS_PER_ITER = 10;

function main(): void {
  const arg = process.argv.indexOf('--instructions');
  const total = arg > 0 ? Number(process.argv[arg + 1]) : 50_000_000;
  const iters = Math.floor(total / INSNS_PER_ITER);
  const be = createInterpBackend({ budget: 10_000_000 });
  const vm = be.createVm();
  const mem = vm.allocateMemory(64 << 20);
  vm.setUserMemoryRegion({ slot: 0, guestPhysAddr: 0n, memory: mem });
  const dv = new DataView(mem);
  new Uint8Array(mem).set(LOOP, 0x10000);
  // flat GDT, identity map of 1 GiB with 2 MiB pages
  dv.setUint32(0x508, 0x0000ffff, true); dv.setUint32(0x50c, 0x00af9a00, true);
  dv.setUint32(0x510, 0x0000ffff, true); dv.setUint32(0x514, 0x00cf9200, true);
  dv.setUint32(0x2000, 0x3003, true); dv.setUint32(0x3000, 0x4003, true);
  for (let i = 0; i < 512; i++) dv.setUint32(0x4000 + 8 * i, (i << 21) | 0x83, true);
  const v = vm.createVcpu(0);
  const seg = (selector: number, type: number, l: boolean): Segment => ({ base: 0n, limit: 0xffffffff, selector, type, present: true, dpl: 0, db: !l, s: true, l, g: true, avl: false, unusable: false });
  const s = v.getSregs();
  v.setSregs({ ...s, cs: seg(8, 11, true), ds: seg(16, 3, false), es: seg(16, 3, false), ss: seg(16, 3, false), gdt: { base: 0x500n, limit: 0x17 }, cr0: 0x80000011n, cr3: 0x2000n, cr4: 0x20n, efer: 0x500n });
  v.setRegs({ ...v.getRegs(), rip: 0x10000n, rcx: BigInt(iters), rdi: 0x100000n, rsp: 0x80000n, rflags: 2n });
  // warm up on a short run, then measure
  const t0 = process.hrtime.bigint();
  let exits = 0;
  for (;;) {
    const e = v.run();
    exits++;
    if (e.reason === 'hlt') break;
    if (e.reason !== 'intr') throw new Error(`unexpected exit ${JSON.stringify(e, (_k, x) => (typeof x === 'bigint' ? x.toString() : x))}`);
  }
  const ns = Number(process.hrtime.bigint() - t0);
  const executed = iters * INSNS_PER_ITER + 1;
  console.log(`interp: integer ALU loop, 64-bit long mode, paging on`);
  console.log(`  ${executed.toLocaleString('en-US')} instructions in ${(ns / 1e9).toFixed(2)} s (${exits} run() calls)`);
  console.log(`  ${(executed / (ns / 1e3)).toFixed(1)} MIPS`);
}

main();
