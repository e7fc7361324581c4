// expect: norm kind: a norm kind must define the MIXLN_HD functions statistics(row, in, x, st), apply(st, x, j, w) and backward(row, x, st, w, dout, din, dw)
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
struct HalfNorm {  // declares itself but has no math
  static constexpr const char* name = "HalfNorm";
  static constexpr std::array<NormParam, 0> params{};
  static constexpr int num_stats = 0;
};
using Net = Model<Cfg, Stack<PostLN<LlamaBlock<Cfg>, HalfNorm>, 2>>;
int main() { return Net::num_layers; }
