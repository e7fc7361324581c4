// expect: Engine: a branch lacks `template <class Backend, class T> static void forward(const BranchIO<T>&)`
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
struct Idle {  // declares weights and activations, but cannot run
  static constexpr const char* name = "idle";
  static void weights(WeightList&) {}
  static void activations(ActivationList&, std::size_t, std::size_t) {}
};
struct WithIdle {
  using config = Cfg;
  static constexpr const char* name = "with_idle";
  using branches = type_list<LlamaAttention<Cfg>, Idle>;
};
int main() {
  Engine<Model<Cfg, Stack<PreLN<WithIdle>, 2>>, cpu::Backend<float>> e;
  return int(e.layout().total);
}
