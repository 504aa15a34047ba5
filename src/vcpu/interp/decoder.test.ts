// Decoder lengths against GNU objdump on a generated corpus: every one-byte and 0F-map opcode of the
// instruction table under prefix combinations (66, 67, F2, F3, REX, segment, LOCK) and ModRM/SIB/
// displacement shapes, plus malformed encodings (which must raise #UD/#GP, never crash).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeOne } from './disasm.ts';
import { INSN_TABLE } from './spec/table.ts';

const haveObjdump = spawnSync('objdump', ['--version']).status === 0;
const STRIDE = 32;

function corpus(): Uint8Array[] {
  const out: Uint8Array[] = [];
  const prefixes = [[], [0x66], [0x67], [0xf3], [0xf2], [0x48], [0x66, 0x48], [0x67, 0x41], [0x2e], [0x64, 0x66], [0xf0], [0x48, 0x66]];
  const modrms = [[0x00], [0x05, 1, 2, 3, 4], [0x04, 0x25, 1, 2, 3, 4], [0x44, 0x88, 0x10], [0x84, 0x48, 1, 2, 3, 4], [0x41, 0x7f], [0xc1], [0xd8], [0x3c, 0x24]];
  const seen = new Set<string>();
  for (const r of INSN_TABLE) {
    if (r.vex || r.op === 'X87' || r.op === 'SSE' || r.op === 'FWAIT' || r.modes === 'no64') continue; // objdump folds FWAIT into the next x87 op
    const lead = r.map === '1' ? [] : r.map === '0F' ? [0x0f] : r.map === '0F38' ? [0x0f, 0x38] : [0x0f, 0x3a];
    const ops = r.plusR ? [r.opcode, r.opcode + 5] : [r.opcode];
    for (const opc of ops) {
      for (const p of prefixes) {
        for (const m of modrms) {
          let mm = m;
          if (r.digit !== undefined) mm = [(m[0]! & 0xc7) | (r.digit << 3), ...m.slice(1)];
          const bytes = [...p, ...(r.prefix && r.prefix !== 'none' ? [parseInt(r.prefix, 16)] : []), ...lead, opc, ...mm, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88];
          const key = bytes.slice(0, 15).join(',');
          if (seen.has(key)) continue;
          seen.add(key);
          out.push(Uint8Array.from(bytes.slice(0, 15)));
        }
      }
    }
  }
  // malformed: too long, truncated-to-page garbage, reserved opcodes
  out.push(Uint8Array.from([0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x90]));
  out.push(Uint8Array.from([0x0f, 0x04]), Uint8Array.from([0x0f, 0x0a]), Uint8Array.from([0xd6]), Uint8Array.from([0x0f, 0x37]));
  return out;
}

/** objdump's length for each STRIDE-aligned slot (undefined = "(bad)") */
function objdumpLengths(cases: Uint8Array[]): (number | undefined)[] {
  const dir = mkdtempSync(join(tmpdir(), 'tsvmm-od-'));
  try {
    const img = new Uint8Array(cases.length * STRIDE).fill(0xcc);
    cases.forEach((c, i) => img.set(c, i * STRIDE));
    writeFileSync(join(dir, 'x.bin'), img);
    const text = execFileSync('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', '-M', 'intel64', '-w', join(dir, 'x.bin')], { maxBuffer: 1 << 28, encoding: 'utf8' });
    const res: (number | undefined)[] = new Array(cases.length);
    const lines: { addr: number; n: number; text: string }[] = [];
    for (const line of text.split('\n')) {
      const m = /^\s*([0-9a-f]+):\t((?:[0-9a-f]{2} )+)\s*\t?(.*)$/.exec(line);
      if (m) lines.push({ addr: parseInt(m[1]!, 16), n: m[2]!.trim().split(' ').length, text: (m[3] ?? '').trim() });
    }
    // objdump prints prefixes it considers unused (a REX that is not last, a stray 66/67/F3…) as
    // separate one-byte lines: fold them into the instruction that follows
    const barePrefix = /^(rex(\.[WRXB]+)?|data16|data32|addr16|addr32|repz|repnz|rep|lock|notrack|bnd|[cdefgs]s)$/;
    for (let i = 0; i < lines.length; i++) {
      const start = lines[i]!.addr;
      if (start % STRIDE !== 0) continue;
      let j = i;
      while (j < lines.length - 1 && lines[j]!.text.split(/\s+/).every((w) => barePrefix.test(w)) && lines[j + 1]!.addr < start + STRIDE) j++;
      const l = lines[j]!;
      res[start / STRIDE] = /\(bad\)/.test(l.text) ? undefined : l.addr + l.n - start;
    }
    return res;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test('decoder lengths agree with objdump on the corpus; malformed encodings fault, never crash', { skip: !haveObjdump }, () => {
  const cases = corpus();
  const od = objdumpLengths(cases);
  const bad: string[] = [];
  let compared = 0;
  for (let i = 0; i < cases.length; i++) {
    const d = decodeOne(cases[i]!, 64);
    const hex = [...cases[i]!].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    const o = od[i];
    if (d.fault !== undefined) {
      assert.ok(d.fault === 6 || d.fault === 13, `${hex}: unexpected fault ${d.fault}`);
      continue;
    }
    if (o === undefined) continue; // objdump could not decode it; we did (e.g. LOCK forms objdump rejects)
    compared++;
    if (d.length !== o) bad.push(`${hex}: objdump ${o}, decoder ${d.length} (${d.op})`);
  }
  assert.ok(compared > 3000, `only ${compared} encodings compared`);
  assert.equal(bad.length, 0, `${bad.length} length mismatches:\n${bad.slice(0, 30).join('\n')}`);
});

test('decoder: operand and address sizes from prefixes (66, 67, REX.W, d64)', () => {
  assert.deepEqual([decodeOne(Uint8Array.from([0x01, 0xc0])).osz, decodeOne(Uint8Array.from([0x66, 0x01, 0xc0])).osz, decodeOne(Uint8Array.from([0x48, 0x01, 0xc0])).osz], [4, 2, 8]);
  assert.equal(decodeOne(Uint8Array.from([0x66, 0x48, 0x01, 0xc0])).osz, 8); // REX.W beats 66
  assert.equal(decodeOne(Uint8Array.from([0x48, 0x66, 0x01, 0xc0])).osz, 2); // REX not last: ignored
  assert.equal(decodeOne(Uint8Array.from([0x48, 0x66, 0x01, 0xc0])).length, 4);
  assert.equal(decodeOne(Uint8Array.from([0x41, 0x66, 0x01, 0xc0])).osz, 2); // REX not last: ignored
  assert.equal(decodeOne(Uint8Array.from([0x50])).osz, 8); // PUSH is d64
  assert.equal(decodeOne(Uint8Array.from([0x66, 0x50])).osz, 2);
  assert.equal(decodeOne(Uint8Array.from([0x67, 0x8b, 0x00])).asz, 4);
  assert.equal(decodeOne(Uint8Array.from([0x8b, 0x00]), 32).asz, 4);
  assert.equal(decodeOne(Uint8Array.from([0x67, 0x8b, 0x00]), 32).asz, 2);
  assert.equal(decodeOne(Uint8Array.from([0x67, 0x8b, 0x06, 0x34, 0x12]), 32).length, 5); // 16-bit disp16 form
  assert.equal(decodeOne(Uint8Array.from([0x06]), 64).fault, 6); // PUSH ES is invalid in 64-bit mode
  assert.equal(decodeOne(Uint8Array.from([0x06]), 32).length, 1);
  assert.equal(decodeOne(Uint8Array.from([0x48, 0xb8, 1, 2, 3, 4, 5, 6, 7, 8])).length, 10); // MOV r64, imm64
  assert.equal(decodeOne(Uint8Array.from([0xc4, 0xe2, 0x78, 0xf2, 0xc1])).op, 'ANDN');
});
