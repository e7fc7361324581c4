// expect: Model: the third argument (the final norm) must be a norm kind such as RMSNorm, LayerNorm or DyT<>
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Net = Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>>, 2>, float>;
int main() { return Net::num_layers; }
