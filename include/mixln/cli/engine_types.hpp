// mixln/cli/engine_types.hpp — engine helpers shared by the subcommands.
#pragma once

#include "../cpu/backend.hpp"
#include "../schedule/engine.hpp"

namespace mixln::cli {

// Boundary kinds of a model, as a runtime array (for printing).
template <class Net>
std::array<BoundaryKind, 2 * Net::num_layers + 1> boundary_kinds() {
  return []<int... k>(std::integer_sequence<int, k...>) {
    return std::array<BoundaryKind, sizeof...(k)>{boundary_kind<Net, k>()...};
  }(std::make_integer_sequence<int, 2 * Net::num_layers + 1>{});
}

}  // namespace mixln::cli
