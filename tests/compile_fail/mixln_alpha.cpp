// expect: MixLN: alpha (a std::ratio) must lie in [0, 1]
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Net = Model<Cfg, MixLN<LlamaBlock<Cfg>, 12, std::ratio<5, 4>>>;
int main() { return Net::num_layers; }
