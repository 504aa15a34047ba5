// The Linux boot benchmark's command lines (nothing is run here), the option parsers and the kernel
// facts read from a bzImage's setup header.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  bzImageVersion, customForm, displayCommand, FALLBACK_FORM, findKernel, ISSUE_FORM, kernelVersionOf, parseSmpList, qemuCommand, qemuLinuxArgs, shellQuote,
  tsvmmCommand, tsvmmRunArgs,
} from './commands.ts';
import { TsvmmError } from '../../src/util/result.ts';

const CFG = { kernel: '/boot/vmlinuz-6.1.0-56-amd64', initrd: 'build/initramfs.cpio.gz', smp: 2, memoryMiB: 256 };

test("tsvmm: the issue's exact command, plus --smp", () => {
  assert.equal(
    displayCommand(['tsvmm', ...tsvmmRunArgs(CFG, ISSUE_FORM)]),
    `tsvmm run --backend interp --kernel /boot/vmlinuz-6.1.0-56-amd64 --initrd build/initramfs.cpio.gz --append console=ttyS0 --smp 2`,
  );
  // the append line is one argument, however it is displayed
  const a = tsvmmRunArgs(CFG, FALLBACK_FORM);
  assert.equal(a[a.indexOf('--append') + 1], 'console=ttyS0 nokaslr');
  assert.deepEqual(a.slice(0, 6), ['run', '--backend', 'interp', '--cpu', 'supported', '--host-decompress']);
  assert.ok(!a.includes('--memory'), "tsvmm's default RAM is not spelt out");
  const m = tsvmmRunArgs({ ...CFG, memoryMiB: 512 }, ISSUE_FORM);
  assert.deepEqual(m.slice(-2), ['--memory', '512M']);
});

test('tsvmm: started from the sources with tsx, or through bin/tsvmm.js', () => {
  const s = tsvmmCommand(CFG, FALLBACK_FORM, 'src', '/usr/bin/node');
  assert.equal(s.cmd, '/usr/bin/node');
  assert.deepEqual(s.args.slice(0, 4), ['--import', 'tsx', 'src/cli/main.ts', 'run']);
  assert.match(s.display, /^node --import tsx src\/cli\/main\.ts run --backend interp --cpu supported --host-decompress .* --append 'console=ttyS0 nokaslr' --smp 2$/);
  const d = tsvmmCommand(CFG, ISSUE_FORM, 'dist', '/usr/bin/node');
  assert.deepEqual(d.args.slice(0, 2), ['bin/tsvmm.js', 'run']);
});

test('QEMU: TCG, the same RAM, vCPUs, kernel, initramfs and command line, serial on stdio, no reboot', () => {
  assert.deepEqual(qemuLinuxArgs(CFG, 'console=ttyS0 nokaslr'), [
    '-accel', 'tcg', '-m', '256', '-smp', '2', '-kernel', CFG.kernel, '-initrd', CFG.initrd, '-append', 'console=ttyS0 nokaslr', '-nographic', '-no-reboot',
  ]);
  const c = qemuCommand({ ...CFG, smp: 1, memoryMiB: 1024 }, 'console=ttyS0');
  assert.equal(c.cmd, 'qemu-system-x86_64');
  assert.equal(c.display, `qemu-system-x86_64 -accel tcg -m 1024 -smp 1 -kernel ${CFG.kernel} -initrd ${CFG.initrd} -append console=ttyS0 -nographic -no-reboot`);
});

test('shell quoting for the recorded command lines', () => {
  assert.equal(shellQuote('console=ttyS0'), 'console=ttyS0');
  assert.equal(shellQuote('console=ttyS0 nokaslr'), `'console=ttyS0 nokaslr'`);
  assert.equal(shellQuote(`it's`), `'it'\\''s'`);
  assert.equal(shellQuote(''), `''`);
});

test('option parsers: vCPU lists and custom forms, with clear errors', () => {
  assert.deepEqual(parseSmpList('1,2'), [1, 2]);
  assert.deepEqual(parseSmpList(' 2 , 1,2'), [2, 1]);
  for (const bad of ['0', '1,x', '', '1.5', '65'])
    assert.throws(() => parseSmpList(bad), (e: unknown) => e instanceof TsvmmError && e.code === 'BENCH_LINUX_SMP');
  assert.equal(customForm(undefined, undefined), undefined);
  assert.deepEqual(customForm('--cpu  supported', undefined), { name: 'custom', tsvmmArgs: ['--cpu', 'supported'], append: 'console=ttyS0' });
  assert.deepEqual(customForm(undefined, 'console=ttyS0 quiet'), { name: 'custom', tsvmmArgs: [], append: 'console=ttyS0 quiet' });
  assert.throws(() => customForm('--smp 4', undefined), /--smp is set by the runner/);
});

/** A minimal bzImage setup header: "HdrS" at 0x202, kernel_version at 0x20E → the string at +0x200. */
function fakeBzImage(version: string, ptr = 0x100): Uint8Array {
  const b = new Uint8Array(0x200 + ptr + version.length + 16);
  b.set(new TextEncoder().encode('HdrS'), 0x202);
  b[0x20e] = ptr & 0xff;
  b[0x20f] = ptr >> 8;
  b.set(new TextEncoder().encode(version), 0x200 + ptr);
  return b;
}

test('bzImage kernel_version from the setup header; non-bzImages are refused by name', () => {
  assert.equal(bzImageVersion(fakeBzImage('6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP')), '6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP');
  assert.throws(() => bzImageVersion(new Uint8Array(0x400), 'x.elf'), /x\.elf is not a bzImage/);
  assert.throws(() => bzImageVersion(new Uint8Array(16)), /too short/);
  assert.throws(() => bzImageVersion(fakeBzImage('v', 0)), /no kernel_version/);
  assert.throws(() => kernelVersionOf('/nonexistent/vmlinuz'), (e: unknown) => e instanceof TsvmmError && e.code === 'BENCH_LINUX_KERNEL' && /does not exist/.test(e.message));
});

test('findKernel: the newest vmlinuz-<release> by version, none in an empty or missing directory', () => {
  const d = mkdtempSync(join(tmpdir(), 'boot-'));
  try {
    assert.equal(findKernel(d), undefined);
    for (const n of ['vmlinuz-6.1.0-9-amd64', 'vmlinuz-6.1.0-56-amd64', 'vmlinuz-5.10.0-30-amd64', 'config-6.12.0-1-amd64', 'vmlinuz'])
      writeFileSync(join(d, n), fakeBzImage('x'));
    assert.equal(findKernel(d), join(d, 'vmlinuz-6.1.0-56-amd64'));
    writeFileSync(join(d, 'vmlinuz-6.10.0-1-amd64'), fakeBzImage('6.10.0-1-amd64 (x)'));
    assert.equal(findKernel(d), join(d, 'vmlinuz-6.10.0-1-amd64'));
    assert.equal(kernelVersionOf(join(d, 'vmlinuz-6.10.0-1-amd64')), '6.10.0-1-amd64 (x)');
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
  assert.equal(findKernel('/nonexistent-dir'), undefined);
});
