// mixln/cli/model_source.hpp — the MODEL argument of the trainer's subcommands:
// `--weights FILE.safetensors`, `--ckpt RUN_DIR` (its latest checkpoint) or `--seed S` (fresh
// init, with --scaled-init).
#pragma once

#include <string>
#include <vector>

#include "../error.hpp"
#include "../init.hpp"
#include "../io/model_io.hpp"
#include "../train/trainer.hpp"
#include "args.hpp"

namespace mixln::cli {

inline std::vector<Option> model_options(bool with_seed = true) {
  std::vector<Option> o = {{"weights", true, "FILE.safetensors: parameters to load"},
                           {"ckpt", true, "RUN_DIR: the latest checkpoint of a training run"}};
  if (with_seed) {
    o.push_back({"seed", true, "S: random init with seed S (DESIGN.md section 3)"});
    o.push_back({"scaled-init", false, "with --seed: o_proj, down_proj ~ N(0, 0.02/sqrt(2L))"});
  }
  return o;
}

// Fills the engine's parameters from --weights, --ckpt or --seed; returns the checkpoint's
// state (an empty object otherwise). With allow_seed = false, --seed is not a model source.
template <class Net, class Engine>
nlohmann::json load_model(Engine& e, const Args& a, bool allow_seed = true) {
  const bool seed = allow_seed && a.has("seed");
  const int given = a.has("weights") + a.has("ckpt") + seed;
  const std::string choices = allow_seed ? "--weights FILE.safetensors, --ckpt RUN_DIR or --seed S"
                                         : "--weights FILE.safetensors or --ckpt RUN_DIR";
  if (given == 0) throw Error("give the model as " + choices);
  if (given > 1) throw Error("give only one of " + choices);
  nlohmann::json state = nlohmann::json::object();
  if (a.has("weights")) {
    load_params(e.layout(), e.params(), a.required("weights"));
  } else if (a.has("ckpt")) {
    state = load_run_params<Net>(e.layout(), e.params(), a.required("ckpt"));
  } else {
    InitOptions opt;
    opt.seed = std::uint64_t(a.integer("seed", 0, 0));
    opt.scaled_init = a.flag("scaled-init");
    init_params(e.layout(), Engine::L, e.params(), opt);
  }
  e.sync_to_device();
  return state;
}

}  // namespace mixln::cli
