#!/usr/bin/env python3
"""Golden data for mixln's model tests, from an independent PyTorch reference.

The reference below is a plain, unfused transcription of docs/design.md §2, §3 and §8 (RMSNorm,
LayerNorm and DyT, rotate_half RoPE, causal attention with optional QK/QKV-norm, SwiGLU and a
GELU MLP, the placements of the paper and those since, B2T), computed in float64. A layer is
written as a spec: placement, norm kind, attention norm option and MLP kind.
For each case it writes, under tests/golden/<case>/:
  weights.safetensors   parameters (BF16, so both sides read exactly the same values)
  batch.safetensors     input_ids and labels [B, T] (I64 or I32), some labels -100
  grads.safetensors     'loss' [1] and every parameter's gradient (F32)

Run with Debian's python3-torch:  /usr/bin/python3 tests/golden/make_golden.py
"""
import json
import math
import os
import struct
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))

# Norm names of each placement, per sub-layer: (pre, branch, post, skip_from_layer_input).
# Each may hold one name or None (the C++ side allows chains; these placements use one).
PLACEMENTS = {
    "PreLN": {"attn": ("input_layernorm", None, None, False),
              "mlp": ("post_attention_layernorm", None, None, False)},
    "PostLN": {"attn": (None, None, "post_attention_layernorm", False),
               "mlp": (None, None, "post_feedforward_layernorm", False)},
    "DeepNorm": {"attn": (None, None, "post_attention_layernorm", False),
                 "mlp": (None, None, "post_feedforward_layernorm", False)},
    "SandwichLN": {"attn": ("input_layernorm", "post_attention_layernorm", None, False),
                   "mlp": ("pre_feedforward_layernorm", "post_feedforward_layernorm", None, False)},
    "LNS": {"attn": ("input_layernorm", None, None, False),
            "mlp": ("post_attention_layernorm", None, None, False)},
    # B2T (Takase et al.), the user-defined placement of examples/b2t.cpp.
    "B2T": {"attn": (None, None, "post_attention_layernorm", False),
            "mlp": (None, None, "post_feedforward_layernorm", True)},
    "PeriLN": {"attn": ("input_layernorm", "post_attention_layernorm", None, False),
               "mlp": ("pre_feedforward_layernorm", "post_feedforward_layernorm", None, False)},
    "OLMo2": {"attn": (None, "post_attention_layernorm", None, False),
              "mlp": (None, "post_feedforward_layernorm", None, False)},
    "HybridNorm": {"attn": (None, None, "post_attention_layernorm", False),
                   "mlp": (None, None, None, False)},
}
# Parameters of each norm kind, in order, and their init (docs/design.md §8.1).
NORM_PARAMS = {"RMSNorm": [("weight", True, 1.0)],
               "LayerNorm": [("weight", True, 1.0), ("bias", True, 0.0)],
               "DyT": [("alpha", False, 0.5), ("weight", True, 1.0), ("bias", True, 0.0)],
               "EmbedScale": [("scale", False, 1.0)]}


def layer(placement, kind="RMSNorm", attn_norm=None, mlp="swiglu", mlp_kind=None, block="llama"):
    """A layer spec. attn_norm: None or (which: "qk"|"qkv", scope: "per_head"|"full", kind);
    mlp_kind: the norm kind of the MLP sub-layer's norms (default: kind); block "vit": timm's
    ViT block (dsl/vit_block.hpp) in place of LLaMA's."""
    return {"placement": placement, "kind": kind, "attn_norm": attn_norm, "mlp": mlp,
            "mlp_kind": mlp_kind or kind, "block": block}


def as_layer(spec):
    return spec if isinstance(spec, dict) else layer(spec)
LINEARS = ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
           "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]


def residual_scale(placement, L):
    return (2.0 * L) ** 0.25 if placement == "DeepNorm" else 1.0


def pre_scale(placement, layer):
    return 1.0 / math.sqrt(layer + 1) if placement == "LNS" else 1.0


def rmsnorm(x, w, eps=1e-6):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def norm(kind, x, p, name):
    """The norm `name` (its parameters are name.weight, ...) of the given kind over the last dim."""
    if kind == "RMSNorm":
        return rmsnorm(x, p[name + ".weight"])
    if kind == "LayerNorm":
        mean = x.mean(-1, keepdim=True)
        var = (x - mean).pow(2).mean(-1, keepdim=True)  # biased, as nn.LayerNorm
        return (x - mean) * torch.rsqrt(var + 1e-5) * p[name + ".weight"] + p[name + ".bias"]
    if kind == "DyT":
        return p[name + ".weight"] * torch.tanh(p[name + ".alpha"] * x) + p[name + ".bias"]
    if kind == "EmbedScale":  # a learned scalar, y = s·x (ScaledEmbedding)
        return p[name + ".scale"] * x
    raise ValueError(kind)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat((-x[..., h:], x[..., :h]), dim=-1)


def rope(x):  # x: [B, H, T, D]
    T, D = x.shape[-2], x.shape[-1]
    inv_freq = 1.0 / (10000.0 ** (torch.arange(0, D, 2, dtype=torch.float64) / D))
    freqs = torch.outer(torch.arange(T, dtype=torch.float64), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    return x * emb.cos() + rotate_half(x) * emb.sin()


def attention(h, p, prefix, H, attn_norm=None):
    B, T, C = h.shape
    D = C // H

    def proj(name, normed):
        x = h @ p[prefix + "self_attn." + name + "_proj.weight"].T  # [B, T, C]
        if normed:
            which, scope, kind = attn_norm
            nname = prefix + "self_attn." + name + "_norm"
            x = norm(kind, x.view(B, T, H, D), p, nname).view(B, T, C) if scope == "per_head" \
                else norm(kind, x, p, nname)
        return x.view(B, T, H, D).transpose(1, 2)

    qk_normed = attn_norm is not None
    v_normed = qk_normed and attn_norm[0] == "qkv"
    q, k, v = rope(proj("q", qk_normed)), rope(proj("k", qk_normed)), proj("v", v_normed)
    scores = q @ k.transpose(-1, -2) / math.sqrt(D)
    mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    probs = torch.softmax(scores.masked_fill(mask, float("-inf")), dim=-1)
    out = (probs @ v).transpose(1, 2).reshape(B, T, C)
    return out @ p[prefix + "self_attn.o_proj.weight"].T


def vit_attention(h, p, prefix, H):
    """timm's Attention with qkv_bias: no mask, no RoPE (dsl/branches/vit_attention.hpp)."""
    B, T, C = h.shape
    D = C // H
    qkv = h @ p[prefix + "attn.qkv.weight"].T + p[prefix + "attn.qkv.bias"]  # [B, T, 3C]
    q, k, v = (qkv[..., i * C:(i + 1) * C].reshape(B, T, H, D).transpose(1, 2) for i in range(3))
    probs = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(D), dim=-1)
    out = (probs @ v).transpose(1, 2).reshape(B, T, C)
    return out @ p[prefix + "attn.proj.weight"].T + p[prefix + "attn.proj.bias"]


def vit_mlp(h, p, prefix):
    """timm's Mlp: fc2(gelu(fc1(x))), the exact GELU (dsl/branches/gelu_mlp.hpp)."""
    a = torch.nn.functional.gelu(h @ p[prefix + "mlp.fc1.weight"].T + p[prefix + "mlp.fc1.bias"])
    return a @ p[prefix + "mlp.fc2.weight"].T + p[prefix + "mlp.fc2.bias"]


def mlp(h, p, prefix, kind="swiglu"):
    if kind == "gelu":  # examples/gelu_block.hpp: down(gelu_tanh(up(x)))
        u = h @ p[prefix + "mlp.up_proj.weight"].T
        return torch.nn.functional.gelu(u, approximate="tanh") @ p[prefix + "mlp.down_proj.weight"].T
    g = h @ p[prefix + "mlp.gate_proj.weight"].T
    u = h @ p[prefix + "mlp.up_proj.weight"].T
    return (torch.nn.functional.silu(g) * u) @ p[prefix + "mlp.down_proj.weight"].T


def forward(p, layers, cfg, ids, labels, drop=None, streams=None, final="RMSNorm", embed=()):
    """Mean cross-entropy. drop: a layer index to remove (identity); streams: a list that
    receives the input of every layer and the last layer's output (before the final norm);
    embed: the embedding output's norms, (kind, name) pairs (Model's fourth argument)."""
    x = p["model.embed_tokens.weight"][ids]
    for kind, name in embed:
        x = norm(kind, x, p, "model." + name)
    x = layers_forward(p, layers, cfg, x, drop, streams)
    x = norm(final, x, p, "model.norm")
    logits = x @ p["lm_head.weight"].T
    return torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                             labels.reshape(-1), ignore_index=-100)


def layers_forward(p, layers, cfg, x, drop=None, streams=None):
    """The stack on the residual stream x [B, T, C]; returns the last layer's output."""
    L = len(layers)
    for i, spec in enumerate(layers):
        spec = as_layer(spec)
        placement, kind = spec["placement"], spec["kind"]
        if streams is not None:
            streams.append(x)
        if i == drop:
            continue
        prefix = f"model.layers.{i}."
        x_in = x
        a = residual_scale(placement, L)
        for sub in ("attn", "mlp"):
            pre, branch, post, skip = PLACEMENTS[placement][sub]
            kind = spec["mlp_kind"] if sub == "mlp" else spec["kind"]
            h = x
            if pre:
                h = norm(kind, x, p, prefix + pre) * pre_scale(placement, i)
            if spec["block"] == "vit":
                f = vit_attention(h, p, prefix, cfg["heads"]) if sub == "attn" else vit_mlp(h, p, prefix)
            else:
                f = attention(h, p, prefix, cfg["heads"], spec["attn_norm"]) if sub == "attn" \
                    else mlp(h, p, prefix, spec["mlp"])
            if branch:
                f = norm(kind, f, p, prefix + branch)
            s = a * x + f
            if skip:
                s = s + x_in
            x = norm(kind, s, p, prefix + post) if post else s
    if streams is not None:
        streams.append(x)
    return x


def vit_forward(p, layers, cfg, images, labels, final):
    """timm's VisionTransformer (global_pool="token"): images [B, S, S, c] → patch_embed (a
    stride-P conv with a bias) → [cls; patches] + pos_embed → the stack → final norm → the class
    token's row → head → cross-entropy over classes (dsl/vision_ends.hpp)."""
    B, S, _, c = images.shape
    P, C = cfg["patch"], cfg["hidden"]
    w = p["model.patch_embed.proj.weight"].reshape(C, c, P, P)
    x = torch.nn.functional.conv2d(images.permute(0, 3, 1, 2), w, p["model.patch_embed.proj.bias"], stride=P)
    x = x.flatten(2).transpose(1, 2)  # [B, (S/P)², C]
    x = torch.cat([p["model.cls_token"].reshape(1, 1, C).expand(B, 1, C), x], dim=1) + p["model.pos_embed"]
    x = norm(final, layers_forward(p, layers, cfg, x), p, "model.norm")
    logits = x[:, 0] @ p["head.weight"].T + p["head.bias"]
    return torch.nn.functional.cross_entropy(logits, labels, ignore_index=-100)


def norm_shapes(shapes, kind, name, C):
    for suffix, per_channel, _ in NORM_PARAMS[kind]:
        shapes[name + "." + suffix] = (C,) if per_channel else (1,)


def param_shapes(layers, cfg, final="RMSNorm", embed=()):
    """Every parameter in mixln's layout order (schedule/param_layout.hpp)."""
    C, I, H = cfg["hidden"], cfg["intermediate"], cfg["heads"]
    if "image" in cfg:  # the ViT's ends (dsl/vision_ends.hpp)
        S, P, c = cfg["image"], cfg["patch"], cfg["channels"]
        shapes = {"model.patch_embed.proj.weight": (C, c * P * P), "model.patch_embed.proj.bias": (C,),
                  "model.cls_token": (1, C), "model.pos_embed": (1 + (S // P) ** 2, C)}
    else:
        shapes = {"model.embed_tokens.weight": (cfg["vocab"], C)}
    for kind, name in embed:
        norm_shapes(shapes, kind, "model." + name, C)
    for i, spec in enumerate(layers):
        spec = as_layer(spec)
        prefix = f"model.layers.{i}."
        if spec["block"] == "vit":
            for name, shape in (("attn.qkv.weight", (3 * C, C)), ("attn.qkv.bias", (3 * C,)),
                                ("attn.proj.weight", (C, C)), ("attn.proj.bias", (C,)),
                                ("mlp.fc1.weight", (I, C)), ("mlp.fc1.bias", (I,)),
                                ("mlp.fc2.weight", (C, I)), ("mlp.fc2.bias", (C,))):
                shapes[prefix + name] = shape
            for sub in ("attn", "mlp"):
                for name in PLACEMENTS[spec["placement"]][sub][:3]:
                    if name:
                        norm_shapes(shapes, spec["mlp_kind"] if sub == "mlp" else spec["kind"], prefix + name, C)
            continue
        for name in LINEARS[:4]:
            shapes[prefix + name + ".weight"] = (C, C)
        if spec["attn_norm"]:
            which, scope, kind = spec["attn_norm"]
            width = C // H if scope == "per_head" else C
            for v in ("q", "k", "v") if which == "qkv" else ("q", "k"):
                norm_shapes(shapes, kind, prefix + "self_attn." + v + "_norm", width)
        if spec["mlp"] == "gelu":
            shapes[prefix + "mlp.up_proj.weight"] = (I, C)
            shapes[prefix + "mlp.down_proj.weight"] = (C, I)
        else:
            shapes[prefix + "mlp.gate_proj.weight"] = (I, C)
            shapes[prefix + "mlp.up_proj.weight"] = (I, C)
            shapes[prefix + "mlp.down_proj.weight"] = (C, I)
        for sub in ("attn", "mlp"):
            for name in PLACEMENTS[spec["placement"]][sub][:3]:
                if name:
                    norm_shapes(shapes, spec["mlp_kind"] if sub == "mlp" else spec["kind"], prefix + name, C)
    norm_shapes(shapes, final, "model.norm", C)
    if "image" in cfg:
        shapes["head.weight"] = (cfg["classes"], C)
        shapes["head.bias"] = (cfg["classes"],)
    else:
        shapes["lm_head.weight"] = (cfg["vocab"], C)
    return shapes


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, torch tensor already in that dtype's torch type)."""
    header, blobs, off = {}, [], 0
    for name, dtype, t in tensors:
        t = t.contiguous()
        if dtype == "BF16":
            raw = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        elif dtype == "F32":
            raw = t.to(torch.float32).numpy().tobytes()
        elif dtype == "I64":
            raw = t.to(torch.int64).numpy().tobytes()
        elif dtype == "I32":
            raw = t.to(torch.int32).numpy().tobytes()
        else:
            raise ValueError(dtype)
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def random_params(shapes, gen):
    params = {}
    for pname, shape in shapes.items():
        if pname.endswith(".alpha"):  # DyT's α around its init
            w = 0.5 + 0.1 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif pname.endswith(".bias"):
            w = 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        elif len(shape) == 1:  # norm weights around 1, so their gradients matter
            w = 1.0 + 0.2 * torch.randn(shape, generator=gen, dtype=torch.float64)
        else:
            std = 0.5 if "embed" in pname else 0.15
            w = std * torch.randn(shape, generator=gen, dtype=torch.float64)
        # round to bf16 so that the stored weights are exactly what both sides compute with
        params[pname] = w.to(torch.bfloat16).to(torch.float64).requires_grad_(True)
    return params


def make_case(name, layers, cfg, batch, seq, seed, int_dtype, final="RMSNorm", embed=()):
    gen = torch.Generator().manual_seed(seed)
    shapes = param_shapes(layers, cfg, final, embed)
    params = random_params(shapes, gen)
    V = cfg["vocab"]
    ids = torch.randint(0, V, (batch, seq), generator=gen)
    labels = torch.randint(0, V, (batch, seq), generator=gen)
    labels[0, 0] = -100
    labels[-1, seq // 2] = -100
    loss = forward(params, layers, cfg, ids, labels, final=final, embed=embed)
    loss.backward()

    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "weights.safetensors"),
                      [(n, "BF16", params[n].detach()) for n in shapes])
    write_safetensors(os.path.join(out, "batch.safetensors"),
                      [("input_ids", int_dtype, ids), ("labels", int_dtype, labels)])
    write_safetensors(os.path.join(out, "grads.safetensors"),
                      [("loss", "F32", loss.detach().reshape(1))] +
                      [(n, "F32", params[n].grad) for n in shapes])
    print(f"{name}: {len(layers)} layers, loss {loss.item():.6f}")
    return params, ids, labels


def make_vit_case(name, layers, cfg, batch, seed, final):
    """A ViT: images [B, S, S, c] (F32, bf16-representable) and a class label per image."""
    gen = torch.Generator().manual_seed(seed)
    shapes = param_shapes(layers, cfg, final)
    params = random_params(shapes, gen)
    S, c = cfg["image"], cfg["channels"]
    images = torch.rand(batch, S, S, c, generator=gen, dtype=torch.float64).to(torch.bfloat16).to(torch.float64)
    labels = torch.randint(0, cfg["classes"], (batch,), generator=gen)
    labels[-1] = -100  # an image without a label counts for nothing
    loss = vit_forward(params, layers, cfg, images, labels, final)
    loss.backward()
    out = os.path.join(HERE, name)
    os.makedirs(out, exist_ok=True)
    write_safetensors(os.path.join(out, "weights.safetensors"), [(n, "BF16", params[n].detach()) for n in shapes])
    write_safetensors(os.path.join(out, "batch.safetensors"), [("images", "F32", images), ("labels", "I32", labels)])
    write_safetensors(os.path.join(out, "grads.safetensors"),
                      [("loss", "F32", loss.detach().reshape(1))] + [(n, "F32", params[n].grad) for n in shapes])
    print(f"{name}: {len(layers)} layers, loss {loss.item():.6f}")


def write_analyses(name, layers, cfg, params, ids, labels):
    """angular.csv, layer_drop.csv and residual_rms.csv of `mixln angular` / `layer-drop` /
    `residual-rms` on the batch."""
    out = os.path.join(HERE, name)
    with torch.no_grad():
        streams = []
        base = math.exp(forward(params, layers, cfg, ids, labels, streams=streams).item())
        L = len(layers)
        flat = [s.reshape(-1, s.shape[-1]) for s in streams]
        rows = ["layer,n,distance"]
        for l in range(L):
            for n in range(1, L - l + 1):
                a, b = flat[l], flat[l + n]
                cos = (a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))
                d = torch.arccos(cos.clamp(-1, 1)) / math.pi
                rows.append(f"{l},{n},{d.mean().item():.9g}")
        with open(os.path.join(out, "angular.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
        rows = ["layer,rms"] + [f"{l},{s.pow(2).mean().sqrt().item():.9g}" for l, s in enumerate(flat)]
        with open(os.path.join(out, "residual_rms.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")
        rows = ["layer,ppl,delta"]
        for l in range(L):
            ppl = math.exp(forward(params, layers, cfg, ids, labels, drop=l).item())
            rows.append(f"{l},{ppl:.9g},{ppl - base:.9g}")
        with open(os.path.join(out, "layer_drop.csv"), "w") as f:
            f.write("\n".join(rows) + "\n")


GOLDEN = {"vocab": 64, "hidden": 32, "intermediate": 80, "heads": 2}
TINY = {"vocab": 512, "hidden": 64, "intermediate": 172, "heads": 4}
VIT = {"hidden": 32, "intermediate": 80, "heads": 2, "image": 12, "patch": 3, "channels": 3, "classes": 5}


# The reference's transcription of each example model at the golden size, 4 layers: layers and
# final norm, by placement. Which are written, and in which order (the order gives each its
# seed), comes from examples/models.txt: its rows tagged golden.
mix = lambda **kw: [layer("PostLN", **kw)] + [layer("PreLN", **kw)] * 3  # MixLN<B, 4, 1/4>
SPECS = {
    "preln": (["PreLN"] * 4, "RMSNorm"),
    "postln": (["PostLN"] * 4, "RMSNorm"),
    "mixln": (["PostLN"] * 1 + ["PreLN"] * 3, "RMSNorm"),  # MixLN<B, 4, 1/4>
    "deepnorm": (["DeepNorm"] * 4, "RMSNorm"),
    "sandwich": (["SandwichLN"] * 4, "RMSNorm"),
    "lns": (["LNS"] * 4, "RMSNorm"),
    "b2t": (["B2T"] * 4, "RMSNorm"),
    "periln": ([layer("PeriLN")] * 4, "RMSNorm"),
    "olmo2": ([layer("OLMo2", attn_norm=("qk", "full", "RMSNorm"))] * 4, "RMSNorm"),
    "hybridnorm": ([layer("HybridNorm", attn_norm=("qkv", "full", "RMSNorm"))] * 4, "RMSNorm"),
    "dyt": ([layer("PreLN", kind="DyT")] * 4, "DyT"),
    "layernorm_mixln": (mix(kind="LayerNorm"), "LayerNorm"),
    "qknorm_mixln": (mix(attn_norm=("qk", "per_head", "RMSNorm")), "RMSNorm"),
    "gelu_mixln": (mix(mlp="gelu"), "RMSNorm"),
}


def golden_models():
    """(the paper's placements and B2T, the models of docs/design.md §8.4): the placements of the
    rows of examples/models.txt tagged golden, without and with the tag models"""
    sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
    import example_models
    rows = example_models.tagged("golden")
    missing = [r["placement"] for r in rows if r["placement"] not in SPECS]
    if missing:
        sys.exit("make_golden.py: no reference spec for %s (examples/models.txt tags them golden)" % ", ".join(missing))
    return ([r["placement"] for r in rows if "models" not in r["tags"]],
            [r["placement"] for r in rows if "models" in r["tags"]])


def main():
    torch.set_num_threads(1)
    paper, since = golden_models()
    cases = [(name, SPECS[name][0]) for name in paper] + [
        ("mixed", ["PreLN"] * 2 + ["PostLN"] * 3 + ["PreLN"] * 3),  # Stack<PreLN,2,PostLN,3,PreLN,3>
        ("zoo", ["SandwichLN", "DeepNorm", "PostLN", "LNS", "B2T", "PreLN"]),
    ]
    for i, (name, layers) in enumerate(cases):
        make_case(name, layers, GOLDEN, batch=2, seq=12, seed=100 + i,
                  int_dtype="I32" if i % 2 else "I64")
    # The models of the trainers of docs/design.md §8.4, at the same small size (4 layers): the
    # tests build them from the same templates as the trainers (examples/configs.hpp).
    new_cases = [(name, SPECS[name][0], SPECS[name][1]) for name in since] + [
        # every new feature in one stack, blocks of three shapes included
        ("zoo2", [layer("HybridNorm", attn_norm=("qkv", "full", "RMSNorm")),
                  layer("PreLN", kind="DyT"),
                  layer("PostLN", kind="LayerNorm", mlp="gelu"),
                  layer("OLMo2", attn_norm=("qk", "full", "RMSNorm")),
                  layer("PeriLN", attn_norm=("qk", "per_head", "LayerNorm")),
                  layer("B2T", kind="LayerNorm")], "LayerNorm"),
        # the recipes of docs/dsl.md as their authors' code runs them: HybridNorm with q, k, v
        # normalised per head, HybridNorm* (its first block Pre-Norm), DyT's LLaMA recipe (α₀
        # per position: the weights here are drawn around 0.5 all the same); and a Pre-LN layer
        # whose two norms are of different kinds
        ("hybridnorm_head", [layer("HybridNorm", attn_norm=("qkv", "per_head", "RMSNorm"))] * 4, "RMSNorm"),
        ("hybridnorm_star", [layer("PreLN", attn_norm=("qkv", "per_head", "RMSNorm"))] +
         [layer("HybridNorm", attn_norm=("qkv", "per_head", "RMSNorm"))] * 3, "RMSNorm"),
        ("dyt_llama", [layer("PreLN", kind="DyT")] * 4, "DyT", [("EmbedScale", "embed_scale")]),
        ("periln_embnorm", [layer("PeriLN")] * 4, "RMSNorm", [("RMSNorm", "embedding_norm")]),
        ("preln_two_kinds", [layer("PreLN", kind="DyT", mlp_kind="LayerNorm"),
                             layer("PreLN", kind="LayerNorm", mlp_kind="RMSNorm")] * 2, "RMSNorm"),
    ]
    for i, (name, layers, final, *embed) in enumerate(new_cases):
        make_case(name, layers, GOLDEN, batch=2, seq=12, seed=200 + i,
                  int_dtype="I32" if i % 2 else "I64", final=final, embed=embed[0] if embed else ())
    # The tiny Mix-LN trainer (2 Post-LN + 6 Pre-LN), checked through its command line.
    tiny = ["PostLN"] * 2 + ["PreLN"] * 6
    params, ids, labels = make_case("tiny_mixln", tiny, TINY, batch=2, seq=16, seed=7, int_dtype="I64")
    write_analyses("tiny_mixln", tiny, TINY, params, ids, labels)
    # timm's ViT block (dsl/vit_block.hpp) under Pre-LN, Post-LN, Mix-LN with LayerNorm, and DyT,
    # inside the language model's ends (token embedding, LM head) at the golden size
    vit = lambda placement, kind="LayerNorm": layer(placement, kind=kind, block="vit")
    vit_cases = [
        ("vit_preln", [vit("PreLN")] * 4, "LayerNorm"),
        ("vit_postln", [vit("PostLN")] * 4, "LayerNorm"),
        ("vit_mixln", [vit("PostLN")] + [vit("PreLN")] * 3, "LayerNorm"),
        ("vit_dyt", [vit("PreLN", "DyT")] * 4, "DyT"),
    ]
    for i, (name, layers, final) in enumerate(vit_cases):
        make_case(name, layers, GOLDEN, batch=2, seq=12, seed=300 + i,
                  int_dtype="I32" if i % 2 else "I64", final=final)
    # whole ViTs (dsl/vision_ends.hpp: patches, class token, position embeddings, the class
    # head): 12×12 RGB images in 3×3 patches (16 + 1 rows), 5 classes
    for i, (name, layers, final) in enumerate(vit_cases):
        make_vit_case(name.replace("vit_", "vitc_"), layers, VIT, batch=3, seed=400 + i, final=final)

if __name__ == "__main__":
    sys.exit(main())
