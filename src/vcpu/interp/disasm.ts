// Decoding without executing (for the disassembler, traces and decoder tests): runs the interpreter's
// decoder over a byte buffer in a chosen mode. SDM Vol. 2 ch. 2 (instruction format).

import { CpuFault } from '../../arch/x86/exceptions.ts';
import { Cpu } from './cpu.ts';
import { intelText } from './disasm-intel.ts';
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
  /** Intel-syntax text as GNU objdump -M intel prints it (mnemonic, padded, and operands) */
  readonly text?: string;
  /** why the decoder refused the bytes */
  readonly reason?: string;
}

let cpu: Cpu | undefined;
const buf = new ArrayBuffer(0x2000);
const bufU8 = new Uint8Array(buf);

export interface DecodeOptions {
  /** only the first `available` bytes can be fetched: the next byte is beyond the CS limit (16/32-bit) or
   * on an unbacked page (64-bit), to check truncated encodings */
  readonly available?: number;
  /** 16-bit code in real-address mode (CR0.PE = 0) instead of 16-bit protected mode */
  readonly real?: boolean;
}

/**
 * Decode one instruction at the start of `bytes` (at most 15 are looked at) in 16/32/64-bit mode;
 * `address` (the address of the first byte) places relative branch and RIP-relative targets.
 */
export function decodeOne(bytes: Uint8Array, bits: 16 | 32 | 64 = 64, address: number | bigint = 0, opts: DecodeOptions = {}): Decoded {
  // one private CPU, reused (a Cpu owns a decode cache: too heavy to build per call)
  if (!cpu) {
    cpu = new Cpu();
    cpu.mem.setSlot(0, 0, buf, 0, 0x2000, false);
  }
  const c = cpu;
  bufU8.fill(0);
  const n = opts.available ?? Math.min(bytes.length, 0x1000);
  // truncated: in 64-bit mode the bytes end at the end of guest memory (0x2000), else at the CS limit
  const at = opts.available !== undefined && bits === 64 ? 0x2000 - n : 0x1000;
  bufU8.set(bytes.subarray(0, n), at);
  c.invalidateFetch();
  c.cr0 = opts.real && bits === 16 ? 0 : CR0_PE;
  c.feat.fill(1);
  if (bits === 64) { c.efer = EFER_LMA; c.segAttr[CS] = 0x9b | A_L; }
  else { c.efer = 0; c.segAttr[CS] = 0x9b | (bits === 32 ? A_DB : 0); }
  c.segLimit[CS] = opts.available !== undefined && bits !== 64 ? 0x1000 + n - 1 : -1;
  c.code64 = bits === 64;
  c.def32 = bits === 32;
  c.r[32] = at;
  try {
    c.decodeFull(); // not decode(): its decode cache keys on the physical address, and every call here reuses 0x1000
    const d = c.d;
    const text = intelText(d, bufU8.subarray(at, at + d.len), bits, BigInt(address));
    return { length: d.len, op: OP_NAMES[d.op], osz: d.osz, asz: d.asz, mnemonic: MNEMONICS[d.row], operands: ROW_OPERANDS[d.row], text };
  } catch (e) {
    if (e instanceof CpuFault) return { length: 0, fault: e.vector, reason: e.reason };
    throw e;
  }
}

export { MNEMONICS, NODES };
