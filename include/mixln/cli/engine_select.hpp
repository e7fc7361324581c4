// mixln/cli/engine_select.hpp — what a subcommand's engine is made with, from its flags.
//
//   Engine<Net, Backend> e(precision_arg<Backend>(a));
#pragma once

#include "../precision.hpp"
#include "../schedule/engine.hpp"
#include "args.hpp"

namespace mixln::cli {

// The GEMM precision a subcommand's engine runs in: `--precision` among those the backend
// supports (the flag exists where the backend adds it: cli/backend_cli.hpp, cli/cuda.hpp), else
// the backend's default. It flows from here into the Engine (and TrainOptions), as --lr does.
template <class Backend>
Precision precision_arg(const Args& a) {
  return parse_precision<Backend>(a.str("precision", precision_name(Backend::precisions[0])));
}

}  // namespace mixln::cli
