// GNU objdump as the oracle for the decoder and the Intel-syntax disassembler (issue #5): a generated
// corpus of encodings (every instruction-table row under prefix sets and ModRM/SIB/displacement
// shapes, every combination of the prefix groups on representative encodings, every x87 form; in
// 64-, 32- and 16-bit mode), objdump's text for each, and the written-down
// normalizations between objdump's spelling and ours. Intel SDM Vol. 2 ch. 2 (instruction format).
// Used by decoder.test.ts; needs `objdump` (GNU binutils) on PATH.

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { INSN_TABLE } from './spec/table.ts';

export type Bits = 16 | 32 | 64;

/** each case sits at a STRIDE-aligned address of the image objdump reads */
export const STRIDE = 32;

export function haveObjdump(): boolean {
  return spawnSync('objdump', ['--version']).status === 0;
}

const PREFIXES: Record<Bits, number[][]> = {
  64: [[], [0x66], [0x67], [0xf3], [0xf2], [0x48], [0x66, 0x48], [0x67, 0x41], [0x2e], [0x64, 0x66], [0xf0], [0x48, 0x66], [0x44], [0x4c, 0x65], [0x42], [0x40]],
  32: [[], [0x66], [0x67], [0xf3], [0xf2], [0x2e], [0x64, 0x66], [0xf0], [0x26, 0x67], [0x36]],
  16: [[], [0x66], [0x67], [0xf3], [0xf2], [0x2e], [0x65, 0x66], [0xf0], [0x26, 0x67], [0x3e]],
};
const MODRMS = [[0x00], [0x05, 1, 2, 3, 4], [0x04, 0x25, 1, 2, 3, 4], [0x44, 0x88, 0x10], [0x84, 0x48, 1, 2, 3, 0x84], [0x41, 0x7f], [0xc1], [0xd8], [0x3c, 0x24],
  [0x46, 0xf0], [0x06, 0x34, 0x12], [0x04, 0x65, 0xf0, 0xff, 0xff, 0xff], [0x04, 0x20], [0xfa], [0x87, 0x00, 0x00, 0x00, 0x80]];

/** representative encodings (opcode + ModRM/SIB/disp/imm) of each operand shape, for the prefix product */
const SHAPES = [
  '01 44 88 10', '80 44 88 10 7f', '81 84 88 11 22 33 44', '8b 05 11 22 33 44', 'a1', 'a5', 'a7', 'ab', 'ad', 'af', '6d', '6e',
  '74 10', '0f 84 11 22 33 44', 'e8 11 22 33 44', 'ff 54 88 10', 'ff 6c 88 10', '68 11 22 33 44', '6a 80', '50', 'c2 11 22', 'cb',
  '8d 44 88 10', '0f b6 44 88 10', '0f ba 64 88 10 05', '87 44 88 10', '0f c7 4c 88 10', 'd9 44 88 10', 'dd 64 88 10', 'd9 c9',
  '0f 10 44 88 10', '0f 6f 44 88 10', '0f 7e c1', '0f 38 00 44 88 10', '0f 3a 0f 44 88 10 05', '0f 38 f1 44 88 10', '0f c2 44 88 10 01',
  '0f ae 7c 88 10', '0f c7 f0', 'c4 e2 78 f2 44 88 10', '90', 'e4 11', '98', '0f 01 10', '8c 5c 88 10', '0f 20 c0', 'c7 44 88 10 11 22 33 44',
];

/** Every table row (legacy and VEX) under prefixes × ModRM shapes, deduplicated, for `bits`-bit code. */
export function corpus(bits: Bits): Uint8Array[] {
  const out: Uint8Array[] = [];
  const seen = new Set<string>();
  for (const r of INSN_TABLE) {
    if (r.op === 'FWAIT') continue; // objdump folds FWAIT into the x87 instruction that follows
    if (bits === 64 && r.modes === 'no64') continue;
    if (bits !== 64 && r.modes === 'only64') continue;
    const lead = r.map === '1' ? [] : r.map === '0F' ? [0x0f] : r.map === '0F38' ? [0x0f, 0x38] : [0x0f, 0x3a];
    const opcs = r.plusR ? [r.opcode, r.opcode + 1, r.opcode + 5] : [r.opcode];
    const mand = r.prefix && r.prefix !== 'none' ? parseInt(r.prefix, 16) : -1;
    for (const opc of opcs) {
      // every prefix set with the first four ModRM shapes, every ModRM shape with the first three prefix sets
      const combos: [number[], number[]][] = [];
      const prefixes = r.vex ? [[]] : PREFIXES[bits];
      prefixes.forEach((p, pi) => MODRMS.forEach((m, mi) => { if (mi < 4 || pi < 3) combos.push([p, m]); }));
      for (const [p, m] of combos) {
        {
          let mm = m;
          if (r.digit !== undefined) mm = [(m[0]! & 0xc7) | (r.digit << 3), ...m.slice(1)];
          if (r.rm !== undefined) mm = [0xc0 | ((r.digit ?? 0) << 3) | r.rm];
          let head: number[];
          if (r.vex) {
            // 3-byte VEX: R̄X̄B̄ = 111, map, W per case, vvvv = ~2 (edx), L = 0, pp from the mandatory prefix
            const mapSel = r.map === '0F' ? 1 : r.map === '0F38' ? 2 : 3;
            const pp = mand === 0x66 ? 1 : mand === 0xf3 ? 2 : mand === 0xf2 ? 3 : 0;
            head = [0xc4, 0xe0 | mapSel, (m[0]! & 1 ? 0x80 : 0) | (0xd << 3) | pp, opc];
          } else {
            // the mandatory prefix goes before a REX (REX must come last)
            const rexAt = p.findIndex((b) => (b & 0xf0) === 0x40 && bits === 64);
            const pre = mand < 0 ? p : rexAt >= 0 && rexAt === p.length - 1 ? [...p.slice(0, rexAt), mand, p[rexAt]!] : [...p, mand];
            head = [...pre, ...lead, opc];
          }
          const bytes = [...head, ...mm, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88].slice(0, 15);
          const key = bytes.join(',');
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(Uint8Array.from(bytes));
        }
      }
    }
  }
  // every combination of one prefix from each group (segment, 66, 67, F2/F3, LOCK, REX) on
  // representative encodings of each operand shape
  const groups: number[][] = [[-1, 0x2e, 0x64], [-1, 0x66], [-1, 0x67], [-1, 0xf2, 0xf3], [-1, 0xf0], bits === 64 ? [-1, 0x40, 0x48, 0x45] : [-1]];
  let combos: number[][] = [[]];
  for (const g of groups) combos = combos.flatMap((c) => g.map((b) => (b < 0 ? c : [...c, b])));
  for (const t of SHAPES) {
    const body = t.split(' ').map((x) => parseInt(x, 16));
    for (const c of combos) {
      const bytes = [...c, ...body, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88].slice(0, 15);
      const key = bytes.join(',');
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(Uint8Array.from(bytes));
    }
  }
  // x87 (SDM Tables A-7..A-22): every register form and every /digit memory form of D8-DF
  for (let op = 0xd8; op <= 0xdf; op++) {
    for (let m = 0xc0; m <= 0xff; m++) out.push(Uint8Array.from([op, m, 0x11, 0x22]));
    for (let r = 0; r < 8; r++) {
      for (const p of [[], [0x66], [PREFIXES[bits][2]![0]!]]) out.push(Uint8Array.from([...p, op, 0x44 | (r << 3), 0x88, 0x10, 0x11]));
    }
  }
  return out;
}

export interface OdLine {
  /** instruction length objdump decoded at the slot start (prefix-only lines folded in), undefined = (bad) */
  readonly length: number | undefined;
  /** objdump's text with the folded prefix lines in front */
  readonly text: string;
}

/** objdump's decoding of each case (placed at i * STRIDE) in `bits`-bit mode, Intel syntax. */
export function objdumpTexts(cases: Uint8Array[], bits: Bits): OdLine[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-od-'));
  try {
    const img = new Uint8Array(cases.length * STRIDE).fill(0xcc);
    cases.forEach((c, i) => img.set(c, i * STRIDE));
    writeFileSync(join(dir, 'x.bin'), img);
    const arch = bits === 64 ? 'i386:x86-64' : bits === 32 ? 'i386' : 'i8086';
    // intel64: Intel's reading of 66h on near branches (ignored in 64-bit mode), as the interpreter does
    const opts = bits === 64 ? 'intel,intel64' : 'intel';
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-m', arch, '-M', opts, '-w', join(dir, 'x.bin')], { maxBuffer: 1 << 28, encoding: 'utf8' });
    const lines: { addr: number; n: number; text: string }[] = [];
    for (const line of out.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/.exec(line);
      if (m) lines.push({ addr: parseInt(m[1]!, 16), n: m[2]!.trim().split(' ').length, text: (m[3] ?? '').trim() });
    }
    const res: OdLine[] = new Array(cases.length);
    // objdump prints prefixes it considers unused (a REX that is not last, a stray 66/67/F3…) as
    // separate one-byte lines: fold them into the instruction that follows
    for (let i = 0; i < lines.length; i++) {
      const start = lines[i]!.addr;
      if (start % STRIDE !== 0) continue;
      let j = i;
      const parts: string[] = [];
      while (j < lines.length - 1 && lines[j]!.text.split(/\s+/).every((w) => BARE_PREFIX.test(w)) && lines[j + 1]!.addr < start + STRIDE) parts.push(lines[j++]!.text);
      const l = lines[j]!;
      parts.push(l.text);
      res[start / STRIDE] = { length: /\(bad\)|^\.byte/.test(l.text) ? undefined : l.addr + l.n - start, text: parts.join(' ') };
    }
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const BARE_PREFIX = /^(rex(\.[WRXB]+)?|rex2|data16|data32|addr16|addr32|repz|repnz|rep|lock|notrack|bnd|[cdefgs]s)$/;

/**
 * The written-down differences between objdump's text and ours that are naming only, never operands:
 *  1. whitespace: objdump pads the mnemonic to a column; runs of blanks become one.
 *  2. objdump's annotations of prefixes it considers unused or merely noteworthy (rex*, data16/32,
 *     addr16/32, notrack, bnd, a bare segment name, repz/repnz/rep before a non-string instruction):
 *     they name bytes, not operands; our text names only prefixes that change the instruction (lock,
 *     rep on string instructions, segment overrides inside the memory operand).
 *  3. xacquire/xrelease: objdump's names for F2/F3 as HLE hints on a lockable instruction; hints
 *     only (ignored without HLE, SDM Vol. 1 §16.3.2), the instruction and operands are unchanged.
 *  4. the RIP-relative target comment: kept, only its leading blanks are normalized (rule 1).
 * Mnemonic synonyms (jz/je, setz/sete, repz/repe, xchg eax,eax/nop, movabs, cmpltps/cmpps …,1) need no
 * rule: the disassembler prints objdump's choice among the SDM's names.
 */
export function normalize(text: string, isString: boolean): string {
  let words = text.replace(/\s+/g, ' ').trim().split(' ');
  // drop leading annotation prefixes (objdump prints them before the mnemonic)
  const out: string[] = [];
  let i = 0;
  for (; i < words.length - 1; i++) {
    const w = words[i]!;
    if (/^(rex(\.[WRXB]+)?|data16|data32|addr16|addr32|notrack|bnd|[cdefgs]s|xacquire|xrelease)$/.test(w)) continue;
    if (/^(rep|repz|repnz)$/.test(w) && !isString) continue;
    if (w === 'lock' || /^rep/.test(w)) { out.push(w); continue; }
    break;
  }
  words = [...out, ...words.slice(i)];
  return words.join(' ').replace(/\s+#.*$/, (c) => ' ' + c.trim());
}

/**
 * Encodings where objdump and the decoder differ for a reason shown not to be an operand bug of the
 * disassembler, each with its explanation. `undefined` = no known reason: the texts must match.
 * A divergence that names a decoder deviation from the SDM is reported, not hidden: see `DECODER_NOTES`.
 */
export function divergence(bytes: Uint8Array, odText: string, ours: string, bits: Bits, op: string): string | undefined {
  const odMn = odText.replace(/\s+/g, ' ').trim().split(' ').find((w) => !BARE_PREFIX.test(w) && !/^x(acquire|release)$/.test(w)) ?? '';
  if (/^(bnd(ldx|stx|mov|cl|cu|cn|mk)|cldemote)$/.test(odMn)) return 'hint-nop-space';
  if (odMn === 'wbnoinvd' && op === 'WBINVD') return 'wbnoinvd';
  const pfx = prefixBytes(bytes, bits);
  if (pfx.includes(0x66) && (pfx.includes(0xf2) || pfx.includes(0xf3)) && /^(PMISC|PINT|SSE_FP|SSE_MOV|RDFSBASE|WRFSBASE|CRC32)$/.test(op)) return '66-with-f2f3';
  if (/^(RDFSBASE|WRFSBASE)$/.test(op) && pfx.includes(0x66)) return 'fsgsbase-66';
  const odN = normalize(odText, false);
  if (/TBYTE PTR/.test(ours) && /^(CALLF|JMPF|LxS)$/.test(op) && (ours.replace('TBYTE', 'FWORD') === odN || ours.replace('TBYTE', 'DWORD') === odN)) return 'far-pointer-m16:64';
  if (/^(CALL|JMP)$/.test(op) && /\bnotrack\b/.test(odText) && ours.replace('ds:', '') === odN) return 'notrack-ds';
  if (op === 'MOVSXD' && pfx.includes(0x66) && /WORD PTR|,[a-z]{2}$/.test(odText)) return 'movsxd-66-rexw';
  if (/^(JCC|JMP|CALL|LOOP|JRCXZ)$/.test(op) && bits !== 64) {
    const t = /0x([0-9a-f]+)$/.exec(odText);
    const u = /0x([0-9a-f]+)$/.exec(ours);
    if (t && u && (parseInt(t[1]!, 16) & 0xffff) === parseInt(u[1]!, 16)) return 'ip-wraps-at-64k';
  }
  return undefined;
}

/** objdump names for instructions that a mandatory prefix (or a ModRM value) selects out of an NP/NFx row */
const EXTENSION_ALIASES = new Set(['clwb', 'pcommit', 'clflushopt', 'tpause', 'umonitor', 'umwait', 'incsspd', 'incsspq', 'rdsspd', 'rdsspq',
  'senduipi', 'clui', 'stui', 'testui', 'ptwrite', 'wbnoinvd', 'clrssbsy']);

/** What each divergence means (printed by the test and kept in the report). */
export const DIVERGENCES: Record<string, string> = {
  'hint-nop-space': '0F 1A/1B/1C: objdump shows MPX or CLDEMOTE; the table decodes the reserved hint-NOP space (SDM Vol. 2 "NOP", 0F 19-1F /r), as CPUs without those extensions execute it',
  'notrack-ds': '3E on an indirect CALL/JMP: objdump names it the CET NOTRACK prefix and drops the DS segment from the operand; it is also a DS override, which the text shows',
  'wbnoinvd': 'F3 0F 09: objdump shows WBNOINVD; the table has no WBNOINVD row and runs WBINVD, which the SDM ("WBNOINVD") says processors without WBNOINVD do',
  'prefix-ignored': '66/F2 on WBINVD, F2 on BSF/BSR: the SDM defines no other instruction for these prefixes and the rows have no mandatory prefix, so the decoder ignores them (as the CPU does for a prefix with no meaning); objdump prints (bad)',
  '66-with-f2f3': '66 together with F2/F3 on an instruction with a mandatory prefix: the decoder lets F2/F3 select the form (last-wins), objdump also applies 66 to the operands; the SDM leaves the combination reserved',
  'fsgsbase-66': '66 on RDFSBASE/WRFSBASE: the SDM defines only r32/r64 (the decoder uses 32 bits); objdump shows a 16-bit register',
  'far-pointer-m16:64': 'REX.W far pointer (JMP/CALL FAR, LSS/LFS/LGS): the SDM operand is m16:64 (10 bytes, TBYTE; REX.W beats 66h); objdump prints FWORD (DWORD with 66h)',
  'movsxd-66-rexw': '66 with REX.W on MOVSXD: REX.W wins (SDM §2.2.1.2), the source is m32; objdump applies 66 to the source',
  'x87-reserved': 'reserved x87 register encodings (e.g. D9 D8-DF): the table decodes every D8-DF form for its length and the executor reports the unimplemented ones; objdump prints (bad) and so does the text',
  'fence-rm': '0F AE E9-EF/F1-F7/F9-FF: LFENCE/MFENCE/SFENCE with ModRM.rm other than 0; the SDM opcode map (Table A-6, group 15, mod = 11b) names the fence for any rm, objdump only for rm = 0 (66 0F AE F8 is SFENCE to objdump too: the table keeps SFENCE prefix-tolerant)',
  'extension-ud': 'a 66/F2/F3 prefix on an NP/NFx instruction (SDM Vol. 2 §3.1.1.1) that names another instruction (CLWB, CLFLUSHOPT, PTWRITE, CLRSSBSY, INCSSP, TPAUSE, UMONITOR/UMWAIT, SENDUIPI, CLUI/STUI) not in the table: #UD, as for a guest CPUID without the extension',
  'vex-prefix-ud': '66/F2/F3/REX before a VEX prefix: #UD (SDM Vol. 2 §2.3.2); objdump decodes the instruction',
  'lock-ud': 'LOCK on an instruction that is not lockable or has a register destination: #UD (SDM Vol. 2 "LOCK"); objdump prints it',
  'not-in-table': 'VMX/SVM/SGX, AVX, SSE4a (MOVNTSS/SD) and SWAPGS outside 64-bit mode: not in the table (or invalid in this mode), #UD as for a guest CPUID without them; objdump decodes them',
  'prefetch-reg': 'DECODER NOTE: 0F 18 with ModRM.mod = 11b (objdump: nop r32): the table row is memory-only, so the decoder raises #UD; the SDM opcode map (Table A-6, group 16) lists these as reserved NOPs',
  'ip-wraps-at-64k': 'branch with 16-bit operand size: the SDM truncates the target to 16 bits (EIP AND FFFFh); objdump prints the unwrapped address (the target agrees modulo 64 KiB)',
};

/** why the decoder may fault where objdump decodes (undefined = no known reason) */
function faultReason(odText: string, reason: string): string | undefined {
  if (/^LOCK on a non-lockable/.test(reason)) return 'lock-ud';
  const mn = normalize(odText, false).split(' ').find((w) => w !== 'lock') ?? '';
  if (reason === 'prefix before VEX') return 'vex-prefix-ud';
  if (/^(vm[a-z]+|encl[suv]|monitorx|mwaitx|clgi|stgi|skinit|invlpga|movnts[sd])$/.test(mn)) return 'not-in-table';
  if (/^v/.test(mn) && /undefined opcode/.test(reason)) return 'not-in-table';
  if (mn === 'swapgs' && /undefined/.test(reason)) return 'not-in-table';
  if (EXTENSION_ALIASES.has(mn) && /undefined/.test(reason)) return 'extension-ud';
  if (mn === 'nop' && /undefined/.test(reason)) return 'prefetch-reg';
  return undefined;
}

/** why the decoder may accept an encoding objdump calls (bad) (undefined = no known reason) */
function acceptReason(bytes: Uint8Array, bits: Bits, op: string, text: string): string | undefined {
  const pfx = prefixBytes(bytes, bits);
  const mn = text.split(/\s+/)[0] ?? '';
  if (mn === '(bad)') return 'x87-reserved'; // only the x87 names print (bad)
  if (op === 'NOP' && mn === 'nop') return 'hint-nop-space';
  if (/^[slm]fence$/.test(mn) && !pfx.some((b) => b === 0xf2 || b === 0xf3) && (mn === 'sfence' || !pfx.includes(0x66))) return 'fence-rm';
  if ((op === 'WBINVD' && (pfx.includes(0x66) || pfx.includes(0xf2))) || (/^BS[FR]$/.test(op) && pfx.includes(0xf2))) return 'prefix-ignored';
  return undefined;
}

/** the legacy prefix and REX bytes in front of the opcode */
function prefixBytes(bytes: Uint8Array, bits: Bits): number[] {
  const out: number[] = [];
  for (const b of bytes) {
    if ([0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x66, 0x67, 0xf0, 0xf2, 0xf3].includes(b) || (bits === 64 && (b & 0xf0) === 0x40)) out.push(b);
    else break;
  }
  return out;
}

export interface ModeResult {
  /** encodings in the corpus, compared (length and text), decoder faults, objdump "(bad)" */
  total: number; compared: number; faults: number; odBad: number;
  /** known divergences by key (see DIVERGENCES) */
  diverged: Record<string, number>;
  /** unexplained length or text differences */
  mismatches: string[];
  /** faults other than #UD/#GP */
  badFaults: string[];
}

const STRING_OPS = /^(MOVS|CMPS|STOS|LODS|SCAS|INS|OUTS)$/;

/** Decode every corpus encoding of `bits`-bit mode with `decode` and compare with objdump. */
export function compareMode(bits: Bits, decode: (b: Uint8Array, bits: Bits, addr: number) => { length: number; fault?: number; op?: string; text?: string; reason?: string }): ModeResult {
  const cases = corpus(bits);
  const od = objdumpTexts(cases, bits);
  const r: ModeResult = { total: cases.length, compared: 0, faults: 0, odBad: 0, diverged: {}, mismatches: [], badFaults: [] };
  for (let i = 0; i < cases.length; i++) {
    const bytes = cases[i]!;
    const d = decode(bytes, bits, i * STRIDE);
    const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const o = od[i];
    if (d.fault !== undefined) {
      r.faults++;
      if (d.fault !== 6 && d.fault !== 13) r.badFaults.push(`${hex}: fault ${d.fault}`);
      if (o && o.length !== undefined) {
        // objdump decodes what the decoder refuses: only for a documented reason
        const why = faultReason(o.text, d.reason ?? '');
        if (why) r.diverged[why] = (r.diverged[why] ?? 0) + 1;
        else r.mismatches.push(`${hex}: decoder #${d.fault} (${d.reason}), objdump '${normalize(o.text, false)}'`);
      }
      continue;
    }
    if (!o || o.length === undefined) {
      // objdump rejects what the decoder accepts: only for a documented reason
      r.odBad++;
      const why = acceptReason(bytes, bits, d.op ?? '', d.text ?? '');
      if (why) r.diverged[why] = (r.diverged[why] ?? 0) + 1;
      else r.mismatches.push(`${hex}: objdump (bad), decoder '${d.text}' (${d.op})`);
      continue;
    }
    if (o.length !== d.length) { r.mismatches.push(`${hex}: length objdump ${o.length}, decoder ${d.length} (${d.op}) [${o.text}]`); continue; }
    const isStr = STRING_OPS.test(d.op ?? '');
    const a = normalize(o.text, isStr), b = normalize(d.text ?? '', isStr);
    if (a === b) { r.compared++; continue; }
    const why = divergence(bytes, o.text, b, bits, d.op ?? '');
    if (why) { r.diverged[why] = (r.diverged[why] ?? 0) + 1; continue; }
    r.mismatches.push(`${hex}: objdump '${a}', ours '${b}'`);
  }
  return r;
}

export interface LinearResult {
  /** instructions decoded and compared, unexplained differences, #UD/#GP (instructions not in the table) */
  compared: number; mismatches: string[]; faults: number;
}

/**
 * Linear sweep over real machine code (a host library's .text, first `maxBytes`) in 64-bit mode:
 * every instruction both objdump and the decoder accept must have the same length and text. After a
 * decoder fault (an instruction the table lacks: AVX, AVX-512, …) the sweep resumes at objdump's next
 * instruction boundary.
 */
export function compareLinear(code: Uint8Array, decode: (b: Uint8Array, bits: Bits, addr: number) => { length: number; fault?: number; op?: string; text?: string }): LinearResult {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-od-'));
  const od = new Map<number, string>();
  try {
    writeFileSync(join(dir, 'text.bin'), code);
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel,intel64', '-w', join(dir, 'text.bin')], { maxBuffer: 1 << 28, encoding: 'utf8' });
    for (const l of out.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/.exec(l);
      if (m) od.set(parseInt(m[1]!, 16), m[3]!.trim());
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const r: LinearResult = { compared: 0, mismatches: [], faults: 0 };
  let at = 0;
  const resync = (): void => { while (at < code.length && !od.has(at)) at++; };
  while (at < code.length) {
    const d = decode(code.subarray(at, at + 15), 64, at);
    if (d.fault !== undefined) { r.faults++; at++; resync(); continue; }
    const o = od.get(at);
    if (o !== undefined && !/\(bad\)|^\.byte/.test(o) && at + d.length <= code.length) {
      const isStr = STRING_OPS.test(d.op ?? '');
      const a = normalize(o, isStr), b = normalize(d.text ?? '', isStr);
      if (a === b) r.compared++;
      else r.mismatches.push(`+0x${at.toString(16)}: objdump '${a}', ours '${b}'`);
    }
    at += d.length;
    if (!od.has(at)) resync();
  }
  return r;
}
