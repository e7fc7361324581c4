// libFuzzer target: a checkpoint's state.json (train/checkpoint.hpp's verify_checkpoint: step,
// data position, model, run settings, and the files with their sizes and hashes) beside a fixed
// model.safetensors, then what --resume, eval and export read from it.
#include <mixln/train/checkpoint.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const bool model = [] {
    mixln::fuzz::write_file("model.safetensors", std::string("weights of a checkpoint"));
    return true;
  }();
  (void)model;
  mixln::fuzz::write_file("state.json", data, size);
  return mixln::fuzz::accept_or_refuse([&] {
    const nlohmann::json st = mixln::verify_checkpoint(mixln::fuzz::scratch().string());
    long long n = st.at("step").get<long long>();
    if (st.contains("data_sequence")) n += (long long)st.at("data_sequence").get<std::uint64_t>();
    if (st.contains("train")) n += st["train"].value("seq", 256);
    volatile long long sink = n;
    (void)sink;
  });
}
