// mixln/mirrored_buffer.hpp — a buffer in a backend's memory with a host view.
//
// On a host backend (the CPU) the host view *is* the buffer and syncing does nothing; on a
// device backend the host view is a mirror that `to_device()` / `to_host()` copy across.
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
    if constexpr (!Backend::host_memory) host_.resize(n);
  }
  std::size_t size() const { return dev_.size(); }

  T* device() { return dev_.data(); }
  const T* device() const { return dev_.data(); }
  std::span<T> host() {
    if constexpr (Backend::host_memory) return {dev_.data(), dev_.size()};
    else return host_.span();
  }
  std::span<const T> host() const {
    if constexpr (Backend::host_memory) return {dev_.data(), dev_.size()};
    else return host_.span();
  }
  void to_device() {
    if constexpr (!Backend::host_memory) Backend::copy_to_device(dev_.data(), host_.data(), size());
  }
  void to_host() {
    if constexpr (!Backend::host_memory) Backend::copy_to_host(host_.data(), dev_.data(), size());
  }
  void zero() { Backend::zero(dev_.data(), size()); }

 private:
  typename Backend::template buffer<T> dev_;
  AlignedBuffer<T> host_;  // unused on host backends
};

}  // namespace mixln
