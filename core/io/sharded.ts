/**
 * Sharded Hugging Face checkpoints: `model.safetensors.index.json` maps every tensor name to the
 * shard file that holds it (`weight_map`). Every shard is loaded and checked against the map:
 * a mapped tensor missing from its shard, a tensor that no entry maps to that shard, or a name
 * found in two shards is a CheckpointError.
 *
 * @module
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join } from "node:path";
import { z } from "zod";
import { CheckpointError } from "../errors.ts";
import type { Tensor } from "../tensor.ts";
import { type ReadOptions, readSafetensors } from "./safetensors.ts";

const IndexSchema = z.looseObject({
  metadata: z.record(z.string(), z.unknown()).optional(),
  weight_map: z.record(z.string(), z.string().min(1)),
});

/** Reads a sharded safetensors checkpoint through its index file. */
export function readShardedSafetensors(indexPath: string, options: ReadOptions = {}): Map<string, Tensor> {
  const weightMap = readWeightMap(indexPath);
  const byShard = new Map<string, Set<string>>();
  for (const [name, shard] of Object.entries(weightMap)) {
    if (isAbsolute(shard) || shard.split(/[\\/]/).includes("..")) {
      throw new CheckpointError(
        indexPath,
        `weight_map.${name}: shard "${shard}" must be a path inside the index's folder`,
      );
    }
    if (!byShard.has(shard)) byShard.set(shard, new Set());
    byShard.get(shard)!.add(name);
  }
  const shardPaths = [...byShard.keys()].map((shard) => join(dirname(indexPath), shard));
  const sizes = shardPaths.map((path) => (existsSync(path) ? statSync(path).size : 0));
  const grandTotal = sizes.reduce((a, b) => a + b, 0);
  const out = new Map<string, Tensor>();
  const loaded: Tensor[] = [];
  const where = new Map<string, string>();
  try {
    let before = 0;
    for (const [i, [shard, expected]] of [...byShard].entries()) {
      // progress counts file bytes: a shard's header, then its tensor data as it is read
      const header = (dataTotal: number) => sizes[i] - dataTotal;
      const tensors = readSafetensors(shardPaths[i], {
        onProgress: options.onProgress &&
          ((done, dataTotal) => options.onProgress!(before + header(dataTotal) + done, grandTotal)),
      });
      for (const t of tensors.values()) loaded.push(t);
      before += sizes[i];
      for (const [name, t] of tensors) {
        if (where.has(name)) {
          throw new CheckpointError(indexPath, `tensor "${name}" appears in both ${where.get(name)} and ${shard}`);
        }
        if (!expected.has(name)) {
          throw new CheckpointError(
            indexPath,
            `tensor "${name}" in ${shard} is not mapped to that shard by weight_map`,
          );
        }
        where.set(name, shard);
        out.set(name, t);
      }
      for (const name of expected) {
        if (!tensors.has(name)) throw new CheckpointError(indexPath, `tensor "${name}" is missing from ${shard}`);
      }
    }
  } catch (err) {
    for (const t of loaded) t.dispose();
    throw err;
  }
  return out;
}

function readWeightMap(indexPath: string): Record<string, string> {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(indexPath, "utf8"));
  } catch (err) {
    throw new CheckpointError(indexPath, `cannot read the index: ${(err as Error).message}`);
  }
  const result = IndexSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new CheckpointError(indexPath, `${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`);
  }
  return result.data.weight_map;
}
