// Runs one benchmark image on tsvmm (src/machine, the interpreter or the KVM backend) in a process of
// its own, so its peak memory is its own, and prints one JSON line:
//   { outcome, exitCode, serial, wallMs, markedMs, maxRssKb, detail }
// `wallMs` is the time machine.run() took (image load and Node start-up excluded), `markedMs` the time
// from the guest's BENCH-GO line to its result line on the serial port. With --profile FILE the run is recorded with
// V8's CPU profiler (node:inspector Profiler domain) into FILE (.cpuprofile, Chrome DevTools format).
// Usage: node --import tsx bench/harness/tsvmm-child.ts --backend interp|kvm --image FILE
//        [--entry multiboot32|long64] [--timeout-ms N] [--memory-mb N] [--profile FILE]

import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import type { Backend } from '../../src/vcpu/backend.ts';
import { createMachine } from '../../src/machine/machine.ts';
import { MarkClock } from './process.ts';

async function backendFor(name: string): Promise<Backend> {
  if (name === 'kvm') return (await import('../../src/vcpu/kvm/index.ts')).createKvmBackend();
  if (name === 'interp') return (await import('../../src/vcpu/interp/index.ts')).createInterpBackend();
  throw new Error(`--backend must be interp or kvm, got '${name}'`);
}

async function main(): Promise<void> {
  const { values: o } = parseArgs({
    options: {
      backend: { type: 'string' },
      image: { type: 'string' },
      entry: { type: 'string' },
      'timeout-ms': { type: 'string' },
      'memory-mb': { type: 'string' },
      profile: { type: 'string' },
    },
    strict: true,
  });
  if (!o.backend || !o.image) throw new Error('--backend and --image are required');
  const entry = o.entry ?? 'multiboot32';
  if (entry !== 'multiboot32' && entry !== 'long64') throw new Error(`--entry must be multiboot32 or long64, got '${entry}'`);
  const backend = await backendFor(o.backend);
  const image = new Uint8Array(readFileSync(o.image));
  const chunks: number[] = [];
  const clock = new MarkClock();
  const machine = createMachine({
    backend,
    memoryBytes: Number(o['memory-mb'] ?? 256) * 1024 * 1024,
    cpuid: backend.supportedCpuid(),
    serial: {
      out: (b) => {
        for (const x of b) chunks.push(x);
        clock.push(Buffer.from(b).toString('latin1'), performance.now());
      },
    },
  });
  let session: Session | undefined;
  try {
    machine.load({ kind: 'multiboot', image, name: o.image, cmdline: '', entry });
    if (o.profile) {
      session = new Session();
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.start');
    }
    const t0 = performance.now();
    const r = await machine.run({ timeoutMs: Number(o['timeout-ms'] ?? 600000) });
    const runMs = performance.now() - t0;
    const marked = clock.ms();
    if (session && o.profile) {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(o.profile, JSON.stringify(profile));
      session.disconnect();
    }
    const out = {
      outcome: r.outcome,
      exitCode: r.exitCode ?? null,
      serial: r.serial || Buffer.from(chunks).toString('latin1'),
      wallMs: runMs,
      markedMs: marked ?? null,
      maxRssKb: process.resourceUsage().maxRSS,
      detail: r.detail,
    };
    process.stdout.write(JSON.stringify(out) + '\n');
  } finally {
    machine.destroy();
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stdout.write(JSON.stringify({ outcome: 'host-error', exitCode: null, serial: '', ms: 0, maxRssKb: 0, detail: String((e as Error)?.stack ?? e) }) + '\n');
    process.exit(0);
  },
);
