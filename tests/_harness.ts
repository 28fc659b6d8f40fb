// Runtime-neutral test registration: Deno.test under Deno, bun:test under Bun. Test files use
// `test(name, fn)` from here so the same suite runs on both runtimes.

/** A test body. */
export type TestBody = () => void | Promise<void>;

type Register = (name: string, fn: TestBody) => void;

const deno = (globalThis as { Deno?: { test: (def: object) => void } }).Deno;

const register: Register = deno !== undefined
  ? (name, fn) => deno.test({ name, fn, sanitizeOps: false, sanitizeResources: false })
  : ((await import("bun:test" as string)) as { test: Register }).test;

/** Registers a test with the runtime's own runner. */
export function test(name: string, fn: TestBody): void {
  register(name, fn);
}

/** True under Bun. */
export const isBun: boolean = deno === undefined;
