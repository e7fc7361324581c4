// expect: placement: the placement gives a different number of sub-layers than its block has branches
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
struct MlpOnly {
  using config = Cfg;
  static constexpr const char* name = "mlp_only";
  using branches = type_list<SwiGLUMLP<Cfg>>;
};
using Net = Model<Cfg, Stack<PreLN<MlpOnly>, 2>>;  // PreLN names two sub-layers
int main() { return Net::num_layers; }
