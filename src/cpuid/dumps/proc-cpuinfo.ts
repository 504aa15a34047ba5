// Reader for Linux /proc/cpuinfo (or just its "flags" line). LOSSY by nature: cpuinfo lists only the
// feature flags the kernel knows and wants to show (plus synthetic ones like rep_good, nopl), after the
// kernel's own disables; it has no leaf values, cache, topology, XSAVE sizes or MAXPHYADDR. The table
// built here holds just those flag bits (at their CPUID locations from the feature database), plus
// leaf 0's vendor and leaf 1's signature when "vendor_id", "cpu family", "model", "stepping" are present.
// Flag names: Linux arch/x86/include/asm/cpufeatures.h; bit locations: Intel SDM Vol. 2A "CPUID",
// AMD APM Vol. 3 Appendix E.

import { CpuidTable } from '../../arch/x86/cpuid/table.ts';
import { CANONICAL_VENDOR_STRING, VENDOR_STRINGS } from '../../arch/x86/cpuid/vendor.ts';
import { lookupFeature } from '../features.ts';
import { countDistinct, parseError, pickCpu, type ParsedDump, type ReadOptions } from './format.ts';

export function looksLikeProcCpuinfo(text: string): boolean {
  return /^flags\s*:/m.test(text);
}

interface CpuBlock {
  flags?: string[];
  flagsLine?: number;
  vendor?: string;
  family?: number;
  model?: number;
  stepping?: number;
}

/** The flag words of every processor block (exported for host-OS-disabled detection). */
export function parseProcCpuinfoBlocks(text: string, source?: string): CpuBlock[] {
  const blocks: CpuBlock[] = [];
  let cur: CpuBlock | undefined;
  const lines = text.split(/\r?\n/);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line.trim() === '') {
      cur = undefined;
      continue;
    }
    const m = /^([A-Za-z][A-Za-z0-9 _()]*?)\s*:\s*(.*)$/.exec(line);
    if (!m)
      throw parseError(
        'proc-cpuinfo',
        i + 1,
        `expected "key : value": ${JSON.stringify(line.trim())}`,
        source,
      );
    const key = m[1]!.trim();
    const value = m[2]!.trim();
    if (!cur || (key === 'processor' && Object.keys(cur).length > 0)) {
      cur = {};
      blocks.push(cur);
    }
    const num = (): number => {
      const n = Number(value);
      if (!/^(0x[0-9a-fA-F]+|\d+)$/.test(value) || !Number.isFinite(n)) {
        throw parseError(
          'proc-cpuinfo',
          i + 1,
          `"${key}" must be a number, got ${JSON.stringify(value)}`,
          source,
        );
      }
      return n;
    };
    if (key === 'flags') {
      if (!/^[a-z0-9_ .-]*$/i.test(value)) {
        throw parseError(
          'proc-cpuinfo',
          i + 1,
          `flags must be space-separated names, got ${JSON.stringify(value.slice(0, 40))}`,
          source,
        );
      }
      cur.flags = value.split(/\s+/).filter((w) => w !== '');
      cur.flagsLine = i + 1;
    } else if (key === 'vendor_id') cur.vendor = value;
    else if (key === 'cpu family') cur.family = num();
    else if (key === 'model') cur.model = num();
    else if (key === 'stepping') cur.stepping = num();
  }
  const withFlags = blocks.filter((b) => b.flags);
  if (withFlags.length === 0)
    throw parseError('proc-cpuinfo', lines.length, 'no "flags :" line found', source);
  return withFlags;
}

function tableOf(b: CpuBlock, unknown: Set<string>): CpuidTable {
  const t = new CpuidTable();
  const vendor = b.vendor && VENDOR_STRINGS[b.vendor] ? b.vendor : undefined;
  if (vendor) {
    const buf = Buffer.from(vendor, 'latin1');
    t.put({
      function: 0,
      index: 0,
      flags: 0,
      eax: 0,
      ebx: buf.readUInt32LE(0),
      edx: buf.readUInt32LE(4),
      ecx: buf.readUInt32LE(8),
    });
  }
  if (b.family !== undefined && b.model !== undefined) {
    const fam = b.family;
    const baseFam = fam >= 0xf ? 0xf : fam;
    const extFam = fam >= 0xf ? fam - 0xf : 0;
    const model = b.model;
    const eax =
      ((extFam & 0xff) << 20) |
      (((model >> 4) & 0xf) << 16) |
      ((baseFam & 0xf) << 8) |
      ((model & 0xf) << 4) |
      ((b.stepping ?? 0) & 0xf);
    t.put({ function: 1, index: 0, flags: 0, eax, ebx: 0, ecx: 0, edx: 0 });
  }
  for (const w of b.flags ?? []) {
    const f = lookupFeature(w);
    if (f) t.setBit(f, true);
    else unknown.add(w);
  }
  return t;
}

export function readProcCpuinfo(text: string, opts: ReadOptions = {}): ParsedDump {
  const blocks = parseProcCpuinfoBlocks(text, opts.source);
  const unknown = new Set<string>();
  const tables = blocks.map((b) => tableOf(b, unknown));
  const { table, cpu } = pickCpu('proc-cpuinfo', tables, opts.cpu, opts.source);
  const notes = [
    'LOSSY: /proc/cpuinfo carries only the feature flags the kernel shows (after its own disables): no leaf values, caches, topology, XSAVE sizes or MAXPHYADDR',
  ];
  if (unknown.size)
    notes.push(
      `${unknown.size} flag(s) are Linux-synthetic or not CPUID bits and were ignored: ${[...unknown].slice(0, 12).join(' ')}${unknown.size > 12 ? ' …' : ''}`,
    );
  if (!table.get(0, 0))
    notes.push(
      `no vendor_id line: the vendor is unknown (canonical strings: ${Object.values(CANONICAL_VENDOR_STRING).join(', ')})`,
    );
  return {
    format: 'proc-cpuinfo',
    table,
    cpu,
    cpuCount: tables.length,
    distinctTables: countDistinct(tables),
    lossy: true,
    notes,
    ...(opts.source ? { source: opts.source } : {}),
  };
}

/** The set of flag words of the first processor (for "what the host OS disabled"). */
export function cpuinfoFlagSet(text: string): Set<string> {
  const b = parseProcCpuinfoBlocks(text)[0]!;
  return new Set((b.flags ?? []).map((w) => w.toLowerCase()));
}
