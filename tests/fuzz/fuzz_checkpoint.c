/*
 * Fuzz target for checkpoints: the .npz reader, the .npy header parser
 * and rg_checkpoint_load. Each input is loaded as an in-memory file into
 * a fresh runtime that already contains one tensor, 'W' of shape [3, 4], so
 * the shape check against existing tensors runs too. After a load that
 * succeeds every tensor is read back in full.
 */
#include <stdio.h>
#include <stdlib.h>

#include "fuzz_util.h"
#include "rbmgraph/rbmgraph.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_log();
    /* One thread: a runtime per input must not start a worker pool. */
    setenv("RG_THREADS", "1", 1);
    return 0;
}

static void read_back(rg_runtime *rt)
{
    for (int i = 0; i < rg_runtime_n_tensors(rt); i++) {
        int64_t n = rg_shape_numel(rg_runtime_tensor_shape(rt, i));
        float *values = malloc((size_t)(n > 0 ? n : 1) * sizeof(float));
        rg_error err;

        if (values == NULL
            || rg_runtime_read(rt, rg_runtime_tensor_name(rt, i), values, n,
                               &err) != RG_STATUS_OK) {
            abort();
        }
        free(values);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const rg_shape w_shape = {2, {3, 4}};
    static const rg_init zeros = {RG_INIT_ZEROS, 0.0, 0.0};
    char path[64];
    rg_runtime *rt = NULL;
    rg_checkpoint_meta meta = {0};
    rg_error err;
    int fd;
    rg_status st;

    if (rg_runtime_new("cpu", 1, &rt, &err) != RG_STATUS_OK
        || rg_runtime_add_tensor(rt, "W", w_shape, zeros, &err)
               != RG_STATUS_OK) {
        abort();
    }
    fd = fuzz_file_open(data, size, path, sizeof(path));
    st = rg_checkpoint_load(rt, path, &meta, &err);
    if (st != RG_STATUS_OK) {
        fuzz_check_error(st, &err);
    } else {
        read_back(rt);
        rg_checkpoint_meta_clear(&meta);
    }
    fuzz_file_close(fd);
    rg_runtime_free(rt);
    return 0;
}
