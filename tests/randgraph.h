/*
 * Random expression graphs for the planner's differential tests. A graph
 * is built with the public builder from one seed alone, so a failing seed
 * can be rebuilt and listed exactly.
 *
 * Every graph keeps its values finite for several steps when inputs lie in
 * [-1, 1] and hyperparameters in [0.1, 1]. Logarithms, roots, powers and
 * divisions get positive operands, and a node whose estimated magnitude
 * grows past a limit is squashed with tanh.
 */
#ifndef RG_TEST_RANDGRAPH_H
#define RG_TEST_RANDGRAPH_H

#include <stdint.h>
#include <stdio.h>

#include "rbmgraph/graph.h"

/*
 * Builds the graph of `seed`. Its leaves are inputs, params, state and
 * hyperparameters with shapes made of three small dims, including the
 * broadcasting shapes [m, 1], [1, n], [n] and scalars. Its operations are
 * elementwise ops, matrix products (with vector and transposed operands),
 * transposes, sums and means over axis 0, 1 or all, Bernoulli, normal and
 * uniform draws, identities and repeated subexpressions. It ends with
 * outputs, metrics and updates of every kind the planner treats specially.
 * Returns NULL when out of memory; the caller checks rg_graph_error.
 */
rg_graph *randgraph_build(uint64_t seed);

/*
 * Adds, for every Bernoulli node `b` of `g`, the outputs "probe_p<ID>"
 * (its probability) and "probe_b<ID>" (its sample), where ID is the node
 * id. Node ids and random streams do not change.
 */
void randgraph_add_probes(rg_graph *g);

/* Writes `g` as text: one line per node, then its outputs and updates. */
void randgraph_describe(const rg_graph *g, FILE *out);

#endif
