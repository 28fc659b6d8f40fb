// Parity with the official code (apple/ml-sigmoid-attention @ 9273b49): FlashSigmoid's test
// reference `attention_ref` (forward and autograd backward) and the attention_simulator `Attention`
// layer (ViT with QK-LayerNorm, LM with QK-RMSNorm + ALiBi + causal mask). Fixtures come from
// tests/fixtures/gen_sigmoid.py.
import { sigmoidAttention, sigmoidAttentionBackward } from "../../../plugins/sigmoid/mod.ts";
import { relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { pick, readFixture, scalar } from "./_fixture.ts";

const TOLERANCE = 1e-5;

function assertParity(label: string, actual: Float32Array, expected: Float32Array): void {
  const err = relativeError(actual, expected);
  if (!(err <= TOLERANCE)) throw new Error(`${label}: relative error ${err.toExponential(3)} > ${TOLERANCE}`);
}

const functional = readFixture("functional");
for (const name of ["c0", "c1", "c2", "c3"]) {
  test(`sigmoid parity with official attention_ref, case ${name}: output and dq, dk, dv`, () => {
    const t = (key: string) => pick(functional, `${name}.${key}`);
    const options = {
      bias: scalar(functional, `${name}.bias`),
      causal: scalar(functional, `${name}.causal`) === 1,
      alibiSlopes: functional.get(`${name}.slopes`),
    };
    const out = sigmoidAttention(t("q"), t("k"), t("v"), options);
    assertParity("out", out.toFloat32Array(), t("out").toFloat32Array());
    const grads = sigmoidAttentionBackward(t("q"), t("k"), t("v"), t("dout"), options);
    assertParity("dq", grads.dq.toFloat32Array(), t("dq").toFloat32Array());
    assertParity("dk", grads.dk.toFloat32Array(), t("dk").toFloat32Array());
    assertParity("dv", grads.dv.toFloat32Array(), t("dv").toFloat32Array());
  });
}
