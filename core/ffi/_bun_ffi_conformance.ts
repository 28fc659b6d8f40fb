// Type-level proof (checked by `tsc -p tsconfig.bun.json`, never run) that the real bun:ffi
// module provides what _bun_ffi.ts declares.
import type * as bunFfi from "bun:ffi";
import type { BunFfi, BunType } from "./_bun_ffi.ts";

type Assignable<From extends To, To> = From;

/** Fails to compile if a declared type name is not a bun:ffi FFIType name. */
export type TypeNamesExist = Assignable<BunType, keyof typeof bunFfi.FFIType>;

/** Fails to compile if bun:ffi's dlopen cannot stand in for the declared one. */
export type DlopenMatches = Assignable<{ dlopen: typeof bunFfi.dlopen }, Pick<BunFfi, "dlopen">>;
