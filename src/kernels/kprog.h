/*
 * The kernel program: what one backend launch computes. A fused group of
 * elementwise ops (with an optional reduction at the end) becomes a short
 * list of instructions in SSA form evaluated at every point of a
 * [rows, cols] iteration space. Operands are read through strided accesses,
 * so broadcasting and transposition cost no copies. A matrix product is a
 * separate step type, kp_gemm.
 *
 * This layer does not depend on graphs. Invariant: an instruction reads only
 * instructions with a smaller index, and random instructions draw element
 * (row * cols + col) of their stream.
 */
#ifndef RG_KPROG_H
#define RG_KPROG_H

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

typedef enum kp_opcode {
    /* Sources. */
    KP_LOAD,      /* operand `a` indexes the program's loads */
    KP_CONST,     /* the immediate `imm` */
    KP_SCALAR,    /* runtime scalar number `arg` */
    KP_UNIFORM,   /* uniform on [0, 1) from stream `arg` */
    KP_NORMAL,    /* standard normal from stream `arg` */
    /* Binary. */
    KP_ADD, KP_SUB, KP_MUL, KP_DIV, KP_POW, KP_MIN, KP_MAX,
    KP_LT, KP_LE, KP_GT, KP_GE, KP_EQ, KP_NE,
    /* Unary. */
    KP_NEG, KP_SIGMOID, KP_EXP, KP_LOG, KP_LOG1P, KP_SOFTPLUS, KP_TANH,
    KP_RELU, KP_SQRT, KP_SQUARE, KP_ABS,
    /* Ternary: c ? a : b with c = operand a, written where(a, b, c). */
    KP_WHERE,
    KP_OPCODE_COUNT
} kp_opcode;

typedef struct kp_instr {
    kp_opcode op;
    int a, b, c;   /* operand instruction indices (or load index) */
    uint32_t arg;  /* scalar slot or random stream */
    float imm;
} kp_instr;

/* A strided view of one backend buffer; offsets and strides in floats. */
typedef struct kp_access {
    int buffer;
    int64_t offset;
    int64_t row_stride;
    int64_t col_stride;
} kp_access;

typedef enum kp_reduce {
    KP_REDUCE_NONE = 0,
    KP_REDUCE_ROWS, /* sum over rows (axis 0): result has `cols` elements */
    KP_REDUCE_COLS, /* sum over columns (axis 1): `rows` elements */
    KP_REDUCE_ALL   /* one element */
} kp_reduce;

typedef struct kp_store {
    int src;          /* instruction whose value is stored */
    kp_access dst;
    kp_reduce reduce;
    float scale;      /* reductions: multiply the sum (1/n for a mean) */
} kp_store;

typedef struct kp_program {
    char name[48];
    int64_t rows;
    int64_t cols;

    kp_access *loads;
    int n_loads;
    kp_instr *instrs;
    int n_instrs;
    kp_store *stores;
    int n_stores;
} kp_program;

/* A matrix product C = alpha * op(A) @ op(B) + beta * C, row-major. */
typedef struct kp_matrix {
    int buffer;
    int64_t offset; /* floats */
    int64_t ld;     /* row stride of the stored (untransposed) matrix */
} kp_matrix;

typedef struct kp_gemm {
    bool trans_a;
    bool trans_b;
    int64_t m, n, k;
    kp_matrix a, b, c;
    float alpha;
    int alpha_scalar; /* -1, or a runtime scalar slot that scales alpha */
    float beta;
    int beta_scalar;  /* -1, or a runtime scalar slot that scales beta */
} kp_gemm;

/* Creates an empty program over a [rows, cols] space; NULL on no memory. */
kp_program *kp_program_new(const char *name, int64_t rows, int64_t cols);
void kp_program_free(kp_program *p);

/* Appenders return the new index, or -1 when out of memory. */
int kp_program_add_load(kp_program *p, kp_access access);
int kp_program_add_instr(kp_program *p, kp_instr instr);
int kp_program_add_store(kp_program *p, kp_store store);

/* Number of operands an opcode reads (0 to 3). */
int kp_opcode_arity(kp_opcode op);
const char *kp_opcode_name(kp_opcode op);
bool kp_opcode_is_random(kp_opcode op);

/* Writes the program as text, one instruction a line. */
void kp_program_print(const kp_program *p, FILE *out);

/*
 * Evaluates `p` on the CPU, block by block so that intermediates stay in
 * cache. `buffers` contains the base pointer of every buffer the accesses
 * name and `scalars` the runtime scalars. Random draws use (seed, step,
 * stream, element). Returns false when scratch memory cannot be allocated,
 * in which case no store has been written.
 */
bool kp_cpu_run(const kp_program *p, float *const *buffers,
                const float *scalars, uint64_t seed, uint64_t step);

/*
 * The pieces of kp_cpu_run, for callers that split rows among threads.
 * Each part gets accumulators from kp_cpu_sums_new and runs
 * kp_cpu_run_rows on its rows; after all parts finish, kp_cpu_sums_store
 * adds the parts' sums in part order (so results depend only on the
 * split) and writes the reductions.
 */
double **kp_cpu_sums_new(const kp_program *p);
void kp_cpu_sums_free(const kp_program *p, double **sums);
bool kp_cpu_run_rows(const kp_program *p, float *const *buffers,
                     const float *scalars, uint64_t seed, uint64_t step,
                     int64_t row_begin, int64_t row_end, double *const *sums);
void kp_cpu_sums_store(const kp_program *p, float *const *buffers,
                       double **const *parts, int n_parts);

/* Logistic function; two branches keep exp's argument non-positive, so
 * nothing overflows. */
static inline float kp_sigmoidf(float x)
{
    if (x >= 0.0f) {
        return 1.0f / (1.0f + expf(-x));
    }
    float e = expf(x);
    return e / (1.0f + e);
}

/* log(1 + e^x) as max(x, 0) + log1p(e^-|x|), accurate in both tails. */
static inline float kp_softplusf(float x)
{
    return fmaxf(x, 0.0f) + log1pf(expf(-fabsf(x)));
}

/* Reference scalar semantics of one instruction, shared by evaluators. */
float kp_apply(kp_opcode op, float a, float b, float c);

#endif
