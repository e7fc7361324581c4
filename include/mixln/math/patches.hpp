// mixln/math/patches.hpp — non-overlapping P×P patches of images as the rows of one GEMM's input
// (a ViT's patch embedding: a convolution with stride = kernel = P is a matrix product).
//
//   images  [B, H, W, c]          row-major, channels last
//   patches [B·(H/P)·(W/P), c·P·P] row b·(H/P)(W/P) + py·(W/P) + px: the patch at (py, px), its
//                                  columns in (channel, ky, kx) order — nn.Conv2d's weight
//                                  [C, c, P, P] flattened, so that proj.weight · patch is the conv
#pragma once

#include <cstddef>

#include "../config.hpp"

namespace mixln {

// The index in `images` of element e of `patches`.
MIXLN_HD std::size_t patch_source(std::size_t e, int height, int width, int channels, int patch) {
  const std::size_t cols = std::size_t(channels) * patch * patch, row = e / cols, q = e % cols;
  const int gx = width / patch, gy = height / patch;
  const std::size_t per_image = std::size_t(gx) * gy;
  const std::size_t b = row / per_image, i = row % per_image;
  const int py = int(i / gx), px = int(i % gx);
  const int c = int(q / (std::size_t(patch) * patch)), k = int(q % (std::size_t(patch) * patch));
  const int y = py * patch + k / patch, x = px * patch + k % patch;
  return ((b * height + y) * width + x) * channels + c;
}

}  // namespace mixln
