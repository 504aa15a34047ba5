// tsvmm command-line entry: `tsvmm <command> [args]`. Each command lives in commands/<name>.ts.

import { processIo, EXIT_USAGE, type CliIo, type Command } from './io.ts';
import { pathToFileURL } from 'node:url';
import { TsvmmError } from '../util/result.ts';

/** Commands are loaded lazily so one command's start-up cost does not tax the others. */
const COMMANDS: Record<string, () => Promise<{ command: Command }>> = {
  contract: () => import('./commands/contract.ts'),
  cpuid: () => import('./commands/cpuid.ts'),
  disasm: () => import('./commands/disasm.ts'),
  mmu: () => import('./commands/mmu.ts'),
  run: () => import('./commands/run.ts'),
  test: () => import('./commands/test.ts'),
};

function usage(): string {
  const lines = Object.keys(COMMANDS)
    .sort()
    .map((n) => `  ${n}`);
  return [
    'usage: tsvmm <command> [options]',
    '',
    'commands:',
    ...lines,
    '',
    'tsvmm <command> --help for more.',
  ].join('\n');
}

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.out(usage());
    return name ? 0 : EXIT_USAGE;
  }
  const load = COMMANDS[name];
  if (!load) {
    io.err(`tsvmm: unknown command '${name}'\n${usage()}`);
    return EXIT_USAGE;
  }
  try {
    const { command } = await load();
    return await command.run(rest, io);
  } catch (e) {
    if (e instanceof TsvmmError) {
      io.err(`tsvmm ${name}: ${e.message} [${e.code}]`);
      return 1;
    }
    throw e;
  }
}

// Run directly from source (`node --import tsx src/cli/main.ts …`, used in development and tests).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2));
}
