// expect: placement: a placement must define its sub-layers
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
template <class B>
struct Empty : placement<B> {
  static constexpr const char* name = "Empty";
};
using Net = Model<Cfg, Stack<Empty<LlamaBlock<Cfg>>, 2>>;
int main() { return Net::num_layers; }
