"""Computes, in PyTorch, a model exported by mixln's `export-hf`, exactly as mixln does.

Every layer is a sequence of sub-layers, each a branch F — LLaMA's attention (RoPE θ from the
config, rotate_half, optional QK/QKV-norm on the projections before RoPE, per head or full
width), LLaMA's SwiGLU MLP, or a position-wise branch of the user's that the export appends to
this file (BRANCHES) — with norms around it, as
config.json's `mixln.layers` describes (x: the residual stream entering the sub-layer, x0: the
stream entering the layer, a: the layer's residual scale, c: its pre-norm scale):

    h = c · N_pre(x)          (h = x when the sub-layer has no pre norms)
    g = N_branch(F(h))
    x = N_post(a · x + g (+ x0 for the sub-layer that takes the layer's input))

each N a chain of zero or more norms — RMSNorm, LayerNorm (biased variance), DyT
(w · tanh(α·x) + b) or a kind the export appends (NORMS) — applied in the order listed. Then
the final norm and an untied lm_head.
Weights keep mixln's (Hugging Face Llama's) names.

With transformers installed (4.40 .. 5.x) this is remote code:
    AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True), then .generate()
with a DynamicCache. Without transformers the same file runs on plain torch:
    sys.path.insert(0, dir); import modeling_mixln
    model = modeling_mixln.MixlnForCausalLM.from_pretrained(dir)
with a greedy / sampling `generate` of its own.
"""
import importlib
import json
import math
import os

import torch
import torch.nn.functional as F
from torch import nn

try:  # loaded by transformers as a package: transformers_modules.<dir>.modeling_mixln
    from .configuration_mixln import MixlnConfig
except ImportError:  # a top-level import; no import statement here (transformers <= 4.50 scans except bodies)
    MixlnConfig = importlib.import_module("configuration_mixln").MixlnConfig

try:
    from transformers import GenerationMixin, PreTrainedModel
    from transformers.cache_utils import DynamicCache
    from transformers.modeling_outputs import BaseModelOutputWithPast, CausalLMOutputWithPast
    HAS_TRANSFORMERS = True
except ImportError:
    HAS_TRANSFORMERS = False

if not HAS_TRANSFORMERS:  # ---- what transformers would provide, for plain torch ----

    class DynamicCache(object):
        """Keys and values of every attention sub-layer, grown as tokens are generated."""

        def __init__(self, *args, **kwargs):
            self.kv = []

        def update(self, k, v, layer_idx, cache_kwargs=None):
            if len(self.kv) <= layer_idx:
                self.kv.append((k, v))
            else:
                self.kv[layer_idx] = tuple(torch.cat([o, n], dim=-2) for o, n in zip(self.kv[layer_idx], (k, v)))
            return self.kv[layer_idx]

        def get_seq_length(self, layer_idx=0):
            return self.kv[layer_idx][0].shape[-2] if len(self.kv) > layer_idx else 0

    class BaseModelOutputWithPast(dict):  # attribute and key access, as ModelOutput
        __getattr__ = dict.get

    CausalLMOutputWithPast = BaseModelOutputWithPast

    _DTYPES = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "F64": torch.float64,
               "I64": torch.int64, "I32": torch.int32}

    def _load_state_dict(path):
        """The tensors of a folder's safetensors files (single or sharded), without the safetensors package."""
        index = os.path.join(path, "model.safetensors.index.json")
        if os.path.exists(index):
            with open(index, encoding="utf-8") as f:
                files = sorted(set(json.load(f)["weight_map"].values()))
        else:
            files = ["model.safetensors"]
        state = {}
        for name in files:
            with open(os.path.join(path, name), "rb") as f:
                header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
                data = bytearray(f.read())
            for key, info in header.items():
                if key == "__metadata__":
                    continue
                (begin, end), dtype = info["data_offsets"], _DTYPES[info["dtype"]]
                t = torch.frombuffer(data[begin:end], dtype=dtype) if end > begin else torch.empty(0, dtype=dtype)
                state[key] = t.reshape(info["shape"]).clone()
        return state

    class GenerationMixin(object):
        @torch.no_grad()
        def generate(self, input_ids, attention_mask=None, max_new_tokens=20, do_sample=False, temperature=1.0,
                     top_k=0, eos_token_id=None, generator=None, **kwargs):
            """Greedy (or top-k sampled) continuation with the KV cache; stops at eos for every row."""
            eos = self.config.eos_token_id if eos_token_id is None else eos_token_id
            past, done = None, torch.zeros(input_ids.shape[0], dtype=torch.bool)
            for _ in range(max_new_tokens):
                inputs = self.prepare_inputs_for_generation(input_ids, past_key_values=past,
                                                            attention_mask=attention_mask)
                out = self(**inputs, return_dict=True)
                past, logits = out.past_key_values, out.logits[:, -1].float()
                if do_sample:
                    logits = logits / max(temperature, 1e-6)
                    if top_k:
                        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
                        logits = logits.masked_fill(logits < kth, float("-inf"))
                    nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
                else:
                    nxt = logits.argmax(-1, keepdim=True)
                if eos is not None:
                    nxt = nxt.masked_fill(done[:, None], eos)
                    done = done | (nxt[:, 0] == eos)
                input_ids = torch.cat([input_ids, nxt], dim=-1)
                if attention_mask is not None:
                    attention_mask = torch.cat([attention_mask, torch.ones_like(nxt)], dim=-1)
                if bool(done.all()):
                    break
            return input_ids

    class PreTrainedModel(nn.Module):
        def __init__(self, config, *args, **kwargs):
            super().__init__()
            self.config = config

        def post_init(self):
            self.apply(self._init_weights)

        @classmethod
        def from_pretrained(cls, path, config=None, torch_dtype=None, dtype=None, **kwargs):
            model = cls(config if config is not None else cls.config_class.from_pretrained(path))
            model.load_state_dict(_load_state_dict(path), strict=True)
            dt = dtype or torch_dtype
            dt = getattr(torch, dt) if isinstance(dt, str) and dt != "auto" else dt
            return (model.to(dt) if isinstance(dt, torch.dtype) else model).eval()


# ---------------- norms ----------------
class MixlnRMSNorm(nn.Module):
    """y = x / sqrt(mean(x^2) + eps) * w, statistics in float32."""

    def __init__(self, size, eps):
        super().__init__()
        self.weight, self.eps = nn.Parameter(torch.ones(size)), eps

    def forward(self, x):
        h = x.float()
        return (h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight.float()).to(x.dtype)


class MixlnLayerNorm(nn.Module):
    """y = (x - mean) / sqrt(var + eps) * w + b, biased variance, statistics in float32."""

    def __init__(self, size, eps):
        super().__init__()
        self.weight, self.bias, self.eps = nn.Parameter(torch.ones(size)), nn.Parameter(torch.zeros(size)), eps

    def forward(self, x):
        return F.layer_norm(x.float(), x.shape[-1:], self.weight.float(), self.bias.float(), self.eps).to(x.dtype)


class MixlnDyT(nn.Module):
    """Dynamic Tanh: y = w * tanh(alpha * x) + b, alpha one learned scalar."""

    def __init__(self, size):
        super().__init__()
        self.alpha = nn.Parameter(torch.full((1,), 0.5))
        self.weight, self.bias = nn.Parameter(torch.ones(size)), nn.Parameter(torch.zeros(size))

    def forward(self, x):
        h = x.float()
        return (self.weight.float() * torch.tanh(self.alpha.float() * h) + self.bias.float()).to(x.dtype)


class MixlnScale(nn.Module):
    """y = s * x, s one learned scalar, initialised to sqrt(size) (DyT's embedding scalar)."""

    def __init__(self, size):
        super().__init__()
        self.init_value = float(size) ** 0.5
        self.scale = nn.Parameter(torch.full((1,), self.init_value))

    def forward(self, x):
        return (self.scale.float() * x.float()).to(x.dtype)


def _norm_eps(config, kind, default):
    return config.mixln.get("norm_eps", {}).get(kind, default)


# Norm kinds by name, each built as NORMS[kind](size, config). A kind of the user's is appended
# below by the export, with its registration (mixln's `hf_module` trait of the kind's type).
NORMS = {
    "RMSNorm": lambda size, config: MixlnRMSNorm(size, _norm_eps(config, "RMSNorm", config.rms_norm_eps)),
    "LayerNorm": lambda size, config: MixlnLayerNorm(size, _norm_eps(config, "LayerNorm", 1e-5)),
    "DyT": lambda size, config: MixlnDyT(size),
    "EmbedScale": lambda size, config: MixlnScale(size),
}


def make_norm(kind, size, config):
    if kind not in NORMS:
        raise ValueError("modeling_mixln: unknown norm kind '%s' (%s)" % (kind, ", ".join(sorted(NORMS))))
    return NORMS[kind](size, config)


# ---------------- branches ----------------
def _rope(q, k, position_ids, theta):
    """rotate_half RoPE of q, k [B, H, T, D] at positions [B, T], computed on the fly (no buffer:
    transformers 5.x builds models on the meta device and leaves buffers uninitialised)."""
    d = q.shape[-1]
    inv_freq = 1.0 / (theta ** (torch.arange(0, d, 2, device=q.device, dtype=torch.float32) / d))
    ang = position_ids[:, :, None].float() * inv_freq  # [B, T, D/2]
    emb = torch.cat((ang, ang), dim=-1)[:, None]  # [B, 1, T, D]
    cos, sin = emb.cos().to(q.dtype), emb.sin().to(q.dtype)

    def rotate_half(x):
        return torch.cat((-x[..., d // 2:], x[..., : d // 2]), dim=-1)

    return q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin


class MixlnAttention(nn.Module):
    def __init__(self, config, attention_norm, cache_idx):
        super().__init__()
        c = config.hidden_size
        self.nh, self.hd, self.theta, self.cache_idx = config.num_attention_heads, config.head_dim, config.rope_theta, cache_idx
        self.q_proj = nn.Linear(c, self.nh * self.hd, bias=False)
        self.k_proj = nn.Linear(c, self.nh * self.hd, bias=False)
        self.v_proj = nn.Linear(c, self.nh * self.hd, bias=False)
        self.o_proj = nn.Linear(self.nh * self.hd, c, bias=False)
        self.normed, self.per_head = (), False
        if attention_norm:
            self.per_head = attention_norm["scope"] == "per_head"
            size = self.hd if self.per_head else c
            self.normed = ("q", "k", "v") if attention_norm["norms"] == "qkv" else ("q", "k")
            for which in self.normed:
                self.add_module(which + "_norm", make_norm(attention_norm["kind"], size, config))

    def _project(self, which, x):
        b, t, _ = x.shape
        y = getattr(self, which + "_proj")(x)
        if which in self.normed:  # before RoPE
            norm = getattr(self, which + "_norm")
            y = norm(y.view(b, t, self.nh, self.hd)).reshape(b, t, -1) if self.per_head else norm(y)
        return y.view(b, t, self.nh, self.hd).transpose(1, 2)

    def forward(self, x, position_ids, mask, cache):
        b, t, _ = x.shape
        q, k, v = self._project("q", x), self._project("k", x), self._project("v", x)
        q, k = _rope(q, k, position_ids, self.theta)
        if cache is not None:
            k, v = cache.update(k, v, self.cache_idx)  # all keys and values, the new ones included
        scores = (q.float() @ k.float().transpose(-1, -2)) / math.sqrt(self.hd) + mask
        probs = torch.softmax(scores, dim=-1).to(v.dtype)
        return self.o_proj((probs @ v).transpose(1, 2).reshape(b, t, -1))


class MixlnSwiGLU(nn.Module):
    def __init__(self, config):
        super().__init__()
        c, i = config.hidden_size, config.intermediate_size
        self.gate_proj, self.up_proj, self.down_proj = nn.Linear(c, i, bias=False), nn.Linear(c, i, bias=False), nn.Linear(i, c, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


# Position-wise branches (the MLPs) by name, each built as BRANCHES[name](config), stored as the
# layer's `mlp` and called as mlp(x). A branch of the user's is appended below by the export.
BRANCHES = {"swiglu_mlp": MixlnSwiGLU}


# ---------------- layers and the model ----------------
class MixlnDecoderLayer(nn.Module):
    def __init__(self, config, desc, cache_start):
        super().__init__()
        self.kinds = [b["name"] for b in desc["branches"]]
        cache_idx = cache_start
        for b in desc["branches"]:
            if b["name"] == "attention":
                self.self_attn = MixlnAttention(config, b.get("attention_norm"), cache_idx)
                cache_idx += 1
            elif b["name"] in BRANCHES:
                self.mlp = BRANCHES[b["name"]](config)
            else:
                raise ValueError("modeling_mixln: unknown branch '%s' (attention, %s)" % (b["name"], ", ".join(sorted(BRANCHES))))
        self.attention_sublayers = cache_idx - cache_start
        self.chains = [{"pre": [], "branch": [], "post": []} for _ in self.kinds]
        for n in desc["norms"]:  # in order of application within each role
            self.add_module(n["name"], make_norm(n["kind"], config.hidden_size, config))
            self.chains[n["sublayer"]][n["role"]].append(n["name"])
        self.a, self.c = float(desc.get("residual_scale", 1.0)), float(desc.get("pre_scale", 1.0))
        self.skip = desc.get("skip_from_layer_input")

    def forward(self, x, position_ids, mask, cache):
        x_in = x
        for b, kind in enumerate(self.kinds):
            chain = self.chains[b]
            h = x
            if chain["pre"]:
                for name in chain["pre"]:
                    h = getattr(self, name)(h)
                if self.c != 1.0:
                    h = h * self.c
            f = self.self_attn(h, position_ids, mask, cache) if kind == "attention" else self.mlp(h)
            for name in chain["branch"]:
                f = getattr(self, name)(f)
            s = f + (x if self.a == 1.0 else self.a * x)
            if self.skip == b:
                s = s + x_in
            for name in chain["post"]:
                s = getattr(self, name)(s)
            x = s
        return x


class MixlnPreTrainedModel(PreTrainedModel):
    config_class = MixlnConfig
    base_model_prefix = "model"
    supports_gradient_checkpointing = False
    _no_split_modules = ["MixlnDecoderLayer"]
    _skip_keys_device_placement = ["past_key_values"]
    _supports_cache_class = True  # 4.40-4.53: generate() may hand the model a DynamicCache

    def _init_weights(self, module):
        # nn.init.* only (5.x guards them), and never over a loaded parameter (5.x re-runs this after loading).
        std = getattr(self.config, "initializer_range", 0.02)
        for name, p in module.named_parameters(recurse=False):
            if getattr(p, "_is_hf_initialized", False):
                continue
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(p, mean=0.0, std=std)
            elif name == "alpha":
                nn.init.constant_(p, 0.5)
            elif name == "scale":
                nn.init.constant_(p, module.init_value)
            elif name == "bias":
                nn.init.zeros_(p)
            else:
                nn.init.ones_(p)


class MixlnModel(MixlnPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        # the embedding output's norms, each an attribute named as mixln names it (model.<name>.*)
        self.embedding_norms = [n["name"] for n in config.mixln.get("embedding_norms", [])]
        for n in config.mixln.get("embedding_norms", []):
            setattr(self, n["name"], make_norm(n["kind"], config.hidden_size, config))
        layers, cache_idx = [], 0
        for desc in config.mixln["layers"]:
            layers.append(MixlnDecoderLayer(config, desc, cache_idx))
            cache_idx += layers[-1].attention_sublayers  # dense cache slots (<= 4.45 cannot skip indices)
        self.layers = nn.ModuleList(layers)
        self.norm = make_norm(config.mixln.get("final_norm", "RMSNorm"), config.hidden_size, config)
        self.post_init()

    def get_input_embeddings(self):
        return self.embed_tokens

    def set_input_embeddings(self, value):
        self.embed_tokens = value

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                inputs_embeds=None, use_cache=None, **kwargs):
        use_cache = use_cache if use_cache is not None else getattr(self.config, "use_cache", True)
        h = inputs_embeds if inputs_embeds is not None else self.embed_tokens(input_ids)
        for name in self.embedding_norms:
            h = getattr(self, name)(h)
        b, t = h.shape[:2]
        if use_cache and past_key_values is None:
            past_key_values = DynamicCache()  # 5.x generate() leaves creating it to the model
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        total = past + t
        allowed = torch.arange(total, device=h.device)[None] <= torch.arange(past, total, device=h.device)[:, None]
        allowed = allowed[None, None]  # [1, 1, t, total]: causal
        if attention_mask is not None:  # [b, total]: 1 = token, 0 = padding
            allowed = allowed & attention_mask[:, None, None, -total:].bool()
            if position_ids is None:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -t:]
        if position_ids is None:
            position_ids = torch.arange(past, total, device=h.device)[None].expand(b, -1)
        # finfo.min, not -inf: a padded query row with no visible key stays finite
        mask = torch.zeros(allowed.shape, dtype=torch.float32, device=h.device).masked_fill(
            ~allowed, torch.finfo(torch.float32).min)
        for layer in self.layers:
            h = layer(h, position_ids, mask, past_key_values if use_cache else None)
        return BaseModelOutputWithPast(last_hidden_state=self.norm(h), past_key_values=past_key_values)


class MixlnForCausalLM(MixlnPreTrainedModel, GenerationMixin):  # GenerationMixin explicitly (needed from 4.52)
    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}  # inert: tie_word_embeddings is False

    def __init__(self, config):
        super().__init__(config)
        self.model = MixlnModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)
        self.post_init()

    def get_input_embeddings(self):
        return self.model.embed_tokens

    def set_input_embeddings(self, value):
        self.model.embed_tokens = value

    def get_output_embeddings(self):
        return self.lm_head

    def set_output_embeddings(self, value):
        self.lm_head = value

    def forward(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None,
                inputs_embeds=None, labels=None, use_cache=None, return_dict=None, logits_to_keep=0, **kwargs):
        """labels follow transformers: the targets of input_ids, shifted inside (mixln's own batch
        files hold labels already shifted)."""
        keep = kwargs.pop("num_logits_to_keep", None) or logits_to_keep  # 4.45-4.48 spell it so
        out = self.model(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                         past_key_values=past_key_values, inputs_embeds=inputs_embeds, use_cache=use_cache)
        h = out.last_hidden_state
        logits = self.lm_head(h[:, -keep:] if isinstance(keep, int) and keep > 0 else h)
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits[:, :-1].float().flatten(0, 1), labels[:, 1:].flatten().to(logits.device),
                                   ignore_index=-100)
        use = use_cache if use_cache is not None else getattr(self.config, "use_cache", True)
        past = out.past_key_values if use else None
        if return_dict is False:
            return tuple(v for v in (loss, logits, past) if v is not None)
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=past)

    def prepare_inputs_for_generation(self, input_ids, past_key_values=None, attention_mask=None,
                                      inputs_embeds=None, **kwargs):
        # Our own: the inherited one raises (<= 4.45), needs cache_position (4.46-5.3) or changes (5.x).
        past = past_key_values.get_seq_length() if past_key_values is not None else 0
        if past > 0:  # only the tokens not yet in the cache
            n_new = (attention_mask.shape[-1] if attention_mask is not None else input_ids.shape[1]) - past
            if 0 < n_new < input_ids.shape[1]:
                input_ids = input_ids[:, -n_new:]
            inputs_embeds = None
        position_ids = kwargs.pop("position_ids", None)
        if position_ids is None and attention_mask is not None:
            position_ids = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 1)
        n_cur = inputs_embeds.shape[1] if inputs_embeds is not None else input_ids.shape[1]
        for key in ("cache_position", "is_first_iteration", "return_dict"):
            kwargs.pop(key, None)
        inputs = {"input_ids": None if inputs_embeds is not None else input_ids, "inputs_embeds": inputs_embeds,
                  "past_key_values": past_key_values, "attention_mask": attention_mask,
                  "position_ids": None if position_ids is None else position_ids[:, -n_cur:],
                  "use_cache": kwargs.pop("use_cache", True)}
        inputs.update(kwargs)
        return inputs


if HAS_TRANSFORMERS:  # save_pretrained() then copies both files and writes auto_map (4.45-4.52 would not)
    MixlnConfig.register_for_auto_class()
    MixlnForCausalLM.register_for_auto_class("AutoModelForCausalLM")
