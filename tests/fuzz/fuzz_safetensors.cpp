// libFuzzer target: a safetensors file (io/safetensors.hpp) — the header's length, its JSON
// (dtypes, shapes, data offsets, __metadata__) and the data it points into. Every tensor of a
// file that loads is read in full.
#include <mixln/io/safetensors.hpp>
#include <vector>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace mixln::safetensors;
  const std::string path = mixln::fuzz::write_file("model.safetensors", data, size);
  return mixln::fuzz::accept_or_refuse([&] {
    const File f(path);
    std::vector<double> values;
    unsigned sum = 0;
    for (const TensorInfo& t : f.tensors()) {
      if (t.dtype == DType::F32 || t.dtype == DType::BF16 || t.dtype == DType::F16) {
        values.resize(t.numel());
        f.read_float(t.name, t.shape, values.data());
      }
      for (const unsigned char* p = f.bytes(t); p != f.bytes(t) + (t.end - t.begin); ++p) sum += *p;
    }
    for (const auto& [key, value] : f.metadata()) sum += unsigned(key.size() + value.size());
    volatile unsigned sink = sum;
    (void)sink;
  });
}
