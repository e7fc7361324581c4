# tests/lib.sh — shared by the command-line test scripts (sourced).
fail() { echo "FAIL: $*" >&2; exit 1; }
# The licence texts Debian ships: real English, present on every Debian machine.
licence_texts() {
  texts=()
  for f in /usr/share/common-licenses/*; do [[ -f $f && ! -L $f ]] && texts+=("$f"); done
}
