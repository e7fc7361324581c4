// expect: norm kind: a norm kind must define `static constexpr const char* name`
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Net = Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>, int>, 2>>;  // int is no norm kind
int main() { return Net::num_layers; }
