# Sourced by the interop tests: TAP-like "ok - ..." / "not ok - ..." lines
# and their counts in $passed and $failed.
passed=0
failed=0

ok() { passed=$((passed + 1)); echo "ok - $1"; }
fail() { failed=$((failed + 1)); echo "not ok - $1"; }

# check DESCRIPTION TEXT PATTERN: PATTERN (grep -E) occurs in TEXT; shows
# TEXT when it does not.
check() {
  if printf '%s\n' "$2" | grep -Eq -- "$3"; then
    ok "$1"
  else
    fail "$1"
    printf '  expected /%s/ in:\n%s\n' "$3" "$2" | sed 's/^/  /'
  fi
}
