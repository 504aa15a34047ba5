// `tsvmm run`: boot a multiboot (or flat) image, or a Linux bzImage (--kernel, the Linux x86 boot
// protocol, Documentation/arch/x86/boot.rst) on the tsvmm PC (src/machine) with the KVM or
// interpreter backend, serial on the terminal, and the guest's isa-debug-exit status as the process
// exit status (QEMU's convention: (value << 1) | 1, always odd). Even statuses are tsvmm's own:
//
//   status  meaning
//   odd     the guest wrote the debug-exit port (0xF4)
//   0       the guest powered off (ACPI S5), or halted with interrupts disabled (HLT, IF=0) or with
//           nothing left to wake it
//   2       usage error (bad option)
//   4       the guest shut down: triple fault, or it asked for a reset
//   6       time limit (--timeout) reached
//   8       backend error: the backend could not run the guest (e.g. KVM emulation failure)
//   10      host error: the image was refused, the backend is unavailable, or tsvmm failed

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { openSync, readFileSync, writeSync, closeSync } from 'node:fs';
import { basename } from 'node:path';
import { EXIT_USAGE, type CliIo, type Command } from '../io.ts';
import { TsvmmError } from '../../util/result.ts';
import { hex, parseU64 } from '../../util/u64.ts';
import type { Backend, BackendName } from '../../vcpu/backend.ts';
import { CpuidTable, type CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import { createMachine, type BootImage, type RunResult, type SerialInput } from '../../machine/machine.ts';
import type { MultibootEntry } from '../../loaders/multiboot/multiboot.ts';
import type { EntryMode } from '../../loaders/boot/boot-state.ts';
import { GiB, KiB, MiB } from '../../machine/layout.ts';

export const RUN_EXIT = {
  HALTED: 0,
  USAGE: EXIT_USAGE,
  SHUTDOWN: 4,
  TIMEOUT: 6,
  BACKEND_ERROR: 8,
  HOST_ERROR: 10,
} as const;

const OPTIONS = {
  backend: { type: 'string' },
  cpu: { type: 'string' },
  memory: { type: 'string', short: 'm' },
  smp: { type: 'string' },
  kernel: { type: 'string' },
  initrd: { type: 'string' },
  platform: { type: 'string' },
  'host-decompress': { type: 'boolean' },
  append: { type: 'string' },
  module: { type: 'string', multiple: true },
  timeout: { type: 'string' },
  entry: { type: 'string' },
  serial: { type: 'string' },
  flat: { type: 'string' },
  'flat-entry': { type: 'string' },
  'no-stdin': { type: 'boolean' },
  verbose: { type: 'boolean', short: 'v' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const HELP = `usage: tsvmm run [options] IMAGE
       tsvmm run [options] --kernel BZIMAGE [--initrd INITRD] [--append CMDLINE]
Boot IMAGE (multiboot v1: ELF32, ELF64 or a.out kludge; or a flat binary with --flat) on the tsvmm PC,
or a Linux bzImage with the 64-bit boot protocol (ACPI tables and e820 map built for the machine).
  --kernel BZIMAGE           a Linux kernel (bzImage, boot protocol 2.12+); no IMAGE then
  --initrd FILE              the initramfs for --kernel
  --host-decompress          unpack the kernel's vmlinux on the host (gzip; xz/zstd with the host's
                             tools) and enter startup_64 directly, skipping the in-guest decompressor
  --platform pc|minimal      pc = local APICs, IOAPIC, RTC, ACPI (default with --kernel);
                             minimal = 8259/8254/UART only, 1 vCPU (default for IMAGE)
  --backend kvm|interp|auto  vCPU backend (default auto: kvm when /dev/kvm is usable, else interp)
  --cpu SPEC                 guest CPU policy: host | MODEL, then +feat,-feat (default host);
                             supported = the backend's supported CPUID as it is
  --memory SIZE, -m SIZE     guest RAM, e.g. 256M, 1G, 65536K (plain number = MiB; default 256M)
  --smp N                    vCPUs (more than 1 needs --platform pc)
  --append ARGS              the kernel (--kernel) or multiboot command line
  --module "FILE [ARGS]"     a multiboot module (repeatable); its string is the whole argument
  --timeout SECONDS          stop the guest after this long (default: no limit)
  --entry multiboot32|long64 entry mode (default: long64 on kvm, multiboot32 on interp);
                             with --flat also real16 | protected32
  --flat ADDRESS             IMAGE is a raw binary loaded at ADDRESS (16-byte aligned)
  --flat-entry ADDRESS       entry point of the flat binary (default: ADDRESS)
  --serial FILE              COM1 output to FILE instead of the terminal
  --no-stdin                 do not connect stdin to COM1 input
  -v, --verbose              report unclaimed I/O and the run summary on stderr
exit status: odd = guest debug-exit status ((value << 1) | 1); 0 powered off or halted; 2 usage; 4 shutdown
(triple fault or reset); 6 timeout; 8 backend error; 10 host error (image refused, backend unavailable)`;

class UsageError extends Error {}

/** Parse a memory size: a number with an optional K/M/G/T suffix (KiB…TiB); a plain number is MiB. */
export function parseMemorySize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(i?b)?\s*$/i.exec(text);
  if (!m) {
    throw new TsvmmError(
      'MEMORY_SIZE',
      `cannot read memory size '${text}': use a number with an optional K, M, G or T suffix (e.g. 256M, 2G)`,
    );
  }
  const unit = { '': MiB, k: KiB, m: MiB, g: GiB, t: 1024 * GiB }[
    m[2]!.toLowerCase() as '' | 'k' | 'm' | 'g' | 't'
  ];
  const bytes = Number(m[1]) * unit;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) {
    throw new TsvmmError('MEMORY_SIZE', `memory size '${text}' is not a whole, positive number of bytes`);
  }
  return bytes;
}

function parseAddress(text: string, what: string): number {
  const v = parseU64(text);
  if (v === undefined || v > BigInt(Number.MAX_SAFE_INTEGER))
    throw new UsageError(`${what} must be a number (decimal or 0x hex), got '${text}'`);
  return Number(v);
}

function parsePositiveSeconds(text: string): number {
  const n = Number(text);
  if (!/^\s*\d+(\.\d+)?\s*$/.test(text) || !(n > 0))
    throw new UsageError(`--timeout must be a positive number of seconds, got '${text}'`);
  return n;
}

/** Everything from the outside world the command uses, injectable for tests. */
export interface RunDeps {
  /** serial bytes to the terminal */
  writeStdout(bytes: Uint8Array): void;
  /** COM1 input (stdin); undefined = none */
  stdin(): SerialInput | undefined;
  /** stop reading stdin so the process can exit */
  releaseStdin(): void;
  readFile(path: string): Uint8Array;
  /** load a backend module by name; throws when it is unavailable */
  createBackend(name: BackendName): Promise<Backend>;
  /** is the KVM backend usable here? */
  kvmAvailable(): Promise<{ ok: true } | { ok: false; reason: string }>;
  /** the guest CPUID for this backend and --cpu spec (the policy engine) */
  guestCpuid(
    backend: Backend,
    cpu: string | undefined,
    vcpus: number,
    warn: (s: string) => void,
  ): Promise<CpuidEntry[]>;
}

async function importKvm(): Promise<typeof import('../../vcpu/kvm/index.ts')> {
  try {
    return await import('../../vcpu/kvm/index.ts');
  } catch (e) {
    throw new TsvmmError(
      'BACKEND_UNAVAILABLE',
      `the KVM backend module cannot be loaded: ${(e as Error).message}`,
    );
  }
}

async function importInterp(): Promise<typeof import('../../vcpu/interp/index.ts')> {
  try {
    return await import('../../vcpu/interp/index.ts');
  } catch (e) {
    throw new TsvmmError(
      'BACKEND_UNAVAILABLE',
      `the interpreter backend module cannot be loaded: ${(e as Error).message}`,
    );
  }
}

/**
 * The guest CPUID from the policy engine (src/cpuid/pipeline.ts buildGuestCpuid): host = this machine
 * (`cpuid -r -1`), supported = the backend's own set (KVM_GET_SUPPORTED_CPUID on kvm). Without the
 * `cpuid` tool and without --cpu, fall back to the backend's supported CPUID as the guest's.
 */
async function policyCpuid(
  backend: Backend,
  cpu: string | undefined,
  vcpus: number,
  warn: (s: string) => void,
): Promise<CpuidEntry[]> {
  // 'supported': the backend's own KVM_GET_SUPPORTED_CPUID table as the guest's, no host filtering.
  if (cpu === 'supported') return backend.supportedCpuid();
  const { captureHost } = await import('../../cpuid/host.ts');
  const { buildGuestCpuid } = await import('../../cpuid/pipeline.ts');
  let host;
  try {
    host = captureHost();
  } catch (e) {
    if (cpu !== undefined) throw e;
    warn(
      `cannot read the host CPUID (${(e as Error).message}); using the backend's supported CPUID as the guest CPUID`,
    );
    return backend.supportedCpuid();
  }
  const g = buildGuestCpuid({
    host: host.dump.table,
    backend: backend.name,
    ...(backend.name === 'kvm' ? { kvmSupported: CpuidTable.from(backend.supportedCpuid()) } : {}),
    ...(host.osDisabled ? { hostOsDisabled: host.osDisabled } : {}),
    cpu: cpu ?? 'host',
    vcpus,
  });
  if (!g.ok) {
    throw new TsvmmError(
      'CPU_POLICY_REFUSED',
      `the CPU policy '${cpu ?? 'host'}' was refused on the ${backend.name} backend:\n  ${g.refusals.map((r) => r.message).join('\n  ')}`,
    );
  }
  return g.table.entries();
}

export const defaultRunDeps: RunDeps = {
  writeStdout: (b) => void process.stdout.write(b),
  stdin: () => process.stdin as unknown as AsyncIterable<Uint8Array>,
  releaseStdin: () => {
    process.stdin.pause();
    process.stdin.destroy();
  },
  readFile: (p) => {
    try {
      return new Uint8Array(readFileSync(p));
    } catch (e) {
      throw new TsvmmError(
        'FILE_READ',
        `cannot read '${p}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
  },
  async createBackend(name) {
    if (name === 'kvm') return (await importKvm()).createKvmBackend();
    // 100k instructions per run(): the loop polls timers (LAPIC, PIT) and switches vCPUs between runs.
    return (await importInterp()).createInterpBackend({ budget: INTERP_BUDGET });
  },
  async kvmAvailable() {
    try {
      return (await importKvm()).isKvmAvailable();
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
  },
  guestCpuid: policyCpuid,
};

/** Interpreter instructions per run() (its `intr` slice; the interpreter has no RunSlice yet). */
const INTERP_BUDGET = 100_000;

const ENTRY_MODES = ['multiboot32', 'long64', 'real16', 'protected32'] as const;

/** Serial bytes arrive one at a time from the UART; coalesce them into terminal writes. */
function bufferedWriter(write: (b: Uint8Array) => void): { push(b: Uint8Array): void; flush(): void } {
  let buf = new Uint8Array(4096);
  let n = 0;
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    if (n === 0) return;
    write(buf.slice(0, n));
    n = 0;
  };
  return {
    push(b) {
      if (n + b.length > buf.length) {
        flush();
        if (b.length > buf.length) buf = new Uint8Array(b.length);
      }
      buf.set(b, n);
      n += b.length;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    },
    flush,
  };
}

export async function runCommand(args: string[], io: CliIo, deps: RunDeps = defaultRunDeps): Promise<number> {
  let v;
  try {
    v = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    io.err(`tsvmm run: ${(e as Error).message}\n${HELP}`);
    return RUN_EXIT.USAGE;
  }
  const o = v.values;
  if (o.help) {
    io.out(HELP);
    return 0;
  }
  let serialFd: number | undefined;
  let stdinUsed = false;
  try {
    const kernelPath = o.kernel;
    if (kernelPath !== undefined) {
      if (v.positionals.length !== 0)
        throw new UsageError(`--kernel boots a bzImage: give no IMAGE as well (got '${v.positionals[0]}')`);
      if (kernelPath === '') throw new UsageError('--kernel needs a file name');
      for (const opt of ['flat', 'flat-entry', 'entry', 'module'] as const)
        if (o[opt] !== undefined) throw new UsageError(`--${opt} is for multiboot/flat images, not --kernel`);
    } else {
      if (o.initrd !== undefined) throw new UsageError('--initrd needs --kernel BZIMAGE');
      if (o['host-decompress']) throw new UsageError('--host-decompress needs --kernel BZIMAGE');
      if (v.positionals.length !== 1)
        throw new UsageError(
          v.positionals.length === 0
            ? 'no IMAGE (or --kernel BZIMAGE) given'
            : `one IMAGE expected, got ${v.positionals.length}`,
        );
    }
    const imagePath = kernelPath ?? v.positionals[0]!;
    const platform = o.platform ?? (kernelPath !== undefined ? 'pc' : 'minimal');
    if (platform !== 'pc' && platform !== 'minimal')
      throw new UsageError(`--platform must be pc or minimal, got '${platform}'`);
    const backendOpt = o.backend ?? 'auto';
    if (!['kvm', 'interp', 'auto'].includes(backendOpt))
      throw new UsageError(`--backend must be kvm, interp or auto, got '${backendOpt}'`);
    let memoryBytes: number;
    try {
      memoryBytes = parseMemorySize(o.memory ?? '256M');
    } catch (e) {
      throw new UsageError(`--memory: ${(e as Error).message}`);
    }
    const smp = o.smp === undefined ? 1 : Number(o.smp);
    if (!Number.isInteger(smp) || smp < 1)
      throw new UsageError(`--smp must be a positive integer, got '${o.smp}'`);
    if (smp > 1 && platform !== 'pc')
      throw new TsvmmError(
        'SMP_UNSUPPORTED',
        `--smp ${smp}: more than one vCPU needs the pc platform (--platform pc) for the local APICs`,
      );
    const timeoutMs = o.timeout === undefined ? 2 ** 40 : parsePositiveSeconds(o.timeout) * 1000;
    const entryOpt = o.entry;
    if (entryOpt !== undefined && !(ENTRY_MODES as readonly string[]).includes(entryOpt)) {
      throw new UsageError(`--entry must be one of ${ENTRY_MODES.join(', ')}, got '${entryOpt}'`);
    }
    if (o.flat === undefined && (entryOpt === 'real16' || entryOpt === 'protected32')) {
      throw new UsageError(
        `--entry ${entryOpt} is for flat binaries (--flat ADDRESS); multiboot images use multiboot32 or long64`,
      );
    }
    if (o.flat === undefined && o['flat-entry'] !== undefined)
      throw new UsageError('--flat-entry needs --flat ADDRESS');
    if (o.flat !== undefined && (o.module?.length || o.append !== undefined))
      throw new UsageError('--module and --append are for multiboot images, not --flat');

    // Backend
    let name: BackendName;
    if (backendOpt === 'auto') {
      const k = await deps.kvmAvailable();
      name = k.ok ? 'kvm' : 'interp';
      if (!k.ok && o.verbose) io.err(`tsvmm run: KVM unavailable (${k.reason}); using the interpreter`);
    } else {
      name = backendOpt as BackendName;
    }
    const backend = await deps.createBackend(name);
    const cpuid = await deps.guestCpuid(backend, o.cpu, smp, (s) => io.err(`tsvmm run: ${s}`));

    // Image
    const image = deps.readFile(imagePath);
    const entry = (entryOpt ?? (name === 'kvm' ? 'long64' : 'multiboot32')) as MultibootEntry | EntryMode;
    let boot: BootImage;
    if (kernelPath !== undefined) {
      boot = {
        kind: 'linux',
        kernel: image,
        ...(o.initrd !== undefined ? { initrd: deps.readFile(o.initrd) } : {}),
        cmdline: o.append ?? '',
        kernelName: basename(kernelPath),
        ...(o['host-decompress'] ? { hostDecompress: true } : {}),
      };
    } else if (o.flat !== undefined) {
      const address = parseAddress(o.flat, '--flat');
      const mode: EntryMode = entry === 'multiboot32' ? 'protected32' : (entry as EntryMode);
      boot = {
        kind: 'flat',
        image,
        address,
        mode,
        name: basename(imagePath),
        ...(o['flat-entry'] !== undefined ? { entry: parseAddress(o['flat-entry'], '--flat-entry') } : {}),
      };
    } else {
      const modules = (o.module ?? []).map((spec) => {
        const file = spec.trim().split(/\s+/)[0] ?? '';
        if (!file) throw new UsageError(`--module needs a file name, got '${spec}'`);
        return { data: deps.readFile(file), cmdline: spec.trim() };
      });
      boot = {
        kind: 'multiboot',
        image,
        name: basename(imagePath),
        cmdline: o.append ?? '',
        modules,
        entry: entry as MultibootEntry,
      };
    }

    // Serial
    let out: (b: Uint8Array) => void;
    let flush = (): void => {};
    if (o.serial !== undefined) {
      try {
        serialFd = openSync(o.serial, 'w');
      } catch (e) {
        throw new TsvmmError(
          'FILE_WRITE',
          `cannot open --serial file '${o.serial}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
        );
      }
      const fd = serialFd;
      out = (b) => void writeSync(fd, b);
    } else {
      const w = bufferedWriter((b) => deps.writeStdout(b));
      out = (b) => w.push(b);
      flush = () => w.flush();
    }
    const input = o['no-stdin'] ? undefined : deps.stdin();
    stdinUsed = input !== undefined;

    const machine = createMachine({
      backend,
      memoryBytes,
      cpuid,
      vcpus: smp,
      platform,
      serial: { out, ...(input ? { input } : {}) },
      ...(o.verbose ? { log: (s: string) => io.err(`tsvmm run: ${s}`) } : {}),
    });
    let result: RunResult;
    let wallMs = 0;
    try {
      const st = machine.load(boot);
      if (o.verbose)
        io.err(
          `tsvmm run: ${name} backend, ${memoryBytes / MiB} MiB, ${st.mode} entry at ${hex(st.regs.rip)}`,
        );
      const t0 = performance.now();
      result = await machine.run({ timeoutMs });
      wallMs = performance.now() - t0;
      if (o.verbose) {
        for (const space of ['pio', 'mmio'] as const) {
          const st = machine.bus.stats(space);
          if (st.unclaimedReads + st.unclaimedWrites === 0) continue;
          const top = [...st.unclaimedAddrs].map(([a, n]) => `${hex(a)}×${n}`).join(' ');
          io.err(
            `tsvmm run: unclaimed ${space}: ${st.unclaimedReads} reads, ${st.unclaimedWrites} writes (${top})`,
          );
        }
      }
    } finally {
      flush();
      machine.destroy();
    }
    if (kernelPath !== undefined || o.verbose)
      io.err(
        `tsvmm run: ${result.poweredOff ? 'powered off' : result.outcome} after ${(wallMs / 1000).toFixed(2)} s wall time (${name} backend, ${smp} vCPU${smp > 1 ? 's' : ''}, ${result.exits} exits)`,
      );
    return report(result, io, !!o.verbose);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`tsvmm run: ${e.message}\n(tsvmm run --help for the options)`);
      return RUN_EXIT.USAGE;
    }
    if (e instanceof TsvmmError) {
      io.err(`tsvmm run: ${e.message} [${e.code}]`);
      return RUN_EXIT.HOST_ERROR;
    }
    if (e instanceof Error && e.name === 'BackendError') {
      io.err(`tsvmm run: ${e.message}`);
      return RUN_EXIT.HOST_ERROR;
    }
    throw e;
  } finally {
    if (serialFd !== undefined) closeSync(serialFd);
    if (stdinUsed) deps.releaseStdin();
  }
}

function report(r: RunResult, io: CliIo, verbose: boolean): number {
  const rip = r.rip !== undefined ? ` (rip ${hex(r.rip)})` : '';
  if (verbose)
    io.err(
      `tsvmm run: ${r.outcome} after ${r.exits} exits, ${(r.elapsedNs / 1e6).toFixed(1)} ms: ${r.detail}`,
    );
  switch (r.outcome) {
    case 'debug-exit':
      return r.exitCode! & 0xff;
    case 'hlt':
      if (!verbose) io.err(`tsvmm run: ${r.detail}${rip}`);
      return RUN_EXIT.HALTED;
    case 'shutdown':
      if (r.poweredOff) return RUN_EXIT.HALTED;
      io.err(`tsvmm run: guest shutdown: ${r.detail}${rip}`);
      return RUN_EXIT.SHUTDOWN;
    case 'timeout':
      io.err(`tsvmm run: timeout: ${r.detail}${rip}`);
      return RUN_EXIT.TIMEOUT;
    case 'backend-error':
      io.err(`tsvmm run: backend error (not a guest result): ${r.detail}${rip}`);
      return RUN_EXIT.BACKEND_ERROR;
    case 'host-error':
      io.err(`tsvmm run: ${r.detail}`);
      return RUN_EXIT.HOST_ERROR;
  }
}

export const command: Command = {
  summary: 'boot a Linux bzImage, multiboot or flat image on the KVM or interpreter backend',
  run: (args, io) => runCommand(args, io),
};
