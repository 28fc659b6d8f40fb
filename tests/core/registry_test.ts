import { z } from "zod";
import { CheckpointError, ConfigError, NotFoundError } from "../../core/errors.ts";
import "../../core/io/weights.ts";
import { matchesPattern, nearest } from "../../core/_names.ts";
import type { TokenMixer } from "../../core/plugin.ts";
import {
  type Architecture,
  type ConfigEnvelope,
  createModel,
  getPlugin,
  listModels,
  listPlugins,
  type Model,
  modelInfo,
  registerArchitecture,
  registerPlugin,
} from "../../core/registry.ts";
import { zeros } from "../../core/tensor.ts";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { test } from "../_harness.ts";

function card(): ConfigEnvelope["card"] {
  return { summary: "test model", paper: "none", weights: "random" };
}

function manifest(name: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const mixer = (): TokenMixer => {
    throw new Error("not used");
  };
  return {
    name,
    title: `Test family ${name}`,
    paper: { title: "A paper", arxiv: "2409.04431", code: "https://example.org/code" },
    supports: { causal: true, nonCausal: false },
    configSchema: z.object({ width: z.number().default(4) }),
    ops: { cpu: { createMixer: mixer } },
    kernels: { sources: [], symbols: {} },
    configs: {},
    baseUrl: "file:///tmp/plugin/",
    ...overrides,
  };
}

test("registerPlugin: a valid manifest is listed and retrievable", () => {
  registerPlugin(manifest("regtest-valid"));
  const summary = listPlugins().find((p) => p.name === "regtest-valid");
  assertEquals(summary, {
    name: "regtest-valid",
    title: "Test family regtest-valid",
    arxiv: "2409.04431",
    causal: true,
    nonCausal: false,
    cuda: false,
    models: 0,
  });
  assertEquals(getPlugin("regtest-valid").title, "Test family regtest-valid");
});

test("registerPlugin: invalid manifests name the plugin and the field", () => {
  const cases: [Record<string, unknown>, string][] = [
    [manifest("regtest-bad1", { paper: { title: "x", arxiv: "not-an-id", code: "https://x.org" } }), "paper.arxiv"],
    [manifest("regtest-bad2", { supports: { causal: false, nonCausal: false } }), "supports"],
    [manifest("regtest-bad3", { configSchema: { not: "zod" } }), "configSchema"],
    [manifest("regtest-bad4", { ops: { cpu: { createMixer: 42 } } }), "ops.cpu.createMixer"],
    [manifest("regtest-bad5", { kernels: { sources: ["../evil.cu"], symbols: {} } }), "kernels.sources.0"],
    [
      manifest("regtest-bad6", { kernels: { sources: [], symbols: { f: { parameters: ["int"], result: "i32" } } } }),
      "kernels.symbols.f.parameters.0",
    ],
    [manifest("Bad Name"), "name"],
  ];
  for (const [bad, field] of cases) {
    const err = assertThrows(() => registerPlugin(bad), ConfigError, `plugin "${bad.name}"`);
    assertEquals((err as ConfigError).field, field, `field of ${bad.name}`);
  }
  assertThrows(() => registerPlugin(42), ConfigError, "plugin manifest");
  assert(!listPlugins().some((p) => p.name.startsWith("regtest-bad")), "rejected plugins are not registered");
});

test("registerPlugin: duplicate names and bad configs are rejected whole", () => {
  registerPlugin(manifest("regtest-dup"));
  assertThrows(() => registerPlugin(manifest("regtest-dup")), ConfigError, "already registered");
  const bad = manifest("regtest-badcfg", {
    configs: {
      "configs/good.json": { name: "regtest_good", architecture: "regtest-arch", card: card() },
      "configs/bad.json": { name: "regtest_bad", architecture: "regtest-arch", card: { summary: "" } },
    },
  });
  const err = assertThrows(() => registerPlugin(bad), ConfigError, "plugins/regtest-badcfg/configs/bad.json");
  assertEquals((err as ConfigError).field, "card.summary");
  assertEquals(listModels("regtest_good"), [], "no config of a rejected plugin is registered");
});

test("getPlugin: unknown names suggest the nearest", () => {
  registerPlugin(manifest("regtest-lightning"));
  const err = assertThrows(() => getPlugin("regtest-lightnin"), NotFoundError, 'did you mean "regtest-lightning"');
  assertEquals((err as NotFoundError).suggestion, "regtest-lightning");
  assertEquals(nearest("zzzzzzzz", ["sigmoid", "agent"]), undefined);
});

test("wildcards: timm-style patterns", () => {
  assert(matchesPattern("agent_deit_tiny", "agent*"), "prefix");
  assert(matchesPattern("agent_deit_tiny", "*DEIT*"), "case-insensitive infix");
  assert(matchesPattern("vit_base_patch16", "vit_?ase*"), "single character");
  assert(!matchesPattern("agent_deit_tiny", "deit*"), "anchored");
  assert(matchesPattern("a.b+c", "a.b+c"), "regex characters are literal");
  assert(!matchesPattern("aXb+c", "a.b+c"), "dot is not a wildcard");
});

class TestModel implements Model {
  readonly parameters: Map<string, ReturnType<typeof zeros>>;
  constructor(readonly name: string, readonly config: ConfigEnvelope, readonly device: "cpu" | "cuda") {
    this.parameters = new Map([["w", zeros([config.width as number])]]);
  }
  dispose(): void {
    for (const t of this.parameters.values()) t.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

const architecture: Architecture = {
  name: "regtest-arch",
  schema: z.looseObject({ width: z.number().int().positive() }),
  create: (config, context) => new TestModel(config.name, config, context.device),
  count: (config) => ({ params: config.width as number, flops: 2 * (config.width as number), per: "token" }),
};

test("models: listModels, modelInfo and createModel through a registered architecture", () => {
  registerArchitecture(architecture);
  registerPlugin(manifest("regtest-models", {
    configs: {
      "configs/a.json": { name: "regtest_model_small", architecture: "regtest-arch", width: 8, card: card() },
      "configs/b.json": { name: "regtest_model_large", architecture: "regtest-arch", width: 64, card: card() },
      "configs/c.json": { name: "regtest_model_broken", architecture: "regtest-arch", width: -1, card: card() },
    },
  }));
  assertEquals(listModels("regtest_model_*"), ["regtest_model_broken", "regtest_model_large", "regtest_model_small"]);
  assertEquals(listModels("regtest_*LARGE"), ["regtest_model_large"]);
  const info = modelInfo("regtest_model_large");
  assertEquals([info.params, info.flops, info.per, info.plugin, info.source], [
    64,
    128,
    "token",
    "regtest-models",
    "plugins/regtest-models/configs/b.json",
  ]);
  using model = createModel("regtest_model_small", { device: "cpu" });
  assertEquals(model.parameters.get("w")?.shape, [8]);
  const err = assertThrows(() => createModel("regtest_model_broken", { device: "cpu" }), ConfigError, "configs/c.json");
  assertEquals((err as ConfigError).field, "width");
  assertThrows(() => createModel("regtest_model_smal"), NotFoundError, 'did you mean "regtest_model_small"');
});

test("createModel: a failing weight load disposes the model", () => {
  // the checkpoint loader (core/io/weights.ts, imported above) fails on a missing file; nothing leaks
  const created: TestModel[] = [];
  registerArchitecture({
    ...architecture,
    name: "regtest-arch-track",
    create: (config, context) => {
      const m = new TestModel(config.name, config, context.device);
      created.push(m);
      return m;
    },
  });
  registerPlugin(manifest("regtest-weights", {
    configs: {
      "configs/a.json": { name: "regtest_weights", architecture: "regtest-arch-track", width: 2, card: card() },
    },
  }));
  assertThrows(
    () => createModel("regtest_weights", { device: "cpu", weights: "/nonexistent.safetensors" }),
    CheckpointError,
    "/nonexistent.safetensors",
  );
  assertEquals(created.length, 1);
  assert(created[0].parameters.get("w")!.disposed, "parameters of the failed model are freed");
});
