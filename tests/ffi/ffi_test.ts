// core/ffi through openLibrary on testlib.c: every scalar type, host buffers, handles, statuses
// and the loader errors, identically under Deno and Bun.
import { ConfigError, NativeError } from "../../core/errors.ts";
import { check, openLibrary, readLastError, runtimeName } from "../../core/ffi/mod.ts";
import { isBun, test } from "../_harness.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { buildTestlib, TESTLIB_SYMBOLS } from "./_testlib.ts";

const built = buildTestlib();

function nativeError(fn: () => unknown): NativeError {
  return assertThrows(fn, NativeError) as NativeError;
}

function configError(fn: () => unknown): ConfigError {
  return assertThrows(fn, ConfigError) as ConfigError;
}

if ("skip" in built) {
  console.warn(`tests/ffi/ffi_test.ts skipped: ${built.skip}`);
  test(`ffi: skipped (${built.skip})`, () => {});
} else {
  const path = built.path;
  const lib = openLibrary(path, TESTLIB_SYMBOLS);
  const {
    tl_last_error,
    tl_add_i32,
    tl_u32_not,
    tl_f32_half,
    tl_u64_echo,
    tl_i64_negate,
    tl_pointer_from,
    tl_is_null,
    tl_increment,
    tl_sum_f32,
    tl_scale_into,
    tl_alloc,
    tl_write,
    tl_read,
    tl_count,
    tl_free,
    tl_fail,
  } = lib.symbols;

  test("ffi: runtimeName names the runtime the tests run on", () => {
    assertEquals(runtimeName(), isBun ? "bun" : "deno");
  });

  test("ffi: i32, u32 and f32 arguments and results", () => {
    assertEquals(tl_add_i32(2, -7), -5);
    assertEquals(tl_add_i32(2147483647, 1), -2147483648, "i32 wraps like C");
    assertEquals(tl_u32_not(0), 4294967295);
    assertEquals(tl_f32_half(3), 1.5);
    assertEquals(tl_f32_half(0.1), Math.fround(Math.fround(0.1) * 0.5), "f32 is rounded on the way in and out");
  });

  test("ffi: u64 and i64 results are bigint and round-trip beyond 2^53", () => {
    for (const value of [0n, 5n, 2n ** 53n + 1n, 2n ** 64n - 1n]) {
      const echoed = tl_u64_echo(value);
      assertEquals(typeof echoed, "bigint");
      assert(echoed === value, `u64 ${value} came back as ${echoed}`);
    }
    assert(tl_u64_echo(7) === 7n, "a number argument to a u64 parameter comes back as bigint");
    assert(tl_i64_negate(2n ** 62n) === -(2n ** 62n), "i64 keeps its sign");
    assert(tl_i64_negate(-(2n ** 63n) + 1n) === 2n ** 63n - 1n, "i64 extremes");
  });

  test("ffi: pointer results are bigint addresses, 0n for NULL", () => {
    assert(tl_pointer_from(0x1234n) === 0x1234n, `got ${tl_pointer_from(0x1234n)}`);
    assert(tl_pointer_from(0n) === 0n, `got ${tl_pointer_from(0n)}`);
  });

  test("ffi: pointer parameters read host typed arrays, honouring subarray offsets", () => {
    const x = Float32Array.from({ length: 100 }, (_, i) => i + 1);
    assertEquals(tl_sum_f32(x, x.length), 5050);
    assertEquals(tl_sum_f32(x.subarray(10, 20), 10), 155, "elements 11..20");
    assertEquals(tl_is_null(null), 1);
    assertEquals(tl_is_null(new Uint8Array(4)), 0);
  });

  test("ffi: pointer parameters accept SharedArrayBuffer-backed arrays, as tensor storage is", () => {
    const x = new Float32Array(new SharedArrayBuffer(4 * 64)).map((_, i) => i);
    const y = new Float32Array(new SharedArrayBuffer(4 * 64));
    assertEquals(tl_sum_f32(x, 64), 2016);
    assertEquals(tl_sum_f32(x.subarray(60), 4), 60 + 61 + 62 + 63);
    assertEquals(tl_scale_into(x, y, 64, -1), 0);
    assertClose(y, Array.from(x, (v) => -v), { rtol: 0, atol: 0 });
  });

  test("ffi: native code writes into caller buffers during the call", () => {
    const x = Float32Array.from([1, -2, 0.1, 1e-3, 3e5]);
    const y = new Float32Array(x.length);
    assertEquals(tl_scale_into(x, y, x.length, 2.5), 0);
    assertClose(y, Array.from(x, (v) => Math.fround(v * 2.5)), { rtol: 0, atol: 0 });
    const counter = new Int32Array([40]);
    assertEquals(tl_increment(counter), undefined, "void result");
    tl_increment(counter);
    assertEquals(counter[0], 42);
  });

  test("ffi: opaque u64 handles own native memory across calls", () => {
    const handle = tl_alloc(8n);
    assertEquals(typeof handle, "bigint");
    assert(handle !== 0n, "allocation failed");
    const values = Float32Array.from([3, 1, 4, 1, 5, 9, 2, 6]);
    check(tl_write(handle, values, 8n), "tl_write", "8 values", tl_last_error);
    const back = new Float32Array(8);
    check(tl_read(handle, back, 8n), "tl_read", "8 values", tl_last_error);
    assertClose(back, values, { rtol: 0, atol: 0 });
    const count = new BigUint64Array(1);
    check(tl_count(handle, count), "tl_count", "", tl_last_error);
    assert(count[0] === 8n, `count ${count[0]}`);
    const error = nativeError(
      () => check(tl_write(handle, new Float32Array(9), 9n), "tl_write", "9 values", tl_last_error),
    );
    assertEquals([error.op, error.code], ["tl_write", 3]);
    assertEquals(error.message, "tl_write: native error 3: tl_write: 9 values into a block of 8 (9 values)");
    assertEquals(tl_free(handle), 0);
  });

  test("ffi: check passes status 0 without building the detail, throws the library's message otherwise", () => {
    let built = 0;
    check(tl_add_i32(0, 0), "add", () => `${++built}`, tl_last_error);
    assertEquals(built, 0);
    const error = nativeError(() => check(tl_fail(7), "fail", () => "shape [2, 3]", tl_last_error));
    assertEquals([error.op, error.code], ["fail", 7]);
    assertEquals(error.message, "fail: native error 7: tl_fail: asked to fail with code 7 (shape [2, 3])");
    assertEquals(readLastError(tl_last_error, 8), "tl_fail", "truncated to the buffer, NUL included");
    const noStatus = nativeError(() => check(tl_increment(new Int32Array(1)), "increment", "", tl_last_error));
    assertEquals(noStatus.code, -1);
    assert(noStatus.message.includes("expected an i32 status, got undefined"), noStatus.message);
  });

  test("ffi: a missing library is a NativeError with the path and the OS message", () => {
    const missing = "/nonexistent/attnzoo/libnothing.so";
    const error = nativeError(() => openLibrary(missing, { tl_fail: TESTLIB_SYMBOLS.tl_fail }));
    assertEquals([error.op, error.code], ["openLibrary", -1]);
    assert(error.message.includes(missing), error.message);
    assert(error.message.includes("No such file or directory"), error.message);
  });

  test("ffi: a file that is not a shared library is reported by the loader", () => {
    const source = new URL("./testlib.c", import.meta.url).pathname;
    const error = nativeError(() => openLibrary(source, { tl_fail: TESTLIB_SYMBOLS.tl_fail }));
    assert(error.message.includes(source) && error.message.includes("invalid ELF header"), error.message);
  });

  test("ffi: missing symbols are named, and only those", () => {
    const one = nativeError(
      () => openLibrary(path, { ...TESTLIB_SYMBOLS, tl_absent: { parameters: [], result: "i32" } }),
    );
    assertEquals(one.message, `openLibrary: native error -1: ${path}: missing symbol tl_absent`);
    const two = nativeError(
      () =>
        openLibrary(path, {
          tl_fail: TESTLIB_SYMBOLS.tl_fail,
          tl_gone: { parameters: ["i32"], result: "void" },
          tl_absent: { parameters: [], result: "i32" },
        }),
    );
    assertEquals(two.message, `openLibrary: native error -1: ${path}: missing symbols tl_gone, tl_absent`);
    const only = nativeError(() => openLibrary(path, { tl_absent: { parameters: [], result: "i32" } }));
    assert(only.message.includes("tl_absent"), `the loader names the symbol: ${only.message}`);
  });

  test("ffi: malformed symbol tables are ConfigErrors naming the field", () => {
    const voidParameter = configError(
      () => openLibrary(path, { tl_fail: { parameters: ["void"], result: "i32" } }),
    );
    assertEquals(voidParameter.field, "tl_fail.parameters[0]");
    const unknownResult = configError(
      // @ts-expect-error: "i8" is not an FfiType; JavaScript callers can still pass it
      () => openLibrary(path, { tl_fail: { parameters: ["i32"], result: "i8" } }),
    );
    assertEquals(unknownResult.field, "tl_fail.result");
    assertEquals(configError(() => openLibrary(path, {})).source, `symbol table for ${path}`);
  });

  test("ffi: libraries close idempotently and with `using`", () => {
    {
      using second = openLibrary(path, { tl_add_i32: TESTLIB_SYMBOLS.tl_add_i32 });
      assertEquals(second.path, path);
      assertEquals(second.symbols.tl_add_i32(20, 22), 42);
    }
    const third = openLibrary(path, { tl_add_i32: TESTLIB_SYMBOLS.tl_add_i32 });
    third.close();
    third.close();
    assertEquals(tl_add_i32(1, 1), 2, "the first handle still works after others close");
  });
}
