// tests/cuda_cases.hpp — what test_cuda.cpp runs on the GPU: boundary specs, norm kinds and
// models, compared with the CPU backend.
#pragma once

#include <cstdint>
#include <vector>

#include <span>

#include <mixln/mixln.hpp>
#include <mixln/type_list.hpp>
#include <mixln/math/boundary.hpp>
#include <mixln/math/norm_kinds.hpp>

#include "b2t.hpp"
#include "configs.hpp"
#include "example_models.hpp"  // generated from examples/models.txt
#include "gelu_block.hpp"

namespace cuda_cases {

// The batch the model comparisons use: 2 × 32 tokens of the tiny vocabulary (512), every ninth
// label ignored (-100).
struct TinyBatch {
  int B = 2, T = 32;
  std::vector<std::int32_t> tok, lab;
  TinyBatch() : tok(std::size_t(B * T)), lab(std::size_t(B * T)) {
    for (int i = 0; i < B * T; ++i) tok[i] = (i * 37) % 512, lab[i] = i % 9 == 0 ? -100 : (i * 91 + 5) % 512;
  }
};

// The parameters the model comparisons start from: seed 3, std 0.1.
template <class Net>
std::vector<float> tiny_params(const mixln::ParamLayout& lay) {
  std::vector<float> params(lay.total);
  mixln::init_params(lay, Net::num_layers, std::span<float>(params), {.seed = 3, .std = 0.1});
  return params;
}

using R = mixln::RMSNorm;
using N = mixln::LayerNorm;
using Y = mixln::DyT<>;
template <class... K>
using L = mixln::norm_list<K...>;
template <bool Res, bool Skip, bool SkipIn, class Br, class End, class Start>
using Spec = mixln::BoundarySpec<Res, Skip, SkipIn, Br, End, Start>;

// Boundary specs compared with the CPU: each step and each norm kind, alone and in chains.
using specs = mixln::type_list<Spec<false, false, false, L<>, L<>, L<R>>,  // embed | RMSNorm
                               Spec<true, false, false, L<>, L<>, L<>>,    // add
                               Spec<true, false, false, L<>, L<>, L<R>>,   // Pre-LN
                               Spec<true, false, false, L<>, L<R>, L<>>,   // Post-LN
                               Spec<true, false, false, L<>, L<R>, L<R>>,  // Mix-LN transition
                               Spec<true, false, false, L<R>, L<>, L<R>>,  // Sandwich / Peri-LN
                               Spec<true, false, false, L<R>, L<>, L<>>,   // OLMo 2
                               Spec<true, true, true, L<>, L<R>, L<>>,     // B2T
                               Spec<true, false, false, L<N>, L<N>, L<N>>,  // LayerNorm everywhere
                               Spec<true, false, false, L<Y>, L<Y>, L<Y>>,  // DyT everywhere
                               Spec<true, true, true, L<R, N>, L<Y, R>, L<N, Y, R>>>;  // chains
using norm_kinds = mixln::type_list<R, N, Y>;

using tiny = mixln::examples::tiny;
using Cfg = tiny::Block::config;
// Models whose loss and gradients are compared with the CPU: the trainers' of examples/models.txt
// tagged gpu, a B2T stack with LayerNorm, and ViT blocks (attention without a mask, biases, the
// exact GELU) in Mix-LN.
#define MIXLN_EXAMPLE_TYPE(config, placement, label) mixln::examples::config::placement,
using Vit = mixln::VitBlock<Cfg>;
using models = mixln::type_list<MIXLN_EXAMPLES_TAGGED_GPU(MIXLN_EXAMPLE_TYPE)
                                mixln::Model<Cfg, mixln::Stack<b2t::B2T<tiny::Block, N>, 2, mixln::PreLN<tiny::Block>, 2>>,
                                mixln::Model<Cfg, mixln::Stack<mixln::PostLN<Vit, N>, 1, mixln::PreLN<Vit, N>, 3>, N>>;
#undef MIXLN_EXAMPLE_TYPE

}  // namespace cuda_cases
