// mixln/rng.hpp — reproducible random numbers, independent of the standard library.
//
// std::normal_distribution differs between standard libraries, so mixln draws its own:
// SplitMix64 for integers, Box–Muller for normals. `normal_at(seed, stream, i)` is
// counter-based — the i-th draw of a stream is fixed whatever order tensors are filled in.
#pragma once

#include <cmath>
#include <cstdint>

namespace mixln {

inline std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

// Uniform in (0, 1], 53 bits.
inline double uniform_from_bits(std::uint64_t bits) {
  return (double(bits >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

// The i-th standard normal of stream `stream` under `seed`.
inline double normal_at(std::uint64_t seed, std::uint64_t stream, std::uint64_t i) {
  const std::uint64_t base = splitmix64(seed ^ splitmix64(stream + 0x632be59bd9b4e019ull));
  const std::uint64_t pair = i >> 1;
  const double u1 = uniform_from_bits(splitmix64(base + 2 * pair));
  const double u2 = uniform_from_bits(splitmix64(base + 2 * pair + 1));
  const double r = std::sqrt(-2.0 * std::log(u1));
  const double a = 6.283185307179586 * u2;
  return (i & 1) ? r * std::sin(a) : r * std::cos(a);
}

// A sequential generator whose whole state is one 64-bit word (easy to checkpoint).
struct Rng {
  std::uint64_t state = 0;
  explicit Rng(std::uint64_t seed = 0) : state(seed) {}
  std::uint64_t next() { return splitmix64(state++); }
  double uniform() { return uniform_from_bits(next()); }  // (0, 1]
  // Uniform integer in [0, n).
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = ~std::uint64_t(0) - (~std::uint64_t(0) % n);
    for (;;) {
      const std::uint64_t x = next();
      if (x < limit) return x % n;
    }
  }
};

}  // namespace mixln
