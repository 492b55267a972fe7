/*
 * OpenCL C generation from kernel programs (see kprog_opencl.h for the
 * launch scheme). Every value is printed exactly: float constants with
 * nine significant digits, which round-trip, and offsets and strides as
 * integers, so the source of a plan never changes between runs.
 */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kprog_opencl.h"

/* A growing text; `failed` records an allocation failure. */
typedef struct text {
    char *data;
    size_t length;
    size_t capacity;
    bool failed;
} text;

static void text_reserve(text *t, size_t extra)
{
    if (t->failed || t->length + extra + 1 <= t->capacity) {
        return;
    }
    size_t capacity = t->capacity > 0 ? t->capacity : 4096;
    while (capacity < t->length + extra + 1) {
        capacity *= 2;
    }
    char *grown = realloc(t->data, capacity);
    if (grown == NULL) {
        t->failed = true;
        return;
    }
    t->data = grown;
    t->capacity = capacity;
}

static void text_add(text *t, const char *s)
{
    size_t n = strlen(s);

    text_reserve(t, n);
    if (!t->failed) {
        memcpy(t->data + t->length, s, n + 1);
        t->length += n;
    }
}

static void text_addf(text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_addf(text *t, const char *fmt, ...)
{
    va_list args;

    va_start(args, fmt);
    int n = vsnprintf(NULL, 0, fmt, args);
    va_end(args);
    if (n < 0) {
        t->failed = true;
        return;
    }
    text_reserve(t, (size_t)n);
    if (t->failed) {
        return;
    }
    va_start(args, fmt);
    vsnprintf(t->data + t->length, (size_t)n + 1, fmt, args);
    va_end(args);
    t->length += (size_t)n;
}

/* Writes `v` as an OpenCL C float literal that converts back exactly. */
static void format_float(float v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "NAN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, "%s", v > 0 ? "INFINITY" : "(-INFINITY)");
        return;
    }
    char digits[32];
    snprintf(digits, sizeof(digits), "%.9g", (double)v);
    bool has_point = strpbrk(digits, ".e") != NULL;
    snprintf(buf, size, "%s%sf", digits, has_point ? "" : ".0");
}

/* Appends offset + row * row_stride + col * col_stride, leaving out
 * zero terms. */
static void add_index(text *t, const kp_access *a)
{
    bool first = true;

    if (a->offset != 0) {
        text_addf(t, "%lld", (long long)a->offset);
        first = false;
    }
    const int64_t strides[2] = {a->row_stride, a->col_stride};
    const char *const names[2] = {"row", "col"};
    for (int k = 0; k < 2; k++) {
        if (strides[k] == 0) {
            continue;
        }
        text_add(t, first ? "" : " + ");
        if (strides[k] == 1) {
            text_add(t, names[k]);
        } else {
            text_addf(t, "%s * %lld", names[k], (long long)strides[k]);
        }
        first = false;
    }
    if (first) {
        text_add(t, "0");
    }
}

static void add_unary(text *t, const char *fn, int a)
{
    text_addf(t, "%s(v%d)", fn, a);
}

static void add_compare(text *t, const char *op, int a, int b)
{
    text_addf(t, "v%d %s v%d ? 1.0f : 0.0f", a, op, b);
}

/* Appends the right-hand side of instruction `in` of program `p`. */
static void add_instr_value(text *t, const kp_program *p, const kp_instr *in)
{
    char literal[48];

    switch (in->op) {
    case KP_LOAD: {
        const kp_access *a = &p->loads[in->a];
        text_addf(t, "b%d[", a->buffer);
        add_index(t, a);
        text_add(t, "]");
        break;
    }
    case KP_CONST:
        format_float(in->imm, literal, sizeof(literal));
        text_add(t, literal);
        break;
    case KP_SCALAR: text_addf(t, "s%u", in->arg); break;
    case KP_UNIFORM:
        text_addf(t, "rg_philox_uniform(seed, step, %uu, element)", in->arg);
        break;
    case KP_NORMAL:
        text_addf(t, "rg_philox_normal(seed, step, %uu, element)", in->arg);
        break;
    case KP_ADD: text_addf(t, "v%d + v%d", in->a, in->b); break;
    case KP_SUB: text_addf(t, "v%d - v%d", in->a, in->b); break;
    case KP_MUL: text_addf(t, "v%d * v%d", in->a, in->b); break;
    case KP_DIV: text_addf(t, "v%d / v%d", in->a, in->b); break;
    case KP_POW: text_addf(t, "rg_pow(v%d, v%d)", in->a, in->b); break;
    case KP_MIN: text_addf(t, "fmin(v%d, v%d)", in->a, in->b); break;
    case KP_MAX: text_addf(t, "fmax(v%d, v%d)", in->a, in->b); break;
    case KP_LT: add_compare(t, "<", in->a, in->b); break;
    case KP_LE: add_compare(t, "<=", in->a, in->b); break;
    case KP_GT: add_compare(t, ">", in->a, in->b); break;
    case KP_GE: add_compare(t, ">=", in->a, in->b); break;
    case KP_EQ: add_compare(t, "==", in->a, in->b); break;
    case KP_NE: add_compare(t, "!=", in->a, in->b); break;
    case KP_NEG: text_addf(t, "-v%d", in->a); break;
    case KP_SIGMOID: add_unary(t, "rg_sigmoid", in->a); break;
    case KP_EXP: add_unary(t, "rg_exp", in->a); break;
    case KP_LOG: add_unary(t, "log", in->a); break;
    case KP_LOG1P: add_unary(t, "log1p", in->a); break;
    case KP_SOFTPLUS: add_unary(t, "rg_softplus", in->a); break;
    case KP_TANH: add_unary(t, "tanh", in->a); break;
    case KP_RELU: text_addf(t, "v%d > 0.0f ? v%d : 0.0f", in->a, in->a); break;
    case KP_SQRT: add_unary(t, "sqrt", in->a); break;
    case KP_SQUARE: text_addf(t, "v%d * v%d", in->a, in->a); break;
    case KP_ABS: add_unary(t, "fabs", in->a); break;
    case KP_WHERE:
        text_addf(t, "v%d != 0.0f ? v%d : v%d", in->a, in->b, in->c);
        break;
    default:
        /* kp_apply's value for an opcode it does not know. */
        text_add(t, "NAN");
    }
}

void kp_ocl_launch_clear(kp_ocl_launch *launch)
{
    if (launch == NULL) {
        return;
    }
    free(launch->buffers);
    free(launch->scalars);
    memset(launch, 0, sizeof(*launch));
}

/* Collects the buffers, scalar slots and random use of `p`. */
static bool collect_arguments(const kp_program *p, kp_ocl_launch *launch)
{
    int max_buffer = -1;
    uint32_t max_slot = 0;
    bool any_scalar = false;

    for (int i = 0; i < p->n_loads; i++) {
        max_buffer = p->loads[i].buffer > max_buffer ? p->loads[i].buffer
                                                     : max_buffer;
    }
    for (int i = 0; i < p->n_stores; i++) {
        int b = p->stores[i].dst.buffer;
        max_buffer = b > max_buffer ? b : max_buffer;
    }
    for (int i = 0; i < p->n_instrs; i++) {
        if (p->instrs[i].op == KP_SCALAR) {
            max_slot = p->instrs[i].arg > max_slot ? p->instrs[i].arg
                                                    : max_slot;
            any_scalar = true;
        }
        launch->random = launch->random || kp_opcode_is_random(p->instrs[i].op);
    }

    size_t n_flags = (size_t)(max_buffer + 1) + (size_t)max_slot + 1;
    bool *used = calloc(n_flags, sizeof(bool));
    launch->buffers = malloc((size_t)(max_buffer + 2) * sizeof(int));
    launch->scalars = malloc(((size_t)max_slot + 1) * sizeof(uint32_t));
    if (used == NULL || launch->buffers == NULL || launch->scalars == NULL) {
        free(used);
        return false;
    }
    bool *buffer_used = used;
    bool *slot_used = used + max_buffer + 1;
    for (int i = 0; i < p->n_loads; i++) {
        buffer_used[p->loads[i].buffer] = true;
    }
    for (int i = 0; i < p->n_stores; i++) {
        buffer_used[p->stores[i].dst.buffer] = true;
    }
    for (int i = 0; i < p->n_instrs; i++) {
        if (p->instrs[i].op == KP_SCALAR) {
            slot_used[p->instrs[i].arg] = true;
        }
    }
    for (int b = 0; b <= max_buffer; b++) {
        if (buffer_used[b]) {
            launch->buffers[launch->n_buffers++] = b;
        }
    }
    for (uint32_t s = 0; any_scalar && s <= max_slot; s++) {
        if (slot_used[s]) {
            launch->scalars[launch->n_scalars++] = s;
        }
    }
    free(used);
    return true;
}

static bool has_reduction(const kp_program *p)
{
    for (int i = 0; i < p->n_stores; i++) {
        if (p->stores[i].reduce != KP_REDUCE_NONE) {
            return true;
        }
    }
    return false;
}

/* Output elements of a reduction store. */
static int64_t reduce_length(const kp_program *p, kp_reduce reduce)
{
    switch (reduce) {
    case KP_REDUCE_ROWS: return p->cols;
    case KP_REDUCE_COLS: return p->rows;
    default: return 1;
    }
}

/* Partials per output element: the tiles that the sum runs across. */
static int64_t reduce_parts(const kp_ocl_launch *l, const kp_ocl_target *tg,
                            kp_reduce reduce)
{
    int64_t groups_x = (int64_t)l->global[0] / tg->tile_cols;
    int64_t groups_y = (int64_t)l->global[1] / tg->tile_rows;

    switch (reduce) {
    case KP_REDUCE_ROWS: return groups_y;
    case KP_REDUCE_COLS: return groups_x;
    default: return groups_x * groups_y;
    }
}

/* The parameter list shared by both kernels of a program. */
static void add_buffer_params(text *t, const kp_ocl_launch *l, bool first)
{
    for (int i = 0; i < l->n_buffers; i++) {
        text_addf(t, "%s__global float *b%d", first && i == 0 ? "" : ", ",
                  l->buffers[i]);
    }
}

static void add_main_signature(text *t, const kp_program *p,
                               const kp_ocl_launch *l,
                               const kp_ocl_target *tg)
{
    text_addf(t, "/* %s [%lld x %lld] */\n", p->name, (long long)p->rows,
              (long long)p->cols);
    text_addf(t, "__kernel __attribute__((reqd_work_group_size(%d, %d, 1)))"
              "\nvoid %s(", tg->tile_cols, tg->tile_rows, l->kernel);
    add_buffer_params(t, l, true);
    if (l->partial_count > 0) {
        text_add(t, ", __global rg_acc *part");
    }
    for (int i = 0; i < l->n_scalars; i++) {
        text_addf(t, ", float s%u", l->scalars[i]);
    }
    if (l->random) {
        text_add(t, ", ulong seed, ulong step");
    }
    text_add(t, ")\n{\n");
}

/* True when instruction `k` feeds a reduction store. */
static bool feeds_reduction(const kp_program *p, int k)
{
    for (int i = 0; i < p->n_stores; i++) {
        if (p->stores[i].src == k && p->stores[i].reduce != KP_REDUCE_NONE) {
            return true;
        }
    }
    return false;
}

/* The element-wise part: instructions and plain stores of live items. */
static void add_main_body(text *t, const kp_program *p, bool random)
{
    for (int k = 0; k < p->n_instrs; k++) {
        if (feeds_reduction(p, k)) {
            text_addf(t, "    float v%d = 0.0f;\n", k);
        }
    }
    text_addf(t, "    if (col < %lldL && row < %lldL) {\n",
              (long long)p->cols, (long long)p->rows);
    if (random) {
        text_addf(t, "        const ulong element = (ulong)(row * %lldL + "
                  "col);\n", (long long)p->cols);
    }
    for (int k = 0; k < p->n_instrs; k++) {
        text_addf(t, feeds_reduction(p, k) ? "        v%d = "
                                          : "        const float v%d = ", k);
        add_instr_value(t, p, &p->instrs[k]);
        text_add(t, ";\n");
    }
    for (int i = 0; i < p->n_stores; i++) {
        const kp_store *s = &p->stores[i];
        if (s->reduce == KP_REDUCE_NONE) {
            text_addf(t, "        b%d[", s->dst.buffer);
            add_index(t, &s->dst);
            text_addf(t, "] = v%d;\n", s->src);
        }
    }
    text_add(t, "    }\n");
}

/* Tile sums of every reduction store, one partial per tile and output
 * element, at consecutive bases in `part`. */
static void add_main_reductions(text *t, const kp_program *p,
                                const kp_ocl_launch *l,
                                const kp_ocl_target *tg)
{
    int64_t base = 0;
    int64_t groups_x = (int64_t)l->global[0] / tg->tile_cols;

    for (int i = 0; i < p->n_stores; i++) {
        const kp_store *s = &p->stores[i];
        if (s->reduce == KP_REDUCE_NONE) {
            continue;
        }
        text_addf(t, "    /* store %d: sum %s of v%d */\n", i,
                  s->reduce == KP_REDUCE_ROWS ? "over rows"
                  : s->reduce == KP_REDUCE_COLS ? "over columns" : "of all",
                  s->src);
        switch (s->reduce) {
        case KP_REDUCE_ROWS:
            text_addf(t, "    const rg_acc sum%d = rg_tile_sum_rows(scratch, "
                      "(rg_acc)v%d);\n", i, s->src);
            text_addf(t, "    if (get_local_id(1) == 0 && col < %lldL) {\n"
                      "        part[%lldL + (long)get_group_id(1) * %lldL + "
                      "col] = sum%d;\n    }\n", (long long)p->cols,
                      (long long)base, (long long)p->cols, i);
            break;
        case KP_REDUCE_COLS:
            text_addf(t, "    const rg_acc sum%d = rg_tile_sum_cols(scratch, "
                      "(rg_acc)v%d);\n", i, s->src);
            text_addf(t, "    if (get_local_id(0) == 0 && row < %lldL) {\n"
                      "        part[%lldL + (long)get_group_id(0) * %lldL + "
                      "row] = sum%d;\n    }\n", (long long)p->rows,
                      (long long)base, (long long)p->rows, i);
            break;
        default:
            text_addf(t, "    const rg_acc sum%d = rg_tile_sum_all(scratch, "
                      "(rg_acc)v%d);\n", i, s->src);
            text_addf(t, "    if (get_local_id(0) == 0 && get_local_id(1) == 0)"
                      " {\n        part[%lldL + (long)get_group_id(1) * %lldL"
                      " + (long)get_group_id(0)] = sum%d;\n    }\n",
                      (long long)base, (long long)groups_x, i);
        }
        base += reduce_length(p, s->reduce) * reduce_parts(l, tg, s->reduce);
    }
}

/* The finishing kernel: adds each output's partials in tile order. */
static void add_finish_kernel(text *t, const kp_program *p,
                              const kp_ocl_launch *l,
                              const kp_ocl_target *tg)
{
    int64_t base = 0;
    char scale[48];

    text_addf(t, "__kernel void %s(__global const rg_acc *part", l->finish);
    add_buffer_params(t, l, false);
    text_add(t, ")\n{\n    const long i = (long)get_global_id(0);\n");
    for (int k = 0; k < p->n_stores; k++) {
        const kp_store *s = &p->stores[k];
        if (s->reduce == KP_REDUCE_NONE) {
            continue;
        }
        int64_t length = reduce_length(p, s->reduce);
        int64_t parts = reduce_parts(l, tg, s->reduce);
        format_float(s->scale, scale, sizeof(scale));
        text_addf(t, "    if (i < %lldL) {\n        rg_acc total = 0;\n"
                  "        for (long g = 0; g < %lldL; g++) {\n"
                  "            total += part[%lldL + g * %lldL + i];\n"
                  "        }\n", (long long)length, (long long)parts,
                  (long long)base, (long long)length);
        text_addf(t, "        b%d[", s->dst.buffer);
        if (s->dst.offset != 0) {
            text_addf(t, "%lld + ", (long long)s->dst.offset);
        }
        text_addf(t, "i * %lld] = (float)(total * (rg_acc)%s);\n    }\n",
                  (long long)s->dst.col_stride, scale);
        base += length * parts;
    }
    text_add(t, "}\n\n");
}

/* Fills the names, sizes and arguments of program `index`. */
static bool plan_launch(const kp_program *p, int index,
                        const kp_ocl_target *tg, kp_ocl_launch *l)
{
    char name[33];
    size_t n = 0;

    memset(l, 0, sizeof(*l));
    for (const char *c = p->name; *c != '\0' && n < sizeof(name) - 1; c++) {
        name[n++] = isalnum((unsigned char)*c) ? *c : '_';
    }
    name[n] = '\0';
    snprintf(l->kernel, sizeof(l->kernel), "rg_k%d_%s", index, name);
    l->global[0] = (size_t)((p->cols + tg->tile_cols - 1) / tg->tile_cols *
                            tg->tile_cols);
    l->global[1] = (size_t)((p->rows + tg->tile_rows - 1) / tg->tile_rows *
                            tg->tile_rows);
    for (int i = 0; i < p->n_stores; i++) {
        kp_reduce r = p->stores[i].reduce;
        if (r != KP_REDUCE_NONE) {
            int64_t length = reduce_length(p, r);
            l->partial_count += length * reduce_parts(l, tg, r);
            if ((size_t)length > l->finish_global) {
                l->finish_global = (size_t)length;
            }
        }
    }
    if (l->partial_count > 0) {
        snprintf(l->finish, sizeof(l->finish), "%s_finish", l->kernel);
    }
    return collect_arguments(p, l);
}

static void add_program(text *t, const kp_program *p, const kp_ocl_launch *l,
                        const kp_ocl_target *tg)
{
    add_main_signature(t, p, l, tg);
    if (has_reduction(p)) {
        text_add(t, "    __local rg_acc scratch[RG_TILE_COLS * RG_TILE_ROWS];"
                    "\n");
    }
    text_add(t, "    const long col = (long)get_global_id(0);\n"
                "    const long row = (long)get_global_id(1);\n");
    add_main_body(t, p, l->random);
    if (has_reduction(p)) {
        add_main_reductions(t, p, l, tg);
    }
    text_add(t, "}\n\n");
    if (l->partial_count > 0) {
        add_finish_kernel(t, p, l, tg);
    }
}

static void add_prelude(text *t, int n_programs, const kp_ocl_target *tg)
{
    text_addf(t, "/* Generated by rbm-graph: %d kernel programs, tiles of "
              "%d x %d work-items, sums in %s. */\n", n_programs,
              tg->tile_cols, tg->tile_rows, tg->fp64 ? "double" : "float");
    if (tg->fp64) {
        text_add(t, "#pragma OPENCL EXTENSION cl_khr_fp64 : enable\n"
                    "typedef double rg_acc;\n");
    } else {
        text_add(t, "typedef float rg_acc;\n");
    }
    text_addf(t, "#define RG_TILE_COLS %d\n#define RG_TILE_ROWS %d\n\n",
              tg->tile_cols, tg->tile_rows);
    text_add(t, kp_ocl_philox_text);
    text_add(t, "\n");
    text_add(t, kp_ocl_ops_text);
    text_add(t, "\n");
}

char *kp_ocl_generate(const kp_program *const *programs, int n_programs,
                      const kp_ocl_target *target, kp_ocl_launch *launches)
{
    text t = {NULL, 0, 0, false};
    bool ok = true;

    memset(launches, 0, (size_t)n_programs * sizeof(*launches));
    add_prelude(&t, n_programs, target);
    for (int i = 0; i < n_programs && ok; i++) {
        ok = plan_launch(programs[i], i, target, &launches[i]);
        if (ok) {
            add_program(&t, programs[i], &launches[i], target);
        }
    }
    if (!ok || t.failed) {
        for (int i = 0; i < n_programs; i++) {
            kp_ocl_launch_clear(&launches[i]);
        }
        free(t.data);
        return NULL;
    }
    return t.data;
}
