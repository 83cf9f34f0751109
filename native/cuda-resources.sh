#!/usr/bin/env bash
# Prints ptxas's resource report for every CUDA kernel of native/src/cuda as a
# Markdown table: registers, static shared memory, stack frame and spills per
# kernel, for one architecture (default sm_90; e.g. `native/cuda-resources.sh sm_80`).
# The build prints the same report (-Xptxas -v) for every architecture it targets.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
arch=${1:-sm_90}
command -v nvcc >/dev/null 2>&1 || { echo "cuda-resources.sh: nvcc is not on PATH" >&2; exit 1; }
command -v c++filt >/dev/null 2>&1 || { echo "cuda-resources.sh: c++filt (binutils) is not on PATH" >&2; exit 1; }

echo "| file | kernel | registers | shared memory (bytes) | stack frame (bytes) | spill stores / loads (bytes) |"
echo "| --- | --- | --- | --- | --- | --- |"
for cu in "$here"/src/cuda/*.cu; do
    # The flags of cmake/NnfuseCuda.cmake that change the generated code.
    report=$(nvcc -arch="$arch" --fmad=false -std=c++17 --expt-relaxed-constexpr -O3 -DNDEBUG -Xptxas -v \
        -I "$here/include" -c "$cu" -o /dev/null 2>&1) || { echo "$report" >&2; exit 1; }
    echo "$report" |
        awk -v file="$(basename "$cu")" '
            /Compiling entry function/ { match($0, /'"'"'[^'"'"']*'"'"'/); name = substr($0, RSTART + 1, RLENGTH - 2) }
            /bytes stack frame/ { stack = $1; stores = $5; loads = $9 }
            /Used [0-9]+ registers/ {
                regs = $0; sub(/.*Used /, "", regs); sub(/ registers.*/, "", regs)
                smem = 0
                if (match($0, /[0-9]+ bytes smem/)) { smem = substr($0, RSTART, RLENGTH); sub(/ bytes smem/, "", smem) }
                printf "%s\t%s\t%s\t%s\t%s\t%s / %s\n", file, name, regs, smem, stack, stores, loads
            }' |
        while IFS=$'\t' read -r file name regs smem stack spills; do
            kernel=$(echo "$name" | c++filt | sed 's/(anonymous namespace):://g; s/([^()]*)$//; s/^void //')
            echo "| $file | \`$kernel\` | $regs | $smem | $stack | $spills |"
        done
done
