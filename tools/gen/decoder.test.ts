// The committed decoder tables are exactly what the generator produces from the instruction table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { generate, OUT_PATH } from './decoder.ts';
import { INSN_TABLE } from '../../src/vcpu/interp/spec/table.ts';

test('decoder.generated.ts is up to date with spec/table.ts', () => {
  assert.equal(readFileSync(OUT_PATH, 'utf8'), generate(), 'run: node --import tsx tools/gen/decoder.ts');
});

test('every table row names an operand kind the generator knows and a sane opcode', () => {
  for (const r of INSN_TABLE) {
    assert.ok(r.opcode >= 0 && r.opcode <= 0xff, r.mnemonic);
    if (r.digit !== undefined) assert.ok(r.digit >= 0 && r.digit < 8, r.mnemonic);
  }
  assert.ok(INSN_TABLE.length > 400);
});
