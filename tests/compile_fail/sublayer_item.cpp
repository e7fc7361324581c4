// expect: SubLayer: each argument must be PreNorm<Kind, "name">, BranchNorm<Kind, "name">, PostNorm<Kind, "name"> or SkipFromLayerInput
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
using S = SubLayer<RMSNorm>;  // a kind where a slot belongs
int main() { return S::skip_from_layer_input; }
