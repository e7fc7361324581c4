// Vision Transformers as types (dsl/vision_ends.hpp, dsl/vit_block.hpp): loss and every gradient
// of whole ViTs — patches, class token, position embeddings, ViT blocks under Pre-LN, Post-LN,
// Mix-LN (LayerNorm) and DyT, the class head — against the PyTorch reference
// (tests/golden/make_golden.py, `vitc_*`) in fp32, fp64 and bf16 GEMMs; the patches against
// nn.Conv2d's layout; finite differences in fp64; the ends' contract (labels per image, fixed rows).
#include <doctest/doctest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <mixln/cli/main.hpp>
#include <mixln/data/image_loader.hpp>
#include <mixln/data/image_shards.hpp>
#include <mixln/mixln.hpp>
#include <mixln/schedule/traffic.hpp>
#include <mixln/train/trainer.hpp>

#include "fd.hpp"
#include "golden.hpp"

using namespace mixln;
using namespace mixln::testing;

namespace {

// make_golden.py's VIT: hidden 32, MLP 80, 2 heads; 12×12 RGB images in 3×3 patches; 5 classes.
using Cfg = LlamaConfig<hidden<32>, intermediate<80>, heads<2>>;
using Vb = VitBlock<Cfg>;
using Patches = PatchEmbedding<Cfg, image<12>, patch<3>, channels<3>>;
using Head = ClassHead<Cfg, classes<5>>;
template <class S, class Final = LayerNorm>
using Vit = Model<Cfg, S, Final, PlainEmbedding, Patches, Head>;

struct Images {
  int B = 0;
  std::vector<float> pixels;
  std::vector<std::int32_t> labels;
};
Images load_images(const std::string& path) {
  safetensors::File f(path);
  Images im;
  const auto& t = f.get("images");
  im.B = int(t.shape[0]);
  im.pixels.resize(t.numel());
  f.read_float("images", t.shape, im.pixels.data());
  std::vector<std::size_t> shape;
  for (auto v : f.read_int("labels", &shape, 1)) im.labels.push_back(std::int32_t(v));
  return im;
}

template <class Net, class T>
double check_vit(const std::string& name, double tol, Precision precision = Precision::fp32) {
  Engine<Net, cpu::Backend<T>> e(precision);
  load_params(e.layout(), e.params(), golden(name, "weights.safetensors"));
  const Images im = load_images(golden(name, "batch.safetensors"));
  e.zero_grad();
  const StepResult r = e.step(im.pixels.data(), im.labels.data(), im.B, Net::input::fixed_seq, true);
  CHECK(r.labels == im.B - 1);  // the last image is unlabelled (−100)
  safetensors::File ref(golden(name, "grads.safetensors"));
  float ref_loss = 0;
  ref.read_float("loss", {1}, &ref_loss);
  INFO(name << " (" << (sizeof(T) == 8 ? "fp64" : precision_name(precision)) << ")");
  const double loss_err = std::abs(r.mean() - ref_loss) / std::abs(ref_loss);
  CHECK(loss_err <= tol);
  const auto [worst, worst_name] = worst_gradient_error<T>(e.layout(), e.grads(), ref);
  INFO("worst tensor " << worst_name << ": relative error " << worst);
  CHECK(worst <= tol);
  return std::max(worst, loss_err);
}

template <class Net>
void check_case(const std::string& name) {
  check_vit<Net, float>(name, 1e-3);
  check_vit<Net, double>(name, 1e-5);
  MESSAGE(name << ": bf16 GEMMs, worst relative error " << check_vit<Net, float>(name, 5e-2, Precision::bf16));
}

}  // namespace

TEST_CASE("golden ViT: Pre-LN (LayerNorm)") { check_case<Vit<Stack<PreLN<Vb, LayerNorm>, 4>>>("vitc_preln"); }
TEST_CASE("golden ViT: Post-LN (LayerNorm)") { check_case<Vit<Stack<PostLN<Vb, LayerNorm>, 4>>>("vitc_postln"); }
TEST_CASE("golden ViT: Mix-LN (LayerNorm), the same line as a LLaMA's") {
  check_case<Vit<MixLN<Vb, 4, std::ratio<1, 4>, LayerNorm>>>("vitc_mixln");
}
TEST_CASE("golden ViT: Pre-LN with DyT") { check_case<Vit<Stack<PreLN<Vb, DyT<>>, 4>, DyT<>>>("vitc_dyt"); }

TEST_CASE("ViT ends: the parameters, in layout order, with timm's names; labels per image; rows fixed by the image") {
  using Net = Vit<MixLN<Vb, 4, std::ratio<1, 4>, LayerNorm>>;
  const ParamLayout lay = make_param_layout<Net>();
  CHECK(lay.params.front().name == "model.patch_embed.proj.weight");
  CHECK(lay.params.front().shape == std::vector<std::size_t>{32, 27});
  CHECK(lay.find("model.pos_embed")->shape == std::vector<std::size_t>{17, 32});
  CHECK(lay.find("model.cls_token")->kind == ParamKind::embedding);
  CHECK(!lay.find("model.cls_token")->decay);
  CHECK(!lay.find("model.pos_embed")->decay);
  CHECK(lay.find("model.patch_embed.proj.weight")->decay);
  CHECK(lay.params.back().name == "head.bias");
  CHECK(lay.find("head.weight")->kind == ParamKind::head);
  CHECK(Net::input::fixed_seq == 17);
  Engine<Net, cpu::Backend<float>> e;
  init_params(e.layout(), Net::num_layers, e.params(), {.seed = 1});
  std::vector<float> px(2 * 12 * 12 * 3, 0.5f);
  std::vector<std::int32_t> lab = {1, 4};
  CHECK_THROWS_WITH_AS(e.step(px.data(), lab.data(), 2, 16, false), doctest::Contains("17 rows per sample, not 16"),
                       std::invalid_argument);
  const StepResult r = e.step(px.data(), lab.data(), 2, 17, false);
  CHECK(r.labels == 2);
  CHECK(std::abs(r.mean() - std::log(5.0)) < 0.5);  // near chance at init
}

TEST_CASE("patchify: each patch's columns in nn.Conv2d's (channel, ky, kx) order") {
  const int B = 2, S = 4, c = 2, P = 2;
  std::vector<float> img(std::size_t(B) * S * S * c);
  std::vector<double> out(img.size());
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = float(i);
  cpu::Backend<double>::patchify(B, S, S, c, P, img.data(), out.data());
  // image 1, patch (py, px) = (1, 0): row 1·4 + 2; column (channel 1, ky 1, kx 0) = 1·4 + 2
  const int row = 4 + 2, col = 4 + 2, y = 2 + 1, x = 0;
  CHECK(out[std::size_t(row) * c * P * P + col] == img[((std::size_t(1) * S + y) * S + x) * c + 1]);
  std::vector<double> sorted = out;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t i = 0; i < sorted.size(); ++i) CHECK(sorted[i] == double(i));  // every pixel once
}

TEST_CASE("fp64 ViT (Post-LN then Pre-LN): sampled gradients of every tensor match finite differences") {
  using Net = Vit<Stack<PostLN<Vb, LayerNorm>, 1, PreLN<Vb, LayerNorm>, 1>>;
  Engine<Net, cpu::Backend<double>> e;
  init_params(e.layout(), Net::num_layers, e.params(), {.seed = 5, .std = 0.2, .embed_std = 0.2});
  std::mt19937_64 g(4);
  const int B = 2, T = Net::input::fixed_seq;
  std::vector<float> px(std::size_t(B) * 12 * 12 * 3);
  for (auto& v : px) v = float(g() % 1000) / 1000;
  std::vector<std::int32_t> lab = {3, 1};
  e.zero_grad();
  e.step(px.data(), lab.data(), B, T, true);
  const std::vector<double> grads(e.grads().begin(), e.grads().end());
  check_sampled_finite_differences(e, grads, [&] { return e.step(px.data(), lab.data(), B, T, false).mean(); }, g, 3);
}

namespace {
// A synthetic 12×12 RGB image split with 5 classes whose class is written in the pixels (a
// bright square whose position is the class), so that a few steps of training must learn it.
ImageSet synthetic_split(std::uint64_t n, std::uint64_t seed) {
  ImageSet s;
  s.shape = {n, 12, 12, 3};
  s.pixels.assign(n * 12 * 12 * 3, 0);
  std::mt19937_64 g(seed);
  for (std::uint64_t i = 0; i < n; ++i) {
    const int k = int(g() % 5);
    s.labels.push_back(std::uint8_t(k));
    for (int y = 0; y < 12; ++y)
      for (int x = 0; x < 12; ++x)
        for (int c = 0; c < 3; ++c) {
          const bool on = x >= 2 * k && x < 2 * k + 3 && y >= 4 && y < 8;
          s.pixels[((i * 12 + y) * 12 + x) * 3 + c] = std::uint8_t(on ? 200 + g() % 50 : g() % 60);
        }
  }
  s.names = {"a", "b", "c", "d", "e"};
  s.source = {"synthetic"};
  return s;
}
}  // namespace

TEST_CASE("training a ViT on an image split: the loss falls, accuracy is measured, a resumed run is the same run") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("mixln_vit_train_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  write_image_split((dir / "data").string(), "train", synthetic_split(256, 1));
  write_image_split((dir / "data").string(), "val", synthetic_split(64, 2));
  using Net = Vit<MixLN<Vb, 4, std::ratio<1, 4>, LayerNorm>>;
  TrainOptions o;
  o.data = (dir / "data").string();
  o.out = (dir / "run").string();
  o.steps = 150, o.batch = 32, o.seq = Net::input::fixed_seq, o.lr = 3e-3, o.seed = 3, o.quiet = true;
  o.eval_every = 50;
  const EvalResult full = Trainer<Net>(o).run();
  CHECK(full.tokens == 64);
  CHECK(full.accuracy > 0.4);  // chance is 0.2
  CHECK(full.loss < std::log(5.0));
  // the same run in two invocations: stopped at step 20, then resumed
  TrainOptions a = o;
  a.out = (dir / "run2").string();
  a.stop_at = 75;
  Trainer<Net>(a).run();
  TrainOptions b = a;
  b.stop_at = 0, b.resume = true;
  const EvalResult resumed = Trainer<Net>(b).run();
  CHECK(resumed.loss == full.loss);
  CHECK(resumed.accuracy == full.accuracy);
  // the run's settings hold the augmentation; resuming with another one is refused
  TrainOptions c = b;
  c.flip = true;
  CHECK_THROWS_WITH(Trainer<Net>(c).run(), doctest::Contains("--flip"));
  // augmentation runs (a flip would mirror this task's classes: the check is only that it trains)
  TrainOptions f = o;
  f.out = (dir / "run4").string();
  f.steps = 4, f.crop_pad = 1, f.flip = true, f.eval_every = 0;
  CHECK(std::isfinite(Trainer<Net>(f).run().loss));
  // a split of another size is refused before anything runs
  TrainOptions d = o;
  d.out = (dir / "run3").string();
  d.seq = 10;
  CHECK_THROWS_WITH(Trainer<Net>(d).run(), doctest::Contains("17 rows per sample, not 10"));
  fs::remove_all(dir);
}

namespace {
// Runs a vision trainer's command line in-process: mixln::cli::main<Net> with these arguments.
template <class Net>
int vit_cli(std::vector<std::string> args) {
  args.insert(args.begin(), "vit");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return cli::main<Net>(int(argv.size()), argv.data());
}
std::string read_text(const std::filesystem::path& p) {
  std::ifstream f(p);
  return {std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>()};
}
}  // namespace

TEST_CASE("a vision trainer's grads, grad-norms, layer-drop and angular read images; export-hf refuses") {
  namespace fs = std::filesystem;
  using Net = Vit<MixLN<Vb, 4, std::ratio<1, 4>, LayerNorm>>;
  const fs::path dir = fs::temp_directory_path() / ("mixln_vit_cli_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "data");
  const std::string data = (dir / "data").string(), run = (dir / "run").string();
  write_image_split(data, "train", synthetic_split(128, 1));
  write_image_split(data, "val", synthetic_split(48, 2));
  REQUIRE(vit_cli<Net>({"train", "--data", data, "--out", run, "--steps", "6", "--batch", "16", "--lr", "3e-3",
                        "--quiet"}) == 0);

  // the reference: the checkpoint's model on the first 40 validation images, normalised as training does
  Engine<Net, cpu::Backend<float>> e;
  load_params(e.layout(), e.params(), (fs::path(run) / "ckpt-00000006" / "model.safetensors").string());
  const ImageSplit train(data, "train"), val(data, "val");
  ImageLoader loader(val, pixel_statistics(train), 0, false);
  const int B = 40, T = Net::input::fixed_seq;
  std::vector<float> px(Net::input::input_count(B, T));
  std::vector<std::int32_t> lab(B);
  loader.fill(0, B, px.data(), lab.data());
  e.zero_grad();
  const StepResult r = e.step(px.data(), lab.data(), B, T, true);
  const std::vector<float> grads(e.grads().begin(), e.grads().end());

  SUBCASE("grads on --data is one forward/backward on its first validation images; on a batch file the same") {
    const std::string g1 = (dir / "g1.safetensors").string(), g2 = (dir / "g2.safetensors").string(),
                      bf = (dir / "batch.safetensors").string();
    REQUIRE(vit_cli<Net>({"grads", "--ckpt", run, "--data", data, "--eval-images", "40", "--out", g1}) == 0);
    safetensors::Writer w;
    w.add("pixels", {std::size_t(B), 12, 12, 3}, px.data());
    std::vector<std::int64_t> lab_file(lab.begin(), lab.end());
    lab_file[3] = -100;  // an unlabelled image
    w.add_int("labels", {std::size_t(B)}, lab_file.data());
    w.write(bf);
    REQUIRE(vit_cli<Net>({"grads", "--ckpt", run, "--batch", bf, "--out", g2}) == 0);
    safetensors::File f1(g1), f2(g2);
    float loss1 = 0;
    f1.read_float("loss", {1}, &loss1);
    CHECK(loss1 == doctest::Approx(r.mean()).epsilon(1e-6));
    std::vector<float> got(grads.size());
    for (const auto& p : e.layout().params) f1.read_float(p.name, p.shape, got.data() + p.offset);
    CHECK(got == grads);
    // the file's unlabelled image changes the loss: its labels were read
    float loss2 = 0;
    f2.read_float("loss", {1}, &loss2);
    CHECK(loss2 != loss1);
    // a batch file of another image size is refused, naming the shapes
    safetensors::Writer bad;
    bad.add("pixels", {std::size_t(B), 12, 12, 1}, px.data());
    bad.add_int("labels", {std::size_t(B)}, lab_file.data());
    bad.write((dir / "bad.safetensors").string());
    CHECK(vit_cli<Net>({"grads", "--ckpt", run, "--batch", (dir / "bad.safetensors").string(), "--out", g2}) == 1);
  }
  SUBCASE("grad-norms: each layer's gradient norm of the same batch") {
    const fs::path out = dir / "gn.csv";
    REQUIRE(vit_cli<Net>({"grad-norms", "--ckpt", run, "--data", data, "--eval-images", "40", "--out", out.string()}) == 0);
    const auto norms = layer_grad_norms(e.layout(), Net::num_layers, std::span<const float>(grads));
    std::string want = "layer,grad_norm\n";
    char line[64];
    for (int l = 0; l < Net::num_layers; ++l) {
      std::snprintf(line, sizeof line, "%d,%.9g\n", l, norms[std::size_t(l)]);
      want += line;
    }
    CHECK(read_text(out) == want);
  }
  SUBCASE("layer-drop: the loss and top-1 accuracy without each layer") {
    const fs::path out = dir / "ld.csv";
    REQUIRE(vit_cli<Net>({"layer-drop", "--ckpt", run, "--data", data, "--eval-images", "40", "--out", out.string()}) == 0);
    const std::string csv = read_text(out);
    CHECK(csv.rfind("layer,loss,accuracy,loss_delta,accuracy_delta\n", 0) == 0);
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + Net::num_layers);
    e.drop_layer(2);
    const StepResult d = e.step(px.data(), lab.data(), B, T, false);
    e.drop_layer(-1);
    char loss2[32];
    std::snprintf(loss2, sizeof loss2, "\n2,%.9g,", d.mean());
    CHECK(csv.find(loss2) != std::string::npos);
  }
  SUBCASE("angular and residual-rms: one row per pair of layers, one per layer input") {
    REQUIRE(vit_cli<Net>({"angular", "--ckpt", run, "--data", data, "--out", (dir / "a.csv").string()}) == 0);
    const std::string csv = read_text(dir / "a.csv");
    CHECK(std::count(csv.begin(), csv.end(), '\n') == 1 + Net::num_layers * (Net::num_layers + 1) / 2);
    REQUIRE(vit_cli<Net>({"residual-rms", "--ckpt", run, "--data", data, "--out", (dir / "r.csv").string()}) == 0);
    const std::string rms = read_text(dir / "r.csv");
    CHECK(std::count(rms.begin(), rms.end(), '\n') == 2 + Net::num_layers);
  }
  SUBCASE("export-hf refuses in one line; a token flag is unknown") {
    CHECK(vit_cli<Net>({"export-hf", "--out", (dir / "hf").string()}) == 1);
    CHECK(!fs::exists(dir / "hf"));
    CHECK(vit_cli<Net>({"angular", "--ckpt", run, "--data", data, "--eval-tokens", "64", "--out",
                        (dir / "a.csv").string()}) == 1);
  }
  fs::remove_all(dir);
}

TEST_CASE("the traffic model of a ViT's step counts its ends: patches, biases, the class head") {
  using Net = Vit<MixLN<Vb, 4, std::ratio<1, 4>, LayerNorm>>;
  const Traffic t = non_gemm_traffic<Net>(8, Net::input::fixed_seq, Precision::fp32, TrafficDevice::cpu, false);
  CHECK(t.bytes.at("patches") == 2.0 * 8 * 12 * 12 * 3 * 4);
  CHECK(t.bytes.at("bias") > 0);
  CHECK(t.total() > t.bytes.at("optimizer"));
}
