// safetensors: round trips of every supported dtype, and malformed files refused with a
// message that names the file and the problem.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mixln/io/model_io.hpp>
#include <mixln/io/safetensors.hpp>
#include <string>

using namespace mixln;
namespace fs = std::filesystem;

namespace {

std::string tmp_path(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("mixln_test_st_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return (dir / name).string();
}

// A file made of a header (given as text) and `data_bytes` zero bytes.
std::string raw_file(const std::string& name, const std::string& header, std::size_t data_bytes,
                     long long declared_len = -1) {
  const std::string p = tmp_path(name);
  std::ofstream f(p, std::ios::binary);
  std::uint64_t n = declared_len >= 0 ? std::uint64_t(declared_len) : header.size();
  unsigned char len[8];
  for (int i = 0; i < 8; ++i) len[i] = (unsigned char)(n >> (8 * i));
  f.write(reinterpret_cast<char*>(len), 8);
  f << header;
  f << std::string(data_bytes, '\0');
  return p;
}

std::string short_file() {
  const std::string p = tmp_path("short.st");
  std::ofstream(p, std::ios::binary) << "abc";
  return p;
}

std::string error_of(const std::string& path) {
  try {
    safetensors::File f(path);
    std::vector<float> v(4);
    if (f.find("x")) f.read_float("x", f.get("x").shape, v.data());
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("round trip: F32 and BF16 floats, I64 and I32 integers, metadata") {
  const std::vector<float> a = {1.5f, -2.25f, 3e-8f, 1e20f, 0.f, -0.f};
  const std::vector<std::int64_t> ids = {0, 1, 511, -100, 7, 3};
  safetensors::Writer w;
  w.metadata("format", "pt");
  w.add("a", {2, 3}, a.data());
  w.add("a_bf16", {6}, a.data(), safetensors::DType::BF16);
  w.add_int("ids", {2, 3}, ids.data());
  w.add_int("ids32", {3, 2}, ids.data(), safetensors::DType::I32);
  const std::string p = tmp_path("round.safetensors");
  w.write(p);

  safetensors::File f(p);
  CHECK(f.metadata().at("format") == "pt");
  CHECK(f.tensors().size() == 4);
  std::vector<float> back(6);
  f.read_float("a", {2, 3}, back.data());
  CHECK(back == a);
  f.read_float("a_bf16", {6}, back.data());
  CHECK(back[0] == 1.5f);
  CHECK(back[1] == -2.25f);
  CHECK(back[3] == doctest::Approx(1e20f).epsilon(4e-3));
  CHECK(f.get("a_bf16").dtype == safetensors::DType::BF16);
  std::vector<std::size_t> shape;
  CHECK(f.read_int("ids", &shape, 2) == ids);
  CHECK(shape == std::vector<std::size_t>{2, 3});
  CHECK(f.read_int("ids32", &shape, 2) == ids);
  // the header is padded to 8 bytes, as the reference implementation writes it
  CHECK(w.header().size() % 8 == 0);
}

TEST_CASE("F16 reads, normal and subnormal") {
  // 1.0 = 0x3c00, -2.5 = 0xc100, 65504 = 0x7bff, smallest subnormal 2^-24 = 0x0001
  const std::uint16_t h[4] = {0x3c00, 0xc100, 0x7bff, 0x0001};
  std::string hdr = R"({"x":{"dtype":"F16","shape":[4],"data_offsets":[0,8]}})";
  const std::string p = tmp_path("f16.safetensors");
  {
    std::ofstream f(p, std::ios::binary);
    std::uint64_t n = hdr.size();
    f.write(reinterpret_cast<char*>(&n), 8);
    f << hdr;
    f.write(reinterpret_cast<const char*>(h), 8);
  }
  safetensors::File f(p);
  float v[4];
  f.read_float("x", {4}, v);
  CHECK(v[0] == 1.0f);
  CHECK(v[1] == -2.5f);
  CHECK(v[2] == 65504.0f);
  CHECK(v[3] == doctest::Approx(std::ldexp(1.0, -24)));
}

TEST_CASE("bf16 rounding is to nearest even") {
  CHECK(float_to_bf16(1.0f) == 0x3f80);
  CHECK(bf16_to_float(float_to_bf16(1.00390625f)) == 1.0f);       // halfway: down to even
  CHECK(bf16_to_float(float_to_bf16(1.01171875f)) == 1.015625f);  // halfway: up to even
}

TEST_CASE("malformed files are refused, each with its own message") {
  const std::string ok_entry = R"("x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  struct Case {
    const char* what;
    std::string path;
    const char* message;
  };
  const Case cases[] = {
      {"missing", tmp_path("does_not_exist.safetensors"), "cannot open"},
      {"too short", short_file(), "too short for a safetensors file (3 bytes"},
      {"zero header length", raw_file("zero.st", "", 0), "invalid header length 0"},
      {"header length past the end", raw_file("len.st", "{" + ok_entry + "}", 8, 4096),
       "runs past the end of the file"},
      {"absurd header length", raw_file("huge.st", "{}", 0, 1ll << 40), "invalid header length"},
      {"not starting with {", raw_file("brace.st", "[1,2]   ", 0), "header does not start with '{'"},
      {"invalid JSON", raw_file("json.st", "{\"x\": [1, 2", 0), "header is not valid JSON"},
      {"entry not an object", raw_file("entry.st", R"({"x": 3})", 0), "tensor 'x' is not a JSON object"},
      {"missing field", raw_file("field.st", R"({"x":{"dtype":"F32","shape":[2]}})", 8),
       "lacks one of dtype, shape, data_offsets"},
      {"unknown dtype", raw_file("dtype.st", R"({"x":{"dtype":"F31","shape":[2],"data_offsets":[0,8]}})", 8),
       "unknown dtype 'F31'"},
      {"negative shape", raw_file("shape.st", R"({"x":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8),
       "shape entry that is not a non-negative integer"},
      {"offsets reversed", raw_file("rev.st", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8),
       "data_offsets with begin > end"},
      {"offsets outside", raw_file("out.st", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4),
       "outside the data section (4 bytes)"},
      {"size mismatch", raw_file("size.st", R"({"x":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8),
       "holds 8 bytes but dtype F32 and shape [3] need 12"},
      {"overlap", raw_file("overlap.st", R"({"x":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"y":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
       "overlap in the data section"},
      {"hole", raw_file("hole.st", R"({"x":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8),
       "hole of 4 bytes"},
      {"trailing bytes", raw_file("trail.st", "{" + ok_entry + "}", 12), "4 bytes after the last tensor"},
      // 2^32 · 2^32 elements wrap to 0 in 64 bits: the byte count would "match" an empty range
      {"shape overflowing 64 bits",
       raw_file("wrap.st", R"({"x":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}})", 0),
       "more elements than fit in 64 bits"},
      {"bytes overflowing 64 bits",
       raw_file("wrapb.st", R"({"x":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}})", 0),
       "more bytes than fit in 64 bits"},
      {"bad metadata", raw_file("meta.st", R"({"__metadata__":{"a":1}})", 0), "__metadata__ entry 'a' is not a string"},
      {"wrong dtype to read", raw_file("i8.st", R"({"x":{"dtype":"I8","shape":[4],"data_offsets":[0,4]}})", 4),
       "has dtype I8; expected F32, BF16 or F16"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    const std::string msg = error_of(c.path);
    CHECK(msg.find(c.message) != std::string::npos);
    CHECK(msg.find(c.path) == 0);  // the message starts with the file's name
  }
}

TEST_CASE("batch files: shapes, names, vocabulary range") {
  auto write_batch = [](const std::string& name, std::vector<std::size_t> s1, std::vector<std::int64_t> ids,
                        std::vector<std::size_t> s2, std::vector<std::int64_t> labels,
                        const char* id_name = "input_ids") {
    safetensors::Writer w;
    w.add_int(id_name, s1, ids.data());
    w.add_int("labels", s2, labels.data(), safetensors::DType::I32);
    const std::string p = tmp_path(name);
    w.write(p);
    return p;
  };
  auto msg = [](const std::string& p) {
    try {
      load_batch(p, 10);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string good = write_batch("good.st", {1, 3}, {1, 2, 3}, {1, 3}, {2, 3, -100});
  const Batch b = load_batch(good, 10);
  CHECK(b.B == 1);
  CHECK(b.T == 3);
  CHECK(b.labels[2] == -100);
  CHECK(msg(write_batch("shape.st", {1, 3}, {1, 2, 3}, {3, 1}, {1, 2, 3})).find("but labels has [3, 1]") != std::string::npos);
  CHECK(msg(write_batch("range.st", {1, 3}, {1, 2, 10}, {1, 3}, {1, 2, 3})).find("input_ids[0, 2] = 10 is outside the vocabulary [0, 10)") != std::string::npos);
  CHECK(msg(write_batch("label.st", {1, 3}, {1, 2, 3}, {1, 3}, {1, -5, 3})).find("labels[0, 1] = -5") != std::string::npos);
  CHECK(msg(write_batch("name.st", {1, 3}, {1, 2, 3}, {1, 3}, {1, 2, 3}, "ids")).find("missing tensor 'input_ids'") != std::string::npos);
  CHECK(msg(write_batch("rank.st", {3}, {1, 2, 3}, {3}, {1, 2, 3})).find("expected 2 dimensions") != std::string::npos);
}

TEST_CASE("a failed write leaves the previous file intact") {
  const std::string p = tmp_path("keep.safetensors");
  const float v[2] = {1, 2};
  safetensors::Writer w;
  w.add("x", {2}, v);
  w.write(p);
  const auto size = fs::file_size(p);
  {
    AtomicFile f(p);
    f.write("partial", 7);
    // no commit: as if the process died here
  }
  CHECK(fs::file_size(p) == size);
  safetensors::File f(p);
  CHECK(f.get("x").shape == std::vector<std::size_t>{2});
  for (auto& e : fs::directory_iterator(fs::path(p).parent_path()))
    CHECK(e.path().string().find(".tmp-") == std::string::npos);
}
