// mixln/data/image_shards.hpp — labelled images as shards: a file of pixels and a file of labels,
// each with a JSON sidecar, like the token shards (shards.hpp).
//
//   DIR/train.images.bin        uint8 pixels, row-major [N, H, W, C] (C = 1: grey)
//   DIR/train.images.bin.json   {"dtype": "uint8", "count": N·H·W·C, "shape": [N, H, W, C],
//                                "source": [...]}
//   DIR/train.labels.bin        uint8 class ids, [N]
//   DIR/train.labels.bin.json   {"dtype": "uint8", "count": N, "classes": K,
//                                "names": [K class names], "source": [...]}
//
// and the same for "val". Nothing is trusted: opening a split checks both sidecars (dtype, a
// shape of four positive sizes whose product, computed without overflow, is count; the labels'
// count equal to N; K in [2, 256]), each file's size against its count, and every label against
// K, so a file that lies is refused with its name and the first bad label's index before any
// image reaches a model.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../io/atomic_file.hpp"
#include "../io/mapped_file.hpp"

namespace mixln {

// One split of labelled images in memory, as a prepare step builds it before writing.
struct ImageSet {
  std::array<std::uint64_t, 4> shape{};  // [N, H, W, C]
  std::vector<std::uint8_t> pixels;      // N·H·W·C, row-major
  std::vector<std::uint8_t> labels;      // N
  std::vector<std::string> names;        // the K class names
  std::vector<std::string> source;       // the files it was read from
};

namespace detail {
inline std::uint64_t checked_product(const std::array<std::uint64_t, 4>& s, const std::string& path) {
  std::uint64_t n = 1;
  for (auto d : s) {
    if (d == 0) throw file_error(path, "malformed sidecar: a size in shape is 0");
    if (n > UINT64_MAX / d) throw file_error(path, "malformed sidecar: shape's product exceeds 64 bits");
    n *= d;
  }
  return n;
}

inline nlohmann::json read_json_object(const std::string& p) {
  std::ifstream in(p);
  if (!in) throw file_error(p, "cannot open the sidecar");
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number out of range (406)
    throw file_error(p, std::string("not valid JSON (") + e.what() + ")");
  }
  if (!j.is_object()) throw file_error(p, "malformed sidecar: not a JSON object");
  if (!j.contains("dtype") || j["dtype"] != "uint8") throw file_error(p, "malformed sidecar: dtype is not \"uint8\"");
  if (!j.contains("count") || !j["count"].is_number_unsigned())
    throw file_error(p, "malformed sidecar: count is not a non-negative integer");
  return j;
}
}  // namespace detail

// Writes set as DIR/<split>.images.bin and DIR/<split>.labels.bin with their sidecars, each file
// atomically (DIR must exist).
inline void write_image_split(const std::string& dir, const std::string& split, const ImageSet& set) {
  namespace fs = std::filesystem;
  const std::uint64_t n = set.shape[0];
  if (set.labels.size() != n || set.pixels.size() != detail::checked_product(set.shape, dir + "/" + split))
    throw Error("write_image_split: " + split + " holds " + std::to_string(set.labels.size()) + " labels and " +
                std::to_string(set.pixels.size()) + " pixels for its shape");
  if (set.names.size() < 2 || set.names.size() > 256)
    throw Error("write_image_split: " + std::to_string(set.names.size()) + " classes (2 to 256 can be stored)");
  const std::string images = (fs::path(dir) / (split + ".images.bin")).string();
  const std::string labels = (fs::path(dir) / (split + ".labels.bin")).string();
  {
    AtomicFile f(images);
    f.write(set.pixels.data(), set.pixels.size());
    f.commit();
  }
  {
    AtomicFile f(labels);
    f.write(set.labels.data(), set.labels.size());
    f.commit();
  }
  nlohmann::ordered_json ji = {{"dtype", "uint8"}, {"count", set.pixels.size()}, {"shape", set.shape},
                               {"source", set.source}};
  nlohmann::ordered_json jl = {{"dtype", "uint8"},     {"count", n},           {"classes", set.names.size()},
                               {"names", set.names}, {"source", set.source}};
  write_file_atomic(images + ".json", ji.dump(2) + "\n");
  write_file_atomic(labels + ".json", jl.dump(2) + "\n");
}

// One split of labelled images, memory-mapped and checked (see the top of this file).
class ImageSplit {
 public:
  ImageSplit(const std::string& dir, const std::string& split) {
    namespace fs = std::filesystem;
    const std::string images = (fs::path(dir) / (split + ".images.bin")).string();
    const std::string labels = (fs::path(dir) / (split + ".labels.bin")).string();
    if (!fs::exists(images))
      throw file_error(dir, "no " + split + ".images.bin; run mixln-prepare-images to make it");
    read_images_sidecar(images);
    read_labels_sidecar(labels);
    pixels_ = MappedFile(images);
    labels_ = MappedFile(labels);
    if (pixels_.size() != image_bytes() * size())
      throw file_error(images, "holds " + std::to_string(pixels_.size()) + " bytes but its sidecar says " +
                                   std::to_string(image_bytes() * size()));
    if (labels_.size() != size())
      throw file_error(labels, "holds " + std::to_string(labels_.size()) + " bytes but its sidecar says " +
                                   std::to_string(size()));
    const auto* l = labels_.data();
    for (std::uint64_t i = 0; i < size(); ++i)
      if (l[i] >= classes())
        throw file_error(labels, "label " + std::to_string(int(l[i])) + " at image " + std::to_string(i) +
                                     " is not below the " + std::to_string(classes()) + " classes");
  }

  std::uint64_t size() const { return shape_[0]; }    // N
  std::uint64_t height() const { return shape_[1]; }  // H
  std::uint64_t width() const { return shape_[2]; }   // W
  std::uint64_t channels() const { return shape_[3]; }
  std::uint64_t image_bytes() const { return shape_[1] * shape_[2] * shape_[3]; }
  int classes() const { return int(names_.size()); }
  const std::vector<std::string>& class_names() const { return names_; }
  // image i: [H, W, C] bytes
  const std::uint8_t* image(std::uint64_t i) const { return pixels_.data() + i * image_bytes(); }
  int label(std::uint64_t i) const { return labels_.data()[i]; }

 private:
  void read_images_sidecar(const std::string& images) {
    const std::string p = images + ".json";
    const nlohmann::json j = detail::read_json_object(p);
    try {
      const auto& s = j.at("shape");
      if (!s.is_array() || s.size() != 4) throw file_error(p, "malformed sidecar: shape is not [N, H, W, C]");
      for (int k = 0; k < 4; ++k) {
        if (!s[k].is_number_unsigned()) throw file_error(p, "malformed sidecar: shape holds a non-integer");
        shape_[k] = s[k].get<std::uint64_t>();
      }
    } catch (const nlohmann::json::exception& e) {
      throw file_error(p, std::string("malformed sidecar: ") + e.what());
    }
    if (detail::checked_product(shape_, p) != j["count"].get<std::uint64_t>())
      throw file_error(p, "malformed sidecar: count is not the product of shape");
  }
  void read_labels_sidecar(const std::string& labels) {
    const std::string p = labels + ".json";
    const nlohmann::json j = detail::read_json_object(p);
    if (j["count"].get<std::uint64_t>() != shape_[0])
      throw file_error(p, "counts " + std::to_string(j["count"].get<std::uint64_t>()) + " labels for " +
                              std::to_string(shape_[0]) + " images");
    try {
      if (!j.at("classes").is_number_unsigned() || j["classes"].get<std::uint64_t>() < 2 ||
          j["classes"].get<std::uint64_t>() > 256)
        throw file_error(p, "malformed sidecar: classes is not an integer in [2, 256]");
      names_ = j.at("names").get<std::vector<std::string>>();
    } catch (const nlohmann::json::exception& e) {
      throw file_error(p, std::string("malformed sidecar: ") + e.what());
    }
    if (names_.size() != j["classes"].get<std::uint64_t>())
      throw file_error(p, "malformed sidecar: " + std::to_string(names_.size()) + " names for " +
                              std::to_string(j["classes"].get<std::uint64_t>()) + " classes");
  }

  std::array<std::uint64_t, 4> shape_{};
  std::vector<std::string> names_;
  MappedFile pixels_, labels_;
};

}  // namespace mixln
