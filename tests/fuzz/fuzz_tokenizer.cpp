// libFuzzer target: a tokenizer.model (data/tokenizer.hpp, SentencePiece's serialized model as
// mixln-prepare writes it and every data folder holds it). A model that loads encodes and
// decodes a sentence.
#include <mixln/data/tokenizer.hpp>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string path = mixln::fuzz::write_file("tokenizer.model", data, size);
  return mixln::fuzz::accept_or_refuse([&] {
    const mixln::Tokenizer t(path);
    const auto ids = t.encode("The jury said it did find that the court had 12 new words.");
    volatile std::size_t sink = ids.size() + t.decode(ids).size() + std::size_t(t.vocab_size());
    (void)sink;
  });
}
