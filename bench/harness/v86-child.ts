// Runs one benchmark disk image under v86 (npm package `v86`, an x86 PC emulator with an x86-to-wasm
// JIT) in this Node process, booting it with a SeaBIOS image (Debian's `seabios` package), and prints
// one JSON line: { serial, wallMs, markedMs, maxRssKb, timedOut }. `wallMs` runs from emulator start
// to the arrival of the workload's result line (the disk's guest never exits by itself: it halts),
// `markedMs` from its BENCH-GO line to its result line.
// Usage: node --import tsx bench/harness/v86-child.ts --v86 DIR --bios FILE --vga-bios FILE --disk FILE
//        [--no-jit] [--timeout-ms N] [--memory-mb N]

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { MarkClock } from './process.ts';

interface V86Instance {
  add_listener(event: string, fn: (v: number) => void): void;
  stop(): Promise<void>;
  destroy(): Promise<void>;
}
type V86Ctor = new (opts: Record<string, unknown>) => V86Instance;

const buf = (p: string): { buffer: ArrayBuffer } => {
  const b = readFileSync(p);
  return { buffer: b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) };
};

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      v86: { type: 'string' },
      bios: { type: 'string' },
      'vga-bios': { type: 'string' },
      disk: { type: 'string' },
      'no-jit': { type: 'boolean' },
      'timeout-ms': { type: 'string' },
      'memory-mb': { type: 'string' },
    },
    strict: true,
  });
  if (!o.v86 || !o.bios || !o['vga-bios'] || !o.disk) {
    process.stderr.write('v86-child: --v86, --bios, --vga-bios and --disk are required\n');
    process.exit(2);
  }
  const mod = (await import(pathToFileURL(join(o.v86, 'build/libv86.mjs')).href)) as { V86: V86Ctor };
  const timeoutMs = Number(o['timeout-ms'] ?? 600000);
  const memoryMb = Number(o['memory-mb'] ?? 256);
  let serial = '';
  const clock = new MarkClock();
  const start = performance.now();
  let done = false;
  const emulator = new mod.V86({
    wasm_path: join(o.v86, 'build/v86.wasm'),
    bios: buf(o.bios),
    vga_bios: buf(o['vga-bios']),
    hda: buf(o.disk),
    memory_size: memoryMb * 1024 * 1024,
    vga_memory_size: 2 * 1024 * 1024,
    autostart: true,
    disable_jit: !!o['no-jit'],
    disable_keyboard: true,
    disable_mouse: true,
    disable_speaker: true,
  });
  const finish = async (timedOut: boolean): Promise<void> => {
    if (done) return;
    done = true;
    const wallMs = performance.now() - start;
    await emulator.stop();
    const marked = clock.ms();
    const line = JSON.stringify({ serial, wallMs, markedMs: marked ?? null, maxRssKb: process.resourceUsage().maxRSS, timedOut });
    process.stdout.write(line + '\n', () => process.exit(0));
  };
  const timer = setTimeout(() => void finish(true), timeoutMs);
  emulator.add_listener('serial0-output-byte', (b: number) => {
    serial += String.fromCharCode(b);
    clock.push(String.fromCharCode(b), performance.now());
    if (b === 10 && /BENCH(-FAULT)? /.test(serial)) {
      clearTimeout(timer);
      void finish(false);
    }
  });
}

void main();
