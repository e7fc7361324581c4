// mixln/cpu/aligned_scratch.hpp — per-thread scratch arrays that grow and are kept, for copies
// made inside ops that may run in OpenMP parallel loops (the bf16 GEMM's rounded inputs).
#pragma once

#include <array>
#include <cstddef>

#include "../buffer.hpp"

namespace mixln::cpu {

// Slot `slot` (0..11) of the calling thread, at least n elements of T, 64-byte aligned; its
// contents are whatever the last user left. Each slot holds one element type per thread.
template <class T>
T* scratch(int slot, std::size_t n) {
  thread_local std::array<AlignedBuffer<T>, 12> slots;
  AlignedBuffer<T>& b = slots[std::size_t(slot)];
  if (b.size() < n) b.resize(n);
  return b.data();
}

}  // namespace mixln::cpu
