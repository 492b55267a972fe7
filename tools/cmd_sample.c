/*
 * rbm-graph sample, filters and features: pictures and features from a
 * checkpoint. sample runs Gibbs chains by repeating the model's one-step
 * `sample` entry, filters draws the weight matrix's columns as tiles and
 * features saves the `features` entry's output for every example.
 */
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_checkpoint.h"

/* Random steps of sampling runs, far above any training step. */
#define SAMPLE_STEP_BASE (UINT64_C(3) << 61)
#define SAMPLE_STEP_RANGE (UINT64_C(1) << 32)

/* Shape of an example as a picture, for tiles. */
typedef struct picture_shape {
    int height;
    int width;
} picture_shape;

static int parse_shape_option(const char *command, const char *text,
                              picture_shape *shape)
{
    if (!cli_parse_shape(text, &shape->height, &shape->width)) {
        return cli_usage_error(command, "--shape needs HxW with sizes from "
                               "1 to 65535, for example 28x28; got '%s'",
                               text);
    }
    return 0;
}

/* Checks that `n_values` values per example form the picture shape. */
static int check_picture(const picture_shape *shape, int64_t n_values)
{
    if ((int64_t)shape->height * shape->width != n_values) {
        fprintf(stderr, "%s: error: examples have %lld values, which do not "
                "form a %dx%d picture; give their shape with --shape HxW\n",
                cli_program, (long long)n_values, shape->height,
                shape->width);
        return 1;
    }
    return 0;
}

/* Smallest n_columns with n_columns^2 >= n, for a square-ish grid. */
static int square_columns(int n)
{
    int columns = (int)ceil(sqrt((double)n));

    return columns > 0 ? columns : 1;
}

/* Writes the tiles as a PNG and reports the file on stderr. */
static int write_tiles(const char *path, const float *tiles, int n_tiles,
                       const picture_shape *shape, int n_columns,
                       rg_tile_scale scale)
{
    rg_tile_grid grid = {shape->height, shape->width, n_columns, 1, scale};
    rg_error err;

    if (rg_png_write_tiles(path, tiles, n_tiles, &grid, &err) !=
        RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    fprintf(stderr, "%s: wrote %d tiles of %dx%d to %s\n", cli_program,
            n_tiles, shape->height, shape->width, path);
    return 0;
}

/* --- sample --------------------------------------------------------------- */

static const char sample_help[] =
    "Usage: rbm-graph sample CKPT [options]\n"
    "\n"
    "Run N Gibbs chains of K steps with the 'sample' entry of the model in\n"
    "checkpoint CKPT (each step is one run of the entry) and save the\n"
    "chains' states as a PNG grid. Tiles show the mean of the visible\n"
    "units (the entry's output vsp), mapped back to the data's scale when\n"
    "the training data was standardised, with 0 black and 1 white.\n"
    "\n"
    "Options:\n"
    "  -n, --chains N        number of chains (default 100)\n"
    "      --steps K         Gibbs steps per chain (default 1000)\n"
    "      --from WHERE      first state: 'random' (each value 0 or 1 with\n"
    "                        probability 1/2) or 'data' (the first N\n"
    "                        examples of --data); default random\n"
    "  -d, --data FILE       data for --from data (default:\n"
    "                        " DEFAULT_TEST_DATA ")\n"
    "      --snapshots S     grid rows: the chains after every K/S steps,\n"
    "                        one row per snapshot (default 1: one square\n"
    "                        grid of the final states)\n"
    "      --shape HxW       picture shape of an example (default 28x28)\n"
    "      --seed N          select another stream of random draws\n"
    "                        (default 0)\n"
    "  -o, --output FILE     PNG file to write (default samples.png)\n"
    "  -s, --set NAME=VALUE  override a dim or hyperparameter; repeatable\n"
    "      --device NAME     device to run on: cpu (default cpu)\n"
    "  -h, --help            show this help and exit\n";

typedef struct sample_args {
    const char *checkpoint;
    const char *from;
    const char *data;
    const char *output;
    const char *device;
    long long chains;
    long long steps;
    long long snapshots;
    long long seed;
    picture_shape shape;
    cli_sets sets;
} sample_args;

static int parse_sample_args(int argc, char **argv, sample_args *a)
{
    enum { OPT_STEPS = 256, OPT_FROM, OPT_SNAPSHOTS, OPT_SHAPE, OPT_SEED,
           OPT_DEVICE };
    static const struct option options[] = {
        {"chains", required_argument, NULL, 'n'},
        {"steps", required_argument, NULL, OPT_STEPS},
        {"from", required_argument, NULL, OPT_FROM},
        {"data", required_argument, NULL, 'd'},
        {"snapshots", required_argument, NULL, OPT_SNAPSHOTS},
        {"shape", required_argument, NULL, OPT_SHAPE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"output", required_argument, NULL, 'o'},
        {"set", required_argument, NULL, 's'},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "sample ";
    int status = 0;
    int c;

    while (status == 0
           && (c = getopt_long(argc, argv, ":n:d:o:s:h", options, NULL)) !=
                  -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->output = optarg; break;
        case OPT_DEVICE: a->device = optarg; break;
        case OPT_FROM:
            a->from = optarg;
            if (strcmp(optarg, "random") != 0 && strcmp(optarg, "data") != 0) {
                status = cli_usage_error(cmd, "--from needs 'random' or "
                                         "'data', got '%s'", optarg);
            }
            break;
        case 'n':
            if (!cli_parse_int(optarg, 1, 100000, &a->chains)) {
                status = cli_usage_error(cmd, "--chains needs an integer "
                                         "from 1 to 100000, got '%s'",
                                         optarg);
            }
            break;
        case OPT_STEPS:
            if (!cli_parse_int(optarg, 1, 100000000, &a->steps)) {
                status = cli_usage_error(cmd, "--steps needs an integer "
                                         "from 1 to 100000000, got '%s'",
                                         optarg);
            }
            break;
        case OPT_SNAPSHOTS:
            if (!cli_parse_int(optarg, 1, 1000, &a->snapshots)) {
                status = cli_usage_error(cmd, "--snapshots needs an integer "
                                         "from 1 to 1000, got '%s'", optarg);
            }
            break;
        case OPT_SEED:
            if (!cli_parse_int(optarg, 0, 1000000, &a->seed)) {
                status = cli_usage_error(cmd, "--seed needs an integer from "
                                         "0 to 1000000, got '%s'", optarg);
            }
            break;
        case OPT_SHAPE:
            status = parse_shape_option(cmd, optarg, &a->shape);
            break;
        case 's':
            status = cli_add_set(&a->sets, cmd, optarg);
            break;
        case 'h':
            fputs(sample_help, stdout);
            return -1;
        default:
            return cli_option_error(cmd, argv, c);
        }
    }
    if (status != 0) {
        return status;
    }
    if (a->snapshots > a->steps) {
        return cli_usage_error(cmd, "--snapshots %lld exceeds --steps %lld; "
                               "each snapshot needs at least one step",
                               a->snapshots, a->steps);
    }
    if (optind != argc - 1) {
        return cli_usage_error(cmd, "sample needs exactly one checkpoint "
                               "file");
    }
    a->checkpoint = argv[optind];
    return 0;
}

/* splitmix64: the random first states, seeded by --seed. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9e3779b97f4a7c15));

    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/*
 * Fills `state` [n_chains, n_values] with the first chain states: random
 * bits or the first rows of the data, in the model's (standardised)
 * scale. Returns 0 or prints the error and returns 1.
 */
static int first_states(const sample_args *a, const cli_checkpoint *c,
                        int64_t n_chains, int64_t n_values, float *state)
{
    const rg_checkpoint_meta *meta = &c->meta;

    if (strcmp(a->from, "random") == 0) {
        uint64_t seed = (uint64_t)a->seed;

        for (int64_t i = 0; i < n_chains * n_values; i++) {
            int64_t col = i % n_values;
            float bit = (float)(next_random(&seed) >> 63);

            state[i] = meta->n_columns == n_values
                           ? (bit - meta->data_mean[col]) / meta->data_std[col]
                           : bit;
        }
        return 0;
    }

    rg_data_options options = cli_checkpoint_data_options(meta);
    rg_dataset *ds = cli_load_dataset(a->data, &options, meta);
    if (ds == NULL) {
        return 1;
    }
    int status = 0;
    if (rg_dataset_n_cols(ds) != n_values || rg_dataset_n_rows(ds) < n_chains) {
        fprintf(stderr, "%s: error: %s has %lld examples of %lld values; "
                "--from data needs %lld examples of %lld values\n",
                cli_program, a->data, (long long)rg_dataset_n_rows(ds),
                (long long)rg_dataset_n_cols(ds), (long long)n_chains,
                (long long)n_values);
        status = 1;
    } else {
        int64_t *rows = malloc((size_t)n_chains * sizeof(*rows));
        if (rows == NULL) {
            fprintf(stderr, "%s: error: out of memory\n", cli_program);
            status = 1;
        } else {
            for (int64_t r = 0; r < n_chains; r++) {
                rows[r] = r;
            }
            rg_dataset_gather(ds, rows, n_chains, state);
            free(rows);
        }
    }
    rg_dataset_free(ds);
    return status;
}

/* Maps standardised values back to the data's scale for display. */
static void undo_standardize(const rg_checkpoint_meta *meta, float *values,
                             int64_t n_rows, int64_t n_values)
{
    if (meta->n_columns != n_values) {
        return;
    }
    for (int64_t i = 0; i < n_rows * n_values; i++) {
        int64_t col = i % n_values;
        values[i] = values[i] * meta->data_std[col] + meta->data_mean[col];
    }
}

/* The sample entry bound to a model whose batch is the chain count. */
typedef struct sampler {
    rg_model *model;
    rg_eval *ev;
    rg_exec *exec;
    int64_t n_chains;
    int64_t n_values;
} sampler;

static int sampler_open(const sample_args *a, const cli_checkpoint *c,
                        sampler *s)
{
    const rg_plan *plan;
    rg_error err;
    int status = cli_checkpoint_model(c, &a->sets, a->chains, &s->model);

    if (status != 0) {
        return status;
    }
    if (rg_eval_new(s->model, c->rt, NULL, &s->ev, &err) != RG_STATUS_OK ||
        rg_eval_exec(s->ev, "sample", &s->exec, &plan, &err) !=
            RG_STATUS_OK) {
        cli_print_error(&err);
        return 1;
    }
    for (int i = 0; i < rg_plan_n_inputs(plan); i++) {
        rg_shape shape = rg_plan_input_shape(plan, i);
        if (strcmp(rg_plan_input_name(plan, i), "vs") == 0
            && shape.rank == 2) {
            s->n_chains = shape.dims[0];
            s->n_values = shape.dims[1];
        }
    }
    if (s->n_values == 0 || s->n_chains != a->chains) {
        fprintf(stderr, "%s: error: the sample entry of model '%s' needs an "
                "input vs of shape [batch, n]; see docs/model-format.md\n",
                cli_program, rg_model_name(s->model));
        return 1;
    }
    return 0;
}

static void sampler_close(sampler *s)
{
    rg_eval_free(s->ev);
    rg_model_free(s->model);
}

/* Runs one Gibbs step: vs in, vs and (when `mean` is set) vsp out. */
static int gibbs_step(sampler *s, uint64_t step, float *state, float *mean)
{
    int64_t n = s->n_chains * s->n_values;
    rg_error err;

    if (rg_exec_set_input(s->exec, "vs", state, n, &err) != RG_STATUS_OK ||
        rg_exec_run(s->exec, step, &err) != RG_STATUS_OK ||
        rg_exec_get_output(s->exec, "vs", state, n, &err) != RG_STATUS_OK ||
        (mean != NULL &&
         rg_exec_get_output(s->exec, "vsp", mean, n, &err) != RG_STATUS_OK)) {
        cli_print_error(&err);
        return 1;
    }
    return 0;
}

/* Runs the chains and stores each snapshot's means in `tiles`
 * [snapshots, chains, n_values]. */
static int run_chains(const sample_args *a, sampler *s, float *state,
                      float *tiles)
{
    uint64_t base = SAMPLE_STEP_BASE + (uint64_t)a->seed * SAMPLE_STEP_RANGE;
    int64_t n = s->n_chains * s->n_values;
    int64_t snapshot = 0;

    for (int64_t k = 1; k <= a->steps; k++) {
        /* Snapshot i is taken after step ceil((i + 1) * K / S). */
        bool take = k * a->snapshots >= (snapshot + 1) * a->steps;
        float *mean = take ? tiles + snapshot * n : NULL;

        if (gibbs_step(s, base + (uint64_t)k, state, mean) != 0) {
            return 1;
        }
        snapshot += take ? 1 : 0;
    }
    return 0;
}

int cmd_sample(int argc, char **argv)
{
    sample_args a = {0};
    cli_checkpoint c = {0};
    sampler s = {0};
    float *state = NULL;
    float *tiles = NULL;
    int status;

    a.from = "random";
    a.data = DEFAULT_TEST_DATA;
    a.output = "samples.png";
    a.device = "cpu";
    a.chains = 100;
    a.steps = 1000;
    a.snapshots = 1;
    a.shape = (picture_shape){28, 28};
    status = parse_sample_args(argc, argv, &a);
    if (status != 0) {
        return status < 0 ? 0 : status;
    }
    status = cli_checkpoint_open(a.checkpoint, a.device, &a.sets, &c);
    if (status == 0) {
        status = sampler_open(&a, &c, &s);
    }
    if (status == 0) {
        status = check_picture(&a.shape, s.n_values);
    }
    if (status == 0) {
        int64_t n = s.n_chains * s.n_values;
        state = malloc((size_t)n * sizeof(float));
        tiles = malloc((size_t)(n * a.snapshots) * sizeof(float));
        if (state == NULL || tiles == NULL) {
            fprintf(stderr, "%s: error: out of memory\n", cli_program);
            status = 1;
        }
    }
    if (status == 0) {
        status = first_states(&a, &c, s.n_chains, s.n_values, state);
    }
    if (status == 0) {
        status = run_chains(&a, &s, state, tiles);
    }
    if (status == 0) {
        int n_tiles = (int)(s.n_chains * a.snapshots);
        int columns = a.snapshots > 1 ? (int)s.n_chains
                                      : square_columns(n_tiles);

        undo_standardize(&c.meta, tiles, n_tiles, s.n_values);
        status = write_tiles(a.output, tiles, n_tiles, &a.shape, columns,
                             RG_TILE_SCALE_CLIP);
    }
    free(state);
    free(tiles);
    sampler_close(&s);
    cli_checkpoint_close(&c);
    return status;
}

/* --- filters -------------------------------------------------------------- */

static const char filters_help[] =
    "Usage: rbm-graph filters CKPT [options]\n"
    "\n"
    "Draw each hidden unit's incoming weights, a column of the weight\n"
    "matrix [visible, hidden] in checkpoint CKPT, as one tile of a PNG\n"
    "grid. Each tile is scaled on its own from its smallest weight (black)\n"
    "to its largest (white).\n"
    "\n"
    "Options:\n"
    "  -n, --count N     draw the first N hidden units (default all)\n"
    "      --param NAME  the weight matrix to draw (default W)\n"
    "      --shape HxW   picture shape of a column (default 28x28)\n"
    "  -o, --output FILE PNG file to write (default filters.png)\n"
    "  -h, --help        show this help and exit\n";

typedef struct filters_args {
    const char *checkpoint;
    const char *param;
    const char *output;
    long long count;
    picture_shape shape;
} filters_args;

static int parse_filters_args(int argc, char **argv, filters_args *a)
{
    enum { OPT_PARAM = 256, OPT_SHAPE };
    static const struct option options[] = {
        {"count", required_argument, NULL, 'n'},
        {"param", required_argument, NULL, OPT_PARAM},
        {"shape", required_argument, NULL, OPT_SHAPE},
        {"output", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "filters ";
    int status = 0;
    int c;

    while (status == 0
           && (c = getopt_long(argc, argv, ":n:o:h", options, NULL)) != -1) {
        switch (c) {
        case 'o': a->output = optarg; break;
        case OPT_PARAM: a->param = optarg; break;
        case OPT_SHAPE:
            status = parse_shape_option(cmd, optarg, &a->shape);
            break;
        case 'n':
            if (!cli_parse_int(optarg, 1, INT_MAX, &a->count)) {
                status = cli_usage_error(cmd, "--count needs a positive "
                                         "integer, got '%s'", optarg);
            }
            break;
        case 'h':
            fputs(filters_help, stdout);
            return -1;
        default:
            return cli_option_error(cmd, argv, c);
        }
    }
    if (status != 0) {
        return status;
    }
    if (optind != argc - 1) {
        return cli_usage_error(cmd, "filters needs exactly one checkpoint "
                               "file");
    }
    a->checkpoint = argv[optind];
    return 0;
}

/* Reads the weight matrix and transposes its first `n` columns into
 * tiles [n, visible]. */
static int read_filters(const filters_args *a, rg_runtime *rt, float **tiles,
                        int *n_tiles, int64_t *n_visible)
{
    char buf[64];
    int index = rg_runtime_find_tensor(rt, a->param);
    rg_error err;

    if (index < 0) {
        fprintf(stderr, "%s: error: %s contains no tensor '%s'; name the "
                "weight matrix with --param\n", cli_program, a->checkpoint,
                a->param);
        return 1;
    }
    rg_shape shape = rg_runtime_tensor_shape(rt, index);
    if (shape.rank != 2) {
        fprintf(stderr, "%s: error: tensor '%s' has shape %s; filters need "
                "a matrix [visible, hidden]\n", cli_program, a->param,
                rg_shape_str(shape, buf, sizeof(buf)));
        return 1;
    }
    int64_t rows = shape.dims[0], cols = shape.dims[1];
    int n = a->count > 0 && a->count < cols ? (int)a->count : (int)cols;
    float *w = malloc((size_t)(rows * cols) * sizeof(float));
    float *t = malloc((size_t)(rows * n) * sizeof(float));
    if (w == NULL || t == NULL ||
        rg_runtime_read(rt, a->param, w, rows * cols, &err) != RG_STATUS_OK) {
        if (w == NULL || t == NULL) {
            fprintf(stderr, "%s: error: out of memory\n", cli_program);
        } else {
            cli_print_error(&err);
        }
        free(w);
        free(t);
        return 1;
    }
    for (int j = 0; j < n; j++) {
        for (int64_t i = 0; i < rows; i++) {
            t[j * rows + i] = w[i * cols + j];
        }
    }
    free(w);
    *tiles = t;
    *n_tiles = n;
    *n_visible = rows;
    return 0;
}

int cmd_filters(int argc, char **argv)
{
    filters_args a = {0};
    rg_runtime *rt = NULL;
    float *tiles = NULL;
    int n_tiles = 0;
    int64_t n_visible = 0;
    rg_error err;
    int status;

    a.param = "W";
    a.output = "filters.png";
    a.shape = (picture_shape){28, 28};
    status = parse_filters_args(argc, argv, &a);
    if (status != 0) {
        return status < 0 ? 0 : status;
    }
    if (rg_runtime_new("cpu", 0, &rt, &err) != RG_STATUS_OK ||
        rg_checkpoint_load(rt, a.checkpoint, NULL, &err) != RG_STATUS_OK) {
        cli_print_error(&err);
        status = 1;
    }
    if (status == 0) {
        status = read_filters(&a, rt, &tiles, &n_tiles, &n_visible);
    }
    if (status == 0) {
        status = check_picture(&a.shape, n_visible);
    }
    if (status == 0) {
        status = write_tiles(a.output, tiles, n_tiles, &a.shape,
                             square_columns(n_tiles),
                             RG_TILE_SCALE_PER_TILE);
    }
    free(tiles);
    rg_runtime_free(rt);
    return status;
}

/* --- features ------------------------------------------------------------- */

static const char features_help[] =
    "Usage: rbm-graph features CKPT --data FILE --output FILE.npy [options]\n"
    "\n"
    "Run the 'features' entry of the model in checkpoint CKPT on every\n"
    "example of FILE and save its output h, the hidden probabilities, as a\n"
    "float32 NumPy array [examples, hidden]. Data is read as the training\n"
    "data was (binarized or standardised if it was). The last minibatch is\n"
    "padded and the padding dropped, so every example gets exactly one row.\n"
    "\n"
    "Options:\n"
    "  -d, --data FILE       data: IDX (gzip or plain), .npy or CSV\n"
    "  -o, --output FILE     .npy file to write, atomically\n"
    "      --entry NAME      entry to run (default features)\n"
    "      --name OUTPUT     output of the entry to save (default h)\n"
    "  -s, --set NAME=VALUE  override a dim or hyperparameter; repeatable\n"
    "      --device NAME     device to run on: cpu (default cpu)\n"
    "  -h, --help            show this help and exit\n";

typedef struct features_args {
    const char *checkpoint;
    const char *data;
    const char *output;
    const char *entry;
    const char *name;
    const char *device;
    cli_sets sets;
} features_args;

static int parse_features_args(int argc, char **argv, features_args *a)
{
    enum { OPT_ENTRY = 256, OPT_NAME, OPT_DEVICE };
    static const struct option options[] = {
        {"data", required_argument, NULL, 'd'},
        {"output", required_argument, NULL, 'o'},
        {"entry", required_argument, NULL, OPT_ENTRY},
        {"name", required_argument, NULL, OPT_NAME},
        {"set", required_argument, NULL, 's'},
        {"device", required_argument, NULL, OPT_DEVICE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *cmd = "features ";
    int c;

    while ((c = getopt_long(argc, argv, ":d:o:s:h", options, NULL)) != -1) {
        switch (c) {
        case 'd': a->data = optarg; break;
        case 'o': a->output = optarg; break;
        case OPT_ENTRY: a->entry = optarg; break;
        case OPT_NAME: a->name = optarg; break;
        case OPT_DEVICE: a->device = optarg; break;
        case 's':
            if (cli_add_set(&a->sets, cmd, optarg) != 0) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            fputs(features_help, stdout);
            return -1;
        default:
            return cli_option_error(cmd, argv, c);
        }
    }
    if (optind != argc - 1) {
        return cli_usage_error(cmd, "features needs exactly one checkpoint "
                               "file");
    }
    if (a->data == NULL || a->output == NULL) {
        return cli_usage_error(cmd, "features needs --data FILE and "
                               "--output FILE.npy");
    }
    a->checkpoint = argv[optind];
    return 0;
}

int cmd_features(int argc, char **argv)
{
    features_args a = {0};
    cli_checkpoint c = {0};
    rg_dataset *ds = NULL;
    rg_eval *ev = NULL;
    float *h = NULL;
    int64_t n_cols = 0;
    rg_error err;
    int status;

    a.entry = "features";
    a.name = "h";
    a.device = "cpu";
    status = parse_features_args(argc, argv, &a);
    if (status != 0) {
        return status < 0 ? 0 : status;
    }
    status = cli_checkpoint_open(a.checkpoint, a.device, &a.sets, &c);
    if (status == 0) {
        rg_data_options options = cli_checkpoint_data_options(&c.meta);
        ds = cli_load_dataset(a.data, &options, &c.meta);
        status = ds == NULL ? 1 : 0;
    }
    if (status == 0
        && (rg_eval_new(c.model, c.rt, NULL, &ev, &err) != RG_STATUS_OK
            || rg_eval_map_rows(ev, a.entry, a.name, ds, SAMPLE_STEP_BASE,
                                &h, &n_cols, &err) != RG_STATUS_OK)) {
        cli_print_error(&err);
        status = 1;
    }
    if (status == 0) {
        int64_t shape[2] = {rg_dataset_n_rows(ds), n_cols};

        if (rg_npy_save(a.output, 2, shape, h, &err) != RG_STATUS_OK) {
            cli_print_error(&err);
            status = 1;
        } else {
            fprintf(stderr, "%s: wrote %lld x %lld features to %s\n",
                    cli_program, (long long)shape[0], (long long)shape[1],
                    a.output);
        }
    }
    free(h);
    rg_eval_free(ev);
    rg_dataset_free(ds);
    cli_checkpoint_close(&c);
    return status;
}
