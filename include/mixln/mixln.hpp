// mixln/mixln.hpp — everything a user needs: the DSL, the CPU engine and the trainer CLI.
#pragma once

#include "config.hpp"
#include "dsl/branch.hpp"
#include "dsl/concepts.hpp"
#include "dsl/llama_block.hpp"
#include "dsl/llama_config.hpp"
#include "dsl/model.hpp"
#include "dsl/placement.hpp"
#include "dsl/stack.hpp"
#include "dsl/vit_block.hpp"
#include "math/norm_kinds.hpp"
#include "schedule/engine.hpp"
#include "cpu/backend.hpp"
#include "init.hpp"
#include "io/model_io.hpp"
#include "io/safetensors.hpp"
#include "cli/main.hpp"
