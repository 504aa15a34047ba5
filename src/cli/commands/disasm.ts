// `tsvmm disasm`: decode x86 machine code with the interpreter's own decoder (the one instruction
// table, src/vcpu/interp/spec/table.ts) and print one line per instruction: address, bytes and the
// Intel-syntax text as GNU objdump -M intel prints it (with --rows also the table row's mnemonic,
// operand kinds and operand/address size). Intel SDM Vol. 2 ch. 2 (instruction format).
// Exit status: 0 every byte decoded, 1 an undefined/invalid encoding was met (printed as #UD/#GP),
// 2 usage error.

import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo, type Command } from '../io.ts';
import { TsvmmError } from '../../util/result.ts';
import { decodeOne } from '../../vcpu/interp/disasm.ts';

const HELP = `usage: tsvmm disasm [--bits 16|32|64] [--real] [--org ADDR] [--rows] (--file FILE [--offset N] [--length N] | HEXBYTES...)
Decode machine code with the interpreter's decoder and print it in Intel syntax.
  --bits N       16, 32 or 64 (default 64)
  --real         16-bit code in real-address mode (C4/C5 are LES/LDS, no VEX)
  --org ADDR     address of the first byte (default 0; places branch and RIP-relative targets)
  --rows         also print the instruction-table row (mnemonic, operand kinds, sizes)
  --file FILE    read raw bytes from FILE (--offset/--length select a range)
  HEXBYTES       bytes as hex, e.g. "48 01 d8" or 4801d8`;

function parseNum(s: string, what: string): number {
  const v = Number(s);
  if (!Number.isSafeInteger(v) || v < 0) throw new TsvmmError('DISASM_ARGS', `${what}: '${s}' is not a non-negative integer`);
  return v;
}

export const command: Command = {
  summary: 'decode x86 machine code with the interpreter decoder',
  async run(args: string[], io: CliIo): Promise<number> {
    let parsed;
    try {
      parsed = parseArgs({
        args,
        allowPositionals: true,
        options: {
          bits: { type: 'string' }, org: { type: 'string' }, file: { type: 'string' },
          offset: { type: 'string' }, length: { type: 'string' }, help: { type: 'boolean', short: 'h' },
          rows: { type: 'boolean' }, real: { type: 'boolean' },
        },
      });
    } catch (e) {
      io.err(`tsvmm disasm: ${(e as Error).message}\n${HELP}`);
      return EXIT_USAGE;
    }
    const o = parsed.values;
    if (o.help) {
      io.out(HELP);
      return EXIT_OK;
    }
    const bits = o.bits === undefined ? 64 : Number(o.bits);
    if (bits !== 16 && bits !== 32 && bits !== 64) {
      io.err(`tsvmm disasm: --bits must be 16, 32 or 64\n${HELP}`);
      return EXIT_USAGE;
    }
    if (o.real && bits !== 16) {
      io.err(`tsvmm disasm: --real needs --bits 16\n${HELP}`);
      return EXIT_USAGE;
    }
    let bytes: Uint8Array;
    if (o.file !== undefined) {
      let all: Uint8Array;
      try {
        all = new Uint8Array(readFileSync(o.file));
      } catch (e) {
        throw new TsvmmError('DISASM_FILE', `cannot read ${o.file}: ${(e as Error).message}`);
      }
      const off = o.offset ? parseNum(o.offset, '--offset') : 0;
      const len = o.length ? parseNum(o.length, '--length') : all.length - off;
      bytes = all.subarray(off, off + len);
    } else {
      const hex = parsed.positionals.join('').replace(/\s+/g, '');
      if (hex.length === 0 || hex.length % 2 || /[^0-9a-f]/i.test(hex)) {
        io.err(`tsvmm disasm: give hex bytes (even number of hex digits) or --file\n${HELP}`);
        return EXIT_USAGE;
      }
      bytes = Uint8Array.from(hex.match(/../g)!.map((h) => parseInt(h, 16)));
    }
    const org = o.org ? parseNum(o.org, '--org') : 0;
    let at = 0;
    let bad = false;
    while (at < bytes.length) {
      const d = decodeOne(bytes.subarray(at, at + 15), bits, org + at, { real: o.real === true });
      const n = d.fault !== undefined ? 1 : d.length;
      const hexs = [...bytes.subarray(at, at + n)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
      const addr = (org + at).toString(16).padStart(8, '0');
      if (d.fault !== undefined) {
        bad = true;
        io.out(`${addr}  ${hexs.padEnd(30)} (${d.fault === 6 ? '#UD' : '#GP'}: ${d.reason ?? 'invalid'})`);
      } else {
        const row = o.rows ? `  ; ${d.mnemonic ?? '?'} ${d.operands ?? ''}${d.operands ? ' ' : ''}[o${d.osz! * 8} a${d.asz! * 8}]` : '';
        io.out(`${addr}  ${hexs.padEnd(30)} ${d.text ?? '?'}${row}`);
      }
      at += n;
    }
    return bad ? EXIT_FAILURE : EXIT_OK;
  },
};
