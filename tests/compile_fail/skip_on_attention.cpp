// expect: placement: SkipFromLayerInput is only meaningful after the first sub-layer
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
template <class B>
struct Odd : placement<B> {
  static constexpr const char* name = "Odd";
  using attn = SubLayer<PostNorm<RMSNorm, "a">, SkipFromLayerInput>;
  using mlp = SubLayer<PostNorm<RMSNorm, "b">>;
};
using Net = Model<Cfg, Stack<Odd<LlamaBlock<Cfg>>, 2>>;
int main() { return Net::num_layers; }
