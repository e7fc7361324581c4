// expect: LlamaConfig: give vocab<V> exactly once
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<hidden<64>, intermediate<172>, heads<4>>;
int main() { return int(Cfg::hidden_size); }
