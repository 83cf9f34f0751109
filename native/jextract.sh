#!/usr/bin/env bash
# Regenerates the Java bindings of nnfuse.h (java/src/main/java/nnfuse/internal/bindings)
# with jextract, which must be on PATH. Run it after every change to nnfuse.h;
# BindingsConsistencyTest fails until the two agree.
#
# The output is jextract's, filtered to nnfuse's own functions and constants,
# with one edit: the symbol lookup is nnfuse's loader (NativeLibrary), which
# finds libnnfuse in the jar or at -Dnnfuse.library.path at run time, instead
# of a library name fixed at generation time.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(dirname "$here")
header="$here/include/nnfuse.h"
package=nnfuse.internal.bindings
out="$root/java/src/main/java"
target="$out/${package//.//}/nnfuse_h.java"

command -v jextract >/dev/null 2>&1 || { echo "jextract.sh: jextract is not on PATH" >&2; exit 1; }

filters=()
functions=0
while read -r fn; do
    filters+=(--include-function "$fn")
    functions=$((functions + 1))
done < <(sed -n 's/^NF_API[^(]*[ *]\(nf_[a-z0-9_]*\) *(.*/\1/p' "$header")
while read -r constant; do
    filters+=(--include-constant "$constant")
done < <(sed -n 's/^#define \(NF_[A-Z0-9_]*\) [0-9].*/\1/p' "$header")

jextract --output "$out" --target-package "$package" --header-class-name nnfuse_h \
    "${filters[@]}" "$header"

perl -0pi -e 's/static final SymbolLookup SYMBOL_LOOKUP = [^;]*;/static final SymbolLookup SYMBOL_LOOKUP = name -> nnfuse.internal.NativeLibrary.lookup().find(name);/' "$target"
grep -q 'nnfuse.internal.NativeLibrary.lookup()' "$target" || {
    echo "jextract.sh: could not replace SYMBOL_LOOKUP in $target; jextract's output changed shape" >&2
    exit 1
}
echo "jextract.sh: regenerated $target ($functions functions)"
