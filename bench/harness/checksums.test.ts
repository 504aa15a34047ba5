// The JS reference checksums: against independent formulations (BigInt arithmetic, zlib's CRC-32) and
// against the sums the guest itself printed under QEMU (fixtures/icount-check.txt, bench/README.md).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { aluChecksum, crcChecksum, fibChecksum, fibonacci, pfChecksum, portioChecksum, smcChecksum, syscallChecksum, pagewalkChecksum } from './checksums.ts';
import { findVariant } from './workloads.ts';

/** alu.asm's loop with BigInt registers (no lo/hi tricks): the independent formulation. */
function aluBig(bits: 32 | 64, n: number): number {
  const M = bits === 64 ? (1n << 64n) - 1n : (1n << 32n) - 1n;
  const B = BigInt(bits);
  const rol = (x: bigint, k: bigint): bigint => ((x << k) | (x >> (B - k))) & M;
  let a = bits === 64 ? 0x0123456789abcdefn : 0x89abcdefn;
  let b = bits === 64 ? 0x0f1e2d3c4b5a6978n : 0x4b5a6978n;
  let d = bits === 64 ? 0x1122334455667788n : 0x55667788n;
  let si = bits === 64 ? 0x7766554433221100n : 0x33221100n;
  for (let i = 0; i < n; i++) {
    a = (a + b) & M;
    d ^= a;
    d = rol(d, 13n);
    si = (si + d * 8n + 0x1234567n) & M;
    b = (b - si) & M;
    b ^= (a << 7n) & M;
    d = ~d & M;
    a = (a * 0x2545f491n) & M;
  }
  let f = a ^ b ^ d ^ si;
  if (bits === 64) f = (f ^ (f >> 32n)) & 0xffffffffn;
  return Number(f);
}

test('alu: lo/hi int32 arithmetic equals a BigInt formulation, both modes', () => {
  for (const n of [0, 1, 2, 3, 17, 200]) {
    assert.equal(aluChecksum(64, n), aluBig(64, n), `alu64 N=${n}`);
    assert.equal(aluChecksum(32, n), aluBig(32, n), `alu32 N=${n}`);
  }
});

test('crc: the running CRC equals zlib crc32 of the filled buffers (small buffers)', () => {
  for (const [n, fill] of [[1, 4], [3, 16], [2, 1000]] as const) {
    const buf = Buffer.alloc(n * fill * 4);
    for (let it = 0; it < n; it++)
      for (let j = 0; j < fill; j++) buf.writeUInt32LE((it + Math.imul(j, 0x9e3779b1)) >>> 0, (it * fill + j) * 4);
    assert.equal(crcChecksum(64, n, fill), crc32(buf), `N=${n} fill=${fill}`);
  }
  assert.equal(crcChecksum(64, 0), 0, 'no bytes: ~0xFFFFFFFF');
});

test('fib: F(20) and the rotate-add chain', () => {
  assert.equal(fibonacci(20), 6765);
  assert.equal(fibChecksum(64, 1), ((6765 << 5) | (6765 >>> 27)) >>> 0);
});

test('closed forms: pf, portio, smc, syscall for small N by hand', () => {
  assert.equal(pfChecksum(32, 2), (2 * (0x0badf00d + 0x10001)) >>> 0);
  assert.equal(portioChecksum(32, 1), 2); // rol(0 + 1, 1)
  assert.equal(syscallChecksum(64, 1), 8); // rol(0 + 1, 3)
  assert.equal(smcChecksum(64, 1), 0x2d2d2dad); // rol(1 ^ 0x5a5a5a5a, 7)
  assert.equal(pagewalkChecksum(64, 0), 0);
});

test('every reference checksum equals what the guest printed under QEMU TCG', () => {
  const text = readFileSync(join(import.meta.dirname, 'fixtures/icount-check.txt'), 'utf8');
  let checked = 0;
  for (const line of text.trim().split('\n')) {
    const m = /^(\w+)\s+N=(\d+)\s+tsc \d+ formula \d+ \w+; sum ([0-9a-f]{8}) OK$/.exec(line);
    assert.ok(m, `fixture line: ${line}`);
    const v = findVariant(m[1]!)!;
    assert.equal(v.workload.checksum(v.mode, Number(m[2])), parseInt(m[3]!, 16), line);
    checked++;
  }
  assert.equal(checked, 48, '16 variants × 3 iteration counts');
});
