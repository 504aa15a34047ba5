// Host-CPU oracle for the x87 tests (DESIGN.md §5.3): case records (three 80-bit values loaded as
// ST(0)..ST(2), a 16-byte memory operand, FCW, RFLAGS in), one loop per instruction form running an
// assembly snippet over its records natively (gcc-built harness of simd-fp-host.ts) and on the
// interpreter; the output records hold the FXSAVE image's x87 part (FCW, FSW, abridged FTW, ST0-7),
// the memory operand and RFLAGS. Semantics: Intel SDM Vol. 1 Ch. 8, Vol. 2 per-instruction pages.

/** record: in — ST0 @0, ST1 @16, ST2 @32 (10 bytes each), memory operand @48, FCW @64, RFLAGS @72;
 *  out — FXSAVE bytes 0..159 @0, memory operand @160, RFLAGS (or 0x1000|vector after a fault) @176 */
export const XREC = 192;

export interface XForm {
  name: string;
  /** assembly run with ST0-ST2 loaded; the memory operand is at [r12+512] */
  asm: string;
  cases: Uint8Array;
  /** FSW bits the SDM leaves undefined for this form (not compared) */
  undefFsw: number;
}

/** 80-bit value: sign/exponent word, significand high and low words */
export type Ext = readonly [number, number, number];

export class XCaseWriter {
  private buf = new Uint8Array(XREC * 256);
  private dv = new DataView(this.buf.buffer);
  private n = 0;
  add(st: readonly Ext[], fcw: number, mem: readonly number[] = [], rflags = 0x202): void {
    if ((this.n + 1) * XREC > this.buf.length) {
      const b = new Uint8Array(this.buf.length * 2);
      b.set(this.buf);
      this.buf = b; this.dv = new DataView(b.buffer);
    }
    const o = this.n * XREC;
    st.forEach(([se, hi, lo], i) => {
      this.dv.setUint32(o + 16 * i, lo >>> 0, true); this.dv.setUint32(o + 16 * i + 4, hi >>> 0, true); this.dv.setUint16(o + 16 * i + 8, se & 0xffff, true);
    });
    mem.forEach((w, i) => this.dv.setUint32(o + 48 + 4 * i, w >>> 0, true));
    this.dv.setUint16(o + 64, fcw, true);
    this.dv.setUint32(o + 72, rflags, true);
    this.n++;
  }
  bytes(): Uint8Array { return this.buf.slice(0, this.n * XREC); }
}

/** the loops (RSI in, RDI out, R12 scratch of ≥ 1 KiB, 16-aligned); a fault resumes at .LafterN (R14) */
export function xbody(forms: XForm[]): string {
  const out: string[] = [];
  forms.forEach((f, i) => {
    out.push(
      `mov r13d, ${f.cases.length / XREC}`,
      `.Lform${i}:`,
      'fninit', 'fldcw [rsi+64]', 'fld tbyte ptr [rsi+32]', 'fld tbyte ptr [rsi+16]', 'fld tbyte ptr [rsi]',
      'movdqu xmm0, [rsi+48]', 'movdqu [r12+512], xmm0',
      'push qword ptr [rsi+72]', 'popfq',
      `lea r14, [rip+.Lafter${i}]`,
      f.asm,
      'pushfq', 'pop rbx',
      `.Lafter${i}:`,
      'fxsave [r12]',
      ...Array.from({ length: 10 }, (_, k) => `movdqu xmm0, [r12+${16 * k}]\nmovdqu [rdi+${16 * k}], xmm0`),
      'movdqu xmm0, [r12+512]', 'movdqu [rdi+160], xmm0', 'mov [rdi+176], rbx', 'mov qword ptr [rdi+184], 0',
      'fninit',
      `add rsi, ${XREC}`, `add rdi, ${XREC}`, 'dec r13d', `jnz .Lform${i}`,
    );
  });
  return out.join('\n');
}

/** compare one output record: FCW, FSW (minus `undefFsw`), FTW, the valid registers, memory, RFLAGS */
export function xdiff(h: DataView, m: DataView, o: number, undefFsw: number): string | undefined {
  if (h.getUint16(o, true) !== m.getUint16(o, true)) return 'FCW';
  const hs = h.getUint16(o + 2, true), ms = m.getUint16(o + 2, true);
  if ((hs ^ ms) & ~undefFsw & 0xffff) return `FSW ${hs.toString(16)} vs ${ms.toString(16)}`;
  const tag = h.getUint8(o + 4);
  if (tag !== m.getUint8(o + 4)) return `FTW ${tag.toString(16)} vs ${m.getUint8(o + 4).toString(16)}`;
  const top = (hs >> 11) & 7;
  for (let i = 0; i < 8; i++) {
    if (!((tag >> ((top + i) & 7)) & 1)) continue;
    const r = o + 32 + 16 * i;
    if (h.getUint32(r, true) !== m.getUint32(r, true) || h.getUint32(r + 4, true) !== m.getUint32(r + 4, true) || h.getUint16(r + 8, true) !== m.getUint16(r + 8, true)) return `ST${i}`;
  }
  for (let b = 160; b < 192; b += 4) if (h.getUint32(o + b, true) !== m.getUint32(o + b, true)) return b < 176 ? 'memory' : 'RFLAGS/fault';
  return undefined;
}

export function xhex(dv: DataView, o: number, input: boolean): string {
  const ext = (p: number): string => `${dv.getUint16(p + 8, true).toString(16).padStart(4, '0')}:${dv.getUint32(p + 4, true).toString(16).padStart(8, '0')}${dv.getUint32(p, true).toString(16).padStart(8, '0')}`;
  const mem = `${dv.getUint32(o + (input ? 52 : 164), true).toString(16)}:${dv.getUint32(o + (input ? 48 : 160), true).toString(16)}`;
  if (input) return `st=${ext(o)} ${ext(o + 16)} ${ext(o + 32)} mem=${mem} fcw=${dv.getUint16(o + 64, true).toString(16)} fl=${dv.getUint32(o + 72, true).toString(16)}`;
  const regs = Array.from({ length: 4 }, (_, i) => ext(o + 32 + 16 * i)).join(' ');
  return `fsw=${dv.getUint16(o + 2, true).toString(16)} ftw=${dv.getUint8(o + 4).toString(16)} st0-3=${regs} mem=${mem} fl=${dv.getUint32(o + 176, true).toString(16)}`;
}
