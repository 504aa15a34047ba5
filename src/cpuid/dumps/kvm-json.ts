// Reader and writer for a JSON form of `struct kvm_cpuid2` (Linux Documentation/virt/kvm/api.rst,
// KVM_GET_SUPPORTED_CPUID / KVM_SET_CPUID2): {"entries": [{function, index, flags, eax, ebx, ecx, edx}]}
// with values as numbers or "0x..." hex strings. A bare array of entries is accepted too. This is the
// form the KVM backend hands over KVM_GET_SUPPORTED_CPUID results in.

import { CpuidTable, type CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import { parseError, type ParsedDump, type ReadOptions } from './format.ts';

export function looksLikeKvmJson(text: string): boolean {
  const t = text.trimStart();
  return t.startsWith('{') || t.startsWith('[');
}

/** 1-based line of each object that opens at `depth` (0 = top level), in document order. */
function objectLines(text: string, depth: number): number[] {
  const out: number[] = [];
  let d = 0;
  let line = 1;
  let inStr = false;
  let esc = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '\n') line++;
    if (inStr) {
      if (esc) esc = false;
      else if (c === '\\') esc = true;
      else if (c === '"') inStr = false;
      continue;
    }
    if (c === '"') inStr = true;
    else if (c === '{' || c === '[') {
      if (c === '{' && d === depth) out.push(line);
      d++;
    } else if (c === '}' || c === ']') d--;
  }
  return out;
}

function lineOfPosition(text: string, pos: number): number {
  let line = 1;
  for (let i = 0; i < pos && i < text.length; i++) if (text[i] === '\n') line++;
  return line;
}

const FIELDS = ['function', 'index', 'flags', 'eax', 'ebx', 'ecx', 'edx'] as const;

function u32(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0xffffffff ? v >>> 0 : undefined;
  if (typeof v === 'string' && /^(0x[0-9a-fA-F]{1,8}|[0-9]{1,10})$/.test(v.trim())) {
    const n = Number(v.trim());
    return n <= 0xffffffff ? n >>> 0 : undefined;
  }
  return undefined;
}

export function readKvmJson(text: string, opts: ReadOptions = {}): ParsedDump {
  const src = opts.source;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    const msg = (e as Error).message;
    const pos = /position (\d+)/.exec(msg);
    const line = pos ? lineOfPosition(text, Number(pos[1])) : (/line (\d+)/.exec(msg)?.[1] ?? 1);
    throw parseError('kvm-json', Number(line), `invalid JSON: ${msg}`, src);
  }
  let list: unknown;
  let depth: number;
  if (Array.isArray(doc)) {
    list = doc;
    depth = 1;
  } else if (doc && typeof doc === 'object' && Array.isArray((doc as { entries?: unknown }).entries)) {
    list = (doc as { entries: unknown[] }).entries;
    depth = 2;
  } else {
    throw parseError(
      'kvm-json',
      1,
      'expected {"entries": [...]} or an array of kvm_cpuid_entry2 objects',
      src,
    );
  }
  const lines = objectLines(text, depth);
  const entries: CpuidEntry[] = [];
  const seen = new Set<string>();
  (list as unknown[]).forEach((raw, i) => {
    const line = lines[i] ?? 1;
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) {
      throw parseError('kvm-json', line, `entry ${i} is not an object`, src);
    }
    const o = raw as Record<string, unknown>;
    const vals: Record<string, number> = {};
    for (const f of FIELDS) {
      if (!(f in o)) {
        if (f === 'index' || f === 'flags') {
          vals[f] = 0;
          continue;
        }
        throw parseError('kvm-json', line, `entry ${i} lacks "${f}"`, src);
      }
      const v = u32(o[f]);
      if (v === undefined) {
        throw parseError(
          'kvm-json',
          line,
          `entry ${i}: "${f}" = ${JSON.stringify(o[f])} is not a 32-bit unsigned value`,
          src,
        );
      }
      vals[f] = v;
    }
    const k = `${vals.function}:${vals.flags! & 1 ? vals.index : 0}`;
    if (seen.has(k)) {
      throw parseError(
        'kvm-json',
        line,
        `entry ${i}: function 0x${vals.function!.toString(16)} index ${vals.index} appears twice`,
        src,
      );
    }
    seen.add(k);
    entries.push({
      function: vals.function!,
      index: vals.index!,
      flags: vals.flags!,
      eax: vals.eax!,
      ebx: vals.ebx!,
      ecx: vals.ecx!,
      edx: vals.edx!,
    });
  });
  if (entries.length === 0) throw parseError('kvm-json', 1, 'no entries', src);
  return {
    format: 'kvm-json',
    table: new CpuidTable(entries),
    cpu: 0,
    cpuCount: 1,
    distinctTables: 1,
    lossy: false,
    notes: [],
    ...(src ? { source: src } : {}),
  };
}

const h8 = (v: number): string => '0x' + (v >>> 0).toString(16).padStart(8, '0');

/** Write a table as {"entries": [...]}, one entry per line, hex strings (the fixture's layout). */
export function writeKvmJson(table: CpuidTable): string {
  const rows = table
    .entries()
    .map(
      (e) =>
        `    {"function": "${h8(e.function)}", "index": "0x${(e.index >>> 0).toString(16)}", "flags": ${e.flags}, "eax": "${h8(e.eax)}", "ebx": "${h8(e.ebx)}", "ecx": "${h8(e.ecx)}", "edx": "${h8(e.edx)}"}`,
    );
  return `{\n  "entries": [\n${rows.join(',\n')}\n  ]\n}\n`;
}
