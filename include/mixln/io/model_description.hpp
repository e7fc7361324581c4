// mixln/io/model_description.hpp — a Model type described as JSON: what checkpoints record to
// recognise their model, and what the Hugging Face export writes under "mixln".
//
//   {"placement": "PostLN", "block": "llama+qk_norm[full]",
//    "branches": [{"name": "attention", "attention_norm": {"norms": "qk", "scope": "full_width",
//                  "kind": "RMSNorm"}}, {"name": "swiglu_mlp"}],
//    "norms": [{"sublayer": 0, "role": "post", "name": "post_attention_layernorm", "kind": "RMSNorm"}, ...],
//    "residual_scale": 1.0, "pre_scale": 1.0}
// per layer, plus the final norm's kind. A branch's description is its name, and for an
// attention branch (one with `attention_norm`) the norms inside it.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "../schedule/schedule.hpp"

namespace mixln {

namespace detail {
inline const char* role_name(NormRole r) {
  return r == NormRole::pre ? "pre" : r == NormRole::branch ? "branch" : "post";
}
template <class Slots>
void describe_slots(nlohmann::ordered_json& norms, int sublayer) {
  [&]<int... i>(std::integer_sequence<int, i...>) {
    (norms.push_back({{"sublayer", sublayer},
                      {"role", role_name(Slots::template at<i>::role)},
                      {"name", Slots::template at<i>::name},
                      {"kind", Slots::template at<i>::kind::name}}),
     ...);
  }(std::make_integer_sequence<int, Slots::size>{});
}

template <class Br>
nlohmann::ordered_json describe_branch() {
  nlohmann::ordered_json j = {{"name", Br::name}};
  if constexpr (requires { typename Br::attention_norm; }) {
    using A = typename Br::attention_norm;
    if constexpr (A::enabled)
      j["attention_norm"] = {{"norms", A::norm_v ? "qkv" : "qk"},
                             {"scope", A::per_head ? "per_head" : "full_width"},
                             {"kind", A::kind::name}};
    else
      j["attention_norm"] = nullptr;
  }
  return j;
}

template <class Net, int l, int... b>
nlohmann::ordered_json describe_layer(std::integer_sequence<int, b...>) {
  using S = Schedule<Net>;
  using P = typename S::template placement<l>;
  using Subs = typename S::template sublayers<l>;
  nlohmann::ordered_json j;
  j["placement"] = P::name;
  j["block"] = P::block::name;
  nlohmann::ordered_json branches = nlohmann::ordered_json::array(), norms = nlohmann::ordered_json::array();
  (branches.push_back(describe_branch<typename P::block::branches::template at<b>>()), ...);
  (describe_slots<typename Subs::template at<b>::slots>(norms, b), ...);
  j["branches"] = branches;
  j["norms"] = norms;
  const bool skips[] = {Subs::template at<b>::skip_from_layer_input...};
  for (int i = 0; i < int(sizeof...(b)); ++i)
    if (skips[i]) j["skip_from_layer_input"] = i;
  j["residual_scale"] = P::residual_scale(Net::num_layers);
  j["pre_scale"] = P::pre_scale(l, Net::num_layers);
  return j;
}
template <class Net, int... l>
nlohmann::ordered_json describe_layers(std::integer_sequence<int, l...>) {
  using S = Schedule<Net>;
  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  (layers.push_back(describe_layer<Net, l>(std::make_integer_sequence<int, S::template sublayers<l>::size>{})), ...);
  return layers;
}
}  // namespace detail

// One entry per layer (see above).
template <class Net>
nlohmann::ordered_json describe_layers() {
  return detail::describe_layers<Net>(std::make_integer_sequence<int, Net::num_layers>{});
}

// The embedding output's norms (Model's fourth argument), in order: [{"name": "embed_scale",
// "kind": "EmbedScale"}]; empty for most models.
template <class Net>
nlohmann::ordered_json describe_embedding_norms() {
  using Post = typename Net::embedding_output::post;
  nlohmann::ordered_json out = nlohmann::ordered_json::array();
  [&]<int... i>(std::integer_sequence<int, i...>) {
    (out.push_back({{"name", Post::template at<i>::name}, {"kind", Post::template at<i>::kind::name}}), ...);
  }(std::make_integer_sequence<int, Post::size>{});
  return out;
}

// What identifies a model type in checkpoints.
template <class Net>
nlohmann::json model_signature() {
  using Cfg = typename Net::config;
  std::vector<std::string> placements(Net::placement_names.begin(), Net::placement_names.end());
  std::vector<std::string> blocks(Net::block_names.begin(), Net::block_names.end());
  std::vector<std::string> norms;
  for (const auto& layer : describe_layers<Net>())
    for (const auto& n : layer["norms"])
      norms.push_back(n["name"].template get<std::string>() + ":" + n["kind"].template get<std::string>());
  nlohmann::json sig = {{"vocab_size", Cfg::vocab_size},
                        {"hidden_size", Cfg::hidden_size},
                        {"intermediate_size", Cfg::intermediate_size},
                        {"num_heads", Cfg::num_heads},
                        {"num_layers", Net::num_layers},
                        {"placements", placements},
                        {"blocks", blocks},
                        {"norms", norms},
                        {"final_norm", Net::final_norm::name}};
  // only where there are any: the signatures of every other model stay as they were
  if (const auto emb = describe_embedding_norms<Net>(); !emb.empty()) sig["embedding_norms"] = emb;
  // the ends, where they are not a language model's
  using Input = typename Net::input;
  using Head = typename Net::head;
  if constexpr (!is_token_embedding_v<Input>) {
    sig["input"] = Input::name;
    if constexpr (requires { Input::S, Input::Pz, Input::Cin; })
      sig["image"] = Input::S, sig["patch"] = Input::Pz, sig["channels"] = Input::Cin;
  }
  if constexpr (!is_lm_head_v<Head>) {
    sig["head"] = Head::name;
    if constexpr (requires { Head::K; }) sig["classes"] = Head::K;
  }
  return sig;
}

// Whether a signature stored by a checkpoint describes this model. Keys the checkpoint does
// not have (written by an older mixln, which only had RMSNorm LLaMA models) are not compared:
// their absence cannot hide another model, whose parameters would not load.
template <class Net>
bool signature_matches(const nlohmann::json& stored) {
  if (!stored.is_object()) return false;
  const nlohmann::json mine = model_signature<Net>();
  for (auto it = stored.begin(); it != stored.end(); ++it)
    if (!mine.contains(it.key()) || mine[it.key()] != it.value()) return false;
  return true;
}

}  // namespace mixln
