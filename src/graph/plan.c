/*
 * Lowering of a graph to a plan. Every reachable node becomes one step: a
 * matrix product becomes a GEMM whose transposed operands are passed as
 * flags, any other op a one-instruction kernel program, and a transpose is
 * only a view (swapped strides) of its operand. Each computed tensor gets
 * its own arena range, so no two tensors ever overlap.
 *
 * Updates are applied together: every new value is computed into the
 * arena first, and only then copied over the params and state, so no step
 * reads a value that an update of the same run has already replaced.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/graph_internal.h"
#include "graph/plan_internal.h"

typedef enum value_kind {
    VALUE_NONE = 0,
    VALUE_TENSOR, /* strided view of a buffer */
    VALUE_CONST,  /* compile-time scalar */
    VALUE_SCALAR, /* runtime scalar slot (a hyperparameter) */
} value_kind;

typedef struct value {
    value_kind kind;
    kp_access access; /* VALUE_TENSOR: strides of the node's own shape */
    float imm;        /* VALUE_CONST */
    int slot;         /* VALUE_SCALAR */
} value;

typedef struct lower_ctx {
    const rg_graph *g;
    rg_plan *plan;
    value *values;    /* per node */
    bool *needed;     /* per node: reachable from an output or update */
    int *persistent;  /* per node: persistent index, or -1 */
    rg_error *err;
} lower_ctx;

rg_plan_options rg_plan_options_default(void)
{
    rg_plan_options o = {true, true, true};
    return o;
}

void rg_plan_free(rg_plan *plan)
{
    if (plan == NULL) {
        return;
    }
    for (int i = 0; i < plan->n_steps; i++) {
        kp_program_free(plan->steps[i].kernel);
    }
    for (int i = 0; i < plan->n_persistent; i++) {
        free(plan->persistent[i].name);
    }
    for (int i = 0; i < plan->n_hypers; i++) {
        free(plan->hypers[i]);
    }
    for (int i = 0; i < plan->n_inputs; i++) {
        free(plan->inputs[i].name);
    }
    for (int i = 0; i < plan->n_outputs; i++) {
        free(plan->outputs[i].name);
    }
    free(plan->steps);
    free(plan->persistent);
    free(plan->hypers);
    free(plan->inputs);
    free(plan->outputs);
    free(plan);
}

static rg_status no_memory(lower_ctx *ctx)
{
    return rg_error_set(ctx->err, RG_STATUS_NO_MEMORY,
                        "out of memory while planning");
}

/* Appends one zeroed item of `size` bytes to `*array`; NULL on no memory. */
static void *append(void **array, int *count, size_t size)
{
    char *bigger = realloc(*array, (size_t)(*count + 1) * size);

    if (bigger == NULL) {
        return NULL;
    }
    *array = bigger;
    memset(bigger + (size_t)*count * size, 0, size);
    return bigger + (size_t)(*count)++ * size;
}

/* Layout helpers. A shape maps to [rows, cols]: rank 1 is one row. */

static int64_t shape_rows(rg_shape s)
{
    return s.rank == 2 ? s.dims[0] : 1;
}

static int64_t shape_cols(rg_shape s)
{
    return s.rank == 0 ? 1 : s.dims[s.rank - 1];
}

/* Reserves a contiguous arena range for `shape`; returns its access. */
static kp_access arena_alloc(rg_plan *plan, rg_shape shape)
{
    int64_t n = rg_shape_numel(shape);
    int64_t padded = (n + PLAN_ALIGN_FLOATS - 1) / PLAN_ALIGN_FLOATS *
                     PLAN_ALIGN_FLOATS;
    kp_access a = {PLAN_ARENA_BUFFER, plan->arena_floats, shape_cols(shape),
                   1};

    plan->arena_floats += padded;
    plan->unshared_floats += padded;
    return a;
}

/*
 * Returns the access that reads operand `v` of shape `s` at every point of
 * an output space of shape `out`, with NumPy broadcasting: a dimension of
 * length 1 (or a missing leading one) gets stride 0.
 */
static kp_access broadcast_access(kp_access v, rg_shape s, rg_shape out)
{
    kp_access a = v;

    if (s.rank == 0) {
        a.row_stride = 0;
        a.col_stride = 0;
        return a;
    }
    if (s.rank == 1 || shape_rows(s) == 1) {
        a.row_stride = 0;
    }
    if (shape_cols(s) == 1 && shape_cols(out) != 1) {
        a.col_stride = 0;
    }
    return a;
}

/* Opcode of each elementwise graph op. */
static kp_opcode elementwise_opcode(rg_op op)
{
    switch (op) {
    case RG_OP_ADD: return KP_ADD;
    case RG_OP_SUB: return KP_SUB;
    case RG_OP_MUL: return KP_MUL;
    case RG_OP_DIV: return KP_DIV;
    case RG_OP_POW: return KP_POW;
    case RG_OP_MIN: return KP_MIN;
    case RG_OP_MAX: return KP_MAX;
    case RG_OP_LT: return KP_LT;
    case RG_OP_LE: return KP_LE;
    case RG_OP_GT: return KP_GT;
    case RG_OP_GE: return KP_GE;
    case RG_OP_EQ: return KP_EQ;
    case RG_OP_NE: return KP_NE;
    case RG_OP_NEG: return KP_NEG;
    case RG_OP_SIGMOID: return KP_SIGMOID;
    case RG_OP_EXP: return KP_EXP;
    case RG_OP_LOG: return KP_LOG;
    case RG_OP_LOG1P: return KP_LOG1P;
    case RG_OP_SOFTPLUS: return KP_SOFTPLUS;
    case RG_OP_TANH: return KP_TANH;
    case RG_OP_RELU: return KP_RELU;
    case RG_OP_SQRT: return KP_SQRT;
    case RG_OP_SQUARE: return KP_SQUARE;
    case RG_OP_ABS: return KP_ABS;
    case RG_OP_WHERE: return KP_WHERE;
    default: return KP_OPCODE_COUNT;
    }
}

/* Emits the instruction that reads operand `id` inside kernel `k`. */
static int emit_operand(lower_ctx *ctx, kp_program *k, rg_node_id id,
                        rg_shape out)
{
    const value *v = &ctx->values[id];
    kp_instr in = {KP_CONST, 0, 0, 0, 0, 0.0f};

    switch (v->kind) {
    case VALUE_CONST:
        in.imm = v->imm;
        break;
    case VALUE_SCALAR:
        in.op = KP_SCALAR;
        in.arg = (uint32_t)v->slot;
        break;
    case VALUE_TENSOR: {
        kp_access a = broadcast_access(v->access, ctx->g->nodes[id].shape,
                                       out);
        in.op = KP_LOAD;
        in.a = kp_program_add_load(k, a);
        if (in.a < 0) {
            return -1;
        }
        break;
    }
    default:
        RG_ASSERT(!"operand has no value");
    }
    return kp_program_add_instr(k, in);
}

static rg_status push_kernel(lower_ctx *ctx, kp_program *k)
{
    plan_step *step = append((void **)&ctx->plan->steps, &ctx->plan->n_steps,
                             sizeof(*step));
    if (step == NULL) {
        kp_program_free(k);
        return no_memory(ctx);
    }
    step->kind = PLAN_STEP_KERNEL;
    step->kernel = k;
    snprintf(step->label, sizeof(step->label), "%s", k->name);
    return RG_STATUS_OK;
}

static const char *node_label(const rg_node *n)
{
    return n->name != NULL ? n->name : rg_op_name(n->op);
}

/* Emits the instruction(s) of elementwise or random node `n`. */
static int emit_op(lower_ctx *ctx, kp_program *k, const rg_node *n)
{
    int ops[RG_MAX_OPERANDS] = {0, 0, 0};
    kp_instr in = {KP_CONST, 0, 0, 0, 0, 0.0f};

    for (int i = 0; i < n->n_operands; i++) {
        ops[i] = emit_operand(ctx, k, n->operands[i], n->shape);
        if (ops[i] < 0) {
            return -1;
        }
    }
    switch (n->op) {
    case RG_OP_BERNOULLI: {
        kp_instr u = {KP_UNIFORM, 0, 0, 0, n->stream, 0.0f};
        in.op = KP_LT;
        in.a = kp_program_add_instr(k, u);
        in.b = ops[0];
        break;
    }
    case RG_OP_NORMAL: {
        kp_instr z = {KP_NORMAL, 0, 0, 0, n->stream, 0.0f};
        kp_instr scaled = {KP_MUL, ops[1], 0, 0, 0, 0.0f};
        scaled.b = kp_program_add_instr(k, z);
        in.op = KP_ADD;
        in.a = ops[0];
        in.b = kp_program_add_instr(k, scaled);
        break;
    }
    case RG_OP_UNIFORM:
        in.op = KP_UNIFORM;
        in.arg = n->stream;
        break;
    default:
        in.op = elementwise_opcode(n->op);
        in.a = ops[0];
        in.b = ops[1];
        in.c = ops[2];
    }
    return kp_program_add_instr(k, in);
}

static rg_status lower_elementwise(lower_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];
    kp_program *k = kp_program_new(node_label(n), shape_rows(n->shape),
                                   shape_cols(n->shape));
    kp_store st = {0, {0, 0, 0, 0}, KP_REDUCE_NONE, 1.0f};

    if (k == NULL) {
        return no_memory(ctx);
    }
    st.src = emit_op(ctx, k, n);
    st.dst = arena_alloc(ctx->plan, n->shape);
    if (st.src < 0 || kp_program_add_store(k, st) < 0) {
        kp_program_free(k);
        return no_memory(ctx);
    }
    ctx->values[id].kind = VALUE_TENSOR;
    ctx->values[id].access = st.dst;
    return push_kernel(ctx, k);
}

static rg_status lower_reduce(lower_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];
    rg_shape in_shape = ctx->g->nodes[n->operands[0]].shape;
    kp_program *k = kp_program_new(node_label(n), shape_rows(in_shape),
                                   shape_cols(in_shape));
    kp_store st = {0, {0, 0, 0, 1}, KP_REDUCE_ALL, 1.0f};
    int64_t count = rg_shape_numel(in_shape);

    if (k == NULL) {
        return no_memory(ctx);
    }
    if (n->axis != RG_AXIS_ALL && in_shape.rank == 2) {
        st.reduce = n->axis == 0 ? KP_REDUCE_ROWS : KP_REDUCE_COLS;
        count = in_shape.dims[n->axis];
    }
    if (n->op == RG_OP_MEAN) {
        st.scale = (float)(1.0 / (double)count);
    }
    st.src = emit_operand(ctx, k, n->operands[0], in_shape);
    st.dst = arena_alloc(ctx->plan, n->shape);
    st.dst.col_stride = 1;
    if (st.src < 0 || kp_program_add_store(k, st) < 0) {
        kp_program_free(k);
        return no_memory(ctx);
    }
    ctx->values[id].kind = VALUE_TENSOR;
    ctx->values[id].access = st.dst;
    return push_kernel(ctx, k);
}

/*
 * Describes operand `id` as a GEMM matrix of `rows` x `cols` (its logical,
 * possibly transposed, shape). A view with unit column stride is stored as
 * is; one with unit row stride is the transpose of a stored matrix.
 */
static void gemm_operand(const value *v, int64_t rows, int64_t cols,
                         kp_matrix *m, bool *trans)
{
    m->buffer = v->access.buffer;
    m->offset = v->access.offset;
    if (rows > 1 && v->access.row_stride == 1 && v->access.col_stride != 1) {
        *trans = true;
        m->ld = v->access.col_stride;
    } else {
        *trans = false;
        m->ld = cols > 1 || rows == 1 ? (v->access.row_stride > 0
                                         ? v->access.row_stride : cols)
                                      : 1;
    }
}

static rg_status lower_matmul(lower_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];
    rg_shape sa = ctx->g->nodes[n->operands[0]].shape;
    rg_shape sb = ctx->g->nodes[n->operands[1]].shape;
    plan_step *step;
    kp_gemm *gm;

    step = append((void **)&ctx->plan->steps, &ctx->plan->n_steps,
                  sizeof(*step));
    if (step == NULL) {
        return no_memory(ctx);
    }
    step->kind = PLAN_STEP_GEMM;
    snprintf(step->label, sizeof(step->label), "%s", node_label(n));
    gm = &step->gemm;

    /* A vector on the left is one row; on the right, one column. */
    gm->m = sa.rank == 2 ? sa.dims[0] : 1;
    gm->k = sa.dims[sa.rank - 1];
    gm->n = sb.rank == 2 ? sb.dims[1] : 1;
    gemm_operand(&ctx->values[n->operands[0]], gm->m, gm->k, &gm->a,
                 &gm->trans_a);
    gemm_operand(&ctx->values[n->operands[1]], gm->k, gm->n, &gm->b,
                 &gm->trans_b);
    if (sb.rank == 1) {
        gm->b.ld = 1;
        gm->trans_b = false;
    }

    kp_access c = arena_alloc(ctx->plan, n->shape);
    gm->c.buffer = c.buffer;
    gm->c.offset = c.offset;
    gm->c.ld = gm->n;
    gm->alpha = 1.0f;
    gm->alpha_scalar = -1;
    gm->beta = 0.0f;

    ctx->values[id].kind = VALUE_TENSOR;
    ctx->values[id].access = c;
    return RG_STATUS_OK;
}

static rg_status lower_leaf(lower_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];
    rg_plan *plan = ctx->plan;
    value *v = &ctx->values[id];

    switch (n->op) {
    case RG_OP_CONST:
        v->kind = VALUE_CONST;
        v->imm = (float)n->value;
        return RG_STATUS_OK;
    case RG_OP_HYPER: {
        char **slot = append((void **)&plan->hypers, &plan->n_hypers,
                             sizeof(*slot));
        if (slot == NULL || (*slot = strdup(n->name)) == NULL) {
            return no_memory(ctx);
        }
        v->kind = VALUE_SCALAR;
        v->slot = plan->n_hypers - 1;
        return RG_STATUS_OK;
    }
    case RG_OP_INPUT: {
        plan_binding *b = append((void **)&plan->inputs, &plan->n_inputs,
                                 sizeof(*b));
        if (b == NULL || (b->name = strdup(n->name)) == NULL) {
            return no_memory(ctx);
        }
        b->shape = n->shape;
        b->access = arena_alloc(plan, n->shape);
        v->kind = VALUE_TENSOR;
        v->access = b->access;
        return RG_STATUS_OK;
    }
    default: {
        plan_persistent *p = append((void **)&plan->persistent,
                                    &plan->n_persistent, sizeof(*p));
        if (p == NULL || (p->name = strdup(n->name)) == NULL) {
            return no_memory(ctx);
        }
        p->shape = n->shape;
        p->init = n->init;
        p->is_state = n->op == RG_OP_STATE;
        ctx->persistent[id] = plan->n_persistent - 1;
        v->kind = VALUE_TENSOR;
        v->access.buffer = plan->n_persistent; /* 1 + index */
        v->access.offset = 0;
        v->access.row_stride = shape_cols(n->shape);
        v->access.col_stride = 1;
        return RG_STATUS_OK;
    }
    }
}

static rg_status lower_node(lower_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];

    if (graph_op_is_leaf(n->op)) {
        return lower_leaf(ctx, id);
    }
    switch (n->op) {
    case RG_OP_MATMUL:
        return lower_matmul(ctx, id);
    case RG_OP_TRANSPOSE: {
        value v = ctx->values[n->operands[0]];
        int64_t row_stride = v.access.row_stride;

        v.access.row_stride = v.access.col_stride;
        v.access.col_stride = row_stride;
        ctx->values[id] = v;
        return RG_STATUS_OK;
    }
    case RG_OP_SUM:
    case RG_OP_MEAN:
        return lower_reduce(ctx, id);
    default:
        return lower_elementwise(ctx, id);
    }
}

/*
 * Copies the value of `id` into a fresh contiguous arena tensor unless it
 * already is one. Outputs and update values go through this, so that
 * reading an output never depends on strides and an update never reads a
 * persistent tensor that another update may already have replaced.
 */
static rg_status materialize(lower_ctx *ctx, rg_node_id id, kp_access *out)
{
    const rg_node *n = &ctx->g->nodes[id];
    const value *v = &ctx->values[id];

    if (v->kind == VALUE_TENSOR && v->access.buffer == PLAN_ARENA_BUFFER &&
        v->access.col_stride == 1 &&
        (n->shape.rank < 2 || v->access.row_stride == shape_cols(n->shape))) {
        *out = v->access;
        return RG_STATUS_OK;
    }

    kp_program *k = kp_program_new("copy", shape_rows(n->shape),
                                   shape_cols(n->shape));
    kp_store st = {0, {0, 0, 0, 0}, KP_REDUCE_NONE, 1.0f};
    if (k == NULL) {
        return no_memory(ctx);
    }
    st.src = emit_operand(ctx, k, id, n->shape);
    st.dst = arena_alloc(ctx->plan, n->shape);
    if (st.src < 0 || kp_program_add_store(k, st) < 0) {
        kp_program_free(k);
        return no_memory(ctx);
    }
    *out = st.dst;
    return push_kernel(ctx, k);
}

static rg_status lower_outputs(lower_ctx *ctx)
{
    const rg_graph *g = ctx->g;

    for (int i = 0; i < g->n_outputs; i++) {
        rg_node_id id = g->outputs[i].node;
        plan_binding *b = append((void **)&ctx->plan->outputs,
                                 &ctx->plan->n_outputs, sizeof(*b));
        if (b == NULL || (b->name = strdup(g->outputs[i].name)) == NULL) {
            return no_memory(ctx);
        }
        b->shape = g->nodes[id].shape;
        b->is_metric = g->outputs[i].is_metric;
        rg_status st = materialize(ctx, id, &b->access);
        if (st != RG_STATUS_OK) {
            return st;
        }
    }
    return RG_STATUS_OK;
}

/* Computes every new value first, then copies all of them into place. */
static rg_status lower_updates(lower_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    int n = g->n_updates;
    kp_access *staged = calloc((size_t)(n > 0 ? n : 1), sizeof(*staged));
    rg_status st = RG_STATUS_OK;

    if (staged == NULL) {
        return no_memory(ctx);
    }
    for (int i = 0; i < n && st == RG_STATUS_OK; i++) {
        st = materialize(ctx, g->updates[i].value, &staged[i]);
    }
    for (int i = 0; i < n && st == RG_STATUS_OK; i++) {
        rg_node_id target = g->updates[i].target;
        rg_shape shape = g->nodes[target].shape;
        kp_program *k = kp_program_new("update", shape_rows(shape),
                                       shape_cols(shape));
        kp_store store = {0, ctx->values[target].access, KP_REDUCE_NONE,
                          1.0f};
        kp_instr load = {KP_LOAD, 0, 0, 0, 0, 0.0f};

        if (k == NULL) {
            st = no_memory(ctx);
            break;
        }
        snprintf(k->name, sizeof(k->name), "update %s", g->nodes[target].name);
        load.a = kp_program_add_load(k, staged[i]);
        store.src = load.a < 0 ? -1 : kp_program_add_instr(k, load);
        if (store.src < 0 || kp_program_add_store(k, store) < 0) {
            kp_program_free(k);
            st = no_memory(ctx);
            break;
        }
        st = push_kernel(ctx, k);
    }
    free(staged);
    return st;
}

/* Marks every node that an output or an update depends on. */
static void mark_needed(const rg_graph *g, bool *needed)
{
    for (int i = 0; i < g->n_outputs; i++) {
        needed[g->outputs[i].node] = true;
    }
    for (int i = 0; i < g->n_updates; i++) {
        needed[g->updates[i].target] = true;
        needed[g->updates[i].value] = true;
    }
    /* Operands have smaller ids, so one backward sweep suffices. */
    for (int id = g->n_nodes - 1; id >= 0; id--) {
        if (!needed[id]) {
            continue;
        }
        for (int k = 0; k < g->nodes[id].n_operands; k++) {
            needed[g->nodes[id].operands[k]] = true;
        }
    }
}

rg_status rg_plan_build(const rg_graph *g, const rg_plan_options *options,
                        rg_plan **out, rg_error *err)
{
    lower_ctx ctx = {g, NULL, NULL, NULL, NULL, err};
    rg_status st = RG_STATUS_OK;
    size_t n = (size_t)(g->n_nodes > 0 ? g->n_nodes : 1);

    *out = NULL;
    if (rg_graph_error(g) != NULL) {
        *err = *rg_graph_error(g);
        return err->code;
    }
    if (g->n_outputs == 0 && g->n_updates == 0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "the graph has no outputs and no updates, so "
                            "there is nothing to plan");
    }

    ctx.plan = calloc(1, sizeof(*ctx.plan));
    ctx.values = calloc(n, sizeof(*ctx.values));
    ctx.needed = calloc(n, sizeof(*ctx.needed));
    ctx.persistent = malloc(n * sizeof(*ctx.persistent));
    if (ctx.plan == NULL || ctx.values == NULL || ctx.needed == NULL ||
        ctx.persistent == NULL) {
        st = no_memory(&ctx);
        goto done;
    }
    ctx.plan->options = options != NULL ? *options
                                        : rg_plan_options_default();
    for (size_t i = 0; i < n; i++) {
        ctx.persistent[i] = -1;
    }

    mark_needed(g, ctx.needed);
    for (rg_node_id id = 0; id < g->n_nodes && st == RG_STATUS_OK; id++) {
        if (ctx.needed[id]) {
            st = lower_node(&ctx, id);
        }
    }
    if (st == RG_STATUS_OK) {
        st = lower_outputs(&ctx);
    }
    if (st == RG_STATUS_OK) {
        st = lower_updates(&ctx);
    }

done:
    free(ctx.values);
    free(ctx.needed);
    free(ctx.persistent);
    if (st != RG_STATUS_OK) {
        rg_plan_free(ctx.plan);
        return st;
    }
    *out = ctx.plan;
    return RG_STATUS_OK;
}

int rg_plan_n_gemms(const rg_plan *plan)
{
    int n = 0;

    for (int i = 0; i < plan->n_steps; i++) {
        n += plan->steps[i].kind == PLAN_STEP_GEMM;
    }
    return n;
}

int rg_plan_n_kernels(const rg_plan *plan)
{
    return plan->n_steps - rg_plan_n_gemms(plan);
}

int64_t rg_plan_arena_bytes(const rg_plan *plan)
{
    return plan->arena_floats * (int64_t)sizeof(float);
}

int64_t rg_plan_unshared_bytes(const rg_plan *plan)
{
    return plan->unshared_floats * (int64_t)sizeof(float);
}

int rg_plan_n_inputs(const rg_plan *plan)
{
    return plan->n_inputs;
}

const char *rg_plan_input_name(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_inputs);
    return plan->inputs[index].name;
}

rg_shape rg_plan_input_shape(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_inputs);
    return plan->inputs[index].shape;
}

int rg_plan_n_outputs(const rg_plan *plan)
{
    return plan->n_outputs;
}

const char *rg_plan_output_name(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_outputs);
    return plan->outputs[index].name;
}

rg_shape rg_plan_output_shape(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_outputs);
    return plan->outputs[index].shape;
}

bool rg_plan_output_is_metric(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_outputs);
    return plan->outputs[index].is_metric;
}

int rg_plan_n_hypers(const rg_plan *plan)
{
    return plan->n_hypers;
}

const char *rg_plan_hyper_name(const rg_plan *plan, int index)
{
    RG_ASSERT(index >= 0 && index < plan->n_hypers);
    return plan->hypers[index];
}

void rg_plan_print(const rg_plan *plan, FILE *out)
{
    for (int i = 0; i < plan->n_steps; i++) {
        const plan_step *s = &plan->steps[i];

        if (s->kind == PLAN_STEP_GEMM) {
            const kp_gemm *gm = &s->gemm;
            fprintf(out, "gemm %s: [%lld x %lld] = %s%s @ %s%s\n", s->label,
                    (long long)gm->m, (long long)gm->n,
                    "A", gm->trans_a ? ".T" : "", "B",
                    gm->trans_b ? ".T" : "");
        } else {
            kp_program_print(s->kernel, out);
        }
    }
    fprintf(out, "%d matrix products, %d other kernels, arena %lld bytes\n",
            rg_plan_n_gemms(plan), rg_plan_n_kernels(plan),
            (long long)rg_plan_arena_bytes(plan));
}
