// x86-64 instruction encoder for the instruction corpus: legacy prefixes, REX, 3-byte VEX, opcode
// maps 0F / 0F 38 / 0F 3A, ModRM, SIB, displacements and immediates, in 64-bit mode (Intel SDM Vol. 2
// Chapter 2 "Instruction Format": §2.1 prefixes, ModRM and SIB (Tables 2-2, 2-3), §2.2.1 REX,
// §2.2.1.6 RIP-relative addressing, §2.3.5 VEX; AMD APM Vol. 3 §1.2-§1.4).

import type { OpMap } from '../../src/vcpu/interp/spec/table.ts';

/** A memory operand. `base: 'rip'` is RIP-relative (disp32 patched once the code address is known). */
export interface MemRef {
  readonly base?: number | 'rip';
  readonly index?: number;
  readonly scale?: 1 | 2 | 4 | 8;
  readonly disp: number;
  /** force the displacement width (0 only without a base or with a base other than rBP/r13) */
  readonly dispSize?: 0 | 1 | 4;
}

export interface ModRm {
  /** ModRM.reg: a register number (0-15) or a /digit */
  readonly reg: number;
  /** register operand (mod = 11b) */
  readonly rm?: number;
  readonly mem?: MemRef;
}

export interface Vex {
  /** implied prefix: 0 none, 1 66, 2 F3, 3 F2 */
  readonly pp: number;
  readonly w: boolean;
  /** VEX.vvvv register number (0-15) */
  readonly vvvv: number;
}

export interface EncodeSpec {
  /** legacy prefixes in order (F0, F2, F3, 2E/3E/26/64/65/36, 66, 67), including a mandatory prefix */
  readonly prefixes?: readonly number[];
  readonly rexW?: boolean;
  /** emit a REX prefix even when no bit is set (selects SPL/BPL/SIL/DIL for byte registers) */
  readonly forceRex?: boolean;
  readonly vex?: Vex;
  readonly map: OpMap;
  readonly opcode: number;
  /** register encoded in the opcode's low 3 bits (+r forms), REX.B extends it */
  readonly opReg?: number;
  readonly modrm?: ModRm;
  readonly imms?: readonly { readonly value: bigint; readonly size: 1 | 2 | 4 | 8 }[];
}

export interface Encoded {
  readonly bytes: Uint8Array;
  /** offset of the RIP-relative disp32 within `bytes` */
  readonly ripDispAt?: number;
}

const MAP_BYTES: Record<OpMap, number[]> = { '1': [], '0F': [0x0f], '0F38': [0x0f, 0x38], '0F3A': [0x0f, 0x3a] };
const VEX_MMMMM: Record<OpMap, number> = { '1': 0, '0F': 1, '0F38': 2, '0F3A': 3 };

function pushLe(out: number[], v: bigint, size: number): void {
  let x = BigInt.asUintN(64, v);
  for (let i = 0; i < size; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
}

function fitsI8(v: number): boolean {
  return v >= -128 && v <= 127;
}

/** Encode one instruction. Throws on an unencodable combination (a generator bug). */
export function encode(s: EncodeSpec): Encoded {
  const out: number[] = [...(s.prefixes ?? [])];
  let r = 0, x = 0, b = 0;
  const m = s.modrm;
  if (m) {
    r = (m.reg >> 3) & 1;
    if (m.rm !== undefined) b = (m.rm >> 3) & 1;
    else if (m.mem) {
      if (typeof m.mem.base === 'number') b = (m.mem.base >> 3) & 1;
      if (m.mem.index !== undefined) x = (m.mem.index >> 3) & 1;
    }
  }
  if (s.opReg !== undefined) b = (s.opReg >> 3) & 1;
  const w = s.rexW ? 1 : 0;
  if (s.vex) {
    if (s.forceRex) throw new Error('REX with VEX');
    const v = s.vex;
    out.push(0xc4, ((r ^ 1) << 7) | ((x ^ 1) << 6) | ((b ^ 1) << 5) | VEX_MMMMM[s.map], ((v.w ? 1 : 0) << 7) | ((~v.vvvv & 15) << 3) | (v.pp & 3));
  } else {
    if (w || r || x || b || s.forceRex) out.push(0x40 | (w << 3) | (r << 2) | (x << 1) | b);
    out.push(...MAP_BYTES[s.map]);
  }
  out.push(s.opcode | (s.opReg !== undefined ? s.opReg & 7 : 0));
  let ripDispAt: number | undefined;
  if (m) {
    const reg = m.reg & 7;
    if (m.rm !== undefined) out.push(0xc0 | (reg << 3) | (m.rm & 7));
    else if (m.mem) {
      const mm = m.mem;
      if (mm.base === 'rip') {
        out.push((reg << 3) | 5);
        ripDispAt = out.length;
        pushLe(out, BigInt(mm.disp), 4);
      } else {
        const scaleBits = { 1: 0, 2: 1, 4: 2, 8: 3 }[mm.scale ?? 1];
        if (mm.index !== undefined && mm.index === 4) throw new Error('rSP cannot be an index');
        if (mm.base === undefined) {
          // [index*scale + disp32] or [disp32]: SIB with base = 101b and mod = 00
          out.push((reg << 3) | 4, (scaleBits << 6) | ((mm.index ?? 4) & 7) << 3 | 5);
          pushLe(out, BigInt(mm.disp), 4);
        } else {
          const base = mm.base;
          let size = mm.dispSize ?? (mm.disp === 0 && (base & 7) !== 5 ? 0 : fitsI8(mm.disp) ? 1 : 4);
          if (size === 0 && (base & 7) === 5) size = 1;
          if (size === 1 && !fitsI8(mm.disp)) throw new Error('disp8 out of range');
          const mod = size === 0 ? 0 : size === 1 ? 1 : 2;
          if (mm.index === undefined && (base & 7) !== 4) out.push((mod << 6) | (reg << 3) | (base & 7));
          else out.push((mod << 6) | (reg << 3) | 4, (scaleBits << 6) | (((mm.index ?? 4) & 7) << 3) | (base & 7));
          if (size) pushLe(out, BigInt(mm.disp), size);
        }
      }
    } else throw new Error('ModRM needs rm or mem');
  }
  for (const i of s.imms ?? []) pushLe(out, i.value, i.size);
  if (out.length > 15) throw new Error(`instruction longer than 15 bytes (${out.length})`);
  return ripDispAt === undefined ? { bytes: Uint8Array.from(out) } : { bytes: Uint8Array.from(out), ripDispAt };
}

export function hex(bytes: Uint8Array): string {
  return [...bytes].map((v) => v.toString(16).padStart(2, '0')).join(' ');
}
