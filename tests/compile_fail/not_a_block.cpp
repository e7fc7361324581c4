// expect: block: a block must define `using config = ...`
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Net = Model<Cfg, Stack<PreLN<RMSNorm>, 2>>;  // a norm kind where the block belongs
int main() { return Net::num_layers; }
