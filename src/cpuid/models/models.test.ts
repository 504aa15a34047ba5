import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lookupFeature } from '../features.ts';
import { MODELS, findModel, modelNames } from './index.ts';

test('models: names resolve, every non-hardware choice has a reason, lookup by alias', () => {
  assert.deepEqual(modelNames(), ['x86-64-v2', 'x86-64-v3', 'Skylake-Server', 'EPYC-Rome', 'EPYC-Genoa']);
  for (const m of MODELS) {
    for (const n of m.features) assert.ok(lookupFeature(n), `${m.name}: ${n}`);
    for (const [n, why] of Object.entries({ ...m.removed, ...m.added })) {
      assert.ok(lookupFeature(n), `${m.name}: ${n}`);
      assert.ok(why.length > 10, `${m.name}: ${n} needs a reason`);
    }
    // a feature is either offered or removed, never both
    for (const n of Object.keys(m.removed ?? {})) assert.ok(!m.features.includes(n), `${m.name}: ${n}`);
    // added bits are offered
    for (const n of Object.keys(m.added ?? {})) assert.ok(m.features.includes(n), `${m.name}: ${n}`);
  }
  assert.equal(findModel('zen2')?.name, 'EPYC-Rome');
  assert.equal(findModel('SKYLAKE-SERVER')?.name, 'Skylake-Server');
  assert.equal(findModel('baseline')?.name, 'x86-64-v2');
  assert.equal(findModel('i486'), undefined);
  // v3 is v2 plus the AVX2 class
  const v2 = new Set(findModel('x86-64-v2')!.features);
  const v3 = findModel('x86-64-v3')!.features;
  assert.ok([...v2].every((f) => v3.includes(f)));
  for (const f of ['avx', 'avx2', 'bmi1', 'bmi2', 'fma', 'movbe', 'abm', 'xsave', 'f16c'])
    assert.ok(v3.includes(f), f);
  // the real-CPU models record their erratum and deprecation choices
  assert.match(findModel('EPYC-Rome')!.removed!.xsaves!, /1386/);
  assert.match(findModel('Skylake-Server')!.removed!.mpx!, /deprecated/);
});
