// `tsvmm mmu explain`: walk a page-table image (raw files loaded at physical bases) for one linear
// address and report every paging-structure entry, the effective rights and why an access faults.
// The rules are the MMU's (src/mmu/, Intel SDM Vol. 3A ch. 4, spec §8). Exit status: 0 the access
// translates, 1 it faults (or bad input file), 2 usage error.

import { parseArgs } from 'node:util';
import { readFileSync } from 'node:fs';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliIo, type Command } from '../io.ts';
import { TsvmmError } from '../../util/result.ts';
import { parseU64 } from '../../util/u64.ts';
import {
  ACC_FETCH,
  ACC_IMPLICIT,
  ACC_STACK,
  ACC_USER,
  ACC_WRITE,
  formatAccess,
  formatPfec,
  pagingState,
  translate,
  type PagingMode,
  type PhysMem,
  type TranslateResult,
  type WalkLevel,
} from '../../mmu/index.ts';
import { VECTOR_NAMES } from '../../arch/x86/exceptions.ts';

const HELP = `usage: tsvmm mmu explain --image FILE[@BASE] [--image …] --cr3 X --addr LA [options]
Walk the page tables in the image for one linear address and explain the result.
  --image FILE[@BASE]    raw physical memory: FILE's bytes at physical BASE (default 0); repeatable.
                         Reads outside every image return all-ones (unbacked memory).
  --mode M               32bit | pae | 4level | 5level: sets CR0.PG|PE and CR4.PAE/LA57, EFER.LME|LMA
                         (the bits are ORed into --cr0/--cr4/--efer; without --mode those decide)
  --cr3 X                CR3 (PCID bits and NOFLUSH are ignored)
  --addr LA              the linear address (64-bit; hex with 0x)
  --access read|write|fetch   default read
  --user                 a user-mode access (CPL 3); --implicit: an implicit supervisor access
  --stack                an SS-relative reference (#SS instead of #GP for canonical/LASS faults)
  --size N               access size in bytes for the canonical/LASS checks (default 1)
  --cr0 X --cr4 X --efer X --pkru X   register values (e.g. --cr4 0x300020 for PAE|SMEP|SMAP)
  --ac                   RFLAGS.AC=1
  --maxphyaddr N         guest MAXPHYADDR (default 36)
  --no-gbpages           the guest lacks 1-GiB pages
  --amd                  AMD-compatible guest (PML4E/PML5E bit 8 reserved)
  --json                 machine-readable output`;

const TOP_HELP = `usage: tsvmm mmu explain [options]
  explain    walk a page-table image for one linear address: every level, the rights, the fault
tsvmm mmu explain --help for options.`;

const OPTIONS = {
  image: { type: 'string', multiple: true },
  mode: { type: 'string' },
  cr3: { type: 'string' },
  addr: { type: 'string' },
  access: { type: 'string' },
  user: { type: 'boolean' },
  implicit: { type: 'boolean' },
  stack: { type: 'boolean' },
  size: { type: 'string' },
  cr0: { type: 'string' },
  cr4: { type: 'string' },
  efer: { type: 'string' },
  pkru: { type: 'string' },
  ac: { type: 'boolean' },
  maxphyaddr: { type: 'string' },
  'no-gbpages': { type: 'boolean' },
  amd: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function usageError(msg: string): TsvmmError {
  return new TsvmmError('MMU_USAGE', msg);
}

function num64(name: string, text: string | undefined, dflt: bigint): bigint {
  if (text === undefined) return dflt;
  const v = parseU64(text);
  if (v === undefined) throw usageError(`--${name}: '${text}' is not a 64-bit number (decimal, 0x hex or 0b binary)`);
  return v;
}

function lo32(v: bigint): number {
  return Number(v & 0xffffffffn) | 0;
}
function hi32(v: bigint): number {
  return Number((v >> 32n) & 0xffffffffn) | 0;
}

interface Image {
  file: string;
  base: number;
  bytes: Uint8Array;
}

/** Physical memory made of the images; unbacked reads return all-ones. A/D writes stay in memory. */
class ImageMem implements PhysMem {
  constructor(readonly images: readonly Image[]) {}
  private find(pa: number): { img: Image; off: number } | undefined {
    for (const img of this.images) if (pa >= img.base && pa + 4 <= img.base + img.bytes.length) return { img, off: pa - img.base };
    return undefined;
  }
  backed(pa: number): boolean {
    return this.find(pa) !== undefined;
  }
  readU32(pa: number): number {
    const f = this.find(pa);
    if (!f) return 0xffffffff;
    const b = f.img.bytes;
    return (b[f.off]! | (b[f.off + 1]! << 8) | (b[f.off + 2]! << 16) | (b[f.off + 3]! << 24)) >>> 0;
  }
  writeU32(pa: number, v: number): void {
    const f = this.find(pa);
    if (!f) return;
    const b = f.img.bytes;
    for (let i = 0; i < 4; i++) b[f.off + i] = (v >>> (8 * i)) & 0xff;
  }
}

function loadImage(spec: string): Image {
  const at = spec.lastIndexOf('@');
  const file = at > 0 ? spec.slice(0, at) : spec;
  let base = 0;
  if (at > 0) {
    const b = parseU64(spec.slice(at + 1));
    if (b === undefined || b >= 1n << 52n || (b & 3n) !== 0n)
      throw usageError(`--image ${spec}: the base must be a 4-byte-aligned physical address below 2^52`);
    base = Number(b);
  }
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(readFileSync(file));
  } catch (e) {
    throw new TsvmmError('MMU_IMAGE', `--image: cannot read '${file}': ${(e as Error).message}`);
  }
  if (bytes.length === 0) throw new TsvmmError('MMU_IMAGE', `--image: '${file}' is empty`);
  return { file, base, bytes };
}

const MODE_BITS: Record<string, { cr0: bigint; cr4: bigint; cr4Clear: bigint; efer: bigint; eferClear: bigint }> = {
  '32bit': { cr0: 0x8000_0001n, cr4: 0n, cr4Clear: 0x1020n, efer: 0n, eferClear: 0x500n },
  pae: { cr0: 0x8000_0001n, cr4: 0x20n, cr4Clear: 0x1000n, efer: 0n, eferClear: 0x500n },
  '4level': { cr0: 0x8000_0001n, cr4: 0x20n, cr4Clear: 0x1000n, efer: 0x500n, eferClear: 0n },
  '5level': { cr0: 0x8000_0001n, cr4: 0x1020n, cr4Clear: 0n, efer: 0x500n, eferClear: 0n },
};

function hex(v: number | bigint, width = 0): string {
  return '0x' + (typeof v === 'bigint' ? v : BigInt(v >>> 0)).toString(16).padStart(width, '0');
}

function entryFlags(l: WalkLevel, wide: boolean): string {
  const f: string[] = [];
  const lo = l.lo;
  if (lo & 1) f.push('P');
  if (lo & 2) f.push('RW');
  if (lo & 4) f.push('US');
  if (lo & 8) f.push('PWT');
  if (lo & 16) f.push('PCD');
  if (lo & 32) f.push('A');
  if (l.leaf && lo & 64) f.push('D');
  if (lo & 128) f.push(l.level === 1 ? 'PAT' : 'PS');
  if (l.leaf && lo & 256) f.push('G');
  if (wide && l.hi >>> 31) f.push('XD');
  if (wide && l.leaf && (l.hi >>> 27) & 15) f.push(`PKEY=${(l.hi >>> 27) & 15}`);
  return f.join(' ');
}

function render(r: TranslateResult, mem: ImageMem, la: bigint, access: number, cr3: bigint): string {
  const wide = r.mode !== '32bit';
  const lines = [`mode ${r.mode}  CR3=${hex(cr3)}  ${formatAccess(access)} at ${hex(la, 16)}`];
  for (const l of r.levels) {
    const value = wide ? (BigInt(l.hi) << 32n) | BigInt(l.lo) : BigInt(l.lo);
    const where = r.mode === 'pae' && l.level === 3 ? 'PDPTE register (loaded from ' + hex(l.entryAddress) + ')' : '@' + hex(l.entryAddress);
    const unbacked = mem.backed(l.entryAddress) ? '' : '  [outside every image: read as all-ones]';
    const rights = `→ ${l.user ? 'U' : 'S'} ${l.writable ? 'W' : 'R'} ${l.executeDisable ? 'NX' : 'X'}`;
    lines.push(`  ${l.name.padEnd(5)} ${where} = ${hex(value, wide ? 16 : 8)}  ${entryFlags(l, wide) || '(not present)'}  ${l.present ? rights : ''}${unbacked}`);
    if (l.reservedBits.length) lines.push(`        reserved bit(s) set: ${l.reservedBits.join(', ')}`);
  }
  if (r.ok) {
    const size = r.pageSize === 0 ? 'paging off' : r.pageSize >= 1 << 20 ? `${r.pageSize / (1 << 20)} MiB page` : `${r.pageSize / 1024} KiB page`;
    const rt = r.rights;
    lines.push(
      `→ physical ${hex(BigInt(r.physical))} (${size}); rights: ${rt.user ? 'user' : 'supervisor'}, ${rt.writable ? 'writable' : 'read-only'}, ${rt.executeDisable ? 'execute-disable' : 'executable'}${rt.global ? ', global' : ''}${rt.pkey ? `, key ${rt.pkey}` : ''}`,
    );
    if (r.adUpdates.length) lines.push(`  the access sets ${r.adUpdates.join(', ')}`);
  } else {
    const name = VECTOR_NAMES[r.vector] ?? `vector ${r.vector}`;
    lines.push(`→ ${name}, error code ${hex(r.errorCode)}${r.vector === 14 ? ` (${formatPfec(r.errorCode)}), CR2=${hex((BigInt(r.cr2Hi) << 32n) | BigInt(r.cr2Lo), 16)}` : ''}`);
    lines.push(`  ${r.reason}`);
  }
  return lines.join('\n');
}

function explain(args: string[], io: CliIo): number {
  let values: Record<string, unknown>;
  let positionals: string[];
  try {
    const p = parseArgs({ args, options: OPTIONS, allowPositionals: true, strict: true });
    values = p.values;
    positionals = p.positionals;
  } catch (e) {
    io.err(`tsvmm mmu explain: ${(e as Error).message}\n${HELP}`);
    return EXIT_USAGE;
  }
  if (values.help) {
    io.out(HELP);
    return EXIT_OK;
  }
  if (positionals.length) throw usageError(`unexpected argument '${positionals[0]}'`);
  const s = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const images = (values.image as string[] | undefined) ?? [];
  if (images.length === 0) throw usageError('--image FILE[@BASE] is required');
  if (s('cr3') === undefined) throw usageError('--cr3 is required');
  if (s('addr') === undefined) throw usageError('--addr is required');
  let cr0 = num64('cr0', s('cr0'), 0n);
  let cr4 = num64('cr4', s('cr4'), 0n);
  let efer = num64('efer', s('efer'), 0n);
  const mode = s('mode');
  if (mode !== undefined) {
    const m = MODE_BITS[mode];
    if (!m) throw usageError(`--mode must be one of ${Object.keys(MODE_BITS).join(', ')}, got '${mode}'`);
    cr0 |= m.cr0;
    cr4 = (cr4 | m.cr4) & ~m.cr4Clear;
    efer = (efer | m.efer) & ~m.eferClear;
  }
  const cr3 = num64('cr3', s('cr3'), 0n) & ~(1n << 63n);
  const la = num64('addr', s('addr'), 0n);
  const pkru = num64('pkru', s('pkru'), 0n);
  if (pkru > 0xffffffffn) throw usageError('--pkru is a 32-bit register');
  const accessName = s('access') ?? 'read';
  if (!['read', 'write', 'fetch'].includes(accessName)) throw usageError(`--access must be read, write or fetch, got '${accessName}'`);
  if (values.user && values.implicit) throw usageError('--user and --implicit are exclusive (implicit accesses are supervisor-mode)');
  if (accessName === 'fetch' && values.implicit) throw usageError('an instruction fetch cannot be an implicit supervisor access');
  const access =
    (accessName === 'write' ? ACC_WRITE : 0) |
    (accessName === 'fetch' ? ACC_FETCH : 0) |
    (values.user ? ACC_USER : 0) |
    (values.implicit ? ACC_IMPLICIT : 0) |
    (values.stack ? ACC_STACK : 0);
  const maxText = s('maxphyaddr');
  const maxPhyAddr = maxText === undefined ? 36 : Number(maxText);
  if (!Number.isInteger(maxPhyAddr) || maxPhyAddr < 32 || maxPhyAddr > 52) throw usageError(`--maxphyaddr must be an integer 32..52, got '${maxText}'`);
  const sizeText = s('size');
  const size = sizeText === undefined ? 1 : Number(sizeText);
  if (!Number.isInteger(size) || size < 1 || size > 4096) throw usageError(`--size must be an integer 1..4096, got '${sizeText}'`);

  const mem = new ImageMem(images.map(loadImage));
  const state = pagingState({
    cr0: lo32(cr0),
    cr3Lo: lo32(cr3),
    cr3Hi: hi32(cr3),
    cr4: lo32(cr4),
    efer: lo32(efer),
    ac: values.ac === true,
    cpl: values.user ? 3 : 0,
    pkru: lo32(pkru),
    maxPhyAddr,
    gbpages: values['no-gbpages'] !== true,
    vendorAmd: values.amd === true,
  });
  const r = translate(state, mem, lo32(la), hi32(la), access, size);
  if (values.json) {
    io.out(
      JSON.stringify(
        {
          input: { mode: r.mode as PagingMode, cr0: hex(cr0), cr3: hex(cr3), cr4: hex(cr4), efer: hex(efer), addr: hex(la, 16), access: formatAccess(access) },
          result: r,
        },
        null,
        2,
      ),
    );
  } else io.out(render(r, mem, la, access, cr3));
  return r.ok ? EXIT_OK : EXIT_FAILURE;
}

export const command: Command = {
  summary: 'walk a page-table image for one linear address and explain the translation or fault',
  async run(args: string[], io: CliIo): Promise<number> {
    const [sub, ...rest] = args;
    if (!sub || sub === '--help' || sub === '-h' || sub === 'help') {
      io.out(TOP_HELP);
      return sub ? EXIT_OK : EXIT_USAGE;
    }
    if (sub !== 'explain') {
      io.err(`tsvmm mmu: unknown subcommand '${sub}'\n${TOP_HELP}`);
      return EXIT_USAGE;
    }
    return explain(rest, io);
  },
};
