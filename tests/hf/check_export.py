#!/usr/bin/env python3
"""The Hugging Face round trip of every tiny trainer, through the modeling_mixln.py it exports.

For each model: `export-hf` (F32), then the exported folder is loaded — through transformers'
AutoModelForCausalLM (trust_remote_code=True) where transformers is installed, else through
modeling_mixln.py on plain torch — and its logits on a batch are compared with mixln's own
(`logits` subcommand) within 1e-4 relative; a greedy continuation with the KV cache must equal
the one recomputed without it. Then the exported weights are imported back (`grads --weights
DIR`) and must give the same loss and gradients bit for bit; a sharded export (a small
--max-shard-size) loads in both directions. Prints which path ran.

usage: check_export.py BIN_DIR WORK_DIR        (exit 77: no torch here, skipped)
"""
import filecmp
import json
import os
import shutil
import subprocess
import sys

try:
    import torch
except ImportError:
    print("skipped: PyTorch is not installed (Debian: python3-torch)")
    sys.exit(77)

BIN, WORK = sys.argv[1], sys.argv[2]
HERE = os.path.dirname(os.path.abspath(__file__))
BATCH = os.path.join(HERE, "..", "golden", "tiny_mixln", "batch.safetensors")
sys.path.insert(0, os.path.join(HERE, "..", "..", "examples"))
import example_models  # noqa: E402
# the trainers of examples/models.txt tagged hf, by placement
MODELS = {r["placement"]: r["trainer"] for r in example_models.tagged("hf")}

try:
    import transformers  # noqa: F401
    from transformers import AutoModelForCausalLM
    PATH = "transformers %s, AutoModelForCausalLM(trust_remote_code=True)" % transformers.__version__
except ImportError:
    AutoModelForCausalLM = None
    PATH = "plain torch %s through modeling_mixln.py (transformers is not installed)" % torch.__version__


def fail(msg):
    print("FAIL: " + msg)
    sys.exit(1)


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode != 0:
        fail("%s exited %d: %s" % (" ".join(args), r.returncode, r.stderr.strip()))
    return r.stdout


def read_safetensors(path):
    dtypes = {"F32": torch.float32, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}
    with open(path, "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        data = bytearray(f.read())
    out = {}
    for k, v in header.items():
        if k != "__metadata__":
            b, e = v["data_offsets"]
            out[k] = torch.frombuffer(data[b:e], dtype=dtypes[v["dtype"]]).reshape(v["shape"]).clone()
    return out


def load_exported(folder):
    """The exported model, by transformers where installed, else by its own modeling_mixln.py."""
    if AutoModelForCausalLM is not None:
        return AutoModelForCausalLM.from_pretrained(folder, trust_remote_code=True, torch_dtype=torch.float32).eval()
    code = os.path.join(folder, "modeling_mixln.py")
    if not os.path.exists(code):  # a plain Llama export: computed by the same code, from its description
        shutil.copy(os.path.join(WORK, "code", "modeling_mixln.py"), folder)
        shutil.copy(os.path.join(WORK, "code", "configuration_mixln.py"), folder)
    for name in ("modeling_mixln", "configuration_mixln"):
        sys.modules.pop(name, None)
    sys.path.insert(0, folder)
    try:
        import modeling_mixln
        return modeling_mixln.MixlnForCausalLM.from_pretrained(folder).eval()
    finally:
        sys.path.remove(folder)


def greedy(model, ids, n, cache):
    """n greedy tokens, with the KV cache or recomputing every prefix."""
    if cache:
        return model.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=n, do_sample=False,
                              eos_token_id=None, pad_token_id=0)[:, ids.shape[1]:]
    out = ids
    for _ in range(n):
        logits = model(input_ids=out, use_cache=False).logits
        out = torch.cat([out, logits[:, -1:].argmax(-1)], dim=-1)
    return out[:, ids.shape[1]:]


def check_tokenizer(ids):
    """The exported tokenizer encodes a document as mixln-prepare did (its ids in val.bin)."""
    texts = sorted(os.path.join("/usr/share/common-licenses", f) for f in os.listdir("/usr/share/common-licenses")
                   if os.path.isfile(os.path.join("/usr/share/common-licenses", f))
                   and not os.path.islink(os.path.join("/usr/share/common-licenses", f)))
    data, folder = os.path.join(WORK, "data"), os.path.join(WORK, "with_tokenizer")
    run(os.path.join(BIN, "mixln-prepare"), "--text", *texts, "--vocab", "512", "--out", data, "--val-frac", "0.2")
    run(os.path.join(BIN, "tiny_mixln"), "export-hf", "--seed", "1", "--out", folder, "--data", data)
    for f in ("tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"):
        if not os.path.exists(os.path.join(folder, f)):
            fail("the export with --data lacks " + f)
    tc = json.load(open(os.path.join(folder, "tokenizer_config.json")))
    if (tc["tokenizer_class"], tc["bos_token"], tc["eos_token"], tc["unk_token"], tc["add_bos_token"]) != \
            ("LlamaTokenizer", "<s>", "</s>", "<unk>", False):
        fail("tokenizer_config.json does not state mixln-prepare's tokens: %s" % tc)
    side = json.load(open(os.path.join(data, "val.bin.json")))
    first = open(side["source"][0], encoding="utf-8").read()
    with open(os.path.join(data, "val.bin"), "rb") as f:
        stream = torch.frombuffer(bytearray(f.read()), dtype=torch.int16).long() & 0xFFFF
    want = stream[: (stream == 2).nonzero()[0, 0]].tolist()  # the first document, before its </s>
    try:
        if AutoModelForCausalLM is not None:
            from transformers import AutoTokenizer
            tok = AutoTokenizer.from_pretrained(folder, use_fast=False)
            got, how = tok.encode(first, add_special_tokens=False), "transformers' LlamaTokenizer"
            if (tok.bos_token_id, tok.eos_token_id, tok.unk_token_id) != (1, 2, 0):
                fail("LlamaTokenizer reads other special ids: %s" % [tok.bos_token_id, tok.eos_token_id, tok.unk_token_id])
        else:
            import sentencepiece
            sp = sentencepiece.SentencePieceProcessor(model_file=os.path.join(folder, "tokenizer.model"))
            got, how = sp.encode(first), "sentencepiece"
    except ImportError as e:
        print("tokenizer: files present; not encoded (%s)" % e)
        return
    if got != want:
        fail("the exported tokenizer encodes the first validation document otherwise than mixln-prepare did")
    print("tokenizer: %s encodes a %d-token document exactly as mixln-prepare did" % (how, len(want)))


def main():
    shutil.rmtree(WORK, ignore_errors=True)
    os.makedirs(WORK)
    print("path: " + PATH)
    batch = read_safetensors(BATCH)
    ids = batch["input_ids"].long()
    # the code of a mixln export, kept to compute the plain Llama exports without transformers
    run(os.path.join(BIN, "tiny_mixln"), "export-hf", "--seed", "1", "--out", os.path.join(WORK, "code"))
    worst = 0.0
    for i, m in enumerate(MODELS):
        trainer = os.path.join(BIN, MODELS[m])
        folder = os.path.join(WORK, m)
        run(trainer, "export-hf", "--seed", str(10 + i), "--out", folder)
        cfg = json.load(open(os.path.join(folder, "config.json")))
        llama = cfg["model_type"] == "llama"
        if llama != (m == "preln"):
            fail("%s exported as model_type %s" % (m, cfg["model_type"]))
        if not llama and (cfg["architectures"] != ["MixlnForCausalLM"] or "auto_map" not in cfg):
            fail("%s: config.json lacks MixlnForCausalLM or its auto_map" % m)
        ref_path = os.path.join(WORK, m + "_logits.safetensors")
        run(trainer, "logits", "--seed", str(10 + i), "--batch", BATCH, "--out", ref_path)
        ref = read_safetensors(ref_path)["logits"]
        model = load_exported(folder)
        with torch.no_grad():
            logits = model(input_ids=ids, use_cache=False).logits.float()
            rel = ((logits - ref).norm() / ref.norm()).item()
            a = greedy(model, ids[:, :6], 5, cache=True)
            b = greedy(model, ids[:, :6], 5, cache=False)
        worst = max(worst, rel)
        if not rel <= 1e-4:
            fail("%s: logits differ from mixln's by %.3g relative" % (m, rel))
        if not torch.equal(a, b):
            fail("%s: generation with the KV cache differs from recomputation: %s vs %s" % (m, a.tolist(), b.tolist()))
        # import: the exported folder is the same network, bit for bit
        g1, g2 = os.path.join(WORK, m + "_g1.safetensors"), os.path.join(WORK, m + "_g2.safetensors")
        run(trainer, "grads", "--seed", str(10 + i), "--batch", BATCH, "--out", g1)
        run(trainer, "grads", "--weights", folder, "--batch", BATCH, "--out", g2)
        if not filecmp.cmp(g1, g2, shallow=False):
            fail("%s: gradients after export + import differ from the original's" % m)
        print("%-16s %s  logits rel %.2e, cached generation = recomputed, import bitwise" %
              (m, "llama" if llama else "mixln", rel))
    # a sharded export loads in both directions
    sharded = os.path.join(WORK, "sharded")
    run(os.path.join(BIN, "tiny_mixln"), "export-hf", "--seed", "5", "--out", sharded, "--max-shard-size", "400000")
    files = sorted(os.listdir(sharded))
    shards = [f for f in files if f.startswith("model-") and f.endswith(".safetensors")]
    if len(shards) < 3 or "model.safetensors.index.json" not in files or "model.safetensors" in files:
        fail("a 400 kB shard size should give several shards and an index: %s" % files)
    index = json.load(open(os.path.join(sharded, "model.safetensors.index.json")))
    run(os.path.join(BIN, "tiny_mixln"), "grads", "--weights", sharded, "--batch", BATCH,
        "--out", os.path.join(WORK, "sharded_g.safetensors"))
    run(os.path.join(BIN, "tiny_mixln"), "grads", "--seed", "5", "--batch", BATCH,
        "--out", os.path.join(WORK, "sharded_ref.safetensors"))
    if not filecmp.cmp(os.path.join(WORK, "sharded_g.safetensors"), os.path.join(WORK, "sharded_ref.safetensors"),
                       shallow=False):
        fail("a sharded export does not import back to the same network")
    model = load_exported(sharded)
    with torch.no_grad():
        logits = model(input_ids=ids, use_cache=False).logits.float()
    ref_path = os.path.join(WORK, "sharded_logits.safetensors")
    run(os.path.join(BIN, "tiny_mixln"), "logits", "--seed", "5", "--batch", BATCH, "--out", ref_path)
    ref = read_safetensors(ref_path)["logits"]
    if not ((logits - ref).norm() / ref.norm()).item() <= 1e-4:
        fail("the sharded export computes other logits")
    if set(index["weight_map"].values()) != set(shards):
        fail("the index names other files than the shards")
    with open(os.path.join(WORK, "mixln", "model.safetensors"), "rb") as f:
        header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
    if header.get("__metadata__", {}).get("format") != "pt":
        fail("model.safetensors lacks __metadata__ {format: pt}")
    print("sharded: %d shards + index, imported bitwise, logits equal" % len(shards))
    check_tokenizer(ids)
    print("all %d exports compute mixln's network (worst logits rel %.2e) via %s" % (len(MODELS), worst, PATH))


if __name__ == "__main__":
    main()
