// mixln/cli/init_args.hpp — the flags of a fresh initialisation (`train`, and `--seed S` where a
// subcommand takes a model): a named recipe (`--init`, init.hpp's init_recipes) and the
// standard deviations that override it.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../init.hpp"
#include "args.hpp"

namespace mixln::cli {

// `when` prefixes each help line ("" for train, "with --seed: " elsewhere).
inline std::vector<Option> init_options(const std::string& when) {
  std::string names;
  for (const InitRecipe& r : init_recipes) names += (names.empty() ? "" : ", ") + std::string(r.name);
  std::string recipes;
  for (const InitRecipe& r : init_recipes) recipes += "; " + std::string(r.name) + ": " + std::string(r.what);
  return {
      {"init", true, when + "NAME: the initialisation recipe, one of " + names + " (default)" + recipes},
      {"init-std", true, when + "X: std of the linears and lm_head (default: the recipe's)"},
      {"embed-std", true, when + "X: std of the token embeddings (default: the recipe's)"},
      {"scaled-init", false, when + "o_proj, down_proj ~ N(0, std/sqrt(2L))"},
  };
}

// The recipe named by --init (default: "default") for a model of hidden size `hidden`, with
// --init-std, --embed-std and --scaled-init applied over it; `recipe` receives its name.
inline InitOptions init_options_from(const Args& a, std::string& recipe, std::size_t hidden) {
  recipe = a.str("init", "default");
  const InitRecipe* r = find_init_recipe(recipe);
  if (!r) {
    std::string names;
    for (const InitRecipe& x : init_recipes) names += (names.empty() ? "" : ", ") + std::string(x.name);
    throw Error("--init: '" + recipe + "' is not an init recipe (" + names + ")");
  }
  InitOptions o = r->options(hidden);
  o.std = a.real("init-std", o.std, 0.0, 1e6);
  o.embed_std = a.real("embed-std", o.embed_std, 0.0, 1e6);
  o.scaled_init = o.scaled_init || a.flag("scaled-init");
  return o;
}

}  // namespace mixln::cli
