// gcc -O2 output on the interpreter: a freestanding C workload (testing/workload.c) built twice with
// the machine's gcc, once for the host and once as a flat 64-bit guest image; the eight results must
// match the host CPU's. Skipped when gcc/ld/objcopy are absent.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeGuest, haveAssembler } from './testing/harness.ts';

const SRC = fileURLToPath(new URL('./testing/workload.c', import.meta.url));
const haveGcc = spawnSync('gcc', ['--version']).status === 0;
const ORG = 0x100000;

function build(dir: string, extra: string[]): { host: bigint[]; image: Uint8Array } {
  const main = join(dir, 'main.c');
  writeFileSync(main, '#include <stdio.h>\nvoid run(unsigned long *);\nint main(void){unsigned long o[8];run(o);for(int i=0;i<8;i++)printf("%lu\\n",o[i]);return 0;}\n');
  execFileSync('gcc', ['-O2', ...extra, '-o', join(dir, 'host'), main, SRC], { stdio: 'pipe' });
  const host = execFileSync(join(dir, 'host'), { encoding: 'utf8' }).trim().split('\n').map((l) => BigInt(l));
  const start = join(dir, 'start.s');
  writeFileSync(start, '.text\n.globl _start\n_start:\n mov $0x1f0000, %rsp\n mov $0x1f8000, %rdi\n call run\n hlt\n.section .note.GNU-stack,"",@progbits\n');
  const obj = join(dir, 'w.o');
  execFileSync('gcc', ['-O2', ...extra, '-ffreestanding', '-fno-pic', '-fno-stack-protector', '-mno-red-zone', '-fno-asynchronous-unwind-tables', '-c', '-o', obj, SRC], { stdio: 'pipe' });
  execFileSync('as', ['--64', '-o', join(dir, 'start.o'), start], { stdio: 'pipe' });
  execFileSync('gcc', ['-static', '-nostdlib', '-no-pie', `-Wl,-Ttext=0x${ORG.toString(16)}`, '-Wl,-e,_start', '-o', join(dir, 'w.elf'), join(dir, 'start.o'), obj, '-lgcc'], { stdio: 'pipe' });
  execFileSync('objcopy', ['-O', 'binary', join(dir, 'w.elf'), join(dir, 'w.bin')], { stdio: 'pipe' });
  return { host, image: new Uint8Array(readFileSync(join(dir, 'w.bin'))) };
}

for (const [name, extra] of [['general registers only', ['-mgeneral-regs-only']], ['default (SSE allowed)', []], ['-march=haswell: BMI1/2, LZCNT, POPCNT, MOVBE', ['-mgeneral-regs-only', '-march=haswell', '-mtune=generic']]] as const) {
  test(`gcc -O2 workload (${name}) gives the host CPU's results on the interpreter`, { skip: !haveGcc || !haveAssembler() }, () => {
    const dir = mkdtempSync(join(tmpdir(), 'tsvmm-wl-'));
    try {
      const { host, image } = build(dir, [...extra]);
      const g = makeGuest(image, 'long', undefined, 20_000_000, ORG);
      if (extra.length === 0) {
        const cpuid = g.vcpu.getCpuid().map((e) => (e.function === 1 ? { ...e, edx: e.edx | (3 << 25) | (1 << 24) } : e));
        g.vcpu.setCpuid(cpuid);
      }
      const { exit } = g.runToHalt();
      if (extra.length === 0 && exit.reason === 'internal_error') {
        // vectorized code: packed SSE arithmetic is not executed yet; it must be reported, never guessed
        assert.match(exit.message ?? '', /SSE instruction/);
        return;
      }
      assert.equal(exit.reason, 'hlt', JSON.stringify(exit, (_k, v) => (typeof v === 'bigint' ? v.toString(16) : v instanceof Uint8Array ? [...v].map((b) => b.toString(16)).join(' ') : v)));
      const got = Array.from({ length: 8 }, (_, i) => g.dv.getBigUint64(0x1f8000 + 8 * i, true));
      assert.deepEqual(got, host);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}
