// mixln/io/model_io.hpp — parameters, gradients and batches as safetensors files.
//
// Weights load strictly, as PyTorch's load_state_dict(strict=True): every parameter of the
// model must be present with its exact shape, and a tensor the model does not have is an
// error (it usually means the file belongs to another placement).
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "../error.hpp"
#include "../schedule/param_layout.hpp"
#include "safetensors.hpp"

namespace mixln {

template <class T>
void load_params(const ParamLayout& layout, std::span<T> params, const std::string& path) {
  safetensors::File f(path);
  for (auto& p : layout.params) {
    if (!f.find(p.name)) throw file_error(path, "missing tensor '" + p.name + "'");
    f.read_float(p.name, p.shape, params.data() + p.offset);
  }
  for (auto& t : f.tensors())
    if (!layout.find(t.name))
      throw file_error(path, "unexpected tensor '" + t.name +
                                 "' (not a parameter of this model; was it saved from "
                                 "another placement?)");
}

// The first parameter holding a NaN or an infinity, or nullptr when all are finite.
template <class T>
const ParamInfo* first_nonfinite_param(const ParamLayout& layout, std::span<const T> params) {
  for (auto& p : layout.params)
    for (std::size_t i = 0; i < p.count; ++i)
      if (!std::isfinite(double(params[p.offset + i]))) return &p;
  return nullptr;
}

// Writes one tensor per parameter (F32 unless bf16), plus `extra` tensors such as the loss.
template <class T>
void save_params(const ParamLayout& layout, std::span<const T> values, const std::string& path,
                 const std::vector<std::pair<std::string, float>>& scalars = {},
                 safetensors::DType dtype = safetensors::DType::F32) {
  safetensors::Writer w;
  w.metadata("format", "pt");
  for (auto& [name, v] : scalars) w.add(name, {1}, &v);
  for (auto& p : layout.params) w.add(p.name, p.shape, values.data() + p.offset, dtype);
  w.write(path);
}

// A batch of token ids and their targets, both [B, T] (labels: −100 = no loss).
struct Batch {
  int B = 0, T = 0;
  std::vector<std::int32_t> input_ids, labels;
};

inline Batch load_batch(const std::string& path, std::size_t vocab_size) {
  safetensors::File f(path);
  std::vector<std::size_t> s_in, s_lab;
  if (!f.find("input_ids")) throw file_error(path, "missing tensor 'input_ids'");
  if (!f.find("labels")) throw file_error(path, "missing tensor 'labels'");
  const auto ids = f.read_int("input_ids", &s_in, 2);
  const auto lab = f.read_int("labels", &s_lab, 2);
  if (s_in != s_lab)
    throw file_error(path, "input_ids has shape " + format_shape(s_in) + " but labels has " +
                               format_shape(s_lab));
  if (s_in[0] == 0 || s_in[1] == 0)
    throw file_error(path, "input_ids has an empty shape " + format_shape(s_in));
  Batch b;
  b.B = int(s_in[0]);
  b.T = int(s_in[1]);
  b.input_ids.resize(ids.size());
  b.labels.resize(lab.size());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || std::size_t(ids[i]) >= vocab_size)
      throw file_error(path, "input_ids[" + std::to_string(i / b.T) + ", " +
                                 std::to_string(i % b.T) + "] = " + std::to_string(ids[i]) +
                                 " is outside the vocabulary [0, " +
                                 std::to_string(vocab_size) + ")");
    if (lab[i] != -100 && (lab[i] < 0 || std::size_t(lab[i]) >= vocab_size))
      throw file_error(path, "labels[" + std::to_string(i / b.T) + ", " +
                                 std::to_string(i % b.T) + "] = " + std::to_string(lab[i]) +
                                 " is neither -100 nor inside the vocabulary [0, " +
                                 std::to_string(vocab_size) + ")");
    b.input_ids[i] = std::int32_t(ids[i]);
    b.labels[i] = std::int32_t(lab[i]);
  }
  return b;
}

}  // namespace mixln
