// The FLatten config schema: defaults, and a ConfigError naming the field for every bad value.
import { test } from "../../_harness.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";
import { parseFlattenConfig } from "../../../plugins/flatten/config.ts";
import { plugin } from "../../../plugins/flatten/mod.ts";
import { ConfigError } from "../../../core/errors.ts";

test("flatten config: defaults are the official ones (p 3, 5×5 DWC, no reduction, fused qkv)", () => {
  assertEquals(parseFlattenConfig({}), {
    focusingFactor: 3,
    kernelSize: 5,
    srRatio: 1,
    projection: "qkv",
    order: "auto",
  });
  assertEquals(parseFlattenConfig(undefined).kernelSize, 5);
  const pvt = parseFlattenConfig({ projection: "q_kv", srRatio: 2, kernelSize: 3, focusingFactor: 2, order: "kv" });
  assertEquals([pvt.projection, pvt.srRatio, pvt.kernelSize, pvt.focusingFactor, pvt.order], ["q_kv", 2, 3, 2, "kv"]);
  assertEquals(parseFlattenConfig({ window: 7 }).window, 7);
});

test("flatten config: bad values throw ConfigError naming the field", () => {
  assertThrows(() => parseFlattenConfig({ focusingFactor: 0 }), ConfigError, "focusingFactor");
  assertThrows(() => parseFlattenConfig({ focusingFactor: 2.5 }), ConfigError, "focusingFactor");
  assertThrows(() => parseFlattenConfig({ kernelSize: 4 }), ConfigError, "kernelSize", "odd");
  assertThrows(() => parseFlattenConfig({ srRatio: 0, projection: "q_kv" }), ConfigError, "srRatio");
  assertThrows(() => parseFlattenConfig({ srRatio: 2 }), ConfigError, "srRatio", "q_kv");
  assertThrows(() => parseFlattenConfig({ projection: "kvq" }), ConfigError, "projection");
  assertThrows(() => parseFlattenConfig({ window: -1 }), ConfigError, "window");
  assertThrows(() => parseFlattenConfig({ order: "vk" }), ConfigError, "order");
  assertThrows(() => parseFlattenConfig({ focusing: 3 }), ConfigError, "focusing");
});

test("flatten config: every shipped pretrained config's flatten blocks pass the schema", () => {
  let blocks = 0;
  for (const [file, raw] of Object.entries(plugin.configs)) {
    const config = raw as { attention?: unknown; stages?: unknown[] };
    const choices = [config.attention, ...(config.stages ?? [])].flat().filter((c) =>
      (c as { plugin?: string } | undefined)?.plugin === "flatten"
    ) as Record<string, unknown>[];
    for (const { plugin: _plugin, blocks: _blocks, ...rest } of choices) {
      parseFlattenConfig(rest, file);
      blocks++;
    }
  }
  assertEquals(blocks > 0, true);
});
