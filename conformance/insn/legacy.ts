// The legacy-mode part of the instruction corpus: the table rows that are invalid in 64-bit mode
// (`modes: 'no64'`: DAA, DAS, AAA, AAS, AAM, AAD, INC/DEC 40+r, PUSHA/POPA, BOUND, ARPL, the 82h ALU
// group, INTO, PUSH/POP ES/CS/SS/DS, LES/LDS, far CALL/JMP ptr16:32) run in flat 32-bit protected mode
// (Intel SDM Vol. 3A §9.9.1; each instruction's page in Vol. 2). Same scheme as layout.ts, with 32-bit
// scaffolding: mov [CUR], i; mov esp, IN[i]; POPAD; POPFD; mov esp, [esp] — the instruction — mov
// [OUT.esp], esp; mov esp, &OUT.esp; PUSHFD; PUSHAD; and a 32-bit IDT whose handler records the vector.

import { INSN_TABLE, type InsnRow } from '../../src/vcpu/interp/spec/table.ts';
import { hex } from './encode.ts';
import { AF, CF, OF, PF, SF, STATUS, ZF } from './cases.ts';
import type { FieldDiff } from './compare.ts';
import {
  CODE_ADDR, CODE_SEL, CUR_ADDR, DATA_SEL, IDT_ADDR, IN_BASE, IN_SIZE, MEM_BYTES, NEXT_TABLE, NO_FAULT, OUT_BASE, OUT_ERROR, OUT_FRIP,
  OUT_SIZE, OUT_VECTOR, POISON, SCRATCH_SIZE, STUBS_ADDR, scratchAddr, type GuestImage,
} from './layout.ts';
import type { BackendRun } from './run.ts';

/** dword offset of each 32-bit GPR in the POPAD/PUSHAD image; EFLAGS at 32, ESP at 36 */
const REG_OFF = [28, 24, 20, 16, 36, 8, 4, 0];
const EFLAGS_OFF = 32;
const ESP_OFF = 36;
const NAMES = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi'];
const ERROR_CODE_VECTORS = new Set([8, 10, 11, 12, 13, 14, 17, 21, 29, 30]);
const MEM = 64;
const STACK = 200;
/** mov eax, DATA_SEL; mov ds/es/ss/fs/gs, eax */
const FLAT = [0xb8, DATA_SEL, 0, 0, 0, 0x8e, 0xd8, 0x8e, 0xc0, 0x8e, 0xd0, 0x8e, 0xe0, 0x8e, 0xe8];

export interface LegacyCase {
  readonly row: number;
  readonly code: Uint8Array;
  readonly insnLen: number;
  /** EAX..EDI by register number; [4] = ESP */
  readonly regs: readonly number[];
  readonly eflags: number;
  readonly scratch: Uint8Array;
  /** scratch offsets (dword) that receive the address after the instruction (far CALL/JMP targets) */
  readonly nextAt?: readonly number[];
  readonly post?: readonly number[];
  readonly desc: string;
  readonly flagMask: number;
}

const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
const le16 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff];

const FLAG_BITS: Record<string, bigint> = { CF, PF, AF, ZF, SF, OF, all: STATUS };

/** the flags the row's `undef` names (no legacy row has a count condition) */
function undefMask(r: InsnRow): number {
  let m = 0n;
  for (const p of (r.undef ?? '').split(',')) m |= FLAG_BITS[p.trim()] ?? 0n;
  return Number(m);
}

/** Generate the legacy-mode cases for every no64 row. */
export function generateLegacy(): LegacyCase[] {
  const out: LegacyCase[] = [];
  let seed = 0x12345678;
  const rnd = (): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) | 0;
    return (seed ^ (seed >>> 15)) >>> 0;
  };
  const add = (ri: number, code: number[], o: { regs?: Partial<Record<number, number>>; eflags?: number; mem?: [number, number[]][]; nextAt?: number[]; post?: boolean; insnLen?: number; note?: string } = {}): void => {
    const i = out.length;
    const base = scratchAddr(i);
    const regs = Array.from({ length: 8 }, () => rnd());
    regs[4] = base + STACK;
    for (const [k, v] of Object.entries(o.regs ?? {})) regs[Number(k)] = v! >>> 0;
    const scratch = new Uint8Array(SCRATCH_SIZE);
    for (let k = 0; k < SCRATCH_SIZE; k++) scratch[k] = rnd() & 0xff;
    for (const [off, bytes] of o.mem ?? []) scratch.set(bytes, off);
    const row = INSN_TABLE[ri]!;
    const eflags = (o.eflags ?? 0) | 2;
    out.push({
      row: ri, code: Uint8Array.from(code), insnLen: o.insnLen ?? code.length, regs, eflags, scratch,
      ...(o.nextAt ? { nextAt: o.nextAt } : {}), ...(o.post ? { post: FLAT } : {}),
      desc: `${row.mnemonic} ${row.operands.join(',')} [${hex(Uint8Array.from(code))}] ${o.note ?? ''} fl=${eflags.toString(16)}`,
      flagMask: 0x3fffff & ~undefMask(row),
    });
  };
  const memAbs = (i: number): number[] => le32(scratchAddr(i) + MEM);
  const byteVals = [0x00, 0x01, 0x09, 0x0a, 0x0f, 0x19, 0x7f, 0x80, 0x99, 0x9a, 0xa0, 0xf9, 0xff];
  INSN_TABLE.forEach((r, ri) => {
    if (r.modes !== 'no64') return;
    const F = [0, Number(CF), Number(AF), Number(CF | AF | ZF | SF | OF | PF)];
    switch (r.op) {
      case 'DAA': case 'DAS': case 'AAA': case 'AAS':
        for (const al of byteVals) for (const f of F) add(ri, [r.opcode], { regs: { 0: 0x12340000 | (0x56 << 8) | al }, eflags: f, note: `al=${al.toString(16)}` });
        break;
      case 'AAM': case 'AAD':
        for (const ax of [0x0000, 0x0009, 0x00ff, 0x0963, 0x7f80, 0xffff, 0x1234]) for (const imm of [10, 16, 7, 255, 0]) add(ri, [r.opcode, imm], { regs: { 0: 0xabcd0000 | ax }, eflags: imm === 7 ? Number(STATUS) : 0, note: `ax=${ax.toString(16)} imm=${imm}` });
        break;
      case 'INC': case 'DEC':
        for (const o16 of [false, true]) for (const reg of [0, 1, 2, 3, 5, 6, 7]) for (const v of [0, 1, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff]) add(ri, [...(o16 ? [0x66] : []), r.opcode + reg], { regs: { [reg]: v }, eflags: v & 1 ? Number(STATUS) : 0, note: `o${o16 ? 16 : 32} r${reg}=${v.toString(16)}` });
        break;
      case 'PUSHA': case 'POPA':
        for (const o16 of [false, true]) for (const f of [0, Number(STATUS)]) add(ri, [...(o16 ? [0x66] : []), r.opcode], { eflags: f, note: `o${o16 ? 16 : 32}` });
        break;
      case 'BOUND':
        for (const o16 of [false, true])
          for (const [idx, lo, hi] of [[5, 0, 10], [0, 0, 10], [10, 0, 10], [11, 0, 10], [-1, 0, 10], [-5, -10, -1], [0x7fff, -1, 0x7fff], [0x8000, 0, 0x7fff]] as const) {
            const bounds = o16 ? [...le16(lo), ...le16(hi)] : [...le32(lo), ...le32(hi)];
            add(ri, [...(o16 ? [0x66] : []), 0x62, 0x05 | (2 << 3), ...memAbs(out.length)], { regs: { 2: o16 ? (0xabcd0000 | (idx & 0xffff)) : idx }, mem: [[MEM, bounds]], note: `o${o16 ? 16 : 32} edx=${idx} [${lo},${hi}]` });
          }
        break;
      case 'ARPL':
        for (const form of ['reg', 'mem'])
          for (const [dst, src] of [[0x10, 0x13], [0x13, 0x10], [0x0b, 0x0b], [0xfff9, 0x0002], [0x0008, 0xffff]] as const) {
            const modrm = form === 'reg' ? [0xc0 | (1 << 3) | 3] : [0x05 | (1 << 3), ...memAbs(out.length)];
            add(ri, [0x63, ...modrm], { regs: { 3: 0x55550000 | dst, 1: 0x66660000 | src }, mem: [[MEM, le16(dst)]], note: `${form} dst=${dst.toString(16)} src=${src.toString(16)}` });
          }
        break;
      case 'ALU': // 82 /digit ib
        for (const [a, b] of [[0, 0], [0x7f, 1], [0x80, 0xff], [0xff, 1], [0x5a, 0xa5]] as const)
          for (const f of [0, Number(STATUS)]) {
            add(ri, [0x82, 0xc0 | (r.digit! << 3) | 3, b], { regs: { 3: 0x11112200 | a }, eflags: f, note: `reg bl=${a.toString(16)} imm=${b.toString(16)}` });
            add(ri, [0x82, 0x05 | (r.digit! << 3), ...memAbs(out.length), b], { mem: [[MEM, [a]]], eflags: f, note: `mem=${a.toString(16)} imm=${b.toString(16)}` });
          }
        break;
      case 'INTO':
        for (const f of [0, Number(OF), Number(STATUS)]) add(ri, [0xce], { eflags: f });
        break;
      case 'PUSH_SEG':
        // a 32-bit push of a segment register writes either the zero-extended selector or only its
        // 16 bits (SDM Vol. 2B PUSH, both are allowed): the slot's upper half starts as zero so the two agree
        for (const o16 of [false, true]) add(ri, [...(o16 ? [0x66] : []), r.opcode], { mem: [[STACK - 4, [0x5a, 0x5a, 0, 0]]], note: `o${o16 ? 16 : 32}` });
        break;
      case 'POP_SEG':
        for (const sel of [DATA_SEL, 0, 0x08, 0x18, 0x13]) add(ri, [r.opcode], { mem: [[STACK, le32(0xabcd0000 | sel)]], post: true, note: `sel=${sel.toString(16)}` });
        break;
      case 'LxS':
        for (const o16 of [false, true])
          for (const sel of [DATA_SEL, 0, 0x08]) {
            const ptr = o16 ? [...le16(0x1234), ...le16(sel)] : [...le32(0x89abcdef), ...le16(sel)];
            add(ri, [...(o16 ? [0x66] : []), r.opcode, 0x05 | (6 << 3), ...memAbs(out.length)], { mem: [[MEM, ptr]], post: true, note: `o${o16 ? 16 : 32} sel=${sel.toString(16)}` });
          }
        break;
      case 'CALLF': case 'JMPF':
        // ptr16:32 to CODE_SEL:next (the offset is patched once the address is known)
        for (const f of [0, Number(STATUS)]) add(ri, [r.opcode, 0, 0, 0, 0, ...le16(CODE_SEL)], { eflags: f, nextAt: [-1] });
        break;
      default:
        throw new Error(`legacy row ${r.mnemonic} (${r.op}) has no generator`);
    }
  });
  return out;
}

/** Lay the legacy cases out as one 32-bit guest (same regions as layout.ts). */
export function buildLegacyImage(cases: readonly LegacyCase[]): GuestImage {
  const memory = new Uint8Array(MEM_BYTES);
  const dv = new DataView(memory.buffer);
  const common = STUBS_ADDR + 0x1000;
  for (let v = 0; v < 256; v++) {
    const stub = STUBS_ADDR + 16 * v;
    const at = IDT_ADDR + 8 * v; // 32-bit interrupt gate (SDM Vol. 3A Figure 6-2)
    dv.setUint16(at, stub & 0xffff, true);
    dv.setUint16(at + 2, CODE_SEL, true);
    dv.setUint8(at + 5, 0x8e);
    dv.setUint16(at + 6, stub >>> 16, true);
    const s: number[] = ERROR_CODE_VECTORS.has(v) ? [] : [0x6a, 0x00];
    s.push(0x68, ...le32(v));
    s.push(0xe9, ...le32(common - (stub + s.length + 5)));
    memory.set(s, stub);
  }
  // the handler first reloads DS/ES (a case may have loaded a null or code selector), then as layout.ts
  memory.set([
    0xb8, ...le32(DATA_SEL), 0x8e, 0xd8, 0x8e, 0xc0,
    0xa1, ...le32(CUR_ADDR), 0x69, 0xc0, ...le32(OUT_SIZE), 0x05, ...le32(OUT_BASE),
    0x59, 0x89, 0x88, ...le32(OUT_VECTOR), 0x59, 0x89, 0x88, ...le32(OUT_ERROR), 0x59, 0x89, 0x88, ...le32(OUT_FRIP),
    0xa1, ...le32(CUR_ADDR), 0x8b, 0x04, 0xc5, ...le32(NEXT_TABLE + 8), 0xff, 0xe0,
  ], common);
  let pc = CODE_ADDR;
  const insnAddr: number[] = [];
  const caseAddr: number[] = [];
  cases.forEach((k, i) => {
    caseAddr.push(pc);
    const pro = [0xc7, 0x05, ...le32(CUR_ADDR), ...le32(i), 0xbc, ...le32(IN_BASE + i * IN_SIZE), 0x61, 0x9d, 0x8b, 0x24, 0x24];
    memory.set(pro, pc);
    pc += pro.length;
    insnAddr.push(pc);
    const next = pc + k.insnLen;
    const code = k.code.slice();
    const scratch = k.scratch.slice();
    for (const at of k.nextAt ?? []) {
      if (at === -1) new DataView(code.buffer).setUint32(1, next, true); // the ptr16:32 of 9A/EA
      else new DataView(scratch.buffer).setUint32(at, next, true);
    }
    memory.set(code, pc);
    pc += code.length;
    const out = OUT_BASE + i * OUT_SIZE;
    // mov ss:[OUT.esp], esp (SS: DS may hold what the case loaded; `post` restores DS/ES/FS/GS)
    const epi = [0x36, 0x89, 0x25, ...le32(out + ESP_OFF), 0xbc, ...le32(out + ESP_OFF), 0x9c, 0x60, ...(k.post ?? [])];
    memory.set(epi, pc);
    pc += epi.length;
    const rec = IN_BASE + i * IN_SIZE;
    k.regs.forEach((v, r) => dv.setUint32(rec + REG_OFF[r]!, v, true));
    dv.setUint32(rec + EFLAGS_OFF, k.eflags, true);
    memory.set(scratch, scratchAddr(i));
    for (let q = 0; q < OUT_VECTOR / 8; q++) dv.setBigUint64(out + q * 8, POISON, true);
    dv.setBigUint64(out + OUT_VECTOR, NO_FAULT, true);
  });
  caseAddr.push(pc);
  memory.set([0xf4, 0xeb, 0xfd], pc);
  caseAddr.forEach((a, i) => dv.setUint32(NEXT_TABLE + 8 * i, a, true));
  return { memory, count: cases.length, insnAddr };
}

export type LegacyOutcome = { kind: 'ok' } | { kind: 'fault'; vector: number; error: number; eip: number } | { kind: 'unavailable'; why: string } | { kind: 'missing' };

export function legacyOutcome(run: BackendRun, i: number): LegacyOutcome {
  const why = run.failed.get(i);
  if (why !== undefined) return { kind: 'unavailable', why };
  const dv = new DataView(run.out.buffer, run.out.byteOffset + i * OUT_SIZE, OUT_SIZE);
  const v = dv.getUint32(OUT_VECTOR, true);
  if (v !== Number(NO_FAULT)) return { kind: 'fault', vector: v, error: dv.getUint32(OUT_ERROR, true), eip: dv.getUint32(OUT_FRIP, true) };
  if (dv.getUint32(EFLAGS_OFF, true) === Number(POISON & 0xffffffffn)) return { kind: 'missing' };
  return { kind: 'ok' };
}

const h = (v: number): string => '0x' + (v >>> 0).toString(16);

/** Compare legacy case i of two runs (both ran it): outcome, the 8 GPRs, EFLAGS (masked), scratch memory. */
export function compareLegacy(c: LegacyCase, i: number, a: BackendRun, b: BackendRun): FieldDiff[] {
  const oa = legacyOutcome(a, i), ob = legacyOutcome(b, i);
  const fmt = (o: LegacyOutcome): string => (o.kind === 'fault' ? `#${o.vector}` : o.kind === 'ok' ? 'completed' : o.kind);
  if (oa.kind !== ob.kind || (oa.kind === 'fault' && ob.kind === 'fault' && oa.vector !== ob.vector)) return [{ field: 'outcome', a: fmt(oa), b: fmt(ob) }];
  const diffs: FieldDiff[] = [];
  const sa = a.scratch.subarray(i * SCRATCH_SIZE, (i + 1) * SCRATCH_SIZE), sb = b.scratch.subarray(i * SCRATCH_SIZE, (i + 1) * SCRATCH_SIZE);
  if (oa.kind === 'fault' && ob.kind === 'fault') {
    if (oa.error !== ob.error) diffs.push({ field: 'error code', a: h(oa.error), b: h(ob.error) });
    if (oa.eip !== ob.eip) diffs.push({ field: 'fault eip', a: h(oa.eip), b: h(ob.eip) });
    for (let k = 0; k < SCRATCH_SIZE / 2; k++) if (sa[k] !== sb[k]) { diffs.push({ field: `mem[${k}]`, a: h(sa[k]!), b: h(sb[k]!) }); break; }
    return diffs;
  }
  const da = new DataView(a.out.buffer, a.out.byteOffset + i * OUT_SIZE, OUT_SIZE), db = new DataView(b.out.buffer, b.out.byteOffset + i * OUT_SIZE, OUT_SIZE);
  for (let r = 0; r < 8; r++) {
    const va = da.getUint32(REG_OFF[r]!, true), vb = db.getUint32(REG_OFF[r]!, true);
    if (va !== vb) diffs.push({ field: NAMES[r]!, a: h(va), b: h(vb) });
  }
  const fa = da.getUint32(EFLAGS_OFF, true) & c.flagMask, fb = db.getUint32(EFLAGS_OFF, true) & c.flagMask;
  if (fa !== fb) diffs.push({ field: 'eflags', a: h(fa), b: h(fb) });
  for (let k = 0; k < SCRATCH_SIZE; k += 4) {
    const wa = new DataView(sa.buffer, sa.byteOffset + k, 4).getUint32(0, true), wb = new DataView(sb.buffer, sb.byteOffset + k, 4).getUint32(0, true);
    if (wa !== wb) diffs.push({ field: `mem[${k}]`, a: h(wa), b: h(wb) });
  }
  return diffs;
}
