// --install-peers: installs what the benchmark needs and is missing, from Debian's packages (apt-get)
// and npm (v86 into build/bench/peers, outside the project's own dependencies).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { haveCommand } from '../harness/process.ts';
import { BOCHS_BIOS, BOCHS_VGABIOS } from './bochs.ts';
import { QEMU } from './qemu.ts';
import { findV86, SEABIOS, V86_PEER_PREFIX } from './v86.ts';

/** Debian package → is it (or what the benchmark uses from it) already there? */
export function missingDebianPackages(): string[] {
  const want: [string, () => boolean][] = [
    ['nasm', () => haveCommand('nasm')],
    ['time', () => existsSync('/usr/bin/time')],
    ['qemu-system-x86', () => haveCommand(QEMU)],
    ['bochs', () => haveCommand('bochs')],
    ['bochsbios', () => existsSync(BOCHS_BIOS)],
    ['vgabios', () => existsSync(BOCHS_VGABIOS)],
    ['seabios', () => existsSync(SEABIOS)],
  ];
  return want.filter(([, have]) => !have()).map(([p]) => p);
}

function run(cmd: string, args: string[], log: (s: string) => void): boolean {
  log(`$ ${cmd} ${args.join(' ')}`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return !r.error && r.status === 0;
}

export function installPeers(log: (s: string) => void): boolean {
  let ok = true;
  const debs = missingDebianPackages();
  if (debs.length === 0) log('install-peers: Debian packages already present');
  else {
    const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
    const [c, ...pre] = [...sudo, 'apt-get'];
    ok = run(c!, [...pre, 'update', '-q'], log) && ok;
    ok = run(c!, [...pre, 'install', '-y', '-q', '--no-install-recommends', ...debs], log) && ok;
  }
  if (findV86()) log('install-peers: v86 already present');
  else {
    mkdirSync(V86_PEER_PREFIX, { recursive: true });
    ok = run('npm', ['install', '--prefix', V86_PEER_PREFIX, '--no-save', '--no-audit', '--no-fund', 'v86'], log) && ok;
  }
  return ok;
}
