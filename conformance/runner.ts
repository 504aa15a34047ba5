// The conformance runner, first cut (issue 4 item 7): run a guest program (build/guests/<name>.elf) under
// a CPU policy on a backend, parse its report (report.ts), and judge the cell. A run that the backend
// could not finish (KVM internal error, e.g. an emulation failure under PVM) is "oracle unavailable",
// never a pass or a fail: when the guest had announced the check (TSVMM-TRY), the runner records it,
// re-runs the program with "tsvmm.skip=<check>" on the command line, and goes on. FAIL lines that
// match a recorded deviation (deviations.ts) are shown as DEVIATION; anything else that fails, fails.
// It also compares three CPUID views: the requested policy, the vCPU's table (KVM_GET_CPUID2) and what
// the guest's CPUID instruction returned.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CpuidTable, type CpuidEntry } from '../src/arch/x86/cpuid/table.ts';
import type { CpuidReg } from '../src/arch/x86/cpuid/types.ts';
import type { Backend } from '../src/vcpu/backend.ts';
import type { Machine } from '../src/machine/machine.ts';
import { TsvmmError } from '../src/util/result.ts';
import {
  CONFORMANCE_DEVIATIONS,
  CPUID_TABLE_DEVIATION,
  findDeviation,
  knownUnavailable,
  type ConformanceDeviation,
  type HostFlavour,
} from './deviations.ts';
import { compareWithContract, resolveContractExpectations, type ContractComparison } from './contract-check.ts';
import { expectedExitCode, parseReport, type GuestCpuidLeaf, type ParsedReport, type ReportLine } from './report.ts';

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const GUESTS_DIR = join(REPO_ROOT, 'build/guests');
export const PROGRAMS_DIR = join(REPO_ROOT, 'conformance/programs');

export type GuestEntry = 'long64' | 'multiboot32';

/** The programs whose sources exist (conformance/programs/*.c), sorted. */
export function listPrograms(dir = PROGRAMS_DIR): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.c'))
    .map((f) => f.slice(0, -2))
    .sort();
}

/** The built image of a program, or a TsvmmError naming what to run when it is missing. */
export function loadGuestImage(program: string, dir = GUESTS_DIR): Uint8Array {
  if (!/^[A-Za-z0-9_-]+$/.test(program)) {
    throw new TsvmmError('CONFORMANCE_BAD_PROGRAM', `'${program}' is not a conformance program name`);
  }
  const path = join(dir, `${program}.elf`);
  if (!existsSync(path)) {
    throw new TsvmmError('CONFORMANCE_NOT_BUILT', `${path} does not exist: run \`npm run build:guests\` first`);
  }
  return new Uint8Array(readFileSync(path));
}

// ---- policies ---------------------------------------------------------------------------------

export interface Policy {
  readonly name: string;
  /** how it was made, e.g. "host,-smep,..." through the policy engine, or "supported minus bits" */
  readonly description: string;
  readonly cpuid: CpuidTable;
}

/** Features the "minus" policy clears (the brief's set, plus bits that gate EFER/MSR rules). */
export const MINUS_FEATURES = ['smep', 'smap', 'pku', 'xsave', 'umip', 'fsgsbase', 'pcid', 'nx', 'fxsr_opt', 'rdtscp'];

interface BitLoc {
  leaf: number;
  subleaf?: number;
  reg: CpuidReg;
  bit: number;
}
const FALLBACK_BITS: Record<string, BitLoc> = {
  smep: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 7 },
  smap: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 20 },
  pku: { leaf: 7, subleaf: 0, reg: 'ecx', bit: 3 },
  xsave: { leaf: 1, reg: 'ecx', bit: 26 },
  umip: { leaf: 7, subleaf: 0, reg: 'ecx', bit: 2 },
  fsgsbase: { leaf: 7, subleaf: 0, reg: 'ebx', bit: 0 },
  pcid: { leaf: 1, reg: 'ecx', bit: 17 },
  nx: { leaf: 0x80000001, reg: 'edx', bit: 20 },
  fxsr_opt: { leaf: 0x80000001, reg: 'edx', bit: 25 },
  rdtscp: { leaf: 0x80000001, reg: 'edx', bit: 27 },
};

/**
 * Two policies from a backend's supported CPUID without the policy engine: "full" (as supported) and
 * "minus" (MINUS_FEATURES cleared with CpuidTable.setBit). Leaf 7 and 0xD entries are indexed.
 */
export function derivePoliciesFromSupported(supported: readonly CpuidEntry[]): Policy[] {
  const full = CpuidTable.from(supported);
  const minus = full.clone();
  for (const f of MINUS_FEATURES) {
    const loc = FALLBACK_BITS[f]!;
    if (minus.get(loc.leaf, loc.subleaf ?? 0)) minus.setBit(loc, false);
  }
  return [
    { name: 'full', description: 'KVM_GET_SUPPORTED_CPUID as is', cpuid: full },
    { name: 'minus', description: `supported minus ${MINUS_FEATURES.join(',')} (setBit)`, cpuid: minus },
  ];
}

/**
 * Policies through the CPUID policy engine (src/cpuid): "full" = host, "minus" = host minus
 * MINUS_FEATURES, and the named model x86-64-v2. Falls back to derivePoliciesFromSupported when the
 * engine or the host capture is unavailable (the reason is in each description).
 */
export async function derivePolicies(backend: Backend): Promise<Policy[]> {
  const supported = backend.supportedCpuid();
  try {
    const { captureHost } = await import('../src/cpuid/host.ts');
    const { buildGuestCpuid } = await import('../src/cpuid/pipeline.ts');
    const host = captureHost();
    const specs: [string, string][] = [
      ['full', 'host'],
      ['minus', `host,${MINUS_FEATURES.map((f) => `-${f}`).join(',')}`],
      ['x86-64-v2', 'x86-64-v2'],
    ];
    return specs.map(([name, cpu]) => {
      const g = buildGuestCpuid({
        host: host.dump.table,
        backend: backend.name,
        ...(backend.name === 'kvm' ? { kvmSupported: CpuidTable.from(supported) } : {}),
        ...(host.osDisabled ? { hostOsDisabled: host.osDisabled } : {}),
        cpu,
      });
      const refused = g.refusals.length ? ` (${g.refusals.length} features refused by the backend)` : '';
      return { name, description: `policy engine --cpu ${cpu}${refused}`, cpuid: g.table };
    });
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    return derivePoliciesFromSupported(supported).map((p) => ({
      ...p,
      description: `${p.description} (policy engine unavailable: ${why})`,
    }));
  }
}

// ---- host flavour -------------------------------------------------------------------------------

/** Which KVM module serves /dev/kvm here (from /sys/module). */
export function detectHostFlavour(sysModule = '/sys/module'): HostFlavour {
  for (const m of ['kvm_pvm', 'kvm_intel', 'kvm_amd'] as const) if (existsSync(join(sysModule, m))) return m;
  return existsSync(join(sysModule, 'kvm')) ? 'kvm_unknown' : 'none';
}

// ---- executing one run --------------------------------------------------------------------------

export interface GuestRunRequest {
  readonly program: string;
  readonly image: Uint8Array;
  readonly cpuid: CpuidTable;
  readonly cmdline: string;
  readonly entry: GuestEntry;
  readonly timeoutMs: number;
}

export interface GuestRunResult {
  readonly outcome: 'debug-exit' | 'shutdown' | 'hlt' | 'timeout' | 'backend-error' | 'host-error';
  readonly exitCode?: number;
  readonly serial: string;
  readonly detail: string;
  readonly insnBytes?: Uint8Array;
  /** the vCPU's CPUID table after the run (KVM_GET_CPUID2), when the executor could read it */
  readonly effectiveCpuid?: readonly CpuidEntry[];
  /** the backend's MSR index list (KVM_GET_MSR_INDEX_LIST) */
  readonly advertisedMsrs?: readonly number[];
  /** whether the VM has an in-kernel local APIC (KVM_CREATE_IRQCHIP) */
  readonly lapicInKernel?: boolean;
}

/** Runs one guest once. The runner never knows which backend or machine is behind it. */
export type GuestExecutor = (req: GuestRunRequest) => Promise<GuestRunResult>;

/** An executor on the tsvmm machine (src/machine) with the given backend. */
export function machineExecutor(backend: Backend, memoryBytes = 64 << 20): GuestExecutor {
  return async (req) => {
    const { createMachine } = await import('../src/machine/machine.ts');
    let machine: Machine;
    try {
      machine = createMachine({ backend, memoryBytes, cpuid: req.cpuid.entries(), serial: { out: () => {} } });
    } catch (e) {
      return { outcome: 'host-error', serial: '', detail: `creating the machine failed: ${(e as Error).message}` };
    }
    try {
      machine.load({ kind: 'multiboot', image: req.image, name: req.program, cmdline: req.cmdline, entry: req.entry });
      const r = await machine.run({ timeoutMs: req.timeoutMs });
      let effectiveCpuid: CpuidEntry[] | undefined;
      try {
        effectiveCpuid = machine.vcpu.getCpuid();
      } catch {
        effectiveCpuid = undefined;
      }
      return {
        outcome: r.outcome,
        serial: r.serial,
        detail: r.detail,
        ...(r.exitCode !== undefined ? { exitCode: r.exitCode } : {}),
        ...(r.insnBytes ? { insnBytes: r.insnBytes } : {}),
        ...(effectiveCpuid ? { effectiveCpuid } : {}),
        // tsvmm's machine emulates the local APIC in TypeScript and never calls KVM_CREATE_IRQCHIP
        ...(backend.name === 'kvm' ? { advertisedMsrs: backend.msrIndexList(), lapicInKernel: false } : {}),
      };
    } catch (e) {
      return { outcome: 'host-error', serial: '', detail: `loading or running ${req.program} failed: ${(e as Error).message}` };
    } finally {
      machine.destroy();
    }
  };
}

// ---- judging a cell ------------------------------------------------------------------------------

export type LineStatus = 'pass' | 'fail' | 'skip' | 'deviation' | 'unavailable';

export interface CellLine {
  readonly status: LineStatus;
  readonly line: ReportLine;
  readonly deviation?: ConformanceDeviation;
}

export interface UnavailableCheck {
  readonly check: string;
  readonly detail: string;
}

export type CellStatus = 'pass' | 'fail' | 'unavailable';

export interface CellResult {
  readonly program: string;
  readonly policy: string;
  readonly backend: string;
  readonly flavour: HostFlavour;
  readonly status: CellStatus;
  /** one line: why the cell has its status */
  readonly why: string;
  readonly lines: readonly CellLine[];
  readonly unavailable: readonly UnavailableCheck[];
  /** protocol problems, exit-status mismatches, CPUID view mismatches that fail the cell */
  readonly problems: readonly string[];
  /** things worth showing that don't fail the cell (known CPUID table rewriting, …) */
  readonly notes: readonly string[];
  /** the contract's prediction for each reconstructible line, where it differs from the program or the backend */
  readonly contract: {
    readonly compared: number;
    readonly disagreements: readonly ContractComparison[];
    /** line name → the contract rule id of the refusal the contract predicts for it */
    readonly rules: ReadonlyMap<string, string>;
    /** line name → the contract's verdict for it (outcome, rule and reason) */
    readonly predictions: ReadonlyMap<string, ContractComparison>;
    readonly error?: string;
  };
  readonly runs: number;
  readonly last: { readonly outcome: GuestRunResult['outcome']; readonly exitCode?: number; readonly detail: string };
  readonly report: ParsedReport;
}

export interface RunCellOptions {
  readonly program: string;
  readonly image: Uint8Array;
  readonly policy: Policy;
  readonly backend: string;
  readonly flavour: HostFlavour;
  readonly entry?: GuestEntry;
  readonly timeoutMs?: number;
  /** how many checks may be skipped as unavailable before the cell gives up (default 8) */
  readonly maxUnavailable?: number;
  readonly deviations?: readonly ConformanceDeviation[];
  /** 'architectural': the guest is told "tsvmm.mode=arch" and the contract cross-check uses the
   *  architectural model (default 'kvm-exact') */
  readonly mode?: 'kvm-exact' | 'architectural';
  /** skip the checks recorded in KNOWN_UNAVAILABLE up front (default true) */
  readonly knownUnavailable?: boolean;
}

/** CPUID bits that change at run time (kvm-contract.md §1.5) or that the VMM patches per vCPU. */
export const DYNAMIC_MASK: Record<string, Partial<Record<CpuidReg, number>>> = {
  '1:0': { ebx: 0xff000000, ecx: 1 << 27, edx: 1 << 9 },
  '7:0': { ecx: 1 << 4 },
  '13:0': { ebx: 0xffffffff },
  '13:1': { ebx: 0xffffffff },
};

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16);
}

/** Bit differences between two CPUID views over the leaves the guest printed. */
export function diffCpuid(
  guestLeaves: readonly GuestCpuidLeaf[],
  a: CpuidTable,
  b: CpuidTable | readonly GuestCpuidLeaf[],
  labels: [string, string],
): string[] {
  const out: string[] = [];
  const regs: CpuidReg[] = ['eax', 'ebx', 'ecx', 'edx'];
  const bval = (leaf: number, sub: number, r: CpuidReg): number => {
    if (b instanceof CpuidTable) return b.reg(leaf, sub, r);
    const g = b.find((x) => x.leaf === leaf && x.subleaf === sub);
    return g ? g[r] >>> 0 : 0;
  };
  for (const g of guestLeaves) {
    const mask = DYNAMIC_MASK[`${g.leaf}:${g.subleaf}`] ?? {};
    for (const r of regs) {
      const x = a.reg(g.leaf, g.subleaf, r) & ~(mask[r] ?? 0);
      const y = bval(g.leaf, g.subleaf, r) & ~(mask[r] ?? 0);
      if (x >>> 0 !== y >>> 0) {
        out.push(
          `CPUID ${hex(g.leaf)}.${g.subleaf}:${r.toUpperCase()} ${labels[0]}=${hex(x)} ${labels[1]}=${hex(y)} ` +
            `(+${hex(y & ~x)} -${hex(x & ~y)})`,
        );
      }
    }
  }
  return out;
}

/** Run one program under one policy, retrying past unavailable checks, and judge the result. */
export async function runCell(exec: GuestExecutor, opts: RunCellOptions): Promise<CellResult> {
  const entry = opts.entry ?? 'long64';
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const maxUnavailable = opts.maxUnavailable ?? 8;
  const deviations = opts.deviations ?? CONFORMANCE_DEVIATIONS;
  const contractMode = opts.mode === 'architectural' ? 'architectural' : 'kvmExact';
  const unavailable: UnavailableCheck[] = deviations
    .filter((d) => d.skipCheck?.program === opts.program && d.backend === opts.backend && d.flavours.includes(opts.flavour))
    .map((d) => ({ check: d.skipCheck!.check, detail: `skipped up front: recorded deviation ${d.id} (the check derails the guest here)` }))
    .concat(
      (opts.knownUnavailable ?? true ? knownUnavailable(opts.program, opts.backend, opts.flavour) : []).map((k) => ({
        check: k.check,
        detail: `skipped up front: recorded as unavailable here: ${k.why}`,
      })),
    );
  const problems: string[] = [];
  const notes: string[] = [];
  let runs = 0;
  let result: GuestRunResult;
  let report: ParsedReport;
  const base = {
    program: opts.program,
    policy: opts.policy.name,
    backend: opts.backend,
    flavour: opts.flavour,
  };

  for (;;) {
    const words = opts.mode === 'architectural' ? ['tsvmm.mode=arch'] : [];
    if (unavailable.length) words.push(`tsvmm.skip=${unavailable.map((u) => u.check).join(',')}`);
    const cmdline = words.join(' ');
    result = await exec({ program: opts.program, image: opts.image, cpuid: opts.policy.cpuid, cmdline, entry, timeoutMs });
    runs++;
    report = parseReport(result.serial);
    if (result.outcome !== 'backend-error') break;
    const insn =
      result.insnBytes?.length && !result.detail.includes('instruction bytes')
        ? ` instruction bytes: ${[...result.insnBytes].map((b) => b.toString(16).padStart(2, '0')).join(' ')}`
        : '';
    const check = report.pendingTry;
    if (!check || unavailable.some((u) => u.check === check) || unavailable.length >= maxUnavailable) {
      const lastLine = report.lines.at(-1)?.name ?? '(none)';
      const where = check ? `in check ${check}` : `after report line ${lastLine}`;
      return {
        ...base,
        status: 'unavailable',
        why: `oracle unavailable: the backend stopped ${where}: ${result.detail}${insn}`,
        lines: classify(report.lines, opts, deviations),
        unavailable: [...unavailable, ...(check ? [{ check, detail: result.detail + insn }] : [])],
        problems,
        notes,
        contract: compareWithContract(report.lines, opts.policy.cpuid, contractMode),
        runs,
        last: { outcome: result.outcome, detail: result.detail },
        report,
      };
    }
    unavailable.push({ check, detail: result.detail + insn });
  }

  const judgeCpuid = result.effectiveCpuid ? CpuidTable.from(result.effectiveCpuid) : opts.policy.cpuid;
  const kvmModule = opts.flavour === 'kvm_pvm' || opts.flavour === 'kvm_intel' || opts.flavour === 'kvm_amd' ? opts.flavour : undefined;
  const ctx = {
    ...(result.advertisedMsrs ? { advertised: new Set(result.advertisedMsrs) } : {}),
    ...(result.lapicInKernel !== undefined ? { lapicInKernel: result.lapicInKernel } : {}),
  };
  report = { ...report, lines: resolveContractExpectations(report.lines, judgeCpuid, contractMode, kvmModule, ctx) };
  const lines = classify(report.lines, opts, deviations);
  problems.push(...report.problems);
  if (result.outcome !== 'debug-exit') problems.push(`the run ended with ${result.outcome}: ${result.detail}`);
  if (!report.program) problems.push('the guest never printed TSVMM-BEGIN');
  else if (report.program !== opts.program) problems.push(`the guest says it is '${report.program}', expected '${opts.program}'`);
  if (!report.complete) problems.push('no TSVMM-SUMMARY line: the report is truncated');
  if (report.summary && result.outcome === 'debug-exit' && result.exitCode !== expectedExitCode(report.summary)) {
    problems.push(`debug-exit status ${result.exitCode} does not match the summary (expected ${expectedExitCode(report.summary)})`);
  }
  for (const u of unavailable) {
    if (!report.lines.some((l) => l.name === u.check && l.verdict === 'SKIP')) {
      problems.push(`check ${u.check} was to be skipped but the guest did not report it SKIP`);
    }
  }

  // CPUID: requested policy vs the vCPU's table vs what the guest's CPUID instruction returned.
  if (report.cpuid.length) {
    if (result.effectiveCpuid) {
      const effective = CpuidTable.from(result.effectiveCpuid);
      const rewritten = diffCpuid(report.cpuid, opts.policy.cpuid, effective, ['requested', 'vcpu']);
      if (rewritten.length) {
        if (CPUID_TABLE_DEVIATION.flavours.includes(opts.flavour)) {
          notes.push(`known deviation ${CPUID_TABLE_DEVIATION.id}: the vCPU's CPUID table is not the policy:`, ...rewritten);
        } else problems.push(`the vCPU's CPUID table is not the requested policy:`, ...rewritten);
      }
      const seen = diffCpuid(report.cpuid, effective, report.cpuid, ['vcpu', 'guest']);
      if (seen.length) problems.push(`the guest's CPUID instruction disagrees with the vCPU's table:`, ...seen);
    } else {
      const seen = diffCpuid(report.cpuid, opts.policy.cpuid, report.cpuid, ['requested', 'guest']);
      if (seen.length) notes.push('the guest saw a CPUID different from the requested policy:', ...seen);
    }
  } else if (report.complete) problems.push('the guest printed no TSVMM-CPUID lines');

  const failed = lines.filter((l) => l.status === 'fail');
  const deviated = lines.filter((l) => l.status === 'deviation').length;
  const status: CellStatus = failed.length || problems.length ? 'fail' : 'pass';
  const counts = `${lines.filter((l) => l.status === 'pass').length} pass, ${failed.length} fail, ${deviated} known deviation, ${
    lines.filter((l) => l.status === 'skip').length
  } skip, ${unavailable.length} oracle-unavailable`;
  const why =
    status === 'pass'
      ? counts
      : `${counts}${problems.length ? `; ${problems[0]}` : ''}${failed.length ? `; first failure: ${failed[0]!.line.name}` : ''}`;
  return {
    ...base,
    status,
    why,
    lines,
    unavailable,
    problems,
    notes,
    contract: compareWithContract(report.lines, judgeCpuid, contractMode, kvmModule, ctx),
    runs,
    last: {
      outcome: result.outcome,
      detail: result.detail,
      ...(result.exitCode !== undefined ? { exitCode: result.exitCode } : {}),
    },
    report,
  };
}

function classify(lines: readonly ReportLine[], opts: RunCellOptions, deviations: readonly ConformanceDeviation[]): CellLine[] {
  return lines.map((line) => {
    switch (line.verdict) {
      case 'PASS':
        return { status: 'pass', line };
      case 'SKIP':
        return { status: line.detail.startsWith('oracle-unavailable') ? 'unavailable' : 'skip', line };
      case 'FAIL': {
        const deviation = findDeviation(opts.backend, opts.flavour, line, deviations);
        return deviation ? { status: 'deviation', line, deviation } : { status: 'fail', line };
      }
    }
  });
}

/** How a recorded deviation is shown: DEVIATION (the host), KNOWN-BUG (tsvmm), CONTRACT-QUESTION. */
export function deviationTag(d: ConformanceDeviation): string {
  return d.kind === 'bug' ? 'KNOWN-BUG' : d.kind === 'contract' ? 'CONTRACT-QUESTION' : 'DEVIATION';
}

/** Human-readable lines for one cell: a header, then every report line with its status. */
export function formatCell(cell: CellResult, opts: { allLines?: boolean } = {}): string[] {
  const out = [
    `${cell.status.toUpperCase().padEnd(11)} ${cell.program} × ${cell.policy} × ${cell.backend}(${cell.flavour}) — ${cell.why}` +
      (cell.runs > 1 ? ` [${cell.runs} runs]` : ''),
  ];
  const grouped = new Map<string, CellLine[]>();
  for (const l of cell.lines) {
    if (opts.allLines || l.status !== 'deviation') continue;
    const k = l.deviation!.id;
    grouped.set(k, [...(grouped.get(k) ?? []), l]);
  }
  for (const [id, ls] of grouped) {
    if (ls.length < 3) continue;
    const tag = deviationTag(ls[0]!.deviation!);
    out.push(`    ${tag}(${id}) ×${ls.length}: ${ls.map((l) => l.line.name).join(' ')} — e.g. ${ls[0]!.line.detail}`);
  }
  for (const l of cell.lines) {
    if (!opts.allLines && l.status === 'pass') continue;
    if (!opts.allLines && l.status === 'deviation' && (grouped.get(l.deviation!.id)?.length ?? 0) >= 3) continue;
    const u = l.status === 'unavailable' ? cell.unavailable.find((x) => x.check === l.line.name) : undefined;
    if (u) out.push(`    ORACLE-UNAVAILABLE ${u.check}: ${u.detail}`);
    else {
      const tag =
        l.status === 'deviation'
          ? `${deviationTag(l.deviation!)}(${l.deviation!.id})`
          : l.status.toUpperCase();
      out.push(`    ${tag} ${l.line.name} ${l.line.detail}`);
    }
  }
  for (const u of cell.unavailable) {
    if (!cell.lines.some((l) => l.line.name === u.check)) out.push(`    ORACLE-UNAVAILABLE ${u.check}: ${u.detail}`);
  }
  for (const p of cell.problems) out.push(`    PROBLEM ${p}`);
  if (cell.contract.error) out.push(`    CONTRACT ${cell.contract.error}`);
  const byKind = new Map<string, ContractComparison[]>();
  for (const d of cell.contract.disagreements) {
    // undefined bits ("cr4.bit40") with the same outcome share one line; named checks get their own
    const k = `${/\.bit\d+$/.test(d.name) ? 'bitN' : d.name}|${d.rule ?? ''}|${d.contract}|${d.expect ?? ''}|${d.got ?? ''}`;
    byKind.set(k, [...(byKind.get(k) ?? []), d]);
  }
  for (const ds of byKind.values()) {
    const d = ds[0]!;
    const names = ds.length > 3 ? `${ds.length} checks (${ds[0]!.name} … ${ds.at(-1)!.name})` : ds.map((x) => x.name).join(' ');
    out.push(
      `    CONTRACT-DISAGREES ${names}: contract=${d.contract}${d.rule ? ` [${d.rule}: ${d.reason}]` : ''} ` +
        `program-expects=${d.expect ?? '?'} backend-got=${d.got ?? '?'}`,
    );
  }
  for (const n of cell.notes) out.push(`    NOTE ${n}`);
  return out;
}
