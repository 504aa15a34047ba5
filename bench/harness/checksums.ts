// Reference checksums of the benchmark workloads (bench/workloads/*.asm), computed in JavaScript from
// the same parameters, so a guest result that is wrong can never be reported as fast. Each function
// mirrors the loop documented at the top of its .asm file; 64-bit register arithmetic is done on int32
// lo/hi halves (DESIGN.md §4), never BigInt, so that the fast-peer iteration counts stay cheap.

export type Mode = 32 | 64;

const rol32 = (x: number, n: number): number => ((x << n) | (x >>> (32 - n))) >>> 0;

/** High 32 bits of the unsigned 32×32 → 64 product. */
function mulhiU32(a: number, b: number): number {
  const a0 = a & 0xffff;
  const a1 = a >>> 16;
  const b0 = b & 0xffff;
  const b1 = b >>> 16;
  const lo = a0 * b0;
  const m1 = a1 * b0;
  const m2 = a0 * b1;
  const hi = a1 * b1;
  const mid = (lo >>> 16) + (m1 & 0xffff) + (m2 & 0xffff);
  return (hi + (m1 >>> 16) + (m2 >>> 16) + Math.floor(mid / 65536)) >>> 0;
}

/** alu.asm: 12-instruction body, N iterations, folded to 32 bits. */
export function aluChecksum(mode: Mode, n: number): number {
  const IMM = 0x2545f491;
  if (mode === 32) {
    let a = 0x89abcdef | 0;
    let b = 0x4b5a6978 | 0;
    let d = 0x55667788 | 0;
    let si = 0x33221100 | 0;
    for (let i = 0; i < n; i++) {
      a = (a + b) | 0;
      d ^= a;
      d = rol32(d, 13) | 0;
      si = (si + d * 8 + 0x1234567) | 0;
      b = (b - si) | 0;
      b ^= a << 7;
      d = ~d;
      a = Math.imul(a, IMM);
    }
    return (a ^ b ^ d ^ si) >>> 0;
  }
  let al = 0x89abcdef | 0, ah = 0x01234567 | 0;
  let bl = 0x4b5a6978 | 0, bh = 0x0f1e2d3c | 0;
  let dl = 0x55667788 | 0, dh = 0x11223344 | 0;
  let sl = 0x33221100 | 0, sh = 0x77665544 | 0;
  for (let i = 0; i < n; i++) {
    // add A, B
    let lo = ((al >>> 0) + (bl >>> 0));
    ah = (ah + bh + (lo > 0xffffffff ? 1 : 0)) | 0;
    al = lo | 0;
    // xor D, A ; rol D, 13
    dl ^= al;
    dh ^= ah;
    let nl = (dl << 13) | (dh >>> 19);
    let nh = (dh << 13) | (dl >>> 19);
    dl = nl;
    dh = nh;
    // lea SI, [SI + D*8 + 0x1234567]
    const d8l = dl << 3;
    const d8h = (dh << 3) | (dl >>> 29);
    lo = (sl >>> 0) + (d8l >>> 0);
    sh = (sh + d8h + (lo > 0xffffffff ? 1 : 0)) | 0;
    sl = lo | 0;
    lo = (sl >>> 0) + 0x1234567;
    sh = (sh + (lo > 0xffffffff ? 1 : 0)) | 0;
    sl = lo | 0;
    // sub B, SI
    const borrow = (bl >>> 0) < (sl >>> 0) ? 1 : 0;
    bl = (bl - sl) | 0;
    bh = (bh - sh - borrow) | 0;
    // mov DI, A ; shl DI, 7 ; xor B, DI
    nl = al << 7;
    nh = (ah << 7) | (al >>> 25);
    bl ^= nl;
    bh ^= nh;
    // not D
    dl = ~dl;
    dh = ~dh;
    // imul A, A, IMM (low 64 bits; IMM is positive so its high half is 0)
    nh = (Math.imul(ah, IMM) + mulhiU32(al >>> 0, IMM)) | 0;
    al = Math.imul(al, IMM);
    ah = nh;
  }
  const fl = al ^ bl ^ dl ^ sl;
  const fh = ah ^ bh ^ dh ^ sh;
  return (fl ^ fh) >>> 0;
}

let crcTable: Int32Array | undefined;
function table(): Int32Array {
  if (crcTable) return crcTable;
  crcTable = new Int32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
    crcTable[i] = c;
  }
  return crcTable;
}

export const CRC_FILL_DWORDS = 262144;

/** crc.asm: fill 1 MiB per iteration with it + j*0x9E3779B1, one running CRC-32 over all of it. */
export function crcChecksum(_mode: Mode, n: number, fillDwords = CRC_FILL_DWORDS): number {
  const t = table();
  let crc = -1;
  for (let it = 0; it < n; it++) {
    let v = it | 0;
    for (let j = 0; j < fillDwords; j++) {
      crc = (crc >>> 8) ^ t[(crc ^ v) & 0xff]!;
      crc = (crc >>> 8) ^ t[(crc ^ (v >>> 8)) & 0xff]!;
      crc = (crc >>> 8) ^ t[(crc ^ (v >>> 16)) & 0xff]!;
      crc = (crc >>> 8) ^ t[(crc ^ (v >>> 24)) & 0xff]!;
      v = (v + 0x9e3779b1) | 0;
    }
  }
  return ~crc >>> 0;
}

export const FIB_N = 20;

export function fibonacci(n: number): number {
  let a = 0;
  let b = 1;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

/** fib.asm: s = rol32(s + F(20), 5) per iteration. */
export function fibChecksum(_mode: Mode, n: number): number {
  const f = fibonacci(FIB_N);
  let s = 0;
  for (let i = 0; i < n; i++) s = rol32((s + f) >>> 0, 5);
  return s;
}

export const PW_PAGES = 8192;
export const PW_STRIDE = 2477;
export const PW_TOUCHES = 256;

/** pagewalk.asm: sum of p*0x01000193 over the page sequence p += 2477 (mod 8192). */
export function pagewalkChecksum(_mode: Mode, n: number): number {
  let s = 0;
  let p = 0;
  for (let i = 0; i < n * PW_TOUCHES; i++) {
    s = (s + Math.imul(p, 0x01000193)) | 0;
    p = (p + PW_STRIDE) & (PW_PAGES - 1);
  }
  return s >>> 0;
}

/** syscall.asm: s = rol32(s + n, 3) for n = N … 1 (kernel side of each round trip). */
export function syscallChecksum(_mode: Mode, n: number): number {
  let s = 0;
  for (let k = n; k >= 1; k--) s = rol32((s + k) >>> 0, 3);
  return s;
}

export const PF_VALUE = 0x0badf00d;

/** pf.asm: each iteration adds the page's value and the handler's 0x10001. */
export function pfChecksum(_mode: Mode, n: number): number {
  return Math.imul(n, (PF_VALUE + 0x10001) | 0) >>> 0;
}

/** portio.asm: s = rol32(s + (n & 0xFF), 1) for n = N … 1 (the byte read back from the UART scratch register). */
export function portioChecksum(_mode: Mode, n: number): number {
  let s = 0;
  for (let k = n; k >= 1; k--) s = rol32((s + (k & 0xff)) >>> 0, 1);
  return s;
}

/** smc.asm: s = rol32(s + (n ^ 0x5A5A5A5A), 7) for n = N … 1. */
export function smcChecksum(_mode: Mode, n: number): number {
  let s = 0;
  for (let k = n; k >= 1; k--) s = rol32((s + ((k ^ 0x5a5a5a5a) >>> 0)) >>> 0, 7);
  return s;
}
