#!/usr/bin/env bash
# device-check.sh: the GPU check, one script, under 8 minutes. On a CUDA machine it builds with -Pcuda, reports
# whether the CUDA and TensorRT providers load (and if not, the libraries the provider libraries cannot find: the
# onnxruntime_gpu jar expects CUDA 12 and cuDNN 9, a machine may have only CUDA 13), compares the presets' logits
# on each provider with the CPU's, runs bench infer/train on cuda and tensorrt, and builds TensorRT engines for
# model.onnx and decode.onnx of vit-tiny and lm-tiny with trtexec when it is installed. It writes a markdown
# report (default device-check.md, or $1) and exits 0; on a machine without a GPU it says "no GPU" and stops.
#
# Usage: scripts/device-check.sh [REPORT.md]      Environment: DEVICE_CHECK_STEP_TIMEOUT (seconds, default 150)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPORT="$(realpath -m "${1:-device-check.md}")"
STEP_TIMEOUT="${DEVICE_CHECK_STEP_TIMEOUT:-150}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
START=$(date +%s)

: > "$REPORT.tmp"
say() { printf '%s\n' "$*" | tee -a "$REPORT.tmp"; }
finish() {
  say ""
  say "Finished in $(( $(date +%s) - START )) s."
  mv -f "$REPORT.tmp" "$REPORT"
  echo "device-check: report written to $REPORT" >&2
  exit 0
}
# Runs a step under the step timeout, its output fenced in the report; never stops the script.
step() {
  local title="$1"; shift
  say ""
  say "### $title"
  say ""
  say '```'
  local rc=0
  (cd "$ROOT" && timeout "$STEP_TIMEOUT" "$@") > "$WORK/step.log" 2>&1 || rc=$?
  tail -n 60 "$WORK/step.log" | tee -a "$REPORT.tmp" > /dev/null
  say '```'
  if (( rc == 124 )); then say "(timed out after ${STEP_TIMEOUT} s)"; elif (( rc != 0 )); then say "(exit code $rc)"; fi
  return $rc
}

say "# twicing device check"
say ""
say "Host: $(hostname), $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) CPUs, commit $(cd "$ROOT" && git rev-parse --short HEAD 2>/dev/null || echo unknown)."

# What the GPU run needs, listed before looking for a GPU so that a machine can be judged (and this section tested)
# anywhere: the onnxruntime_gpu 1.29 jar loads CUDA 12 and cuDNN 9 libraries, and building needs a JDK and Maven
# with that jar in ~/.m2 (the device may have no network).
LDCONFIG="$(command -v ldconfig || echo /sbin/ldconfig)"
cuda_majors() {  # the major versions of $1 (e.g. libcudart) known to the linker or shipped in Python's nvidia wheels
  { "$LDCONFIG" -p 2>/dev/null | grep -oE "$1\.so\.[0-9]+" ;
    find /usr/local /opt "$HOME/.local" -maxdepth 9 -path '*nvidia*' -name "$1.so.*" 2>/dev/null | grep -oE "$1\.so\.[0-9]+"; } \
    | sed -E "s/.*\.so\.//" | sort -un | tr '\n' ' '
}
prereq() {  # prereq NAME FOUND(empty: missing) WHY
  if [[ -n "$2" ]]; then say "- $1: $2"; else say "- $1: missing ($3)"; fi
}
say ""
say "## Prerequisites"
say ""
prereq "java" "$(command -v java > /dev/null && java -version 2>&1 | head -n 1)" "a JDK 17 or newer builds and runs twicing"
prereq "mvn" "$(command -v mvn > /dev/null && mvn -B -v 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | head -n 1)" \
  "Maven builds twicing with -Pcuda"
prereq "onnxruntime_gpu jar in ~/.m2" "$(ls "$HOME/.m2/repository/com/microsoft/onnxruntime/onnxruntime_gpu" 2>/dev/null | tr '\n' ' ')" \
  "the -Pcuda build resolves it offline; fetch it where Maven Central is reachable"
major() {  # major NAME LIB NEEDED WHO: the majors found, and whether the one needed is among them
  local found
  found="$(cuda_majors "$2")"
  if [[ -z "$found" ]]; then
    say "- $1: missing ($4 needs $2.so.$3)"
  elif [[ " $found" == *" $3 "* ]]; then
    say "- $1: $found"
  else
    say "- $1: ${found}but $4 needs $2.so.$3"
  fi
}
major "CUDA runtime (libcudart) majors" libcudart 12 "onnxruntime_gpu 1.29"
major "cuDNN (libcudnn) majors" libcudnn 9 "onnxruntime_gpu 1.29"
major "TensorRT (libnvinfer) majors" libnvinfer 10 "the tensorrt provider"
prereq "trtexec" "$(command -v trtexec)" "engine builds are skipped without it"

if ! command -v nvidia-smi > /dev/null 2>&1 || ! nvidia-smi -L > "$WORK/gpus" 2>&1; then
  say ""
  say "no GPU: nvidia-smi is missing or lists no device; nothing to check on this machine."
  finish
fi
say ""
say "## GPU"
say ""
say '```'
nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv 2>&1 | tee -a "$REPORT.tmp" > /dev/null
say '```'
say ""
say "CUDA/cuDNN/TensorRT libraries known to the dynamic linker:"
say '```'
"$LDCONFIG" -p 2>/dev/null | grep -E 'libcudart\.so|libcublas\.so|libcudnn\.so|libnvinfer\.so|libcufft\.so|libcurand\.so' \
  | awk '{print $1}' | sort -u | tee -a "$REPORT.tmp" > /dev/null || true
say '```'
command -v nvcc > /dev/null && say "nvcc: $(nvcc --version | tail -n 1)"

say ""
say "## Build with -Pcuda (onnxruntime_gpu)"
if ! step "mvn -Pcuda install" mvn -B -q -o -Pcuda -DskipTests install; then
  say ""
  say "The -Pcuda build failed (offline: is com.microsoft.onnxruntime:onnxruntime_gpu in ~/.m2?). Continuing with the"
  say "CPU build, whose device check can only report that the GPU providers are absent."
  step "mvn install (CPU artifact)" mvn -B -q -o -DskipTests install || true
fi
TW=("$ROOT/twicing")
export TWICING_NO_BUILD=1

say ""
say "## Providers and logits against the CPU"
step "twicing device-check" "${TW[@]}" device-check --providers cuda,tensorrt --models vit-tiny,lm-tiny --report "$WORK/dc.md" || true
# ONNX Runtime for Java unpacks its provider libraries into a temporary directory; ldd names what they lack.
for lib in $(find /tmp -maxdepth 2 -name 'libonnxruntime_providers_*.so' 2> /dev/null | sort -u); do
  missing=$(ldd "$lib" 2> /dev/null | grep 'not found' || true)
  if [[ -n "$missing" ]]; then
    say ""
    say "$(basename "$lib") cannot find:"
    say '```'
    say "$missing"
    say '```'
  fi
done

say ""
say "## Benchmarks"
for p in cuda tensorrt; do
  step "bench infer vit-tiny on $p" "${TW[@]}" bench infer --model vit-tiny --batch 8 --iters 20 --provider "$p" || true
  step "bench infer lm-tiny on $p" "${TW[@]}" bench infer --model lm-tiny --batch 16 --iters 20 --provider "$p" || true
done
step "bench train vit-fmnist on cuda" "${TW[@]}" bench train --model vit-fmnist --batch 64 --iters 10 --provider cuda || true
step "bench train lm-tiny on cuda" "${TW[@]}" bench train --model lm-tiny --batch 16 --iters 10 --provider cuda || true

say ""
say "## TensorRT engines"
if command -v trtexec > /dev/null; then
  for m in vit-tiny lm-tiny; do
    "${TW[@]}" emit --model "$m" --out "$WORK/$m" > /dev/null 2>&1 || { say "emit $m failed"; continue; }
    for f in model.onnx decode.onnx; do
      [[ -f "$WORK/$m/$f" ]] || continue
      # inspect --tensorrt prints the optimization profile as trtexec flags (--minShapes/--optShapes/--maxShapes).
      flags=$("${TW[@]}" inspect "$WORK/$m/$f" --tensorrt 2> /dev/null | grep -oE -- '--(min|opt|max)Shapes=[^ ]+' | tr '\n' ' ')
      # shellcheck disable=SC2086
      step "trtexec $m/$f" trtexec --onnx="$WORK/$m/$f" $flags --saveEngine="$WORK/$m/$f.engine" || true
    done
  done
else
  say ""
  say "trtexec is not installed: no engines built (install TensorRT's tools to check engine builds)."
fi
finish
