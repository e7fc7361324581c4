# tests/lib.sh — shared by the command-line test scripts (sourced).
fail() { echo "FAIL: $*" >&2; exit 1; }
# The licence texts Debian ships: real English, present on every Debian machine.
licence_texts() {
  texts=()
  for f in /usr/share/common-licenses/*; do [[ -f $f && ! -L $f ]] && texts+=("$f"); done
}
# expect_error PATTERN CMD...: CMD exits with 1 and prints one error line containing PATTERN
# (outputs go to $work/out.txt and $work/err.txt).
expect_error() {
  local pattern=$1
  shift
  local rc=0
  "$@" > "$work/out.txt" 2> "$work/err.txt" || rc=$?
  [[ $rc -eq 1 ]] || fail "exit status $rc (expected 1) from: $* — $(cat "$work/err.txt")"
  grep -qF -- "$pattern" "$work/err.txt" || fail "the error of '$*' lacks '$pattern': $(cat "$work/err.txt")"
  [[ $(wc -l < "$work/err.txt") -eq 1 ]] || fail "more than one error line from '$*': $(cat "$work/err.txt")"
}
