// examples/prepare_images.cpp — `mixln-prepare-images`: IDX files (MNIST, Fashion-MNIST; gzip or
// not) → labelled image shards (mixln/data/image_shards.hpp) for train and val.
//
//   mixln-prepare-images --train-images F --train-labels F --val-images F --val-labels F
//                        --out DIR [--names A,B,...]

#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <mixln/cli/args.hpp>
#include <mixln/data/idx.hpp>
#include <mixln/data/image_shards.hpp>
#include <mixln/io/paths.hpp>
#include <mixln/io/replace_folder.hpp>

namespace {
using namespace mixln;

// The whole file, decompressed when it is gzip (zlib reads a plain file as it is).
std::vector<std::uint8_t> read_maybe_gzip(const std::string& path) {
  if (!std::filesystem::is_regular_file(path)) throw file_error(path, "is not a readable file");
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw file_error(path, "cannot open");
  std::vector<std::uint8_t> out;
  std::vector<std::uint8_t> block(1 << 20);
  for (;;) {
    const int n = gzread(f, block.data(), unsigned(block.size()));
    if (n < 0) {
      int err = 0;
      const std::string what = gzerror(f, &err);
      gzclose(f);
      throw file_error(path, "cannot be read: " + what);
    }
    if (n == 0) break;
    out.insert(out.end(), block.begin(), block.begin() + n);
  }
  int err = Z_OK;
  const std::string what = gzerror(f, &err);  // a stream cut short ends with 0 bytes read and an error
  gzclose(f);
  if (err != Z_OK) throw file_error(path, "cannot be read to its end: " + what);
  return out;
}

// One split from its two IDX files: images [N, H, W] (grey) and labels [N].
ImageSet read_split(const std::string& images, const std::string& labels, const std::vector<std::string>& names) {
  const IdxArray im = parse_idx(read_maybe_gzip(images), images);
  const IdxArray lb = parse_idx(read_maybe_gzip(labels), labels);
  if (im.dims.size() != 3) throw file_error(images, "is not an IDX array of images [N, H, W]");
  if (lb.dims.size() != 1) throw file_error(labels, "is not an IDX array of labels [N]");
  if (lb.dims[0] != im.dims[0])
    throw file_error(labels, "holds " + std::to_string(lb.dims[0]) + " labels for the " + std::to_string(im.dims[0]) +
                                 " images of " + images);
  for (std::size_t i = 0; i < lb.data.size(); ++i)
    if (lb.data[i] >= names.size())
      throw file_error(labels, "label " + std::to_string(int(lb.data[i])) + " of image " + std::to_string(i) +
                                   " is not below the " + std::to_string(names.size()) + " classes");
  ImageSet s;
  s.shape = {im.dims[0], im.dims[1], im.dims[2], 1};
  s.pixels = im.data;
  s.labels = lb.data;
  s.names = names;
  s.source = {images, labels};
  return s;
}

bool is_image_shard_file(const std::string& name) {
  for (const char* split : {"train", "val"})
    for (const char* part : {".images.bin", ".labels.bin", ".images.bin.json", ".labels.bin.json"})
      if (name == std::string(split) + part) return true;
  return false;
}
}  // namespace

int main(int argc, char** argv) {
  const std::vector<cli::Option> opts = {
      {"train-images", true, "FILE: IDX images [N, H, W] of the training split (gzip or not)"},
      {"train-labels", true, "FILE: IDX labels [N] of the training split"},
      {"val-images", true, "FILE: IDX images of the validation split (Fashion-MNIST: t10k-images)"},
      {"val-labels", true, "FILE: IDX labels of the validation split"},
      {"out", true, "DIR: writes {train,val}.{images,labels}.bin and their .json sidecars"},
      {"names", true, "A,B,...: the class names, in label order (0,1,...,9)"},
  };
  for (int i = 1; i < argc; ++i)
    if (std::string(argv[i]) == "--help" || std::string(argv[i]) == "-h") {
      std::printf("usage: mixln-prepare-images --train-images F --train-labels F --val-images F --val-labels F "
                  "--out DIR [--names A,B,...]\n\nflags:\n");
      for (auto& o : opts) std::printf("  --%-14s %s\n", o.name.c_str(), o.help.c_str());
      return 0;
    }
  try {
    cli::Args a("mixln-prepare-images", opts, argc, argv, 1);
    const std::string out = a.required("out");
    std::vector<std::string> names;
    const std::string list = a.str("names", "0,1,2,3,4,5,6,7,8,9");
    for (std::size_t b = 0;;) {
      const std::size_t e = list.find(',', b);
      names.push_back(list.substr(b, e == std::string::npos ? std::string::npos : e - b));
      if (names.back().empty()) throw Error("--names '" + list + "' holds an empty name");
      if (e == std::string::npos) break;
      b = e + 1;
    }
    if (names.size() < 2 || names.size() > 256)
      throw Error("--names gives " + std::to_string(names.size()) + " classes (2 to 256 can be stored)");
    const std::string files[4] = {a.required("train-images"), a.required("train-labels"), a.required("val-images"),
                                  a.required("val-labels")};
    for (auto& f : files)
      if (path_inside(f, out))
        throw Error(f + " lies inside --out " + out + ", which mixln-prepare-images replaces as a whole; choose another --out");
    refuse_foreign_files(out, is_image_shard_file, "mixln-prepare-images");
    const ImageSet train = read_split(files[0], files[1], names), val = read_split(files[2], files[3], names);
    if (train.shape[1] != val.shape[1] || train.shape[2] != val.shape[2])
      throw Error("the validation images are " + std::to_string(val.shape[1]) + "×" + std::to_string(val.shape[2]) +
                  ", the training images " + std::to_string(train.shape[1]) + "×" + std::to_string(train.shape[2]));
    StagedFolder staged(out);
    write_image_split(staged.path(), "train", train);
    write_image_split(staged.path(), "val", val);
    for (const char* split : {"train", "val"}) ImageSplit(staged.path(), split);  // as a trainer will open them
    staged.commit();
    std::printf("{\"train_images\": %llu, \"val_images\": %llu, \"height\": %llu, \"width\": %llu, "
                "\"classes\": %zu, \"out\": \"%s\"}\n",
                (unsigned long long)train.shape[0], (unsigned long long)val.shape[0],
                (unsigned long long)train.shape[1], (unsigned long long)train.shape[2], names.size(), out.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
