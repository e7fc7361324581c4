// mixln/cli/cmd_vision.hpp — the subcommands of a vision model (a Model whose input stage takes
// images, dsl/vision_ends.hpp) of its own: `train` on image splits from mixln-prepare-images,
// `eval` (validation loss and top-1 accuracy), and `export-hf`, which refuses in one line. grads, grad-norms
// and the analyses are the language models' (cmd_grads.hpp, cmd_analysis.hpp) reading images.
#pragma once

#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "../data/image_loader.hpp"
#include "../data/image_shards.hpp"
#include "../train/evaluate.hpp"
#include "args.hpp"
#include "backend_cli.hpp"
#include "cmd_train.hpp"
#include "engine_select.hpp"
#include "model_batches.hpp"
#include "model_source.hpp"

namespace mixln::cli {

// train's flags, less those of tokens (--seq: the image fixes the rows; --eval-tokens), with the
// augmentation and the evaluation's image count.
inline std::vector<Option> vision_train_options() {
  std::vector<Option> o;
  for (Option& x : train_options()) {
    if (x.name == "seq" || x.name == "eval-tokens") continue;
    if (x.name == "data") x.help = "DIR: made by mixln-prepare-images (train and val images and labels)";
    if (x.name == "batch") x.help = "B: images per micro-batch" + default_note(train_defaults().batch);
    if (x.name == "init-from") x.help = "FILE.safetensors: start from its tensors that match this model by name and shape";
    o.push_back(std::move(x));
  }
  o.push_back({"crop-pad", true, "P: random crops of the image padded by P pixels on each side (0: none)"});
  o.push_back({"flip", false, "random horizontal flips"});
  o.push_back({"eval-images", true, "N: validation images per evaluation (0: all) (0)"});
  return o;
}

template <class Net, class Backend>
int run_vision_train(const Args& a) {
  if (a.has("init-from") && std::filesystem::is_directory(a.required("init-from")))
    throw Error("--init-from " + a.required("init-from") +
                ": a Hugging Face folder holds a language model; give a FILE.safetensors");
  TrainOptions o = train_options_from(a, Net::C);
  o.precision = precision_arg<Backend>(a);
  o.seq = Net::input::fixed_seq;
  o.crop_pad = a.int32("crop-pad", 0, 0);
  o.flip = a.flag("flip");
  o.eval_images = a.integer("eval-images", 0, 0);
  return train_on_ranks<Net, Backend>(o, a);  // under mpirun, every rank
}

inline std::vector<Option> vision_eval_options() {
  auto o = model_options();
  o.push_back({"data", true, "DIR: made by mixln-prepare-images; its val split is read (its train split's pixel "
                             "statistics normalise it)"});
  o.push_back({"eval-images", true, "N: validation images (0: all) (0)"});
  o.push_back({"batch", true, "B: images per forward pass (64)"});
  return o;
}

template <class Net, class Backend>
int run_vision_eval(const Args& a) {
  if (a.has("weights") && std::filesystem::is_directory(a.required("weights")))
    throw Error("--weights " + a.required("weights") +
                ": a Hugging Face folder holds a language model; give a FILE.safetensors or --ckpt");
  Engine<Net, Backend> e(precision_arg<Backend>(a));
  load_model<Net>(e, a);
  const std::string data = a.required("data");
  TrainOptions shape;
  shape.data = data;
  const ImageData<Net> d(shape);  // both splits, checked against the model
  const EvalResult r = evaluate_images(e, d.val, d.stats, a.integer("eval-images", 0, 0), a.int32("batch", 64, 1));
  if (!std::isfinite(r.loss))
    throw Error("the validation loss is " + std::to_string(r.loss) + " (the weights compute a non-finite loss)");
  std::printf("{\"val_loss\": %.6f, \"val_acc\": %.6f, \"images\": %llu}\n", r.loss, r.accuracy,
              (unsigned long long)r.tokens);
  return 0;
}

// transformers' ViT (ViTForImageClassification) holds Pre-LN blocks only, so no Hugging Face folder
// computes a Post-LN or Mix-LN ViT; writing its layout for the Pre-LN one is not implemented.
// export-hf refuses in one line rather than write a folder that computes another network.
inline std::vector<Option> vision_export_options() { return {{"out", true, "DIR (refused: see the error)"}}; }
template <class Net, class Backend>
int run_vision_export_hf(const Args&) {
  throw Error("export-hf: not available for a vision model (transformers' ViT holds Pre-LN blocks only, and mixln "
              "does not write its layout); the weights are the checkpoint's model.safetensors");
}

}  // namespace mixln::cli
