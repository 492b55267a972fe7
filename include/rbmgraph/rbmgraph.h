/* rbm-graph public API: include this one header. */
#ifndef RBMGRAPH_RBMGRAPH_H
#define RBMGRAPH_RBMGRAPH_H

#include "rbmgraph/error.h"
#include "rbmgraph/graph.h"
#include "rbmgraph/model.h"
#include "rbmgraph/plan.h"
#include "rbmgraph/dot.h"
#include "rbmgraph/exec.h"
#include "rbmgraph/data.h"
#include "rbmgraph/checkpoint.h"
#include "rbmgraph/train.h"
#include "rbmgraph/eval.h"
#include "rbmgraph/png.h"

#endif
