// expect: Model: the sixth argument must be a head
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
int main() {
  return int(Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>>, 2>, RMSNorm, PlainEmbedding, TokenEmbedding<Cfg>, RMSNorm>::num_layers);
}
