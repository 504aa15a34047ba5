// Reader and writer for AIDA64 CPUID text dumps, the form the InstLatx64 project publishes for real
// processors. Layout (older and newer AIDA64 versions both occur):
//
//   ------[ CPUID Registers / Logical CPU #0 ]------      (older: "------[ Logical CPU #0 ]------";
//   CPUID 00000000: 00000020-756E6547-6C65746E-49656E69 [GenuineIntel]      some dumps have no headers
//   CPUID 00000004: FC004121-02C0003F-0000003F-00000000 [SL 00] [L1D: 48 KB]   and separate CPUs by
//   CPUID 00000004: FC004122-01C0003F-0000003F-00000000 [SL 01] [L1I: 32 KB]   blank lines only)
//
// Registers are EAX-EBX-ECX-EDX. "[SL nn]" (hex) names the subleaf of a repeated leaf; older dumps omit
// it and list subleaves 0,1,2,... in order, so the n-th repetition of a leaf within a CPU is subleaf n.
// Anything after the registers in brackets is AIDA64's decoding and is ignored. Every logical CPU is
// listed; hybrid parts (Alder/Lunar/Arrow/Panther Lake, Zen 5c mixes) differ per core type.
// Leaf meanings: Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 Appendix E.

import type { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import { KVM_CPUID_FLAG_SIGNIFCANT_INDEX } from '../../arch/x86/cpuid/table.ts';
import {
  countDistinct,
  parseError,
  pickCpu,
  tableFromRecords,
  type ParsedDump,
  type RawRecord,
  type ReadOptions,
} from './format.ts';

const LINE =
  /^CPUID ([0-9A-Fa-f]{8}): ([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})-([0-9A-Fa-f]{8})(.*)$/;
const CPUISH = /^CPUID\s+[0-9A-Fa-f]+\s*:/;
const SL = /^\s*\[SL ([0-9A-Fa-f]{1,8})\]/;
const CPU_HEADER = /^-+\[\s*(?:CPUID Registers\s*\/\s*)?Logical CPU #(\d+)\s*\]-+\s*$/;

export function looksLikeAida64(text: string): boolean {
  return /^CPUID [0-9A-Fa-f]{8}: [0-9A-Fa-f]{8}-/m.test(text);
}

/** Parse every logical CPU's CPUID lines into raw records. */
export function parseAida64Blocks(text: string, source?: string): RawRecord[][] {
  const blocks: RawRecord[][] = [];
  let cur: RawRecord[] | undefined;
  let seen = new Set<string>();
  let occurrences = new Map<number, number>();
  const start = (): void => {
    cur = [];
    blocks.push(cur);
    seen = new Set();
    occurrences = new Map();
  };
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    if (CPU_HEADER.test(raw.trim())) {
      if (!cur || cur.length > 0) start();
      continue;
    }
    if (!raw.startsWith('CPUID')) continue; // headers, MSR sections, cache summaries, APIC tables
    const m = LINE.exec(raw);
    if (!m) {
      if (CPUISH.test(raw)) {
        throw parseError(
          'aida64',
          lineNo,
          `malformed CPUID line (expected "CPUID LLLLLLLL: EAX-EBX-ECX-EDX" with 8 hex digits each): ${JSON.stringify(raw.trim())}`,
          source,
        );
      }
      continue; // "CPUID Manufacturer: ...", "CPUID Revision: ..." in the CPU Info section
    }
    const leaf = parseInt(m[1]!, 16) >>> 0;
    // a headerless dump starts the next CPU when leaf 0 comes round again
    if (!cur || (leaf === 0 && cur.length > 0)) start();
    const block = cur!;
    const nth = occurrences.get(leaf) ?? 0;
    occurrences.set(leaf, nth + 1);
    const rest = m[6]!;
    const sl = SL.exec(rest);
    if (!sl && /\[SL\b/.test(rest.split(']')[0] ?? '')) {
      throw parseError(
        'aida64',
        lineNo,
        `malformed subleaf marker (expected "[SL nn]" in hex): ${JSON.stringify(rest.trim())}`,
        source,
      );
    }
    const subleaf = sl ? parseInt(sl[1]!, 16) >>> 0 : nth;
    const k = `${leaf}:${subleaf}`;
    if (seen.has(k)) {
      throw parseError(
        'aida64',
        lineNo,
        `leaf ${m[1]} subleaf ${subleaf.toString(16).toUpperCase()} appears twice for one logical CPU`,
        source,
      );
    }
    seen.add(k);
    block.push({
      leaf,
      subleaf,
      eax: parseInt(m[2]!, 16) >>> 0,
      ebx: parseInt(m[3]!, 16) >>> 0,
      ecx: parseInt(m[4]!, 16) >>> 0,
      edx: parseInt(m[5]!, 16) >>> 0,
      line: lineNo,
    });
  }
  const nonEmpty = blocks.filter((b) => b.length > 0);
  if (nonEmpty.length === 0)
    throw parseError('aida64', lines.length, 'no "CPUID llllllll: ..." lines found', source);
  return nonEmpty;
}

export function readAida64(text: string, opts: ReadOptions = {}): ParsedDump {
  const blocks = parseAida64Blocks(text, opts.source);
  const tables = blocks.map((b) => tableFromRecords(b));
  const { table, cpu } = pickCpu('aida64', tables, opts.cpu, opts.source);
  const distinct = countDistinct(tables);
  const notes: string[] = [];
  if (tables.length > 1)
    notes.push(`${tables.length} logical CPUs, ${distinct} distinct table(s); using CPU ${cpu}`);
  if (distinct > 1)
    notes.push('per-CPU tables differ beyond APIC IDs (a hybrid part): pick a CPU with --dump-cpu N');
  return {
    format: 'aida64',
    table,
    cpu,
    cpuCount: tables.length,
    distinctTables: distinct,
    lossy: false,
    notes,
    ...(opts.source ? { source: opts.source } : {}),
  };
}

const H = (v: number): string => (v >>> 0).toString(16).toUpperCase().padStart(8, '0');

/** Write tables in the newer AIDA64 layout, with "[SL nn]" on every entry of an indexed leaf. */
export function writeAida64(tables: CpuidTable | readonly CpuidTable[]): string {
  const list = Array.isArray(tables) ? (tables as readonly CpuidTable[]) : [tables as CpuidTable];
  const out: string[] = [];
  list.forEach((t, n) => {
    out.push(`------[ CPUID Registers / Logical CPU #${n} ]------`, '');
    for (const e of t.entries()) {
      const sl =
        e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX
          ? ` [SL ${(e.index >>> 0).toString(16).toUpperCase().padStart(2, '0')}]`
          : '';
      out.push(`CPUID ${H(e.function)}: ${H(e.eax)}-${H(e.ebx)}-${H(e.ecx)}-${H(e.edx)}${sl}`);
    }
    out.push('');
  });
  return out.join('\n');
}
