// The built workloads (needs nasm; skipped with a message without it): both wrappers' structure, and a
// few variants run on tsvmm's interpreter with their output checked against the reference checksums.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildAll, nasmVersion, type BuiltVariant } from './build.ts';
import { kludgeInfo, readIterations, withIterations } from './harness/image.ts';
import { checkResult, parseBenchOutput } from './harness/parse.ts';
import { findVariant } from './harness/workloads.ts';
import { createMachine } from '../src/machine/machine.ts';
import { createInterpBackend } from '../src/vcpu/interp/index.ts';

const skip = nasmVersion() ? false : 'nasm is not installed (apt-get install nasm): the workload images cannot be built';

let built: BuiltVariant[] = [];
let dir = '';
function ensureBuilt(): BuiltVariant[] {
  if (built.length === 0) {
    dir = mkdtempSync(join(tmpdir(), 'tsvmm-bench-'));
    built = buildAll(dir);
  }
  return built;
}
process.on('exit', () => dir && rmSync(dir, { recursive: true, force: true }));

test('every variant builds as an ELF64 multiboot image with a kludge and a parameter block', { skip }, () => {
  const b = ensureBuilt();
  assert.equal(b.length, 16);
  for (const v of b) {
    const elf = new Uint8Array(readFileSync(v.elf));
    const dv = new DataView(elf.buffer);
    assert.deepEqual([...elf.subarray(0, 5)], [0x7f, 0x45, 0x4c, 0x46, 2], `${v.id}: ELFCLASS64`);
    assert.equal(dv.getUint16(0x12, true), 62, `${v.id}: EM_X86_64`);
    const entry64 = Number(dv.getBigUint64(0x18, true));
    const k = kludgeInfo(elf, v.id);
    assert.equal(k.loadAddr, 0x100000);
    assert.equal(k.loadEndAddr - k.loadAddr, elf.length, `${v.id}: load_end covers the file`);
    assert.ok(entry64 > k.loadAddr && entry64 < k.loadEndAddr && k.entry32 > k.loadAddr && k.entry32 < k.loadEndAddr);
    assert.equal(Number(dv.getBigUint64(0x40 + 0x20, true)), elf.length, `${v.id}: p_filesz`);
    assert.equal(readIterations(elf), 0);
  }
});

test('every disk: boot signature, payload from LBA 1 byte for byte', { skip }, () => {
  for (const v of ensureBuilt()) {
    const disk = new Uint8Array(readFileSync(v.disk));
    const elf = new Uint8Array(readFileSync(v.elf));
    assert.equal(disk[510], 0x55);
    assert.equal(disk[511], 0xaa);
    assert.deepEqual(disk.subarray(512, 512 + elf.length), elf, v.id);
  }
});

async function runInterp(id: string, iterations: number): Promise<string> {
  const b = ensureBuilt().find((x) => x.id === id)!;
  const image = withIterations(new Uint8Array(readFileSync(b.elf)), iterations, id);
  const backend = createInterpBackend();
  const m = createMachine({ backend, memoryBytes: 256 * 1024 * 1024, cpuid: backend.supportedCpuid() });
  try {
    m.load({ kind: 'multiboot', image, cmdline: '', entry: 'multiboot32' });
    const r = await m.run({ timeoutMs: 20000 });
    assert.equal(r.outcome, 'debug-exit', `${id}: ${r.detail}\n${r.serial}`);
    return r.serial;
  } finally {
    m.destroy();
  }
}

for (const [id, n] of [['alu64', 50], ['alu32', 7], ['fib64', 1], ['syscall64', 20], ['syscall32', 20], ['pf32', 5], ['portio64', 10], ['smc32', 9], ['pagewalk64', 2]] as const) {
  test(`${id} on the interpreter prints the reference checksum for N=${n}`, { skip }, async () => {
    const v = findVariant(id)!;
    const out = await runInterp(id, n);
    assert.match(out, /^BENCH-GO\n/);
    assert.equal(checkResult(parseBenchOutput(out), { name: id, iterations: n, sum: v.workload.checksum(v.mode, n) }), undefined, out);
  });
}
