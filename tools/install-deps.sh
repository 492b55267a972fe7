#!/bin/sh
# Install every package needed to build, test and run rbm-graph on Debian,
# the Fashion-MNIST data package included. Run as root.
set -eu

export DEBIAN_FRONTEND=noninteractive

apt-get update -q
apt-get install -y -q --no-install-recommends \
    build-essential meson ninja-build pkg-config \
    libyaml-dev libopenblas-dev zlib1g-dev libpng-dev check \
    ocl-icd-opencl-dev opencl-c-headers libclblast-dev pocl-opencl-icd \
    dataset-fashion-mnist \
    graphviz python3 python3-numpy
