// tests/tools/paper_info.cpp — `info` of the paper's configurations (examples/configs.hpp):
// the layer plan, parameter count and memory plan of llama71m … llama7b, computed by the same
// cli::run_info their trainers run, without building those trainers. CI builds only the
// trainers its tests train (MIXLN_EXAMPLES=tested); each of these would compile a whole
// trainer (engine, optimizer, every subcommand) to print one plan.
//
// usage: paper_info TRAINER info [info's flags]   e.g. paper_info llama7b_mixln info --ranks 8 --zero 1
#include <cstdio>
#include <string>

#include <mixln/cli/cmd_info.hpp>

#include "configs.hpp"

namespace {

template <class Net>
int info(int argc, char** argv) {
  using Backend = mixln::cpu::Backend<float>;
  auto opts = mixln::cli::info_options();
  for (auto& o : mixln::cli::BackendCli<Backend>::options()) opts.push_back(o);
  const mixln::cli::Args args("info", opts, argc, argv, 3);
  mixln::cli::BackendCli<Backend>::configure("info", args);
  return mixln::cli::run_info<Net, Backend>(args);
}

}  // namespace

int main(int argc, char** argv) {
  namespace ex = mixln::examples;
  if (argc < 3 || std::string(argv[2]) != "info") {
    std::fprintf(stderr, "usage: paper_info TRAINER info [flags]\n");
    return 2;
  }
  const std::string trainer = argv[1];
  try {
    if (trainer == "llama71m_mixln") return info<ex::llama71m::mixln>(argc, argv);
    if (trainer == "llama130m_mixln") return info<ex::llama130m::mixln>(argc, argv);
    if (trainer == "llama250m_mixln") return info<ex::llama250m::mixln>(argc, argv);
    if (trainer == "llama250m_sandwich") return info<ex::llama250m::sandwich>(argc, argv);
    if (trainer == "llama1b_mixln") return info<ex::llama1b::mixln>(argc, argv);
    if (trainer == "llama7b_mixln") return info<ex::llama7b::mixln>(argc, argv);
  } catch (const mixln::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::fprintf(stderr, "error: paper_info knows no trainer '%s'\n", trainer.c_str());
  return 2;
}
