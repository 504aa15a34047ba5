// The instruction test corpus end to end (issue #5): generate the cases from the instruction table
// (cases.ts), lay them out as one 64-bit guest (layout.ts), run it on the interpreter and, when
// /dev/kvm is usable, on KVM (run.ts), compare record by record (compare.ts), explain KVM's wrong
// answers with the recorded deviations (deviations.ts, refereed by the host CPU: native.ts), and compute
// the coverage of the table's general-purpose rows.

import type { Backend } from '../../src/vcpu/backend.ts';
import type { CpuidEntry } from '../../src/arch/x86/cpuid/table.ts';
import { CpuidTable } from '../../src/arch/x86/cpuid/table.ts';
import { guestHas } from '../../src/vcpu/interp/spec/features.ts';
import { INSN_TABLE } from '../../src/vcpu/interp/spec/table.ts';
import { classifyRow, DF, generateCorpus, STATUS } from './cases.ts';
import { compareCase, outcomeOf, type FieldDiff } from './compare.ts';
import { explain, INSN_DEVIATIONS } from './deviations.ts';
import { buildImage } from './layout.ts';
import { buildLegacyImage, compareLegacy, generateLegacy, legacyOutcome } from './legacy.ts';
import { runNative } from './native.ts';
import { runImage, type BackendRun } from './run.ts';

export interface CorpusOptions {
  readonly interp: Backend;
  /** the KVM backend, or why there is none */
  readonly kvm: Backend | { readonly unavailable: string };
  /** referee KVM deviations on the host CPU (needs gcc; x86-64 Linux host) */
  readonly native?: boolean;
  /** only the first n cases (quick runs) */
  readonly limit?: number;
}

export interface Disagreement {
  /** 64: the 64-bit corpus (cases.ts); 32: the legacy-mode corpus (legacy.ts) */
  readonly mode: 64 | 32;
  readonly index: number;
  readonly c: { readonly row: number; readonly desc: string };
  readonly diffs: readonly FieldDiff[];
  /** the recorded deviation explaining it */
  readonly deviation?: string;
  /** for a 'host'-refereed deviation: the fields where the native run does not side with the interpreter */
  readonly refereeDisagrees?: readonly FieldDiff[];
}

export type RowStatus = 'compared' | 'interp-only' | 'kvm-cannot-execute' | 'excluded' | 'uncovered';

export interface RowCoverage {
  readonly row: number;
  readonly name: string;
  readonly status: RowStatus;
  readonly cases: number;
  /** cases run and compared on both backends */
  readonly compared: number;
  /** cases KVM could not execute */
  readonly kvmCannot: number;
  readonly reason?: string;
}

export interface CorpusResult {
  readonly cases: number;
  readonly compared: number;
  readonly kvm: string;
  readonly cpuidFrom: 'kvm' | 'interp';
  /** cases the interpreter could not execute (an internal_error or other exit), described */
  readonly interpFailed: readonly string[];
  /** legacy-mode (32-bit) cases, and how many of them were compared */
  readonly legacyCases: number;
  readonly legacyCompared: number;
  readonly kvmCannot: number;
  readonly disagreements: readonly Disagreement[];
  readonly unexplained: readonly Disagreement[];
  readonly coverage: readonly RowCoverage[];
  readonly uncovered: readonly RowCoverage[];
  readonly native: string;
  /** interpreter vs the host CPU on every case a user process can run (empty when not run) */
  readonly hostDisagreements: readonly Disagreement[];
  /** cases compared with the host CPU */
  readonly hostCompared: number;
  readonly ms: { readonly gen: number; readonly interp: number; readonly kvm: number; readonly native: number };
}

export function rowName(i: number): string {
  const r = INSN_TABLE[i]!;
  const pfx = r.prefix && r.prefix !== 'none' ? `${r.prefix} ` : '';
  const enc = `${pfx}${r.map === '1' ? '' : r.map + ' '}${r.opcode.toString(16).padStart(2, '0')}${r.digit !== undefined ? '/' + r.digit : ''}`;
  return `${r.mnemonic} ${r.operands.join(',')} (${enc})`.replace('  ', ' ');
}

/** The guest CPUID both backends get: KVM's own view after KVM_SET_CPUID2 (it merges host bits on kvm_pvm). */
function guestCpuid(o: CorpusOptions): { cpuid: CpuidEntry[]; from: 'kvm' | 'interp' } {
  if ('unavailable' in o.kvm) return { cpuid: o.interp.supportedCpuid(), from: 'interp' };
  const vm = o.kvm.createVm();
  try {
    const v = vm.createVcpu(0);
    v.setCpuid(o.kvm.supportedCpuid());
    return { cpuid: v.getCpuid(), from: 'kvm' };
  } finally {
    vm.destroy();
  }
}

export function runInsnCorpus(o: CorpusOptions): CorpusResult {
  const t0 = Date.now();
  const { cpuid, from } = guestCpuid(o);
  const table = CpuidTable.from(cpuid);
  const corpus = generateCorpus({ has: (f) => guestHas(table, f), ...(o.limit !== undefined ? { limit: o.limit } : {}) });
  const cases = corpus.cases;
  const image = buildImage(cases);
  const t1 = Date.now();
  const ri = runImage(o.interp, image, cpuid);
  const t2 = Date.now();
  const rk: BackendRun | undefined = 'unavailable' in o.kvm ? undefined : runImage(o.kvm, image, cpuid);
  const t3 = Date.now();

  const disagreements: Disagreement[] = [];
  const perRow = new Map<number, { cases: number; compared: number; interpOk: number; kvmCannot: number; why?: string; lcompared: number; lwhy?: string }>();
  let compared = 0, kvmCannot = 0;
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const s = perRow.get(c.row) ?? { cases: 0, compared: 0, interpOk: 0, kvmCannot: 0, lcompared: 0 };
    perRow.set(c.row, s);
    s.cases++;
    const oi = outcomeOf(ri, i);
    if (oi.kind !== 'ok' && oi.kind !== 'fault') continue;
    s.interpOk++;
    if (!rk) continue;
    const ok = outcomeOf(rk, i);
    if (ok.kind === 'unavailable' || ok.kind === 'missing') {
      s.kvmCannot++;
      kvmCannot++;
      s.why ??= ok.kind === 'unavailable' ? ok.why.replace(/ \(KVM internal error.*$/, '') : 'record not written';
      continue;
    }
    s.compared++;
    compared++;
    const diffs = compareCase(c, i, ri, rk);
    if (diffs.length) {
      const dev = explain(c, INSN_TABLE[c.row]!, diffs);
      disagreements.push({ mode: 64, index: i, c, diffs, ...(dev ? { deviation: dev.id } : {}) });
    }
  }
  const interpFailed = [...ri.failed].map(([i, why]) => `${cases[i]?.desc ?? i}: ${why}`);

  // the legacy-mode rows, in 32-bit protected mode
  const legacy = generateLegacy();
  const limg = buildLegacyImage(legacy);
  const li = runImage(o.interp, limg, cpuid, { mode: 'protected32' });
  const lk = rk && !('unavailable' in o.kvm) ? runImage(o.kvm, limg, cpuid, { mode: 'protected32' }) : undefined;
  let legacyCompared = 0;
  for (let i = 0; i < legacy.length; i++) {
    const c = legacy[i]!;
    const s = perRow.get(c.row) ?? { cases: 0, compared: 0, interpOk: 0, kvmCannot: 0, lcompared: 0 };
    perRow.set(c.row, s);
    s.cases++;
    const oi = legacyOutcome(li, i);
    if (oi.kind !== 'ok' && oi.kind !== 'fault') {
      interpFailed.push(`${c.desc}: ${oi.kind === 'unavailable' ? oi.why : oi.kind}`);
      continue;
    }
    s.interpOk++;
    if (!lk) continue;
    const ok = legacyOutcome(lk, i);
    if (ok.kind === 'unavailable' || ok.kind === 'missing') {
      s.kvmCannot++;
      kvmCannot++;
      s.lwhy ??= ok.kind === 'unavailable' ? ok.why.replace(/ \(KVM internal error.*$/, '') : 'record not written';
      continue;
    }
    s.compared++;
    s.lcompared++;
    compared++;
    legacyCompared++;
    const diffs = compareLegacy(c, i, li, lk);
    if (diffs.length) {
      const dev = explain(c, INSN_TABLE[c.row]!, diffs);
      disagreements.push({ mode: 32, index: i, c, diffs, ...(dev ? { deviation: dev.id } : {}) });
    }
  }

  // the host CPU referees the 'host' deviations: it must side with the interpreter on every field
  let native = 'not run';
  let tn = 0;
  const hostDisagreements: Disagreement[] = [];
  let hostCompared = 0;
  let legacyNative = '';
  const refereed = disagreements.filter((d) => d.mode === 64 && d.deviation !== undefined && refereeOf(d.deviation) === 'host');
  if (o.native) {
    const t = Date.now();
    const rn = runNative(image, (i) => NATIVE_UNSAFE.has(INSN_TABLE[cases[i]!.row]!.op));
    tn = Date.now() - t;
    native = `host CPU refereed ${refereed.length} disagreements`;
    // and the interpreter must agree with the host CPU wherever a user process can tell
    for (let i = 0; i < cases.length; i++) {
      const c = cases[i]!;
      const row = INSN_TABLE[c.row]!;
      if (NATIVE_INCOMPARABLE.has(row.op) || (row.feature !== undefined && !guestHas(table, row.feature))) continue;
      const oi = outcomeOf(ri, i), on = outcomeOf(rn, i);
      if ((oi.kind !== 'ok' && oi.kind !== 'fault') || (on.kind !== 'ok' && on.kind !== 'fault')) continue;
      hostCompared++;
      // signals name the vector only roughly (SIGSEGV is #GP or #PF, SIGBUS #SS or #AC): a fault matches a fault
      if (oi.kind === 'fault' && on.kind === 'fault') continue;
      const vs = compareCase({ ...c, flagMask: c.flagMask & (STATUS | DF) }, i, ri, rn);
      if (vs.length) hostDisagreements.push({ mode: 64, index: i, c, diffs: vs });
    }
    for (let k = 0; k < disagreements.length; k++) {
      const d = disagreements[k]!;
      if (d.mode !== 64 || d.deviation === undefined || refereeOf(d.deviation) !== 'host') continue;
      // user mode: compare the status flags only (IF/IOPL differ at CPL 3)
      const full = cases[d.index]!;
      const vs = compareCase({ ...full, flagMask: full.flagMask & STATUS }, d.index, ri, rn);
      if (vs.length) disagreements[k] = { ...d, refereeDisagrees: vs };
    }
    // the legacy-mode image too, in compatibility mode (the AAM/AAD deviation is refereed here)
    let ln: BackendRun | undefined;
    try {
      ln = runNative(limg, (i) => NATIVE_UNSAFE_32.has(INSN_TABLE[legacy[i]!.row]!.op), 32);
    } catch (e) {
      // e.g. a kernel without 32-bit compatibility mode (ia32_emulation=0)
      legacyNative = `; the legacy image could not run natively (${(e as Error).message.split('\n')[0]})`;
    }
    for (let i = 0; ln && i < legacy.length; i++) {
      const c = legacy[i]!;
      if (NATIVE_INCOMPARABLE_32.has(INSN_TABLE[c.row]!.op)) continue;
      const oi = legacyOutcome(li, i), on = legacyOutcome(ln, i);
      if ((oi.kind !== 'ok' && oi.kind !== 'fault') || (on.kind !== 'ok' && on.kind !== 'fault')) continue;
      hostCompared++;
      if (oi.kind === 'fault' && on.kind === 'fault') continue;
      const vs = compareLegacy({ ...c, flagMask: c.flagMask & Number(STATUS | DF) }, i, li, ln);
      if (vs.length) hostDisagreements.push({ mode: 32, index: i, c, diffs: vs });
    }
    for (let k = 0; ln && k < disagreements.length; k++) {
      const d = disagreements[k]!;
      if (d.mode !== 32 || d.deviation === undefined || refereeOf(d.deviation) !== 'host') continue;
      const full = legacy[d.index]!;
      const vs = compareLegacy({ ...full, flagMask: full.flagMask & Number(STATUS) }, d.index, li, ln);
      if (vs.length) disagreements[k] = { ...d, refereeDisagrees: vs };
    }
    native = `host CPU refereed ${disagreements.filter((d) => (d.mode === 64 || ln) && d.deviation !== undefined && refereeOf(d.deviation) === 'host').length} disagreements${legacyNative}`;
  } else native = 'host CPU not run (no gcc, or not requested)';

  const coverage: RowCoverage[] = [];
  INSN_TABLE.forEach((r, ri2) => {
    const cls = classifyRow(r);
    const name = rowName(ri2);
    if (cls.kind === 'excluded') {
      coverage.push({ row: ri2, name, status: 'excluded', cases: 0, compared: 0, kvmCannot: 0, reason: cls.reason });
      return;
    }
    const s = perRow.get(ri2);
    const base = { row: ri2, name, cases: s?.cases ?? 0, compared: s?.compared ?? 0, kvmCannot: s?.kvmCannot ?? 0 };
    if (!s || s.interpOk === 0) {
      if (o.limit !== undefined) return; // a limited run does not reach every row
      coverage.push({ ...base, status: 'uncovered', reason: s ? 'no case ran on the interpreter' : 'no case generated' });
    } else if (!rk) coverage.push({ ...base, status: 'interp-only', reason: 'KVM unavailable' });
    else if (cls.kind === 'legacy' && s.lcompared === 0)
      coverage.push({ ...base, status: 'kvm-cannot-execute', reason: `KVM in 32-bit protected mode: ${s.lwhy ?? '?'}` });
    else if (s.compared === 0) coverage.push({ ...base, status: 'kvm-cannot-execute', reason: `KVM: ${s.why ?? '?'}` });
    else coverage.push({ ...base, status: 'compared', ...(cls.kind === 'legacy' ? { reason: `${cls.reason}: compared in 32-bit protected mode` } : {}) });
  });
  return {
    cases: cases.length,
    compared,
    kvm: 'unavailable' in o.kvm ? o.kvm.unavailable : 'ran',
    cpuidFrom: from,
    interpFailed,
    legacyCases: legacy.length,
    legacyCompared,
    kvmCannot,
    disagreements,
    unexplained: disagreements.filter((d) => d.deviation === undefined || d.refereeDisagrees),
    coverage,
    uncovered: coverage.filter((c) => c.status === 'uncovered'),
    native,
    hostDisagreements,
    hostCompared,
    ms: { gen: t1 - t0, interp: t2 - t1, kvm: t3 - t2, native: tn },
  };
}

/** instructions that would derail the native harness process (thread pointer, segment state, far returns) */
const NATIVE_UNSAFE = new Set(['WRFSBASE', 'MOV_SW_EW', 'POP_SEG', 'LxS', 'IRET', 'RETF', 'CALLF', 'JMPF']);
/**
 * What a CPL 3 Linux process sees differently from the CPL 0 guest: selectors (MOV r/m,Sreg, PUSH FS/GS and
 * the segment reloads after them), IF/IOPL in (E)FLAGS images (PUSHF/POPF, CLI/STI fault), the FS base
 * (RDFSBASE), IA32_TSC_AUX (RDPID), and INT n/INT3/INT1, which become signals.
 */
const NATIVE_INCOMPARABLE = new Set([...NATIVE_UNSAFE, 'MOV_EV_SW', 'PUSH_SEG', 'PUSHF', 'POPF', 'CLI', 'STI', 'RDFSBASE', 'RDPID', 'INT', 'INT3', 'INT1']);

/** legacy image: segment loads would leave the native process with unusable DS/ES; far transfers to 0x08 */
const NATIVE_UNSAFE_32 = new Set(['POP_SEG', 'LxS', 'CALLF', 'JMPF']);
/** … and PUSH of a segment register pushes the process's own selectors */
const NATIVE_INCOMPARABLE_32 = new Set([...NATIVE_UNSAFE_32, 'PUSH_SEG']);

function refereeOf(id: string): 'host' | 'manual' | undefined {
  return INSN_DEVIATIONS.find((d) => d.id === id)?.referee;
}

/** A text report: counts, the coverage statement, disagreements grouped by deviation. */
export function formatInsnReport(r: CorpusResult, verbose = false): string {
  const lines: string[] = [];
  const count = (s: RowStatus): number => r.coverage.filter((c) => c.status === s).length;
  lines.push(`instruction corpus: ${r.cases} cases in 64-bit mode + ${r.legacyCases} in 32-bit protected mode, ${r.compared} compared on both backends (KVM ${r.kvm}; guest CPUID from ${r.cpuidFrom})`);
  lines.push(
    `rows: ${count('compared')} compared, ${count('kvm-cannot-execute')} KVM cannot execute, ` +
      `${count('interp-only')} interpreter only, ${count('excluded')} not general-purpose, ${count('uncovered')} uncovered`,
  );
  lines.push(`KVM could not execute ${r.kvmCannot} cases; interpreter failures: ${r.interpFailed.length}`);
  for (const f of r.interpFailed.slice(0, 20)) lines.push(`  INTERPRETER ${f}`);
  const byDev = new Map<string, number>();
  for (const d of r.disagreements) byDev.set(d.deviation ?? 'UNEXPLAINED', (byDev.get(d.deviation ?? 'UNEXPLAINED') ?? 0) + 1);
  lines.push(`disagreements: ${r.disagreements.length} (${[...byDev].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}); ${r.native}`);
  if (r.hostCompared) lines.push(`interpreter vs host CPU: ${r.hostCompared} cases compared, ${r.hostDisagreements.length} disagree`);
  for (const d of r.hostDisagreements.slice(0, 30))
    lines.push(`  HOST #${d.index} ${d.c.desc}: ${d.diffs.map((x) => `${x.field} interp=${x.a} host=${x.b}`).join('; ')}`);
  for (const d of r.unexplained.slice(0, 30))
    lines.push(`  UNEXPLAINED #${d.index} ${d.c.desc}: ${d.diffs.map((x) => `${x.field} interp=${x.a} kvm=${x.b}`).join('; ')}${d.refereeDisagrees ? ` [host sides with KVM: ${d.refereeDisagrees.map((x) => x.field).join(',')}]` : ''}`);
  for (const c of r.coverage) {
    if ((c.status === 'compared' || c.status === 'excluded' || c.status === 'interp-only') && !verbose) continue;
    lines.push(`  ${c.status.padEnd(18)} ${c.name} [${c.compared}/${c.cases}]${c.reason ? ` — ${c.reason}` : ''}`);
  }
  return lines.join('\n');
}
