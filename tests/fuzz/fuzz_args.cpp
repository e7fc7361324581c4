// libFuzzer target: the command line of `train` (cli/args.hpp's Args with train's flags, then
// cli/cmd_train.hpp's train_options_from and TrainOptions::check): the input is split at NUL
// bytes into arguments.
#include <mixln/cli/cmd_train.hpp>
#include <vector>

#include "fuzz_common.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::string> words(1);
  for (std::size_t i = 0; i < size; ++i)
    if (data[i] == 0) words.emplace_back();
    else words.back() += char(data[i]);
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  return mixln::fuzz::accept_or_refuse([&] {
    const mixln::cli::Args a("train", mixln::cli::train_options(), int(argv.size()), argv.data(), 0);
    mixln::cli::train_options_from(a, 64).check();
  });
}
