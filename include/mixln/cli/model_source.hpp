// mixln/cli/model_source.hpp — the MODEL argument of the trainer's subcommands:
// `--weights FILE.safetensors` or `--seed S` (fresh init, with --scaled-init).
#pragma once

#include <string>
#include <vector>

#include "../error.hpp"
#include "../init.hpp"
#include "../io/model_io.hpp"
#include "args.hpp"

namespace mixln::cli {

inline std::vector<Option> model_options() {
  return {{"weights", true, "FILE.safetensors: parameters to load"},
          {"seed", true, "S: random init with seed S (DESIGN.md section 3)"},
          {"scaled-init", false, "with --seed: o_proj, down_proj ~ N(0, 0.02/sqrt(2L))"}};
}

// Fills the engine's parameters from --weights or --seed; returns a description.
template <class Engine>
std::string load_model(Engine& e, const Args& a) {
  const int given = a.has("weights") + a.has("seed");
  if (given == 0) throw Error("give the model as --weights FILE.safetensors or --seed S");
  if (given > 1) throw Error("give only one of --weights and --seed");
  if (a.has("weights")) {
    const std::string path = a.required("weights");
    load_params(e.layout(), e.params(), path);
    return path;
  }
  InitOptions opt;
  opt.seed = std::uint64_t(a.integer("seed", 0, 0));
  opt.scaled_init = a.flag("scaled-init");
  init_params(e.layout(), Engine::L, e.params(), opt);
  return "seed " + std::to_string(opt.seed);
}

}  // namespace mixln::cli
