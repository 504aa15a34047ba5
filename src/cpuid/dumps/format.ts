// CPUID dump files: the common result of every reader (raw `cpuid -r`, AIDA64/InstLatx64, KVM
// kvm_cpuid2 JSON, /proc/cpuinfo flags) and the parse-error shape. The table itself is the
// kvm_cpuid_entry2 array of src/arch/x86/cpuid/table.ts (Linux Documentation/virt/kvm/api.rst).

import { CpuidTable, type CpuidEntry } from '../../arch/x86/cpuid/table.ts';
import { TsvmmError } from '../../util/result.ts';
import { indexFlags } from './indexed.ts';

export type DumpFormat = 'cpuid-r' | 'aida64' | 'kvm-json' | 'proc-cpuinfo';

export const DUMP_FORMATS: readonly DumpFormat[] = ['cpuid-r', 'aida64', 'kvm-json', 'proc-cpuinfo'];

export interface ReadOptions {
  /** Which logical CPU to take from a multi-CPU dump (default 0 = the first one listed). */
  readonly cpu?: number;
  /** A name for messages (usually the file path). */
  readonly source?: string;
}

export interface ParsedDump {
  readonly format: DumpFormat;
  /** The chosen logical CPU's table. */
  readonly table: CpuidTable;
  /** The logical CPU the table comes from (its ordinal in the dump). */
  readonly cpu: number;
  /** How many logical CPUs the dump lists. */
  readonly cpuCount: number;
  /**
   * How many different per-CPU tables the dump holds once the per-thread identity fields are masked
   * (initial APIC ID in 1:EBX[31:24], x2APIC IDs in 0xB/0x1F/0x80000026:EDX, 0x8000001E, the
   * thread's HFI row in 6:EDX[31:16]). Above 1 means
   * a hybrid part whose core types enumerate different leaves (e.g. P-cores vs E-cores).
   */
  readonly distinctTables: number;
  /** True when the format cannot carry the whole CPUID (only /proc/cpuinfo flags). */
  readonly lossy: boolean;
  readonly notes: readonly string[];
  readonly source?: string;
}

/** A parse error naming the source, the 1-based line and what is wrong (code CPUID_PARSE). */
export function parseError(format: DumpFormat, line: number, what: string, source?: string): TsvmmError {
  const where = `${source ?? format}:${line}`;
  return new TsvmmError('CPUID_PARSE', `${where}: ${what}`, { format, line, source });
}

/** One raw (leaf, subleaf, regs) record, as read from a dump line. */
export interface RawRecord {
  readonly leaf: number;
  readonly subleaf: number;
  readonly eax: number;
  readonly ebx: number;
  readonly ecx: number;
  readonly edx: number;
  readonly line: number;
}

/** Build a table from raw records, flagging indexed leaves (KVM's list plus any leaf seen with subleaf > 0). */
export function tableFromRecords(records: readonly RawRecord[]): CpuidTable {
  const multi = new Set<number>();
  for (const r of records) if (r.subleaf !== 0) multi.add(r.leaf);
  const entries: CpuidEntry[] = records.map((r) => ({
    function: r.leaf,
    index: r.subleaf,
    flags: indexFlags(r.leaf, multi.has(r.leaf)),
    eax: r.eax,
    ebx: r.ebx,
    ecx: r.ecx,
    edx: r.edx,
  }));
  return new CpuidTable(entries);
}

/** A fingerprint of a table with the per-thread identity fields masked (see ParsedDump.distinctTables). */
export function coreTypeFingerprint(t: CpuidTable): string {
  const parts: string[] = [];
  for (const e of t.entries()) {
    let { eax, ebx, ecx, edx } = e;
    const f = e.function;
    if (f === 1) ebx &= 0x00ffffff;
    if (f === 6) edx &= 0xffff; // 6:EDX[31:16] = this thread's row in the hardware feedback table
    if (f === 0xb || f === 0x1f || f === 0x80000026) edx = 0;
    if (f === 0x8000001e) eax = ebx = ecx = edx = 0;
    parts.push(`${f}:${e.index}:${e.flags}:${eax >>> 0}:${ebx >>> 0}:${ecx >>> 0}:${edx >>> 0}`);
  }
  return parts.join(',');
}

export function countDistinct(tables: readonly CpuidTable[]): number {
  return new Set(tables.map(coreTypeFingerprint)).size;
}

/** Pick CPU `cpu` (default 0) from the per-CPU tables, or fail naming how many there are. */
export function pickCpu(
  format: DumpFormat,
  tables: readonly CpuidTable[],
  cpu: number | undefined,
  source?: string,
): { table: CpuidTable; cpu: number } {
  const n = cpu ?? 0;
  if (!Number.isInteger(n) || n < 0 || n >= tables.length) {
    throw new TsvmmError(
      'CPUID_NO_SUCH_CPU',
      `${source ?? format}: CPU ${cpu} requested but the dump lists ${tables.length} logical CPU(s) (0..${tables.length - 1})`,
      { format, cpu, cpuCount: tables.length },
    );
  }
  return { table: tables[n]!, cpu: n };
}
