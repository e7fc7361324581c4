// libFuzzer target: the IDX files of MNIST and Fashion-MNIST (data/idx.hpp's parse_idx, after
// mixln-prepare-images has decompressed them): magic, dimensions, data size.
#include <mixln/data/idx.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::vector<std::uint8_t> bytes(data, data + size);
  return mixln::fuzz::accept_or_refuse([&] {
    const mixln::IdxArray a = mixln::parse_idx(bytes, "images.idx");
    std::size_t n = 1;
    for (const std::uint64_t d : a.dims) n *= std::size_t(d);
    if (n != a.data.size()) __builtin_trap();  // the parser's promise: the data is the dims' product
  });
}
