// Decoding without executing (for the disassembler, traces and decoder tests): runs the interpreter's
// decoder over a byte buffer in a chosen mode. SDM Vol. 2 ch. 2 (instruction format).

import { CpuFault } from '../../arch/x86/exceptions.ts';
import { Cpu } from './cpu.ts';
import { MNEMONICS, NODES, OP_NAMES, ROW_OPERANDS } from './decoder.generated.ts';
import { CS, A_DB, A_L, CR0_PE, EFER_LMA } from './state.ts';

export interface Decoded {
  /** instruction length in bytes, or the fault the decoder raised (#UD = 6, #GP = 13) */
  readonly length: number;
  readonly fault?: number;
  readonly op?: string;
  readonly osz?: number;
  readonly asz?: number;
  /** the table row's mnemonic and operand kinds (Intel notation) */
  readonly mnemonic?: string;
  readonly operands?: string;
  /** why the decoder refused the bytes */
  readonly reason?: string;
}

/** Decode one instruction at the start of `bytes` (at most 15 are looked at) in 16/32/64-bit mode. */
let cpu: Cpu | undefined;
const buf = new ArrayBuffer(0x2000);
const bufU8 = new Uint8Array(buf);

export function decodeOne(bytes: Uint8Array, bits: 16 | 32 | 64 = 64): Decoded {
  // one private CPU, reused (a Cpu owns a decode cache: too heavy to build per call)
  if (!cpu) {
    cpu = new Cpu();
    cpu.mem.setSlot(0, 0, buf, 0, 0x2000, false);
  }
  const c = cpu;
  bufU8.fill(0);
  bufU8.set(bytes.subarray(0, Math.min(bytes.length, 0x1000)), 0x1000);
  c.invalidateFetch();
  c.cr0 = CR0_PE;
  c.feat.fill(1);
  if (bits === 64) { c.efer = EFER_LMA; c.segAttr[CS] = 0x9b | A_L; }
  else { c.efer = 0; c.segAttr[CS] = 0x9b | (bits === 32 ? A_DB : 0); }
  c.segLimit[CS] = -1;
  c.code64 = bits === 64;
  c.def32 = bits === 32;
  c.r[32] = 0x1000;
  try {
    c.decode();
    return { length: c.d.len, op: OP_NAMES[c.d.op], osz: c.d.osz, asz: c.d.asz, mnemonic: MNEMONICS[c.d.row], operands: ROW_OPERANDS[c.d.row] };
  } catch (e) {
    if (e instanceof CpuFault) return { length: 0, fault: e.vector, reason: e.reason };
    throw e;
  }
}

export { MNEMONICS, NODES };
