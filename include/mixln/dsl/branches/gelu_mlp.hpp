// mixln/dsl/branches/gelu_mlp.hpp — a Vision Transformer's MLP as a branch: timm's `Mlp`
// (fc1, exact GELU, fc2, both linears with a bias).
//
//   a = gelu(h · W1ᵀ + b1)         [R, I]    (math/gelu.hpp: nn.GELU(), the erf form)
//   F(h) = a · W2ᵀ + b2            [R, C]
//
// Weights as timm names them: mlp.fc1.weight [I, C], mlp.fc1.bias [I], mlp.fc2.weight [C, I],
// mlp.fc2.bias [C].
#pragma once

#include <cstddef>

#include "../../math/gelu.hpp"
#include "../branch.hpp"

namespace mixln {

template <class Cfg>
struct GeluMLP {
  static constexpr const char* name = "gelu_mlp";
  static constexpr std::size_t C = Cfg::hidden_size, I = Cfg::intermediate_size;

  enum Weight : int { fc1_weight, fc1_bias, fc2_weight, fc2_bias };
  enum Act : int {
    pre,   // [R, I] fc1's output with its bias, the GELU's input
    act,   // [R, I] the GELU's output
    dact,  // [R, I] scratch: the gradient of act, then (in place) of pre
  };

  static void weights(WeightList& w) {
    w.linear(fc1_weight, "mlp.fc1.weight", I, C);
    w.bias(fc1_bias, "mlp.fc1.bias", I);
    w.linear(fc2_weight, "mlp.fc2.weight", C, I, /*residual_output=*/true);
    w.bias(fc2_bias, "mlp.fc2.bias", C);
  }

  static void activations(ActivationList& a, std::size_t B, std::size_t T) {
    const std::size_t R = B * T;
    a.saved(pre, "fc1", {R, I});
    a.saved(act, "gelu", {R, I});
    a.scratch(dact, "gelu", {R, I});
  }

  template <class Backend, class T>
  static void forward(const BranchIO<T>& io) {
    const int R = io.rows();
    T *p = io.act[pre], *a = io.act[act];
    Backend::linear_forward(io.precision, R, int(I), int(C), io.in, io.w[fc1_weight], p);
    Backend::bias_forward(R, int(I), io.w[fc1_bias], p);
    Backend::template map_forward<GeluErf>(std::size_t(R) * I, p, a);
    Backend::linear_forward(io.precision, R, int(C), int(I), a, io.w[fc2_weight], io.out);
    Backend::bias_forward(R, int(C), io.w[fc2_bias], io.out);
  }

  template <class Backend, class T>
  static void backward(const BranchIO<T>& io) {
    const int R = io.rows();
    T* d = io.act[dact];
    Backend::linear_backward(io.precision, R, int(C), int(I), io.dout, io.act[act], io.w[fc2_weight], d,
                             io.dw[fc2_weight]);
    Backend::bias_backward(R, int(C), io.dout, io.dw[fc2_bias]);
    Backend::template map_backward<GeluErf>(std::size_t(R) * I, io.act[pre], d, d);
    Backend::linear_backward(io.precision, R, int(I), int(C), d, io.in, io.w[fc1_weight], io.din, io.dw[fc1_weight]);
    Backend::bias_backward(R, int(I), d, io.dw[fc1_bias]);
  }
};

}  // namespace mixln
