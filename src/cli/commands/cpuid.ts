// `tsvmm cpuid show|explain|diff|baseline|check`: the CPUID policy engine (src/cpuid/, spec
// shared/spec/kvm-contract.md §5) on the command line. Human output by default, --json for machines.
// Exit status: 0 ok, 1 refused / incompatible / bad input file, 2 usage error.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { writeFileSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo, type Command } from '../io.ts';
import { TsvmmError } from '../../util/result.ts';
import type { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import { formatBitLocation } from '../../arch/x86/cpuid/types.ts';
import { vendorOf } from '../../arch/x86/cpuid/vendor.ts';
import { brandString, familyModelStepping } from '../../arch/x86/cpuid/index.ts';
import { allFeatures, requireFeature } from '../../cpuid/features.ts';
import { captureHost, loadHostDump, type HostCapture } from '../../cpuid/host.ts';
import { readDumpFile } from '../../cpuid/dumps/detect.ts';
import { writeCpuidR } from '../../cpuid/dumps/cpuid-r.ts';
import { writeAida64 } from '../../cpuid/dumps/aida64.ts';
import { writeKvmJson } from '../../cpuid/dumps/kvm-json.ts';
import { buildGuestCpuid, type GuestCpuid } from '../../cpuid/pipeline.ts';
import { computeBaseline } from '../../cpuid/baseline.ts';
import { comparePolicies, type PolicyInput } from '../../cpuid/compare.ts';
import { looksLikePolicy, policyAsModel, policyToJson, readPolicy } from '../../cpuid/policy.ts';
import type { CpuModel } from '../../cpuid/models/model.ts';
import { describeReason, type BackendName } from '../../cpuid/reasons.ts';
import { modelNames } from '../../cpuid/models/index.ts';
import { contractLint } from '../../contract/lint.ts';

type Values = Record<string, string | boolean | string[] | undefined>;

class UsageError extends Error {}

const HOST_OPTS = {
  host: { type: 'boolean' },
  'host-dump': { type: 'string' },
  'dump-cpu': { type: 'string' },
  backend: { type: 'string' },
  'kvm-supported': { type: 'string' },
  cpu: { type: 'string' },
  vcpus: { type: 'string' },
  'no-tdp': { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

const HOST_HELP = `host:
  --host                 this machine (CPU 0 via \`cpuid -r -1\`; the default)
  --host-dump FILE       a dump: \`cpuid -r\`, AIDA64/InstLatx64 text, kvm_cpuid2 JSON or /proc/cpuinfo
  --dump-cpu N           which logical CPU of a multi-CPU dump (default 0; hybrid parts differ)
policy:
  --backend kvm|interp   which backend's supported set (default kvm)
  --kvm-supported FILE   the real KVM_GET_SUPPORTED_CPUID result (kvm_cpuid2 JSON) instead of the model
  --cpu SPEC             host | MODEL | policy:FILE (a baseline), then +feat, -feat, force:feat
                         (or +feat!), comma-separated
                         models: ${modelNames().join(', ')}
  --vcpus N              vCPU count for the topology leaves (default 1)
  --no-tdp               model KVM without EPT/NPT (shadow paging quirks)
  --json                 machine-readable output`;

const HELP: Record<string, string> = {
  show: `usage: tsvmm cpuid show [--host | --host-dump FILE] [--cpu SPEC] [options]
Decode a CPUID table by feature name. Without --cpu: the host; with --cpu: the normalized guest.
  --stage host|supported|guest|normalized   which pipeline stage to print
  --raw                  also print the raw leaves
  --format cpuid-r|aida64|kvm-json   print the table in that dump format instead
${HOST_HELP}`,
  explain: `usage: tsvmm cpuid explain FEATURE [--host | --host-dump FILE] [--cpu SPEC] [--policy FILE] [options]
The full reason chain for one feature: host / backend / erratum / dependency / model / baseline / edit / forced.
  --policy FILE          explain a baseline policy (from \`tsvmm cpuid baseline --json\`) instead
${HOST_HELP}`,
  diff: `usage: tsvmm cpuid diff A B [--backend kvm|interp] [--json]
Compare two policies or dumps for migration from A to B: features lost and gained, the first
incompatibility and why. A and B are policy JSON files (from \`tsvmm cpuid baseline\`) or host dumps
in any supported format; a dump stands for the guest policy \`host\` on that host and backend.
Exit 0 when a guest of A can run on B, 1 when not.`,
  baseline: `usage: tsvmm cpuid baseline DUMP... [--vendor intel|amd] [--backend kvm|interp] [--json] [-o FILE]
The largest migration-safe guest policy every host can offer, with a reason for every hidden bit.
Vendor rule: hosts of mixed vendors are refused unless --vendor picks the guest vendor; then only
vendor-neutral bits common to all hosts are kept and the other vendor's bits are hidden.
  -o, --output FILE      write the policy JSON to FILE`,
  check: `usage: tsvmm cpuid check --cpu SPEC [--host | --host-dump FILE] [options]
Build the guest CPUID for SPEC and report refusals (exit 1), dropped dependants and forced bits.
${HOST_HELP}`,
};

const TOP_HELP = `usage: tsvmm cpuid <show|explain|diff|baseline|check> [options]
  show       decode a host or guest CPUID by feature name
  explain    why a feature is or is not offered (the full reason chain)
  diff       compare two policies/dumps for migration
  baseline   the largest migration-safe policy for N host dumps
  check      validate a --cpu spec against the host and backend
tsvmm cpuid <subcommand> --help for options.`;

function parse(
  args: string[],
  extra: ParseArgsConfig['options'] = {},
): { values: Values; positionals: string[] } {
  try {
    const r = parseArgs({ args, options: { ...HOST_OPTS, ...extra }, allowPositionals: true, strict: true });
    return { values: r.values as Values, positionals: r.positionals };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

function str(v: Values, k: string): string | undefined {
  const x = v[k];
  return typeof x === 'string' ? x : undefined;
}

function intOpt(v: Values, k: string, lo: number, hi: number): number | undefined {
  const s = str(v, k);
  if (s === undefined) return undefined;
  if (!/^\d+$/.test(s) || Number(s) < lo || Number(s) > hi)
    throw new UsageError(`--${k} must be an integer ${lo}..${hi}, got '${s}'`);
  return Number(s);
}

function backendOf(v: Values): BackendName {
  const b = str(v, 'backend') ?? 'kvm';
  if (b !== 'kvm' && b !== 'interp') throw new UsageError(`--backend must be kvm or interp, got '${b}'`);
  return b;
}

function hostOf(v: Values): HostCapture {
  const dump = str(v, 'host-dump');
  if (dump && v.host) throw new UsageError('--host and --host-dump are exclusive');
  const cpu = intOpt(v, 'dump-cpu', 0, 4095);
  if (dump) return loadHostDump(dump, cpu === undefined ? {} : { cpu });
  return captureHost();
}

/** `policy:FILE` as the --cpu base: the policy becomes a model named after the spec's base. */
function policyModels(spec: string): CpuModel[] {
  const base = spec.split(',')[0]!.trim();
  if (!base.toLowerCase().startsWith('policy:')) return [];
  const file = base.slice('policy:'.length);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new TsvmmError(
      'CPUID_DUMP_READ',
      `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  return [policyAsModel(base, readPolicy(text, file).policy)];
}

function pipeline(v: Values, host: HostCapture, cpu?: string): GuestCpuid {
  const ks = str(v, 'kvm-supported');
  const spec = cpu ?? str(v, 'cpu') ?? 'host';
  const backend = backendOf(v);
  if (ks && backend !== 'kvm') throw new UsageError('--kvm-supported only applies to --backend kvm');
  return buildGuestCpuid({
    host: host.dump.table,
    backend,
    ...(ks ? { kvmSupported: readDumpFile(ks).table } : {}),
    ...(host.osDisabled ? { hostOsDisabled: host.osDisabled } : {}),
    cpu: spec,
    extraModels: policyModels(spec),
    vcpus: intOpt(v, 'vcpus', 1, 255) ?? 1,
    tdp: !v['no-tdp'],
  });
}

const hex = (n: number): string => '0x' + (n >>> 0).toString(16);

/** Feature names set in a table, grouped by register location. */
function decode(t: CpuidTable): { where: string; names: string[] }[] {
  const groups = new Map<string, string[]>();
  for (const f of allFeatures()) {
    if (!t.hasBit(f)) continue;
    const where = formatBitLocation({ ...f, bit: 0 }).replace(/\[0\]$/, '');
    const l = groups.get(where) ?? [];
    l.push(f.aliases?.length ? `${f.name}(${f.aliases[0]})` : f.name);
    groups.set(where, l);
  }
  return [...groups].map(([where, names]) => ({ where, names }));
}

function identity(t: CpuidTable): string[] {
  const fms = familyModelStepping(t);
  const brand = brandString(t).trim();
  const phys = t.maxExtendedLeaf() >= 0x80000008 ? t.reg(0x80000008, 0, 'eax') & 0xff : 36;
  const virt = t.maxExtendedLeaf() >= 0x80000008 ? (t.reg(0x80000008, 0, 'eax') >>> 8) & 0xff : 48;
  return [
    `vendor ${JSON.stringify(t.vendorString())} (${vendorOf(t)}), family ${hex(fms.family)} model ${hex(fms.model)} stepping ${fms.stepping}${brand ? `, "${brand}"` : ''}`,
    `max leaves ${hex(t.maxBasicLeaf())} / ${hex(t.maxExtendedLeaf())}; MAXPHYADDR ${phys}, linear ${virt}; XCR0 ${hex(t.reg(0xd, 0, 'eax'))}, XSS ${hex(t.reg(0xd, 1, 'ecx'))}`,
  ];
}

function featureList(t: CpuidTable): string[] {
  return allFeatures()
    .filter((f) => t.hasBit(f))
    .map((f) => f.name);
}

function refusalLines(g: GuestCpuid): string[] {
  const out: string[] = [];
  for (const r of g.refusals) {
    out.push(`REFUSED ${r.message}`);
    for (const x of r.reasons) out.push(`    because ${describeReason(x)}`);
  }
  for (const u of g.unsafe) {
    out.push(
      `UNSAFE ${u.edit}: ${u.feature} forced over: ${u.overrides.map(describeReason).join('; ') || 'nothing'}`,
    );
  }
  return out;
}

async function show(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parse(args, {
    stage: { type: 'string' },
    raw: { type: 'boolean' },
    format: { type: 'string' },
  });
  if (v.help) return (io.out(HELP.show!), EXIT_OK);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const stage = str(v, 'stage') ?? (str(v, 'cpu') ? 'normalized' : 'host');
  if (!['host', 'supported', 'guest', 'normalized'].includes(stage))
    throw new UsageError(`--stage must be host, supported, guest or normalized, got '${stage}'`);
  const format = str(v, 'format');
  if (format && !['cpuid-r', 'aida64', 'kvm-json'].includes(format))
    throw new UsageError(`--format must be cpuid-r, aida64 or kvm-json, got '${format}'`);
  const host = hostOf(v);
  let table = host.dump.table;
  let g: GuestCpuid | undefined;
  if (stage !== 'host') {
    g = pipeline(v, host);
    table =
      stage === 'supported' ? g.stages.supported.table : stage === 'guest' ? g.stages.guest.table : g.table;
  }
  if (format) {
    io.out(
      format === 'cpuid-r'
        ? writeCpuidR(table)
        : format === 'aida64'
          ? writeAida64(table)
          : writeKvmJson(table),
    );
    return g && !g.ok ? EXIT_FAILURE : EXIT_OK;
  }
  const d = host.dump;
  if (v.json) {
    io.out(
      JSON.stringify(
        {
          source: host.label,
          format: d.format,
          cpu: d.cpu,
          cpuCount: d.cpuCount,
          distinctTables: d.distinctTables,
          lossy: d.lossy,
          stage,
          vendor: vendorOf(table),
          familyModelStepping: familyModelStepping(table),
          brand: brandString(table).trim(),
          features: featureList(table),
          ...(g ? { ok: g.ok, refusals: g.refusals, unsafe: g.unsafe, notes: g.notes } : { notes: d.notes }),
          entries: table.entries(),
        },
        null,
        2,
      ),
    );
    return g && !g.ok ? EXIT_FAILURE : EXIT_OK;
  }
  const lines: string[] = [];
  lines.push(
    `CPUID ${stage === 'host' ? 'of' : `${stage} (${g!.backend}, --cpu ${g!.spec.text}) for`} ${host.label}: ${d.format}, CPU ${d.cpu} of ${d.cpuCount}${d.cpuCount > 1 ? `, ${d.distinctTables} distinct table(s)` : ''}${d.lossy ? ' (LOSSY: flags only)' : ''}`,
  );
  lines.push(...identity(table).map((l) => '  ' + l));
  const groups = decode(table);
  lines.push(`features (${featureList(table).length}):`);
  for (const gr of groups) lines.push(`  ${gr.where.padEnd(28)} ${gr.names.join(' ')}`);
  if (g) {
    lines.push(...refusalLines(g));
    for (const n of g.notes) lines.push(`note: ${n}`);
  } else {
    for (const n of d.notes) lines.push(`note: ${n}`);
    if (host.osDisabled?.size)
      lines.push(`note: the host kernel disabled: ${[...host.osDisabled].join(' ')}`);
  }
  if (v.raw) lines.push('raw:', writeCpuidR(table).trimEnd());
  io.out(lines.join('\n'));
  return g && !g.ok ? EXIT_FAILURE : EXIT_OK;
}

async function explain(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parse(args, { policy: { type: 'string' } });
  if (v.help) return (io.out(HELP.explain!), EXIT_OK);
  if (positionals.length !== 1) throw new UsageError('explain takes exactly one FEATURE');
  const f = requireFeature(positionals[0]!);
  const policyFile = str(v, 'policy');
  if (policyFile) {
    const { policy, table } = readPolicy(readFileSync(policyFile, 'utf8'), policyFile);
    const offered = table.hasBit(f);
    const hidden = policy.hidden[f.name] ?? [];
    if (v.json)
      io.out(JSON.stringify({ feature: f.name, location: formatBitLocation(f), offered, hidden }, null, 2));
    else {
      io.out(
        [
          `${f.name} ${formatBitLocation(f)}: ${f.meaning}`,
          offered
            ? `  offered by the policy (hosts: ${policy.hosts.join(', ')})`
            : hidden.length
              ? `  hidden by the policy:\n${hidden.map((h) => `    - ${h.text}`).join('\n')}`
              : `  not offered: no host of the policy has it`,
        ].join('\n'),
      );
    }
    return EXIT_OK;
  }
  const host = hostOf(v);
  const g = pipeline(v, host);
  const x = g.explain(f.name);
  if (v.json) {
    io.out(JSON.stringify({ ...x, chainText: x.chain.map(describeReason) }, null, 2));
    return EXIT_OK;
  }
  const lines = [`${x.feature} ${x.location}: ${x.meaning}`, `  ${x.summary}`];
  for (const s of x.steps) {
    const rs = s.reasons.map(describeReason);
    lines.push(
      `  ${s.stage.padEnd(10)} ${s.present ? 'present' : 'absent '}${s.action ? ` (${s.action})` : ''}${rs.length ? ': ' + rs.join('; ') : ''}`,
    );
  }
  io.out(lines.join('\n'));
  return EXIT_OK;
}

/** A policy file as is; a dump as the guest `host` policy it yields on the chosen backend. */
function loadPolicyInput(path: string, backend: BackendName): PolicyInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TsvmmError(
      'CPUID_DUMP_READ',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  if (looksLikePolicy(text)) {
    const { policy, table } = readPolicy(text, path);
    return { label: basename(path), table, policy };
  }
  const host = readDumpFile(path).table;
  return { label: basename(path), table: buildGuestCpuid({ host, backend, cpu: 'host' }).table };
}

async function diff(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parse(args);
  if (v.help) return (io.out(HELP.diff!), EXIT_OK);
  if (positionals.length !== 2) throw new UsageError('diff takes two files: A B');
  const backend = backendOf(v);
  const c = comparePolicies(
    loadPolicyInput(positionals[0]!, backend),
    loadPolicyInput(positionals[1]!, backend),
  );
  if (v.json) io.out(JSON.stringify(c, null, 2));
  else {
    const lines = [
      `${c.from} → ${c.to}: ${c.compatible ? 'compatible (a guest of A runs on B)' : 'INCOMPATIBLE'}`,
    ];
    lines.push(`  lost (${c.lost.length}): ${c.lost.join(' ') || '-'}`);
    lines.push(`  gained (${c.gained.length}): ${c.gained.join(' ') || '-'}`);
    for (const fl of c.fields)
      lines.push(`  ${fl.field}: ${fl.from} → ${fl.to}${fl.compatible ? '' : '  (incompatible)'}`);
    if (c.firstIncompatibility)
      lines.push(`first incompatibility: ${c.firstIncompatibility.what}: ${c.firstIncompatibility.why}`);
    io.out(lines.join('\n'));
  }
  return c.compatible ? EXIT_OK : EXIT_FAILURE;
}

async function baseline(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parse(args, {
    vendor: { type: 'string' },
    output: { type: 'string', short: 'o' },
  });
  if (v.help) return (io.out(HELP.baseline!), EXIT_OK);
  if (positionals.length === 0) throw new UsageError('baseline takes one or more host dump files');
  const vendor = str(v, 'vendor');
  if (vendor !== undefined && vendor !== 'intel' && vendor !== 'amd')
    throw new UsageError(`--vendor must be intel or amd, got '${vendor}'`);
  const cpu = intOpt(v, 'dump-cpu', 0, 4095);
  const hosts = positionals.map((p) => ({
    label: basename(p),
    table: readDumpFile(p, cpu === undefined ? {} : { cpu }).table,
  }));
  const r = computeBaseline(hosts, {
    backend: backendOf(v),
    ...(vendor ? { vendor } : {}),
    tdp: !v['no-tdp'],
  });
  const json = policyToJson(r.policy);
  const out = str(v, 'output');
  if (out) writeFileSync(out, json);
  if (v.json) io.out(json);
  else {
    const p = r.policy;
    const lines = [
      `baseline of ${p.hosts.length} host(s) for the ${p.backend} backend, vendor ${p.vendor}: ${p.features.length} features offered, ${Object.keys(p.hidden).length} hidden`,
      `  MAXPHYADDR ${p.fields.physAddrBits}, linear ${p.fields.virtAddrBits}, XCR0 ${p.fields.xcr0}, XSS ${p.fields.xss}, max leaves ${p.fields.maxBasicLeaf} / ${p.fields.maxExtendedLeaf}`,
      'hidden:',
      ...Object.entries(p.hidden).map(([k, hs]) => `  ${k.padEnd(22)} ${hs.map((h) => h.text).join('; ')}`),
      ...p.notes.map((n) => `note: ${n}`),
    ];
    if (out) lines.push(`policy written to ${out}`);
    io.out(lines.join('\n'));
  }
  return EXIT_OK;
}

async function check(args: string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parse(args);
  if (v.help) return (io.out(HELP.check!), EXIT_OK);
  if (positionals.length) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  const spec = str(v, 'cpu');
  if (!spec) throw new UsageError('check needs --cpu SPEC');
  const g = pipeline(v, hostOf(v), spec);
  const dropped = g.stages.guest.changes.filter(
    (c) => c.action === 'hidden' && c.reason.kind === 'dependency',
  );
  // The contract's consistency checks over the guest table (NO_LMSL, leaf 0xD sizes, address widths,
  // VMX controls vs CPUID, dependencies); an error-severity finding fails the check.
  const contract = contractLint(g.table);
  const ok = g.ok && !contract.some((f) => f.severity === 'error');
  if (v.json) {
    io.out(
      JSON.stringify(
        {
          ok,
          cpu: g.spec.text,
          backend: g.backend,
          refusals: g.refusals,
          unsafe: g.unsafe,
          dropped: dropped.map((c) => ({ feature: c.feature, reason: describeReason(c.reason) })),
          notes: g.notes,
          features: featureList(g.table),
          contract,
        },
        null,
        2,
      ),
    );
  } else {
    const lines = [
      `--cpu ${g.spec.text} (${g.backend}): ${ok ? 'OK' : 'REFUSED'}, ${featureList(g.table).length} features`,
    ];
    lines.push(...refusalLines(g));
    for (const c of dropped) lines.push(`dropped ${c.feature}: ${describeReason(c.reason)}`);
    for (const f of contract) lines.push(`contract ${f.severity} [${f.rule}]: ${f.reason}`);
    for (const n of g.notes) lines.push(`note: ${n}`);
    io.out(lines.join('\n'));
  }
  return ok ? EXIT_OK : EXIT_FAILURE;
}

const SUBCOMMANDS: Record<string, (args: string[], io: CliIo) => Promise<number>> = {
  show,
  explain,
  diff,
  baseline,
  check,
};

export const command: Command = {
  summary: 'CPUID policy: show, explain, diff, baseline, check',
  async run(args: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
      io.out(TOP_HELP);
      return sub ? EXIT_OK : EXIT_USAGE;
    }
    const fn = SUBCOMMANDS[sub];
    if (!fn) {
      io.err(`tsvmm cpuid: unknown subcommand '${sub}'\n${TOP_HELP}`);
      return EXIT_USAGE;
    }
    try {
      return await fn(rest, io);
    } catch (e) {
      if (e instanceof UsageError) {
        io.err(`tsvmm cpuid ${sub}: ${e.message}\n${HELP[sub]}`);
        return EXIT_USAGE;
      }
      throw e;
    }
  },
};
