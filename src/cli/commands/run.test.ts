import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultRunDeps, parseMemorySize, runCommand, RUN_EXIT, type RunDeps } from './run.ts';
import { FakeBackend, outExit, outString, type ScriptStep } from '../../machine/testing/fake-backend.ts';
import { buildElf, concat, multibootHeader } from '../../loaders/testing/images.ts';
import type { CliIo } from '../io.ts';
import type { BackendName } from '../../vcpu/backend.ts';
import { TsvmmError } from '../../util/result.ts';

const MB_IMAGE = buildElf({
  bits: 64,
  entry: 0x100010,
  segments: [
    {
      paddr: 0x100000,
      data: concat(multibootHeader({ flags: 3 }), new Uint8Array(16)),
      offset: 0x1000,
      align: 0x1000,
    },
  ],
});

function harness(script: ScriptStep[], opts: { kvm?: boolean; files?: Record<string, Uint8Array> } = {}) {
  const stdout: number[] = [];
  const err: string[] = [];
  const out: string[] = [];
  const io: CliIo = { out: (t) => out.push(t), err: (t) => err.push(t) };
  const backends: FakeBackend[] = [];
  let released = 0;
  const files: Record<string, Uint8Array> = { 'guest.elf': MB_IMAGE, ...opts.files };
  const deps: RunDeps = {
    writeStdout: (b) => stdout.push(...b),
    stdin: () => [],
    releaseStdin: () => released++,
    readFile: (p) => {
      const f = files[p];
      if (!f) throw new TsvmmError('FILE_READ', `cannot read '${p}'`);
      return f;
    },
    createBackend: async (name: BackendName) => {
      const b = new FakeBackend(script, name);
      backends.push(b);
      return b;
    },
    kvmAvailable: async () => (opts.kvm ? { ok: true } : { ok: false, reason: 'no /dev/kvm in this test' }),
    guestCpuid: async (b) => b.supportedCpuid(),
  };
  return { io, deps, stdout, err, out, backends, released: () => released };
}

test('memory sizes: suffixes, plain numbers in MiB, clear errors', () => {
  assert.equal(parseMemorySize('256M'), 256 * 2 ** 20);
  assert.equal(parseMemorySize('1G'), 2 ** 30);
  assert.equal(parseMemorySize('2GiB'), 2 ** 31);
  assert.equal(parseMemorySize('65536K'), 64 * 2 ** 20);
  assert.equal(parseMemorySize('512'), 512 * 2 ** 20);
  assert.equal(parseMemorySize('1.5G'), 1.5 * 2 ** 30);
  assert.throws(() => parseMemorySize('lots'), { code: 'MEMORY_SIZE' });
  assert.throws(() => parseMemorySize('12Q'), { code: 'MEMORY_SIZE' });
  assert.throws(() => parseMemorySize('0.3K'), { code: 'MEMORY_SIZE' });
});

test('debug-exit status becomes the process status; serial reaches the terminal', async () => {
  const h = harness([outString(0x3f8, 'hi\n'), outExit(0xf4, 1, 0x10)]);
  const status = await runCommand(['--timeout', '5', 'guest.elf'], h.io, h.deps);
  assert.equal(status, 0x21);
  assert.equal(String.fromCharCode(...h.stdout), 'hi\n');
  assert.equal(h.released(), 1, 'stdin released so the process can exit');
});

test('auto picks the interpreter without KVM and multiboot32 there; kvm defaults to long64', async () => {
  const a = harness([outExit(0xf4, 1, 0)]);
  assert.equal(await runCommand(['guest.elf'], a.io, a.deps), 1);
  assert.equal(a.backends[0]!.name, 'interp');
  assert.equal(a.backends[0]!.vms[0]!.vcpus[0]!.sregs.efer, 0n, 'multiboot32: no long mode');
  const k = harness([outExit(0xf4, 1, 0)], { kvm: true });
  assert.equal(await runCommand(['guest.elf'], k.io, k.deps), 1);
  assert.equal(k.backends[0]!.name, 'kvm');
  assert.equal(k.backends[0]!.vms[0]!.vcpus[0]!.sregs.efer, 0x500n, 'long64: EFER.LME|LMA');
  const o = harness([outExit(0xf4, 1, 0)], { kvm: true });
  assert.equal(await runCommand(['--entry', 'multiboot32', 'guest.elf'], o.io, o.deps), 1);
  assert.equal(o.backends[0]!.vms[0]!.vcpus[0]!.sregs.efer, 0n, '--entry overrides');
});

test('shutdown, timeout, backend errors: clear message and their own statuses', async () => {
  const s = harness([{ reason: 'shutdown' }]);
  assert.equal(await runCommand(['guest.elf'], s.io, s.deps), RUN_EXIT.SHUTDOWN);
  assert.match(s.err.join('\n'), /shutdown.*triple/);
  const b = harness([
    { reason: 'internal_error', suberror: 1, data: [], insnBytes: new Uint8Array([0x0f, 0x01, 0xca]) },
  ]);
  assert.equal(await runCommand(['guest.elf'], b.io, b.deps), RUN_EXIT.BACKEND_ERROR);
  assert.match(b.err.join('\n'), /backend error \(not a guest result\).*0f 01 ca/);
  const h = harness([{ reason: 'hlt' }]);
  assert.equal(await runCommand(['guest.elf'], h.io, h.deps), RUN_EXIT.HALTED);
  assert.match(h.err.join('\n'), /halted/);
});

test('timeout with a guest that never stops', async () => {
  const t = harness([]);
  // the fake vCPU returns intr forever; the host clock runs on
  assert.equal(await runCommand(['--timeout', '0.05', 'guest.elf'], t.io, t.deps), RUN_EXIT.TIMEOUT);
  assert.match(t.err.join('\n'), /timeout/);
});

test('usage errors name the bad option', async () => {
  const cases: [string[], RegExp][] = [
    [[], /no IMAGE/],
    [['a', 'b'], /one IMAGE/],
    [['--backend', 'qemu', 'guest.elf'], /--backend must be/],
    [['--memory', 'huge', 'guest.elf'], /--memory: cannot read memory size 'huge'/],
    [['--smp', 'two', 'guest.elf'], /--smp/],
    [['--timeout', '-1', 'guest.elf'], /--timeout/],
    [['--entry', 'bios', 'guest.elf'], /--entry must be/],
    [['--entry', 'real16', 'guest.elf'], /flat binaries/],
    [['--flat-entry', '0x1000', 'guest.elf'], /needs --flat/],
    [['--flat', 'zero', 'guest.elf'], /--flat must be a number/],
    [['--bogus', 'guest.elf'], /bogus/],
  ];
  for (const [args, re] of cases) {
    const h = harness([]);
    assert.equal(await runCommand(args, h.io, h.deps), RUN_EXIT.USAGE, args.join(' '));
    assert.match(h.err.join('\n'), re, args.join(' '));
  }
});

test("refused images, bad memory sizes and SMP are host errors with the loader's reason", async () => {
  const bad = harness([], { files: { 'junk.bin': new Uint8Array(64) } });
  assert.equal(await runCommand(['junk.bin'], bad.io, bad.deps), RUN_EXIT.HOST_ERROR);
  assert.match(bad.err.join('\n'), /MULTIBOOT_NO_HEADER/);
  const small = harness([]);
  assert.equal(await runCommand(['--memory', '1M', 'guest.elf'], small.io, small.deps), RUN_EXIT.HOST_ERROR);
  assert.match(small.err.join('\n'), /minimum/);
  const smp = harness([]);
  assert.equal(await runCommand(['--smp', '4', 'guest.elf'], smp.io, smp.deps), RUN_EXIT.HOST_ERROR);
  assert.match(smp.err.join('\n'), /SMP_UNSUPPORTED/);
});

test('--serial FILE, --append, --module and --flat', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-run-'));
  try {
    const h = harness([outString(0x3f8, 'to file'), outExit(0xf4, 1, 3)], {
      files: { 'mod.bin': new Uint8Array([1, 2, 3]) },
    });
    const file = join(dir, 'serial.txt');
    assert.equal(
      await runCommand(
        ['--serial', file, '--append', 'a=1', '--module', 'mod.bin x=2', 'guest.elf'],
        h.io,
        h.deps,
      ),
      7,
    );
    assert.equal(readFileSync(file, 'utf8'), 'to file');
    assert.deepEqual(h.stdout, []);
    const vcpu = h.backends[0]!.vms[0]!.vcpus[0]!;
    assert.equal(vcpu.regs.rbx, 0x2000n, 'multiboot info address in EBX');
    const f = harness([outExit(0xf4, 1, 1)], { files: { 'raw.bin': new Uint8Array([0xf4]) } });
    assert.equal(
      await runCommand(['--flat', '0x200000', '--entry', 'real16', 'raw.bin'], f.io, f.deps),
      RUN_EXIT.HOST_ERROR,
      'real16 needs an address below 1 MiB',
    );
    const g = harness([outExit(0xf4, 1, 1)], { files: { 'raw.bin': new Uint8Array([0xf4]) } });
    assert.equal(await runCommand(['--flat', '0x200000', 'raw.bin'], g.io, g.deps), 3);
    assert.equal(g.backends[0]!.vms[0]!.vcpus[0]!.regs.rip, 0x200000n);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('registered in the CLI; --help prints the options', async () => {
  const { main } = await import('../main.ts');
  const out: string[] = [];
  const status = await main(['run', '--help'], { out: (t) => out.push(t), err: (t) => out.push(t) });
  assert.equal(status, 0);
  assert.match(out.join('\n'), /usage: tsvmm run/);
  assert.match(out.join('\n'), /--entry multiboot32\|long64/);
});

test('real interpreter backend and CPU policy engine: a flat binary through the default dependencies', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-run-'));
  try {
    const file = join(dir, 'ok.bin');
    // mov dx,0x3f8; mov al,'o'; out dx,al; mov al,'k'; out dx,al; mov al,0x10; out 0xf4,al; hlt
    writeFileSync(
      file,
      new Uint8Array([
        0x66, 0xba, 0xf8, 0x03, 0xb0, 0x6f, 0xee, 0xb0, 0x6b, 0xee, 0xb0, 0x10, 0xe6, 0xf4, 0xf4,
      ]),
    );
    const serial: number[] = [];
    const err: string[] = [];
    const io: CliIo = { out: () => {}, err: (t) => err.push(t) };
    const deps = { ...defaultRunDeps, writeStdout: (b: Uint8Array) => void serial.push(...b) };
    const status = await runCommand(
      [
        '--backend',
        'interp',
        '--flat',
        '0x100000',
        '--entry',
        'long64',
        '--no-stdin',
        '--timeout',
        '20',
        file,
      ],
      io,
      deps,
    );
    assert.equal(status, 0x21, err.join('\n'));
    assert.equal(String.fromCharCode(...serial), 'ok');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--kernel: a bzImage boots on the pc platform with --append/--initrd; ACPI power-off exits 0 and the wall time is reported', async () => {
  const { syntheticBzImage } = await import('../../loaders/testing/bzimage.ts');
  const h = harness([outString(0x3f8, 'Linux version'), outExit(0x604, 2, (5 << 10) | (1 << 13))], {
    files: { bz: syntheticBzImage(), rd: new Uint8Array(4096).fill(7) },
  });
  const status = await runCommand(
    ['--kernel', 'bz', '--initrd', 'rd', '--append', 'console=ttyS0', '--smp', '2', '--no-stdin'],
    h.io,
    h.deps,
  );
  assert.equal(status, 0, h.err.join('\n'));
  assert.match(h.err.join('\n'), /powered off after \d+\.\d\d s wall time \(interp backend, 2 vCPUs/);
  assert.equal(String.fromCharCode(...h.stdout), 'Linux version');
  const vm = h.backends[0]!.vms[0]!;
  assert.equal(vm.vcpus.length, 2);
  assert.equal(vm.vcpus[0]!.regs.rip, 0x1000200n, '64-bit entry = load address + 0x200');
  assert.equal(vm.vcpus[0]!.regs.rsi, 0x2000n, 'RSI = boot_params');
});

test('--kernel usage errors and refused kernels are clear', async () => {
  const { syntheticBzImage } = await import('../../loaders/testing/bzimage.ts');
  const files = { bz: syntheticBzImage(), 'junk.bin': new Uint8Array(64), 'zero.bin': new Uint8Array(0) };
  const usage: [string[], RegExp][] = [
    [['--kernel', 'bz', 'guest.elf'], /give no IMAGE/],
    [['--initrd', 'bz', 'guest.elf'], /--initrd needs --kernel/],
    [['--kernel', 'bz', '--flat', '0x1000'], /--flat is for multiboot/],
    [['--kernel', 'bz', '--module', 'x'], /--module is for multiboot/],
    [['--kernel', 'bz', '--platform', 'isa'], /--platform must be pc or minimal/],
    [['--host-decompress', 'guest.elf'], /--host-decompress needs --kernel/],
  ];
  for (const [args, re] of usage) {
    const h = harness([], { files });
    assert.equal(await runCommand(args, h.io, h.deps), RUN_EXIT.USAGE, args.join(' '));
    assert.match(h.err.join('\n'), re, args.join(' '));
  }
  const refused: [string[], RegExp][] = [
    [['--kernel', 'junk.bin'], /junk\.bin.*\[LINUX_/],
    [['--kernel', 'zero.bin'], /\[LINUX_/],
    [['--kernel', 'missing'], /cannot read 'missing'/],
    [['--kernel', 'bz', '--initrd', 'missing'], /cannot read 'missing'/],
    [['--kernel', 'bz', '--memory', '2M'], /LINUX_NOT_ENOUGH_MEMORY/],
    [['--kernel', 'bz', '--host-decompress'], /LINUX_NO_PAYLOAD/],
    [['--smp', '2', '--platform', 'minimal', 'guest.elf'], /SMP_UNSUPPORTED/],
  ];
  for (const [args, re] of refused) {
    const h = harness([], { files });
    assert.equal(await runCommand([...args, '--timeout', '1'], h.io, h.deps), RUN_EXIT.HOST_ERROR, args.join(' '));
    assert.match(h.err.join('\n'), re, args.join(' '));
  }
});

test("--cpu supported hands the backend's supported CPUID to the guest unchanged", async () => {
  const b = new FakeBackend([], 'interp');
  const warnings: string[] = [];
  const got = await defaultRunDeps.guestCpuid(b, 'supported', 1, (s) => warnings.push(s));
  assert.deepEqual(got, b.supportedCpuid());
  assert.deepEqual(warnings, []);
});
