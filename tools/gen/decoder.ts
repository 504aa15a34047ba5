// Decoder-table generator: folds the declarative instruction table (src/vcpu/interp/spec/table.ts,
// SDM Vol. 2 Appendix A opcode maps) into dense numeric tables for the interpreter's decoder and
// disassembler. Usage: `node --import tsx tools/gen/decoder.ts [--check]`.
// Output: src/vcpu/interp/decoder.generated.ts ("generated, do not edit").
//
// Decode tree: ROOT[map*256 + opcode] -> node index (0 = no instruction: #UD). NODES[i] = kind:
//   1 LEAF   [row]
//   2 PREFIX [none, 66, F3, F2]      mandatory prefix (F2/F3 last-wins, else 66)
//   3 DIGIT  [reg0..reg7]            ModRM.reg
//   4 MOD    [mem, reg]
//   5 RM     [rm0..rm7]              ModRM.rm (mod = 11b)
//   6 MODE   [legacy, 64-bit]
// A child of 0 means "no instruction" (#UD).

import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { INSN_TABLE, type InsnRow, type OpMap } from '../../src/vcpu/interp/spec/table.ts';

export const OUT_PATH = fileURLToPath(new URL('../../src/vcpu/interp/decoder.generated.ts', import.meta.url));

const MAPS: OpMap[] = ['1', '0F', '0F38', '0F3A'];

/** Operand kind codes (shared with the executor through the generated file). */
export const KINDS: Record<string, number> = {
  E: 1, G: 2, I: 3, rAX: 4, AL: 4, eAX: 4, AX: 4, CL: 5, DX: 6, '1': 7, Z: 8, O: 9, M: 10, B: 11, S: 12,
  C: 13, D: 14, R: 15, J: 16, A: 17, X: 18, Y: 19, V: 21, W: 22, P: 23, Q: 24, N: 25, U: 26, H: 27, L: 28, ES: 20, CS: 20, SS: 20, DS: 20, FS: 20, GS: 20,
};

// row flag bits
const F_MODRM = 1, F_BYTE = 2, F_D64 = 4, F_F64 = 8, F_LOCK = 16, IMM_SHIFT = 5; // 3 bits
const F_MOFFS = 1 << 8, F_REL = 1 << 9, F_SIZE_Y = 1 << 11, F_OPREG = 1 << 12, F_VEX = 1 << 13;
const F_NO64 = 1 << 14, F_ONLY64 = 1 << 15, F_SIZE_W = 1 << 16, F_FORCE_REG = 1 << 17;
const IMM = { none: 0, Ib: 1, Ibs: 2, Iw: 3, Iz: 4, Iv: 5, Ap: 6, IwIb: 7 } as const;

function kindOf(operand: string): { kind: number; suffix: string } {
  if (operand in KINDS) return { kind: KINDS[operand]!, suffix: operand === 'AL' ? 'b' : operand === 'AX' ? 'w' : '' };
  const k = KINDS[operand[0]!];
  if (k === undefined) throw new Error(`unknown operand kind '${operand}'`);
  return { kind: k, suffix: operand.slice(1) };
}

function rowFlags(r: InsnRow): number {
  let f = 0;
  const hasModrm = r.digit !== undefined || r.mod !== undefined || r.vex === true ||
    r.operands.some((o) => /^[EGMSCDRBVWPQNUH][a-z]*$/.test(o));
  if (hasModrm) f |= F_MODRM;
  const first = r.operands[0];
  if (r.operands.some((o) => /^[EGZOXY]b$/.test(o) || o === 'AL') && !['MOVZX', 'MOVSX'].includes(r.op) &&
      !(r.op === 'IN' || r.op === 'OUT') ) f |= F_BYTE;
  if (r.op === 'IN' || r.op === 'OUT') if (r.operands.includes('AL')) f |= F_BYTE;
  if (r.operands.some((o) => /^[EGRZ]y$/.test(o)) || ['Cy', 'Dy'].includes(first ?? '')) f |= F_SIZE_Y;
  if (first && /^[EGR]w$/.test(first) && r.operands.length === 1) f |= F_SIZE_W;
  if (r.size === 'd64') f |= F_D64;
  if (r.size === 'f64') f |= F_F64;
  if (r.lock) f |= F_LOCK;
  if (r.plusR) f |= F_OPREG;
  // R operands without a mod restriction (MOV CR/DR): ModRM.mod is ignored, r/m is always a register
  if (r.operands.some((o) => /^R[a-z]$/.test(o)) && r.mod === undefined) f |= F_FORCE_REG;
  if (r.vex) f |= F_VEX;
  if (r.modes === 'no64') f |= F_NO64;
  if (r.modes === 'only64') f |= F_ONLY64;
  let imm: number = IMM.none;
  const ops = r.operands;
  if (ops.includes('Iw') && ops.includes('Ib')) imm = IMM.IwIb;
  else if (ops.includes('Ap')) imm = IMM.Ap;
  else if (ops.includes('Ib') || ops.includes('Jb')) imm = ops.includes('Jb') ? IMM.Ibs : IMM.Ib;
  else if (ops.includes('Ibs')) imm = IMM.Ibs;
  else if (ops.includes('Iw')) imm = IMM.Iw;
  else if (ops.includes('Iz') || ops.includes('Jz')) imm = IMM.Iz;
  else if (ops.includes('Iv')) imm = IMM.Iv;
  f |= imm << IMM_SHIFT;
  if (ops.some((o) => o[0] === 'O')) f |= F_MOFFS;
  if (ops.some((o) => o[0] === 'J')) f |= F_REL;
  return f;
}

type Dim = 'prefix' | 'mode' | 'digit' | 'mod' | 'rm';
const DIMS: { dim: Dim; kind: number; values: (string | number)[] }[] = [
  { dim: 'prefix', kind: 2, values: ['none', '66', 'F3', 'F2'] },
  { dim: 'mode', kind: 6, values: ['no64', 'only64'] },
  { dim: 'digit', kind: 3, values: [0, 1, 2, 3, 4, 5, 6, 7] },
  { dim: 'mod', kind: 4, values: ['mem', 'reg'] },
  { dim: 'rm', kind: 5, values: [0, 1, 2, 3, 4, 5, 6, 7] },
];

function field(r: InsnRow, d: Dim): string | number | undefined {
  switch (d) {
    case 'prefix': return r.prefix;
    case 'mode': return r.modes;
    case 'digit': return r.digit;
    case 'mod': return r.mod ?? (r.rm !== undefined ? 'reg' : undefined);
    case 'rm': return r.rm;
  }
}

function specificity(r: InsnRow): number {
  return DIMS.reduce((n, d) => n + (field(r, d.dim) !== undefined ? 1 : 0), 0);
}

export function generate(): string {
  const rows = INSN_TABLE;
  const opNames = [...new Set(rows.map((r) => r.op).concat(rows.flatMap((r) => (r.absentOp ? [r.absentOp] : []))))].sort();
  const opId = (n: string): number => opNames.indexOf(n) + 1;
  const features = [...new Set(rows.flatMap((r) => (r.feature ? [r.feature] : [])))].sort();
  const nodes: number[] = [0];
  const rowIndex = new Map<InsnRow, number>(rows.map((r, i) => [r, i]));

  const build = (set: InsnRow[], level: number): number => {
    if (set.length === 0) return 0;
    for (let l = level; l < DIMS.length; l++) {
      const d = DIMS[l]!;
      if (!set.some((r) => field(r, d.dim) !== undefined)) continue;
      const children = d.values.map((v) => {
        let sub = set.filter((r) => field(r, d.dim) === undefined || field(r, d.dim) === v);
        if (d.dim === 'rm') sub = sub.filter(() => true);
        if (d.dim === 'mode') sub = set.filter((r) => r.modes === undefined || r.modes === v);
        return sub;
      });
      const at = nodes.length;
      nodes.push(d.kind, ...children.map(() => 0));
      children.forEach((sub, i) => (nodes[at + 1 + i] = build(sub, l + 1)));
      return at;
    }
    const best = [...set].sort((a, b) => specificity(b) - specificity(a))[0]!;
    const at = nodes.length;
    nodes.push(1, rowIndex.get(best)!);
    return at;
  };

  const roots = (vex: boolean): number[] => {
    const out = new Array<number>(4 * 256).fill(0);
    MAPS.forEach((map, mi) => {
      for (let op = 0; op < 256; op++) {
        const set = rows.filter((r) => r.map === map && !!r.vex === vex &&
          (r.plusR ? op >= r.opcode && op < r.opcode + 8 : r.opcode === op));
        out[mi * 256 + op] = build(set, 0);
      }
    });
    return out;
  };
  const rootLegacy = roots(false);
  const rootVex = roots(true);

  const kinds = (r: InsnRow, i: number): number => (r.operands[i] ? kindOf(r.operands[i]!).kind : 0);
  const arr = (name: string, type: string, values: number[]): string => {
    const lines: string[] = [];
    for (let i = 0; i < values.length; i += 32) lines.push('  ' + values.slice(i, i + 32).join(', ') + ',');
    return `export const ${name} = new ${type}([\n${lines.join('\n')}\n]);\n`;
  };
  let s = '// generated, do not edit: `node --import tsx tools/gen/decoder.ts` from src/vcpu/interp/spec/table.ts\n';
  s += '// (the decode tree and per-row attributes; see tools/gen/decoder.ts for the encoding).\n\n';
  s += opNames.map((n) => `export const OP_${n} = ${opId(n)};`).join('\n') + '\n\n';
  s += `export const OP_NAMES: readonly string[] = ['', ${opNames.map((n) => `'${n}'`).join(', ')}];\n\n`;
  s += `/** feature index -> Linux X86_FEATURE_* name (index 0 = no feature) */\n`;
  s += `export const FEATURE_NAMES: readonly string[] = ['', ${features.map((n) => `'${n}'`).join(', ')}];\n\n`;
  s += `export const K_E = 1, K_G = 2, K_I = 3, K_RAX = 4, K_CL = 5, K_DX = 6, K_ONE = 7, K_Z = 8, K_O = 9, K_M = 10;\n`;
  s += `export const K_B = 11, K_S = 12, K_C = 13, K_D = 14, K_R = 15, K_J = 16, K_A = 17, K_X = 18, K_Y = 19, K_SEG = 20, K_V = 21, K_W = 22;\n`;
  s += `export const K_P = 23, K_Q = 24, K_N = 25, K_U = 26, K_H = 27, K_L = 28;\n`;
  s += `export const F_MODRM = ${F_MODRM}, F_BYTE = ${F_BYTE}, F_D64 = ${F_D64}, F_F64 = ${F_F64}, F_LOCK = ${F_LOCK}, IMM_SHIFT = ${IMM_SHIFT};\n`;
  s += `export const F_MOFFS = ${F_MOFFS}, F_REL = ${F_REL}, F_SIZE_Y = ${F_SIZE_Y}, F_OPREG = ${F_OPREG}, F_VEX = ${F_VEX};\n`;
  s += `export const F_NO64 = ${F_NO64}, F_ONLY64 = ${F_ONLY64}, F_SIZE_W = ${F_SIZE_W}, F_FORCE_REG = ${F_FORCE_REG};\n`;
  s += `export const IMM_NONE = 0, IMM_IB = 1, IMM_IBS = 2, IMM_IW = 3, IMM_IZ = 4, IMM_IV = 5, IMM_AP = 6, IMM_IWIB = 7;\n\n`;
  s += `export const ROW_COUNT = ${rows.length};\n`;
  s += `export const MNEMONICS: readonly string[] = [\n${rows.map((r) => `  '${r.mnemonic}',`).join('\n')}\n];\n`;
  s += arr('ROW_OP', 'Uint8Array', rows.map((r) => opId(r.op)));
  s += arr('ROW_ABSENT_OP', 'Uint8Array', rows.map((r) => (r.absentOp ? opId(r.absentOp) : 0)));
  s += arr('ROW_ARG', 'Uint8Array', rows.map((r) => r.arg ?? 0));
  s += arr('ROW_FLAGS', 'Int32Array', rows.map(rowFlags));
  s += arr('ROW_FEATURE', 'Uint8Array', rows.map((r) => (r.feature ? features.indexOf(r.feature) + 1 : 0)));
  s += arr('ROW_K1', 'Uint8Array', rows.map((r) => kinds(r, 0)));
  s += arr('ROW_K2', 'Uint8Array', rows.map((r) => kinds(r, 1)));
  s += arr('ROW_K3', 'Uint8Array', rows.map((r) => kinds(r, 2)));
  s += `/** operand spellings per row, for the disassembler */\n`;
  s += `export const ROW_OPERANDS: readonly string[] = [\n${rows.map((r) => `  '${r.operands.join(',')}',`).join('\n')}\n];\n`;
  s += arr('ROOT_LEGACY', 'Int32Array', rootLegacy);
  s += arr('ROOT_VEX', 'Int32Array', rootVex);
  s += arr('NODES', 'Int32Array', nodes);
  return s;
}

const isMain = process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1];
if (isMain) {
  const text = generate();
  if (process.argv.includes('--check')) {
    const cur = readFileSync(OUT_PATH, 'utf8');
    if (cur !== text) {
      console.error('decoder.generated.ts is stale: run node --import tsx tools/gen/decoder.ts');
      process.exit(1);
    }
  } else {
    writeFileSync(OUT_PATH, text);
    console.log(`wrote ${OUT_PATH}`);
  }
}
