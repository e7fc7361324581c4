// libFuzzer target: a Hugging Face folder's model.safetensors.index.json (io/hf_weights.hpp:
// the weight_map naming, for each tensor, the file that holds it) beside two fixed safetensors
// files. A folder that loads has every listed tensor looked up.
#include <mixln/io/hf_weights.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool files = [] {
    namespace st = mixln::safetensors;
    const float a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    st::Writer one, two;
    one.add("model.embed_tokens.weight", {2, 2}, a);
    two.add("lm_head.weight", {1, 2}, b);
    one.write((mixln::fuzz::scratch() / "model-00001-of-00002.safetensors").string());
    two.write((mixln::fuzz::scratch() / "model-00002-of-00002.safetensors").string());
    return true;
  }();
  (void)files;
  mixln::fuzz::write_file("model.safetensors.index.json", data, size);
  return mixln::fuzz::accept_or_refuse([&] {
    const mixln::HfWeights w(mixln::fuzz::scratch().string());
    std::size_t n = 0;
    for (const std::string& name : w.names()) n += w.file_of(name).get(name).numel();
    volatile std::size_t sink = n;
    (void)sink;
  });
}
