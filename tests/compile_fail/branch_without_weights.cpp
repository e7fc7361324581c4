// expect: block: every branch must define `static constexpr const char* name`, `static void weights(WeightList&)` and `static void activations(ActivationList&, std::size_t B, std::size_t T)`
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
struct Identity {  // forgot weights() and activations()
  static constexpr const char* name = "identity";
};
struct Odd {
  using config = Cfg;
  static constexpr const char* name = "odd";
  using branches = type_list<Identity, SwiGLUMLP<Cfg>>;
};
using Net = Model<Cfg, Stack<PreLN<Odd>, 2>>;
int main() { return Net::num_layers; }
