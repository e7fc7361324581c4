// expect: Stack: each layer type must be a placement
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Net = Model<Cfg, Stack<LlamaBlock<Cfg>, 4>>;  // a block, not a placement
int main() { return Net::num_layers; }
