// expect: Stack: layer counts must be >= 0
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using B = LlamaBlock<Cfg>;
using Net = Model<Cfg, Stack<PreLN<B>, 4, PostLN<B>, -1>>;
int main() { return Net::num_layers; }
