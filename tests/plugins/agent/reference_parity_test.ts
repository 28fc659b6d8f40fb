// The plain-loop reference against the official PyTorch layers (tests/fixtures/gen_agent.py).
import { relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { agentLayerReference } from "../../../plugins/agent/reference.ts";
import { fixtureGeometry, FIXTURES, loadFixture } from "./_fixtures.ts";

for (const f of FIXTURES) {
  test(`agent reference matches official ${f.file}`, () => {
    const t = loadFixture(f);
    const out = agentLayerReference(t.get("x")!, t, fixtureGeometry(f));
    const err = relativeError(out.toFloat32Array(), t.get("out")!.toFloat32Array());
    console.log(`${f.file}: rel err ${err.toExponential(2)}`);
    if (!(err < 1e-5)) throw new Error(`${f.file}: relative error ${err}`);
  });
}
