// Labelled image shards (mixln/data/image_shards.hpp) and the IDX reader (mixln/data/idx.hpp):
// a round trip of every byte, and each lie a file can tell refused with its name.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>
#include <mixln/data/idx.hpp>
#include <mixln/data/image_loader.hpp>
#include <mixln/data/image_shards.hpp>
#include <mixln/io/replace_folder.hpp>

using namespace mixln;
namespace fs = std::filesystem;

namespace {

fs::path tmp_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("mixln_test_images_" + std::to_string(::getpid())) / name;
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

// An IDX file's bytes: magic (0, 0, 0x08, ndims), big-endian sizes, then data.
std::vector<std::uint8_t> idx_bytes(const std::vector<std::uint32_t>& dims, const std::vector<std::uint8_t>& data) {
  std::vector<std::uint8_t> b = {0, 0, 0x08, std::uint8_t(dims.size())};
  for (auto d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(std::uint8_t(d >> s));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

// 5 images of 3×2 pixels (pixel value = 10·image + position), labels 0..2
ImageSet small_set() {
  ImageSet s;
  s.shape = {5, 3, 2, 1};
  for (int i = 0; i < 5; ++i)
    for (int p = 0; p < 6; ++p) s.pixels.push_back(std::uint8_t(10 * i + p));
  s.labels = {0, 2, 1, 1, 0};
  s.names = {"a", "b", "c"};
  s.source = {"made in the test"};
  return s;
}

void write_text(const fs::path& p, const std::string& text) { std::ofstream(p, std::ios::binary) << text; }

}  // namespace

TEST_CASE("IDX: images and labels parsed, every malformed header named") {
  const IdxArray a = parse_idx(idx_bytes({2, 3, 2}, {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}), "imgs");
  CHECK(a.dims == std::vector<std::uint64_t>{2, 3, 2});
  CHECK(a.data.size() == 12);
  CHECK(a.data[11] == 12);
  CHECK(parse_idx(idx_bytes({70000}, std::vector<std::uint8_t>(70000, 3)), "l").dims[0] == 70000);  // > 16 bits

  std::vector<std::uint8_t> b = idx_bytes({2}, {1, 2});
  b[0] = 1;
  CHECK_THROWS_WITH(parse_idx(b, "x.idx"), doctest::Contains("x.idx: is not an IDX file"));
  b = idx_bytes({2}, {1, 2});
  b[2] = 0x0D;  // float
  CHECK_THROWS_WITH(parse_idx(b, "x.idx"), doctest::Contains("x.idx: holds IDX type 13, not unsigned bytes (8)"));
  CHECK_THROWS_WITH(parse_idx(idx_bytes({2}, {1}), "x.idx"), doctest::Contains("holds 1 bytes of data, not the 2"));
  CHECK_THROWS_WITH(parse_idx(idx_bytes({2}, {1, 2, 3}), "x.idx"), doctest::Contains("holds 3 bytes of data, not the 2"));
  CHECK_THROWS_WITH(parse_idx(idx_bytes({0}, {}), "x.idx"), doctest::Contains("a dimension of size 0"));
  CHECK_THROWS_WITH(parse_idx({0, 0, 8, 3, 0, 0}, "x.idx"), doctest::Contains("ends inside its IDX header"));
  // sizes whose product overflows 64 bits are refused, not wrapped
  CHECK_THROWS_WITH(parse_idx(idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu}, {1}), "x.idx"),
                    doctest::Contains("is shorter than its IDX header"));
}

TEST_CASE("image shards: every pixel and label back as written") {
  const fs::path d = tmp_dir("roundtrip");
  const ImageSet s = small_set();
  write_image_split(d.string(), "train", s);
  const ImageSplit split(d.string(), "train");
  CHECK(split.size() == 5);
  CHECK(split.height() == 3);
  CHECK(split.width() == 2);
  CHECK(split.channels() == 1);
  CHECK(split.classes() == 3);
  CHECK(split.class_names() == s.names);
  for (std::uint64_t i = 0; i < 5; ++i) {
    CHECK(split.label(i) == s.labels[i]);
    for (int p = 0; p < 6; ++p) CHECK(split.image(i)[p] == s.pixels[i * 6 + std::size_t(p)]);
  }
}

TEST_CASE("image shards: a file or sidecar that lies is refused with its name") {
  const fs::path d = tmp_dir("lies");
  const std::string dir = d.string();
  auto fresh = [&] { write_image_split(dir, "train", small_set()); };
  const std::string images = dir + "/train.images.bin", labels = dir + "/train.labels.bin";

  fresh();
  std::ofstream(labels, std::ios::binary | std::ios::in | std::ios::out).put(char(3));  // label 3 of 3 classes
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("train.labels.bin: label 3 at image 0 is not below the 3 classes"));

  fresh();
  fs::resize_file(images, 29);
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("train.images.bin: holds 29 bytes but its sidecar says 30"));

  fresh();
  fs::resize_file(labels, 4);
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("holds 4 bytes but its sidecar says 5"));

  fresh();
  write_text(images + ".json", R"({"dtype": "uint8", "count": 30, "shape": [5, 3, 2]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("shape is not [N, H, W, C]"));
  write_text(images + ".json", R"({"dtype": "uint8", "count": 31, "shape": [5, 3, 2, 1]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("count is not the product of shape"));
  write_text(images + ".json", R"({"dtype": "uint16", "count": 30, "shape": [5, 3, 2, 1]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("dtype is not \"uint8\""));
  write_text(images + ".json", R"({"dtype": "uint8", "count": 0, "shape": [0, 3, 2, 1]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("a size in shape is 0"));
  write_text(images + ".json",
             R"({"dtype": "uint8", "count": 1, "shape": [4294967296, 4294967296, 4294967296, 1]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("shape's product exceeds 64 bits"));
  write_text(images + ".json", "[1, 2]");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("not a JSON object"));
  write_text(images + ".json", "{\"dtype\": ");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("not valid JSON"));

  fresh();
  write_text(labels + ".json", R"({"dtype": "uint8", "count": 4, "classes": 3, "names": ["a", "b", "c"]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("counts 4 labels for 5 images"));
  write_text(labels + ".json", R"({"dtype": "uint8", "count": 5, "classes": 1, "names": ["a"]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("classes is not an integer in [2, 256]"));
  write_text(labels + ".json", R"({"dtype": "uint8", "count": 5, "classes": 3, "names": ["a", "b"]})");
  CHECK_THROWS_WITH(ImageSplit(dir, "train"), doctest::Contains("2 names for 3 classes"));

  CHECK_THROWS_WITH(ImageSplit(dir, "val"), doctest::Contains("no val.images.bin; run mixln-prepare-images"));
}

TEST_CASE("a staged folder replaces its destination whole, or leaves it as it was") {
  const fs::path d = tmp_dir("staged");
  const std::string out = (d / "out").string();
  fs::create_directories(out);
  write_text(fs::path(out) / "old.txt", "previous");
  {
    StagedFolder s(out);
    write_text(fs::path(s.path()) / "new.txt", "next");
    // destroyed without commit (as by an exception): the previous folder stays, the work is gone
  }
  CHECK(fs::exists(fs::path(out) / "old.txt"));
  CHECK(!fs::exists(fs::path(out) / "new.txt"));
  CHECK(std::distance(fs::directory_iterator(d), fs::directory_iterator()) == 1);
  {
    StagedFolder s(out);
    write_text(fs::path(s.path()) / "new.txt", "next");
    s.commit();
  }
  CHECK(fs::exists(fs::path(out) / "new.txt"));
  CHECK(!fs::exists(fs::path(out) / "old.txt"));
  CHECK(std::distance(fs::directory_iterator(d), fs::directory_iterator()) == 1);
  {  // "DIR/" names DIR: the work folder is DIR's sibling, not inside it
    StagedFolder s(out + "/");
    CHECK(fs::path(s.path()).parent_path() == fs::path(out).parent_path());
    write_text(fs::path(s.path()) / "new.txt", "again");
    s.commit();
  }
  CHECK(std::distance(fs::directory_iterator(d), fs::directory_iterator()) == 1);
  CHECK_THROWS_WITH(refuse_foreign_files(out, [](const std::string&) { return false; }, "the tool"),
                    doctest::Contains("holds new.txt, which the tool did not write"));
}

TEST_CASE("image loader: normalised pixels, every image once an epoch, augmentation drawn from the position") {
  const fs::path d = tmp_dir("loader");
  const ImageSet set = small_set();
  write_image_split(d.string(), "train", set);
  const ImageSplit split(d.string(), "train");
  const PixelStatistics st = pixel_statistics(split);
  double m = 0, q = 0;
  for (auto p : set.pixels) m += p / 255.0;
  m /= 30;
  for (auto p : set.pixels) q += (p / 255.0 - m) * (p / 255.0 - m);
  CHECK(st.mean[0] == doctest::Approx(m).epsilon(1e-6));
  CHECK(st.std[0] == doctest::Approx(std::sqrt(q / 30)).epsilon(1e-5));

  // in order, no augmentation: image i is (p/255 − mean)/std, its label
  ImageLoader plain(split, st, 7, /*shuffle=*/false);
  std::vector<float> x(5 * 6);
  std::vector<std::int32_t> y(5);
  plain.fill(0, 5, x.data(), y.data());
  for (int i = 0; i < 5; ++i) {
    CHECK(y[std::size_t(i)] == set.labels[std::size_t(i)]);
    for (int p = 0; p < 6; ++p)
      CHECK(x[std::size_t(i * 6 + p)] == doctest::Approx((set.pixels[std::size_t(i * 6 + p)] / 255.0 - st.mean[0]) / st.std[0]));
  }

  // shuffled: each epoch a permutation, the same for the same seed whatever was read before
  ImageLoader a(split, st, 3, true), b(split, st, 3, true);
  for (std::uint64_t epoch = 0; epoch < 3; ++epoch) {
    std::vector<int> seen(5, 0);
    for (std::uint64_t k = 0; k < 5; ++k) ++seen[std::size_t(a.image_of(epoch * 5 + k))];
    CHECK(seen == std::vector<int>(5, 1));
  }
  CHECK(b.image_of(12) == a.image_of(12));

  // augmented: each output is the source shifted by at most `pad` pixels (zeros let in) and maybe
  // mirrored; the draw depends on the position only, and both flips and several shifts occur
  ImageLoader aug(split, st, 5, true, {1, true}), again(split, st, 5, true, {1, true});
  const float zero = -st.mean[0] / st.std[0];
  std::set<std::tuple<int, int, bool>> drawn;
  for (std::uint64_t k = 0; k < 60; ++k) {
    std::vector<float> one(6), other(6);
    std::int32_t label = -1, l2 = -1;
    aug.fill(k, 1, one.data(), &label);
    again.fill(k, 1, other.data(), &l2);
    CHECK(one == other);
    const std::uint64_t i = aug.image_of(k);
    CHECK(label == set.labels[i]);
    bool matched = false;
    for (int dy = -1; dy <= 1; ++dy)
      for (int dx = -1; dx <= 1; ++dx)
        for (bool flip : {false, true}) {
          bool ok = true;
          for (int yy = 0; yy < 3 && ok; ++yy)
            for (int xx = 0; xx < 2 && ok; ++xx) {
              const int sy = yy + dy, sx = (flip ? 1 - xx : xx) + dx;
              const float want = (sy < 0 || sy >= 3 || sx < 0 || sx >= 2)
                                     ? zero
                                     : float((set.pixels[i * 6 + std::size_t(sy * 2 + sx)] / 255.0 - st.mean[0]) / st.std[0]);
              ok = std::abs(one[std::size_t(yy * 2 + xx)] - want) < 1e-5f;
            }
          if (ok && !matched) {
            matched = true;
            drawn.insert({dy, dx, flip});
          }
        }
    CHECK(matched);
  }
  CHECK(drawn.size() >= 6);
  CHECK_THROWS_WITH(ImageLoader(split, st, 1, true, {2, false}), doctest::Contains("a crop padding of 2 pixels for 3×2 images"));
}
