#!/usr/bin/env bash
# Copies the generated tables (docs/bench/*.md, written by `loaq bench report FOLDER --docs
# docs/bench`) into README.md between their markers:
#
#   <!-- generated: docs/bench/NAME.md -->
#   ...replaced by the file's content...
#   <!-- end generated -->
#
# --check changes nothing and exits 1 when README.md differs from what it would write.
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && check=1
out=$(mktemp)
trap 'rm -f "$out"' EXIT
awk '
  /^<!-- generated: .* -->$/ {
    print
    file = $3
    if ((getline line < file) < 0) { print "sync_docs: " file " is missing" > "/dev/stderr"; exit 2 }
    print line
    while ((getline line < file) > 0) print line
    close(file)
    skipping = 1
    next
  }
  /^<!-- end generated -->$/ { skipping = 0 }
  !skipping { print }
  END { if (skipping) { print "sync_docs: a generated block is not closed" > "/dev/stderr"; exit 2 } }
' README.md > "$out"
if cmp -s README.md "$out"; then
  echo "sync_docs: README.md is up to date with docs/bench/"
  exit 0
fi
if [ $check = 1 ]; then
  echo "sync_docs: README.md differs from docs/bench/ (run bash scripts/sync_docs.sh):" >&2
  diff -u README.md "$out" >&2 || true
  exit 1
fi
cp "$out" README.md
echo "sync_docs: README.md updated from docs/bench/"
