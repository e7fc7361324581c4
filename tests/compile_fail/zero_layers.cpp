// expect: Stack: the stack has no layers (every count is 0)
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using B = LlamaBlock<Cfg>;
using Net = Model<Cfg, Stack<PreLN<B>, 0, PostLN<B>, 0>>;
int main() { return Net::num_layers; }
