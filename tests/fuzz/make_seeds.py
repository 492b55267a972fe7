#!/usr/bin/env python3
"""Write the seed corpora of the fuzz targets into tests/fuzz/corpus/.

Usage: python3 tests/fuzz/make_seeds.py

Model seeds are the shipped models in models/ plus small files for the
features those do not use. Data and checkpoint seeds are small valid files
of every format the loaders accept. Only the Python standard library is
used, so no NumPy is needed. Running it again rewrites the same files.
"""
import gzip
import io
import os
import shutil
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    folder = os.path.join(CORPUS, target)
    os.makedirs(folder, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


def gz(data):
    # mtime=0 keeps the output the same from run to run.
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as f:
        f.write(data)
    return out.getvalue()


SMALL_MODEL = """model: small
dims: {batch: 2, visible: 3, hidden: 2}
hyper: {lr: 0.5, k: 2}
params:
  W: {shape: [visible, hidden], init: {uniform: {low: -1, high: 1}}}
  bv: {shape: [visible], init: {constant: 0.25}}
  bh: {shape: [hidden], init: {bernoulli: 0.5}}
state:
  chain: {shape: [batch, visible], init: {normal: {std: 1, mean: 0}}}
inputs:
  v0: {shape: [batch, visible]}
graph:
  h0p: sigmoid(v0 @ W + bh)
  e: where(v0 > 0.5, exp(-v0^2), log1p(abs(v0)))
chains:
  neg:
    steps: k
    init: {v: chain}
    step:
      hp: sigmoid(v @ W + bh)
      v: bernoulli(sigmoid(bernoulli(hp) @ W.T + bv))
updates:
  W: W + lr / batch * (v0.T @ h0p - neg.v.T @ neg.hp)
  chain: neg.v
metrics:
  err: mean((v0 - neg.v)^2)
  m: sum(max(min(e, 1), 0))
entries:
  features:
    graph: {f: softplus(v0 @ W) * tanh(relu(sqrt(square(v0 @ W))))}
    outputs: {h: h0p, f: f, n: normal(h0p, 0.1) + uniform(h0p)}
"""

EXPRESSIONS = [
    "sigmoid(v0 @ W + bh)",
    "W + lr / batch * (v0.T @ h0p - v1p.T @ h1p)",
    "bh + lr / batch * sum(h0p - h1p, axis=0)",
    "sum((v0 - v1p)^2) / batch",
    "-x^2 + 2^-1 * mean(y, axis=-1)",
    "where(a <= b, min(a, 1e-3), max(b, .5))",
    "neg.v.T @ neg.hp",
    "normal(0, 1) + uniform(x) * bernoulli(p)",
    "(((a)))",
]


def idx(dims, payload):
    head = bytes([0, 0, 8, len(dims)]) + b"".join(
        struct.pack(">I", d) for d in dims)
    return head + payload


def npy(descr, shape, payload, major=1):
    dims = ", ".join(str(d) for d in shape)
    if len(shape) == 1:
        dims += ","
    text = "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }" % (
        descr, dims)
    len_bytes = 2 if major == 1 else 4
    pad = (-(6 + 2 + len_bytes + len(text) + 1)) % 64
    text = text + " " * pad + "\n"
    size = struct.pack("<H" if major == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([major, 0]) + size + text.encode() + payload


def npz(members):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as z:
        for name, data in members:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            z.writestr(info, data)
    return out.getvalue()


def model_seeds():
    models = os.path.join(ROOT, "models")
    for name in sorted(os.listdir(models)):
        if name.endswith(".yaml"):
            shutil.copyfile(os.path.join(models, name),
                            os.path.join(CORPUS, "model", name))
    write("model", "small.yaml", SMALL_MODEL)
    write("model", "flow.yaml",
          "model: f\ndims: {n: 4}\ninputs: {x: {shape: [n, n]}}\n"
          "outputs: {y: \"x @ x.T\", z: 'sum(x, axis=1)'}\n")
    write("model", "block.yaml",
          "model: b\ninputs:\n  x: {shape: []}\noutputs:\n  y: |\n"
          "    x * 2\n      + 1\n")
    for i, text in enumerate(EXPRESSIONS):
        write("expr", "expr-%d.txt" % i, text)


def data_seeds():
    pixels = bytes(range(2 * 3 * 4))
    write("data", "images.idx", idx([2, 3, 4], pixels))
    write("data", "images.idx.gz", gz(idx([2, 3, 4], pixels)))
    write("data", "labels.idx", idx([5], bytes([1, 2, 3, 4, 5])))
    write("data", "u8.npy", npy("|u1", [2, 3], bytes(range(6))))
    write("data", "f32-v2.npy",
          npy("<f4", [2, 2, 2], struct.pack("<8f", *range(8)), major=2))
    write("data", "f64-v3.npy",
          npy("<f8", [3], struct.pack("<3d", 0.5, -1.0, 2.0), major=3))
    write("data", "f32.npy.gz",
          gz(npy("<f4", [1, 2], struct.pack("<2f", 0.25, 0.75))))
    csv = "a,b,c\n0.5, 1, 2e-3\r\n\n1,2,3\n"
    write("data", "header.csv", csv)
    write("data", "plain.csv.gz", gz(b"1,2\n3,4\n"))


def checkpoint_seeds():
    meta = [
        ("__format__.npy", npy("<i8", [], struct.pack("<q", 1))),
        ("__seed__.npy", npy("<u8", [], struct.pack("<Q", 7))),
        ("__step__.npy", npy("<u8", [], struct.pack("<Q", 120))),
        ("__epoch__.npy", npy("<u8", [], struct.pack("<Q", 2))),
        ("__model__.npy", npy("|u1", [9], b"model: x\n")),
    ]
    w = ("W.npy", npy("<f4", [3, 4], struct.pack("<12f", *range(12))))
    bh = ("bh.npy", npy("<f4", [4], struct.pack("<4f", 1, 2, 3, 4)))
    write("checkpoint", "checkpoint.npz", npz(meta + [w, bh]))
    write("checkpoint", "savez-f64.npz", npz([
        ("W.npy", npy("<f8", [3, 4], struct.pack("<12d", *range(12)))),
        ("scale.npy", npy("<f8", [], struct.pack("<d", 0.5))),
    ]))
    write("checkpoint", "empty.npz", npz([]))


def main():
    for target in ("model", "expr", "data", "checkpoint"):
        os.makedirs(os.path.join(CORPUS, target), exist_ok=True)
    model_seeds()
    data_seeds()
    checkpoint_seeds()


if __name__ == "__main__":
    main()
