// `tsvmm contract`: the architectural contract from the command line (src/contract; spec
// shared/spec/kvm-contract.md §1-4, §7): explain a CR0/CR4/EFER/XCR0/XSS value bit by bit under a
// CPUID policy, and print the nested VMX capability MSRs with the CPUID bit behind every control.

import type { CliIo, Command } from '../io.ts';
import { EXIT_OK, EXIT_USAGE } from '../io.ts';
import type { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import { readDumpFile } from '../../cpuid/dumps/detect.ts';
import { EXPLAINABLE, explainValue } from '../../contract/explain.ts';
import { thisMachineKvmSupported } from '../../contract/fixtures/kvm-json.ts';
import {
  MODE_DIFFERENCES,
  deriveGuestModel,
  deriveVmxMsrs,
  type ContractMode,
} from '../../contract/index.ts';
import { VmxMsr } from '../../arch/x86/vmx/msrs.ts';
import { parseU64 } from '../../util/u64.ts';

const HELP = `usage:
  tsvmm contract explain <${EXPLAINABLE.join('|')}> VALUE [policy] [--mode kvmExact|architectural] [--json]
      decode VALUE bit by bit and say which bits this policy accepts, drops or refuses, and why
  tsvmm contract vmx-msrs [policy] [--mode ...] [--json]
      print the nested VMX capability MSRs (IA32_VMX_BASIC..VMFUNC) derived from the policy, with
      the CPUID bit behind every control
  tsvmm contract modes [--json]
      list where the kvmExact and architectural rule sets differ

policy (default: the embedded KVM_GET_SUPPORTED_CPUID of the build machine):
  --cpu-dump FILE     a CPUID dump (kvm_cpuid2 JSON, cpuid -r, AIDA64)
  --kvm-supported     the embedded KVM_GET_SUPPORTED_CPUID table`;

interface Parsed {
  positional: string[];
  json: boolean;
  mode: ContractMode;
  dump?: string;
}

class UsageError extends Error {}

function parse(args: string[]): Parsed {
  const p: Parsed = { positional: [], json: false, mode: 'kvmExact' };
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--json') p.json = true;
    else if (a === '--kvm-supported') p.dump = undefined;
    else if (a === '--cpu-dump' || a === '--mode') {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`${a} needs a value`);
      if (a === '--cpu-dump') p.dump = v;
      else if (v === 'kvmExact' || v === 'architectural') p.mode = v;
      else throw new UsageError(`--mode must be kvmExact or architectural, got '${v}'`);
    } else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else p.positional.push(a);
  }
  return p;
}

function loadTable(p: Parsed): CpuidTable {
  return p.dump === undefined ? thisMachineKvmSupported() : readDumpFile(p.dump).table;
}

function hex(v: bigint): string {
  return '0x' + v.toString(16);
}

function jsonOut(io: CliIo, v: unknown): void {
  io.out(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? hex(x) : x), 2));
}

function explain(p: Parsed, io: CliIo): number {
  const [, reg, text] = p.positional;
  if (!reg || !text || p.positional.length > 3) throw new UsageError('explain needs REGISTER and VALUE');
  if (!(EXPLAINABLE as readonly string[]).includes(reg.toLowerCase()))
    throw new UsageError(`unknown register '${reg}' (${EXPLAINABLE.join(', ')})`);
  const value = parseU64(text);
  if (value === undefined)
    throw new UsageError(`VALUE '${text}' is not a 64-bit number (decimal, 0x-hex or 0b-binary)`);
  const model = deriveGuestModel(loadTable(p), { mode: p.mode });
  const e = explainValue(model, reg.toLowerCase(), value);
  if (p.json) {
    jsonOut(io, e);
    return EXIT_OK;
  }
  const lines = [
    `${e.register.toUpperCase()} = ${hex(e.value)} under ${e.mode} (${p.dump ?? 'embedded KVM_GET_SUPPORTED_CPUID'})`,
  ];
  if (e.bits.length === 0) lines.push('  no bits set');
  for (const b of e.bits)
    lines.push(
      `  bit ${String(b.bit).padStart(2)} ${b.name.padEnd(12)} ${b.status.padEnd(7)}${b.reason ? ' ' + b.reason : ''}`,
    );
  const w = e.asGuestWrite;
  lines.push(
    w.ok
      ? `as a guest write from RESET: accepted, commits ${hex(w.effects.value)}${w.effects.mmuReset ? ', MMU reset' : ''}${w.effects.tlbFlush !== 'none' ? `, TLB flush ${w.effects.tlbFlush}` : ''}${w.effects.cpuidDirty ? ', CPUID dirty' : ''}`
      : `as a guest write from RESET: refused with #${w.fault} [${w.rule}]: ${w.reason}`,
  );
  io.out(lines.join('\n'));
  return EXIT_OK;
}

function vmxMsrs(p: Parsed, io: CliIo): number {
  if (p.positional.length > 1) throw new UsageError('vmx-msrs takes no positional arguments');
  const model = deriveGuestModel(loadTable(p), { mode: p.mode });
  const d = deriveVmxMsrs(model);
  if (p.json) {
    jsonOut(io, d);
    return EXIT_OK;
  }
  const lines = [
    `nested VMX capability MSRs (${p.mode}); guest ${d.available ? 'has' : 'does NOT have'} VMX, so guest RDMSR ${d.available ? 'returns these' : 'raises #GP'}`,
  ];
  lines.push('  MSR    name                   KVM maximum         KVM per-vCPU        tsvmm policy');
  for (const [name, index] of Object.entries(VmxMsr) as [keyof typeof VmxMsr, number][])
    lines.push(
      `  ${hex(BigInt(index)).padEnd(6)} ${name.padEnd(22)} ${hex(d.kvmMax[name]).padEnd(19)} ${hex(d.kvm[name]).padEnd(19)} ${hex(d.policy[name])}`,
    );
  lines.push('', 'controls tied to CPUID (allowed-1 after policy):');
  for (const c of d.controls.filter((x) => x.requires))
    lines.push(
      `  ${c.msr}.${c.name} (bit ${c.bit}): ${c.policyAllows ? 'allowed' : c.kvmAllows ? 'CLEARED' : 'not offered by KVM'} — ${c.cpuid}${c.removedBecause ? ` (${c.removedBecause})` : ''}`,
    );
  lines.push(
    '',
    `controls with no CPUID bit behind them: ${d.controls
      .filter((x) => !x.requires && x.policyAllows)
      .map((x) => `${x.msr}.${x.name}`)
      .join(', ')}`,
  );
  io.out(lines.join('\n'));
  return EXIT_OK;
}

export const command: Command = {
  summary: 'explain CR0/CR4/EFER/XCR0/XSS values and derive nested VMX MSRs under a CPUID policy',
  async run(args: string[], io: CliIo): Promise<number> {
    if (args.length === 0 || args.includes('--help') || args.includes('-h')) {
      io.out(HELP);
      return args.length === 0 ? EXIT_USAGE : EXIT_OK;
    }
    try {
      const p = parse(args);
      switch (p.positional[0]) {
        case 'explain':
          return explain(p, io);
        case 'vmx-msrs':
          return vmxMsrs(p, io);
        case 'modes':
          if (p.json) jsonOut(io, MODE_DIFFERENCES);
          else
            io.out(
              MODE_DIFFERENCES.map(
                (d) =>
                  `${d.rule}\n  kvmExact:      ${d.kvm}\n  architectural: ${d.architectural}\n  source:        ${d.source}`,
              ).join('\n'),
            );
          return EXIT_OK;
        default:
          throw new UsageError(`unknown subcommand '${p.positional[0] ?? ''}' (explain, vmx-msrs, modes)`);
      }
    } catch (e) {
      if (e instanceof UsageError) {
        io.err(`tsvmm contract: ${e.message}\n${HELP}`);
        return EXIT_USAGE;
      }
      throw e;
    }
  },
};
