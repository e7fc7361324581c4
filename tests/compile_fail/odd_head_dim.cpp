// expect: LlamaConfig: the head dimension hidden/heads must be even for RoPE
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<60>, intermediate<172>, heads<4>>;
int main() { return int(Cfg::head_dim); }
