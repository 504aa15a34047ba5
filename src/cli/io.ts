// What a CLI command gets to talk to the world: output streams (so tests can capture them).

export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

export const processIo: CliIo = {
  out: (t) => void process.stdout.write(t.endsWith('\n') ? t : t + '\n'),
  err: (t) => void process.stderr.write(t.endsWith('\n') ? t : t + '\n'),
};

/** A command module: `tsvmm <name> ...args`. Returns the process exit status. */
export interface Command {
  readonly summary: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/** Exit statuses shared by all commands. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;
