// expect: Model: the second argument must be a Stack<Placement, count, ...> (or MixLN)
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Net = Model<Cfg, PreLN<LlamaBlock<Cfg>>>;
int main() { return sizeof(Net); }
