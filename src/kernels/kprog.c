/*
 * Construction and printing of kernel programs, and the scalar reference
 * semantics of every opcode.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/kprog.h"

static const char *const opcode_names[KP_OPCODE_COUNT] = {
    [KP_LOAD] = "load",       [KP_CONST] = "const",
    [KP_SCALAR] = "scalar",   [KP_UNIFORM] = "uniform",
    [KP_NORMAL] = "normal",   [KP_ADD] = "add",
    [KP_SUB] = "sub",         [KP_MUL] = "mul",
    [KP_DIV] = "div",         [KP_POW] = "pow",
    [KP_MIN] = "min",         [KP_MAX] = "max",
    [KP_LT] = "lt",           [KP_LE] = "le",
    [KP_GT] = "gt",           [KP_GE] = "ge",
    [KP_EQ] = "eq",           [KP_NE] = "ne",
    [KP_NEG] = "neg",         [KP_SIGMOID] = "sigmoid",
    [KP_EXP] = "exp",         [KP_LOG] = "log",
    [KP_LOG1P] = "log1p",     [KP_SOFTPLUS] = "softplus",
    [KP_TANH] = "tanh",       [KP_RELU] = "relu",
    [KP_SQRT] = "sqrt",       [KP_SQUARE] = "square",
    [KP_ABS] = "abs",         [KP_WHERE] = "where",
};

const char *kp_opcode_name(kp_opcode op)
{
    if ((int)op < 0 || op >= KP_OPCODE_COUNT) {
        return "unknown";
    }
    return opcode_names[op];
}

int kp_opcode_arity(kp_opcode op)
{
    if (op <= KP_NORMAL) {
        return 0;
    }
    if (op <= KP_NE) {
        return 2;
    }
    if (op <= KP_ABS) {
        return 1;
    }
    return 3;
}

bool kp_opcode_is_random(kp_opcode op)
{
    return op == KP_UNIFORM || op == KP_NORMAL;
}

kp_program *kp_program_new(const char *name, int64_t rows, int64_t cols)
{
    kp_program *p = calloc(1, sizeof(*p));

    if (p == NULL) {
        return NULL;
    }
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->rows = rows;
    p->cols = cols;
    return p;
}

void kp_program_free(kp_program *p)
{
    if (p == NULL) {
        return;
    }
    free(p->loads);
    free(p->instrs);
    free(p->stores);
    free(p);
}

/* Grows `*array` of `size`-byte items by one; returns false on no memory. */
static bool grow(void **array, int count, size_t size)
{
    void *bigger = realloc(*array, (size_t)(count + 1) * size);

    if (bigger == NULL) {
        return false;
    }
    *array = bigger;
    return true;
}

int kp_program_add_load(kp_program *p, kp_access access)
{
    if (!grow((void **)&p->loads, p->n_loads, sizeof(access))) {
        return -1;
    }
    p->loads[p->n_loads] = access;
    return p->n_loads++;
}

int kp_program_add_instr(kp_program *p, kp_instr instr)
{
    if (!grow((void **)&p->instrs, p->n_instrs, sizeof(instr))) {
        return -1;
    }
    p->instrs[p->n_instrs] = instr;
    return p->n_instrs++;
}

int kp_program_add_store(kp_program *p, kp_store store)
{
    if (!grow((void **)&p->stores, p->n_stores, sizeof(store))) {
        return -1;
    }
    p->stores[p->n_stores] = store;
    return p->n_stores++;
}

static void print_access(const kp_access *a, FILE *out)
{
    fprintf(out, "buf%d[%lld + %lld*r + %lld*c]", a->buffer,
            (long long)a->offset, (long long)a->row_stride,
            (long long)a->col_stride);
}

void kp_program_print(const kp_program *p, FILE *out)
{
    static const char *reduce_names[] = {"", " sum over rows",
                                         " sum over cols", " sum all"};

    fprintf(out, "kernel %s [%lld x %lld]\n", p->name, (long long)p->rows,
            (long long)p->cols);
    for (int i = 0; i < p->n_instrs; i++) {
        const kp_instr *in = &p->instrs[i];

        fprintf(out, "  %%%d = %s", i, kp_opcode_name(in->op));
        switch (in->op) {
        case KP_LOAD:
            fputc(' ', out);
            print_access(&p->loads[in->a], out);
            break;
        case KP_CONST:
            fprintf(out, " %.9g", in->imm);
            break;
        case KP_SCALAR:
        case KP_UNIFORM:
        case KP_NORMAL:
            fprintf(out, " #%u", in->arg);
            break;
        default:
            const int operands[3] = {in->a, in->b, in->c};
            for (int k = 0; k < kp_opcode_arity(in->op); k++) {
                int operand = operands[k];
                fprintf(out, "%s%%%d", k ? ", " : " ", operand);
            }
        }
        fputc('\n', out);
    }
    for (int i = 0; i < p->n_stores; i++) {
        const kp_store *s = &p->stores[i];

        fprintf(out, "  store %%%d ->", s->src);
        fputc(' ', out);
        print_access(&s->dst, out);
        fprintf(out, "%s", reduce_names[s->reduce]);
        if (s->reduce != KP_REDUCE_NONE && s->scale != 1.0f) {
            fprintf(out, " * %.9g", s->scale);
        }
        fputc('\n', out);
    }
}

float kp_apply(kp_opcode op, float a, float b, float c)
{
    switch (op) {
    case KP_ADD: return a + b;
    case KP_SUB: return a - b;
    case KP_MUL: return a * b;
    case KP_DIV: return a / b;
    case KP_POW: return b == 2.0f ? a * a : powf(a, b);
    case KP_MIN: return fminf(a, b);
    case KP_MAX: return fmaxf(a, b);
    case KP_LT: return a < b ? 1.0f : 0.0f;
    case KP_LE: return a <= b ? 1.0f : 0.0f;
    case KP_GT: return a > b ? 1.0f : 0.0f;
    case KP_GE: return a >= b ? 1.0f : 0.0f;
    case KP_EQ: return a == b ? 1.0f : 0.0f;
    case KP_NE: return a != b ? 1.0f : 0.0f;
    case KP_NEG: return -a;
    case KP_SIGMOID: return kp_sigmoidf(a);
    case KP_EXP: return expf(a);
    case KP_LOG: return logf(a);
    case KP_LOG1P: return log1pf(a);
    case KP_SOFTPLUS: return kp_softplusf(a);
    case KP_TANH: return tanhf(a);
    case KP_RELU: return a > 0.0f ? a : 0.0f;
    case KP_SQRT: return sqrtf(a);
    case KP_SQUARE: return a * a;
    case KP_ABS: return fabsf(a);
    case KP_WHERE: return a != 0.0f ? b : c;
    default: return NAN;
    }
}
