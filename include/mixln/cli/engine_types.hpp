// mixln/cli/engine_types.hpp — engine helpers shared by the subcommands.
#pragma once

#include <string>
#include <vector>

#include "../cpu/backend.hpp"
#include "../schedule/engine.hpp"

namespace mixln::cli {

// The fused op of every boundary of a model, as text (for printing).
template <class Net>
std::vector<std::string> boundary_descriptions() {
  using S = Schedule<Net>;
  std::vector<std::string> out;
  S::for_each_boundary([&]<int k>() { out.push_back(describe_boundary<typename S::template boundary<k>>()); });
  return out;
}

}  // namespace mixln::cli
