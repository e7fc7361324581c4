// expect: LlamaConfig: every argument must be one of vocab<V>, hidden<H>, intermediate<I>, heads<N>
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>, int>;
int main() { return int(Cfg::hidden_size); }
