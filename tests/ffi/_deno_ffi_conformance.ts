// Type-level proof (checked by `deno check tests/`, never run) that Deno's own FFI provides what
// core/ffi/_deno_ffi.ts declares, so the Deno adapter's calls match the real API.
import type { DenoFfi } from "../../core/ffi/_deno_ffi.ts";

type Assignable<From extends To, To> = From;

/** Fails to compile if `Deno.dlopen` or `Deno.UnsafePointer.value` cannot stand in for the declared ones. */
export type DenoFfiMatches = Assignable<
  { dlopen: typeof Deno.dlopen; UnsafePointer: { value: typeof Deno.UnsafePointer.value } },
  DenoFfi
>;
