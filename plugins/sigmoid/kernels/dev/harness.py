"""FlashSigmoid kernels: correctness against float64 references and benchmarks against SDPA.

    python3 harness.py check LIB            # forward + backward (both modes) grid, float64 references
    python3 harness.py bench LIB OUTDIR     # TFLOP/s vs SDPA flash / cuDNN / materialised sigmoid
    python3 harness.py variants LIB...      # backward TFLOP/s per build (tile choices) and SDPA-flash's
    python3 harness.py fwd_variants LIB...  # forward of each build: float64 grid, TFLOP/s vs SDPA flash / cuDNN
    python3 harness.py check_strided LIB    # strided entry point and decode kernel on strided views
    python3 harness.py check_varlen LIB     # varlen (cu_seqlens) forward on packed sequences

The backward runs in its two modes: single pass with an atomic f32 dQ workspace (the default here,
"bwd": wgmma on Hopper, mma.sync elsewhere; "mma": attnzoo_sigmoid_backward_mma, the mma.sync single
pass on every device) and the deterministic two-pass kernels ("det").

LIB may end in ":SYMBOL" to run another exported forward with the same arguments
(e.g. build/libattnzoo_sigmoid.so:attnzoo_sigmoid_forward_sm90).

LIB is libattnzoo_sigmoid.so (built by dev/build.sh). Layout is FlashAttention's: q, o [B, Nq, H, d],
k, v [B, Nk, Hkv, d]. The check prints one line per case and a summary; exit status 1 on any failure.
"""

import ctypes
import itertools
import json
import math
import os
import sys

import torch

DTYPES = {torch.float16: 1, torch.bfloat16: 2}


class Library:
    def __init__(self, spec):
        path, _, symbol = spec.partition(":")
        lib = ctypes.CDLL(path)
        u64, i32, f32 = ctypes.c_uint64, ctypes.c_int, ctypes.c_float
        self.forward_fn = getattr(lib, symbol or "attnzoo_sigmoid_forward")
        self.forward_fn.argtypes = [i32] + [u64] * 4 + [i32] * 6 + [f32, f32, i32, u64, i32, u64]
        self.forward_fn.restype = i32
        for name in ("attnzoo_sigmoid_backward", "attnzoo_sigmoid_backward_mma"):
            fn = getattr(lib, name)
            fn.argtypes = [i32] + [u64] * 8 + [i32] * 6 + [f32, f32, i32, u64, i32, i32, u64]
            fn.restype = i32
        for name in ("attnzoo_sigmoid_forward_strided", "attnzoo_sigmoid_decode"):
            fn = getattr(lib, name)
            fn.argtypes = [i32] + [u64] * 4 + [i32] * 6 + [f32, f32, i32, u64, i32, u64] + [ctypes.c_int64] * 12
            fn.restype = i32
        lib.attnzoo_sigmoid_forward_varlen.argtypes = [i32] + [u64] * 6 + [i32] * 6 + [f32, f32, i32, u64, i32, u64]
        lib.attnzoo_sigmoid_forward_varlen.restype = i32
        for name in ("attnzoo_sigmoid_backward_varlen", "attnzoo_sigmoid_backward_varlen_mma"):
            fn = getattr(lib, name)
            fn.argtypes = [i32] + [u64] * 10 + [i32] * 7 + [f32, f32, i32, u64, i32, i32, u64]
            fn.restype = i32
        lib.attnzoo_sigmoid_last_error.argtypes = [ctypes.c_char_p, i32]
        lib.attnzoo_sigmoid_last_error.restype = i32
        self.lib = lib
        self.workspace = torch.empty(0, dtype=torch.float32, device="cuda")

    def last_error(self):
        buf = ctypes.create_string_buffer(512)
        self.lib.attnzoo_sigmoid_last_error(buf, 512)
        return buf.value.decode()

    def _check(self, status):
        if status != 0:
            raise RuntimeError(f"status {status}: {self.last_error()}")

    def forward(self, q, k, v, o, scale, bias, causal, slopes=None, slopes_batch_stride=0):
        b, nq, h, d = q.shape
        _, nk, hkv, _ = k.shape
        stream = torch.cuda.current_stream().cuda_stream
        self._check(self.forward_fn(
            DTYPES[q.dtype], q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), b, h, hkv, nq, nk, d,
            scale, bias, int(causal), 0 if slopes is None else slopes.data_ptr(), slopes_batch_stride, stream))

    def backward(self, q, k, v, do, dq, dk, dv, scale, bias, causal, slopes=None, slopes_batch_stride=0,
                 deterministic=False, workspace=True, mma=False):
        """workspace=False passes a null dQ workspace (the argument check must reject it in the atomic mode);
        mma=True calls attnzoo_sigmoid_backward_mma."""
        b, nq, h, d = q.shape
        _, nk, hkv, _ = k.shape
        if workspace and self.workspace.numel() < q.numel():
            self.workspace = torch.empty(q.numel(), dtype=torch.float32, device="cuda")
        stream = torch.cuda.current_stream().cuda_stream
        fn = self.lib.attnzoo_sigmoid_backward_mma if mma else self.lib.attnzoo_sigmoid_backward
        self._check(fn(
            DTYPES[q.dtype], q.data_ptr(), k.data_ptr(), v.data_ptr(), do.data_ptr(), dq.data_ptr(),
            dk.data_ptr(), dv.data_ptr(), self.workspace.data_ptr() if workspace else 0, b, h, hkv, nq, nk, d, scale,
            bias, int(causal), 0 if slopes is None else slopes.data_ptr(), slopes_batch_stride, int(deterministic),
            stream))


    def forward_strided(self, q, k, v, o, scale, bias, causal, slopes=None, slopes_batch_stride=0, decode=False):
        """q, o: [B, Nq, H, d] and k, v: [B, Nk, Hkv, d] views of any strides (the head dim contiguous)."""
        b, nq, h, d = q.shape
        _, nk, hkv, _ = k.shape
        strides = []
        for t in (q, k, v, o):
            assert t.stride(3) == 1
            strides += [t.stride(0), t.stride(1), t.stride(2)]
        fn = self.lib.attnzoo_sigmoid_decode if decode else self.lib.attnzoo_sigmoid_forward_strided
        stream = torch.cuda.current_stream().cuda_stream
        self._check(fn(DTYPES[q.dtype], q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), b, h, hkv, nq, nk, d,
                       scale, bias, int(causal), 0 if slopes is None else slopes.data_ptr(), slopes_batch_stride,
                       stream, *strides))


    def forward_varlen(self, q, k, v, o, cu_q, cu_k, max_q, max_k, scale, bias, causal, slopes=None,
                       slopes_batch_stride=0):
        """q, o: packed [total_q, H, d]; k, v: [total_k, Hkv, d]; cu_q, cu_k: int32 [B + 1] on the device."""
        _, h, d = q.shape
        hkv = k.shape[1]
        stream = torch.cuda.current_stream().cuda_stream
        self._check(self.lib.attnzoo_sigmoid_forward_varlen(
            DTYPES[q.dtype], q.data_ptr(), k.data_ptr(), v.data_ptr(), o.data_ptr(), cu_q.data_ptr(), cu_k.data_ptr(),
            cu_q.numel() - 1, h, hkv, max_q, max_k, d, scale, bias, int(causal),
            0 if slopes is None else slopes.data_ptr(), slopes_batch_stride, stream))


    def backward_varlen(self, q, k, v, do, dq, dk, dv, cu_q, cu_k, max_q, max_k, scale, bias, causal, slopes=None,
                        slopes_batch_stride=0, deterministic=False, mma=False):
        """Packed layouts as forward_varlen; dq/do like q, dk/dv like k."""
        total_q, h, d = q.shape
        hkv = k.shape[1]
        if self.workspace.numel() < q.numel():
            self.workspace = torch.empty(q.numel(), dtype=torch.float32, device="cuda")
        fn = self.lib.attnzoo_sigmoid_backward_varlen_mma if mma else self.lib.attnzoo_sigmoid_backward_varlen
        stream = torch.cuda.current_stream().cuda_stream
        self._check(fn(
            DTYPES[q.dtype], q.data_ptr(), k.data_ptr(), v.data_ptr(), do.data_ptr(), dq.data_ptr(), dk.data_ptr(),
            dv.data_ptr(), self.workspace.data_ptr(), cu_q.data_ptr(), cu_k.data_ptr(), cu_q.numel() - 1, h, hkv,
            total_q, max_q, max_k, d, scale, bias, int(causal), 0 if slopes is None else slopes.data_ptr(),
            slopes_batch_stride, int(deterministic), stream))


def alibi_slopes(heads):
    """Press et al.'s geometric slopes for a power of two heads: 2^(−8i/H), i = 1..H."""
    return torch.tensor([2.0 ** (-8.0 * (i + 1) / heads) for i in range(heads)], dtype=torch.float32)


def materialised(q, k, v, scale, bias, causal, slopes):
    """σ(Q Kᵀ s + b − ALiBi) V computed in the dtype of q, every intermediate written out.

    q [B, Nq, H, d], k/v [B, Nk, Hkv, d]; slopes [B, H] or None. Differentiable.
    """
    b, nq, h, _ = q.shape
    nk, hkv = k.shape[1], k.shape[2]
    qh = q.transpose(1, 2)
    kh = k.transpose(1, 2).repeat_interleave(h // hkv, dim=1)
    vh = v.transpose(1, 2).repeat_interleave(h // hkv, dim=1)
    s = torch.matmul(qh, kh.transpose(-1, -2)) * scale + bias
    i = torch.arange(nq, device=q.device).view(nq, 1)
    j = torch.arange(nk, device=q.device).view(1, nk)
    distance = i + nk - nq - j
    if slopes is not None:
        s = s - (slopes.view(b, h, 1, 1) * distance.abs()).to(s.dtype)
    p = torch.sigmoid(s)
    if causal:
        p = p.masked_fill(distance < 0, 0.0)
    return torch.matmul(p, vh).transpose(1, 2)


def rel_err(x, ref):
    return ((x.double() - ref).norm() / ref.norm().clamp_min(1e-300)).item()


def check_case(lib, dtype, b, h, hkv, nq, nk, d, causal, alibi, bias, per_batch_slopes=False):
    dev = "cuda"
    scale = 1.0 / math.sqrt(d)
    q = torch.randn(b, nq, h, d, device=dev).to(dtype)
    k = torch.randn(b, nk, hkv, d, device=dev).to(dtype)
    v = torch.randn(b, nk, hkv, d, device=dev).to(dtype)
    do = torch.randn(b, nq, h, d, device=dev).to(dtype)
    slopes, stride, slopes_bh = None, 0, None
    if alibi:
        if per_batch_slopes:
            slopes = (torch.rand(b, h, device=dev) * 0.5).contiguous()
            stride = h
            slopes_bh = slopes
        else:
            slopes = alibi_slopes(h).to(dev)
            slopes_bh = slopes.view(1, h).expand(b, h)

    # float64 reference and its gradients
    q64, k64, v64 = (t.double().requires_grad_() for t in (q, k, v))
    ref = materialised(q64, k64, v64, scale, bias, causal, None if slopes_bh is None else slopes_bh.double())
    ref.backward(do.double())
    # the same computation in the input dtype (PyTorch's own rounding: the yardstick)
    ql, kl, vl = (t.clone().requires_grad_() for t in (q, k, v))
    low = materialised(ql, kl, vl, scale, bias, causal, None if slopes_bh is None else slopes_bh.float())
    low.backward(do)

    def run():
        """o, then (dq, dk, dv) of the atomic (automatic, then mma.sync) and the deterministic backward,
        outputs poisoned first."""
        o = torch.full_like(q, float("nan"))
        lib.forward(q, k, v, o, scale, bias, causal, slopes, stride)
        grads = []
        for deterministic, mma in ((False, False), (False, True), (True, False)):
            dq, dk, dv = torch.full_like(q, float("nan")), torch.full_like(k, float("nan")), torch.full_like(v, float("nan"))
            # the atomic mode must not rely on the workspace's previous contents
            lib.workspace = torch.full((q.numel(),), float("nan"), device="cuda")
            lib.backward(q, k, v, do, dq, dk, dv, scale, bias, causal, slopes, stride, deterministic=deterministic,
                         mma=mma)
            grads.append((dq, dk, dv))
        torch.cuda.synchronize()
        return o, grads

    o, grads = run()
    results = {}
    outputs = [("o", o, ref, low)]
    for mode, (dq, dk, dv) in zip(("", "/mma", "/det"), grads):
        outputs += [("dq" + mode, dq, q64.grad, ql.grad), ("dk" + mode, dk, k64.grad, kl.grad),
                    ("dv" + mode, dv, v64.grad, vl.grad)]
    for name, ours, ref_t, low_t in outputs:
        finite = bool(torch.isfinite(ours).all())
        err = rel_err(ours, ref_t) if finite else float("inf")
        yard = rel_err(low_t, ref_t)
        results[name] = (err, yard, finite and err <= 2 * yard + 1e-6)
    # a second run on the same inputs must match bit for bit (no races), except the atomic dQ whose
    # summation order varies
    o2, grads2 = run()
    same = [torch.equal(o, o2)]
    for atomic in (0, 1):
        same += [torch.equal(grads[atomic][1], grads2[atomic][1]), torch.equal(grads[atomic][2], grads2[atomic][2])]
    same += [torch.equal(x, y) for x, y in zip(grads[2], grads2[2])]
    return results, all(same)


def check(lib):
    torch.manual_seed(0)
    shapes = [  # b, h, hkv, nq, nk, d
        (2, 4, 4, 128, 128, 64),
        (1, 4, 2, 200, 333, 128),
        (2, 6, 2, 333, 200, 64),
        (1, 8, 1, 1, 517, 128),
        (1, 2, 2, 1000, 1000, 64),
        (1, 2, 1, 77, 77, 128),
        (3, 2, 2, 64, 1, 64),
        (1, 4, 4, 513, 1031, 128),
        (2, 4, 2, 150, 150, 32),  # d 32 and 96: padded 64- and 128-wide tiles
        (1, 6, 3, 200, 333, 96),
        (1, 4, 2, 130, 77, 256),  # d 256: two-pass kernels, one block per 128-column half
    ]
    biases = [-10.0, -math.log(4096), 0.0, 2.0]
    failures, total, worst = [], 0, {}
    for dtype in (torch.bfloat16, torch.float16):
        for (b, h, hkv, nq, nk, d) in shapes:
            for causal in (False, True):
                for alibi in (False, True):
                    for bias in biases:
                        per_batch = alibi and bias == 0.0
                        res, repeat = check_case(lib, dtype, b, h, hkv, nq, nk, d, causal, alibi, bias, per_batch)
                        total += 1
                        ok = all(r[2] for r in res.values()) and repeat
                        tag = f"{str(dtype)[6:]:8s} B{b} H{h}/{hkv} Nq{nq} Nk{nk} d{d} causal={int(causal)} alibi={int(alibi)}{'(bh)' if per_batch else ''} b={bias:+.2f}"
                        line = " ".join(f"{n} {e:.2e}/{y:.2e}" for n, (e, y, _) in res.items())
                        print(f"{'ok  ' if ok else 'FAIL'} {tag} | ours/torch-{str(dtype)[6:]}: {line}" + ("" if repeat else " NOT REPEATABLE"))
                        for n, (e, y, _) in res.items():
                            key = (str(dtype)[6:], n)
                            worst[key] = max(worst.get(key, (0, 0)), (e / max(y, 1e-30), e))
                        if not ok:
                            failures.append(tag)
    print("\nworst ratio ours/torch-lowp and its error, per output:")
    for (dt, n), (ratio, e) in sorted(worst.items()):
        print(f"  {dt:8s} {n:3s} ratio {ratio:.3f} err {e:.2e}")
    # errors come back typed and named
    q = torch.randn(1, 8, 2, 80, device="cuda", dtype=torch.bfloat16)
    try:
        lib.forward(q, q, q, q, 0.1, 0.0, False)
        failures.append("head_dim 80 accepted")
    except RuntimeError as e:
        print("rejected as expected:", e)
    q = torch.randn(1, 8, 3, 64, device="cuda", dtype=torch.bfloat16)
    k = torch.randn(1, 8, 2, 64, device="cuda", dtype=torch.bfloat16)
    try:
        lib.forward(q, k, k, q, 0.1, 0.0, False)
        failures.append("heads 3 / kv_heads 2 accepted")
    except RuntimeError as e:
        print("rejected as expected:", e)
    q = torch.randn(1, 8, 2, 64, device="cuda", dtype=torch.bfloat16)
    try:
        lib.backward(q, q, q, q, q, q, q, 0.1, 0.0, False, workspace=False)
        failures.append("atomic backward without a dQ workspace accepted")
    except RuntimeError as e:
        print("rejected as expected:", e)
    print(f"\n{total - len(failures)}/{total} cases passed")
    for f in failures:
        print("FAILED:", f)
    return not failures


def strided_views(layout, b, h, hkv, nq, nk, d, dtype):
    """q, k, v as [B, N, H, d] views of the given layout's storage and o (NaN-poisoned) in it too.

    "bhnd": [B, H, N, d] tensors (the mixer's layout); "cache": k/v the first nk tokens of a
    [B, Hkv, nk + 37, d] cache with spare capacity; "packed": q, k, v heads of one [B, N, H + 2·Hkv, d]
    projection (nq = nk).
    """
    dev = "cuda"
    if layout == "packed":
        qkv = torch.randn(b, nq, h + 2 * hkv, d, device=dev).to(dtype)
        q, k, v = qkv[:, :, :h], qkv[:, :, h:h + hkv], qkv[:, :, h + hkv:]
    else:
        q = torch.randn(b, h, nq, d, device=dev).to(dtype).transpose(1, 2)
        cap = nk + (37 if layout == "cache" else 0)
        k = torch.randn(b, hkv, cap, d, device=dev).to(dtype)[:, :, :nk].transpose(1, 2)
        v = torch.randn(b, hkv, cap, d, device=dev).to(dtype)[:, :, :nk].transpose(1, 2)
    o = torch.full((b, h, nq, d), float("nan"), device=dev, dtype=dtype).transpose(1, 2)
    return q, k, v, o


def check_strided(lib):
    """The strided entry point (its automatic choice) and the decode kernel (forced) on strided views,
    against float64 references: nq ≤ 16 decoding shapes with long caches, GQA groups over 16 rows,
    nq = nk, one key; errors within 2× PyTorch's own low-precision error, repeats bit-identical."""
    torch.manual_seed(1)
    shapes = [  # layout, b, h, hkv, nq, nk, d
        ("cache", 1, 8, 8, 1, 4099, 64),
        ("cache", 2, 8, 2, 3, 1000, 128),
        ("bhnd", 3, 16, 2, 2, 777, 64),
        ("cache", 1, 32, 4, 1, 20000, 128),
        ("bhnd", 2, 4, 1, 16, 300, 64),
        ("packed", 1, 2, 2, 5, 5, 128),
        ("cache", 2, 4, 4, 1, 1, 64),
        ("bhnd", 2, 4, 2, 200, 333, 64),
        ("packed", 1, 4, 4, 257, 257, 128),
        # head dims in padded tiles (32 → 64, 96 → 128) and d 256, decode and tiled
        ("cache", 2, 8, 2, 3, 1000, 32),
        ("bhnd", 1, 4, 4, 1, 2049, 96),
        ("cache", 1, 8, 2, 2, 3000, 256),
        ("bhnd", 2, 4, 2, 200, 333, 96),
        ("packed", 1, 4, 4, 257, 257, 32),
        ("bhnd", 1, 2, 1, 130, 290, 256),
    ]
    failures, total, worst = [], 0, {}
    for dtype in (torch.bfloat16, torch.float16):
        for (layout, b, h, hkv, nq, nk, d) in shapes:
            for causal in (False, True):
                for alibi in (False, True):
                    for bias in (-10.0, -math.log(4096), 2.0):
                        scale = 1.0 / math.sqrt(d)
                        q, k, v, o = strided_views(layout, b, h, hkv, nq, nk, d, dtype)
                        slopes = alibi_slopes(h).cuda() if alibi else None
                        slopes_bh = None if slopes is None else slopes.view(1, h).expand(b, h)
                        ref = materialised(q.double(), k.double(), v.double(), scale, bias, causal,
                                           None if slopes_bh is None else slopes_bh.double())
                        low = materialised(q, k, v, scale, bias, causal,
                                           None if slopes_bh is None else slopes_bh.float())
                        yard = rel_err(low, ref)
                        for symbol in ("strided", "decode"):
                            if symbol == "decode" and nq > 16:
                                continue
                            outs = []
                            for _ in range(2):
                                o.fill_(float("nan"))
                                lib.forward_strided(q, k, v, o, scale, bias, causal, slopes, 0, decode=symbol == "decode")
                                torch.cuda.synchronize()
                                outs.append(o.clone())
                            finite = bool(torch.isfinite(outs[0]).all())
                            err = rel_err(outs[0], ref) if finite else float("inf")
                            repeat = torch.equal(outs[0], outs[1])
                            ok = finite and err <= 2 * yard + 1e-6 and repeat
                            total += 1
                            tag = (f"{symbol:7s} {str(dtype)[6:]:8s} {layout:6s} B{b} H{h}/{hkv} Nq{nq} Nk{nk} d{d} "
                                   f"causal={int(causal)} alibi={int(alibi)} b={bias:+.2f}")
                            print(f"{'ok  ' if ok else 'FAIL'} {tag} | o {err:.2e}/{yard:.2e}" + ("" if repeat else " NOT REPEATABLE"))
                            key = (symbol, str(dtype)[6:])
                            worst[key] = max(worst.get(key, (0, 0)), (err / max(yard, 1e-30), err))
                            if not ok:
                                failures.append(tag)
    print("\nworst ratio ours/torch-lowp and its error:")
    for (symbol, dt), (ratio, e) in sorted(worst.items()):
        print(f"  {symbol:7s} {dt:8s} ratio {ratio:.3f} err {e:.2e}")
    # strides that break the 16-byte rule are refused by name
    q, k, v, o = strided_views("bhnd", 1, 2, 2, 4, 8, 64, torch.bfloat16)
    padded = torch.zeros(1, 4, 2, 68, device="cuda", dtype=torch.bfloat16)[..., :64]  # heads 68 apart
    try:
        lib.forward_strided(padded, k, v, o, 0.1, 0.0, False)
        failures.append("misaligned view accepted")
    except RuntimeError as e:
        print("rejected as expected:", e)
    print(f"\n{total - len(failures)}/{total} strided cases passed")
    for f in failures:
        print("FAILED:", f)
    return not failures


def check_varlen(lib):
    """The varlen forward and backward (its three modes) on packed sequences against a float64
    reference of each sequence alone: ragged lengths, nq ≠ nk, a sequence with nk < nq (causal rows
    with no key), one with one query, GQA, ALiBi (per head and per batch·head), head dims
    32/64/96/128; 2× rule, bit-identical repeats (but the atomic dQ)."""
    torch.manual_seed(2)
    cases = [  # h, hkv, d, query lengths, key lengths
        (4, 4, 64, [128, 1, 77, 300], [128, 33, 200, 300]),
        (6, 2, 128, [5, 257, 40], [5, 513, 20]),
        (4, 1, 96, [64, 129], [1000, 129]),
        (4, 2, 32, [300, 17], [150, 17]),
        (2, 1, 256, [70, 3], [90, 200]),
    ]
    failures, total, worst = [], 0, {}
    for dtype in (torch.bfloat16, torch.float16):
        for (h, hkv, d, lq, lk) in cases:
            for causal in (False, True):
                for alibi, per_batch in ((False, False), (True, False), (True, True)):
                    for bias in (-10.0, -math.log(4096), 2.0):
                        b = len(lq)
                        scale = 1.0 / math.sqrt(d)
                        q = torch.randn(sum(lq), h, d, device="cuda").to(dtype)
                        k = torch.randn(sum(lk), hkv, d, device="cuda").to(dtype)
                        v = torch.randn(sum(lk), hkv, d, device="cuda").to(dtype)
                        offsets_q, offsets_k = [0] + list(itertools.accumulate(lq)), [0] + list(itertools.accumulate(lk))
                        cu_q = torch.tensor(offsets_q, dtype=torch.int32, device="cuda")
                        cu_k = torch.tensor(offsets_k, dtype=torch.int32, device="cuda")
                        slopes, stride, slopes_bh = None, 0, None
                        if alibi:
                            if per_batch:
                                slopes, stride = (torch.rand(b, h, device="cuda") * 0.5).contiguous(), h
                                slopes_bh = slopes
                            else:
                                slopes = alibi_slopes(h).cuda()
                                slopes_bh = slopes.view(1, h).expand(b, h)
                        do = torch.randn_like(q)
                        q64, k64, v64 = (t.double().requires_grad_() for t in (q, k, v))
                        ql, kl, vl = (t.clone().requires_grad_() for t in (q, k, v))
                        refs, lows = [], []
                        for i in range(b):
                            rq, rk = slice(offsets_q[i], offsets_q[i + 1]), slice(offsets_k[i], offsets_k[i + 1])
                            si = None if slopes_bh is None else slopes_bh[i:i + 1]
                            refs.append(materialised(q64[rq].unsqueeze(0), k64[rk].unsqueeze(0), v64[rk].unsqueeze(0),
                                                     scale, bias, causal, None if si is None else si.double())[0])
                            lows.append(materialised(ql[rq].unsqueeze(0), kl[rk].unsqueeze(0), vl[rk].unsqueeze(0),
                                                     scale, bias, causal, None if si is None else si.float())[0])
                        ref, low = torch.cat(refs), torch.cat(lows)
                        ref.backward(do.double())
                        low.backward(do)
                        ref, low = ref.detach(), low.detach()
                        outs = []
                        for _ in range(2):
                            o = torch.full_like(q, float("nan"))
                            lib.forward_varlen(q, k, v, o, cu_q, cu_k, max(lq), max(lk), scale, bias, causal, slopes,
                                               stride)
                            torch.cuda.synchronize()
                            outs.append(o)
                        results = [("o", outs[0], ref, low, torch.equal(outs[0], outs[1]))]
                        for mode, deterministic, mma in (("", False, False), ("/mma", False, True), ("/det", True, False)):
                            grads = []
                            for _ in range(2):
                                dq, dk, dv = (torch.full_like(t, float("nan")) for t in (q, k, v))
                                lib.workspace = torch.full((q.numel(),), float("nan"), device="cuda")
                                lib.backward_varlen(q, k, v, do, dq, dk, dv, cu_q, cu_k, max(lq), max(lk), scale, bias,
                                                    causal, slopes, stride, deterministic=deterministic, mma=mma)
                                torch.cuda.synchronize()
                                grads.append((dq, dk, dv))
                            for j, (name, ref_t, low_t) in enumerate((("dq", q64.grad, ql.grad), ("dk", k64.grad, kl.grad),
                                                                      ("dv", v64.grad, vl.grad))):
                                repeat = torch.equal(grads[0][j], grads[1][j]) or (name == "dq" and not deterministic)
                                results.append((name + mode, grads[0][j], ref_t, low_t, repeat))
                        ok, cells = True, []
                        for name, ours, ref_t, low_t, repeat in results:
                            finite = bool(torch.isfinite(ours).all())
                            err = rel_err(ours, ref_t) if finite else float("inf")
                            yard = rel_err(low_t, ref_t)
                            ok = ok and finite and err <= 2 * yard + 1e-6 and repeat
                            cells.append(f"{name} {err:.2e}/{yard:.2e}" + ("" if repeat else " NOT REPEATABLE"))
                            key = (str(dtype)[6:], name)
                            worst[key] = max(worst.get(key, (0, 0)), (err / max(yard, 1e-30), err))
                        total += 1
                        tag = (f"{str(dtype)[6:]:8s} H{h}/{hkv} d{d} q{lq} k{lk} causal={int(causal)} "
                               f"alibi={int(alibi)}{'(bh)' if per_batch else ''} b={bias:+.2f}")
                        print(f"{'ok  ' if ok else 'FAIL'} {tag} | " + " ".join(cells))
                        if not ok:
                            failures.append(tag)
    for (dt, name), (ratio, e) in sorted(worst.items()):
        print(f"worst {dt:8s} {name:6s} ratio {ratio:.3f} err {e:.2e}")
    print(f"\n{total - len(failures)}/{total} varlen cases passed")
    for f in failures:
        print("FAILED:", f)
    return not failures


def bench(lib, outdir):
    import triton.testing
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F

    def timed(fn):
        return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")

    rows = []
    heads, tokens = 16, 65536
    for d in (64, 128):
        for causal in (False, True):
            for n in (1024, 2048, 4096, 8192, 16384):
                b = tokens // n
                torch.manual_seed(n + d)
                q = torch.randn(b, n, heads, d, device="cuda", dtype=torch.bfloat16)
                k = torch.randn(b, n, heads, d, device="cuda", dtype=torch.bfloat16)
                v = torch.randn(b, n, heads, d, device="cuda", dtype=torch.bfloat16)
                do = torch.randn_like(q)
                o = torch.empty_like(q)
                dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)
                scale, bias = 1.0 / math.sqrt(d), -math.log(4096)
                flops = 4.0 * b * heads * n * n * d / (2 if causal else 1)
                row = {"d": d, "causal": causal, "n": n, "batch": b}
                row["ours_fwd"] = timed(lambda: lib.forward(q, k, v, o, scale, bias, causal))
                row["ours_bwd"] = timed(lambda: lib.backward(q, k, v, do, dq, dk, dv, scale, bias, causal))
                row["mma_bwd"] = timed(lambda: lib.backward(q, k, v, do, dq, dk, dv, scale, bias, causal, mma=True))
                row["det_bwd"] = timed(lambda: lib.backward(q, k, v, do, dq, dk, dv, scale, bias, causal,
                                                            deterministic=True))
                qt, kt, vt = (t.transpose(1, 2).detach().requires_grad_() for t in (q, k, v))
                dot = do.transpose(1, 2)
                for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                    try:
                        with sdpa_kernel(backend):
                            row[f"{name}_fwd"] = timed(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal))
                            out = F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
                            row[f"{name}_bwd"] = timed(lambda: torch.autograd.grad(out, (qt, kt, vt), dot, retain_graph=True))
                            del out
                    except RuntimeError as e:
                        print(f"{name} unavailable at d{d} N{n}: {str(e)[:120]}")
                if n <= 4096:
                    with torch.no_grad():
                        row["naive_fwd"] = timed(lambda: materialised(q, k, v, scale, bias, causal, None))
                for key in list(row):
                    if key.endswith("_fwd"):
                        row[key.replace("_fwd", "_fwd_tflops")] = flops / row[key] / 1e9
                    if key.endswith("_bwd"):
                        row[key.replace("_bwd", "_bwd_tflops")] = 2.5 * flops / row[key] / 1e9
                rows.append(row)
                print(json.dumps(row), flush=True)
                del q, k, v, do, o, dq, dk, dv, qt, kt, vt
                torch.cuda.empty_cache()
    # matmul ceiling measured in the same run
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    bm = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    peak = 2 * 8192**3 / timed(lambda: a @ bm) / 1e9
    with open(os.path.join(outdir, "bench.json"), "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "matmul_tflops": peak,
                   "rows": rows}, f, indent=1)
    print(f"\nbf16 8192^3 matmul: {peak:.0f} TFLOP/s on {torch.cuda.get_device_name()}, torch {torch.__version__}")
    print("TFLOP/s forward (bwd; mma = mma.sync single pass; det = deterministic bwd) | ours/flash  ours/cudnn | ours % of matmul peak")
    for r in rows:
        g = lambda key: r.get(key, float("nan"))
        print(f"d{r['d']:3d} {'causal' if r['causal'] else 'full  '} N{r['n']:5d}: ours {g('ours_fwd_tflops'):4.0f} ({g('ours_bwd_tflops'):3.0f}; mma {g('mma_bwd_tflops'):3.0f}; det {g('det_bwd_tflops'):3.0f}) "
              f"flash {g('flash_fwd_tflops'):4.0f} ({g('flash_bwd_tflops'):3.0f}) cudnn {g('cudnn_fwd_tflops'):4.0f} ({g('cudnn_bwd_tflops'):3.0f}) "
              f"naive {g('naive_fwd_tflops'):4.0f} | fwd x{g('ours_fwd_tflops') / g('flash_fwd_tflops'):.2f} x{g('ours_fwd_tflops') / g('cudnn_fwd_tflops'):.2f} "
              f"bwd x{g('ours_bwd_tflops') / g('flash_bwd_tflops'):.2f} x{g('ours_bwd_tflops') / g('cudnn_bwd_tflops'):.2f} | {100 * g('ours_fwd_tflops') / peak:.0f}%")
    chart(rows, peak, os.path.join(outdir, "flash_sigmoid.svg"))


def variants(paths):
    """Backward (atomic mode) TFLOP/s of each build and SDPA-flash's, measured once per shape in the
    same process, at every benchmark shape; the builds differ only in backward tiles."""
    import triton.testing
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F

    def timed(fn):
        return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")

    libs = [Library(p) for p in paths]
    heads, tokens = 16, 65536
    for i, p in enumerate(paths):
        print(f"build {i}: {p}")
    print("backward TFLOP/s, flash | build 0, build 1, ..., build 0's mma.sync single pass (each / flash)")
    for d in (64, 128):
        for causal in (False, True):
            for n in (1024, 2048, 4096, 8192, 16384):
                b = tokens // n
                torch.manual_seed(n + d)
                q, k, v, do = (torch.randn(b, n, heads, d, device="cuda", dtype=torch.bfloat16) for _ in range(4))
                dq, dk, dv = (torch.empty_like(q) for _ in range(3))
                scale, bias = 1.0 / math.sqrt(d), -math.log(4096)
                work = 2.5 * 4.0 * b * heads * n * n * d / (2 if causal else 1) / 1e9
                qt, kt, vt = (t.transpose(1, 2).detach().requires_grad_() for t in (q, k, v))
                with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                    out = F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
                    flash = work / timed(lambda: torch.autograd.grad(out, (qt, kt, vt), do.transpose(1, 2),
                                                                     retain_graph=True))
                    del out
                ours = [work / timed(lambda: lib.backward(q, k, v, do, dq, dk, dv, scale, bias, causal)) for lib in libs]
                ours.append(work / timed(lambda: libs[0].backward(q, k, v, do, dq, dk, dv, scale, bias, causal, mma=True)))
                cells = " | ".join(f"{t:4.0f} x{t / flash:.2f}" for t in ours)
                print(f"d{d:3d} {'causal' if causal else 'full  '} N{n:5d}: flash {flash:4.0f} | {cells}", flush=True)
                del q, k, v, do, dq, dk, dv, qt, kt, vt
                torch.cuda.empty_cache()


def fwd_variants(specs):
    """Forward builds side by side: each passes the forward half of `check`'s grid (float64 reference,
    2× PyTorch's own low-precision error, outputs poisoned, a repeat bit-identical), then every build
    and SDPA's flash and cuDNN backends are timed at each benchmark shape in the same process. A spec
    prefixed "time:" is only timed (a diagnostic build that drops part of the work)."""
    import triton.testing
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F

    def timed(fn):
        return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")

    timed_only = [s.startswith("time:") for s in specs]
    libs = [Library(s.removeprefix("time:")) for s in specs]
    for i, s in enumerate(specs):
        print(f"build {i}: {s}")
    checked = [i for i in range(len(libs)) if not timed_only[i]]
    torch.manual_seed(0)
    shapes = [(2, 4, 4, 128, 128, 64), (1, 4, 2, 200, 333, 128), (2, 6, 2, 333, 200, 64), (1, 8, 1, 1, 517, 128),
              (1, 2, 2, 1000, 1000, 64), (1, 2, 1, 77, 77, 128), (3, 2, 2, 64, 1, 64), (1, 4, 4, 513, 1031, 128),
              (2, 4, 2, 1500, 1700, 128), (1, 4, 4, 2049, 2049, 64)]
    passed, total, worst = [0] * len(libs), 0, [0.0] * len(libs)
    for dtype in (torch.bfloat16, torch.float16):
        for (b, h, hkv, nq, nk, d) in shapes:
            for causal in (False, True):
                for alibi in (False, True):
                    for bias in (-10.0, -math.log(4096), 0.0, 2.0):
                        per_batch = alibi and bias == 0.0
                        scale = 1.0 / math.sqrt(d)
                        q = torch.randn(b, nq, h, d, device="cuda").to(dtype)
                        k = torch.randn(b, nk, hkv, d, device="cuda").to(dtype)
                        v = torch.randn(b, nk, hkv, d, device="cuda").to(dtype)
                        slopes, stride, slopes_bh = None, 0, None
                        if alibi:
                            if per_batch:
                                slopes = (torch.rand(b, h, device="cuda") * 0.5).contiguous()
                                stride, slopes_bh = h, slopes
                            else:
                                slopes = alibi_slopes(h).cuda()
                                slopes_bh = slopes.view(1, h).expand(b, h)
                        ref = materialised(q.double(), k.double(), v.double(), scale, bias, causal,
                                           None if slopes_bh is None else slopes_bh.double())
                        yard = rel_err(materialised(q, k, v, scale, bias, causal,
                                                    None if slopes_bh is None else slopes_bh.float()), ref)
                        total += 1
                        cells = []
                        for i in checked:
                            lib = libs[i]
                            outs = []
                            for _ in range(2):
                                o = torch.full_like(q, float("nan"))
                                lib.forward(q, k, v, o, scale, bias, causal, slopes, stride)
                                outs.append(o)
                            torch.cuda.synchronize()
                            err = rel_err(outs[0], ref) if bool(torch.isfinite(outs[0]).all()) else float("inf")
                            ok = err <= 2 * yard + 1e-6 and torch.equal(outs[0], outs[1])
                            passed[i] += ok
                            worst[i] = max(worst[i], err / max(yard, 1e-30))
                            cells.append(f"{'ok' if ok else 'FAIL'} {err:.2e}")
                        print(f"{str(dtype)[6:]:8s} B{b} H{h}/{hkv} Nq{nq} Nk{nk} d{d} causal={int(causal)} "
                              f"alibi={int(alibi)} b={bias:+.2f} torch {yard:.2e} | " + " | ".join(cells))
    for i in checked:
        print(f"build {i}: {passed[i]}/{total} forward cases passed, worst ratio to torch's own error {worst[i]:.3f}")
    heads, tokens = 16, 65536
    print("forward TFLOP/s: flash cudnn | build 0, build 1, ... (each / cuDNN)")
    for d in (64, 128):
        for causal in (False, True):
            for n in (1024, 2048, 4096, 8192, 16384):
                b = tokens // n
                torch.manual_seed(n + d)
                q, k, v = (torch.randn(b, n, heads, d, device="cuda", dtype=torch.bfloat16) for _ in range(3))
                o = torch.empty_like(q)
                scale, bias = 1.0 / math.sqrt(d), -math.log(4096)
                work = 4.0 * b * heads * n * n * d / (2 if causal else 1) / 1e9
                qt, kt, vt = (t.transpose(1, 2) for t in (q, k, v))
                peer = {}
                for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                    with sdpa_kernel(backend):
                        peer[name] = work / timed(lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal))
                ours = [work / timed(lambda: lib.forward(q, k, v, o, scale, bias, causal)) for lib in libs]
                cells = " | ".join(f"{t:4.0f} x{t / peer['cudnn']:.2f}" for t in ours)
                print(f"d{d:3d} {'causal' if causal else 'full  '} N{n:5d}: flash {peer['flash']:4.0f} cudnn "
                      f"{peer['cudnn']:4.0f} | {cells}", flush=True)
                del q, k, v, o, qt, kt, vt
                torch.cuda.empty_cache()
    return all(passed[i] == total for i in checked)


def chart(rows, peak, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 4, figsize=(18, 8), sharey=True)
    for col, (d, causal) in enumerate(((64, False), (64, True), (128, False), (128, True))):
        sel = [r for r in rows if r["d"] == d and r["causal"] == causal]
        ns = [r["n"] for r in sel]
        for row_i, pass_ in enumerate(("fwd", "bwd")):
            ax = axes[row_i][col]
            for impl in ("ours", "flash", "cudnn", "naive"):
                ys = [r.get(f"{impl}_{pass_}_tflops", float("nan")) for r in sel]
                if any(y == y for y in ys):
                    ax.plot(ns, ys, marker="o", label={"ours": "FlashSigmoid (this)", "flash": "SDPA flash (FA2)",
                                                       "cudnn": "SDPA cuDNN", "naive": "materialised sigmoid"}[impl])
            ax.axhline(peak, color="grey", linestyle=":", label="bf16 matmul")
            ax.set_xscale("log", base=2)
            ax.set_title(f"{pass_} d={d} {'causal' if causal else 'full'}")
            ax.set_xlabel("N (B·N = 64k, 16 heads)")
            if col == 0:
                ax.set_ylabel("TFLOP/s")
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)


if __name__ == "__main__":
    lib = Library(sys.argv[2])
    if sys.argv[1] == "variants":
        variants(sys.argv[2:])
        sys.exit(0)
    if sys.argv[1] == "fwd_variants":
        sys.exit(0 if fwd_variants(sys.argv[2:]) else 1)
    if sys.argv[1] == "check":
        sys.exit(0 if check(lib) else 1)
    if sys.argv[1] == "check_strided":
        sys.exit(0 if check_strided(lib) else 1)
    if sys.argv[1] == "check_varlen":
        sys.exit(0 if check_varlen(lib) else 1)
    bench(lib, sys.argv[3])
