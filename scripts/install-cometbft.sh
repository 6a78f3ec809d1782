#!/usr/bin/env bash
# Installs the CometBFT reference nodes used by the interop specs (spec/interop/), one binary per version:
#   ${RX_P2P_CACHE:-$HOME/.cache/rx-p2p}/cometbft/<version>/cometbft
# A binary already there that reports the right version is reused. Without Go the script says so and exits 0:
# the interop specs then skip themselves with the reason, and the rest of the suite runs as usual.
#
# Usage: scripts/install-cometbft.sh [version ...]     (default: the versions below)
set -euo pipefail

DEFAULT_VERSIONS=(v0.38.26 v1.0.1)
MODULE=github.com/cometbft/cometbft/cmd/cometbft
CACHE="${RX_P2P_CACHE:-$HOME/.cache/rx-p2p}/cometbft"

if [ "$#" -gt 0 ]; then VERSIONS=("$@"); else VERSIONS=("${DEFAULT_VERSIONS[@]}"); fi

have_go=true
if ! command -v go >/dev/null 2>&1; then have_go=false; fi

missing=0
for ver in "${VERSIONS[@]}"; do
  dir="$CACHE/$ver"
  bin="$dir/cometbft"
  want="${ver#v}"
  if [ -x "$bin" ]; then
    got="$("$bin" version 2>/dev/null | head -n 1 || true)"
    if [ "$got" = "$want" ]; then
      echo "cometbft $ver: reusing $bin"
      continue
    fi
    echo "cometbft $ver: $bin reports version '${got}', reinstalling"
  fi
  if [ "$have_go" != true ]; then
    echo "cometbft $ver: not installed and Go is not on PATH; skipping (the interop specs will skip themselves)"
    missing=$((missing + 1))
    continue
  fi
  echo "cometbft $ver: installing with $(go version | awk '{print $3}') into $dir (this can take a few minutes)"
  mkdir -p "$dir"
  GOBIN="$dir" go install "$MODULE@$ver"
  got="$("$bin" version 2>/dev/null | head -n 1 || true)"
  if [ "$got" != "$want" ]; then
    echo "cometbft $ver: installed binary reports version '${got}', expected '$want'" >&2
    exit 1
  fi
  echo "cometbft $ver: installed $bin"
done

if [ "$missing" -gt 0 ]; then
  echo "install-cometbft: $missing version(s) not installed because Go is missing; install Go (>= 1.23.5) to run the interop specs"
fi
exit 0
