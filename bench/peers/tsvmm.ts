// tsvmm's own engines for the benchmark: the TypeScript interpreter (the figure the ratios are about)
// and the /dev/kvm backend, which on these machines is PVM (kvm_pvm: no VT-x/SVM, a plain guest runs
// through KVM's instruction emulator) — measured as an oracle of KVM's behaviour, not a speed reference.
// Each run is a child process (harness/tsvmm-child.ts) so that peak memory is the run's own.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../harness/process.ts';
import { parseChildJson } from '../harness/parse.ts';
import type { Availability, Engine, EngineRun, RunContext } from './engine.ts';

/** tsx resolved from here, so the child finds it whatever its working directory */
const TSX = import.meta.resolve('tsx');
const HARNESS = join(import.meta.dirname, '../harness/tsvmm-child.ts');

export async function runTsvmmChild(backend: 'interp' | 'kvm', entry: 'multiboot32' | 'long64', image: string, ctx: RunContext): Promise<EngineRun> {
  const args = ['--import', TSX, HARNESS, '--backend', backend, '--entry', entry, '--image', image, '--timeout-ms', String(ctx.timeoutMs)];
  if (ctx.profile) args.push('--profile', ctx.profile);
  const p = await runProcess(process.execPath, args, { timeoutMs: ctx.timeoutMs + 30000, workDir: ctx.workDir });
  if (p.timedOut) return { wallMs: p.wallMs, output: p.stdout, error: `timed out after ${ctx.timeoutMs} ms` };
  let j: Record<string, unknown>;
  try {
    j = parseChildJson(p.stdout, `tsvmm ${backend}`);
  } catch (e) {
    return { wallMs: p.wallMs, output: p.stdout, error: `${(e as Error).message}\n${p.stderr.slice(-2000)}` };
  }
  const outcome = String(j.outcome);
  const out: EngineRun = {
    wallMs: Number(j.wallMs),
    ...(typeof j.markedMs === 'number' ? { markedMs: j.markedMs } : {}),
    output: String(j.serial ?? ''),
    maxRssKb: Number(j.maxRssKb) || p.maxRssKb || 0,
    ...(outcome !== 'debug-exit' ? { error: `${outcome}: ${String(j.detail)}` } : {}),
  };
  return out;
}

export const tsvmmInterp: Engine = {
  id: 'tsvmm-interp',
  label: 'tsvmm interpreter',
  modes: [64, 32],
  wrapper: 'elf',
  nominalMips: 10,
  tsvmm: true,
  reference: false,
  async available(): Promise<Availability> {
    try {
      await import('../../src/vcpu/interp/index.ts');
      return { ok: true };
    } catch (e) {
      return { ok: false, reason: `the interpreter module does not load: ${(e as Error).message}` };
    }
  },
  run: (image, ctx) => runTsvmmChild('interp', 'multiboot32', image, ctx),
};

export const tsvmmKvm: Engine = {
  id: 'tsvmm-kvm',
  label: 'tsvmm KVM',
  note: 'PVM, not a speed reference',
  // 32-bit guests triple-fault on PVM (src/loaders/multiboot/README.md): only the long64 entry
  modes: [64],
  wrapper: 'elf',
  nominalMips: 1,
  knownUnsupported: { syscall64: 'triple fault on PVM (ring-3 SYSCALL/SYSRET round trip); runs on QEMU TCG, Bochs and the interpreter' },
  tsvmm: true,
  reference: true,
  async available(): Promise<Availability> {
    if (!existsSync('/dev/kvm')) return { ok: false, reason: 'no /dev/kvm' };
    try {
      const k = (await import('../../src/vcpu/kvm/index.ts')).isKvmAvailable();
      return k.ok ? { ok: true } : { ok: false, reason: k.reason };
    } catch (e) {
      return { ok: false, reason: `the KVM backend does not load: ${(e as Error).message}` };
    }
  },
  run: (image, ctx) => runTsvmmChild('kvm', 'long64', image, ctx),
};
