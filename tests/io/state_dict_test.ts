import { CheckpointError } from "../../core/errors.ts";
import { applyStateDict, StateDictMismatchError } from "../../core/io/state_dict.ts";
import { type Tensor, tensor, zeros } from "../../core/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

function model(): Map<string, Tensor> {
  return new Map([
    ["blocks.0.qkv.weight", zeros([6, 2])],
    ["blocks.0.qkv.bias", zeros([6])],
    ["head.weight", zeros([3, 2], "bf16")],
  ]);
}

test("applyStateDict: matching tensors replace the model's and the old ones are disposed", () => {
  const target = model();
  const old = [...target.values()];
  const source = new Map([
    ["blocks.0.qkv.weight", tensor(Array.from({ length: 12 }, (_, i) => i), { shape: [6, 2] })],
    ["blocks.0.qkv.bias", tensor([1, 2, 3, 4, 5, 6])],
    ["head.weight", tensor([[1, 2], [3, 4], [5, 6]], { dtype: "bf16" })],
  ]);
  applyStateDict(target, source);
  assert(old.every((t) => t.disposed), "replaced tensors are disposed");
  for (const [name, t] of source) assert(target.get(name) === t, `${name} moved in`);
  assertEquals(target.get("blocks.0.qkv.bias")!.toArray(), [1, 2, 3, 4, 5, 6]);
});

test("applyStateDict: rename maps checkpoint names and drops the ones it returns undefined for", () => {
  const target = model();
  const source = new Map([
    ["module.blocks.0.qkv.weight", zeros([6, 2])],
    ["module.blocks.0.qkv.bias", tensor([9, 9, 9, 9, 9, 9])],
    ["module.head.weight", zeros([3, 2], "bf16")],
    ["module.blocks.0.attn.num_batches_tracked", tensor(new Int32Array([5]))],
  ]);
  applyStateDict(target, source, {
    rename: (name) => name.endsWith("num_batches_tracked") ? undefined : name.replace(/^module\./, ""),
  });
  assertEquals(target.get("blocks.0.qkv.bias")!.toArray(), [9, 9, 9, 9, 9, 9]);
  assert(!source.get("module.blocks.0.attn.num_batches_tracked")!.disposed, "dropped tensors stay the caller's");
});

test("applyStateDict: every problem is listed in one error and nothing is replaced", () => {
  const target = model();
  const before = new Map(target);
  const source = new Map([
    ["blocks.0.qkv.weight", zeros([2, 6])], // transposed shape
    ["head.weight", zeros([3, 2])], // f32 where the model has bf16
    ["head.bias", zeros([3])], // not in the model
  ]);
  const err = assertThrows(
    () => applyStateDict(target, source, { source: "ckpt.safetensors" }),
    StateDictMismatchError,
    "ckpt.safetensors",
    'missing 1: "blocks.0.qkv.bias"',
    'unexpected 1: "head.bias"',
    '"blocks.0.qkv.weight" checkpoint f32 [2, 6] vs model f32 [6, 2]',
    '"head.weight" checkpoint f32 [3, 2] vs model bf16 [3, 2]',
  ) as StateDictMismatchError;
  assert(err instanceof CheckpointError, "a CheckpointError");
  assertEquals([err.missing, err.unexpected, err.mismatched.map((m) => m.name)], [
    ["blocks.0.qkv.bias"],
    ["head.bias"],
    ["blocks.0.qkv.weight", "head.weight"],
  ]);
  for (const [name, t] of before) assert(target.get(name) === t && !t.disposed, `${name} untouched`);
  for (const t of source.values()) assert(!t.disposed, "source untouched");
});

test("applyStateDict: two checkpoint names renamed onto one model name are reported", () => {
  const target = new Map([["w", zeros([2])]]);
  const source = new Map([["a.w", zeros([2])], ["b.w", zeros([2])]]);
  assertThrows(
    () => applyStateDict(target, source, { rename: (n) => n.slice(2) }),
    StateDictMismatchError,
    'unexpected 1: "b.w -> w"',
  );
});
