#!/usr/bin/env python3
"""The PyTorch peer of `<trainer> bench`: the same LLaMA model, placement, batch and optimizer
(Adam), timed the same way (median step time of the timed steps after warm-up). Prints one
JSON line like mixln's bench. Used by scripts/compare/compare_torch.sh (CPU; Debian's python3-torch) and
scripts/gpu/gpu_check.sh, scripts/gpu/gpu_perf.sh (CUDA: --device cuda --autocast bf16 --attention sdpa
[--compile]).

  torch_bench.py --vocab 4096 --hidden 256 --intermediate 688 --heads 4 --post 2 --pre 6 \
                 --batch 8 --seq 256 --steps 10 --threads 2

The paper's larger configurations (examples/configs.hpp) through the same flags, Mix-LN α = 1/4:
  llama71m   --vocab 32000 --hidden 512  --intermediate 1368 --heads 8  --post 3 --pre 9
  llama250m  --vocab 32000 --hidden 768  --intermediate 2560 --heads 16 --post 6 --pre 18
  llama1b    --vocab 32000 --hidden 2048 --intermediate 5461 --heads 32 --post 6 --pre 18

Besides tok_s it reports peak_memory_bytes (torch.cuda.max_memory_allocated over the warm-up and
timed steps; null on the CPU) and, with --attention sdpa, sdpa_backend: which kernel
scaled_dot_product_attention actually ran (sdpa_backend_how says how that was found; see
sdpa_backend()). Runs on Debian's torch 1.13 (CPU) as before: the newer APIs are guarded.
"""
import argparse
import json
import math
import resource
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-6):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


class Attention(nn.Module):
    def __init__(self, C, H):
        super().__init__()
        self.H, self.D = H, C // H
        self.q_proj = nn.Linear(C, C, bias=False)
        self.k_proj = nn.Linear(C, C, bias=False)
        self.v_proj = nn.Linear(C, C, bias=False)
        self.o_proj = nn.Linear(C, C, bias=False)

    def forward(self, x, cos, sin, mask):
        B, T, C = x.shape
        q = self.q_proj(x).view(B, T, self.H, self.D).transpose(1, 2)
        k = self.k_proj(x).view(B, T, self.H, self.D).transpose(1, 2)
        v = self.v_proj(x).view(B, T, self.H, self.D).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if mask is None:  # --attention sdpa: PyTorch's fused (flash / memory-efficient) kernel
            if not hasattr(F, "scaled_dot_product_attention"):  # torch < 2.0
                raise SystemExit("torch_bench: --attention sdpa needs torch >= 2.0 (this is %s)" % torch.__version__)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            return self.o_proj(y.transpose(1, 2).reshape(B, T, C))
        att = (q @ k.transpose(-1, -2)) / math.sqrt(self.D)
        att = torch.softmax(att.masked_fill(mask, float("-inf")), dim=-1)
        return self.o_proj((att @ v).transpose(1, 2).reshape(B, T, C))


class MLP(nn.Module):
    def __init__(self, C, I):
        super().__init__()
        self.gate_proj = nn.Linear(C, I, bias=False)
        self.up_proj = nn.Linear(C, I, bias=False)
        self.down_proj = nn.Linear(I, C, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Layer(nn.Module):
    def __init__(self, C, I, H, post):
        super().__init__()
        self.post = post
        self.self_attn, self.mlp = Attention(C, H), MLP(C, I)
        self.norm1, self.norm2 = RMSNorm(C), RMSNorm(C)

    def forward(self, x, cos, sin, mask):
        if self.post:  # x ← N(x + F(x))
            x = self.norm1(x + self.self_attn(x, cos, sin, mask))
            return self.norm2(x + self.mlp(x))
        x = x + self.self_attn(self.norm1(x), cos, sin, mask)  # x ← x + F(N(x))
        return x + self.mlp(self.norm2(x))


class Model(nn.Module):
    def __init__(self, V, C, I, H, post, pre, sdpa=False):
        super().__init__()
        self.sdpa = sdpa
        self.embed = nn.Embedding(V, C)
        self.layers = nn.ModuleList([Layer(C, I, H, True) for _ in range(post)] +
                                    [Layer(C, I, H, False) for _ in range(pre)])
        self.norm = RMSNorm(C)
        self.lm_head = nn.Linear(C, V, bias=False)
        for p in self.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=0.02)
        self.H = H

    def forward(self, ids, labels):
        B, T = ids.shape
        D = self.embed.weight.shape[1] // self.H
        dev = ids.device
        inv = 1.0 / (10000 ** (torch.arange(0, D, 2, device=dev).float() / D))
        freqs = torch.outer(torch.arange(T, device=dev).float(), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = None if self.sdpa else torch.triu(torch.ones(T, T, dtype=torch.bool, device=dev), diagonal=1)
        x = self.embed(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        logits = self.lm_head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), labels.view(-1))


# The aten operators behind scaled_dot_product_attention, one per backend (PyTorch 2.x).
SDPA_OPS = [("_scaled_dot_product_flash_attention_for_cpu", "flash (cpu)"),
            ("_scaled_dot_product_flash_attention", "flash"),
            ("_scaled_dot_product_efficient_attention", "efficient"),
            ("_scaled_dot_product_cudnn_attention", "cudnn"),
            ("_scaled_dot_product_attention_math", "math")]


def sdpa_backend(run_step, a, dev):
    """Which SDPA backend ran, and how that was found.

    First choice, "profiler": one more training step (forward and backward, eager or compiled)
    under torch.profiler, and the name of the aten operator that scaled_dot_product_attention
    dispatched to (SDPA_OPS) -- what actually ran, whatever PyTorch's selection rules are in this
    version. Fallback, "probe" (when the profiler is missing or shows no such operator, e.g. when
    torch.compile inlined the math path): in PyTorch's priority order (torch._C's
    _get_sdp_priority_order where this version has it, else flash, efficient, cudnn, math), the
    first backend that is enabled and runs a forward and backward of the model's attention shapes
    (batch, heads, seq, head dim; bf16 under --autocast bf16) inside
    torch.nn.attention.sdpa_kernel([backend]) alone.
    """
    try:
        from torch.profiler import ProfilerActivity, profile
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            run_step()
        names = {e.key for e in prof.key_averages()}
        for op, label in SDPA_OPS:
            if "aten::" + op in names:
                return label, "profiler"
    except Exception:  # noqa: BLE001 -- the probe below still answers
        pass
    try:
        from torch.nn.attention import SDPBackend, sdpa_kernel
    except ImportError:
        return "unknown", "no torch.nn.attention in torch %s" % torch.__version__
    by_name = {"flash": "FLASH_ATTENTION", "efficient": "EFFICIENT_ATTENTION", "cudnn": "CUDNN_ATTENTION",
               "math": "MATH"}
    order = [getattr(SDPBackend, by_name[n]) for n in ("flash", "efficient", "cudnn", "math")
             if hasattr(SDPBackend, by_name[n])]
    try:
        order = [SDPBackend(int(i)) for i in torch._C._get_sdp_priority_order()]
    except Exception:  # noqa: BLE001 -- older versions: the default order above
        pass
    D = a.hidden // a.heads
    dtype = torch.bfloat16 if a.autocast == "bf16" else torch.float32
    for b in order:
        try:
            q, k, v = (torch.randn(a.batch, a.heads, a.seq, D, device=dev, dtype=dtype, requires_grad=True)
                       for _ in range(3))
            with sdpa_kernel([b]):
                F.scaled_dot_product_attention(q, k, v, is_causal=True).sum().backward()
            name = b.name.lower()
            return {"flash_attention": "flash", "efficient_attention": "efficient",
                    "cudnn_attention": "cudnn"}.get(name, name), "probe"
        except Exception:  # noqa: BLE001 -- not available for these shapes: the next one
            continue
    return "unknown", "probe: no backend ran"


def main():
    ap = argparse.ArgumentParser()
    for name, default in [("vocab", 4096), ("hidden", 256), ("intermediate", 688), ("heads", 4),
                          ("post", 2), ("pre", 6), ("batch", 8), ("seq", 256), ("steps", 10),
                          ("warmup", 2), ("threads", 2)]:
        ap.add_argument("--" + name, type=int, default=default)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--autocast", default="none", help="none or bf16 (torch.autocast)")
    ap.add_argument("--attention", default="manual", help="manual (softmax of the scores, as mixln) or sdpa")
    ap.add_argument("--compile", action="store_true", help="torch.compile the model")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    dev = torch.device(a.device)
    model = Model(a.vocab, a.hidden, a.intermediate, a.heads, a.post, a.pre, sdpa=a.attention == "sdpa").to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if dev.type == "cuda" else {}))
    step_fn = torch.compile(model) if a.compile else model
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g).to(dev)
    labels = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g).to(dev)
    sync = torch.cuda.synchronize if dev.type == "cuda" else (lambda: None)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def train_step():
        opt.zero_grad(set_to_none=True)
        with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=a.autocast == "bf16"):
            loss = step_fn(ids, labels)
        loss.backward()
        opt.step()
        return loss

    times = []
    for step in range(a.warmup + a.steps):
        sync()
        t0 = time.perf_counter()
        loss = train_step()
        sync()
        if step >= a.warmup:
            times.append(time.perf_counter() - t0)
    step_s = statistics.median(times)
    peak = torch.cuda.max_memory_allocated() if dev.type == "cuda" else None
    backend, how = (None, None)
    if a.attention == "sdpa":
        backend, how = sdpa_backend(lambda: (train_step(), sync()), a, dev)
    tokens = a.batch * a.seq
    print(json.dumps({"framework": f"pytorch {torch.__version__}", "device": a.device, "autocast": a.autocast,
                      "attention": a.attention, "compile": a.compile, "tok_s": tokens / step_s,
                      "step_s": step_s, "loss": loss.item(), "threads": torch.get_num_threads(),
                      "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                      "peak_memory_bytes": peak, "sdpa_backend": backend, "sdpa_backend_how": how,
                      "batch": a.batch, "seq": a.seq, "params": sum(p.numel() for p in model.parameters())}))


if __name__ == "__main__":
    main()
