// expect: LlamaConfig: heads<N> must divide hidden<H>
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<5>>;
int main() { return int(Cfg::head_dim); }
