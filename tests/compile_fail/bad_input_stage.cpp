// expect: Model: the fifth argument must be an input stage
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
int main() { return int(Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>>, 2>, RMSNorm, PlainEmbedding, LmHead<Cfg>>::num_layers); }
