// A user's trainer: a 6-layer model with a placement sequence of its own.
#include <mixln/mixln.hpp>

using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using Block = LlamaBlock<Cfg>;
using Net = Model<Cfg, Stack<SandwichLN<Block>, 1, PostLN<Block>, 2, LNS<Block>, 3>>;

int main(int argc, char** argv) { return cli::main<Net>(argc, argv); }
