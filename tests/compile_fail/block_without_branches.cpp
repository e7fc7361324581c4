// expect: block: a block must define `using branches = mixln::type_list<Branch...>`
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
struct Lonely {
  using config = Cfg;
  static constexpr const char* name = "lonely";
};
using Net = Model<Cfg, Stack<PreLN<Lonely>, 2>>;
int main() { return Net::num_layers; }
