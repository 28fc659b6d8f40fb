"""Lightning attention kernels: correctness against a float64 reference and benchmarks against PyTorch.

    python3 harness.py check LIB            # forward / bidirectional / decode grid, float64 references
    python3 harness.py bench LIB            # kernel vs PyTorch quadratic masked and blocked forms

LIB is libattnzoo_lightning.so (built by dev/build.sh). q, k [B, H, N, d] and v, o [B, H, N, e] are
passed by element strides; the check runs both the head-major layout and token-major views into
one wider buffer (as the mixer passes them). The check prints one line per case and a summary;
exit status 1 on any failure.
"""

import ctypes
import math
import statistics
import sys

import torch

DTYPES = {torch.float16: 1, torch.bfloat16: 2}
LAYERS = 16  # TransNormerLLM-1B: decay of layer 0 (fastest) and layer 15 (almost none)


class Library:
    def __init__(self, path):
        lib = ctypes.CDLL(path)
        u64, i32, i64 = ctypes.c_uint64, ctypes.c_int, ctypes.c_int64
        lib.attnzoo_lightning_forward.argtypes = [i32] + [u64] * 7 + [i32] * 6 + [i64] * 12 + [u64, i64, u64]
        lib.attnzoo_lightning_workspace.argtypes = [i32] * 5
        lib.attnzoo_lightning_workspace.restype = i64
        lib.attnzoo_lightning_forward.restype = i32
        lib.attnzoo_lightning_step.argtypes = [i32] + [u64] * 6 + [i32] * 5 + [i64] * 12 + [u64]
        lib.attnzoo_lightning_step.restype = i32
        lib.attnzoo_lightning_last_error.argtypes = [ctypes.c_char_p, i32]
        lib.attnzoo_lightning_last_error.restype = i32
        self.lib = lib

    def _check(self, status):
        if status != 0:
            buf = ctypes.create_string_buffer(512)
            self.lib.attnzoo_lightning_last_error(buf, 512)
            raise RuntimeError(f"status {status}: {buf.value.decode()}")

    @staticmethod
    def _strides(*tensors):
        out = []
        for t in tensors:
            assert t.stride(3) == 1
            out += [t.stride(0), t.stride(1), t.stride(2)]
        return out

    def workspace(self, q, v):
        """The workspace that lets the forward split the sequence (None when it would not)."""
        b, h, n, d = q.shape
        size = self.lib.attnzoo_lightning_workspace(b, h, n, d, v.shape[3])
        if size < 0:
            self._check(1)
        return torch.empty(size, dtype=torch.uint8, device="cuda") if size > 0 else None

    def forward(self, q, k, v, o, rates, state_in=None, state_out=None, bidirectional=False, split=True, ws=None):
        """split: pass the workspace (sequence segments over more CTAs; `ws` if given, else a new
        one); else one CTA per slice."""
        b, h, n, d = q.shape
        e = v.shape[3]
        ptr = lambda t: 0 if t is None else t.data_ptr()
        ws = (ws if ws is not None else self.workspace(q, v)) if split else None
        self._check(self.lib.attnzoo_lightning_forward(
            DTYPES[q.dtype], q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), rates.data_ptr(),
            ptr(state_in), ptr(state_out), b, h, n, d, e, int(bidirectional), *self._strides(q, k, v, o),
            ptr(ws), 0 if ws is None else ws.numel(), torch.cuda.current_stream().cuda_stream))

    def step(self, q, k, v, o, rates, state):
        b, h, n, d = q.shape
        e = v.shape[3]
        self._check(self.lib.attnzoo_lightning_step(
            DTYPES[q.dtype], q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), rates.data_ptr(),
            state.data_ptr(), b, h, n, d, e, *self._strides(q, k, v, o), torch.cuda.current_stream().cuda_stream))


def alibi_slopes(heads):
    """ALiBi slopes (core/alibi.ts): 2^(−8(h+1)/H) for a power of two, else ALiBi's interleaving."""
    def power(n):
        start = 2 ** (-(2 ** -(math.log2(n) - 3)))
        return [start * start ** i for i in range(n)]
    p = 2 ** int(math.floor(math.log2(heads)))
    slopes = power(p)
    if p != heads:
        slopes += power(2 * p)[0::2][: heads - p]
    return slopes


def layer_rates(heads, layer, layers=LAYERS):
    """decay.ts: ALiBi slopes × (1 − l/(L−1) + 1e-5)."""
    return torch.tensor([s * (1 - layer / (layers - 1) + 1e-5) for s in alibi_slopes(heads)], dtype=torch.float64)


def reference(q, k, v, rates, state=None, bidirectional=False):
    """float64 quadratic form: o_t = Σ λ^|t−j| (q_t·k_j) v_j over j ≤ t (all j when bidirectional),
    plus λ^(t+1) q_t S for an initial state S; returns o and the state after the last token."""
    q, k, v = q.double(), k.double(), v.double()
    n = q.shape[2]
    s = rates.double().to(q.device)[None, :, None, None]
    t = torch.arange(n, device=q.device, dtype=torch.float64)
    dist = t[:, None] - t[None, :]
    mask = torch.exp(-s * dist.abs())
    if not bidirectional:
        mask = mask * (dist >= 0)
    o = ((q @ k.transpose(2, 3)) * mask) @ v
    decay_out = torch.exp(-s * (n - 1 - t)[None, None, :, None])  # λ^(n−1−j)
    final = (k * decay_out).transpose(2, 3) @ v
    if state is not None:
        st = state.double()
        o = o + torch.exp(-s * (t + 1)[None, None, :, None]) * (q @ st)
        final = final + torch.exp(-s * n) * st
    return o, final


def rel(x, ref):
    return ((x.double() - ref).norm() / ref.norm().clamp_min(1e-30)).item()


def operands(b, h, n, d, e, dtype, token_major, seed):
    """q, k = SiLU(randn) as the mixer's feature map makes them, v = randn; token-major: views of
    [B, N, H, ·] buffers, q and k sharing one [B, N, 2, H, d] buffer, o a view of [B, N, H, e]."""
    g = torch.Generator(device="cuda").manual_seed(seed)
    if token_major:
        qk = torch.nn.functional.silu(torch.randn(b, n, 2, h, d, device="cuda", generator=g)).to(dtype)
        q, k = qk[:, :, 0].transpose(1, 2), qk[:, :, 1].transpose(1, 2)
        v = torch.randn(b, n, h, e, device="cuda", generator=g).to(dtype).transpose(1, 2)
        o = torch.full((b, n, h, e), float("nan"), device="cuda", dtype=dtype).transpose(1, 2)
    else:
        q = torch.nn.functional.silu(torch.randn(b, h, n, d, device="cuda", generator=g)).to(dtype)
        k = torch.nn.functional.silu(torch.randn(b, h, n, d, device="cuda", generator=g)).to(dtype)
        v = torch.randn(b, h, n, e, device="cuda", generator=g).to(dtype)
        o = torch.full((b, h, n, e), float("nan"), device="cuda", dtype=dtype)
    return q, k, v, o


def check(lib):
    # relative Frobenius error bounds: a few output roundings of the dtype (P and S are rounded too)
    tol = {torch.bfloat16: 1.2e-2, torch.float16: 2.5e-3}
    failures = 0
    total = 0

    def report(name, err, torch_err, bound):
        nonlocal failures, total
        total += 1
        ok = err <= bound and math.isfinite(err)
        failures += 0 if ok else 1
        print(f"{'ok  ' if ok else 'FAIL'} {name}: rel {err:.2e} (PyTorch {str(torch_err)[:8]} in the dtype) bound {bound:.1e}")

    cases = []
    for dtype in [torch.bfloat16, torch.float16]:
        for (b, h, n, d, e) in [(1, 2, 1, 64, 64), (2, 3, 63, 64, 64), (1, 16, 200, 128, 128), (3, 2, 129, 128, 64),
                                (1, 2, 1000, 128, 128), (2, 33, 77, 128, 128), (1, 3, 130, 256, 128),
                                (1, 2, 65, 256, 32), (2, 6, 196, 64, 64)]:
            for layer in [0, LAYERS - 1]:
                cases.append((dtype, b, h, n, d, e, layer))
    for i, (dtype, b, h, n, d, e, layer) in enumerate(cases):
        rates64 = layer_rates(h, layer)
        rates = rates64.float().cuda()
        token_major = i % 2 == 0
        q, k, v, o = operands(b, h, n, d, e, dtype, token_major, i)
        name = f"{str(dtype)[6:]} B{b} H{h} N{n} d{d} e{e} layer {layer} {'BNHd' if token_major else 'BHNd'}"
        bound = tol[dtype]
        # causal, no state; final state out
        ref, ref_state = reference(q, k, v, rates64)
        state = torch.full((b, h, d, e), float("nan"), device="cuda")
        lib.forward(q, k, v, o, rates, None, state)
        t = torch.arange(n, device="cuda", dtype=torch.float32)
        mask = torch.exp(-rates[None, :, None, None] * (t[:, None] - t[None, :]).clamp_min(0)).tril().to(dtype)
        torch_err = rel(((q @ k.transpose(2, 3)) * mask) @ v, ref)
        report(f"causal {name}", rel(o, ref), torch_err, max(bound, 2 * torch_err))
        report(f"final state {name}", rel(state, ref_state), "-", 5e-3 if dtype == torch.bfloat16 else 1.5e-3)
        # one CTA per slice (no workspace): the same values
        o_split = o.clone()
        lib.forward(q, k, v, o, rates, None, state, split=False)
        report(f"unsplit = split {name}", rel(o, o_split.double()), "-", 2e-2 if dtype == torch.bfloat16 else 4e-3)
        report(f"unsplit causal {name}", rel(o, ref), "-", bound)
        # causal after an initial state (in place: state_in = state_out)
        init = torch.randn(b, h, d, e, device="cuda") * 4
        ref, ref_state = reference(q, k, v, rates64, init)
        state = init.clone()
        lib.forward(q, k, v, o, rates, state, state)
        report(f"causal+state {name}", rel(o, ref), "-", bound)
        report(f"final state+state {name}", rel(state, ref_state), "-", 5e-3 if dtype == torch.bfloat16 else 1.5e-3)
        # bidirectional
        ref, _ = reference(q, k, v, rates64, bidirectional=True)
        lib.forward(q, k, v, o, rates, bidirectional=True)
        report(f"bidirectional {name}", rel(o, ref), "-", bound)
        # decode: prefill the first half with forward, then steps of 1 token (and one of 3) chained
        if n >= 2:
            split = n // 2
            state = torch.zeros(b, h, d, e, device="cuda")
            outs = torch.full_like(o, float("nan"))
            lib.forward(q[:, :, :split], k[:, :, :split], v[:, :, :split], outs[:, :, :split], rates, None, state)
            t = split
            while t < n:
                step = 3 if t == split and n - t >= 3 else 1
                sl = slice(t, t + step)
                lib.step(q[:, :, sl], k[:, :, sl], v[:, :, sl], outs[:, :, sl], rates, state)
                t += step
            ref, ref_state = reference(q, k, v, rates64)
            report(f"prefill+decode {name}", rel(outs, ref), "-", bound)
            report(f"decode state {name}", rel(state, ref_state), "-", 5e-3 if dtype == torch.bfloat16 else 1.5e-3)
    # the arguments are checked
    q, k, v, o = operands(1, 2, 10, 96, 64, torch.bfloat16, False, 0)
    try:
        lib.forward(q, k, v, o, layer_rates(2, 0).float().cuda())
        print("FAIL d = 96 was accepted")
        failures += 1
    except RuntimeError as err:
        print(f"ok   d = 96 rejected: {err}")
    print(f"{total - failures}/{total} passed" + ("" if failures == 0 else f", {failures} FAILED"))
    return failures == 0


def time_ms(fn, reps=20, inner=5):
    """Median over `reps` samples of the mean time of `inner` back-to-back calls (ms)."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end) / inner)
    return statistics.median(times)


def torch_blocked(q, k, v, rates, block):
    """Lightning Attention-2 blocked form in PyTorch (the HF inference prefill), f32 state."""
    b, h, n, d = q.shape
    s = rates.float()[None, :, None, None]
    a = torch.arange(block, device=q.device, dtype=torch.float32)
    mask = torch.exp(-s * (a[:, None] - a[None, :]).clamp_min(0)).tril().to(q.dtype)
    state = torch.zeros(b, h, d, v.shape[3], device=q.device)
    outs = []
    for st in range(0, n, block):
        m = min(block, n - st)
        qi, ki, vi = q[:, :, st:st + m], k[:, :, st:st + m], v[:, :, st:st + m]
        o = ((qi @ ki.transpose(2, 3)) * mask[:, :, :m, :m]) @ vi
        o = o + (torch.exp(-s * (a[:m, None] + 1)) * (qi.float() @ state)).to(q.dtype)
        state = torch.exp(-s * m) * state + (ki.float() * torch.exp(-s * (m - 1 - a[:m, None]))).transpose(2, 3) @ vi.float()
        outs.append(o)
    return torch.cat(outs, 2)


def bench(lib):
    print("| B × N | H | d | segments | kernel ms | one CTA per slice ms | split gain | PyTorch quadratic ms "
          "| PyTorch blocked (256) ms | vs quadratic | vs blocked |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for (b, n, h, d) in [(1, 512, 16, 128), (1, 2048, 16, 128), (1, 8192, 16, 128), (2, 2048, 16, 128),
                         (8, 2048, 16, 128), (1, 2048, 16, 256)]:
        e = 128
        q, k, v, o = operands(b, h, n, d, e, torch.bfloat16, False, 7)
        rates = layer_rates(h, 1).float().cuda()
        ws = lib.workspace(q, v)
        segments = 1 if ws is None else ws.numel() // (b * h * d * e * 4)
        ours = time_ms(lambda: lib.forward(q, k, v, o, rates, ws=ws))
        unsplit = time_ms(lambda: lib.forward(q, k, v, o, rates, split=False))
        t = torch.arange(n, device="cuda", dtype=torch.float32)
        mask = torch.exp(-rates[None, :, None, None] * (t[:, None] - t[None, :]).clamp_min(0)).tril().to(q.dtype)
        quadratic = time_ms(lambda: ((q @ k.transpose(2, 3)) * mask) @ v)
        del mask
        blocked = time_ms(lambda: torch_blocked(q, k, v, rates, 256), reps=5, inner=1)
        print(f"| {b} × {n} | {h} | {d} | {segments} | {ours:.3f} | {unsplit:.3f} | {unsplit / ours:.2f}× | {quadratic:.3f} "
              f"| {blocked:.3f} | {quadratic / ours:.1f}× | {blocked / ours:.1f}× |")
        torch.cuda.empty_cache()
    # decode: one token, all heads, f32 state
    for b in [1, 8]:
        q, k, v, o = operands(b, 16, 1, 128, 128, torch.bfloat16, False, 8)
        state = torch.zeros(b, 16, 128, 128, device="cuda")
        rates = layer_rates(16, 1).float().cuda()
        ours = time_ms(lambda: lib.step(q, k, v, o, rates, state), reps=50)
        lam = torch.exp(-rates)[None, :, None, None]

        def torch_step():
            state.mul_(lam).add_(k.float().transpose(2, 3) @ v.float())
            return (q.float() @ state).to(q.dtype)
        print(f"decode step B{b} H16 d128: kernel {ours * 1000:.1f} µs, PyTorch {time_ms(torch_step, reps=50) * 1000:.1f} µs")


if __name__ == "__main__":
    mode, path = sys.argv[1], sys.argv[2]
    library = Library(path)
    if mode == "check":
        sys.exit(0 if check(library) else 1)
    bench(library)
