// mixln/hf_module.hpp — how the Hugging Face export computes a branch or a norm kind: a trait
// a type carries, so that the exporter knows no branch or kind by name.
//
//   struct MyNorm   { ...; static constexpr HfModule hf_module{"MyNorm", R"PY(class MyNorm(nn.Module): ...)PY"}; };
//   struct MyBranch { ...; static constexpr HfModule hf_module{"MyMLP", R"PY(class MyMLP(nn.Module): ...)PY"}; };
//
// The export's modeling_mixln.py builds, for a norm kind named K (its `name`), `NORMS[K](size,
// config)`, and for a branch named B other than the attention, `BRANCHES[B](config)`, stored as
// the layer's `mlp` (so its weights are `mlp.<...>`) and called as `mlp(x)` on [batch, seq,
// hidden]. The library's kinds and branches are defined in modeling_mixln.py itself (their
// `python` is null); a type of the user's gives the Python source of its class, which the
// export appends to modeling_mixln.py with its registration. A type without `hf_module` is
// refused by `export-hf` with one line naming it (docs/dsl.md shows a complete one).
#pragma once

namespace mixln {

struct HfModule {
  const char* python_class;       // the torch.nn.Module subclass that computes it
  const char* python = nullptr;   // that class's definition; null: modeling_mixln.py has it
};

}  // namespace mixln
