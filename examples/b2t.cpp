// examples/b2t.cpp — `tiny_b2t`: a trainer for a model whose placement the library does not
// know, defined in b2t.hpp. The first two layers are B2T, the rest Pre-LN — placements from
// inside and outside the library compose in one Stack.
#include "b2t.hpp"

using Cfg = mixln::LlamaConfig<mixln::vocab<512>, mixln::hidden<64>, mixln::intermediate<172>,
                               mixln::heads<4>>;
using Block = mixln::LlamaBlock<Cfg>;
using Net = mixln::Model<Cfg, mixln::Stack<b2t::B2T<Block>, 2, mixln::PreLN<Block>, 6>>;

#ifdef MIXLN_EXAMPLE_CUDA  // tiny_b2t_cuda
#include <mixln/cli/cuda.hpp>
int main(int argc, char** argv) { return mixln::cli::main<Net, mixln::cuda::Backend>(argc, argv); }
#else
int main(int argc, char** argv) { return mixln::cli::main<Net>(argc, argv); }
#endif
