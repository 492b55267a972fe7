/*
 * Graphviz output and the `rbm-graph plan` listing.
 *
 * rg_dot_write's text at every stage, for the train entry of
 * models/rbm-cd1.yaml (its shipped dims) and for a small graph built here,
 * is compared byte for byte with the files in tests/golden/. When a change
 * to the drawing is intended, regenerate them and review the diff:
 *
 *     RG_UPDATE_GOLDEN=1 meson test -C build dot
 *
 * which rewrites the .dot files of tests/golden under $RG_SOURCE_ROOT and
 * passes.
 * Rendering every stage needs Graphviz's `dot` program (Debian package
 * graphviz, installed by tools/install-deps.sh).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "graph/graph_internal.h"
#include "graph/plan_internal.h"
#include "rbmgraph/rbmgraph.h"

static const char *const stage_names[] = {"parsed", "simplified", "fused",
                                          "planned"};
enum { N_STAGES = 4 };

static const rg_init zeros = {RG_INIT_ZEROS, 0, 0};

static const char *source_root(void)
{
    const char *root = getenv("RG_SOURCE_ROOT");
    return root != NULL ? root : ".";
}

static const char *build_root(void)
{
    const char *root = getenv("RG_BUILD_ROOT");
    return root != NULL ? root : "build";
}

static rg_shape s2(int64_t a, int64_t b)
{
    rg_shape s = {2, {a, b}};
    return s;
}

/* The train entry of models/rbm-cd1.yaml with the dims it ships with. */
static rg_graph *cd1_graph(void)
{
    char path[512];
    rg_model *m = NULL;
    rg_graph *g = NULL;
    rg_error err;

    snprintf(path, sizeof(path), "%s/models/rbm-cd1.yaml", source_root());
    ck_assert_msg(rg_model_load(path, &m, &err) == RG_STATUS_OK, "%s: %s",
                  path, err.message);
    ck_assert_msg(rg_model_build(m, "train", &g, &err) == RG_STATUS_OK,
                  "%s", err.message);
    rg_model_free(m);
    return g;
}

/*
 * A small graph with one leaf of each kind: h = sigmoid(x @ W), a
 * Bernoulli sample of it updating state s in place, an accumulating update
 * of W with a transposed operand, and a metric.
 */
static rg_graph *builder_graph(void)
{
    rg_graph *g = rg_graph_new();
    rg_node_id x = rg_graph_input(g, "x", s2(3, 4));
    rg_node_id w = rg_graph_param(g, "W", s2(4, 2), zeros);
    rg_node_id s = rg_graph_state(g, "s", s2(3, 2), zeros);
    rg_node_id lr = rg_graph_hyper(g, "lr");
    rg_node_id h = rg_graph_unary(g, RG_OP_SIGMOID, rg_graph_matmul(g, x, w));
    rg_node_id sample = rg_graph_bernoulli(g, h);

    rg_graph_set_name(g, h, "h");
    rg_graph_add_update(g, s, rg_graph_binary(
        g, RG_OP_ADD, rg_graph_binary(g, RG_OP_MUL, s,
                                      rg_graph_const(g, 0.5)), sample));
    rg_graph_add_update(g, w, rg_graph_binary(
        g, RG_OP_ADD, w, rg_graph_binary(
            g, RG_OP_MUL, lr, rg_graph_matmul(g, rg_graph_transpose(g, x),
                                              h))));
    rg_graph_add_output(g, "h", h, false);
    rg_graph_add_output(g, "total", rg_graph_reduce(g, RG_OP_MEAN, h,
                                                    RG_AXIS_ALL), true);
    ck_assert_ptr_null(rg_graph_error(g));
    return g;
}

/* Returns the DOT text of `g` at `stage` (free with free()). */
static char *dot_text(const rg_graph *g, rg_stage stage)
{
    char *text = NULL;
    size_t size = 0;
    FILE *out = open_memstream(&text, &size);
    rg_error err;

    ck_assert_ptr_nonnull(out);
    ck_assert_msg(rg_dot_write(g, stage, NULL, out, &err) == RG_STATUS_OK,
                  "stage %s: %s", stage_names[stage], err.message);
    ck_assert_int_eq(fclose(out), 0);
    return text;
}

/* Reads a whole file; returns NULL when it cannot be opened. */
static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *text;
    long size;

    if (f == NULL) {
        return NULL;
    }
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    size = ftell(f);
    ck_assert_int_ge(size, 0);
    rewind(f);
    text = malloc((size_t)size + 1);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    return text;
}

/* Copies line `n` (from 1) of `text` into `buf`, or "(end of file)". */
static void line_of(const char *text, int n, char *buf, size_t size)
{
    for (int i = 1; i < n && text != NULL; i++) {
        text = strchr(text, '\n');
        text = text != NULL ? text + 1 : NULL;
    }
    if (text == NULL || *text == '\0') {
        snprintf(buf, size, "(end of file)");
        return;
    }
    size_t len = strcspn(text, "\n");
    snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), text);
}

/* Compares `got` with golden file `name`, or rewrites it on request. */
static void check_golden(const char *name, const char *got)
{
    char path[600];
    const char *update = getenv("RG_UPDATE_GOLDEN");

    snprintf(path, sizeof(path), "%s/tests/golden/%s", source_root(), name);
    if (update != NULL && strcmp(update, "1") == 0) {
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "cannot write %s", path);
        ck_assert_uint_eq(fwrite(got, 1, strlen(got), f), strlen(got));
        ck_assert_int_eq(fclose(f), 0);
        fprintf(stderr, "rewrote %s\n", path);
        return;
    }

    char *want = read_file(path);
    ck_assert_msg(want != NULL, "cannot read %s; run with RG_UPDATE_GOLDEN=1 "
                  "to create it", path);
    if (strcmp(want, got) != 0) {
        int line = 1;
        char want_line[160], got_line[160];

        for (size_t i = 0; want[i] != '\0' && want[i] == got[i]; i++) {
            line += want[i] == '\n';
        }
        line_of(want, line, want_line, sizeof(want_line));
        line_of(got, line, got_line, sizeof(got_line));
        free(want);
        ck_abort_msg("%s differs at line %d:\n  expected: %s\n  got:      %s\n"
                     "If the change is intended, rerun with "
                     "RG_UPDATE_GOLDEN=1 and review the diff.", path, line,
                     want_line, got_line);
    }
    free(want);
}

START_TEST(cd1_matches_golden)
{
    rg_graph *g = cd1_graph();
    char name[64];

    snprintf(name, sizeof(name), "rbm-cd1-train-%s.dot", stage_names[_i]);
    char *text = dot_text(g, (rg_stage)_i);
    check_golden(name, text);
    free(text);
    rg_graph_free(g);
}
END_TEST

START_TEST(builder_matches_golden)
{
    rg_graph *g = builder_graph();
    char name[64];

    snprintf(name, sizeof(name), "builder-%s.dot", stage_names[_i]);
    char *text = dot_text(g, (rg_stage)_i);
    check_golden(name, text);
    free(text);
    rg_graph_free(g);
}
END_TEST

/* The same graph gives the same text on every call. */
START_TEST(dot_output_stable)
{
    rg_graph *a = cd1_graph();
    rg_graph *b = cd1_graph();

    for (int stage = 0; stage < N_STAGES; stage++) {
        char *ta = dot_text(a, (rg_stage)stage);
        char *tb = dot_text(b, (rg_stage)stage);
        ck_assert_msg(strcmp(ta, tb) == 0, "stage %s differs between runs",
                      stage_names[stage]);
        free(ta);
        free(tb);
    }
    rg_graph_free(a);
    rg_graph_free(b);
}
END_TEST

/* Runs `dot -Tsvg` on `text`; fails with dot's messages when it fails. */
static void check_renders(const char *what, const char *text)
{
    char dir[] = "/tmp/rg-dot-XXXXXX";
    char in_path[64], err_path[64], cmd[256];

    ck_assert_msg(system("command -v dot >/dev/null 2>&1") == 0,
                  "Graphviz's dot program is not on PATH; install the "
                  "graphviz package (tools/install-deps.sh installs it)");
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(in_path, sizeof(in_path), "%s/in.dot", dir);
    snprintf(err_path, sizeof(err_path), "%s/err.txt", dir);
    FILE *f = fopen(in_path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(text, 1, strlen(text), f), strlen(text));
    ck_assert_int_eq(fclose(f), 0);

    snprintf(cmd, sizeof(cmd), "dot -Tsvg -o /dev/null %s 2>%s", in_path,
             err_path);
    int status = system(cmd);
    char *messages = read_file(err_path);
    unlink(in_path);
    unlink(err_path);
    rmdir(dir);
    ck_assert_msg(status == 0, "dot -Tsvg failed on %s (status %d): %s", what,
                  status, messages != NULL ? messages : "");
    free(messages);
}

START_TEST(every_stage_renders)
{
    rg_graph *graphs[2] = {cd1_graph(), builder_graph()};
    const char *names[2] = {"rbm-cd1 train", "the builder graph"};

    for (int k = 0; k < 2; k++) {
        for (int stage = 0; stage < N_STAGES; stage++) {
            char what[96];
            char *text = dot_text(graphs[k], (rg_stage)stage);

            snprintf(what, sizeof(what), "%s at stage %s", names[k],
                     stage_names[stage]);
            check_renders(what, text);
            free(text);
        }
        rg_graph_free(graphs[k]);
    }
}
END_TEST

/* The line that declares node `id` ("  n12 [..."), or NULL. */
static const char *node_line(const char *text, rg_node_id id, char *buf,
                             size_t size)
{
    char prefix[32];
    const char *p = text;

    snprintf(prefix, sizeof(prefix), "n%d [", id);
    while ((p = strstr(p, prefix)) != NULL) {
        if (p == text || p[-1] == ' ') {
            size_t len = strcspn(p, "\n");
            snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1),
                     p);
            return buf;
        }
        p++;
    }
    return NULL;
}

/* Every node's label shows its shape; constants show their value. */
START_TEST(labels_show_shapes)
{
    rg_graph *g = builder_graph();
    char *text = dot_text(g, RG_STAGE_PARSED);
    char line[512], dims[64];

    for (rg_node_id id = 0; id < g->n_nodes; id++) {
        ck_assert_msg(node_line(text, id, line, sizeof(line)) != NULL,
                      "node n%d is not drawn", id);
        if (g->nodes[id].op == RG_OP_CONST) {
            continue;
        }
        rg_shape_str(g->nodes[id].shape, dims, sizeof(dims));
        ck_assert_msg(strstr(line, dims) != NULL, "n%d's label lacks its "
                      "shape %s: %s", id, dims, line);
    }
    free(text);
    rg_graph_free(g);
}
END_TEST

/*
 * In the planned stage every node with an arena tensor shows the tensor's
 * offset and size in bytes, and no other node shows one.
 */
START_TEST(planned_labels_show_arena)
{
    rg_graph *g = cd1_graph();
    char *text = dot_text(g, RG_STAGE_PLANNED);
    rg_plan *plan = NULL;
    rg_error err;
    char line[512], want[96];
    int n_shown = 0;

    ck_assert_int_eq(rg_plan_build(g, NULL, &plan, &err), RG_STATUS_OK);
    ck_assert_msg(rg_plan_check(plan, &err) == RG_STATUS_OK, "%s",
                  err.message);
    const rg_graph *pg = plan->graph;
    for (rg_node_id id = 0; id < pg->n_nodes; id++) {
        int t = plan->node_tensor[id];

        ck_assert_msg(node_line(text, id, line, sizeof(line)) != NULL,
                      "node n%d is not drawn", id);
        if (t < 0) {
            ck_assert_msg(strstr(line, "arena @") == NULL, "n%d has no arena "
                          "tensor but shows one: %s", id, line);
            continue;
        }
        snprintf(want, sizeof(want), "arena @%lld, %lld B",
                 (long long)(4 * plan->tensors[t].offset),
                 (long long)(4 * plan->tensors[t].floats));
        ck_assert_msg(strstr(line, want) != NULL, "n%d should show '%s': %s",
                      id, want, line);
        n_shown++;
    }
    ck_assert_int_gt(n_shown, 3);
    rg_plan_free(plan);
    free(text);
    rg_graph_free(g);
}
END_TEST

/* Extracts the value of attribute `key` ("shape", "fillcolor"). */
static void attribute(const char *line, const char *key, char *buf,
                      size_t size)
{
    char pattern[32];
    const char *p;

    snprintf(pattern, sizeof(pattern), "%s=", key);
    p = strstr(line, pattern);
    ck_assert_msg(p != NULL, "no %s in: %s", key, line);
    p += strlen(pattern);
    size_t len = strcspn(p, ",]");
    snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), p);
}

/* Inputs, params, state and hyperparameters look different from each
 * other and from operations. */
START_TEST(leaf_kinds_distinct)
{
    rg_graph *g = builder_graph();
    char *text = dot_text(g, RG_STAGE_PARSED);
    const char *leaves[4] = {"x", "W", "s", "lr"};
    char style[5][96], line[512], shape[32], color[32];

    for (int k = 0; k < 5; k++) {
        rg_node_id id = k < 4 ? rg_graph_find_leaf(g, leaves[k]) : 4;

        if (k == 4) {
            /* An operation: the first non-leaf node. */
            while (graph_op_is_leaf(g->nodes[id].op)) {
                id++;
            }
        }
        ck_assert_ptr_nonnull(node_line(text, id, line, sizeof(line)));
        attribute(line, "shape", shape, sizeof(shape));
        attribute(line, "fillcolor", color, sizeof(color));
        snprintf(style[k], sizeof(style[k]), "shape %s, fill %s", shape,
                 color);
    }
    for (int a = 0; a < 5; a++) {
        for (int b = a + 1; b < 5; b++) {
            ck_assert_msg(strcmp(style[a], style[b]) != 0, "%s and %s are "
                          "both drawn as %s", a < 4 ? leaves[a] : "an op",
                          b < 4 ? leaves[b] : "an op", style[a]);
        }
    }
    free(text);
    rg_graph_free(g);
}
END_TEST

/* The fused stage draws one cluster per fused group. */
START_TEST(fused_stage_clusters)
{
    rg_graph *g = cd1_graph();
    char *text = dot_text(g, RG_STAGE_FUSED);
    rg_plan *plan = NULL;
    rg_error err;
    int n_clusters = 0;

    for (const char *p = text; (p = strstr(p, "subgraph cluster_")) != NULL;
         p++) {
        n_clusters++;
    }
    ck_assert_int_eq(rg_plan_build(g, NULL, &plan, &err), RG_STATUS_OK);
    int n_groups = 0;
    for (int id = 0; id < plan->graph->n_nodes; id++) {
        if (plan->graph->nodes[id].group >= n_groups) {
            n_groups = plan->graph->nodes[id].group + 1;
        }
    }
    ck_assert_int_eq(n_clusters, n_groups);
    ck_assert_int_gt(n_clusters, 0);
    rg_plan_free(plan);
    free(text);
    rg_graph_free(g);
}
END_TEST

/* Output of `rbm-graph plan` with its counts and its arena line. */
typedef struct plan_listing {
    int exit_status;
    int n_gemm_lines;
    int n_kernel_lines;
    int n_gemms;
    int n_kernels;
    long long arena;
    long long unshared;
    double percent;
    bool has_counts;
    bool has_arena;
} plan_listing;

static plan_listing run_plan_command(const char *options)
{
    char cmd[1200], line[1024];
    plan_listing r;
    FILE *p;

    memset(&r, 0, sizeof(r));
    snprintf(cmd, sizeof(cmd), "%s/tools/rbm-graph", build_root());
    ck_assert_msg(access(cmd, X_OK) == 0, "%s is not built or not "
                  "executable; set RG_BUILD_ROOT to the build directory",
                  cmd);
    snprintf(cmd, sizeof(cmd), "%s/tools/rbm-graph plan %s "
             "%s/models/rbm-cd1.yaml", build_root(), options, source_root());
    p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    while (fgets(line, sizeof(line), p) != NULL) {
        int step;
        char kind[16];

        if (sscanf(line, " %d %15s", &step, kind) == 2) {
            r.n_gemm_lines += strcmp(kind, "gemm") == 0;
            r.n_kernel_lines += strcmp(kind, "kernel") == 0;
        }
        if (sscanf(line, "%d matrix products, %d other kernels", &r.n_gemms,
                   &r.n_kernels) == 2) {
            r.has_counts = true;
        }
        if (sscanf(line, "arena %lld bytes (%lf%% of %lld bytes without "
                   "reuse)", &r.arena, &r.percent, &r.unshared) == 3) {
            r.has_arena = true;
        }
    }
    r.exit_status = pclose(p);
    return r;
}

START_TEST(plan_command_counts)
{
    plan_listing r = run_plan_command("");
    rg_graph *g = cd1_graph();
    rg_plan *plan = NULL;
    rg_error err;

    ck_assert_int_eq(r.exit_status, 0);
    ck_assert_msg(r.has_counts, "no 'N matrix products, M other kernels' "
                  "line");
    ck_assert_msg(r.has_arena, "no 'arena A bytes (P%% of U bytes without "
                  "reuse)' line");
    ck_assert_int_eq(r.n_gemm_lines, r.n_gemms);
    ck_assert_int_eq(r.n_kernel_lines, r.n_kernels);
    ck_assert_int_le(r.n_gemms, 5);
    ck_assert_int_le(r.n_kernels, 6);
    ck_assert_int_le(r.arena, r.unshared);
    ck_assert_double_eq_tol(r.percent, 100.0 * (double)r.arena /
                            (double)r.unshared, 0.051);

    /* The listing describes the plan the library builds. */
    ck_assert_int_eq(rg_plan_build(g, NULL, &plan, &err), RG_STATUS_OK);
    ck_assert_int_eq(r.n_gemms, rg_plan_n_gemms(plan));
    ck_assert_int_eq(r.n_kernels, rg_plan_n_kernels(plan));
    ck_assert_int_eq(r.arena, rg_plan_arena_bytes(plan));
    ck_assert_int_eq(r.unshared, rg_plan_unshared_bytes(plan));
    rg_plan_free(plan);
    rg_graph_free(g);
}
END_TEST

START_TEST(plan_command_no_reuse)
{
    plan_listing r = run_plan_command("--no-reuse");

    ck_assert_int_eq(r.exit_status, 0);
    ck_assert(r.has_arena);
    ck_assert_int_eq(r.arena, r.unshared);
    ck_assert_double_eq_tol(r.percent, 100.0, 1e-9);
}
END_TEST

static Suite *dot_suite(void)
{
    Suite *s = suite_create("dot");
    TCase *golden = tcase_create("golden");
    TCase *render = tcase_create("render");
    TCase *labels = tcase_create("labels");
    TCase *cli = tcase_create("cli");

    tcase_add_loop_test(golden, cd1_matches_golden, 0, N_STAGES);
    tcase_add_loop_test(golden, builder_matches_golden, 0, N_STAGES);
    tcase_add_test(golden, dot_output_stable);
    tcase_add_test(render, every_stage_renders);
    tcase_add_test(labels, labels_show_shapes);
    tcase_add_test(labels, planned_labels_show_arena);
    tcase_add_test(labels, leaf_kinds_distinct);
    tcase_add_test(labels, fused_stage_clusters);
    tcase_add_test(cli, plan_command_counts);
    tcase_add_test(cli, plan_command_no_reuse);
    suite_add_tcase(s, golden);
    suite_add_tcase(s, render);
    suite_add_tcase(s, labels);
    suite_add_tcase(s, cli);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(dot_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
