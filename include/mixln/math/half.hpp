// mixln/math/half.hpp — bfloat16 and IEEE half bit conversions (portable, host and device).
#pragma once

#include <cstdint>

#include "../config.hpp"

namespace mixln {

// __builtin_bit_cast (GCC, Clang, nvcc): a register move that keeps loops vectorisable.
MIXLN_HD std::uint32_t float_bits(float f) { return __builtin_bit_cast(std::uint32_t, f); }
MIXLN_HD float bits_float(std::uint32_t u) { return __builtin_bit_cast(float, u); }

MIXLN_HD float bf16_to_float(std::uint16_t h) { return bits_float(std::uint32_t(h) << 16); }

// Round to nearest even; NaN stays NaN.
MIXLN_HD std::uint16_t float_to_bf16(float f) {
  const std::uint32_t u = float_bits(f);
  if ((u & 0x7fffffffu) > 0x7f800000u) return std::uint16_t((u >> 16) | 0x40);
  const std::uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return std::uint16_t((u + rounding) >> 16);
}

// A bf16 value as stored in an activation (act_ptr.hpp): its bits, a type of its own so that a
// bf16 tensor is never taken for a float or an integer one.
struct bf16_t {
  std::uint16_t bits;
};
MIXLN_HD float to_float(bf16_t h) { return bf16_to_float(h.bits); }
MIXLN_HD float to_float(float f) { return f; }
MIXLN_HD double to_float(double f) { return f; }
// Stores v in a tensor of element type E: rounded to nearest even for bf16, as is otherwise.
template <class E, class V>
MIXLN_HD E from_float(V v) {
  if constexpr (sizeof(E) == 2) return E{float_to_bf16(float(v))};
  else return E(v);
}

MIXLN_HD float f16_to_float(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  std::uint32_t exp = (h >> 10) & 0x1fu;
  std::uint32_t man = h & 0x3ffu;
  if (exp == 0x1f) return bits_float(sign | 0x7f800000u | (man << 13));  // inf / nan
  if (exp == 0) {
    if (man == 0) return bits_float(sign);
    // subnormal: normalise
    int e = -1;
    do {
      ++e;
      man <<= 1;
    } while (!(man & 0x400u));
    man &= 0x3ffu;
    return bits_float(sign | (std::uint32_t(127 - 15 - e) << 23) | (man << 13));
  }
  return bits_float(sign | ((exp + (127 - 15)) << 23) | (man << 13));
}

}  // namespace mixln
