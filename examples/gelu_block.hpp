// examples/gelu_block.hpp — a block written outside the library: LLaMA's attention, and an MLP
// without a gate,
//
//   F(h) = mlp.down_proj(gelu_tanh(mlp.up_proj(h)))
//
// as GPT-2 and BERT have. Everything mixln needs is here: the MLP branch's weights (names,
// shapes), its activations, and its forward and backward passes written with backend ops, so
// the same code runs on the CPU and on CUDA; the GELU itself is one MIXLN_HD functor that both
// backends map over the elements; and how the Hugging Face export computes the branch in
// PyTorch (`hf_module`). Any placement wraps the block:
// `Model<Cfg, MixLN<gelu::GeluBlock<Cfg>, 8>>` is `tiny_gelu_mixln`.
#pragma once

#include <cmath>
#include <cstddef>

#include <mixln/math/fast_tanh.hpp>
#include <mixln/mixln.hpp>

namespace gelu {

// gelu_tanh(x) = ½x(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), and its derivative; fast_tanh
// (math/fast_tanh.hpp) vectorises where std::tanh is a library call.
struct GeluTanh {
  template <class T>
  MIXLN_HD static T forward(T x) {
    const T u = T(0.7978845608028654) * (x + T(0.044715) * x * x * x);
    return T(0.5) * x * (T(1) + mixln::fast_tanh(u));
  }
  template <class T>
  MIXLN_HD static T backward(T x, T dy) {
    const T u = T(0.7978845608028654) * (x + T(0.044715) * x * x * x);
    const T t = mixln::fast_tanh(u);
    const T du = T(0.7978845608028654) * (T(1) + T(3 * 0.044715) * x * x);
    return dy * (T(0.5) * (T(1) + t) + T(0.5) * x * (T(1) - t * t) * du);
  }
};

template <class Cfg>
struct GeluMLP {
  static constexpr const char* name = "gelu_mlp";
  // How the Hugging Face export computes it: this class, appended to its modeling_mixln.py
  // (mixln/hf_module.hpp), where torch, nn and F are imported.
  static constexpr mixln::HfModule hf_module{"GeluMLP", R"PY(class GeluMLP(nn.Module):
    """mlp.down_proj(gelu_tanh(mlp.up_proj(x)))"""

    def __init__(self, config):
        super().__init__()
        c, i = config.hidden_size, config.intermediate_size
        self.up_proj, self.down_proj = nn.Linear(c, i, bias=False), nn.Linear(i, c, bias=False)

    def forward(self, x):
        return self.down_proj(F.gelu(self.up_proj(x), approximate="tanh"))
)PY"};
  static constexpr std::size_t C = Cfg::hidden_size, I = Cfg::intermediate_size;

  enum Weight : int { up, down };
  enum Act : int { pre, act, dact };

  static void weights(mixln::WeightList& w) {
    w.linear(up, "mlp.up_proj.weight", I, C);
    w.linear(down, "mlp.down_proj.weight", C, I, /*residual_output=*/true);
  }
  static void activations(mixln::ActivationList& a, std::size_t B, std::size_t T) {
    a.saved(pre, "up", {B * T, I});    // [R, I] before the GELU
    a.saved(act, "gelu", {B * T, I});  // [R, I] after it
    a.scratch(dact, "gelu", {B * T, I});
  }

  template <class Backend, class T>
  static void forward(const mixln::BranchIO<T>& io) {
    const int R = io.rows();
    Backend::linear_forward(io.precision, R, int(I), int(C), io.in, io.w[up], io.act[pre]);
    Backend::template map_forward<GeluTanh>(std::size_t(R) * I, io.act[pre], io.act[act]);
    Backend::linear_forward(io.precision, R, int(C), int(I), io.act[act], io.w[down], io.out);
  }
  template <class Backend, class T>
  static void backward(const mixln::BranchIO<T>& io) {
    const int R = io.rows();
    Backend::linear_backward(io.precision, R, int(C), int(I), io.dout, io.act[act], io.w[down], io.act[dact], io.dw[down]);
    Backend::template map_backward<GeluTanh>(std::size_t(R) * I, io.act[pre], io.act[dact], io.act[dact]);
    Backend::linear_backward(io.precision, R, int(I), int(C), io.act[dact], io.in, io.w[up], io.din, io.dw[up]);
  }
};

// LLaMA's attention (RoPE, no attention norm), then the GELU MLP.
template <class Cfg>
struct GeluBlock {
  using config = Cfg;
  static constexpr const char* name = "gelu";
  using branches = mixln::type_list<mixln::LlamaAttention<Cfg>, GeluMLP<Cfg>>;
};

}  // namespace gelu
