// examples/configs.hpp — the model configurations of DESIGN.md section 6, each with the six
// placements the paper compares. A trainer is `<config>::<placement>`, e.g. tiny::mixln.
#pragma once

#include <mixln/mixln.hpp>

namespace mixln::examples {

// The six placements of one configuration of L layers (Mix-LN with α = Alpha).
template <class Cfg, int L, class Alpha = std::ratio<1, 4>>
struct Placements {
  using Block = LlamaBlock<Cfg>;
  using preln = Model<Cfg, Stack<PreLN<Block>, L>>;
  using postln = Model<Cfg, Stack<PostLN<Block>, L>>;
  using mixln = Model<Cfg, MixLN<Block, L, Alpha>>;
  using deepnorm = Model<Cfg, Stack<DeepNorm<Block>, L>>;
  using sandwich = Model<Cfg, Stack<SandwichLN<Block>, L>>;
  using lns = Model<Cfg, Stack<LNS<Block>, L>>;
};

// Tests: vocab 512, hidden 64, intermediate 172, heads 4, 8 layers.
using tiny = Placements<LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>, 8>;
// CPU runs and benchmarks: vocab 4096, hidden 256, intermediate 688, heads 4, 8 layers.
using small = Placements<LlamaConfig<vocab<4096>, hidden<256>, intermediate<688>, heads<4>>, 8>;

}  // namespace mixln::examples
