// mixln/schedule/plan.hpp — one allocation for all activations, carved into named slots.
//
// A plan is a list of (name, shape) slots with 64-byte aligned offsets, built once from the
// model type and the runtime batch shape; `info` prints it, the engine allocates its total.
#pragma once

#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "../error.hpp"

namespace mixln {

struct ActivationPlan {
  struct Slot {
    std::string name;
    std::vector<std::size_t> shape;
    std::size_t offset = 0;  // in elements
    std::size_t count = 0;   // elements
    bool backward = false;   // needed only by the backward pass
  };
  std::size_t elem_bytes = 4;
  std::vector<Slot> slots;
  std::size_t total = 0;  // elements, including alignment padding

  int add(std::string name, std::vector<std::size_t> shape, bool backward = false) {
    Slot s;
    s.name = std::move(name);
    s.shape = std::move(shape);
    s.count = 1;
    bool overflow = false;
    for (auto d : s.shape) overflow |= __builtin_mul_overflow(s.count, d, &s.count);
    const std::size_t align = 64 / elem_bytes;
    total = (total + align - 1) / align * align;
    s.offset = total;
    s.backward = backward;
    std::size_t bytes = 0;
    overflow |= __builtin_add_overflow(total, s.count, &total) || __builtin_mul_overflow(total, elem_bytes, &bytes);
    if (overflow)
      throw std::length_error("activation '" + s.name + "' " + format_shape(s.shape) +
                              " makes the plan larger than 64-bit sizes can count");
    slots.push_back(std::move(s));
    return int(slots.size()) - 1;
  }

  std::size_t bytes() const { return total * elem_bytes; }
  std::size_t forward_bytes() const {
    std::size_t n = 0;
    for (auto& s : slots)
      if (!s.backward) n += s.count;
    return n * elem_bytes;
  }
};


inline std::string format_bytes(double b) {
  const char* unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, unit[u]);
  return buf;
}

}  // namespace mixln
