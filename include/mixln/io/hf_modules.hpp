// mixln/io/hf_modules.hpp — the branches and norm kinds of a model as the Hugging Face export
// computes them: each type's HfModule trait (hf_module.hpp), checked to be present, and the
// Python the export appends to modeling_mixln.py for the types of the user's own.
#pragma once

#include <concepts>
#include <string>
#include <utility>
#include <vector>

#include "../error.hpp"
#include "../hf_module.hpp"
#include "../schedule/schedule.hpp"

namespace mixln {

// One branch or norm kind a model uses, where it first appears.
struct HfModuleUse {
  const char* what;    // "branch" or "norm kind"
  std::string name;    // the type's `name`: the key modeling_mixln.py looks it up by
  std::string where;   // "layer 3's norm post_attention_layernorm", for the message
  const HfModule* module;  // null: the type has no hf_module
};

namespace detail {
template <class X>
constexpr const HfModule* hf_module_of() {
  if constexpr (requires { { X::hf_module } -> std::convertible_to<const HfModule&>; })
    return &X::hf_module;
  else
    return nullptr;
}
template <class X>
void add_hf_use(std::vector<HfModuleUse>& out, const char* what, std::string where) {
  const std::string name = X::name;
  for (const HfModuleUse& u : out)
    if (u.name == name && std::string(u.what) == what) return;  // the first use names it
  out.push_back({what, name, std::move(where), hf_module_of<X>()});
}
template <class Br>
void add_hf_branch(std::vector<HfModuleUse>& out, const std::string& at) {
  add_hf_use<Br>(out, "branch", at + "'s branch " + Br::name);
  if constexpr (requires { typename Br::attention_norm; })
    if constexpr (Br::attention_norm::enabled)
      add_hf_use<typename Br::attention_norm::kind>(out, "norm kind", at + "'s attention norm");
}
template <class Slots, int... i>
void add_hf_norms(std::vector<HfModuleUse>& out, const std::string& at, std::integer_sequence<int, i...>) {
  (add_hf_use<typename Slots::template at<i>::kind>(out, "norm kind",
                                                    at + "'s norm " + Slots::template at<i>::name),
   ...);
}
template <class Net, int l, int... b>
void add_hf_layer(std::vector<HfModuleUse>& out, std::integer_sequence<int, b...>) {
  using S = Schedule<Net>;
  using Branches = typename S::template placement<l>::block::branches;
  using Subs = typename S::template sublayers<l>;
  const std::string at = "layer " + std::to_string(l);
  (add_hf_branch<typename Branches::template at<b>>(out, at), ...);
  (add_hf_norms<typename Subs::template at<b>::slots>(
       out, at, std::make_integer_sequence<int, Subs::template at<b>::slots::size>{}),
   ...);
}
}  // namespace detail

// Every distinct branch and norm kind of the model, in the order of first use; the final norm,
// then the embedding output's norms, last.
template <class Net>
std::vector<HfModuleUse> hf_module_uses() {
  using S = Schedule<Net>;
  std::vector<HfModuleUse> out;
  [&]<int... l>(std::integer_sequence<int, l...>) {
    (detail::add_hf_layer<Net, l>(out, std::make_integer_sequence<int, S::template sublayers<l>::size>{}), ...);
  }(std::make_integer_sequence<int, Net::num_layers>{});
  detail::add_hf_use<typename Net::final_norm>(out, "norm kind", "the final norm");
  using Emb = typename Net::embedding_output::slots;
  detail::add_hf_norms<Emb>(out, "the embedding output", std::make_integer_sequence<int, Emb::size>{});
  return out;
}

// Throws naming the first branch or norm kind that does not say how the export computes it.
template <class Net>
void check_hf_modules() {
  for (const HfModuleUse& u : hf_module_uses<Net>())
    if (!u.module)
      throw Error("export-hf: " + u.where + " is a " + u.what + " '" + u.name +
                  "' that declares no hf_module, so modeling_mixln.py cannot compute it (docs/dsl.md)");
}

// What the export appends to modeling_mixln.py: the class of each type of the user's, and its
// registration under the type's name. Empty for a model of the library's types only.
template <class Net>
std::string hf_python_extensions() {
  std::string py;
  for (const HfModuleUse& u : hf_module_uses<Net>()) {
    if (!u.module || !u.module->python) continue;
    const std::string table = std::string(u.what) == "branch" ? "BRANCHES" : "NORMS";
    py += "\n\n# ---------------- " + std::string(u.what) + " '" + u.name + "', from the model's type ----------------\n";
    py += u.module->python;
    if (py.back() != '\n') py += '\n';
    py += table + "[\"" + u.name + "\"] = " + u.module->python_class + "\n";
  }
  return py;
}

}  // namespace mixln
