// mixln/io/safetensors.hpp — read and write the safetensors format.
//
// Layout: 8-byte little-endian header length N, N bytes of JSON, then the data section.
// The JSON maps tensor names to {"dtype", "shape", "data_offsets": [begin, end]} (offsets
// relative to the data section) plus an optional "__metadata__" of string → string.
// Reading validates the whole header against the file before any tensor is used (offsets
// inside the data section, byte sizes matching dtype × shape, no overlaps or holes) and
// converts F32/BF16/F16 to float and I32/I64 to integers. Writing produces F32 (or BF16),
// with the header padded to 8 bytes as the reference implementation does, via an atomic
// rename.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../math/half.hpp"
#include "atomic_file.hpp"
#include "mapped_file.hpp"

namespace mixln::safetensors {

enum class DType { BOOL, U8, I8, F8_E5M2, F8_E4M3, I16, U16, F16, BF16, I32, U32, F32, F64, I64, U64 };

struct DTypeInfo {
  DType dtype;
  const char* name;
  std::size_t bytes;
};
inline constexpr DTypeInfo kDTypes[] = {
    {DType::BOOL, "BOOL", 1}, {DType::U8, "U8", 1},     {DType::I8, "I8", 1},
    {DType::F8_E5M2, "F8_E5M2", 1}, {DType::F8_E4M3, "F8_E4M3", 1}, {DType::I16, "I16", 2},
    {DType::U16, "U16", 2},   {DType::F16, "F16", 2},   {DType::BF16, "BF16", 2},
    {DType::I32, "I32", 4},   {DType::U32, "U32", 4},   {DType::F32, "F32", 4},
    {DType::F64, "F64", 8},   {DType::I64, "I64", 8},   {DType::U64, "U64", 8},
};
inline const DTypeInfo& info(DType d) {
  for (auto& i : kDTypes)
    if (i.dtype == d) return i;
  return kDTypes[0];
}
inline const char* name(DType d) { return info(d).name; }

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::size_t> shape;
  std::size_t begin = 0, end = 0;  // in the data section
  std::size_t numel() const {
    std::size_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
};

inline constexpr std::uint64_t kMaxHeader = 100u << 20;  // as the reference implementation

class File {
 public:
  explicit File(const std::string& path) : map_(path) { parse(); }

  const std::string& path() const { return map_.path(); }
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorInfo* find(const std::string& n) const {
    auto it = index_.find(n);
    return it == index_.end() ? nullptr : &tensors_[it->second];
  }
  const TensorInfo& get(const std::string& n) const {
    if (auto* t = find(n)) return *t;
    throw file_error(path(), "no tensor '" + n + "'");
  }
  const unsigned char* bytes(const TensorInfo& t) const { return data_ + t.begin; }

  // Reads a floating-point tensor (F32, BF16 or F16) of exactly `shape` into out (float or
  // double).
  template <class Out>
  void read_float(const std::string& n, const std::vector<std::size_t>& shape, Out* out) const {
    const TensorInfo& t = get(n);
    check_shape(t, shape);
    const unsigned char* p = bytes(t);
    const std::size_t count = t.numel();
    switch (t.dtype) {
      case DType::F32:
        for (std::size_t i = 0; i < count; ++i) {
          float f;
          std::memcpy(&f, p + 4 * i, 4);
          out[i] = Out(f);
        }
        break;
      case DType::BF16:
      case DType::F16:
        for (std::size_t i = 0; i < count; ++i) {
          std::uint16_t h;
          std::memcpy(&h, p + 2 * i, 2);
          out[i] = Out(t.dtype == DType::BF16 ? bf16_to_float(h) : f16_to_float(h));
        }
        break;
      default:
        throw file_error(path(), "tensor '" + n + "' has dtype " + name(t.dtype) +
                                     "; expected F32, BF16 or F16");
    }
  }

  // Reads an integer tensor (I32 or I64) as int64; shape[i] == 0 in `shape` matches any size.
  std::vector<std::int64_t> read_int(const std::string& n, std::vector<std::size_t>* shape_out,
                                     std::size_t rank) const {
    const TensorInfo& t = get(n);
    if (t.shape.size() != rank)
      throw file_error(path(), "tensor '" + n + "' has shape " + format_shape(t.shape) +
                                   ", expected " + std::to_string(rank) + " dimensions");
    const std::size_t count = t.numel();
    std::vector<std::int64_t> v(count);
    const unsigned char* p = bytes(t);
    if (t.dtype == DType::I64) {
      std::memcpy(v.data(), p, 8 * count);
    } else if (t.dtype == DType::I32) {
      for (std::size_t i = 0; i < count; ++i) {
        std::int32_t x;
        std::memcpy(&x, p + 4 * i, 4);
        v[i] = x;
      }
    } else {
      throw file_error(path(), "tensor '" + n + "' has dtype " + name(t.dtype) +
                                   "; expected I64 or I32");
    }
    if (shape_out) *shape_out = t.shape;
    return v;
  }

  void check_shape(const TensorInfo& t, const std::vector<std::size_t>& shape) const {
    if (t.shape != shape)
      throw file_error(path(), "tensor '" + t.name + "' has shape " + format_shape(t.shape) +
                                   ", expected " + format_shape(shape));
  }

 private:
  [[noreturn]] void fail(const std::string& what) const { throw file_error(path(), what); }

  void parse() {
    const nlohmann::json j = read_header();
    const std::size_t data_size = map_.size() - std::size_t(data_ - map_.data());
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() == "__metadata__") {
        read_metadata(it.value());
        continue;
      }
      TensorInfo t = read_tensor(it.key(), it.value(), data_size);
      index_[it.key()] = tensors_.size();
      tensors_.push_back(std::move(t));
    }
    check_coverage(data_size);
  }

  // The 8-byte little-endian header length and the JSON object it frames; sets data_.
  nlohmann::json read_header() {
    const std::size_t size = map_.size();
    if (size < 8)
      fail("too short for a safetensors file (" + std::to_string(size) +
           " bytes; the header length alone takes 8)");
    std::uint64_t n = 0;
    for (int i = 7; i >= 0; --i) n = (n << 8) | map_.data()[i];  // little-endian
    if (n == 0 || n > kMaxHeader)
      fail("invalid header length " + std::to_string(n));
    if (n > size - 8)
      fail("header length " + std::to_string(n) + " runs past the end of the file (" +
           std::to_string(size) + " bytes)");
    const char* hdr = reinterpret_cast<const char*>(map_.data() + 8);
    if (hdr[0] != '{') fail("header does not start with '{'");
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(hdr, hdr + n);
    } catch (const nlohmann::json::exception& e) {  // a syntax error, or a number out of range (406)
      fail(std::string("header is not valid JSON (") + e.what() + ")");
    }
    if (!j.is_object()) fail("header is not a JSON object");
    data_ = map_.data() + 8 + n;
    return j;
  }

  void read_metadata(const nlohmann::json& v) {
    if (!v.is_object()) fail("__metadata__ is not a JSON object");
    for (auto m = v.begin(); m != v.end(); ++m) {
      if (!m.value().is_string()) fail("__metadata__ entry '" + m.key() + "' is not a string");
      metadata_[m.key()] = m.value().get<std::string>();
    }
  }

  // One tensor's entry: a known dtype, a shape whose element and byte counts fit in 64 bits,
  // data offsets inside the data section holding exactly that many bytes.
  TensorInfo read_tensor(const std::string& key, const nlohmann::json& v, std::size_t data_size) const {
    const std::string what = "tensor '" + key + "'";
    if (!v.is_object()) fail(what + " is not a JSON object");
    if (!v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      fail(what + " lacks one of dtype, shape, data_offsets");
    TensorInfo t;
    t.name = key;
    if (!v["dtype"].is_string()) fail(what + " has a dtype that is not a string");
    const std::string dt = v["dtype"].get<std::string>();
    bool known = false;
    for (auto& d : kDTypes)
      if (dt == d.name) t.dtype = d.dtype, known = true;
    if (!known) fail(what + " has unknown dtype '" + dt + "'");
    if (!v["shape"].is_array()) fail(what + " has a shape that is not a list");
    std::size_t elements = 1;  // checked: a shape whose product overflows is refused
    for (auto& d : v["shape"]) {
      if (!d.is_number_unsigned()) fail(what + " has a shape entry that is not a non-negative integer");
      t.shape.push_back(d.get<std::size_t>());
      if (__builtin_mul_overflow(elements, t.shape.back(), &elements))
        fail(what + " has shape " + format_shape(t.shape) + "..., more elements than fit in 64 bits");
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      fail(what + " has data_offsets that are not two non-negative integers");
    t.begin = off[0].get<std::size_t>();
    t.end = off[1].get<std::size_t>();
    if (t.begin > t.end) fail(what + " has data_offsets with begin > end");
    if (t.end > data_size)
      fail(what + " has data_offsets [" + std::to_string(t.begin) + ", " +
           std::to_string(t.end) + "] outside the data section (" + std::to_string(data_size) +
           " bytes)");
    std::size_t need = 0;
    if (__builtin_mul_overflow(elements, info(t.dtype).bytes, &need))
      fail(what + " has shape " + format_shape(t.shape) + ", more bytes than fit in 64 bits");
    if (t.end - t.begin != need)
      fail(what + " holds " + std::to_string(t.end - t.begin) + " bytes but dtype " + dt +
           " and shape " + format_shape(t.shape) + " need " + std::to_string(need));
    return t;
  }

  // The data section must be covered exactly: no overlaps, no holes.
  void check_coverage(std::size_t data_size) const {
    std::vector<const TensorInfo*> by_offset;
    for (auto& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) {
      return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
    });
    std::size_t pos = 0;
    const TensorInfo* prev = nullptr;
    for (auto* t : by_offset) {
      if (t->begin < pos)
        fail("tensors '" + prev->name + "' and '" + t->name + "' overlap in the data section");
      if (t->begin > pos)
        fail("the data section has a hole of " + std::to_string(t->begin - pos) +
             " bytes before tensor '" + t->name + "'");
      pos = t->end;
      prev = t;
    }
    if (pos != data_size)
      fail("the data section has " + std::to_string(data_size - pos) +
           " bytes after the last tensor");
  }

  MappedFile map_;
  const unsigned char* data_ = nullptr;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// Collects tensors and writes them in one atomic step.
class Writer {
 public:
  // Floating-point data, stored as F32 or BF16.
  template <class In>
  void add(const std::string& n, std::vector<std::size_t> shape, const In* data,
           DType dtype = DType::F32) {
    std::size_t count = 1;
    for (auto d : shape) count *= d;
    Entry e{n, dtype, std::move(shape), {}};
    if (dtype == DType::F32) {
      e.bytes.resize(4 * count);
      for (std::size_t i = 0; i < count; ++i) {
        const float f = float(data[i]);
        std::memcpy(e.bytes.data() + 4 * i, &f, 4);
      }
    } else if (dtype == DType::BF16) {
      e.bytes.resize(2 * count);
      for (std::size_t i = 0; i < count; ++i) {
        const std::uint16_t h = float_to_bf16(float(data[i]));
        std::memcpy(e.bytes.data() + 2 * i, &h, 2);
      }
    } else {
      throw Error("safetensors::Writer: floating-point data is written as F32 or BF16");
    }
    entries_.push_back(std::move(e));
  }
  // Integer data, stored as I64 or I32.
  void add_int(const std::string& n, std::vector<std::size_t> shape, const std::int64_t* data,
               DType dtype = DType::I64) {
    std::size_t count = 1;
    for (auto d : shape) count *= d;
    Entry e{n, dtype, std::move(shape), {}};
    const std::size_t w = dtype == DType::I64 ? 8 : 4;
    e.bytes.resize(w * count);
    for (std::size_t i = 0; i < count; ++i) {
      if (w == 8) {
        std::memcpy(e.bytes.data() + 8 * i, &data[i], 8);
      } else {
        const std::int32_t x = std::int32_t(data[i]);
        std::memcpy(e.bytes.data() + 4 * i, &x, 4);
      }
    }
    entries_.push_back(std::move(e));
  }
  void metadata(const std::string& k, const std::string& v) { meta_[k] = v; }

  std::string header() const {
    nlohmann::ordered_json j = nlohmann::ordered_json::object();
    if (!meta_.empty()) j["__metadata__"] = meta_;
    std::size_t off = 0;
    for (auto& e : entries_) {
      j[e.name] = {{"dtype", name(e.dtype)},
                   {"shape", e.shape},
                   {"data_offsets", {off, off + e.bytes.size()}}};
      off += e.bytes.size();
    }
    std::string h = j.dump();
    h.append((8 - h.size() % 8) % 8, ' ');
    return h;
  }

  void write(const std::string& path) const {
    const std::string h = header();
    AtomicFile f(path);
    unsigned char len[8];
    std::uint64_t n = h.size();
    for (int i = 0; i < 8; ++i) len[i] = (unsigned char)(n >> (8 * i));
    f.write(len, 8);
    f.write(h);
    for (auto& e : entries_) f.write(e.bytes.data(), e.bytes.size());
    f.commit();
  }

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<std::size_t> shape;
    std::vector<unsigned char> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> meta_;
};

}  // namespace mixln::safetensors
