// expect: Model: a layer's block was built for a different LlamaConfig than the Model's
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Other = LlamaConfig<vocab<512>, hidden<128>, intermediate<172>, heads<4>>;
using Net = Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>>, 2, PostLN<LlamaBlock<Other>>, 2>>;
int main() { return Net::num_layers; }
