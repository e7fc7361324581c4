// mixln/cli/model_source.hpp — the MODEL argument of the trainer's subcommands:
// `--weights FILE.safetensors` or `--weights HF_DIR` (a Hugging Face folder: config.json checked
// against the model, single or sharded safetensors), `--ckpt RUN_DIR` (its latest checkpoint)
// or `--seed S` (a fresh init, with the flags of init_args.hpp).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../init.hpp"
#include "../io/hf_config.hpp"
#include "../io/hf_weights.hpp"
#include "../io/model_io.hpp"
#include "../io/paths.hpp"
#include "../train/checkpoint.hpp"
#include "args.hpp"
#include "init_args.hpp"

namespace mixln::cli {

inline std::vector<Option> model_options(bool with_seed = true) {
  std::vector<Option> o = {{"weights", true, "FILE.safetensors or HF_DIR (a Hugging Face folder): parameters to load"},
                           {"ckpt", true, "RUN_DIR: the latest checkpoint of a training run"}};
  if (with_seed) {
    o.push_back({"seed", true, "S: random init with seed S (docs/design.md §3.4)"});
    for (Option& x : init_options("with --seed: ")) o.push_back(std::move(x));
  }
  return o;
}

// The paths a subcommand reads, by flag: --weights, --ckpt (the run folder), --batch, --data.
inline std::vector<NamedPath> input_paths(const Args& a) {
  std::vector<NamedPath> in;
  for (const char* f : {"weights", "ckpt", "batch", "data"})
    if (a.has(f)) in.push_back({std::string("--") + f, a.required(f)});
  return in;
}

// Refuses a file output (`--out F`) that is an input or lies inside an input folder (a run's
// checkpoints, a data folder): no command writes over what it reads.
inline void check_output_file(const Args& a, const std::string& out) {
  const std::vector<NamedPath> in = input_paths(a);
  check_not_an_input({"--out", out}, in);
  for (const NamedPath& p : in)
    if ((p.flag == "--ckpt" || p.flag == "--data") && path_inside(out, p.path))
      throw Error("--out " + out + " lies inside " + p.flag + " " + p.path +
                  ": writing there could destroy the input; choose another --out");
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
  if (a.has("weights") || a.has("ckpt")) {
    const std::string source = a.has("weights") ? a.required("weights") : a.required("ckpt");
    if (a.has("weights") && std::filesystem::is_directory(source)) {
      if constexpr (is_token_embedding_v<typename Net::input>) {
        check_hf_config<Net>(read_hf_config(source), source);
        load_hf_params(e.layout(), e.params(), HfWeights(source));
      } else {
        throw Error("--weights " + source + ": a Hugging Face folder holds a language model; give a FILE.safetensors");
      }
    } else if (a.has("weights")) {
      load_params(e.layout(), e.params(), source);
    } else {
      state = load_run_params<Net>(e.layout(), e.params(), source);
    }
    // Weights that are not finite compute nothing worth printing: refuse them.
    using T = typename Engine::T;
    if (const ParamInfo* bad = first_nonfinite_param(e.layout(), std::span<const T>(e.params())))
      throw file_error(source, "tensor '" + bad->name + "' holds NaN or infinite values");
  } else {
    std::string recipe;
    InitOptions opt = init_options_from(a, recipe, Net::C);
    opt.seed = a.seed("seed");
    init_params(e.layout(), Engine::L, e.params(), opt);
  }
  e.sync_to_device();
  return state;
}

}  // namespace mixln::cli
