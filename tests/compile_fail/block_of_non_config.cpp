// expect: LlamaBlock: the argument must be a LlamaConfig<vocab<V>, hidden<H>, intermediate<I>, heads<N>>
#include <mixln/mixln.hpp>
using namespace mixln;
using B = LlamaBlock<int>;
int main() { return int(sizeof(B)); }
