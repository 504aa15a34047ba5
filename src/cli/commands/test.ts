// `tsvmm test`: the conformance suite (conformance/, issue 7): every guest program under the CPU policy
// matrix on the KVM backend and the TypeScript interpreter, the two compared line by line, the contract
// coverage listing, and a summary line `N passed, N failed[, N skipped]`. Exit status 0 when nothing
// failed, 1 on any failure (a cell, a disagreement between the backends, or an uncovered rule),
// 2 on a usage error. Rules: shared/spec/kvm-contract.md; programs and protocol: conformance/README.md.

import { parseArgs, type ParseArgsConfig } from 'node:util';
import { writeFileSync } from 'node:fs';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, processIo, type CliIo, type Command } from '../io.ts';
import { TsvmmError } from '../../util/result.ts';

const OPTIONS = {
  backend: { type: 'string' },
  cpu: { type: 'string' },
  json: { type: 'boolean' },
  html: { type: 'string' },
  jobs: { type: 'string', short: 'j' },
  mode: { type: 'string' },
  guests: { type: 'string' },
  verbose: { type: 'boolean', short: 'v' },
  insn: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export const TEST_HELP = `usage: tsvmm test [options] [PATTERN]
Run the conformance guest programs (conformance/programs) under the CPU-policy matrix.
  --backend kvm|interp|both  backends (default both; an unavailable one is reported and skipped)
  --cpu SPEC                 one policy instead of the matrix: host | MODEL, then +feat,-feat
  --jobs N, -j N             parallel workers (default: the number of cores)
  --mode kvm-exact|architectural
                             the rules the guests and the interpreter follow (default kvm-exact)
  --json                     print the result as JSON on stdout (no table)
  --html FILE                also write a self-contained report page to FILE
  --guests DIR               built guest images (default build/guests; npm run build:guests)
  -v, --verbose              show passing cells and every differential comparison
  --insn                     run the instruction corpus (conformance/insn) instead: every
                             general-purpose instruction form on both backends, compared
  PATTERN                    program names: a substring, or a glob with *
The last line is the summary, "N passed, N failed" (", N skipped" when some were).
exit status: 0 all passed; 1 something failed (a cell, a backend disagreement, an uncovered rule); 2 usage`;

export interface TestArgs {
  readonly backends: readonly ('kvm' | 'interp')[];
  readonly cpu?: string;
  readonly json: boolean;
  readonly html?: string;
  readonly jobs?: number;
  readonly mode: 'kvm-exact' | 'architectural';
  readonly guests?: string;
  readonly verbose: boolean;
  readonly insn?: boolean;
  readonly pattern?: string;
  readonly help: boolean;
}

/** Parse `tsvmm test` arguments; a TsvmmError('TEST_USAGE') names what is wrong. */
export function parseTestArgs(args: string[]): TestArgs {
  let parsed;
  try {
    parsed = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new TsvmmError('TEST_USAGE', (e as Error).message);
  }
  const v = parsed.values;
  if (parsed.positionals.length > 1)
    throw new TsvmmError('TEST_USAGE', `one PATTERN at most, got ${parsed.positionals.map((p) => `'${p}'`).join(' ')}`);
  const b = v.backend ?? 'both';
  if (b !== 'kvm' && b !== 'interp' && b !== 'both')
    throw new TsvmmError('TEST_USAGE', `--backend must be kvm, interp or both, got '${b}'`);
  let jobs: number | undefined;
  if (v.jobs !== undefined) {
    if (!/^[1-9]\d{0,2}$/.test(v.jobs)) throw new TsvmmError('TEST_USAGE', `--jobs must be a positive integer, got '${v.jobs}'`);
    jobs = Number(v.jobs);
  }
  const mode = v.mode ?? 'kvm-exact';
  if (mode !== 'kvm-exact' && mode !== 'architectural')
    throw new TsvmmError('TEST_USAGE', `--mode must be kvm-exact or architectural, got '${mode}'`);
  if (v.cpu !== undefined && !v.cpu.trim()) throw new TsvmmError('TEST_USAGE', '--cpu needs a policy, e.g. host,-smep');
  if (v.html !== undefined && !v.html.trim()) throw new TsvmmError('TEST_USAGE', '--html needs a file name');
  if (v.insn && (v.json || v.html !== undefined || v.cpu !== undefined || v.mode !== undefined || parsed.positionals.length))
    throw new TsvmmError('TEST_USAGE', '--insn runs the instruction corpus: it takes only --backend and -v');
  const pattern = parsed.positionals[0];
  if (pattern !== undefined && !/^[A-Za-z0-9_*-]+$/.test(pattern))
    throw new TsvmmError('TEST_USAGE', `PATTERN '${pattern}' may only hold letters, digits, '_', '-' and '*'`);
  return {
    backends: b === 'both' ? ['kvm', 'interp'] : [b],
    ...(v.cpu !== undefined ? { cpu: v.cpu.trim() } : {}),
    json: v.json ?? false,
    ...(v.html !== undefined ? { html: v.html } : {}),
    ...(jobs !== undefined ? { jobs } : {}),
    mode,
    ...(v.guests !== undefined ? { guests: v.guests } : {}),
    verbose: v.verbose ?? false,
    ...(v.insn ? { insn: true } : {}),
    ...(pattern !== undefined ? { pattern } : {}),
    help: v.help ?? false,
  };
}

/** Progress on stderr, only on the real terminal: "[12/80] cr4 × -smep × kvm pass". */
function progress(io: CliIo): ((done: number, total: number, c: { program: string; policy: string; backend: string; status: string }) => void) | undefined {
  if (io !== processIo || !process.stderr.isTTY) return undefined;
  return (done, total, c) => {
    const text = `[${done}/${total}] ${c.program} × ${c.policy} × ${c.backend} ${c.status}`;
    process.stderr.write(`\r\x1b[K${text.slice(0, (process.stderr.columns ?? 100) - 1)}${done === total ? '\r\x1b[K' : ''}`);
  };
}

/** What this command uses from conformance/ (suite.ts, matrix.ts, html.ts). */
interface SuiteApi {
  runSuite(o: Record<string, unknown>): Promise<{ counts: { passed: number; failed: number; skipped: number } }>;
  formatSuite(r: unknown, o: { verbose?: boolean }): string[];
  suiteToJson(r: unknown): unknown;
  summaryLine(c: { passed: number; failed: number; skipped: number }): string;
  renderHtml(r: unknown, o: { generated?: string }): string;
  defaultJobs(): number;
}

/**
 * The suite lives in conformance/ (TypeScript, beside the guest sources), outside src/ and so outside
 * dist/. From the sources (tsx) it is imported directly; from dist/ tsx is registered first (a dev
 * dependency: the suite needs a repository checkout with its guests built anyway).
 */
async function loadSuite(): Promise<SuiteApi> {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) {
    try {
      const api = await import('tsx/esm/api');
      api.register();
    } catch (e) {
      throw new TsvmmError(
        'TEST_UNAVAILABLE',
        `tsvmm test runs from a repository checkout with its dev dependencies (tsx): ${(e as Error).message}`,
      );
    }
  }
  const root = new URL('../../../', here); // src/cli/commands or dist/cli/commands → the repository
  const load = async (p: string): Promise<Record<string, unknown>> => (await import(new URL(p, root).href)) as Record<string, unknown>;
  const [suite, matrix, html] = await Promise.all([load('conformance/suite.ts'), load('conformance/matrix.ts'), load('conformance/html.ts')]);
  return { ...suite, ...matrix, ...html } as unknown as SuiteApi;
}

export async function testCommand(args: string[], io: CliIo): Promise<number> {
  let a: TestArgs;
  try {
    a = parseTestArgs(args);
  } catch (e) {
    if (e instanceof TsvmmError) {
      io.err(`tsvmm test: ${e.message}\n\n${TEST_HELP}`);
      return EXIT_USAGE;
    }
    throw e;
  }
  if (a.help) {
    io.out(TEST_HELP);
    return EXIT_OK;
  }
  const { runSuite, formatSuite, suiteToJson, summaryLine, renderHtml, defaultJobs } = await loadSuite();
  if (a.insn) {
    const { runInsnSuite } = (await import(new URL('../../../conformance/insn/cli.ts', import.meta.url).href)) as {
      runInsnSuite(o: { backends: readonly string[]; verbose?: boolean }): { lines: string[]; counts: { passed: number; failed: number; skipped: number } };
    };
    const r = runInsnSuite({ backends: a.backends, verbose: a.verbose });
    io.out(r.lines.join('\n'));
    io.out(summaryLine(r.counts));
    return r.counts.failed > 0 ? EXIT_FAILURE : EXIT_OK;
  }
  const onProgress = progress(io);
  const r = await runSuite({
    backends: a.backends,
    jobs: a.jobs ?? defaultJobs(),
    mode: a.mode,
    ...(a.cpu !== undefined ? { cpu: a.cpu } : {}),
    ...(a.pattern !== undefined ? { pattern: a.pattern } : {}),
    ...(a.guests !== undefined ? { guestsDir: a.guests } : {}),
    ...(onProgress ? { onProgress } : {}),
  });
  if (a.html !== undefined) {
    try {
      writeFileSync(a.html, renderHtml(r, { generated: new Date().toISOString() }));
    } catch (e) {
      throw new TsvmmError('TEST_HTML', `cannot write ${a.html}: ${(e as Error).message}`);
    }
  }
  if (a.json) io.out(JSON.stringify(suiteToJson(r), null, 2));
  else {
    const lines = formatSuite(r, { verbose: a.verbose });
    lines.pop(); // the summary line goes last, on its own, below
    io.out(lines.join('\n'));
    if (a.html !== undefined) io.out(`report page: ${a.html}`);
    io.out(summaryLine(r.counts));
  }
  return r.counts.failed > 0 ? EXIT_FAILURE : EXIT_OK;
}

export const command: Command = {
  summary: 'run the conformance suite (guest programs × CPU policies × backends)',
  run: (args, io) => testCommand(args, io),
};
