// Status convention: every native function returns an i32, 0 = ok; on failure the library's
// `<lib>_last_error(char* buf, int len)` writes a NUL-terminated UTF-8 message into `buf`.
import { NativeError } from "../errors.ts";
import type { NativeFn } from "./_types.ts";

const decoder = new TextDecoder();

/**
 * Calls a `<lib>_last_error(char* buf, int len)` function with a fresh buffer of `capacity`
 * bytes and returns the message it wrote (up to the first NUL).
 */
export function readLastError(lastError: NativeFn, capacity = 1024): string {
  const buffer = new Uint8Array(capacity);
  lastError(buffer, capacity);
  const end = buffer.indexOf(0);
  return decoder.decode(buffer.subarray(0, end < 0 ? capacity : end));
}

/**
 * Throws {@linkcode NativeError} unless `status` is 0. The message joins the library's last error
 * (read through `lastError`) with `detail`, e.g. the shapes of the failing op; pass a function to
 * build `detail` only on failure.
 */
export function check(
  status: number | bigint | void,
  op: string,
  detail: string | (() => string),
  lastError: NativeFn,
): void {
  if (status === 0) return;
  const described = typeof detail === "function" ? detail() : detail;
  if (typeof status !== "number") {
    throw new NativeError(op, -1, `expected an i32 status, got ${typeof status}${described ? ` (${described})` : ""}`);
  }
  const message = readLastError(lastError) || "no message from the library";
  throw new NativeError(op, status, described ? `${message} (${described})` : message);
}
