// mixln/schedule/plan.hpp — one allocation for all activations, carved into named slots.
//
// A plan is a list of (name, shape, element type) slots with 64-byte aligned offsets, built once
// from the model type, the runtime batch shape and the precision; `info` prints it, the engine
// allocates its total.
#pragma once

#include <cstddef>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <vector>

#include "../error.hpp"

namespace mixln {

// The element type of a slot: the engine's scalar (fp32; fp64 in the double-precision tests) or
// bf16 (act_ptr.hpp).
enum class SlotType { scalar, bf16 };

struct ActivationPlan {
  struct Slot {
    std::string name;
    std::vector<std::size_t> shape;
    std::size_t offset = 0;  // in bytes from the start of the arena, 64-byte aligned
    std::size_t count = 0;   // elements
    bool backward = false;   // needed only by the backward pass
    SlotType type = SlotType::scalar;
    std::size_t elem_bytes = 4;
    std::size_t bytes() const { return count * elem_bytes; }
  };
  std::size_t scalar_bytes = 4;  // sizeof the engine's scalar
  std::vector<Slot> slots;
  std::size_t total_bytes = 0;   // including alignment padding

  int add(std::string name, std::vector<std::size_t> shape, bool backward = false,
          SlotType type = SlotType::scalar) {
    Slot s;
    s.name = std::move(name);
    s.shape = std::move(shape);
    s.type = type;
    s.elem_bytes = type == SlotType::bf16 ? 2 : scalar_bytes;
    s.count = 1;
    bool overflow = false;
    for (auto d : s.shape) overflow |= __builtin_mul_overflow(s.count, d, &s.count);
    total_bytes = (total_bytes + 63) / 64 * 64;
    s.offset = total_bytes;
    s.backward = backward;
    std::size_t bytes = 0;
    overflow |= __builtin_mul_overflow(s.count, s.elem_bytes, &bytes) ||
                __builtin_add_overflow(total_bytes, bytes, &total_bytes);
    if (overflow)
      throw std::length_error("activation '" + s.name + "' " + format_shape(s.shape) +
                              " makes the plan larger than 64-bit sizes can count");
    slots.push_back(std::move(s));
    return int(slots.size()) - 1;
  }

  std::size_t bytes() const { return total_bytes; }
  // The slots a forward pass keeps for backward (without the backward-only buffers).
  std::size_t forward_bytes() const {
    std::size_t n = 0;
    for (auto& s : slots)
      if (!s.backward) n += s.bytes();
    return n;
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
