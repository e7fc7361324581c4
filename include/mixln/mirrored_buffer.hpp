// mixln/mirrored_buffer.hpp — a buffer in a backend's memory with a host view.
//
// On a host backend (the CPU) the host view *is* the buffer and syncing does nothing; on a
// device backend the host view is a mirror that `to_device()` / `to_host()` copy across,
// allocated on first use (a rank that never saves or inspects its buffers holds no mirror: at
// LLaMA-7B sizes four mirrors would be 108 GB of host memory per rank).
// Parameters, gradients and optimizer moments use it, so initialisation, loading, saving and
// analysis code is written once for every backend.
#pragma once

#include <cstddef>
#include <span>

#include "buffer.hpp"

namespace mixln {

template <class Backend, class T>
class MirroredBuffer {
 public:
  explicit MirroredBuffer(std::size_t n = 0) { resize(n); }
  void resize(std::size_t n) {
    dev_.resize(n);
    if constexpr (!Backend::host_memory) host_.resize(0);
  }
  std::size_t size() const { return dev_.size(); }

  T* device() { return dev_.data(); }
  const T* device() const { return dev_.data(); }
  std::span<T> host() {
    if constexpr (Backend::host_memory) return {dev_.data(), dev_.size()};
    else return mirror().span();
  }
  std::span<const T> host() const {
    if constexpr (Backend::host_memory) return {dev_.data(), dev_.size()};
    else return mirror().span();
  }
  void to_device() {
    if constexpr (!Backend::host_memory) Backend::copy_to_device(dev_.data(), mirror().data(), size());
  }
  void to_host() {
    if constexpr (!Backend::host_memory) Backend::copy_to_host(mirror(/*zeroed=*/false).data(), dev_.data(), size());
  }
  void zero() { Backend::zero(dev_.data(), size()); }

 private:
  // The mirror, allocated on first use: zeroed, unless the caller overwrites all of it.
  AlignedBuffer<T>& mirror(bool zeroed = true) const {
    if (host_.size() != size()) {
      host_.resize(size());
      if (zeroed) host_.zero();
    }
    return host_;
  }
  typename Backend::template buffer<T> dev_;
  mutable AlignedBuffer<T> host_;  // unused on host backends; allocated by the first mirror()
};

}  // namespace mixln
