// mixln/data/image_loader.hpp — batches of (pixels, label) from an image split
// (image_shards.hpp), as a vision model reads them.
//
// Pixels come out as floats [B, H, W, C] (the split's layout), each (p/255 − mean_c)/std_c with
// the per-channel statistics of the training split (pixel_statistics). Training visits the
// images of each epoch in an order drawn from (seed, epoch) (EpochOrder, loader.hpp), and its
// optional augmentation — a random crop of the image padded by `pad` zero pixels on each side,
// a horizontal flip with probability 1/2 — is drawn from (seed, sequence): the batch read as the
// k-th of training is a function of k alone, so a resumed run reads what it would have read.
#pragma once

#include <cmath>
#include <cstdint>
#include <vector>

#include "../error.hpp"
#include "../rng.hpp"
#include "image_shards.hpp"
#include "loader.hpp"

namespace mixln {

// Per-channel mean and standard deviation of p/255 over every pixel of a split.
struct PixelStatistics {
  std::vector<float> mean, std;
};
inline PixelStatistics pixel_statistics(const ImageSplit& s) {
  const std::uint64_t C = s.channels(), per_image = s.image_bytes();
  std::vector<double> sum(C, 0.0), sq(C, 0.0);
  for (std::uint64_t i = 0; i < s.size(); ++i) {
    const std::uint8_t* p = s.image(i);
    for (std::uint64_t k = 0; k < per_image; ++k) {
      const double v = p[k] / 255.0;
      sum[k % C] += v;
      sq[k % C] += v * v;
    }
  }
  PixelStatistics st;
  const double n = double(s.size()) * double(per_image / C);
  for (std::uint64_t c = 0; c < C; ++c) {
    const double m = sum[c] / n;
    st.mean.push_back(float(m));
    st.std.push_back(float(std::sqrt(std::max(sq[c] / n - m * m, 1e-12))));
  }
  return st;
}

struct ImageAugment {
  int pad = 0;        // random crop of the image padded by this many zero pixels per side (0: none)
  bool flip = false;  // horizontal flip with probability 1/2
};

class ImageLoader {
 public:
  ImageLoader(const ImageSplit& split, PixelStatistics stats, std::uint64_t seed, bool shuffle,
              ImageAugment augment = {})
      : split_(&split), stats_(std::move(stats)), seed_(seed), augment_(augment),
        order_(split.size(), seed, shuffle) {
    if (stats_.mean.size() != split.channels() || stats_.std.size() != split.channels())
      throw Error("image loader: statistics for " + std::to_string(stats_.mean.size()) + " channels, the images have " +
                  std::to_string(split.channels()));
    if (augment_.pad < 0 || std::uint64_t(augment_.pad) >= std::min(split.height(), split.width()))
      throw Error("image loader: a crop padding of " + std::to_string(augment_.pad) + " pixels for " +
                  std::to_string(split.height()) + "×" + std::to_string(split.width()) + " images");
  }

  std::uint64_t size() const { return order_.size(); }
  std::uint64_t image_of(std::uint64_t sequence) { return order_(sequence); }

  // B images starting at `sequence`: pixels [B, H, W, C] and labels [B].
  void fill(std::uint64_t sequence, int B, float* x, std::int32_t* labels) {
    const auto H = std::int64_t(split_->height()), W = std::int64_t(split_->width()), C = std::int64_t(split_->channels());
    std::vector<float> zero(static_cast<std::size_t>(C));  // a padded pixel: raw 0, normalised
    for (std::int64_t c = 0; c < C; ++c) zero[std::size_t(c)] = -stats_.mean[std::size_t(c)] / stats_.std[std::size_t(c)];
    for (int b = 0; b < B; ++b) {
      const std::uint64_t k = sequence + std::uint64_t(b), i = image_of(k);
      labels[b] = split_->label(i);
      // the crop's offset in [-pad, pad] per axis and the flip, from (seed, k)
      std::int64_t dy = 0, dx = 0;
      bool flip = false;
      if (augment_.pad > 0 || augment_.flip) {
        Rng rng(splitmix64(seed_ ^ splitmix64(k + 0x696d616765ull)));
        const auto span = std::uint64_t(2 * augment_.pad + 1);
        dy = std::int64_t(rng.below(span)) - augment_.pad;
        dx = std::int64_t(rng.below(span)) - augment_.pad;
        flip = augment_.flip && rng.below(2) == 1;
      }
      const std::uint8_t* src = split_->image(i);
      float* out = x + std::size_t(b) * std::size_t(H * W * C);
      for (std::int64_t y = 0; y < H; ++y)
        for (std::int64_t xo = 0; xo < W; ++xo) {
          const std::int64_t sy = y + dy, sx = (flip ? W - 1 - xo : xo) + dx;
          float* o = out + (y * W + xo) * C;
          if (sy < 0 || sy >= H || sx < 0 || sx >= W) {
            for (std::int64_t c = 0; c < C; ++c) o[c] = zero[std::size_t(c)];
            continue;
          }
          const std::uint8_t* p = src + (sy * W + sx) * C;
          for (std::int64_t c = 0; c < C; ++c)
            o[c] = (float(p[c]) / 255.0f - stats_.mean[std::size_t(c)]) / stats_.std[std::size_t(c)];
        }
    }
  }

 private:
  const ImageSplit* split_;
  PixelStatistics stats_;
  std::uint64_t seed_;
  ImageAugment augment_;
  EpochOrder order_;
};

}  // namespace mixln
