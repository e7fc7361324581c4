"""Configuration of a model exported by mixln's `export-hf` (https://github.com/.../mixln).

The dimensions are Llama's fields; `mixln` describes every layer: its sub-layers in order
(an attention branch with an optional QK/QKV-norm, or an MLP), the norms around
each (role pre / branch / post, name, kind RMSNorm / LayerNorm / DyT), the residual and pre-norm
scales, and the sub-layer whose sum takes the layer's input. modeling_mixln.py computes it.
Works with transformers 4.40 .. 5.x, and without transformers (a plain attribute bag).
"""
import json
import os

try:  # every version exports PretrainedConfig (5.x keeps it as an alias of PreTrainedConfig)
    from transformers import PretrainedConfig as _ConfigBase
except ImportError:
    _ConfigBase = None

if _ConfigBase is None:

    class _ConfigBase(object):
        """What modeling_mixln.py needs of a config when transformers is absent."""

        model_type = ""

        def __init__(self, **kwargs):
            for key, value in kwargs.items():
                setattr(self, key, value)

        @classmethod
        def from_dict(cls, config_dict, **kwargs):
            merged = dict(config_dict)
            merged.update(kwargs)
            return cls(**merged)

        @classmethod
        def from_pretrained(cls, path, **kwargs):
            with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
                return cls.from_dict(json.load(f), **kwargs)

        def to_dict(self):
            out = {k: v for k, v in self.__dict__.items() if not k.startswith("_")}
            out["model_type"] = self.model_type
            return out


class MixlnConfig(_ConfigBase):
    # No type annotations on class attributes: transformers 5.x turns config subclasses into
    # dataclasses, and an annotated attribute would become a field.
    model_type = "mixln"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(self, vocab_size=32000, hidden_size=512, intermediate_size=1368, num_hidden_layers=2,
                 num_attention_heads=8, num_key_value_heads=None, head_dim=None, max_position_embeddings=2048,
                 rms_norm_eps=1e-6, rope_theta=10000.0, initializer_range=0.02, use_cache=True, mixln=None,
                 bos_token_id=1, eos_token_id=2, pad_token_id=None, tie_word_embeddings=False, **kwargs):
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads or num_attention_heads
        self.head_dim = head_dim or hidden_size // num_attention_heads
        self.max_position_embeddings = max_position_embeddings
        self.rms_norm_eps = rms_norm_eps
        self.rope_theta = rope_theta  # a plain attribute: 5.x rewrites rope_scaling/rope_parameters
        self.initializer_range = initializer_range
        self.use_cache = use_cache
        if mixln is None:  # a Pre-LN RMSNorm LLaMA, so that MixlnConfig() is a valid config
            pre = lambda name: {"sublayer": 0, "role": "pre", "name": name, "kind": "RMSNorm"}  # noqa: E731
            layer = {"placement": "PreLN", "block": "llama",
                     "branches": [{"name": "attention", "attention_norm": None}, {"name": "swiglu_mlp"}],
                     "norms": [pre("input_layernorm"), dict(pre("post_attention_layernorm"), sublayer=1)],
                     "residual_scale": 1.0, "pre_scale": 1.0}
            mixln = {"layers": [layer] * num_hidden_layers, "final_norm": "RMSNorm",
                     "norm_eps": {"RMSNorm": 1e-6, "LayerNorm": 1e-5}}
        self.mixln = mixln  # not `layer_types` / `per_layer_config`: transformers interprets those
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
        # Newer 5.x bases no longer declare these: set them so they exist in every version.
        self.tie_word_embeddings = tie_word_embeddings
        self.bos_token_id, self.eos_token_id, self.pad_token_id = bos_token_id, eos_token_id, pad_token_id
