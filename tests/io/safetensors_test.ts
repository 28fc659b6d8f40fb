import { writeFileSync } from "node:fs";
import { CheckpointError } from "../../core/errors.ts";
import {
  encodeSafetensors,
  parseSafetensors,
  readSafetensors,
  readSafetensorsMetadata,
  writeSafetensors,
} from "../../core/io/safetensors.ts";
import { tensor } from "../../core/tensor.ts";
import { assert, assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { bytesOf, safetensorsBytes, scratchDir, withPrefix } from "./_files.ts";

const path = scratchDir();

test("safetensors: write then read keeps every dtype bit for bit, plus metadata", () => {
  const specials = [0, -0, 1, -2.5, 65504, 6e-8, 1e-3, Infinity, -Infinity, NaN];
  const tensors = {
    "w.f32": tensor([[1.5, -2e-30], [3.4e38, NaN]], { dtype: "f32" }),
    "w.f16": tensor(specials, { dtype: "f16" }),
    "w.bf16": tensor(specials.map((x) => x * 1e10), { dtype: "bf16" }),
    "ids": tensor(new Int32Array([0, -1, 2147483647, -2147483648]), { shape: [2, 2] }),
    "empty": tensor([], { shape: [0, 3] }),
    "scalar": tensor(7, { shape: [] }),
  };
  const file = path("all.safetensors");
  writeSafetensors(file, tensors, { format: "pt", note: "round trip" });
  for (const loaded of [readSafetensors(file), parseSafetensors(encodeSafetensors(tensors), "mem")]) {
    assertEquals([...loaded.keys()].sort(), Object.keys(tensors).sort());
    for (const [name, t] of Object.entries(tensors)) {
      const got = loaded.get(name)!;
      assertEquals([got.dtype, got.shape], [t.dtype, t.shape], name);
      assertEquals(Array.from(got.hostData), Array.from(t.hostData), name);
    }
  }
  assertEquals(readSafetensorsMetadata(file), { format: "pt", note: "round trip" });
});

test("safetensors: the header is space-padded to 8 bytes and tensors are laid out widest first", () => {
  const bytes = encodeSafetensors({ b: tensor([1], { dtype: "f16" }), a: tensor([2, 3]) });
  const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assertEquals(length % 8, 0, "header length");
  const header = new TextDecoder().decode(bytes.subarray(8, 8 + length));
  assertEquals(
    JSON.parse(header),
    { a: { dtype: "F32", shape: [2], data_offsets: [0, 8] }, b: { dtype: "F16", shape: [1], data_offsets: [8, 10] } },
  );
  assert(header.endsWith(" ") || header.endsWith("}"), "padding is spaces");
  // f32 2.0 = 0x40000000, 3.0 = 0x40400000; f16 1.0 = 0x3c00 (little-endian)
  assertEquals(Array.from(bytes.subarray(8 + length)), [0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0x00, 0x3c]);
});

test("safetensors: hand-built bytes decode to the documented values", () => {
  const data = new Uint8Array([0x00, 0x00, 0x80, 0x3f, 0x49, 0x40, 0x00, 0xc0]);
  const loaded = parseSafetensors(
    safetensorsBytes({
      one: { dtype: "F32", shape: [], data_offsets: [0, 4] },
      pi: { dtype: "BF16", shape: [1], data_offsets: [4, 6] },
      minus2: { dtype: "F16", shape: [1], data_offsets: [6, 8] },
    }, data),
    "hand",
  );
  assertEquals(loaded.get("one")!.toArray(), 1);
  assertEquals(loaded.get("pi")!.toArray(), [3.140625]);
  assertEquals(loaded.get("minus2")!.toArray(), [-2]);
});

test("safetensors: integer and f64 types convert to i32 / f32", () => {
  const cases: [string, ArrayBufferView, number[], "i32" | "f32"][] = [
    ["BOOL", new Uint8Array([1, 0, 1]), [1, 0, 1], "i32"],
    ["U8", new Uint8Array([0, 200, 255]), [0, 200, 255], "i32"],
    ["I8", new Int8Array([-128, 0, 127]), [-128, 0, 127], "i32"],
    ["I16", new Int16Array([-32768, 5, 32767]), [-32768, 5, 32767], "i32"],
    ["U16", new Uint16Array([0, 40000, 65535]), [0, 40000, 65535], "i32"],
    ["U32", new Uint32Array([0, 7, 2147483647]), [0, 7, 2147483647], "i32"],
    ["I64", new BigInt64Array([-2147483648n, -1n, 2147483647n]), [-2147483648, -1, 2147483647], "i32"],
    ["U64", new BigUint64Array([0n, 1n, 2147483647n]), [0, 1, 2147483647], "i32"],
    ["F64", new Float64Array([0.1, -1e300, 2.5]), [Math.fround(0.1), -Infinity, 2.5], "f32"],
  ];
  for (const [dtype, values, expected, loadedAs] of cases) {
    const data = bytesOf(values);
    const loaded = parseSafetensors(
      safetensorsBytes({ x: { dtype, shape: [3], data_offsets: [0, data.length] } }, data),
      dtype,
    ).get("x")!;
    assertEquals(loaded.dtype, loadedAs, dtype);
    assertClose(loaded.toTypedArray(), expected, { rtol: 0, atol: 0 }, dtype);
  }
});

test("safetensors: integers beyond i32 and fp8 are refused with the tensor named", () => {
  const big = bytesOf(new BigInt64Array([1n, 5000000000n]));
  assertThrows(
    () => parseSafetensors(safetensorsBytes({ ids: { dtype: "I64", shape: [2], data_offsets: [0, 16] } }, big), "f"),
    CheckpointError,
    'tensor "ids"',
    "5000000000",
    "index 1",
  );
  const negative = bytesOf(new BigInt64Array([-3000000000n]));
  assertThrows(
    () => parseSafetensors(safetensorsBytes({ n: { dtype: "I64", shape: [1], data_offsets: [0, 8] } }, negative), "f"),
    CheckpointError,
    "-3000000000",
  );
  const u32 = bytesOf(new Uint32Array([4294967295]));
  assertThrows(
    () => parseSafetensors(safetensorsBytes({ u: { dtype: "U32", shape: [1], data_offsets: [0, 4] } }, u32), "f"),
    CheckpointError,
    "4294967295",
  );
  assertThrows(
    () =>
      parseSafetensors(
        safetensorsBytes({ q: { dtype: "F8_E4M3", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)),
        "f",
      ),
    CheckpointError,
    "F8_E4M3",
    "not supported",
  );
});

const entry = (dtype: string, shape: number[], begin: number, end: number) => ({
  dtype,
  shape,
  data_offsets: [begin, end],
});

test("safetensors: malformed headers each give a CheckpointError naming the problem", () => {
  const cases: [string, Uint8Array, string[]][] = [
    ["too short", new Uint8Array(5), ["too short"]],
    ["header too big", withPrefix(200_000_000n, new Uint8Array(16)), ["200000000", "limit"]],
    ["header past the end", withPrefix(64n, new TextEncoder().encode("{}")), ["exceeds the file"]],
    ["bad json", safetensorsBytes('{"a": '), ["not valid UTF-8 JSON"]],
    ["bad utf-8", withPrefix(2n, new Uint8Array([0xff, 0xfe])), ["not valid UTF-8 JSON"]],
    ["not an object", safetensorsBytes("[1, 2]"), ["must be a JSON object"]],
    ["unknown dtype", safetensorsBytes({ w: entry("F128", [1], 0, 16) }, new Uint8Array(16)), ['"w"', '"F128"']],
    ["extra field", safetensorsBytes({ w: { ...entry("F32", [1], 0, 4), offsets: 1 } }, new Uint8Array(4)), ['"w"']],
    ["negative dim", safetensorsBytes({ w: entry("F32", [-1], 0, 4) }, new Uint8Array(4)), ['"w"', "shape"]],
    [
      "shape mismatch",
      safetensorsBytes({ w: entry("F32", [2, 3], 0, 16) }, new Uint8Array(16)),
      ['"w"', "[2, 3]", "needs 24 bytes", "span 16"],
    ],
    ["reversed", safetensorsBytes({ w: entry("F32", [0], 8, 4) }, new Uint8Array(8)), ['"w"', "reversed"]],
    [
      "out of bounds",
      safetensorsBytes({ w: entry("F32", [4], 0, 16) }, new Uint8Array(8)),
      ['"w"', "out of bounds", "8 bytes"],
    ],
    [
      "overlap",
      safetensorsBytes({ a: entry("F32", [2], 0, 8), b: entry("F32", [2], 4, 12) }, new Uint8Array(12)),
      ['"b" overlaps tensor "a"'],
    ],
    [
      "gap",
      safetensorsBytes({ a: entry("F32", [1], 0, 4), b: entry("F32", [1], 20, 24) }, new Uint8Array(24)),
      ['gap of 16 bytes before tensor "b"'],
    ],
    ["trailing bytes", safetensorsBytes({ a: entry("F32", [1], 0, 4) }, new Uint8Array(40)), ["36 unused bytes"]],
    [
      "metadata not strings",
      safetensorsBytes({ __metadata__: { epoch: 3 }, a: entry("F32", [1], 0, 4) }, new Uint8Array(4)),
      ["__metadata__", "epoch"],
    ],
  ];
  const file = path("bad.safetensors");
  for (const [label, bytes, parts] of cases) {
    const err = assertThrows(
      () => parseSafetensors(bytes, `case:${label}`),
      CheckpointError,
      `case:${label}`,
      ...parts,
    );
    writeFileSync(file, bytes);
    const fromFile = assertThrows(() => readSafetensors(file), CheckpointError, file, ...parts);
    assertEquals(fromFile.message.slice(file.length), err.message.slice(`case:${label}`.length), label);
  }
});

test("safetensors: alignment padding between tensors is accepted", () => {
  const data = new Uint8Array(16);
  new Float32Array(data.buffer, 8, 2).set([4, 5]);
  const loaded = parseSafetensors(
    safetensorsBytes({ h: entry("F16", [1], 0, 2), f: entry("F32", [2], 8, 16) }, data),
    "padded",
  );
  assertEquals(loaded.get("f")!.toArray(), [4, 5]);
});

test("safetensors: progress reports every tensor and ends at the data size", () => {
  const file = path("progress.safetensors");
  writeSafetensors(file, { a: tensor([1, 2, 3]), b: tensor([4], { dtype: "bf16" }) });
  const seen: [number, number][] = [];
  readSafetensors(file, { onProgress: (done, total) => seen.push([done, total]) });
  assertEquals(seen, [[12, 14], [14, 14]]);
});

test("safetensors: a missing file and a reserved name are CheckpointErrors", () => {
  assertThrows(() => readSafetensors(path("nope.safetensors")), CheckpointError, "nope.safetensors", "cannot open");
  assertThrows(() => encodeSafetensors({ __metadata__: tensor([1]) }), CheckpointError, "__metadata__");
  const notString = { epoch: 3 } as unknown as Record<string, string>;
  assertThrows(() => encodeSafetensors({ w: tensor([1]) }, notString), CheckpointError, "__metadata__.epoch");
});
