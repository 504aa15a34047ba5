// The guest report protocol (conformance/README.md "Report protocol"): the serial text a conformance
// guest prints, parsed into checks. A pure function: any text in (garbage, truncated runs, several
// programs' noise), a structured result out, with every protocol problem listed instead of thrown.
//
//   TSVMM-BEGIN <program> [key=value ...]
//   TSVMM-TRY <name>                               (a check a backend may be unable to execute)
//   TSVMM-REPORT <PASS|FAIL|SKIP> <name> [detail]  (detail may carry expect=<x> got=<y>)
//   TSVMM-SUMMARY passed=N failed=N skipped=N
//   TSVMM-CPUID <leaf> <subleaf> <eax> <ebx> <ecx> <edx>   (hex; the CPUID the guest saw)

export type CheckVerdict = 'PASS' | 'FAIL' | 'SKIP';

export interface ReportLine {
  readonly verdict: CheckVerdict;
  readonly name: string;
  readonly detail: string;
  /** the `expect=` token of the detail, when present (e.g. '#GP', 'ok') */
  readonly expect?: string;
  /** the `got=` token of the detail, when present */
  readonly got?: string;
  /** 1-based line number in the serial text */
  readonly lineNo: number;
}

export interface ReportSummary {
  readonly passed: number;
  readonly failed: number;
  readonly skipped: number;
}

/** One CPUID result as the guest's own CPUID instruction returned it. */
export interface GuestCpuidLeaf {
  readonly leaf: number;
  readonly subleaf: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
}

export interface ParsedReport {
  /** program name from TSVMM-BEGIN */
  readonly program?: string;
  /** key=value fields of the BEGIN line (entry, magic, cmdline…) */
  readonly begin?: Readonly<Record<string, string>>;
  readonly lines: readonly ReportLine[];
  /** names announced with TSVMM-TRY, in order */
  readonly tries: readonly string[];
  /** a TRY with no REPORT of the same name after it: the check the run stopped in */
  readonly pendingTry?: string;
  readonly summary?: ReportSummary;
  /** TSVMM-CPUID lines: the guest's view of the CPUID leaves the programs decide on */
  readonly cpuid: readonly GuestCpuidLeaf[];
  /** a well-formed SUMMARY line was seen */
  readonly complete: boolean;
  /** protocol problems: malformed lines, a summary that disagrees with the lines, output after the end… */
  readonly problems: readonly string[];
  /** lines that are not protocol lines (guest chatter, garbage) */
  readonly other: readonly string[];
}

const NAME_RE = /^[\x21-\x7e]+$/;
const SUMMARY_RE = /^passed=(\d+) failed=(\d+) skipped=(\d+)$/;

function tokenOf(detail: string, key: string): string | undefined {
  const m = new RegExp(`(?:^| )${key}=(\\S+)`).exec(detail);
  return m ? m[1] : undefined;
}

/** Parse a guest's serial output. Never throws; problems are reported in `problems`. */
export function parseReport(serial: string): ParsedReport {
  const lines: ReportLine[] = [];
  const tries: string[] = [];
  const problems: string[] = [];
  const other: string[] = [];
  const cpuid: GuestCpuidLeaf[] = [];
  let program: string | undefined;
  let begin: Record<string, string> | undefined;
  let summary: ReportSummary | undefined;
  let pendingTry: string | undefined;

  const raw = serial.split('\n');
  const endsWithNewline = serial.endsWith('\n');
  if (endsWithNewline) raw.pop();
  raw.forEach((text0, i) => {
    const lineNo = i + 1;
    const text = text0.endsWith('\r') ? text0.slice(0, -1) : text0;
    const partial = i === raw.length - 1 && !endsWithNewline && serial.length > 0;
    if (!text.startsWith('TSVMM-')) {
      if (text.includes('TSVMM-')) problems.push(`line ${lineNo}: protocol token in the middle of a line`);
      if (text.length > 0) other.push(text);
      return;
    }
    if (partial) {
      problems.push(`line ${lineNo}: truncated protocol line (no newline): ${JSON.stringify(text.slice(0, 80))}`);
      return;
    }
    if (summary) problems.push(`line ${lineNo}: output after the summary line`);
    const sp = text.indexOf(' ');
    const tag = sp < 0 ? text : text.slice(0, sp);
    const rest = sp < 0 ? '' : text.slice(sp + 1);
    switch (tag) {
      case 'TSVMM-BEGIN': {
        const [name, ...fields] = rest.split(' ');
        if (!name || !NAME_RE.test(name)) {
          problems.push(`line ${lineNo}: BEGIN without a program name`);
          return;
        }
        if (program !== undefined) problems.push(`line ${lineNo}: second BEGIN (${name}); the guest restarted?`);
        program = name;
        begin = {};
        for (const f of fields) {
          const eq = f.indexOf('=');
          if (eq > 0) begin[f.slice(0, eq)] = f.slice(eq + 1);
        }
        return;
      }
      case 'TSVMM-TRY': {
        if (!NAME_RE.test(rest)) {
          problems.push(`line ${lineNo}: malformed TRY line`);
          return;
        }
        tries.push(rest);
        pendingTry = rest;
        return;
      }
      case 'TSVMM-REPORT': {
        const m = /^(PASS|FAIL|SKIP) (\S+)(?: (.*))?$/.exec(rest);
        if (!m || !NAME_RE.test(m[2]!)) {
          problems.push(`line ${lineNo}: malformed REPORT line: ${JSON.stringify(text.slice(0, 80))}`);
          return;
        }
        const detail = m[3] ?? '';
        const expect = tokenOf(detail, 'expect');
        const got = tokenOf(detail, 'got');
        lines.push({
          verdict: m[1] as CheckVerdict,
          name: m[2]!,
          detail,
          lineNo,
          ...(expect !== undefined ? { expect } : {}),
          ...(got !== undefined ? { got } : {}),
        });
        if (pendingTry === m[2]) pendingTry = undefined;
        return;
      }
      case 'TSVMM-CPUID': {
        const f = rest.split(' ');
        const nums = f.map((x) => (/^0x[0-9a-fA-F]{1,8}$/.test(x) ? parseInt(x, 16) : NaN));
        if (nums.length !== 6 || nums.some((n) => Number.isNaN(n))) {
          problems.push(`line ${lineNo}: malformed CPUID line`);
          return;
        }
        const [leaf, subleaf, eax, ebx, ecx, edx] = nums as [number, number, number, number, number, number];
        cpuid.push({ leaf, subleaf, eax, ebx, ecx, edx });
        return;
      }
      case 'TSVMM-SUMMARY': {
        const m = SUMMARY_RE.exec(rest);
        if (!m) {
          problems.push(`line ${lineNo}: malformed SUMMARY line`);
          return;
        }
        if (summary) problems.push(`line ${lineNo}: second SUMMARY line`);
        summary = { passed: Number(m[1]), failed: Number(m[2]), skipped: Number(m[3]) };
        return;
      }
      default:
        problems.push(`line ${lineNo}: unknown protocol tag ${tag}`);
    }
  });

  if (program === undefined && (lines.length > 0 || summary)) problems.push('no TSVMM-BEGIN line');
  if (summary) {
    const count = (v: CheckVerdict): number => lines.filter((l) => l.verdict === v).length;
    const seen = { passed: count('PASS'), failed: count('FAIL'), skipped: count('SKIP') };
    if (seen.passed !== summary.passed || seen.failed !== summary.failed || seen.skipped !== summary.skipped) {
      problems.push(
        `summary says passed=${summary.passed} failed=${summary.failed} skipped=${summary.skipped} but the lines ` +
          `say passed=${seen.passed} failed=${seen.failed} skipped=${seen.skipped}`,
      );
    }
  }
  return {
    ...(program !== undefined ? { program } : {}),
    ...(begin !== undefined ? { begin } : {}),
    lines,
    tries,
    ...(pendingTry !== undefined ? { pendingTry } : {}),
    ...(summary !== undefined ? { summary } : {}),
    cpuid,
    complete: summary !== undefined,
    problems,
    other,
  };
}

/** The debug-exit status a guest that printed `summary` should end with: (code << 1) | 1. */
export function expectedExitCode(summary: ReportSummary): number {
  return summary.failed > 0 ? 3 : 1;
}
