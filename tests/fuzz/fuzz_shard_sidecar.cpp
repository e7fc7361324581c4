// libFuzzer target: a token shard's JSON sidecar (data/shards.hpp: dtype, count, vocab_size,
// documents, tokenizer, source) beside a fixed shard of 64 uint16 tokens. A shard that loads has
// every token read through TokenStream.
#include <mixln/data/shards.hpp>
#include <vector>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::string bin = [] {
    std::string bytes;
    for (std::uint16_t t = 0; t < 64; ++t) bytes += char(t * 7 % 512 & 0xff), bytes += char((t * 7 % 512) >> 8);
    return mixln::fuzz::write_file("train.bin", bytes);
  }();
  mixln::fuzz::write_file("train.bin.json", data, size);
  return mixln::fuzz::accept_or_refuse([&] {
    const mixln::ShardInfo info = mixln::read_sidecar(bin);
    mixln::TokenStream stream({bin}, 512);
    std::vector<std::int32_t> tokens(stream.size());
    stream.read(0, tokens.size(), tokens.data());
    unsigned sum = unsigned(info.count);
    for (const std::int32_t t : tokens) sum += unsigned(t);
    volatile unsigned sink = sum;
    (void)sink;
  });
}
