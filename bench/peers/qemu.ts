// QEMU as a benchmark peer (Debian package qemu-system-x86): TCG, its dynamic binary translator, and
// KVM (on these machines PVM: a reference, not a speed figure). The multiboot image goes in with
// -kernel (QEMU loads it through the a.out kludge), results come out on COM1 (-serial stdio) and the
// run ends through isa-debug-exit at port 0xF4 (QEMU exits with status (v << 1) | 1 = 1).

import { existsSync } from 'node:fs';
import { haveCommand, runProcess } from '../harness/process.ts';
import type { Availability, Engine, EngineRun, RunContext } from './engine.ts';

export const QEMU = 'qemu-system-x86_64';

export function qemuArgs(accel: 'tcg' | 'kvm', image: string, extra: readonly string[] = [], wrapper: 'elf' | 'disk' = 'elf'): string[] {
  return [
    '-accel', accel,
    '-m', '256',
    '-display', 'none',
    '-nodefaults',
    '-serial', 'stdio',
    '-monitor', 'none',
    '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04',
    '-no-reboot',
    ...extra,
    ...(wrapper === 'elf' ? ['-kernel', image] : ['-drive', `file=${image},format=raw,if=ide`]),
  ];
}

export async function runQemu(accel: 'tcg' | 'kvm', image: string, ctx: RunContext, extra: readonly string[] = [], wrapper: 'elf' | 'disk' = 'elf'): Promise<EngineRun> {
  const p = await runProcess(QEMU, qemuArgs(accel, image, extra, wrapper), { timeoutMs: ctx.timeoutMs, workDir: ctx.workDir });
  const base = { wallMs: p.wallMs, ...(p.markedMs !== undefined ? { markedMs: p.markedMs } : {}), output: p.stdout, ...(p.maxRssKb !== undefined ? { maxRssKb: p.maxRssKb } : {}) };
  if (p.spawnError) return { ...base, error: p.spawnError };
  if (p.timedOut) return { ...base, error: `timed out after ${ctx.timeoutMs} ms` };
  // isa-debug-exit with 0 → status 1; 2 (fault report) → 5
  if (p.status !== 1) return { ...base, error: `exit status ${p.status ?? p.signal}: ${p.stderr.trim().slice(-500)}` };
  return base;
}

async function qemuAvailable(): Promise<Availability> {
  return haveCommand(QEMU) ? { ok: true } : { ok: false, reason: `${QEMU} not installed (apt-get install qemu-system-x86)` };
}

export const qemuTcg: Engine = {
  id: 'qemu-tcg',
  label: 'QEMU TCG',
  modes: [64, 32],
  wrapper: 'elf',
  nominalMips: 1500,
  tsvmm: false,
  reference: false,
  available: qemuAvailable,
  run: (image, ctx) => runQemu('tcg', image, ctx),
};

export const qemuKvm: Engine = {
  id: 'qemu-kvm',
  label: 'QEMU KVM',
  note: 'PVM, not a speed reference',
  // 32-bit guests triple-fault on PVM
  modes: [64],
  wrapper: 'elf',
  nominalMips: 1,
  optIn: true,
  knownUnsupported: { syscall64: 'triple fault on PVM (ring-3 SYSCALL/SYSRET round trip)' },
  tsvmm: false,
  reference: true,
  async available(): Promise<Availability> {
    const q = await qemuAvailable();
    if (!q.ok) return q;
    return existsSync('/dev/kvm') ? { ok: true } : { ok: false, reason: 'no /dev/kvm' };
  },
  run: (image, ctx) => runQemu('kvm', image, ctx),
};

/** The disk wrapper on QEMU TCG (SeaBIOS, the boot sector): checks that both wrappers agree. Opt-in. */
export const qemuTcgDisk: Engine = {
  id: 'qemu-tcg-disk',
  label: 'QEMU TCG (disk)',
  modes: [64, 32],
  wrapper: 'disk',
  nominalMips: 1500,
  tsvmm: false,
  reference: true,
  optIn: true,
  available: qemuAvailable,
  run: (image, ctx) => runQemu('tcg', image, ctx, [], 'disk'),
};
