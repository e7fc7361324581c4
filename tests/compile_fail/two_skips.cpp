// expect: placement: at most one sub-layer of a layer may take SkipFromLayerInput
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
struct Three {
  using config = Cfg;
  static constexpr const char* name = "three";
  using branches = type_list<LlamaAttention<Cfg>, SwiGLUMLP<Cfg>, SwiGLUMLP<Cfg>>;
};
template <class B>
struct Skips : placement<B> {
  static constexpr const char* name = "Skips";
  using sublayers = type_list<SubLayer<>, SubLayer<SkipFromLayerInput>, SubLayer<SkipFromLayerInput>>;
};
using Net = Model<Cfg, Stack<Skips<Three>, 2>>;
int main() { return Net::num_layers; }
