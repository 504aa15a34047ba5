// Micro-benchmark (not a test) of the MMU's TLB hit path and miss path: Mmu.translate() on a working
// set that fits the TLB (hits), and on one that evicts every time (walks). DESIGN.md §4.
// Run: node --import tsx src/mmu/tlb.bench.ts

import { Mmu } from './mmu.ts';
import { ACC_READ, ACC_USER, ACC_WRITE } from './types.ts';
import { PageTableBuilder, TestMem, modeRegs } from './test-pagetables.ts';

function setup(pages: number): { mmu: Mmu; base: number } {
  const mem = new TestMem(32 << 20);
  const pt = new PageTableBuilder(mem, '4level', 0x100000);
  const base = 0x4000_0000;
  for (let i = 0; i < pages; i++) pt.map(BigInt(base + i * 4096), BigInt(0x80_0000 + (i % 1024) * 4096));
  const r = modeRegs('4level');
  const mmu = new Mmu(mem, { ...r, cr3Lo: pt.root });
  return { mmu, base };
}

function run(label: string, mmu: Mmu, base: number, pages: number, iterations: number): void {
  const kinds = [ACC_READ, ACC_WRITE, ACC_READ | ACC_USER, ACC_WRITE | ACC_USER];
  let sink = 0;
  // warm up (fills, sets D bits, lets V8 optimize)
  for (let i = 0; i < 200_000; i++) sink += mmu.translate(base + ((i * 4096 + i * 8) % (pages * 4096)), 0, kinds[i & 3]!);
  const h0 = mmu.hits;
  const m0 = mmu.misses;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += mmu.translate(base + (((i * 4104) >>> 0) % (pages * 4096)), 0, kinds[i & 3]!);
  const ns = Number(process.hrtime.bigint() - t0);
  const perSec = (iterations / ns) * 1e9;
  console.log(
    `${label.padEnd(34)} ${(perSec / 1e6).toFixed(1).padStart(7)} M translations/s  (${(ns / iterations).toFixed(1)} ns each; hits ${mmu.hits - h0}, misses ${mmu.misses - m0}; checksum ${sink % 997})`,
  );
}

{
  const pages = 256;
  const { mmu, base } = setup(pages);
  run('hit path (256-page working set)', mmu, base, pages, 20_000_000);
}
{
  const pages = 16384; // 4x the TLB: evicts constantly
  const { mmu, base } = setup(pages);
  run('miss path (16384 pages, walks)', mmu, base, pages, 2_000_000);
}
