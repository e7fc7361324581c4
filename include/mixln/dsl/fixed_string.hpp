// mixln/dsl/fixed_string.hpp — a string literal usable as a template argument, so that a norm
// slot carries its weight name in its type: PreNorm<RMSNorm, "input_layernorm">.
#pragma once

#include <cstddef>

namespace mixln {

template <std::size_t N>
struct fixed_string {
  char value[N]{};
  constexpr fixed_string(const char (&s)[N]) {
    for (std::size_t i = 0; i < N; ++i) value[i] = s[i];
  }
  constexpr const char* c_str() const { return value; }
  constexpr std::size_t size() const { return N - 1; }
  template <std::size_t M>
  constexpr bool operator==(const fixed_string<M>& o) const {
    if (M != N) return false;
    for (std::size_t i = 0; i < N; ++i)
      if (value[i] != o.value[i]) return false;
    return true;
  }
};

}  // namespace mixln
