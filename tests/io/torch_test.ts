import { readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { CheckpointError } from "../../core/errors.ts";
import { readSafetensors } from "../../core/io/safetensors.ts";
import { readTorchCheckpoint } from "../../core/io/torch.ts";
import type { Tensor } from "../../core/tensor.ts";
import { assertClose, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { scratchDir } from "./_files.ts";
import { PickleWriter, type TensorSpec, torchStateDictPickle } from "./_pickle_builder.ts";
import { buildZip } from "./_zip_builder.ts";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/io/${name}`, import.meta.url));
const path = scratchDir();

interface Expected {
  dtype: string;
  shape: number[];
  values: number[];
}
const expected = JSON.parse(readFileSync(fixture("expected.json"), "utf8")) as Record<
  "model" | "state_dict_ema" | "ordered_dict",
  Record<string, Expected>
>;

/** How each torch dtype loads: bit-exact where the dtype exists here, widened/rounded otherwise. */
const LOADED_AS: Record<string, string> = {
  float32: "f32",
  float16: "f16",
  bfloat16: "bf16",
  float64: "f32",
  int64: "i32",
  int32: "i32",
  bool: "i32",
};

function assertMatchesExpected(loaded: Map<string, Tensor>, want: Record<string, Expected>, label: string): void {
  assertEquals([...loaded.keys()], Object.keys(want), `${label} names`);
  for (const [name, e] of Object.entries(want)) {
    const t = loaded.get(name)!;
    assertEquals([t.dtype, t.shape], [LOADED_AS[e.dtype], e.shape], `${label} ${name}`);
    // f64 is rounded to f32; every other value is exact
    const values = e.dtype === "float64" ? e.values.map(Math.fround) : e.values;
    assertClose(t.toTypedArray(), values, { rtol: 0, atol: 0 }, `${label} ${name}`);
  }
}

test("torch: a real torch.save checkpoint matches the values torch computed", () => {
  assertMatchesExpected(readTorchCheckpoint(fixture("state_dict.pth")), expected.model, "model");
});

test("torch: transposed and storage-sharing views come out as contiguous copies", () => {
  const loaded = readTorchCheckpoint(fixture("state_dict.pth"));
  const base = loaded.get("shared.base")!.toArray() as number[][];
  assertEquals(loaded.get("shared.row")!.toArray(), base[1]);
  assertEquals(loaded.get("shared.col")!.toArray(), base.map((row) => row[2]));
  assertEquals(base[3], [1.5, 1.625, 1.75, 1.875]);
  assertEquals(loaded.get("transposed")!.shape, [5, 3]);
});

test("torch: deflated archive and default-format OrderedDict read the same way", () => {
  const stored = readTorchCheckpoint(fixture("state_dict.pth"));
  const deflated = readTorchCheckpoint(fixture("state_dict_deflate.pth"));
  for (const [name, t] of stored) assertEquals(Array.from(deflated.get(name)!.hostData), Array.from(t.hostData), name);
  assertMatchesExpected(readTorchCheckpoint(fixture("ordered_dict.pth")), expected.ordered_dict, "ordered_dict");
});

test("torch: the safetensors copy agrees with the torch reader bit for bit", () => {
  const fromTorch = readTorchCheckpoint(fixture("state_dict.pth"));
  const fromSafetensors = readSafetensors(fixture("state_dict.safetensors"));
  assertEquals([...fromSafetensors.keys()].sort(), [...fromTorch.keys()].sort());
  for (const [name, t] of fromTorch) {
    const s = fromSafetensors.get(name)!;
    assertEquals([s.dtype, s.shape], [t.dtype, t.shape], name);
    assertEquals(Array.from(s.hostData), Array.from(t.hostData), name);
  }
});

test("torch: the state dict key can be chosen, and wrong keys are named", () => {
  assertMatchesExpected(
    readTorchCheckpoint(fixture("state_dict.pth"), { key: "state_dict_ema" }),
    expected.state_dict_ema,
    "ema",
  );
  const file = fixture("state_dict.pth");
  assertThrows(
    () => readTorchCheckpoint(file, { key: "optimizer" }),
    CheckpointError,
    'no key "optimizer"',
    "model, state_dict_ema, epoch, best_acc, args",
  );
  assertThrows(() => readTorchCheckpoint(file, { key: "epoch" }), CheckpointError, '"epoch" holds a number');
  assertThrows(() => readTorchCheckpoint(file, { key: "args" }), CheckpointError, "argparse.Namespace");
});

test("torch: a pickle that calls os.system is refused by name, and the legacy format is named", () => {
  assertThrows(() => readTorchCheckpoint(fixture("malicious.pth")), CheckpointError, "refusing global os.system");
  assertThrows(() => readTorchCheckpoint(fixture("legacy.pth")), CheckpointError, "legacy (pre-1.6)");
});

test("torch: progress covers every tensor byte", () => {
  const seen: number[] = [];
  let last = 0;
  readTorchCheckpoint(fixture("state_dict.pth"), {
    onProgress: (done, total) => {
      seen.push(done);
      last = total;
    },
  });
  // bytes as stored: 12·4 + 3·4 + 10·2 + 12·2 + 2·8 (f64) + 6·8 (i64) + 4·4 + 4·1 (bool) + 15·4
  // + 16·4 + 4·4 + 4·4 (views count their own elements) + 2·4 + 4 + 4·4
  assertEquals(seen.length, 15);
  assertEquals([seen[seen.length - 1], last], [372, 372]);
});

const f32Storage = (values: number[]) => new Uint8Array(new Float32Array(values).buffer);

function archive(pickle: Uint8Array, records: [string, Uint8Array][] = [], byteorder = "little"): string {
  const file = path(`hand${Math.random().toString(36).slice(2)}.pth`);
  writeFileSync(
    file,
    buildZip([
      ["ckpt/data.pkl", pickle],
      ["ckpt/byteorder", new TextEncoder().encode(byteorder)],
      ...records.map(([key, bytes]): [string, Uint8Array] => [`ckpt/data/${key}`, bytes]),
    ]),
  );
  return file;
}

const spec = (overrides: Partial<TensorSpec>): TensorSpec => ({
  name: "w",
  storageType: "FloatStorage",
  key: "0",
  numel: 6,
  offset: 0,
  size: [2, 3],
  stride: [3, 1],
  ...overrides,
});

test("torch: hand-built archives with offsets, strides and zip64 read back exactly", () => {
  const storage = f32Storage([0, 1, 2, 3, 4, 5, 6, 7]);
  const pickle = torchStateDictPickle([
    spec({ name: "t", numel: 8, offset: 1, size: [3, 2], stride: [1, 3] }), // columns of a 2×3 block at offset 1
    spec({ name: "tail", numel: 8, offset: 5, size: [3], stride: [1] }),
    spec({ name: "bcast", numel: 8, offset: 2, size: [2, 2], stride: [0, 1] }),
  ]);
  // a [2, 3, 4] block permuted to [4, 2, 3]: element [i][j][k] is storage element 12j + 4k + i
  const permuted = torchStateDictPickle([
    spec({ name: "p", key: "1", numel: 24, size: [4, 2, 3], stride: [1, 12, 4] }),
  ]);
  const naive = Array.from(
    { length: 4 },
    (_, i) => Array.from({ length: 2 }, (_, j) => [0, 1, 2].map((k) => 12 * j + 4 * k + i)),
  );
  const file = path("permuted.pth");
  writeFileSync(
    file,
    buildZip([["p/data.pkl", permuted], ["p/data/1", f32Storage(Array.from({ length: 24 }, (_, i) => i))]]),
  );
  assertEquals(readTorchCheckpoint(file).get("p")!.toArray(), naive);
  for (const zip64 of [false, true]) {
    const file = path(`strided${zip64}.pth`);
    writeFileSync(file, buildZip([["a/data.pkl", pickle], ["a/data/0", storage]], { zip64 }));
    const loaded = readTorchCheckpoint(file);
    assertEquals(loaded.get("t")!.toArray(), [[1, 4], [2, 5], [3, 6]]);
    assertEquals(loaded.get("tail")!.toArray(), [5, 6, 7]);
    assertEquals(loaded.get("bcast")!.toArray(), [[2, 3], [2, 3]]);
  }
});

test("torch: malformed archives give CheckpointErrors naming the problem", () => {
  const ok = f32Storage([0, 1, 2, 3, 4, 5]);
  const cases: [string, string, string[]][] = [
    [
      "out of bounds",
      archive(torchStateDictPickle([spec({ offset: 2 })]), [["0", ok]]),
      ['tensor "w"', "offset 2", "element 7 of a 6-element storage"],
    ],
    ["missing record", archive(torchStateDictPickle([spec({})])), ['storage record "ckpt/data/0" is missing']],
    [
      "short record",
      archive(torchStateDictPickle([spec({})]), [["0", ok.subarray(0, 20)]]),
      ["has 20 bytes", "6 F32 elements need 24"],
    ],
    [
      "unsupported storage",
      archive(torchStateDictPickle([spec({ storageType: "ComplexFloatStorage" })]), [["0", ok]]),
      ["unsupported storage type torch.ComplexFloatStorage"],
    ],
    ["big endian", archive(torchStateDictPickle([spec({})]), [["0", ok]], "big"), ['byte order "big"']],
    [
      "stack global",
      archive(new PickleWriter().proto(4).shortStr("builtins").shortStr("eval").op(0x93).finish()),
      ["refusing global builtins.eval"],
    ],
    ["protocol 6", archive(new PickleWriter().proto(6).op(0x4e).finish()), ["protocol 6"]],
    [
      "INST opcode",
      archive(new PickleWriter().proto(2).op(0x69, ...new TextEncoder().encode("os\nsystem\n")).finish()),
      ["unsupported opcode 0x69"],
    ],
    ["truncated", archive(new PickleWriter().proto(2).str("abc").finish().subarray(0, 6)), ["truncated pickle"]],
    ["not a dict", archive(new PickleWriter().proto(2).op(0x5d).finish()), ["holds a sequence, not a dict"]],
    [
      "non-tensor entry",
      archive(new PickleWriter().proto(2).op(0x7d).str("model").op(0x7d).str("w").int(3).op(0x73, 0x73).finish()),
      ['"model": entry "w" holds a number, not a tensor'],
    ],
  ];
  for (const [label, file, parts] of cases) {
    try {
      assertThrows(() => readTorchCheckpoint(file), CheckpointError, file, ...parts);
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
  }
});

test("torch: a corrupted byte fails the CRC check; a non-zip is refused", () => {
  const bytes = readFileSync(fixture("state_dict.pth"));
  const pickleAt = bytes.indexOf(Buffer.from("encoder.weight"));
  bytes[pickleAt] ^= 0x20;
  const file = path("corrupt.pth");
  writeFileSync(file, bytes);
  assertThrows(() => readTorchCheckpoint(file), CheckpointError, 'entry "state_dict/data.pkl": CRC-32 mismatch');
  writeFileSync(file, "definitely not a checkpoint");
  assertThrows(() => readTorchCheckpoint(file), CheckpointError, "not a torch.save zip archive");
});

test("torch: a deflated entry larger than the directory says is cut off, not inflated", () => {
  const bytes = buildZip([["a/data.pkl", new Uint8Array(100_000)]], { deflate: true });
  const view = new DataView(bytes.buffer);
  let central = bytes.length - 22;
  while (view.getUint32(central, true) !== 0x02014b50) central--;
  view.setUint32(central + 24, 10, true); // claimed inflated size
  const file = path("bomb.pth");
  writeFileSync(file, bytes);
  assertThrows(
    () => readTorchCheckpoint(file),
    CheckpointError,
    'entry "a/data.pkl": corrupt deflate data',
    "10 bytes",
  );
});
