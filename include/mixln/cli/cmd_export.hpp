// mixln/cli/cmd_export.hpp — `export-hf`: a Hugging Face folder (DESIGN.md section 4).
//
//   DIR/config.json         LlamaForCausalLM config + "mixln": the placement of every layer
//   DIR/model.safetensors   parameters under Hugging Face Llama names
//   DIR/tokenizer.model     with --data: the run's SentencePiece model (+ tokenizer_config.json)
//
// A pure Pre-LN RMSNorm stack of plain LLaMA blocks is exactly Hugging Face's Llama and loads in
// LlamaForCausalLM. Any other model has norms (or norm kinds, or blocks) Llama does not have:
// its config names the architecture "MixlnForCausalLM" and describes every layer under
// "mixln" (io/model_description.hpp), so that nothing loads it silently as a Llama that
// computes something else.
#pragma once

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../io/atomic_file.hpp"
#include "../io/model_description.hpp"
#include "../io/model_io.hpp"
#include "../train/trainer.hpp"
#include "args.hpp"
#include "engine_types.hpp"
#include "model_source.hpp"

namespace mixln::cli {

inline std::vector<Option> export_options() {
  auto o = model_options();
  o.push_back({"out", true, "DIR: the Hugging Face folder to write"});
  o.push_back({"data", true, "DIR: also copy its tokenizer.model"});
  o.push_back({"dtype", true, "float32 or bfloat16 (float32)"});
  o.push_back({"max-position", true, "N: max_position_embeddings (the run's --seq, or 2048)"});
  return o;
}

// Whether Hugging Face's LlamaForCausalLM computes this model: every layer a plain LLaMA block
// (no attention norm) with RMSNorm Pre-LN norms, the final norm RMSNorm.
template <class Net>
bool llama_compatible(const nlohmann::ordered_json& layers) {
  if (std::string(Net::final_norm::name) != "RMSNorm") return false;
  for (const auto& l : layers) {
    if (l["placement"] != "PreLN" || l["block"] != "llama" || l["pre_scale"] != 1.0) return false;
    for (const auto& n : l["norms"])
      if (n["kind"] != "RMSNorm") return false;
  }
  return true;
}

template <class Net>
nlohmann::ordered_json hf_config(int max_position, const std::string& dtype) {
  using Cfg = typename Net::config;
  const nlohmann::ordered_json layers = describe_layers<Net>();
  const bool pre_only = llama_compatible<Net>(layers);
  std::vector<std::string> placements(Net::placement_names.begin(), Net::placement_names.end());
  nlohmann::ordered_json j;
  j["architectures"] = {pre_only ? "LlamaForCausalLM" : "MixlnForCausalLM"};
  j["model_type"] = "llama";
  j["vocab_size"] = Cfg::vocab_size;
  j["hidden_size"] = Cfg::hidden_size;
  j["intermediate_size"] = Cfg::intermediate_size;
  j["num_hidden_layers"] = Net::num_layers;
  j["num_attention_heads"] = Cfg::num_heads;
  j["num_key_value_heads"] = Cfg::num_heads;
  j["head_dim"] = Cfg::head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = max_position;
  j["rms_norm_eps"] = kNormEps;
  j["rope_theta"] = kRopeTheta;
  j["rope_scaling"] = nullptr;
  j["attention_bias"] = false;
  j["attention_dropout"] = 0.0;
  j["mlp_bias"] = false;
  j["initializer_range"] = 0.02;
  j["tie_word_embeddings"] = false;
  j["bos_token_id"] = 1;
  j["eos_token_id"] = 2;
  j["torch_dtype"] = dtype;
  j["use_cache"] = true;
  j["mixln"] = {{"version", "0.1.0"},
                {"placements", placements},
                {"layers", layers},
                {"final_norm", Net::final_norm::name},
                {"hf_llama_compatible", pre_only}};
  return j;
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
  Engine<Net, Backend> e;
  const nlohmann::json st = load_model<Net>(e, a);
  const std::string dtype = a.str("dtype", "float32");
  if (dtype != "float32" && dtype != "bfloat16") throw Error("--dtype: '" + dtype + "' is neither float32 nor bfloat16");
  int max_pos = 2048;
  if (st.contains("train")) max_pos = st["train"].value("seq", 2048);
  max_pos = a.int32("max-position", max_pos, 1);
  std::string tokenizer;
  if (a.has("data")) {
    tokenizer = (fs::path(a.required("data")) / "tokenizer.model").string();
    if (!fs::exists(tokenizer)) throw file_error(tokenizer, "cannot open");
  }
  fs::create_directories(out);
  save_params(e.layout(), std::span<const typename Backend::scalar>(e.params()), (fs::path(out) / "model.safetensors").string(), {},
              dtype == "bfloat16" ? safetensors::DType::BF16 : safetensors::DType::F32);
  const auto cfg = hf_config<Net>(max_pos, dtype);
  write_file_atomic((fs::path(out) / "config.json").string(), cfg.dump(2) + "\n");
  if (!tokenizer.empty()) {
    fs::copy_file(tokenizer, fs::path(out) / "tokenizer.model", fs::copy_options::overwrite_existing);
    nlohmann::ordered_json tc = {{"tokenizer_class", "LlamaTokenizer"}, {"bos_token", "<s>"},
                                 {"eos_token", "</s>"}, {"unk_token", "<unk>"},
                                 {"add_bos_token", false}, {"add_eos_token", false},
                                 {"legacy", false}};
    write_file_atomic((fs::path(out) / "tokenizer_config.json").string(), tc.dump(2) + "\n");
  }
  if (cfg["mixln"]["hf_llama_compatible"] == false)
    std::fprintf(stderr,
                 "note: this model is not a pure Pre-LN RMSNorm LLaMA, so Hugging Face's LlamaForCausalLM "
                 "cannot compute it; config.json names it MixlnForCausalLM and describes each layer "
                 "under \"mixln\"\n");
  std::printf("wrote %s (config.json, model.safetensors%s)\n", out.c_str(), tokenizer.empty() ? "" : ", tokenizer.model");
  return 0;
}

}  // namespace mixln::cli
