# scripts/gpu/bundle_env.sh — sourced by gpu_check.sh and gpu_perf.sh on the GPU machine.
# unpack_bundle BUNDLE WORK NAME: unpacks BUNDLE/payload.tar.xz into WORK, sets `bin` (WORK/bin)
# and LD_LIBRARY_PATH (the bundled libraries first, then CUDA's wherever this machine keeps them:
# the toolkit or PyTorch's wheels; PY is the Python to ask), and sets `bundle_missing` to the
# libraries a bundled program cannot find ("program: library", one per line; empty when none).
unpack_bundle() {
  local bundle=$1 work=$2 name=$3 cuda_dirs py_dirs p
  tar -C "$work" -xJf "$bundle/payload.tar.xz" || { echo "$name: cannot unpack the bundle" >&2; exit 1; }
  bin=$work/bin
  cuda_dirs=$(ls -d /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib 2>/dev/null | tr '\n' ':')
  py_dirs=$("$PY" -c 'import glob, os, site
dirs = [d for s in site.getsitepackages() for d in glob.glob(os.path.join(s, "nvidia", "*", "lib"))]
print(":".join(dirs))' 2>/dev/null || true)
  export LD_LIBRARY_PATH="$work/lib:${cuda_dirs}${py_dirs}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # shellcheck disable=SC2034  # read by the scripts that source this file
  bundle_missing=$(for p in "$bin"/*; do ldd "$p" 2>/dev/null | grep "not found" | sed "s|^|$(basename "$p"): |"; done | sort -u)
}
