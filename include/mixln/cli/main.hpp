// mixln/cli/main.hpp — `mixln::cli::main<Net>`: the same trainer command line for every model.
//
//   int main(int argc, char** argv) { return mixln::cli::main<Net>(argc, argv); }
//
// A vision model (an image input stage) has train, eval, grads, grad-norms, angular, layer-drop,
// residual-rms and a refusing export-hf (cmd_vision.hpp reads images; the others are shared). A language
// model's 11 subcommands (docs/design.md §6.2) are listed in commands() below and defined in seven
// headers: cmd_info.hpp (info), cmd_grads.hpp (grads, grad-norms, logits), cmd_train.hpp (train,
// eval), cmd_generate.hpp (generate), cmd_export.hpp (export-hf), cmd_analysis.hpp (angular,
// layer-drop, residual-rms) and cmd_bench.hpp (bench). Any error — a mixln::Error, a bad flag, out of memory,
// any other exception — is printed as one line `error: ...` with exit status 1; a missing or
// unknown subcommand exits with 2.
#pragma once

#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include "../cpu/blas_setup.hpp"
#include "../error.hpp"
#include "args.hpp"
#include "backend_cli.hpp"
#include "cmd_analysis.hpp"
#include "cmd_bench.hpp"
#include "cmd_export.hpp"
#include "cmd_generate.hpp"
#include "cmd_grads.hpp"
#include "cmd_info.hpp"
#include "cmd_train.hpp"
#include "cmd_vision.hpp"

namespace mixln::cli {

struct Command {
  const char* name;
  const char* summary;
  std::vector<Option> (*options)();
  int (*run)(const Args&);
};

template <class Net, class Backend>
std::vector<Command> commands() {
  if constexpr (is_vision_model_v<Net>)
    return {
        {"train", "train on image splits from mixln-prepare-images", vision_train_options,
         run_vision_train<Net, Backend>},
        {"eval", "validation loss and top-1 accuracy", vision_eval_options, run_vision_eval<Net, Backend>},
        {"grads", "one forward/backward on a batch of images; writes the loss and every gradient",
         grads_options<Net>, run_grads<Net, Backend>},
        {"grad-norms", "per-layer gradient L2 norms of one batch of images, as CSV", grad_norms_options<Net>,
         run_grad_norms<Net, Backend>},
        {"angular", "angular distance between layer inputs, averaged over rows, as CSV", angular_options<Net>,
         run_angular<Net, Backend>},
        {"layer-drop", "loss and top-1 accuracy with each single layer removed, as CSV", layer_drop_options<Net>,
         run_layer_drop<Net, Backend>},
        {"residual-rms", "the residual stream's RMS entering each layer, as CSV", residual_rms_options<Net>,
         run_residual_rms<Net, Backend>},
        {"export-hf", "refused: no Hugging Face model computes this network", vision_export_options,
         run_vision_export_hf<Net, Backend>},
    };
  else
  return {
      {"info", "layer plan, parameter count and memory plan", info_options, run_info<Net, Backend>},
      {"grads", "one forward/backward on a batch; writes the loss and every gradient",
       grads_options<Net>, run_grads<Net, Backend>},
      {"grad-norms", "per-layer gradient L2 norms of one batch, as CSV", grad_norms_options<Net>,
       run_grad_norms<Net, Backend>},
      {"logits", "one forward pass on a batch; writes its logits and loss", logits_options,
       run_logits<Net, Backend>},
      {"train", "train on token shards from mixln-prepare", train_options, run_train<Net, Backend>},
      {"eval", "validation loss and perplexity", eval_options, run_eval<Net, Backend>},
      {"generate", "sample text from a model", generate_options, run_generate<Net, Backend>},
      {"export-hf", "write a Hugging Face folder that transformers loads",
       export_options, run_export_hf<Net, Backend>},
      {"angular", "angular distance between layer inputs, averaged over tokens, as CSV", angular_options<Net>,
       run_angular<Net, Backend>},
      {"layer-drop", "perplexity with each single layer removed, as CSV", layer_drop_options<Net>,
       run_layer_drop<Net, Backend>},
      {"residual-rms", "the residual stream's RMS entering each layer, as CSV", residual_rms_options<Net>,
       run_residual_rms<Net, Backend>},
      {"bench", "time training steps on synthetic tokens; one JSON line", bench_options, run_bench<Net, Backend>},
  };
}

inline void print_options(const std::vector<Option>& opts) {
  for (auto& o : opts)
    std::printf("  --%-16s %s\n", (o.name + (o.takes_value ? " X" : "")).c_str(), o.help.c_str());
}

// Backend: cpu::Backend<float> (the default) or cuda::Backend (the `_cuda` trainers).
// defaults: the model's default `train` hyper-parameters (examples/configs.hpp gives the
// paper's for its configurations).
template <class Net, class Backend = cpu::Backend<float>>
int main(int argc, char** argv, TrainDefaults defaults = {}) {
  cpu::prefer_avx512_blas(argv);
  if constexpr (Net::input::fixed_seq > 0) defaults.seq = Net::input::fixed_seq;  // the image fixes the rows
  train_defaults() = defaults;
  const std::string prog = argc > 0 ? argv[0] : "trainer";
  const auto cmds = commands<Net, Backend>();
  auto usage = [&] {
    std::printf("usage: %s <subcommand> [flags]\n\nsubcommands:\n", prog.c_str());
    for (auto& c : cmds) std::printf("  %-12s %s\n", c.name, c.summary);
    std::printf("\n'%s <subcommand> --help' lists the flags of one.\n", prog.c_str());
  };
  if (argc < 2 || std::string(argv[1]) == "--help" || std::string(argv[1]) == "-h") {
    usage();
    return argc < 2 ? 2 : 0;
  }
  const std::string sub = argv[1];
  // Under an MPI launcher only `train` is distributed; any other subcommand runs on rank 0.
  if (sub != "train" && launched_by_mpi() && launcher_rank() != 0) return 0;
  for (auto& c : cmds) {
    if (sub != c.name) continue;
    auto opts = c.options();
    for (auto& o : BackendCli<Backend>::options()) opts.push_back(o);
    for (int i = 2; i < argc; ++i)
      if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
        std::printf("usage: %s %s [flags]\n%s\n\nflags:\n", prog.c_str(), c.name, c.summary);
        print_options(opts);
        return 0;
      }
    try {
      Args args(sub, opts, argc, argv, 2);
      BackendCli<Backend>::configure(sub, args);
      return c.run(args);
    } catch (const Error& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    } catch (const std::bad_alloc&) {
      std::fprintf(stderr, "error: out of memory\n");
      return 1;
    } catch (const std::exception& e) {
      std::fprintf(stderr, "error: %s\n", e.what());
      return 1;
    }
  }
  std::fprintf(stderr, "error: unknown subcommand '%s' (run '%s --help')\n", sub.c_str(),
               prog.c_str());
  return 2;
}

}  // namespace mixln::cli
