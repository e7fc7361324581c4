// expect: placement: skip_from_layer_input is only meaningful on the MLP sub-layer
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
template <class B>
struct Odd : placement<B> {
  static constexpr const char* name = "Odd";
  static constexpr SubLayerNorms attn{.post = "a", .skip_from_layer_input = true};
  static constexpr SubLayerNorms mlp{.post = "b"};
};
using Net = Model<Cfg, Stack<Odd<LlamaBlock<Cfg>>, 2>>;
int main() { return Net::num_layers; }
