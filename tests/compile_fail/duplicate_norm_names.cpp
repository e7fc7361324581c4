// expect: placement: two norms of one placement share a weight name
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
template <class B>
struct Twice : placement<B> {
  static constexpr const char* name = "Twice";
  using attn = SubLayer<PreNorm<RMSNorm, "norm">>;
  using mlp = SubLayer<PreNorm<LayerNorm, "norm">>;
};
using Net = Model<Cfg, Stack<Twice<LlamaBlock<Cfg>>, 2>>;
int main() { return Net::num_layers; }
