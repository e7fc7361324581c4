// examples/prepare.cpp — `mixln-prepare`: text files → tokenizer + train/val token shards.
//
//   mixln-prepare --text FILE... --vocab V --out DIR [--val-frac 0.05] [--seed 0]
//                 [--model-type unigram|bpe] [--threads N]

#include <cstdio>
#include <mixln/cli/args.hpp>
#include <mixln/data/prepare.hpp>

int main(int argc, char** argv) {
  using namespace mixln;
  const std::vector<cli::Option> opts = {
      {"text", true, "FILE...: UTF-8 text files (each a document; one file: blank lines separate documents)", true},
      {"vocab", true, "V: vocabulary size (must equal the model's)"},
      {"out", true, "DIR: writes tokenizer.model, train.bin, val.bin and their .json sidecars"},
      {"val-frac", true, "fraction of documents held out for validation (0.05)"},
      {"seed", true, "S: the train/validation split and tokenizer sampling (0)"},
      {"model-type", true, "unigram or bpe (unigram)"},
      {"threads", true, "N: the tokenizer trainer's threads (2: SentencePiece's result depends on N, so the\n"
                                 "                 default is the same on every machine, whatever its cores)"},
  };
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf("usage: mixln-prepare --text FILE... --vocab V --out DIR [flags]\n\nflags:\n");
      for (auto& o : opts) std::printf("  --%-12s %s\n", o.name.c_str(), o.help.c_str());
      return 0;
    }
  try {
    cli::Args a("mixln-prepare", opts, argc, argv, 1);
    PrepareOptions p;
    p.texts = a.list("text");
    if (p.texts.empty()) throw Error("mixln-prepare needs --text FILE...");
    p.vocab_size = int(a.required_integer("vocab", 1, 1 << 24));
    p.out = a.required("out");
    p.val_frac = a.real("val-frac", 0.05, 0.0, 1.0, /*open_lo=*/true);
    p.seed = a.seed("seed");
    p.model_type = a.str("model-type", "unigram");
    // SentencePiece splits its training over these threads and merges their partial sums, so the
    // tokenizer (and every token) depends on the number: the library's fixed default, not the
    // machine's cores, keeps the shards the same on every machine
    p.threads = a.int32("threads", PrepareOptions{}.threads, 1, 1024);
    const PrepareSummary s = prepare_data(p);
    std::printf("{\"documents\": %zu, \"train_documents\": %zu, \"val_documents\": %zu, "
                "\"train_tokens\": %llu, \"val_tokens\": %llu, \"out\": \"%s\"}\n",
                s.documents, s.train_documents, s.val_documents, (unsigned long long)s.train_tokens,
                (unsigned long long)s.val_tokens, p.out.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
