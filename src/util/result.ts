// Typed results for host, configuration and loader errors: a stable code plus a clear message.

export interface Ok<T> {
  readonly ok: true;
  readonly value: T;
}
export interface Err<E = TsvmmError> {
  readonly ok: false;
  readonly error: E;
}
export type Result<T, E = TsvmmError> = Ok<T> | Err<E>;

export function ok<T>(value: T): Ok<T> {
  return { ok: true, value };
}
export function err<E = TsvmmError>(error: E): Err<E> {
  return { ok: false, error };
}

/** A host-side error with a stable machine-readable code (e.g. 'CPUID_PARSE', 'MULTIBOOT_NO_HEADER'). */
export class TsvmmError extends Error {
  override name = 'TsvmmError';
  constructor(
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export function unwrap<T>(r: Result<T>): T {
  if (r.ok) return r.value;
  throw r.error;
}
