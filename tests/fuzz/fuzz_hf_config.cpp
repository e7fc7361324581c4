// libFuzzer target: a Hugging Face folder's config.json (io/hf_config.hpp) as `--model` and
// `import-hf` read it: parsed, then checked against a model type (tiny_mixln's and tiny_dyt's
// layers, so that both a `llama` config and a mixln export that describes its layers get deep).
#include <mixln/io/hf_config.hpp>
#include <mixln/mixln.hpp>

#include "configs.hpp"
#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  mixln::fuzz::write_file("config.json", data, size);
  const std::string dir = mixln::fuzz::scratch().string();
  return mixln::fuzz::accept_or_refuse([&] {
    const nlohmann::json j = mixln::read_hf_config(dir);
    try {
      mixln::check_hf_config<mixln::examples::tiny::mixln>(j, dir);
    } catch (const mixln::Error&) {
    }
    mixln::check_hf_config<mixln::examples::tiny::preln>(j, dir);
  });
}
