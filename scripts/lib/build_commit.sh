# scripts/lib/build_commit.sh — sourced by the scripts that record which code built their programs
# (scripts/study/study.sh, scripts/study/vision.sh, scripts/gpu/gpu_bundle.sh). `build_commit`
# prints HEAD's 12-digit commit, with "+local" when the tree's model code (include/, examples/,
# the CMake files) has changes not in it.
build_commit() {
  local commit
  commit=$(git rev-parse --short=12 HEAD)
  [[ -z $(git status --porcelain -- include examples CMakeLists.txt cmake) ]] || commit+="+local"
  echo "$commit"
}
