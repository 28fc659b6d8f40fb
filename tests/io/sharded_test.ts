import { writeFileSync } from "node:fs";
import { CheckpointError } from "../../core/errors.ts";
import { readShardedSafetensors } from "../../core/io/sharded.ts";
import { writeSafetensors } from "../../core/io/safetensors.ts";
import { tensor } from "../../core/tensor.ts";
import { assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";
import { scratchDir } from "./_files.ts";

/** Writes shards (file → names) of small distinct tensors and an index; returns the index path. */
function sharded(shards: Record<string, string[]>, weightMap: unknown, dir = scratchDir()): string {
  let value = 0;
  for (const [file, names] of Object.entries(shards)) {
    writeSafetensors(dir(file), Object.fromEntries(names.map((n) => [n, tensor([value++, value++])])));
  }
  const index = dir("model.safetensors.index.json");
  writeFileSync(index, typeof weightMap === "string" ? weightMap : JSON.stringify(weightMap));
  return index;
}

const SHARDS = { "model-00001-of-00002.safetensors": ["a", "b"], "model-00002-of-00002.safetensors": ["c"] };
const MAP = {
  metadata: { total_size: 24 },
  weight_map: {
    a: "model-00001-of-00002.safetensors",
    b: "model-00001-of-00002.safetensors",
    c: "model-00002-of-00002.safetensors",
  },
};

test("sharded: every shard is loaded and every mapped tensor found", () => {
  const seen: [number, number][] = [];
  const loaded = readShardedSafetensors(sharded(SHARDS, MAP), { onProgress: (d, t) => seen.push([d, t]) });
  assertEquals([...loaded.keys()].sort(), ["a", "b", "c"]);
  assertEquals([loaded.get("a")!.toArray(), loaded.get("b")!.toArray(), loaded.get("c")!.toArray()], [
    [0, 1],
    [2, 3],
    [4, 5],
  ]);
  const [lastDone, total] = seen[seen.length - 1];
  assertEquals(lastDone, total, "progress ends at the total");
  assertEquals(seen.map(([d]) => d).every((d, i, all) => i === 0 || d >= all[i - 1]), true, "progress grows");
});

test("sharded: inconsistencies between the index and the shards are CheckpointErrors", () => {
  const one = "model-00001-of-00002.safetensors";
  const two = "model-00002-of-00002.safetensors";
  const cases: [string, string, string[]][] = [
    ["missing tensor", sharded(SHARDS, { weight_map: { ...MAP.weight_map, d: two } }), ['"d" is missing from', two]],
    [
      "unmapped tensor",
      sharded(SHARDS, { weight_map: { a: one, c: two } }),
      ['tensor "b" in', one, "not mapped to that shard"],
    ],
    [
      "duplicate across shards",
      sharded({ [one]: ["a", "b"], [two]: ["c", "a"] }, MAP),
      ['tensor "a" appears in both', one, two],
    ],
    ["missing shard", sharded({ [one]: ["a", "b"] }, MAP), [two, "cannot open"]],
    ["bad JSON", sharded(SHARDS, "{ weight_map"), ["cannot read the index"]],
    ["no weight_map", sharded(SHARDS, { metadata: {} }), ["weight_map"]],
    ["non-string shard", sharded(SHARDS, { weight_map: { a: 3 } }), ["weight_map.a"]],
    ["escaping path", sharded(SHARDS, { weight_map: { a: "../x.safetensors" } }), ["inside the index's folder"]],
  ];
  for (const [label, index, parts] of cases) {
    try {
      assertThrows(() => readShardedSafetensors(index), CheckpointError, ...parts);
    } catch (err) {
      throw new Error(`${label}: ${(err as Error).message}`);
    }
  }
});
