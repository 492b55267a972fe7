/*
 * Lowering. First every node gets a value: arena or persistent memory, a
 * view, a runtime scalar slot or a constant. Then every scheduled unit
 * becomes backend steps: a GEMM for a matrix product, one kernel program
 * for a fused group's elementwise work and reductions, and copy kernels.
 */
#include <stdlib.h>
#include <string.h>

#include "graph/error_internal.h"
#include "graph/plan_build.h"

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

static kp_access contiguous(int buffer, int64_t offset, rg_shape shape)
{
    kp_access a = {buffer, offset, plan_cols(shape), 1};
    return a;
}

/* Slots for hyperparameters (first) and host scalars (after). */
static rg_status assign_scalars(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    rg_plan *plan = ctx->plan;

    for (int id = 0; id < g->n_nodes; id++) {
        if (g->nodes[id].op != RG_OP_HYPER) {
            continue;
        }
        char **name = append((void **)&plan->hypers, &plan->n_hypers,
                             sizeof(*name));
        if (name == NULL || (*name = strdup(g->nodes[id].name)) == NULL) {
            return plan_no_memory(ctx);
        }
        ctx->slot[id] = plan->n_hypers - 1;
    }
    plan->n_scalars = plan->n_hypers;
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        if (!ctx->host[id] || n->op == RG_OP_HYPER) {
            continue;
        }
        plan_scalar_op *op = append((void **)&plan->scalar_ops,
                                    &plan->n_scalar_ops, sizeof(*op));
        if (op == NULL) {
            return plan_no_memory(ctx);
        }
        op->dst = ctx->slot[id] = plan->n_scalars++;
        if (n->op == RG_OP_CONST) {
            op->op = KP_CONST;
            op->imm = (float)n->value;
            continue;
        }
        op->op = (kp_opcode)graph_kp_opcode(n->op);
        op->a = n->n_operands > 0 ? ctx->slot[n->operands[0]] : 0;
        op->b = n->n_operands > 1 ? ctx->slot[n->operands[1]] : 0;
        op->c = n->n_operands > 2 ? ctx->slot[n->operands[2]] : 0;
    }
    return RG_STATUS_OK;
}

static rg_status assign_persistent(plan_ctx *ctx, rg_node_id id)
{
    const rg_node *n = &ctx->g->nodes[id];
    rg_plan *plan = ctx->plan;
    plan_persistent *p = append((void **)&plan->persistent,
                                &plan->n_persistent, sizeof(*p));

    if (p == NULL || (p->name = strdup(n->name)) == NULL) {
        return plan_no_memory(ctx);
    }
    p->shape = n->shape;
    p->init = n->init;
    p->is_state = n->op == RG_OP_STATE;
    ctx->persist[id] = plan->n_persistent - 1;
    return RG_STATUS_OK;
}

/* Gives every node its value. Operands come first, as ids are ordered. */
static rg_status assign_values(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    rg_plan *plan = ctx->plan;

    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        value *v = &ctx->values[id];
        int t = plan->node_tensor[id];

        if (n->op == RG_OP_CONST) {
            v->kind = VALUE_CONST;
            v->imm = (float)n->value;
        } else if (ctx->host[id]) {
            v->kind = VALUE_SCALAR;
            v->slot = ctx->slot[id];
        } else if (n->op == RG_OP_PARAM || n->op == RG_OP_STATE) {
            rg_status st = assign_persistent(ctx, id);
            if (st != RG_STATUS_OK) {
                return st;
            }
            v->kind = VALUE_TENSOR;
            v->access = contiguous(PLAN_FIRST_PERSISTENT_BUFFER +
                                       ctx->persist[id], 0, n->shape);
        } else if (n->op == RG_OP_INPUT) {
            int64_t size = rg_shape_numel(n->shape);

            v->kind = VALUE_TENSOR;
            v->access = contiguous(PLAN_INPUT_BUFFER, plan->input_floats,
                                   n->shape);
            plan->input_floats += (size + PLAN_ALIGN_FLOATS - 1) /
                                  PLAN_ALIGN_FLOATS * PLAN_ALIGN_FLOATS;
        } else if (n->op == RG_OP_TRANSPOSE) {
            *v = ctx->values[n->operands[0]];
            v->access.row_stride = ctx->values[n->operands[0]].access.col_stride;
            v->access.col_stride = ctx->values[n->operands[0]].access.row_stride;
        } else if (ctx->inplace[id] != RG_NODE_NONE) {
            *v = ctx->values[ctx->inplace[id]];
        } else if (t >= 0) {
            v->kind = VALUE_TENSOR;
            v->access = contiguous(PLAN_ARENA_BUFFER, plan->tensors[t].offset,
                                   n->shape);
        }
    }
    return RG_STATUS_OK;
}

static rg_status assign_bindings(plan_ctx *ctx)
{
    const rg_graph *g = ctx->g;
    rg_plan *plan = ctx->plan;

    for (int id = 0; id < g->n_nodes; id++) {
        if (g->nodes[id].op != RG_OP_INPUT) {
            continue;
        }
        plan_binding *b = append((void **)&plan->inputs, &plan->n_inputs,
                                 sizeof(*b));
        if (b == NULL || (b->name = strdup(g->nodes[id].name)) == NULL) {
            return plan_no_memory(ctx);
        }
        b->shape = g->nodes[id].shape;
        b->access = ctx->values[id].access;
    }
    for (int i = 0; i < g->n_outputs; i++) {
        rg_node_id id = g->outputs[i].node;
        plan_binding *b = append((void **)&plan->outputs, &plan->n_outputs,
                                 sizeof(*b));
        if (b == NULL || (b->name = strdup(g->outputs[i].name)) == NULL) {
            return plan_no_memory(ctx);
        }
        b->shape = g->nodes[id].shape;
        b->is_metric = g->outputs[i].is_metric;
        int copy = ctx->output_copy[id];
        b->access = copy >= 0 ? contiguous(PLAN_ARENA_BUFFER,
                                           plan->tensors[copy].offset,
                                           b->shape)
                              : ctx->values[id].access;
    }
    return RG_STATUS_OK;
}

/*
 * Returns the access that reads a value of shape `s` at every point of
 * the space `out`, with NumPy broadcasting: a dimension of length 1 (or a
 * missing leading one) gets stride 0.
 */
static kp_access broadcast(kp_access v, rg_shape s, rg_shape out)
{
    if (s.rank == 0) {
        v.row_stride = 0;
        v.col_stride = 0;
        return v;
    }
    if (s.rank == 1 || plan_rows(s) == 1) {
        v.row_stride = 0;
    }
    if (plan_cols(s) == 1 && plan_cols(out) != 1) {
        v.col_stride = 0;
    }
    return v;
}

/* Kernel under construction. */
typedef struct kernel_ctx {
    plan_ctx *ctx;
    kp_program *k;
    rg_shape space;
    int *reg;      /* per node: instruction holding its value, or -1 */
    int *loaded;   /* per node: instruction that loaded it, or -1 */
    double flops;
    double bytes;
} kernel_ctx;

/* Returns the instruction that reads operand `o` from memory or scalars. */
static int emit_source(kernel_ctx *kc, rg_node_id o)
{
    const value *v = &kc->ctx->values[o];
    rg_shape s = kc->ctx->g->nodes[o].shape;
    kp_instr in = {KP_CONST, 0, 0, 0, 0, 0.0f};

    if (kc->loaded[o] >= 0) {
        return kc->loaded[o];
    }
    if (v->kind == VALUE_CONST) {
        in.imm = v->imm;
    } else if (v->kind == VALUE_SCALAR) {
        in.op = KP_SCALAR;
        in.arg = (uint32_t)v->slot;
    } else {
        RG_ASSERT(v->kind == VALUE_TENSOR);
        in.op = KP_LOAD;
        in.a = kp_program_add_load(kc->k, broadcast(v->access, s, kc->space));
        if (in.a < 0) {
            return -1;
        }
        kc->bytes += 4.0 * (double)rg_shape_numel(s);
    }
    kc->loaded[o] = kp_program_add_instr(kc->k, in);
    return kc->loaded[o];
}

static int operand_instr(kernel_ctx *kc, rg_node_id c, int k)
{
    rg_node_id o = kc->ctx->g->nodes[c].operands[k];

    if (!plan_reads_memory(kc->ctx->g, c, o) && kc->reg[o] >= 0) {
        return kc->reg[o];
    }
    return emit_source(kc, o);
}

static int add(kp_program *k, kp_opcode op, int a, int b, uint32_t arg)
{
    kp_instr in = {op, a, b, 0, arg, 0.0f};
    return kp_program_add_instr(k, in);
}

/* Emits elementwise or random node `id`; returns its instruction. */
static int emit_node(kernel_ctx *kc, rg_node_id id)
{
    const rg_node *n = &kc->ctx->g->nodes[id];
    int ops[RG_MAX_OPERANDS] = {0, 0, 0, 0, 0};
    int64_t count = rg_shape_numel(n->shape);

    for (int i = 0; i < n->n_operands; i++) {
        ops[i] = operand_instr(kc, id, i);
        if (ops[i] < 0) {
            return -1;
        }
    }
    kc->flops += (double)count;
    switch (n->op) {
    case RG_OP_BERNOULLI:
        return add(kc->k, KP_LT, add(kc->k, KP_UNIFORM, 0, 0, n->stream),
                   ops[0], 0);
    case RG_OP_NORMAL: {
        int z = add(kc->k, KP_NORMAL, 0, 0, n->stream);
        return add(kc->k, KP_ADD, ops[0], add(kc->k, KP_MUL, ops[1], z, 0), 0);
    }
    case RG_OP_UNIFORM:
        return add(kc->k, KP_UNIFORM, 0, 0, n->stream);
    default: {
        kp_instr in = {(kp_opcode)graph_kp_opcode(n->op), ops[0], ops[1],
                       ops[2], 0, 0.0f};
        return kp_program_add_instr(kc->k, in);
    }
    }
}

static rg_status emit_reduce(kernel_ctx *kc, rg_node_id id)
{
    const rg_node *n = &kc->ctx->g->nodes[id];
    rg_shape in_shape = kc->ctx->g->nodes[n->operands[0]].shape;
    kp_store st = {0, kc->ctx->values[id].access, KP_REDUCE_ALL, 1.0f};
    int64_t count = rg_shape_numel(in_shape);

    if (n->axis != RG_AXIS_ALL && in_shape.rank == 2) {
        st.reduce = n->axis == 0 ? KP_REDUCE_ROWS : KP_REDUCE_COLS;
        count = in_shape.dims[n->axis];
    }
    if (n->op == RG_OP_MEAN) {
        st.scale = (float)(1.0 / (double)count);
    }
    st.src = operand_instr(kc, id, 0);
    kc->flops += (double)rg_shape_numel(in_shape);
    kc->bytes += 4.0 * (double)rg_shape_numel(n->shape);
    if (st.src < 0 || kp_program_add_store(kc->k, st) < 0) {
        return plan_no_memory(kc->ctx);
    }
    return RG_STATUS_OK;
}

static rg_status push_step(plan_ctx *ctx, plan_step proto)
{
    plan_step *s = append((void **)&ctx->plan->steps, &ctx->plan->n_steps,
                          sizeof(*s));
    if (s == NULL) {
        kp_program_free(proto.kernel);
        return plan_no_memory(ctx);
    }
    *s = proto;
    return RG_STATUS_OK;
}

static const char *node_label(const rg_node *n)
{
    return n->name != NULL ? n->name : rg_op_name(n->op);
}

/* Appends `text` to `label` (of `size` bytes), separated by ", ". */
static void label_append(char *label, size_t size, const char *text)
{
    size_t used = strlen(label);
    size_t left = size - used;

    if (used + 3 < size) {
        snprintf(label + used, left, "%s%.*s", used ? ", " : "",
                 (int)(left - 3), text);
    }
}

/*
 * Names what a kernel of group `gid` writes: its stored nodes, an update
 * written in place as "P (update)", a reduction as "sum(x)".
 */
static void group_label(const plan_ctx *ctx, int gid, char *label,
                        size_t size)
{
    const rg_graph *g = ctx->g;
    char item[64];

    label[0] = '\0';
    for (int id = 0; id < g->n_nodes; id++) {
        const rg_node *n = &g->nodes[id];
        if (n->group != gid || !ctx->stored[id] || n->op == RG_OP_MATMUL) {
            continue;
        }
        const char *output = NULL;
        for (int i = 0; i < g->n_outputs; i++) {
            output = g->outputs[i].node == id ? g->outputs[i].name : output;
        }
        if (ctx->inplace[id] != RG_NODE_NONE) {
            snprintf(item, sizeof(item), "%s (update)",
                     g->nodes[ctx->inplace[id]].name);
        } else if (output != NULL) {
            snprintf(item, sizeof(item), "%s", output);
        } else if (n->name == NULL && (n->op == RG_OP_SUM ||
                                       n->op == RG_OP_MEAN)) {
            snprintf(item, sizeof(item), "%s(%s)", rg_op_name(n->op),
                     node_label(&g->nodes[n->operands[0]]));
        } else {
            snprintf(item, sizeof(item), "%s", node_label(n));
        }
        label_append(label, size, item);
    }
}

/*
 * Describes access `a` of a logical rows x cols matrix as a GEMM operand.
 * With unit column stride it is a stored matrix as is. Otherwise the row
 * stride is 1 and it is the transpose of a stored cols x rows matrix.
 */
static void gemm_operand(kp_access a, int64_t rows, int64_t cols,
                         kp_matrix *m, bool *trans)
{
    m->buffer = a.buffer;
    m->offset = a.offset;
    if (a.col_stride == 1) {
        *trans = false;
        m->ld = rows > 1 ? a.row_stride : cols;
    } else {
        RG_ASSERT(a.row_stride == 1);
        *trans = true;
        m->ld = cols > 1 ? a.col_stride : rows;
    }
}

/* Logical access and [rows, cols] of matmul operand `o`, transposed when
 * `flag` is set; `as_column` lays a vector out as one column. */
static void logical_operand(const plan_ctx *ctx, rg_node_id o, bool flag,
                            bool as_column, kp_access *a, int64_t *rows,
                            int64_t *cols)
{
    rg_shape s = ctx->g->nodes[o].shape;

    *a = ctx->values[o].access;
    if (s.rank == 1) {
        *rows = as_column ? s.dims[0] : 1;
        *cols = as_column ? 1 : s.dims[0];
        a->row_stride = as_column ? 1 : s.dims[0];
        a->col_stride = 1;
        return;
    }
    *rows = s.dims[0];
    *cols = s.dims[1];
    if (flag) {
        int64_t t = a->row_stride;
        a->row_stride = a->col_stride;
        a->col_stride = t;
        *rows = s.dims[1];
        *cols = s.dims[0];
    }
}

static rg_status lower_gemm(plan_ctx *ctx, rg_node_id id, int position)
{
    const rg_node *n = &ctx->g->nodes[id];
    bool acc = n->op == RG_OP_GEMM_ACC;
    rg_node_id a = n->operands[acc ? 1 : 0];
    rg_node_id b = n->operands[acc ? 2 : 1];
    plan_step s;
    kp_access la, lb, c = ctx->values[id].access;
    int64_t rows_a, cols_a, rows_b, cols_b;

    memset(&s, 0, sizeof(s));
    s.kind = PLAN_STEP_GEMM;
    s.unit = position;
    s.group = n->group;
    snprintf(s.label, sizeof(s.label), "%s%s%s%s @ %s%s",
             acc ? n->name : "", acc ? " += " : "",
             node_label(&ctx->g->nodes[plan_view_base(ctx->g, a)]),
             n->trans_a ? ".T" : "",
             node_label(&ctx->g->nodes[plan_view_base(ctx->g, b)]),
             n->trans_b ? ".T" : "");
    logical_operand(ctx, a, n->trans_a, false, &la, &rows_a, &cols_a);
    logical_operand(ctx, b, n->trans_b, true, &lb, &rows_b, &cols_b);
    s.gemm.m = rows_a;
    s.gemm.k = cols_a;
    s.gemm.n = cols_b;
    gemm_operand(la, rows_a, cols_a, &s.gemm.a, &s.gemm.trans_a);
    gemm_operand(lb, rows_b, cols_b, &s.gemm.b, &s.gemm.trans_b);
    s.gemm.c.buffer = c.buffer;
    s.gemm.c.offset = c.offset;
    s.gemm.c.ld = s.gemm.n;
    s.gemm.alpha = 1.0f;
    s.gemm.alpha_scalar = -1;
    s.gemm.beta = 0.0f;
    s.gemm.beta_scalar = -1;
    if (acc) {
        s.gemm.alpha = (float)n->value;
        s.gemm.alpha_scalar = ctx->slot[n->operands[3]];
        s.gemm.beta = (float)n->beta;
        s.gemm.beta_scalar = ctx->slot[n->operands[4]];
    }
    s.flops = 2.0 * (double)(s.gemm.m * s.gemm.n * s.gemm.k);
    s.bytes = 4.0 * (double)(s.gemm.m * s.gemm.k + s.gemm.k * s.gemm.n +
                             s.gemm.m * s.gemm.n * (acc ? 2 : 1));
    return push_step(ctx, s);
}

/* The iteration space of group `gid`, whose first node is `first`. */
static rg_shape group_space(const rg_graph *g, rg_node_id first)
{
    const rg_node *n = &g->nodes[first];

    if (n->op == RG_OP_SUM || n->op == RG_OP_MEAN) {
        return g->nodes[n->operands[0]].shape;
    }
    return n->shape;
}

static rg_status lower_group_kernel(plan_ctx *ctx, int gid, rg_node_id first,
                                    rg_shape space, int position,
                                    kernel_ctx *kc)
{
    const rg_graph *g = ctx->g;
    rg_status st = RG_STATUS_OK;
    plan_step s;

    kc->space = space;
    kc->k = kp_program_new(node_label(&g->nodes[first]),
                           plan_rows(kc->space), plan_cols(kc->space));
    if (kc->k == NULL) {
        return plan_no_memory(ctx);
    }
    for (int id = first; id < g->n_nodes && st == RG_STATUS_OK; id++) {
        const rg_node *n = &g->nodes[id];
        if (n->group != gid || n->op == RG_OP_MATMUL) {
            continue;
        }
        if (n->op == RG_OP_SUM || n->op == RG_OP_MEAN) {
            st = emit_reduce(kc, id);
            continue;
        }
        kc->reg[id] = emit_node(kc, id);
        if (kc->reg[id] < 0) {
            st = plan_no_memory(ctx);
        } else if (ctx->stored[id]) {
            kp_store store = {kc->reg[id], ctx->values[id].access,
                              KP_REDUCE_NONE, 1.0f};
            kc->bytes += 4.0 * (double)rg_shape_numel(n->shape);
            if (kp_program_add_store(kc->k, store) < 0) {
                st = plan_no_memory(ctx);
            }
        }
    }
    if (st != RG_STATUS_OK) {
        kp_program_free(kc->k);
        return st;
    }
    memset(&s, 0, sizeof(s));
    s.kind = PLAN_STEP_KERNEL;
    s.kernel = kc->k;
    s.unit = position;
    s.group = gid;
    s.flops = kc->flops;
    s.bytes = kc->bytes;
    group_label(ctx, gid, s.label, sizeof(s.label));
    snprintf(kc->k->name, sizeof(kc->k->name), "%s", s.label);
    return push_step(ctx, s);
}

static rg_status lower_group(plan_ctx *ctx, int gid, int position,
                             kernel_ctx *kc)
{
    const rg_graph *g = ctx->g;
    rg_node_id product = -1, first = -1;

    /* A group has at most one product; its other nodes form a kernel,
     * which may hold nodes numbered before the product. */
    for (int id = 0; id < g->n_nodes; id++) {
        if (g->nodes[id].group != gid) {
            continue;
        }
        if (g->nodes[id].op == RG_OP_MATMUL ||
            g->nodes[id].op == RG_OP_GEMM_ACC) {
            product = id;
        } else if (first < 0) {
            first = id;
        }
    }
    RG_ASSERT(product >= 0 || first >= 0);
    if (product >= 0) {
        rg_status st = lower_gemm(ctx, product, position);
        if (st != RG_STATUS_OK || first < 0) {
            return st;
        }
        return lower_group_kernel(ctx, gid, first, g->nodes[product].shape,
                                  position, kc);
    }
    return lower_group_kernel(ctx, gid, first, group_space(g, first),
                              position, kc);
}

/* A kernel that copies node `src` (any value) into `dst`. */
static rg_status lower_copy(plan_ctx *ctx, rg_node_id src, kp_access dst,
                            const char *label, int position, kernel_ctx *kc)
{
    rg_shape shape = ctx->g->nodes[src].shape;
    plan_step s;

    kc->space = shape;
    kc->k = kp_program_new(label, plan_rows(shape), plan_cols(shape));
    if (kc->k == NULL) {
        return plan_no_memory(ctx);
    }
    kp_store store = {emit_source(kc, src), dst, KP_REDUCE_NONE, 1.0f};
    if (store.src < 0 || kp_program_add_store(kc->k, store) < 0) {
        kp_program_free(kc->k);
        return plan_no_memory(ctx);
    }
    memset(&s, 0, sizeof(s));
    s.kind = PLAN_STEP_KERNEL;
    s.kernel = kc->k;
    s.unit = position;
    s.group = -1;
    s.bytes = kc->bytes + 4.0 * (double)rg_shape_numel(shape);
    snprintf(s.label, sizeof(s.label), "%s", label);
    return push_step(ctx, s);
}

static rg_status lower_unit(plan_ctx *ctx, int position, kernel_ctx *kc)
{
    const plan_unit *u = &ctx->units[ctx->order[position]];
    const rg_graph *g = ctx->g;
    char label[64];

    for (int i = 0; i < g->n_nodes; i++) {
        kc->reg[i] = -1;
        kc->loaded[i] = -1;
    }
    kc->flops = 0.0;
    kc->bytes = 0.0;
    switch (u->kind) {
    case UNIT_GROUP:
        return lower_group(ctx, u->group, position, kc);
    case UNIT_COPY: {
        kp_access dst = contiguous(PLAN_ARENA_BUFFER,
                                   ctx->plan->tensors[u->tensor].offset,
                                   g->nodes[u->node].shape);
        snprintf(label, sizeof(label), "copy %s", node_label(&g->nodes[u->node]));
        return lower_copy(ctx, u->node, dst, label, position, kc);
    }
    case UNIT_UPDATE: {
        /* Read the staged value from its tensor, not from the node. */
        const plan_tensor *t = &ctx->plan->tensors[u->tensor];
        value saved = ctx->values[u->node];
        rg_status st;

        ctx->values[u->node].kind = VALUE_TENSOR;
        ctx->values[u->node].access = contiguous(PLAN_ARENA_BUFFER, t->offset,
                                                 g->nodes[u->node].shape);
        snprintf(label, sizeof(label), "update %s", g->nodes[u->target].name);
        st = lower_copy(ctx, u->node, ctx->values[u->target].access, label,
                        position, kc);
        ctx->values[u->node] = saved;
        return st;
    }
    }
    return RG_STATUS_OK;
}

rg_status plan_lower(plan_ctx *ctx)
{
    size_t n = (size_t)ctx->g->n_nodes + 1;
    kernel_ctx kc = {ctx, NULL, {0, {0, 0}}, NULL, NULL, 0.0, 0.0};
    rg_status st = assign_scalars(ctx);

    if (st == RG_STATUS_OK) {
        st = assign_values(ctx);
    }
    if (st == RG_STATUS_OK) {
        st = assign_bindings(ctx);
    }
    kc.reg = malloc(n * sizeof(int));
    kc.loaded = malloc(n * sizeof(int));
    if (st == RG_STATUS_OK && (kc.reg == NULL || kc.loaded == NULL)) {
        st = plan_no_memory(ctx);
    }
    for (int p = 0; p < ctx->n_units && st == RG_STATUS_OK; p++) {
        st = lower_unit(ctx, p, &kc);
    }
    free(kc.reg);
    free(kc.loaded);
    return st;
}
