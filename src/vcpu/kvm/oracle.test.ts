// The contract oracle-check bookkeeping (oracle.ts): predictions compared with KVM outcomes.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { describeDisagreement, OracleCheck, type ContractOracle, type Disagreement } from './oracle.ts';

const refuse = {
  ok: false as const,
  rule: 'cr4.reserved',
  reason: 'CR4.SMXE (bit 14) is reserved under KVM',
};

test('agreement records nothing; each disagreement is logged and reported once', () => {
  const seen: Disagreement[] = [];
  const oracle: ContractOracle = { predictSetSregs: () => refuse, predictSetMsr: () => ({ ok: true }) };
  const o = new OracleCheck({ oracle, onDisagreement: (d) => seen.push(d) });
  assert.equal(o.mode, 'observe');
  assert.equal(o.compare(0, 'KVM_SET_SREGS', 'cr4=0x4000', refuse, { ok: false, code: 'EINVAL' }), false);
  assert.equal(o.compare(0, 'KVM_SET_SREGS', 'cr4=0x4000', refuse, { ok: true }), true);
  assert.equal(
    o.compare(1, 'KVM_SET_MSRS', 'msr 0x10a=0x1', { ok: true }, { ok: false, code: 'EINVAL' }),
    true,
  );
  assert.equal(o.log.length, 2);
  assert.deepEqual(seen, o.log);
  assert.match(describeDisagreement(o.log[0]!), /contract: refuse \(cr4\.reserved: CR4\.SMXE.*KVM: accepted/);
  assert.match(describeDisagreement(o.log[1]!), /contract: accept; KVM: refused with EINVAL/);
});

test('a contract check that throws becomes a refusal prediction, not a crash', () => {
  const oracle: ContractOracle = {
    predictSetSregs: () => {
      throw new Error('boom');
    },
    predictSetMsr: () => ({ ok: true }),
  };
  const ctx = { cpuid: [], hasRun: false, sregs: () => ({}) as never, xcr0: () => 1n, msr: () => undefined };
  const p = new OracleCheck({ oracle, mode: 'enforce' }).predictSregs(ctx, {} as never);
  assert.ok(!p.ok && p.rule === 'contract.threw' && /boom/.test(p.reason));
});
