// v86 as a benchmark peer (npm package `v86`: an x86 PC emulator in JavaScript/WebAssembly with an
// x86-to-wasm JIT; 32-bit only, no long mode), run under Node by harness/v86-child.ts with Debian's
// SeaBIOS (package seabios) and the disk wrapper. Two engines: with its JIT and with disable_jit.
// The package is not a dependency of tsvmm: it is found through --v86 DIR, `npm ls v86` in the
// project, or build/bench/peers/node_modules/v86 (where --install-peers puts it).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runProcess } from '../harness/process.ts';
import { parseChildJson } from '../harness/parse.ts';
import type { Availability, Engine, EngineRun, RunContext } from './engine.ts';

export const SEABIOS = '/usr/share/seabios/bios.bin';
export const SEABIOS_VGA = '/usr/share/seabios/vgabios-stdvga.bin';
/** tsx resolved from here, so the child finds it whatever its working directory */
const TSX = import.meta.resolve('tsx');
const CHILD = join(import.meta.dirname, '../harness/v86-child.ts');
const ROOT = join(import.meta.dirname, '../..');
export const V86_PEER_PREFIX = join(ROOT, 'build/bench/peers');

let explicitDir: string | undefined;
let found: string | undefined;
/** --v86 DIR: the v86 package directory (the one holding build/libv86.mjs). */
export function setV86Dir(dir: string | undefined): void {
  explicitDir = dir;
  found = undefined;
}

const isV86Dir = (d: string): boolean => existsSync(join(d, 'build/libv86.mjs')) && existsSync(join(d, 'build/v86.wasm'));

/** Where v86 is, in the order: --v86, `npm ls v86 --parseable` in the project, the peers prefix. */
export function findV86(): string | undefined {
  if (found && isV86Dir(found)) return found;
  found = lookForV86();
  return found;
}

function lookForV86(): string | undefined {
  if (explicitDir) return isV86Dir(explicitDir) ? explicitDir : undefined;
  const r = spawnSync('npm', ['ls', 'v86', '--parseable', '--depth=0'], { cwd: ROOT, encoding: 'utf8' });
  const fromNpm = (r.stdout ?? '').split('\n').map((l) => l.trim()).find((l) => l.endsWith('/v86'));
  if (fromNpm && isV86Dir(fromNpm)) return fromNpm;
  const peer = join(V86_PEER_PREFIX, 'node_modules/v86');
  return isV86Dir(peer) ? peer : undefined;
}

async function runV86(jit: boolean, disk: string, ctx: RunContext): Promise<EngineRun> {
  const dir = findV86();
  if (!dir) return { wallMs: 0, output: '', error: 'v86 not found' };
  const args = ['--import', TSX, CHILD, '--v86', dir, '--bios', SEABIOS, '--vga-bios', SEABIOS_VGA, '--disk', disk, '--timeout-ms', String(ctx.timeoutMs)];
  if (!jit) args.push('--no-jit');
  const p = await runProcess(process.execPath, args, { timeoutMs: ctx.timeoutMs + 30000, workDir: ctx.workDir });
  if (p.timedOut) return { wallMs: p.wallMs, output: p.stdout, error: `timed out after ${ctx.timeoutMs} ms` };
  try {
    const j = parseChildJson(p.stdout, 'v86');
    return {
      wallMs: Number(j.wallMs),
      ...(typeof j.markedMs === 'number' ? { markedMs: j.markedMs } : {}),
      output: String(j.serial ?? ''),
      maxRssKb: Number(j.maxRssKb) || p.maxRssKb || 0,
      ...(j.timedOut === true ? { error: `timed out after ${ctx.timeoutMs} ms` } : {}),
    };
  } catch (e) {
    return { wallMs: p.wallMs, output: p.stdout, error: `${(e as Error).message}\n${p.stderr.slice(-1000)}` };
  }
}

async function v86Available(): Promise<Availability> {
  if (!existsSync(SEABIOS)) return { ok: false, reason: `${SEABIOS} missing (apt-get install seabios)` };
  const d = findV86();
  return d ? { ok: true, detail: d } : { ok: false, reason: 'v86 not found (--v86 DIR, or --install-peers)' };
}

export const v86Jit: Engine = {
  id: 'v86',
  label: 'v86 (JIT)',
  modes: [32],
  wrapper: 'disk',
  nominalMips: 200,
  tsvmm: false,
  reference: false,
  available: v86Available,
  run: (disk, ctx) => runV86(true, disk, ctx),
};

export const v86NoJit: Engine = {
  id: 'v86-nojit',
  label: 'v86 (no JIT)',
  modes: [32],
  wrapper: 'disk',
  nominalMips: 50,
  tsvmm: false,
  reference: false,
  available: v86Available,
  run: (disk, ctx) => runV86(false, disk, ctx),
};
