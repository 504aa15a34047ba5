// Bochs as a benchmark peer (Debian packages bochs, bochsbios, vgabios): boots the disk wrapper with
// its own BIOS (BIOS-bochs-latest). Debian's build has no `nogui` display and has the internal
// debugger, so the run uses the rfb display with no client wait (timeout=0) and a debugger command
// file that just continues. Results come out through the port 0xE9 hack on stdout; the guest ends the
// simulation by writing "Shutdown" to port 0x8900 (Bochs' unmapped-port device panics on purpose, and
// the panic action "fatal" makes Bochs exit with status 1).

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DISK_CYLINDERS, DISK_HEADS, DISK_SPT } from '../harness/image.ts';
import { haveCommand, runProcess } from '../harness/process.ts';
import { existsSync } from 'node:fs';
import type { Availability, Engine, EngineRun, RunContext } from './engine.ts';

export const BOCHS = 'bochs';
export const BOCHS_BIOS = '/usr/share/bochs/BIOS-bochs-latest';
export const BOCHS_VGABIOS = '/usr/share/vgabios/vgabios.bin';

export function bochsrc(disk: string, logFile: string): string {
  return [
    'megs: 256',
    `romimage: file=${BOCHS_BIOS}`,
    `vgaromimage: file=${BOCHS_VGABIOS}`,
    'ata0: enabled=1, ioaddr1=0x1f0, ioaddr2=0x3f0, irq=14',
    `ata0-master: type=disk, path=${disk}, mode=flat, cylinders=${DISK_CYLINDERS}, heads=${DISK_HEADS}, spt=${DISK_SPT}`,
    'boot: disk',
    'display_library: rfb, options="timeout=0"',
    'speaker: enabled=0',
    'sound: waveoutdrv=dummy, waveindrv=dummy, midioutdrv=dummy',
    `log: ${logFile}`,
    'panic: action=fatal',
    'error: action=report',
    'info: action=ignore',
    'debug: action=ignore',
    'port_e9_hack: enabled=1',
    'cpu: model=corei7_sandy_bridge_2600k, count=1, ips=100000000, reset_on_triple_fault=0',
    'clock: sync=none',
    '',
  ].join('\n');
}

export async function runBochs(disk: string, ctx: RunContext): Promise<EngineRun> {
  const rc = join(ctx.workDir, 'bochsrc');
  const cmds = join(ctx.workDir, 'bochs-debugger.rc');
  writeFileSync(rc, bochsrc(disk, join(ctx.workDir, 'bochs.log')));
  writeFileSync(cmds, 'c\nquit\n');
  const p = await runProcess(BOCHS, ['-q', '-rc', cmds, '-f', rc], { timeoutMs: ctx.timeoutMs, workDir: ctx.workDir });
  const base = { wallMs: p.wallMs, ...(p.markedMs !== undefined ? { markedMs: p.markedMs } : {}), output: p.stdout, ...(p.maxRssKb !== undefined ? { maxRssKb: p.maxRssKb } : {}) };
  if (p.spawnError) return { ...base, error: p.spawnError };
  if (p.timedOut) return { ...base, error: `timed out after ${ctx.timeoutMs} ms` };
  if (!/Shutdown port: shutdown requested/.test(p.stdout + p.stderr))
    return { ...base, error: `Bochs ended without the guest's shutdown (status ${p.status}): ${p.stderr.trim().slice(-500)}` };
  return base;
}

export const bochs: Engine = {
  id: 'bochs',
  label: 'Bochs',
  modes: [64, 32],
  wrapper: 'disk',
  nominalMips: 100,
  tsvmm: false,
  reference: false,
  async available(): Promise<Availability> {
    if (!haveCommand(BOCHS)) return { ok: false, reason: 'bochs not installed (apt-get install bochs bochsbios vgabios)' };
    for (const f of [BOCHS_BIOS, BOCHS_VGABIOS])
      if (!existsSync(f)) return { ok: false, reason: `${f} missing (apt-get install bochsbios vgabios)` };
    return { ok: true };
  },
  run: runBochs,
};
