// mixln/io/hf_config.hpp — a Model type as a Hugging Face config.json, and the reverse check.
//
// A model that is exactly Hugging Face's Llama (every layer Pre-LN with RMSNorm around plain
// LLaMA branches, the final norm RMSNorm, no pre-norm scale) is written as `model_type: llama`,
// `LlamaForCausalLM`: transformers computes it with its own code. Any other model is written as
// `model_type: mixln`, `MixlnForCausalLM`, with an `auto_map` to the configuration_mixln.py and
// modeling_mixln.py the export puts beside it, and `mixln.layers` describing every layer
// generically (io/model_description.hpp): its sub-layers in order — an attention branch (with
// its QK/QKV-norm) or a position-wise branch (an MLP) — the norms around each (role, name,
// kind), the residual and pre-norm scales, the skip from the layer input. modeling_mixln.py
// computes the library's branches (attention, swiglu_mlp) and norm kinds (RMSNorm, LayerNorm,
// DyT); a branch or norm kind of the user's carries its own Python (its `hf_module` trait,
// io/hf_modules.hpp), which the export appends; a type without one is refused in one line.
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../config.hpp"
#include "../error.hpp"
#include "hf_modules.hpp"
#include "model_description.hpp"

namespace mixln {

// Whether Hugging Face's LlamaForCausalLM computes the model exactly.
inline bool hf_llama_compatible(const nlohmann::ordered_json& layers, const std::string& final_norm) {
  if (final_norm != "RMSNorm") return false;
  for (const auto& l : layers) {
    if (l["placement"] != "PreLN" || l["pre_scale"] != 1.0 || l["residual_scale"] != 1.0 || l.contains("skip_from_layer_input"))
      return false;
    const auto& br = l["branches"];
    if (br.size() != 2 || br[0]["name"] != "attention" || !br[0]["attention_norm"].is_null() ||
        br[1]["name"] != "swiglu_mlp")
      return false;
    for (const auto& n : l["norms"])
      if (n["kind"] != "RMSNorm") return false;
  }
  return true;
}

// config.json of the export; `dtype` is "float32" or "bfloat16".
template <class Net>
nlohmann::ordered_json hf_config(int max_position, const std::string& dtype) {
  using Cfg = typename Net::config;
  const nlohmann::ordered_json layers = describe_layers<Net>();
  const std::string final_norm = Net::final_norm::name;
  check_hf_modules<Net>();
  const nlohmann::ordered_json embedding_norms = describe_embedding_norms<Net>();
  const bool llama = hf_llama_compatible(layers, final_norm) && embedding_norms.empty();
  std::vector<std::string> placements(Net::placement_names.begin(), Net::placement_names.end());
  nlohmann::ordered_json j;
  j["architectures"] = {llama ? "LlamaForCausalLM" : "MixlnForCausalLM"};
  j["model_type"] = llama ? "llama" : "mixln";
  if (!llama)
    j["auto_map"] = {{"AutoConfig", "configuration_mixln.MixlnConfig"},
                     {"AutoModelForCausalLM", "modeling_mixln.MixlnForCausalLM"}};
  j["vocab_size"] = Cfg::vocab_size;
  j["hidden_size"] = Cfg::hidden_size;
  j["intermediate_size"] = Cfg::intermediate_size;
  j["num_hidden_layers"] = Net::num_layers;
  j["num_attention_heads"] = Cfg::num_heads;
  j["num_key_value_heads"] = Cfg::num_heads;
  j["head_dim"] = Cfg::head_dim;
  j["hidden_act"] = "silu";
  j["max_position_embeddings"] = max_position;
  j["rms_norm_eps"] = RMSNorm::eps;
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
  j["mixln"] = {{"version", "0.2.0"},
                {"placements", placements},
                {"layers", layers},
                {"final_norm", final_norm},
                {"embedding_norms", embedding_norms},
                {"norm_eps", {{"RMSNorm", RMSNorm::eps}, {"LayerNorm", LayerNorm::eps}}},
                {"hf_llama_compatible", llama}};
  return j;
}

// Reads DIR/config.json of a Hugging Face folder.
inline nlohmann::json read_hf_config(const std::string& dir) {
  const std::string p = (std::filesystem::path(dir) / "config.json").string();
  std::ifstream in(p);
  if (!in) throw file_error(p, "cannot open (a Hugging Face folder needs config.json)");
  try {
    nlohmann::json j = nlohmann::json::parse(in);
    if (!j.is_object()) throw file_error(p, "not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    throw file_error(p, std::string("not valid JSON (") + e.what() + ")");
  }
}

// Refuses a Hugging Face config whose dimensions are not model Net's (--init-from: the layers'
// placements may differ, their sizes may not).
template <class Net>
void check_hf_dimensions(const nlohmann::json& j, const std::string& where) {
  using Cfg = typename Net::config;
  auto need = [&](const char* key, std::size_t want) {
    if (!j.contains(key) || !j[key].is_number_unsigned())
      throw file_error(where, std::string("config.json has no integer ") + key);
    const std::size_t have = j[key].get<std::size_t>();
    if (have != want)
      throw file_error(where, std::string("config.json has ") + key + " " + std::to_string(have) +
                                  ", this model has " + std::to_string(want));
  };
  need("vocab_size", Cfg::vocab_size);
  need("hidden_size", Cfg::hidden_size);
  need("intermediate_size", Cfg::intermediate_size);
  need("num_attention_heads", Cfg::num_heads);
  if (j.contains("num_key_value_heads")) need("num_key_value_heads", Cfg::num_heads);
  need("num_hidden_layers", std::size_t(Net::num_layers));
  if (j.contains("tie_word_embeddings") && !j["tie_word_embeddings"].is_boolean())
    throw file_error(where, "config.json's tie_word_embeddings is neither true nor false");
  if (j.value("tie_word_embeddings", false))
    throw file_error(where, "config.json ties the embeddings to lm_head; mixln's models are untied");
}

// Refuses a Hugging Face config that does not describe model Net, naming the first mismatch:
// a dimension, the number of layers, or (for a mixln export) a layer's placement, block or
// norms; a `llama` config must describe a model Net computes as Llama.
template <class Net>
void check_hf_config_fields(const nlohmann::json& j, const std::string& where) {
  check_hf_dimensions<Net>(j, where);
  const nlohmann::ordered_json mine = describe_layers<Net>();
  const std::string model_type = j.value("model_type", std::string());
  if (model_type == "llama") {
    if (!hf_llama_compatible(mine, Net::final_norm::name) || !describe_embedding_norms<Net>().empty())
      throw file_error(where, "config.json is a plain Llama (Pre-LN, RMSNorm everywhere), which this model is "
                              "not: load it with --init-from to start a run of this model from it");
    return;
  }
  if (model_type != "mixln" || !j.contains("mixln") || !j["mixln"].contains("layers"))
    throw file_error(where, "config.json has model_type '" + model_type +
                                "', neither llama nor a mixln export describing its layers");
  const auto& theirs = j["mixln"]["layers"];
  if (!theirs.is_array() || theirs.size() != mine.size())
    throw file_error(where, "config.json describes " + std::to_string(theirs.size()) + " layers");
  for (std::size_t l = 0; l < mine.size(); ++l)
    for (const char* key : {"placement", "block", "branches", "norms", "residual_scale", "pre_scale"}) {
      const nlohmann::json a = theirs[l].value(key, nlohmann::json()), b = nlohmann::json(mine[l][key]);
      if (a != b)
        throw file_error(where, "config.json's layer " + std::to_string(l) + " has " + key + " " + a.dump() +
                                    ", this model has " + b.dump());
    }
  const std::string final_norm = j["mixln"].value("final_norm", std::string("RMSNorm"));
  if (final_norm != Net::final_norm::name)
    throw file_error(where, "config.json's final norm is " + final_norm + ", this model's is " + Net::final_norm::name);
  const nlohmann::json emb_theirs = j["mixln"].value("embedding_norms", nlohmann::json::array()),
                       emb_mine = nlohmann::json(describe_embedding_norms<Net>());
  if (emb_theirs != emb_mine)
    throw file_error(where, "config.json's embedding output norms are " + emb_theirs.dump() + ", this model's are " +
                                emb_mine.dump());
}
template <class Net>
void check_hf_config(const nlohmann::json& j, const std::string& where) {
  try {
    check_hf_config_fields<Net>(j, where);
  } catch (const nlohmann::json::exception& e) {  // a field of another type than transformers writes
    throw file_error(where, std::string("config.json is malformed (") + e.what() + ")");
  }
}

}  // namespace mixln
