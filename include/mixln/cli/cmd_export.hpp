// mixln/cli/cmd_export.hpp — `export-hf`: a Hugging Face folder (docs/design.md §4.5).
//
//   DIR/config.json               Llama's fields + "mixln": every layer described (io/hf_config.hpp)
//   DIR/model.safetensors         parameters under Hugging Face Llama names (sharded with an
//                                 index above --max-shard-size, io/hf_weights.hpp)
//   DIR/generation_config.json    <s> 1, </s> 2
//   DIR/configuration_mixln.py,   the remote code that computes a model Llama cannot
//   DIR/modeling_mixln.py         (io/hf_python.hpp)
//   DIR/tokenizer.model, tokenizer_config.json, special_tokens_map.json   with --data
//
// A pure Pre-LN RMSNorm stack of plain LLaMA blocks is exactly Hugging Face's Llama and loads in
// LlamaForCausalLM. Any other model is `model_type: mixln`, `MixlnForCausalLM`, with an
// auto_map to the two Python files, so that transformers computes exactly mixln's network
// (`trust_remote_code=True`) and nothing loads it silently as a Llama that computes something
// else; a model outside what the Python code knows is refused.
#pragma once

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../io/atomic_file.hpp"
#include "../io/hf_config.hpp"
#include "../io/hf_python.hpp"
#include "../io/hf_weights.hpp"
#include "../io/model_description.hpp"
#include "../io/model_io.hpp"
#include "../train/trainer.hpp"
#include "args.hpp"
#include "engine_select.hpp"
#include "model_source.hpp"

namespace mixln::cli {

inline std::vector<Option> export_options() {
  auto o = model_options();
  o.push_back({"out", true, "DIR: the Hugging Face folder to write"});
  o.push_back({"data", true, "DIR: also write its tokenizer (tokenizer.model and the files LlamaTokenizer loads)"});
  o.push_back({"dtype", true, "float32 or bfloat16 (float32)"});
  o.push_back({"max-position", true, "N: max_position_embeddings (the run's --seq, or 2048)"});
  o.push_back({"max-shard-size", true, "BYTES: above it the weights are sharded as transformers does (5000000000)"});
  return o;
}

// Whether the layers are Llama's but for a pre-norm scale (LNS).
inline bool pre_scale_only_difference(const nlohmann::ordered_json& layers) {
  nlohmann::ordered_json copy = layers;
  for (auto& l : copy) l["pre_scale"] = 1.0;
  return hf_llama_compatible(copy, "RMSNorm");
}

// The tokenizer files transformers' LlamaTokenizer (and LlamaTokenizerFast, which converts
// from the same tokenizer.model) loads, with mixln-prepare's special tokens: <unk> 0, <s> 1,
// </s> 2, no padding token, nothing added around encoded text, and `legacy: true` so that text
// is encoded exactly as SentencePiece (and mixln-prepare) encodes it.
inline void write_hf_tokenizer(const std::string& model, const std::string& out, int max_pos) {
  namespace fs = std::filesystem;
  fs::copy_file(model, fs::path(out) / "tokenizer.model", fs::copy_options::overwrite_existing);
  const nlohmann::ordered_json tc = {{"tokenizer_class", "LlamaTokenizer"},
                                     {"bos_token", "<s>"},
                                     {"eos_token", "</s>"},
                                     {"unk_token", "<unk>"},
                                     {"pad_token", nullptr},
                                     {"add_bos_token", false},
                                     {"add_eos_token", false},
                                     {"clean_up_tokenization_spaces", false},
                                     // legacy: SentencePiece's own encoding (its dummy prefix, as
                                     // mixln-prepare encoded); the non-legacy path rewrites the model
                                     {"legacy", true},
                                     {"sp_model_kwargs", nlohmann::ordered_json::object()},
                                     {"model_max_length", max_pos}};
  write_file_atomic((fs::path(out) / "tokenizer_config.json").string(), tc.dump(2) + "\n");
  const nlohmann::ordered_json sp = {{"bos_token", "<s>"}, {"eos_token", "</s>"}, {"unk_token", "<unk>"}};
  write_file_atomic((fs::path(out) / "special_tokens_map.json").string(), sp.dump(2) + "\n");
}

// Refuses an --out folder that is, or contains, one of the inputs, or lies inside a checkpoint
// of the --ckpt run (RUN_DIR/hf is fine: the export writes only into its own folder).
inline void check_export_folder(const Args& a, const std::string& out) {
  namespace fs = std::filesystem;
  for (const NamedPath& in : input_paths(a)) {
    if (path_inside(in.path, out))
      throw Error("--out " + out + " is or contains " + in.flag + " " + in.path +
                  ": the export would write over it; choose another --out");
    if (in.flag == "--ckpt" && fs::is_directory(in.path))
      for (auto& e : fs::directory_iterator(in.path))
        if (e.is_directory() && e.path().filename().string().rfind("ckpt-", 0) == 0 &&
            path_inside(out, e.path().string()))
          throw Error("--out " + out + " lies inside checkpoint " + e.path().string() +
                      ": the export would write over it; choose another --out");
  }
}

template <class Net, class Backend>
int run_export_hf(const Args& a) {
  namespace fs = std::filesystem;
  const std::string out = a.required("out");
  check_export_folder(a, out);
  const std::string dtype = a.str("dtype", "float32");
  if (dtype != "float32" && dtype != "bfloat16") throw Error("--dtype: '" + dtype + "' is neither float32 nor bfloat16");
  const std::uint64_t max_shard = std::uint64_t(a.integer("max-shard-size", std::int64_t(kDefaultMaxShardBytes), 1));
  std::string tokenizer;
  if (a.has("data")) {
    tokenizer = (fs::path(a.required("data")) / "tokenizer.model").string();
    if (!fs::exists(tokenizer)) throw file_error(tokenizer, "cannot open");
  }
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  const nlohmann::json st = load_model<Net>(e, a);
  int max_pos = 2048;
  if (st.contains("train")) max_pos = st["train"].value("seq", 2048);
  max_pos = a.int32("max-position", max_pos, 1);
  const auto cfg = hf_config<Net>(max_pos, dtype);  // refuses a model modeling_mixln.py cannot compute
  const bool llama = cfg["mixln"]["hf_llama_compatible"].template get<bool>();
  fs::create_directories(out);
  write_hf_weights(e.layout(), std::span<const typename Backend::scalar>(e.params()), out,
                   dtype == "bfloat16" ? safetensors::DType::BF16 : safetensors::DType::F32, max_shard);
  write_file_atomic((fs::path(out) / "config.json").string(), cfg.dump(2) + "\n");
  const nlohmann::ordered_json gen = {{"bos_token_id", 1}, {"eos_token_id", 2}, {"do_sample", true},
                                      {"max_length", max_pos}};
  write_file_atomic((fs::path(out) / "generation_config.json").string(), gen.dump(2) + "\n");
  for (const char* f : {"configuration_mixln.py", "modeling_mixln.py"}) {
    std::error_code ec;
    fs::remove(fs::path(out) / f, ec);  // a Llama export needs no code; a stale copy would mislead
  }
  if (!llama) {
    write_file_atomic((fs::path(out) / "configuration_mixln.py").string(), hf_python::kConfiguration);
    write_file_atomic((fs::path(out) / "modeling_mixln.py").string(),
                      std::string(hf_python::kModeling) + hf_python_extensions<Net>());
  }
  if (!tokenizer.empty()) write_hf_tokenizer(tokenizer, out, max_pos);
  if (!llama) {
    std::fprintf(stderr,
                 "note: this model is not a pure Pre-LN RMSNorm LLaMA, so Hugging Face's LlamaForCausalLM "
                 "cannot compute it; config.json names it MixlnForCausalLM, describes each layer under "
                 "\"mixln\", and modeling_mixln.py computes it (AutoModelForCausalLM.from_pretrained(dir, "
                 "trust_remote_code=True))\n");
    if (pre_scale_only_difference(cfg["mixln"]["layers"]))
      std::fprintf(stderr,
                   "note: its layers differ from Llama's only by a pre-norm scale (LayerNorm Scaling's 1/sqrt(l)); "
                   "folding it into the norm weights would round wherever the scale is not a power of two, so "
                   "the scale stays in config.json and modeling_mixln.py applies it exactly\n");
  }
  std::printf("wrote %s (config.json, %s%s%s)\n", out.c_str(),
              fs::exists(fs::path(out) / "model.safetensors") ? "model.safetensors" : "sharded safetensors + index",
              llama ? "" : ", configuration_mixln.py, modeling_mixln.py",
              tokenizer.empty() ? "" : ", tokenizer");
  return 0;
}

}  // namespace mixln::cli
