// expect: placement: a placement must define `static constexpr const char* name`
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
template <class B>
struct Nameless : placement<B> {
  using attn = SubLayer<PreNorm<RMSNorm, "a">>;
  using mlp = SubLayer<PreNorm<RMSNorm, "b">>;
};
using Net = Model<Cfg, Stack<Nameless<LlamaBlock<Cfg>>, 2>>;
int main() { return Net::num_layers; }
