// Invariant checks for host code. Guest-visible faults never use these (see DESIGN.md §3.6).

export class AssertionError extends Error {
  override name = 'AssertionError';
}

export function assert(cond: unknown, message = 'assertion failed'): asserts cond {
  if (!cond) throw new AssertionError(message);
}

export function assertNever(x: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what}: ${JSON.stringify(x)}`);
}
