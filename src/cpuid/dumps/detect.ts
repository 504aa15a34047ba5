// Reading a CPUID dump in any supported format, detected from its content (cpuid -r, AIDA64/InstLatx64,
// kvm_cpuid2 JSON, /proc/cpuinfo). See format.ts for the common result and each reader for its format.

import { readFileSync } from 'node:fs';
import { TsvmmError } from '../../util/result.ts';
import { looksLikeAida64, readAida64 } from './aida64.ts';
import { looksLikeCpuidR, readCpuidR } from './cpuid-r.ts';
import type { DumpFormat, ParsedDump, ReadOptions } from './format.ts';
import { looksLikeKvmJson, readKvmJson } from './kvm-json.ts';
import { looksLikeProcCpuinfo, readProcCpuinfo } from './proc-cpuinfo.ts';

/** The format of a dump from its content, or undefined. JSON is tried first, then raw cpuid, AIDA64, cpuinfo. */
export function detectFormat(text: string): DumpFormat | undefined {
  if (looksLikeKvmJson(text)) return 'kvm-json';
  if (looksLikeCpuidR(text)) return 'cpuid-r';
  if (looksLikeAida64(text)) return 'aida64';
  if (looksLikeProcCpuinfo(text)) return 'proc-cpuinfo';
  return undefined;
}

export function readDumpText(text: string, opts: ReadOptions & { format?: DumpFormat } = {}): ParsedDump {
  const format = opts.format ?? detectFormat(text);
  switch (format) {
    case 'kvm-json':
      return readKvmJson(text, opts);
    case 'cpuid-r':
      return readCpuidR(text, opts);
    case 'aida64':
      return readAida64(text, opts);
    case 'proc-cpuinfo':
      return readProcCpuinfo(text, opts);
    case undefined:
      throw new TsvmmError(
        'CPUID_DUMP_FORMAT',
        `${opts.source ?? 'input'}: not a CPUID dump this tool reads (expected \`cpuid -r\` output, an AIDA64/InstLatx64 text dump, kvm_cpuid2 JSON, or /proc/cpuinfo)`,
        { source: opts.source },
      );
  }
}

/** Read a dump file in any supported format. A missing/unreadable file is CPUID_DUMP_READ. */
export function readDumpFile(path: string, opts: ReadOptions & { format?: DumpFormat } = {}): ParsedDump {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new TsvmmError(
      'CPUID_DUMP_READ',
      `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      { path },
    );
  }
  return readDumpText(text, { ...opts, source: opts.source ?? path });
}
