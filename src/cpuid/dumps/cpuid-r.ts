// Reader and writer for the raw output of Debian's `cpuid` tool (`cpuid -r`, package "cpuid" by Todd
// Allen): one block per logical CPU, headed "CPU n:" ("CPU:" with -1), then one line per leaf/subleaf:
//
//   CPU 0:
//      0x00000007 0x00: eax=0x00000001 ebx=0xf1bf07ab ecx=0x00405fc6 edx=0x00000110
//
// The values are the CPUID instruction's raw outputs (Intel SDM Vol. 2A "CPUID"; AMD APM Vol. 3 E).

import type { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import {
  countDistinct,
  parseError,
  pickCpu,
  tableFromRecords,
  type ParsedDump,
  type RawRecord,
  type ReadOptions,
} from './format.ts';

const HEADER = /^CPU(?:\s+(\d+))?:\s*$/;
const RECORD =
  /^\s*0x([0-9a-fA-F]{8})\s+0x([0-9a-fA-F]{1,8}):\s+eax=0x([0-9a-fA-F]{8})\s+ebx=0x([0-9a-fA-F]{8})\s+ecx=0x([0-9a-fA-F]{8})\s+edx=0x([0-9a-fA-F]{8})\s*$/;

/** Content test used by format detection. */
export function looksLikeCpuidR(text: string): boolean {
  return /^\s*0x[0-9a-fA-F]{8}\s+0x[0-9a-fA-F]{1,8}:\s+eax=0x/m.test(text);
}

/** Parse every CPU block into raw records (exported for tests and baseline tools). */
export function parseCpuidRBlocks(text: string, source?: string): RawRecord[][] {
  const blocks: RawRecord[][] = [];
  let cur: RawRecord[] | undefined;
  let seen = new Set<string>();
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const lineNo = i + 1;
    const t = raw.trim();
    if (t === '' || t.startsWith('#')) continue;
    if (HEADER.test(t)) {
      cur = [];
      blocks.push(cur);
      seen = new Set();
      continue;
    }
    const m = RECORD.exec(raw);
    if (!m) {
      if (/^0x/i.test(t)) {
        throw parseError(
          'cpuid-r',
          lineNo,
          `malformed leaf line (expected "0xLLLLLLLL 0xSS: eax=0x........ ebx=0x........ ecx=0x........ edx=0x........"): ${JSON.stringify(t)}`,
          source,
        );
      }
      throw parseError(
        'cpuid-r',
        lineNo,
        `unexpected line (not a "CPU n:" header or a leaf line): ${JSON.stringify(t)}`,
        source,
      );
    }
    if (!cur) {
      cur = [];
      blocks.push(cur);
    }
    const leaf = parseInt(m[1]!, 16) >>> 0;
    const subleaf = parseInt(m[2]!, 16) >>> 0;
    const k = `${leaf}:${subleaf}`;
    if (seen.has(k)) {
      throw parseError(
        'cpuid-r',
        lineNo,
        `leaf 0x${leaf.toString(16)} subleaf 0x${subleaf.toString(16)} appears twice in one CPU block`,
        source,
      );
    }
    seen.add(k);
    cur.push({
      leaf,
      subleaf,
      eax: parseInt(m[3]!, 16) >>> 0,
      ebx: parseInt(m[4]!, 16) >>> 0,
      ecx: parseInt(m[5]!, 16) >>> 0,
      edx: parseInt(m[6]!, 16) >>> 0,
      line: lineNo,
    });
  }
  const nonEmpty = blocks.filter((b) => b.length > 0);
  if (nonEmpty.length === 0) throw parseError('cpuid-r', lines.length, 'no CPUID leaf lines found', source);
  const emptyIdx = blocks.findIndex((b) => b.length === 0);
  if (emptyIdx >= 0)
    throw parseError('cpuid-r', lines.length, `CPU block #${emptyIdx} has no leaf lines`, source);
  return blocks;
}

export function readCpuidR(text: string, opts: ReadOptions = {}): ParsedDump {
  const blocks = parseCpuidRBlocks(text, opts.source);
  const tables = blocks.map((b) => tableFromRecords(b));
  const { table, cpu } = pickCpu('cpuid-r', tables, opts.cpu, opts.source);
  const distinct = countDistinct(tables);
  const notes: string[] = [];
  if (tables.length > 1)
    notes.push(`${tables.length} logical CPUs, ${distinct} distinct table(s); using CPU ${cpu}`);
  return {
    format: 'cpuid-r',
    table,
    cpu,
    cpuCount: tables.length,
    distinctTables: distinct,
    lossy: false,
    notes,
    ...(opts.source ? { source: opts.source } : {}),
  };
}

const h8 = (v: number): string => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** Write tables in `cpuid -r` form ("CPU n:" blocks). */
export function writeCpuidR(tables: CpuidTable | readonly CpuidTable[]): string {
  const list = Array.isArray(tables) ? (tables as readonly CpuidTable[]) : [tables as CpuidTable];
  const out: string[] = [];
  list.forEach((t, n) => {
    out.push(`CPU ${n}:`);
    for (const e of t.entries()) {
      out.push(
        `   ${h8(e.function)} 0x${(e.index >>> 0).toString(16).padStart(2, '0')}: eax=${h8(e.eax)} ebx=${h8(e.ebx)} ecx=${h8(e.ecx)} edx=${h8(e.edx)}`,
      );
    }
  });
  return out.join('\n') + '\n';
}
