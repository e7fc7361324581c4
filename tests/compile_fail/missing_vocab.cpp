// expect: TokenEmbedding: the model's config needs vocab<V>
#include <mixln/mixln.hpp>
using namespace mixln;
// vocab<V> may be left out of a config (a ViT has none), but not from a language model's
using Cfg = LlamaConfig<hidden<64>, intermediate<172>, heads<4>>;
int main() { return int(Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>>, 2>>::num_layers); }
