// expect: cuda::Backend: compile the translation unit that runs a model on CUDA with nvcc
#include <mixln/cuda/backend.hpp>
#include <mixln/mixln.hpp>
using namespace mixln;
using Cfg = LlamaConfig<vocab<512>, hidden<64>, intermediate<172>, heads<4>>;
int main() {
  Engine<Model<Cfg, Stack<PreLN<LlamaBlock<Cfg>>, 2>>, cuda::Backend> e;  // in a .cpp compiled by g++
  return e.step(nullptr, nullptr, 1, 1, false).labels > 0;
}
