#!/bin/sh
# Configure (on first use) and build rbm-graph in BUILD_DIR (default:
# build). Extra arguments go to `meson setup`, for example
# --buildtype=debug.
set -eu

cd "$(dirname "$0")/.."
build_dir=${RG_BUILD_DIR:-build}

if [ ! -f "$build_dir/build.ninja" ]; then
    meson setup "$build_dir" "$@"
fi
ninja -C "$build_dir"
