// examples/trainer.cpp — the source of every `<config>_<placement>` trainer. CMake compiles
// it once per trainer with MIXLN_EXAMPLE_CONFIG and MIXLN_EXAMPLE_PLACEMENT set (e.g. tiny and
// mixln), and once more with MIXLN_EXAMPLE_CUDA for `<config>_<placement>_cuda`. Written out
// for one model, a trainer is just:
//
//   using Cfg = mixln::LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
//   using Net = mixln::Model<Cfg, mixln::MixLN<mixln::LlamaBlock<Cfg>, 8>>;
//   int main(int argc, char** argv) { return mixln::cli::main<Net>(argc, argv); }
#include "configs.hpp"

#ifndef MIXLN_EXAMPLE_CONFIG
#error "compile with -DMIXLN_EXAMPLE_CONFIG=<config> -DMIXLN_EXAMPLE_PLACEMENT=<placement>"
#endif

using Config = mixln::examples::MIXLN_EXAMPLE_CONFIG;
using Net = Config::MIXLN_EXAMPLE_PLACEMENT;

#ifdef MIXLN_EXAMPLE_CUDA
#include <mixln/cli/cuda.hpp>
int main(int argc, char** argv) {
  return mixln::cli::main<Net, mixln::cuda::Backend>(argc, argv, Config::defaults);
}
#else
int main(int argc, char** argv) { return mixln::cli::main<Net>(argc, argv, Config::defaults); }
#endif
