// expect: Engine: the backend lacks a dense op
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
// A backend that wraps the CPU one but forgot attention.
struct NoAttention : cpu::Backend<float> {
  static void attention_forward() = delete;
};
int main() {
  Engine<Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>>, 2>>, NoAttention> e;
  return int(e.layout().total);
}
