// A user's trainer: a 6-layer model of the user's own norm kind, block and placement
// (my_model.hpp) mixed with the library's.
#include "my_model.hpp"

using Cfg = mixln::LlamaConfig<mixln::vocab<512>, mixln::hidden<64>, mixln::intermediate<172>, mixln::heads<4>>;

int main(int argc, char** argv) { return mixln::cli::main<my::Net<Cfg>>(argc, argv); }
