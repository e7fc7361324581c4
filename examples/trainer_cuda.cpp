// examples/trainer_cuda.cpp — the `<config>_<placement>_cuda` trainers: the same model types
// as trainer.cpp, scheduled from the same types, run on the CUDA backend.
#include <mixln/cli/cuda.hpp>

#include "configs.hpp"

#ifndef MIXLN_EXAMPLE_CONFIG
#error "compile with -DMIXLN_EXAMPLE_CONFIG=<config> -DMIXLN_EXAMPLE_PLACEMENT=<placement>"
#endif

using Net = mixln::examples::MIXLN_EXAMPLE_CONFIG::MIXLN_EXAMPLE_PLACEMENT;

int main(int argc, char** argv) { return mixln::cli::main<Net, mixln::cuda::Backend>(argc, argv); }
