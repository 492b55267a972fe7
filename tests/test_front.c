/*
 * Tests of the YAML front end. The error table has one row per error class
 * with its status, line, column and message fragment. Other tests cover
 * loading text and files, overrides through rg_model_set, and graph
 * building (laziness, memoization, chains). Every shipped model in models/
 * must load and build all its entries.
 */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rbmgraph/graph.h"
#include "rbmgraph/model.h"

/* A small valid prefix; error rows append lines from line 10 on. */
#define BASE                                                                \
    "model: t\n"                                                            \
    "dims: {batch: 4, visible: 6, hidden: 3}\n"                             \
    "hyper: {lr: 0.1, k: 2}\n"                                              \
    "params:\n"                                                             \
    "  W: {shape: [visible, hidden], init: {normal: {std: 0.01}}}\n"        \
    "  bv: {shape: [visible]}\n"                                            \
    "  bh: {shape: [hidden]}\n"                                             \
    "inputs:\n"                                                             \
    "  v0: {shape: [batch, visible]}\n"

/* BASE plus a graph and a train entry that loads and builds. */
#define VALID                                                               \
    BASE                                                                    \
    "graph:\n"                                                              \
    "  h0p: sigmoid(v0 @ W + bh)\n"                                         \
    "  h0: bernoulli(h0p)\n"                                                \
    "  v1p: sigmoid(h0 @ W.T + bv)\n"                                       \
    "updates:\n"                                                            \
    "  W: W + lr / batch * (v0.T @ h0p)\n"                                  \
    "metrics:\n"                                                            \
    "  recon_error: sum((v0 - v1p)^2) / batch\n"

static rg_model *load_ok(const char *text)
{
    rg_model *m = NULL;
    rg_error err;
    char buf[1100];
    rg_status status = rg_model_load_string(text, strlen(text), "t.yaml", &m,
                                            &err);

    ck_assert_msg(status == RG_STATUS_OK, "load failed: %s",
                  rg_error_format(&err, buf, sizeof(buf)));
    ck_assert_ptr_nonnull(m);
    return m;
}

static rg_graph *build_ok(const rg_model *m, const char *entry)
{
    rg_graph *g = NULL;
    rg_error err;
    char buf[1100];
    rg_status status = rg_model_build(m, entry, &g, &err);

    ck_assert_msg(status == RG_STATUS_OK, "build of %s failed: %s", entry,
                  rg_error_format(&err, buf, sizeof(buf)));
    ck_assert_ptr_nonnull(g);
    return g;
}

static int count_ops(const rg_graph *g, rg_op op)
{
    int n = 0;

    for (int i = 0; i < rg_graph_n_nodes(g); i++) {
        n += rg_graph_node_op(g, i) == op;
    }
    return n;
}

/* Error table. */

typedef struct error_case {
    const char *name;
    const char *text;
    const char *entry; /* NULL: the load fails; else building it fails */
    rg_status status;
    int line;
    int column;
    const char *fragment;
} error_case;

static const error_case error_cases[] = {
    /* Document structure. */
    {"empty text", "", NULL, RG_STATUS_MODEL, 1, 1, "empty model file"},
    {"only a comment", "# nothing\n", NULL, RG_STATUS_MODEL, 1, 1,
     "empty model file"},
    {"empty document", "---\n", NULL, RG_STATUS_MODEL, 2, 1,
     "empty model document"},
    {"null document", "---\n...\n", NULL, RG_STATUS_MODEL, 2, 1,
     "empty model document"},
    {"two documents", VALID "---\nmodel: u\n", NULL, RG_STATUS_SYNTAX, 18,
     1, "second YAML document"},
    {"top level list", "- a\n- b\n", NULL, RG_STATUS_MODEL, 1, 1,
     "must be a mapping of sections such as model"},
    {"top level scalar", "hello\n", NULL, RG_STATUS_MODEL, 1, 1,
     "found a string"},
    {"missing model key", "dims: {a: 1}\n", NULL, RG_STATUS_MODEL, 1, 1,
     "missing key 'model'"},
    {"model name list", "model: [a]\n", NULL, RG_STATUS_MODEL, 1, 8,
     "model must be the model's name, found a sequence"},
    {"no entry points", BASE, NULL, RG_STATUS_MODEL, 1, 1,
     "defines no entry point"},
    {"unknown top key", BASE "parms: {}\n", NULL, RG_STATUS_MODEL, 10, 1,
     "unknown key 'parms' in the model file; did you mean 'params'? "
     "Valid keys: model, dims, hyper, params, state, inputs, graph, chains, "
     "updates, outputs, metrics, entries"},
    {"unknown top key far", BASE "zzz: 1\n", NULL, RG_STATUS_MODEL, 10, 1,
     "unknown key 'zzz' in the model file; valid keys: model"},
    /* YAML syntax and features the format rejects. */
    {"yaml syntax", "model: t\ndims: {a: 1\n", NULL, RG_STATUS_SYNTAX, 3, 1,
     "invalid YAML: did not find expected ',' or '}'"},
    {"tab indentation", "model: t\ndims:\n\tbatch: 1\n", NULL,
     RG_STATUS_SYNTAX, 3, 1, "YAML indents with spaces only"},
    {"tab after flow", BASE "\tgraph: {}\n", NULL, RG_STATUS_SYNTAX, 10, 1,
     "replace the tab with spaces"},
    {"invalid utf8", "model: t\ndims: {a: \xff}\n", NULL, RG_STATUS_SYNTAX,
     2, 11, "invalid text"},
    {"duplicate top key", VALID "dims: {x: 1}\n", NULL, RG_STATUS_SYNTAX,
     18, 1, "duplicate key 'dims'; it is first defined at 2:1"},
    {"duplicate nested key", BASE "  v0: {shape: [hidden]}\n", NULL,
     RG_STATUS_SYNTAX, 10, 3, "duplicate key 'v0'; it is first defined at 9:3"},
    {"duplicate flow key", "model: t\ndims: {a: 1, b: 2, a: 3}\n", NULL,
     RG_STATUS_SYNTAX, 2, 20, "duplicate key 'a'; it is first defined at 2:8"},
    {"anchor", "model: t\ndims: &d {a: 1}\n", NULL, RG_STATUS_SYNTAX, 2, 7,
     "YAML anchor '&d' is not supported"},
    {"alias", "model: t\ndims: {a: 1}\nhyper: *d\n", NULL, RG_STATUS_SYNTAX,
     3, 8, "YAML alias '*d' is not supported"},
    {"merge key", "model: t\ndims: {<<: {a: 1}}\n", NULL, RG_STATUS_SYNTAX,
     2, 8, "YAML merge key '<<' is not supported"},
    {"tag", "model: t\ndims: {a: !!int 1}\n", NULL, RG_STATUS_SYNTAX, 2, 11,
     "YAML tag 'tag:yaml.org,2002:int' is not supported"},
    {"non scalar key", "model: t\n? [a]\n: 1\n", NULL, RG_STATUS_SYNTAX, 2,
     3, "mapping key is a sequence"},
    /* Wrong YAML types. */
    {"dims list", "model: t\ndims: [1, 2]\n", NULL, RG_STATUS_MODEL, 2, 7,
     "dims must be a mapping of name: positive integer, found a sequence"},
    {"dims empty", "model: t\ndims:\n", NULL, RG_STATUS_MODEL, 2, 6,
     "found an empty value"},
    {"hyper scalar", "model: t\nhyper: 0.1\n", NULL, RG_STATUS_MODEL, 2, 8,
     "hyper must be a mapping of name: number, found a string"},
    {"param scalar", "model: t\nparams:\n  W: 3\n", NULL, RG_STATUS_MODEL,
     3, 6, "param 'W' must be a mapping of shape and init"},
    {"shape scalar", "model: t\nparams:\n  W: {shape: 3}\n", NULL,
     RG_STATUS_MODEL, 3, 14, "shape of param 'W' must be a sequence"},
    {"graph list", BASE "graph: [a]\n", NULL, RG_STATUS_MODEL, 10, 8,
     "graph must be a mapping of name: expression, found a sequence"},
    {"expression map", BASE "graph:\n  h: {a: 1}\n", NULL, RG_STATUS_MODEL,
     11, 6, "graph expression 'h' must be an expression (a string), found "
     "a mapping"},
    {"updates list", BASE "updates: [W]\n", NULL, RG_STATUS_MODEL, 10, 10,
     "updates must be a mapping"},
    {"entry list", BASE "entries:\n  e: [1]\n", NULL, RG_STATUS_MODEL, 11, 6,
     "entry 'e' must be a mapping of graph, updates, outputs and metrics"},
    {"input with init", BASE "  x: {shape: [3], init: zeros}\n", NULL,
     RG_STATUS_MODEL, 10, 19, "unknown key 'init' in input 'x'; valid keys: "
     "shape"},
    {"param without shape", "model: t\nparams:\n  W: {init: zeros}\n", NULL,
     RG_STATUS_MODEL, 3, 6, "param 'W' has no shape"},
    {"param unknown key", "model: t\nparams:\n  W: {shape: [], inti: zeros}\n",
     NULL, RG_STATUS_MODEL, 3, 18, "unknown key 'inti' in param 'W'; did you "
     "mean 'init'?"},
    /* Numbers. */
    {"hyper infinite", "model: t\nhyper: {lr: .inf}\n", NULL,
     RG_STATUS_MODEL, 2, 13, "found the non-finite value '.inf'"},
    {"hyper nan", "model: t\nhyper: {lr: -.NaN}\n", NULL, RG_STATUS_MODEL, 2,
     13, "non-finite value '-.NaN'"},
    {"hyper overflow", "model: t\nhyper: {lr: 1e999}\n", NULL,
     RG_STATUS_MODEL, 2, 13, "'1e999' is out of range for float32"},
    {"hyper text", "model: t\nhyper: {lr: fast}\n", NULL, RG_STATUS_MODEL,
     2, 13, "hyper 'lr' must be a finite number; found 'fast'"},
    {"hyper quoted", "model: t\nhyper: {lr: \"0.1\"}\n", NULL,
     RG_STATUS_MODEL, 2, 13, "found the quoted string '0.1'; remove the quotes"},
    {"hyper boolean", "model: t\nhyper: {lr: yes}\n", NULL, RG_STATUS_MODEL,
     2, 13, "found the boolean 'yes'"},
    {"hyper true", "model: t\nhyper: {lr: true}\n", NULL, RG_STATUS_MODEL, 2,
     13, "found the boolean 'true'"},
    {"hyper null", "model: t\nhyper: {lr: ~}\n", NULL, RG_STATUS_MODEL, 2,
     13, "found an empty value"},
    {"hyper octal", "model: t\nhyper: {lr: 010}\n", NULL, RG_STATUS_MODEL, 2,
     13, "leading zero"},
    {"hyper hex", "model: t\nhyper: {lr: 0x10}\n", NULL, RG_STATUS_MODEL, 2,
     13, "found '0x10'"},
    {"dim zero", "model: t\ndims: {a: 0}\n", NULL, RG_STATUS_MODEL, 2, 11,
     "dim 'a' must be a positive integer; found 0, which is not positive"},
    {"dim negative", "model: t\ndims: {a: -5}\n", NULL, RG_STATUS_MODEL, 2,
     11, "found -5, which is not positive"},
    {"dim fraction", "model: t\ndims: {a: 2.5}\n", NULL, RG_STATUS_MODEL, 2,
     11, "found '2.5', which is not an integer"},
    {"dim huge", "model: t\ndims: {a: 3000000000}\n", NULL, RG_STATUS_MODEL,
     2, 11, "exceeds the maximum 2147483647"},
    {"dim overflow", "model: t\ndims: {a: 99999999999999999999999}\n", NULL,
     RG_STATUS_MODEL, 2, 11, "exceeds the maximum"},
    {"dim boolean", "model: t\ndims: {a: on}\n", NULL, RG_STATUS_MODEL, 2,
     11, "found the boolean 'on'"},
    {"dim quoted", "model: t\ndims: {a: '4'}\n", NULL, RG_STATUS_MODEL, 2,
     11, "must be a positive integer, found a quoted string"},
    {"dims too many elements",
     "model: t\ndims: {a: 100000, b: 100000}\nparams:\n  W: {shape: [a, b]}\n",
     NULL, RG_STATUS_MODEL, 4, 14,
     "shape of param 'W' is [100000, 100000], more than 2147483647 elements"},
    {"shape literal zero", "model: t\nparams:\n  W: {shape: [0]}\n", NULL,
     RG_STATUS_MODEL, 3, 15, "shape entry of param 'W' must be a positive "
     "integer"},
    {"shape rank three", "model: t\nparams:\n  W: {shape: [1, 2, 3]}\n",
     NULL, RG_STATUS_MODEL, 3, 14, "has 3 entries; tensors have at most 2"},
    {"shape unknown dim", BASE "  x: {shape: [batch, visibel]}\n", NULL,
     RG_STATUS_MODEL, 10, 22, "unknown dim 'visibel' in the shape of input "
     "'x'; did you mean 'visible'?"},
    {"shape uses hyper", BASE "  x: {shape: [k]}\n", NULL, RG_STATUS_MODEL,
     10, 15, "uses hyper 'k'; shapes take dims or positive integers"},
    /* Inits. */
    {"init unknown", "model: t\nparams:\n  W: {shape: [], init: ones}\n",
     NULL, RG_STATUS_MODEL, 3, 24, "invalid init of param 'W'; expected "
     "zeros, {constant: c}"},
    {"init unknown kind",
     "model: t\nparams:\n  W: {shape: [], init: {gauss: 1}}\n", NULL,
     RG_STATUS_MODEL, 3, 25, "invalid init of param 'W'"},
    {"init normal no std",
     "model: t\nparams:\n  W: {shape: [], init: {normal: {mean: 1}}}\n",
     NULL, RG_STATUS_MODEL, 3, 33, "needs std"},
    {"init normal negative",
     "model: t\nparams:\n  W: {shape: [], init: {normal: {std: -1}}}\n",
     NULL, RG_STATUS_MODEL, 3, 39, "std must not be negative"},
    {"init uniform order",
     "model: t\nparams:\n  W: {shape: [], init: {uniform: {low: 1, "
     "high: 0}}}\n",
     NULL, RG_STATUS_MODEL, 3, 34, "needs low < high"},
    {"init bernoulli range",
     "model: t\nparams:\n  W: {shape: [], init: {bernoulli: 1.5}}\n", NULL,
     RG_STATUS_MODEL, 3, 36, "bernoulli probability must be in [0, 1]"},
    {"init constant text",
     "model: t\nparams:\n  W: {shape: [], init: {constant: x}}\n", NULL,
     RG_STATUS_MODEL, 3, 35, "constant must be a finite number"},
    /* Names and shadowing. */
    {"invalid name", BASE "graph:\n  a-b: v0\n", NULL, RG_STATUS_MODEL, 11,
     3, "invalid graph expression name 'a-b'"},
    {"function name", BASE "graph:\n  exp: v0\n", NULL, RG_STATUS_MODEL, 11,
     3, "graph expression name 'exp' is a built-in function"},
    {"graph shadows param", BASE "graph:\n  W: v0\noutputs: {o: W}\n", NULL,
     RG_STATUS_MODEL, 11, 3, "graph expression 'W' has the same name as the "
     "param declared at 5:3"},
    {"graph shadows input", BASE "graph:\n  v0: W\noutputs: {o: v0}\n", NULL,
     RG_STATUS_MODEL, 11, 3, "has the same name as the input declared at 9:3"},
    {"graph shadows dim", BASE "graph:\n  batch: W\noutputs: {o: W}\n", NULL,
     RG_STATUS_MODEL, 11, 3, "has the same name as the dim declared at 2:8"},
    {"graph shadows hyper", BASE "graph:\n  lr: W\noutputs: {o: W}\n", NULL,
     RG_STATUS_MODEL, 11, 3, "has the same name as the hyper declared at 3:9"},
    {"dim shadows hyper",
     "model: t\ndims: {a: 1}\nhyper: {a: 1}\noutputs: {o: a}\n", NULL,
     RG_STATUS_MODEL, 3, 9, "hyper 'a' has the same name as the dim declared "
     "at 2:8"},
    {"state shadows param",
     BASE "state:\n  W: {shape: [1]}\noutputs: {o: W}\n", NULL,
     RG_STATUS_MODEL, 11, 3, "state 'W' has the same name as the param"},
    {"entry graph shadows",
     BASE "entries:\n  e:\n    graph: {bv: W}\n    outputs: {o: bv}\n", NULL,
     RG_STATUS_MODEL, 12, 13, "graph expression 'bv' of entry 'e' shadows "
     "the param declared at 6:3"},
    {"chain var shadows",
     BASE "chains:\n  c:\n    steps: 1\n    init: {v0: v0}\n"
     "    step: {v0: v0}\noutputs: {o: c.v0}\n", NULL, RG_STATUS_MODEL, 14,
     12, "variable 'v0' of chain 'c' shadows the input declared at 9:3"},
    /* Unknown names. */
    {"unknown name", BASE "graph:\n  h: sigmoid(v0 @ W + bx)\n"
     "outputs: {h: h}\n", NULL, RG_STATUS_MODEL, 11, 23,
     "unknown name 'bx'; did you mean 'bv'?"},
    {"unknown name far", BASE "outputs:\n  o: v0 * zzz\n", NULL,
     RG_STATUS_MODEL, 11, 11, "unknown name 'zzz'; declare it under params"},
    {"unknown in unused graph", BASE "graph:\n  unused: nope\n"
     "outputs: {o: v0}\n", NULL, RG_STATUS_MODEL, 11, 11,
     "unknown name 'nope'"},
    {"entry name not global", BASE "outputs: {o: x}\nentries:\n  e:\n"
     "    graph: {x: v0}\n    outputs: {p: x}\n", NULL, RG_STATUS_MODEL, 10,
     14, "unknown name 'x'"},
    {"unknown chain", BASE "outputs: {o: ch.v}\n", NULL, RG_STATUS_MODEL,
     10, 14, "unknown chain 'ch' in 'ch.v'"},
    {"unknown chain var",
     BASE "chains:\n  c: {steps: 1, init: {v: v0}, step: {v: v + 1}}\n"
     "outputs: {o: c.w}\n", NULL, RG_STATUS_MODEL, 12, 14,
     "chain 'c' has no variable 'w'; its variables are c.v"},
    {"bare chain name",
     BASE "chains:\n  c: {steps: 1, init: {v: v0}, step: {v: v + 1}}\n"
     "outputs: {o: c}\n", NULL, RG_STATUS_MODEL, 12, 14,
     "chain 'c' is not a value; name one of its variables: c.v"},
    /* Cycles. */
    {"self cycle", BASE "graph:\n  a: a + 1\noutputs: {o: a}\n", NULL,
     RG_STATUS_MODEL, 11, 6, "cycle in named expressions: a -> a"},
    {"three cycle", BASE "graph:\n  a: b + 1\n  b: c * 2\n  c: exp(a)\n"
     "outputs: {o: v0}\n", NULL, RG_STATUS_MODEL, 13, 10,
     "cycle in named expressions: a -> b -> c -> a"},
    {"cycle through chain",
     BASE "graph:\n  x: c.v\nchains:\n  c: {steps: 2, init: {v: x}, "
     "step: {v: v + 1}}\noutputs: {o: x}\n", NULL, RG_STATUS_MODEL, 13, 27,
     "cycle in named expressions: x -> chain c -> x"},
    {"chain uses itself",
     BASE "chains:\n  c: {steps: 2, init: {v: v0}, step: {v: v + c.v}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 46,
     "cycle in named expressions: chain c -> chain c"},
    {"cycle in step",
     BASE "chains:\n  c:\n    steps: 2\n    init: {h: v0}\n    step:\n"
     "      a: b + h\n      b: a * 2\n      h: a\noutputs: {o: c.h}\n", NULL,
     RG_STATUS_MODEL, 16, 10, "cycle in the step of chain 'c': a -> b -> a"},
    /* Chains. */
    {"chain steps zero",
     BASE "chains:\n  c: {steps: 0, init: {v: v0}, step: {v: v}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 14,
     "steps of chain 'c' must be a positive integer"},
    {"chain steps too many",
     BASE "chains:\n  c: {steps: 10001, init: {v: v0}, step: {v: v}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 14,
     "exceeds the maximum 10000"},
    {"chain steps param",
     BASE "chains:\n  c: {steps: W, init: {v: v0}, step: {v: v}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 14,
     "names 'W', which is neither a dim nor a hyper"},
    {"chain steps fractional hyper",
     "model: t\nhyper: {k: 2.5}\ninputs: {x: {shape: []}}\n"
     "chains:\n  c: {steps: k, init: {v: x}, step: {v: v}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 5, 14,
     "chain 'c' takes its steps from hyper 'k' = 2.5, which is not an "
     "integer from 1 to 10000"},
    {"chain init not in step",
     BASE "chains:\n  c: {steps: 1, init: {v: v0, u: v0}, step: {v: v}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 31,
     "chain 'c' init sets 'u', which step does not define"},
    {"chain var named T",
     BASE "chains:\n  c: {steps: 1, init: {v: v0}, step: {v: v, T: v}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 45,
     "chain variable 'T' cannot be referenced"},
    {"chain missing step", BASE "chains:\n  c: {steps: 1, init: {v: v0}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 6,
     "chain 'c' needs steps, init and step; it has no step"},
    {"chain empty init",
     BASE "chains:\n  c: {steps: 1, init: {}, step: {v: v0}}\n"
     "outputs: {o: c.v}\n", NULL, RG_STATUS_MODEL, 11, 23,
     "chain 'c' carries no variables"},
    /* Entries and updates. */
    {"update of input", BASE "updates:\n  v0: v0 * 2\n", NULL,
     RG_STATUS_MODEL, 11, 3, "update of 'v0' in entry 'train': 'v0' is an "
     "input, but only params and state can be updated"},
    {"update of hyper", BASE "updates:\n  lr: lr * 2\n", NULL,
     RG_STATUS_MODEL, 11, 3, "'lr' is a hyper, but only params and state"},
    {"update of graph", BASE "graph: {g: W}\nupdates:\n  g: W\n", NULL,
     RG_STATUS_MODEL, 12, 3, "'g' is a graph expression, but only params"},
    {"update of unknown", BASE "updates:\n  Wx: W\n", NULL, RG_STATUS_MODEL,
     11, 3, "update of unknown name 'Wx' in entry 'train'; did you mean 'W'?"},
    {"entry without results", BASE "outputs: {o: v0}\nentries:\n  e: {}\n",
     NULL, RG_STATUS_MODEL, 12, 3, "entry 'e' has no updates, outputs or "
     "metrics"},
    {"entry unknown key",
     BASE "entries:\n  e: {output: {o: v0}}\n", NULL, RG_STATUS_MODEL, 11,
     7, "unknown key 'output' in entry 'e'; did you mean 'outputs'?"},
    {"entry train twice",
     BASE "outputs: {o: v0}\nentries:\n  train: {outputs: {o: v0}}\n", NULL,
     RG_STATUS_MODEL, 12, 3, "entry 'train' is already defined by the "
     "top-level updates, outputs and metrics at 10:1"},
    {"output and metric clash",
     BASE "outputs: {o: v0}\nmetrics: {o: sum(v0)}\n", NULL,
     RG_STATUS_MODEL, 11, 11, "metric 'o' has the name of an output of "
     "entry 'train'"},
    {"expression syntax plain", BASE "outputs:\n  o: sigmoid(v0 @ W\n",
     NULL, RG_STATUS_SYNTAX, 11, 13, "'(' is never closed"},
    {"expression syntax quoted", BASE "outputs:\n  o: \"v0 +* W\"\n", NULL,
     RG_STATUS_SYNTAX, 11, 11, "unexpected '*'"},
    {"expression syntax block",
     BASE "outputs:\n  o: |\n    v0 @ W\n      + bh +\n", NULL,
     RG_STATUS_SYNTAX, 13, 13, "unexpected end of expression after '+'"},
    {"expression syntax folded lines", BASE "outputs:\n  o: v0 @\n    W bh\n",
     NULL, RG_STATUS_SYNTAX, 12, 7, "unexpected name 'bh'"},
    {"expression unknown function", BASE "outputs:\n  o: sigmod(v0)\n",
     NULL, RG_STATUS_SYNTAX, 11, 6, "did you mean 'sigmoid'?"},
    {"expression arity", BASE "outputs:\n  o: min(v0)\n", NULL,
     RG_STATUS_SYNTAX, 11, 6, "min expects 2 arguments, got 1"},
    {"expression empty", BASE "outputs:\n  o:\n", NULL, RG_STATUS_SYNTAX,
     11, 5, "empty expression"},
    /* Errors found while building. */
    {"matmul shape mismatch", BASE "outputs:\n  o: v0 @ W.T\n", "train",
     RG_STATUS_SHAPE, 11, 9, "[4, 6] @ [3, 6]"},
    {"broadcast mismatch", BASE "outputs:\n  o: v0 + bh\n", "train",
     RG_STATUS_SHAPE, 11, 9, "[4, 6]"},
    {"update shape differs", BASE "updates:\n  bv: bh * 2\n", "train",
     RG_STATUS_SHAPE, 11, 7, "update of param 'bv' has shape [3], but the "
     "param has shape [6]"},
    {"metric not scalar", BASE "metrics:\n  m: v0 * 2\n", "train",
     RG_STATUS_SHAPE, 11, 6, "metric 'm' must be a scalar, but its "
     "expression has shape [4, 6]"},
    {"shape error in graph", BASE "graph:\n  h: v0 @ bh\noutputs: {o: h}\n",
     "train", RG_STATUS_SHAPE, 11, 9, "matmul"},
    {"shape error in chain",
     BASE "chains:\n  c: {steps: 3, init: {v: v0}, step: {v: v @ W}}\n"
     "outputs: {o: c.v}\n", "train", RG_STATUS_SHAPE, 11, 44, "matmul"},
    {"result too large",
     "model: t\ndims: {n: 50000}\ninputs: {x: {shape: [n, 1]}}\n"
     "outputs: {o: x @ x.T}\n", "train", RG_STATUS_SHAPE, 4, 16,
     "result has shape [50000, 50000], more than 2147483647 elements"},
};

START_TEST(model_error_table)
{
    const error_case *c = &error_cases[_i];
    rg_model *m = NULL;
    rg_graph *g = NULL;
    rg_error err;
    char buf[1100];
    rg_status status = rg_model_load_string(c->text, strlen(c->text),
                                            "t.yaml", &m, &err);

    if (c->entry != NULL) {
        ck_assert_msg(status == RG_STATUS_OK, "%s: load failed: %s",
                      c->name, rg_error_format(&err, buf, sizeof(buf)));
        status = rg_model_build(m, c->entry, &g, &err);
        ck_assert_ptr_null(g);
        rg_model_free(m);
    } else {
        ck_assert_ptr_null(m);
    }
    rg_error_format(&err, buf, sizeof(buf));
    ck_assert_msg(status == c->status, "%s: status %s, expected %s (%s)",
                  c->name, rg_status_str(status), rg_status_str(c->status),
                  buf);
    ck_assert_msg(err.code == c->status, "%s: err.code %d", c->name,
                  (int)err.code);
    ck_assert_str_eq(err.file, "t.yaml");
    ck_assert_msg(err.line == c->line && err.column == c->column,
                  "%s: at %d:%d, expected %d:%d (%s)", c->name, err.line,
                  err.column, c->line, c->column, buf);
    ck_assert_msg(strstr(err.message, c->fragment) != NULL,
                  "%s: message '%s' lacks '%s'", c->name, err.message,
                  c->fragment);
}
END_TEST

START_TEST(yaml_nesting_limit)
{
    char text[512];
    rg_model *m = NULL;
    rg_error err;

    snprintf(text, sizeof(text), "model: t\ndims: %s1%s\n",
             "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[",
             "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]");
    ck_assert_int_eq(rg_model_load_string(text, strlen(text), "t.yaml", &m,
                                          &err),
                     RG_STATUS_SYNTAX);
    ck_assert_ptr_nonnull(strstr(err.message, "nested more than 32"));
}
END_TEST

/* Loading valid text. */

START_TEST(load_reports_declarations)
{
    rg_model *m = load_ok(VALID);

    ck_assert_str_eq(rg_model_name(m), "t");
    ck_assert_str_eq(rg_model_source(m), VALID);
    ck_assert_int_eq(rg_model_n_dims(m), 3);
    ck_assert_str_eq(rg_model_dim_name(m, 0), "batch");
    ck_assert_int_eq(rg_model_dim_value(m, 0), 4);
    ck_assert_str_eq(rg_model_dim_name(m, 2), "hidden");
    ck_assert_int_eq(rg_model_dim_value(m, 2), 3);
    ck_assert_ptr_null(rg_model_dim_name(m, 3));
    ck_assert_int_eq(rg_model_n_hypers(m), 2);
    ck_assert_str_eq(rg_model_hyper_name(m, 0), "lr");
    ck_assert(rg_model_hyper_value(m, 0) == 0.1);
    ck_assert_str_eq(rg_model_hyper_name(m, 1), "k");
    ck_assert(rg_model_hyper_value(m, 1) == 2.0);
    ck_assert_int_eq(rg_model_n_entries(m), 1);
    ck_assert_str_eq(rg_model_entry_name(m, 0), "train");
    ck_assert_ptr_null(rg_model_entry_name(m, 1));
    rg_model_free(m);
}
END_TEST

START_TEST(entries_in_file_order)
{
    const char *text = BASE
        "entries:\n"
        "  first: {outputs: {o: v0}}\n"
        "metrics: {m: sum(v0)}\n"
        "outputs: {o: v0}\n";
    rg_model *m = load_ok(text);

    ck_assert_int_eq(rg_model_n_entries(m), 2);
    ck_assert_str_eq(rg_model_entry_name(m, 0), "first");
    ck_assert_str_eq(rg_model_entry_name(m, 1), "train");
    rg_model_free(m);
}
END_TEST

START_TEST(sections_in_any_order)
{
    const char *text =
        "outputs: {o: h}\n"
        "graph: {h: sigmoid(x @ W)}\n"
        "params: {W: {shape: [n, n]}}\n"
        "inputs: {x: {shape: [2, n]}}\n"
        "dims: {n: 5}\n"
        "model: backwards\n";
    rg_model *m = load_ok(text);
    rg_graph *g = build_ok(m, "train");

    ck_assert_int_eq(rg_graph_n_outputs(g), 1);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(quoted_and_block_expressions)
{
    const char *text = BASE
        "outputs:\n"
        "  a: 'sigmoid(v0 @ W + bh)'\n"
        "  b: \"v0 * 2\"\n"
        "  c: |\n"
        "    v0 @ W\n"
        "      + bh\n"
        "  d: >-\n"
        "    sum(v0,\n"
        "        axis=0)\n"
        "  e: v0 @ W\n"
        "     + bh\n";
    rg_model *m = load_ok(text);
    rg_graph *g = build_ok(m, "train");

    ck_assert_int_eq(rg_graph_n_outputs(g), 5);
    ck_assert_int_eq(rg_graph_node_shape(g, rg_graph_output_node(g, 3)).rank,
                     1);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(comments_and_crlf)
{
    const char *text =
        "# leading comment\r\n"
        "model: t   # trailing\r\n"
        "dims: {n: 3}\r\n"
        "inputs: {x: {shape: [n]}}\r\n"
        "outputs:\r\n"
        "  o: x +\r\n"
        "     y\r\n";
    rg_model *m = NULL;
    rg_error err;

    ck_assert_int_eq(rg_model_load_string(text, strlen(text), "t.yaml", &m,
                                          &err),
                     RG_STATUS_MODEL);
    ck_assert_int_eq(err.line, 7);
    ck_assert_int_eq(err.column, 6);
}
END_TEST

START_TEST(utf8_before_expression)
{
    /* Columns count characters: 'é' is one column but two bytes. */
    const char *text =
        "model: caf\xc3\xa9\n"
        "inputs: {x: {shape: [2]}}\n"
        "outputs: {\xc3\xa9t\xc3\xa9: x, o: x + zz}\n";
    rg_model *m = NULL;
    rg_error err;

    ck_assert_int_eq(rg_model_load_string(text, strlen(text), "t.yaml", &m,
                                          &err),
                     RG_STATUS_MODEL);
    ck_assert_int_eq(err.line, 3);
    ck_assert_int_eq(err.column, 11);
    ck_assert_ptr_nonnull(strstr(err.message, "invalid output name"));
}
END_TEST

START_TEST(load_null_name_and_file)
{
    rg_model *m = NULL;
    rg_error err;

    ck_assert_int_eq(rg_model_load_string("model: [", 8, NULL, &m, &err),
                     RG_STATUS_SYNTAX);
    ck_assert_str_eq(err.file, "<string>");
    ck_assert_int_eq(rg_model_load("/nonexistent/model.yaml", &m, &err),
                     RG_STATUS_IO);
    ck_assert_str_eq(err.file, "/nonexistent/model.yaml");
    ck_assert_ptr_nonnull(strstr(err.message, "cannot open model file"));
    ck_assert_ptr_null(m);
}
END_TEST

START_TEST(load_real_file)
{
    char path[] = "/tmp/rg-front-XXXXXX";
    int fd = mkstemp(path);
    FILE *f;
    rg_model *m = NULL;
    rg_error err;

    ck_assert_int_ge(fd, 0);
    f = fdopen(fd, "w");
    ck_assert_ptr_nonnull(f);
    fputs(BASE "outputs:\n  o: v0 @ W.T\n", f);
    fclose(f);
    ck_assert_int_eq(rg_model_load(path, &m, &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_model_build(m, "train", &(rg_graph *){NULL}, &err),
                     RG_STATUS_SHAPE);
    ck_assert_str_eq(err.file, path);
    ck_assert_int_eq(err.line, 11);
    ck_assert_int_eq(err.column, 9);
    rg_model_free(m);
    unlink(path);
}
END_TEST

/* Overrides. */

START_TEST(set_dim_and_hyper)
{
    rg_model *m = load_ok(VALID);
    rg_error err;
    rg_graph *g;
    rg_node_id v0;

    ck_assert_int_eq(rg_model_set(m, "batch", "64", &err), RG_STATUS_OK);
    ck_assert_int_eq(rg_model_dim_value(m, 0), 64);
    ck_assert_int_eq(rg_model_set(m, "lr", "0.05", &err), RG_STATUS_OK);
    ck_assert(rg_model_hyper_value(m, 0) == 0.05);
    ck_assert_int_eq(rg_model_set(m, "lr", "-1e-3", &err), RG_STATUS_OK);
    ck_assert(rg_model_hyper_value(m, 0) == -1e-3);
    g = build_ok(m, "train");
    v0 = rg_graph_find_leaf(g, "v0");
    ck_assert_int_ge(v0, 0);
    ck_assert_int_eq(rg_graph_node_shape(g, v0).dims[0], 64);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

typedef struct set_case {
    const char *name;
    const char *value;
    rg_status status;
    const char *fragment;
} set_case;

static const set_case set_cases[] = {
    {"batch", "0", RG_STATUS_INVALID_ARGUMENT, "which is not positive"},
    {"batch", "-3", RG_STATUS_INVALID_ARGUMENT, "which is not positive"},
    {"batch", "2.5", RG_STATUS_INVALID_ARGUMENT, "not an integer"},
    {"batch", "abc", RG_STATUS_INVALID_ARGUMENT, "found 'abc'"},
    {"batch", "", RG_STATUS_INVALID_ARGUMENT, "found an empty value"},
    {"batch", "4000000000", RG_STATUS_INVALID_ARGUMENT,
     "exceeds the maximum 2147483647"},
    {"visible", "1000000000", RG_STATUS_INVALID_ARGUMENT,
     "would have shape [1000000000, 3]"},
    {"lr", "nan", RG_STATUS_INVALID_ARGUMENT, "found 'nan'"},
    {"lr", ".inf", RG_STATUS_INVALID_ARGUMENT, "non-finite"},
    {"lr", "1e999", RG_STATUS_INVALID_ARGUMENT, "out of range"},
    {"lr", "true", RG_STATUS_INVALID_ARGUMENT, "boolean"},
    {"lr", "0.1x", RG_STATUS_INVALID_ARGUMENT, "found '0.1x'"},
    {"lrr", "1", RG_STATUS_NOT_FOUND,
     "model 't' has no dim or hyper named 'lrr'; did you mean 'lr'?"},
    {"W", "1", RG_STATUS_NOT_FOUND, "has no dim or hyper named 'W'"},
};

START_TEST(set_rejects_value)
{
    const set_case *c = &set_cases[_i];
    rg_model *m = load_ok(VALID);
    rg_error err;

    ck_assert_int_eq(rg_model_set(m, c->name, c->value, &err), c->status);
    ck_assert_int_eq(err.code, c->status);
    ck_assert_msg(strstr(err.message, c->fragment) != NULL,
                  "set %s=%s: message '%s' lacks '%s'", c->name, c->value,
                  err.message, c->fragment);
    ck_assert_int_eq(rg_model_dim_value(m, 0), 4);
    ck_assert_int_eq(rg_model_dim_value(m, 1), 6);
    ck_assert(rg_model_hyper_value(m, 0) == 0.1);
    rg_model_free(m);
}
END_TEST

/* Graph building. */

#define CHAIN_MODEL                                                         \
    BASE                                                                    \
    "graph:\n"                                                              \
    "  h0p: sigmoid(v0 @ W + bh)\n"                                         \
    "  h0: bernoulli(h0p)\n"                                                \
    "chains:\n"                                                             \
    "  neg:\n"                                                              \
    "    steps: k\n"                                                        \
    "    init: {h: h0}\n"                                                   \
    "    step:\n"                                                           \
    "      vp: sigmoid(h @ W.T + bv)\n"                                     \
    "      v: bernoulli(vp)\n"                                              \
    "      hp: sigmoid(v @ W + bh)\n"                                       \
    "      h: bernoulli(hp)\n"                                              \
    "updates:\n"                                                            \
    "  W: W + lr / batch * (v0.T @ h0p - neg.v.T @ neg.hp)\n"              \
    "entries:\n"                                                            \
    "  last: {outputs: {h: neg.h}}\n"                                       \
    "  features: {outputs: {h: h0p}}\n"

START_TEST(chain_unrolls_k_steps)
{
    rg_model *m = load_ok(CHAIN_MODEL);
    rg_error err;
    rg_graph *g = build_ok(m, "train");

    /* h0, then v and h per step, except the last step's unused h. */
    ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 1 + 2 + 1);
    ck_assert_int_eq(count_ops(g, RG_OP_SIGMOID), 1 + 2 * 2);
    ck_assert_int_eq(count_ops(g, RG_OP_HYPER), 1);
    rg_graph_free(g);

    ck_assert_int_eq(rg_model_set(m, "k", "5", &err), RG_STATUS_OK);
    g = build_ok(m, "train");
    ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 1 + 2 * 4 + 1);
    rg_graph_free(g);

    g = build_ok(m, "last");
    ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 1 + 2 * 5);
    ck_assert_int_eq(count_ops(g, RG_OP_SIGMOID), 1 + 2 * 5);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(chain_steps_rejects_set)
{
    rg_model *m = load_ok(CHAIN_MODEL);
    rg_error err;

    ck_assert_int_eq(rg_model_set(m, "k", "2.5", &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_ptr_nonnull(strstr(err.message, "not an integer from 1"));
    ck_assert_int_eq(rg_model_set(m, "k", "0", &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert_int_eq(rg_model_set(m, "k", "20000", &err),
                     RG_STATUS_INVALID_ARGUMENT);
    ck_assert(rg_model_hyper_value(m, 1) == 2.0);
    rg_model_free(m);
}
END_TEST

START_TEST(chain_nodes_named)
{
    rg_model *m = load_ok(CHAIN_MODEL);
    rg_graph *g = build_ok(m, "last");
    int found_first = 0;
    int found_last = 0;

    for (int i = 0; i < rg_graph_n_nodes(g); i++) {
        const char *name = rg_graph_node_name(g, i);

        found_first += name != NULL && strcmp(name, "neg[1].vp") == 0;
        found_last += name != NULL && strcmp(name, "neg[2].h") == 0;
    }
    ck_assert_int_eq(found_first, 1);
    ck_assert_int_eq(found_last, 1);
    ck_assert_str_eq(rg_graph_output_name(g, 0), "h");
    ck_assert_str_eq(rg_graph_node_name(g, rg_graph_output_node(g, 0)),
                     "neg[2].h");
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(build_is_lazy)
{
    rg_model *m = load_ok(CHAIN_MODEL);
    rg_graph *g = build_ok(m, "features");

    ck_assert_int_eq(rg_graph_find_leaf(g, "bv"), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_find_leaf(g, "lr"), RG_NODE_NONE);
    ck_assert_int_ge(rg_graph_find_leaf(g, "W"), 0);
    ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 0);
    ck_assert_int_eq(rg_graph_n_updates(g), 0);
    ck_assert_int_eq(rg_graph_n_nodes(g), 6);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(named_expressions_memoized)
{
    const char *text = BASE
        "graph:\n"
        "  p: sigmoid(v0 @ W)\n"
        "  s: bernoulli(p)\n"
        "outputs:\n"
        "  a: s + s\n"
        "  b: s * p\n"
        "  c: bernoulli(p) + bernoulli(p)\n";
    rg_model *m = load_ok(text);
    rg_graph *g = build_ok(m, "train");
    rg_node_id s = RG_NODE_NONE;

    /* s is one draw; each written bernoulli() call is its own draw. */
    ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 3);
    ck_assert_int_eq(count_ops(g, RG_OP_SIGMOID), 1);
    ck_assert_int_eq(count_ops(g, RG_OP_MATMUL), 1);
    for (int i = 0; i < rg_graph_n_nodes(g); i++) {
        const char *name = rg_graph_node_name(g, i);

        if (name != NULL && strcmp(name, "s") == 0) {
            s = i;
        }
    }
    ck_assert_int_ge(s, 0);
    ck_assert_int_eq(rg_graph_node_op(g, s), RG_OP_BERNOULLI);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(leaves_and_constants)
{
    rg_model *m = load_ok(VALID);
    rg_graph *g = build_ok(m, "train");
    rg_node_id w = rg_graph_find_leaf(g, "W");
    rg_node_id lr = rg_graph_find_leaf(g, "lr");

    ck_assert_int_eq(rg_graph_node_op(g, w), RG_OP_PARAM);
    ck_assert_int_eq(rg_graph_node_shape(g, w).rank, 2);
    ck_assert_int_eq(rg_graph_node_shape(g, w).dims[0], 6);
    ck_assert_int_eq(rg_graph_node_shape(g, w).dims[1], 3);
    ck_assert_int_eq(rg_graph_node_op(g, lr), RG_OP_HYPER);
    /* Dims become constants, and k (unused) is not built at all. */
    ck_assert_int_eq(rg_graph_find_leaf(g, "batch"), RG_NODE_NONE);
    ck_assert_int_eq(rg_graph_find_leaf(g, "k"), RG_NODE_NONE);
    ck_assert_int_ge(count_ops(g, RG_OP_CONST), 2);
    ck_assert_int_eq(count_ops(g, RG_OP_INPUT), 1);
    ck_assert_int_eq(rg_graph_n_updates(g), 1);
    ck_assert_int_eq(rg_graph_update_target(g, 0), w);
    ck_assert_int_eq(rg_graph_n_outputs(g), 1);
    ck_assert_str_eq(rg_graph_output_name(g, 0), "recon_error");
    ck_assert(rg_graph_output_is_metric(g, 0));
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(state_updated_like_param)
{
    const char *text = BASE
        "state:\n"
        "  velocity: {shape: [visible, hidden], init: zeros}\n"
        "  fantasy: {shape: [batch, visible], init: {bernoulli: 0.5}}\n"
        "graph:\n"
        "  grad: v0.T @ sigmoid(v0 @ W + bh)\n"
        "updates:\n"
        "  velocity: 0.9 * velocity + lr * grad\n"
        "  W: W + velocity\n"
        "  fantasy: bernoulli(sigmoid(fantasy @ W @ W.T + bv))\n";
    rg_model *m = load_ok(text);
    rg_graph *g = build_ok(m, "train");
    rg_node_id velocity = rg_graph_find_leaf(g, "velocity");

    ck_assert_int_eq(rg_graph_node_op(g, velocity), RG_OP_STATE);
    ck_assert_int_eq(rg_graph_n_updates(g), 3);
    ck_assert_int_eq(rg_graph_update_target(g, 0), velocity);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(entry_graph_sees_top_level)
{
    const char *text = BASE
        "graph: {h: sigmoid(v0 @ W + bh)}\n"
        "entries:\n"
        "  e:\n"
        "    graph: {r: sigmoid(h @ W.T + bv)}\n"
        "    outputs: {r: r, h: h}\n"
        "    metrics: {err: mean((v0 - r)^2)}\n";
    rg_model *m = load_ok(text);
    rg_graph *g = build_ok(m, "e");

    ck_assert_int_eq(rg_graph_n_outputs(g), 3);
    ck_assert(!rg_graph_output_is_metric(g, 0));
    ck_assert(rg_graph_output_is_metric(g, 2));
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(build_unknown_entry)
{
    rg_model *m = load_ok(VALID);
    rg_graph *g = NULL;
    rg_error err;

    ck_assert_int_eq(rg_model_build(m, "sample", &g, &err),
                     RG_STATUS_NOT_FOUND);
    ck_assert_ptr_null(g);
    ck_assert_ptr_nonnull(strstr(err.message,
                                 "has no entry point 'sample'; its entry "
                                 "points are train"));
    rg_model_free(m);
}
END_TEST

/* Shipped models. */

static const char *source_root(void)
{
    const char *root = getenv("RG_SOURCE_ROOT");

    return root != NULL ? root : ".";
}

static void check_train_entry(const rg_model *m, const rg_graph *g)
{
    rg_node_id input = RG_NODE_NONE;
    int n_inputs = 0;
    int n_metrics = 0;
    rg_shape shape;

    for (int i = 0; i < rg_graph_n_nodes(g); i++) {
        if (rg_graph_node_op(g, i) == RG_OP_INPUT) {
            input = i;
            n_inputs++;
        }
    }
    ck_assert_msg(n_inputs == 1, "%s: train has %d inputs", rg_model_name(m),
                  n_inputs);
    shape = rg_graph_node_shape(g, input);
    ck_assert_int_eq(shape.rank, 2);
    for (int i = 0; i < rg_model_n_dims(m); i++) {
        if (strcmp(rg_model_dim_name(m, i), "batch") == 0) {
            ck_assert_int_eq(shape.dims[0], rg_model_dim_value(m, i));
        }
        if (strcmp(rg_model_dim_name(m, i), "visible") == 0) {
            ck_assert_int_eq(shape.dims[1], rg_model_dim_value(m, i));
        }
    }
    for (int i = 0; i < rg_graph_n_outputs(g); i++) {
        if (strcmp(rg_graph_output_name(g, i), "recon_error") == 0) {
            ck_assert(rg_graph_output_is_metric(g, i));
            n_metrics++;
        }
    }
    ck_assert_msg(n_metrics == 1, "%s: no recon_error metric",
                  rg_model_name(m));
    ck_assert_int_ge(rg_graph_n_updates(g), 3);
}

static int load_and_build(const char *path)
{
    rg_model *m = NULL;
    rg_error err;
    char buf[1100];
    int n_train = 0;

    ck_assert_msg(rg_model_load(path, &m, &err) == RG_STATUS_OK, "%s",
                  rg_error_format(&err, buf, sizeof(buf)));
    ck_assert_int_ge(rg_model_n_entries(m), 4);
    for (int i = 0; i < rg_model_n_entries(m); i++) {
        const char *entry = rg_model_entry_name(m, i);
        rg_graph *g = build_ok(m, entry);

        if (strcmp(entry, "train") == 0) {
            check_train_entry(m, g);
            n_train++;
        }
        rg_graph_free(g);
    }
    ck_assert_msg(n_train == 1, "%s has no train entry", path);
    rg_model_free(m);
    return 1;
}

START_TEST(shipped_models_build)
{
    char dir_path[1024];
    char path[2048];
    DIR *dir;
    struct dirent *entry;
    int n_models = 0;

    snprintf(dir_path, sizeof(dir_path), "%s/models", source_root());
    dir = opendir(dir_path);
    ck_assert_msg(dir != NULL, "cannot open %s; set RG_SOURCE_ROOT",
                  dir_path);
    while ((entry = readdir(dir)) != NULL) {
        size_t n = strlen(entry->d_name);

        if (n < 5 || strcmp(entry->d_name + n - 5, ".yaml") != 0) {
            continue;
        }
        snprintf(path, sizeof(path), "%s/%s", dir_path, entry->d_name);
        n_models += load_and_build(path);
    }
    closedir(dir);
    ck_assert_int_ge(n_models, 4);
}
END_TEST

START_TEST(shipped_cdk_follows_k)
{
    char path[1024];
    rg_model *m = NULL;
    rg_error err;
    rg_graph *g;

    snprintf(path, sizeof(path), "%s/models/rbm-cdk.yaml", source_root());
    ck_assert_int_eq(rg_model_load(path, &m, &err), RG_STATUS_OK);
    g = build_ok(m, "train");
    /* h0, then per step v and h, except the last h, which nothing uses. */
    ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 1 + 3 * 2 - 1);
    rg_graph_free(g);
    ck_assert_int_eq(rg_model_set(m, "k", "10", &err), RG_STATUS_OK);
    g = build_ok(m, "train");
    ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 1 + 10 * 2 - 1);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

START_TEST(shipped_meanfield_deterministic)
{
    char path[1024];
    rg_model *m = NULL;
    rg_error err;

    snprintf(path, sizeof(path), "%s/models/rbm-meanfield.yaml",
             source_root());
    ck_assert_int_eq(rg_model_load(path, &m, &err), RG_STATUS_OK);
    for (int i = 0; i < rg_model_n_entries(m); i++) {
        const char *entry = rg_model_entry_name(m, i);

        /* Annealed importance sampling draws samples by definition. */
        if (strncmp(entry, "ais_", 4) == 0) {
            continue;
        }
        rg_graph *g = build_ok(m, entry);

        ck_assert_int_eq(count_ops(g, RG_OP_BERNOULLI), 0);
        ck_assert_int_eq(count_ops(g, RG_OP_NORMAL), 0);
        ck_assert_int_eq(count_ops(g, RG_OP_UNIFORM), 0);
        rg_graph_free(g);
    }
    rg_model_free(m);
}
END_TEST

START_TEST(shipped_pcd_updates_state)
{
    char path[1024];
    rg_model *m = NULL;
    rg_error err;
    rg_graph *g;
    rg_node_id fantasy;
    bool updated = false;

    snprintf(path, sizeof(path), "%s/models/rbm-pcd.yaml", source_root());
    ck_assert_int_eq(rg_model_load(path, &m, &err), RG_STATUS_OK);
    g = build_ok(m, "train");
    fantasy = rg_graph_find_leaf(g, "fantasy");
    ck_assert_int_eq(rg_graph_node_op(g, fantasy), RG_OP_STATE);
    for (int i = 0; i < rg_graph_n_updates(g); i++) {
        updated = updated || rg_graph_update_target(g, i) == fantasy;
    }
    ck_assert(updated);
    rg_graph_free(g);
    rg_model_free(m);
}
END_TEST

static Suite *front_suite(void)
{
    Suite *s = suite_create("front");
    TCase *errors = tcase_create("errors");
    TCase *load = tcase_create("load");
    TCase *set = tcase_create("set");
    TCase *build = tcase_create("build");
    TCase *shipped = tcase_create("shipped");

    tcase_add_loop_test(errors, model_error_table, 0,
                        (int)(sizeof(error_cases) / sizeof(error_cases[0])));
    tcase_add_test(errors, yaml_nesting_limit);
    tcase_add_test(load, load_reports_declarations);
    tcase_add_test(load, entries_in_file_order);
    tcase_add_test(load, sections_in_any_order);
    tcase_add_test(load, quoted_and_block_expressions);
    tcase_add_test(load, comments_and_crlf);
    tcase_add_test(load, utf8_before_expression);
    tcase_add_test(load, load_null_name_and_file);
    tcase_add_test(load, load_real_file);
    tcase_add_test(set, set_dim_and_hyper);
    tcase_add_loop_test(set, set_rejects_value, 0,
                        (int)(sizeof(set_cases) / sizeof(set_cases[0])));
    tcase_add_test(build, chain_unrolls_k_steps);
    tcase_add_test(build, chain_steps_rejects_set);
    tcase_add_test(build, chain_nodes_named);
    tcase_add_test(build, build_is_lazy);
    tcase_add_test(build, named_expressions_memoized);
    tcase_add_test(build, leaves_and_constants);
    tcase_add_test(build, state_updated_like_param);
    tcase_add_test(build, entry_graph_sees_top_level);
    tcase_add_test(build, build_unknown_entry);
    tcase_add_test(shipped, shipped_models_build);
    tcase_add_test(shipped, shipped_cdk_follows_k);
    tcase_add_test(shipped, shipped_meanfield_deterministic);
    tcase_add_test(shipped, shipped_pcd_updates_state);
    suite_add_tcase(s, errors);
    suite_add_tcase(s, load);
    suite_add_tcase(s, set);
    suite_add_tcase(s, build);
    suite_add_tcase(s, shipped);
    return s;
}

int main(void)
{
    SRunner *runner = srunner_create(front_suite());
    int failed;

    srunner_run_all(runner, CK_NORMAL);
    failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
