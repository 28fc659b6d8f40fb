// Parity with PyTorch 2.11's scaled_dot_product_attention (bottom-right causal mask, GQA through
// enable_gqa, Nq ≠ Nk, e ≠ d, ALiBi as a float mask; autograd gradients) and with timm's ViT
// Attention layer. Fixtures come from tests/fixtures/gen_sigmoid.py.
import { softmaxAttention, softmaxAttentionBackward } from "../../../plugins/softmax/mod.ts";
import { relativeError } from "../../_assert.ts";
import { test } from "../../_harness.ts";
import { pick, readFixture, scalar } from "../sigmoid/_fixture.ts";

const TOLERANCE = 1e-5;

function assertParity(label: string, actual: Float32Array, expected: Float32Array): void {
  const err = relativeError(actual, expected);
  if (!(err <= TOLERANCE)) throw new Error(`${label}: relative error ${err.toExponential(3)} > ${TOLERANCE}`);
}

const sdpa = readFixture("softmax_sdpa");
for (const name of ["s0", "s1", "s2", "s3"]) {
  test(`softmax parity with torch SDPA, case ${name}: output and dq, dk, dv`, () => {
    const t = (key: string) => pick(sdpa, `${name}.${key}`);
    const options = {
      scale: scalar(sdpa, `${name}.scale`),
      causal: scalar(sdpa, `${name}.causal`) === 1,
      alibiSlopes: sdpa.get(`${name}.slopes`),
    };
    assertParity("out", softmaxAttention(t("q"), t("k"), t("v"), options).toFloat32Array(), t("out").toFloat32Array());
    const grads = softmaxAttentionBackward(t("q"), t("k"), t("v"), t("dout"), options);
    assertParity("dq", grads.dq.toFloat32Array(), t("dq").toFloat32Array());
    assertParity("dk", grads.dk.toFloat32Array(), t("dk").toFloat32Array());
    assertParity("dv", grads.dv.toFloat32Array(), t("dv").toFloat32Array());
  });
}
