/*
 * Fuzz target for the data loaders: IDX, NumPy .npy and CSV, each plain
 * or gzip-compressed, all behind rg_dataset_load, which picks the format
 * from the contents. The input becomes an in-memory file. The first and
 * last rows of a data set that loads are gathered, so a wrong row or
 * column count shows up as an out-of-bounds read under AddressSanitizer.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "rbmgraph/data.h"

/* Rows are gathered only when two of them have at most this many values. */
enum { FUZZ_MAX_GATHER_VALUES = 1 << 20 };

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    return 0;
}

static void gather_rows(const rg_dataset *ds)
{
    int64_t n_rows = rg_dataset_n_rows(ds);
    int64_t n_cols = rg_dataset_n_cols(ds);
    int64_t rows[2] = {0, n_rows - 1};
    float *values;

    if (n_rows < 1 || n_cols < 1) {
        fprintf(stderr, "fuzz: loaded a %lld x %lld data set\n",
                (long long)n_rows, (long long)n_cols);
        abort();
    }
    if (n_cols > FUZZ_MAX_GATHER_VALUES / 2) {
        return;
    }
    values = malloc(2 * (size_t)n_cols * sizeof(float));
    if (values == NULL) {
        abort();
    }
    rg_dataset_gather(ds, rows, 2, values);
    free(values);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[64];
    rg_data_options options = rg_data_options_default();
    rg_dataset *ds = NULL;
    rg_error err;
    int fd = fuzz_file_open(data, size, path, sizeof(path));
    rg_status st;

    /* The last byte picks a row limit, so max_rows paths get coverage. */
    options.max_rows = size > 0 ? data[size - 1] % 4 : 0;
    st = rg_dataset_load(path, &options, &ds, &err);
    if (st != RG_STATUS_OK) {
        fuzz_check_error(st, &err);
    } else {
        gather_rows(ds);
        rg_dataset_free(ds);
    }
    fuzz_file_close(fd);
    return 0;
}
