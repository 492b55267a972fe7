/*
 * Crash safety of checkpoints. A child process saves checkpoints in a
 * loop, alternating two recognisable contents, and the parent kills it
 * with SIGKILL after a varying delay, many times over. After every kill
 * the checkpoint on disk must load and contain exactly one of the two
 * contents in every value. The temporary files that killed saves leave
 * behind must not stop the next save.
 */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rbmgraph/rbmgraph.h"

enum { N_KILLS = 60, N_TENSORS = 4 };

/* Temporary folder for the checkpoint, removed by main. */
static char g_dir[256];

/* The tensors of the checkpoint: a few shapes of different ranks. */
static const struct {
    const char *name;
    rg_shape shape;
} tensors[N_TENSORS] = {
    {"W", {2, {300, 200}}},
    {"bv", {1, {300, 0}}},
    {"bh", {1, {200, 0}}},
    {"chain", {2, {20, 300}}},
};

/* Progress the child reports through shared memory. */
typedef struct child_progress {
    atomic_int ready;       /* set once the runtime exists */
    atomic_long n_saves;    /* checkpoints completed */
    atomic_int failed;      /* set when a save returned an error */
} child_progress;

/*
 * Value `i` of tensor `t` in content `version`: content 0 counts up from
 * t * 100000, content 1 is its negation minus 0.5. Every value is exact
 * in float32.
 */
static float content_value(int version, int t, int64_t i)
{
    float base = (float)(t * 100000 + i);

    return version == 0 ? base : -base - 0.5f;
}

static rg_runtime *new_runtime(void)
{
    static const rg_init zeros = {RG_INIT_ZEROS, 0.0, 0.0};
    rg_runtime *rt = NULL;
    rg_error err;

    if (rg_runtime_new("cpu", 1, &rt, &err) != RG_STATUS_OK) {
        return NULL;
    }
    for (int t = 0; t < N_TENSORS; t++) {
        if (rg_runtime_add_tensor(rt, tensors[t].name, tensors[t].shape,
                                  zeros, &err) != RG_STATUS_OK) {
            rg_runtime_free(rt);
            return NULL;
        }
    }
    return rt;
}

/* Writes content `version` into every tensor of `rt`. */
static rg_status fill_content(rg_runtime *rt, int version, rg_error *err)
{
    for (int t = 0; t < N_TENSORS; t++) {
        int64_t n = rg_shape_numel(tensors[t].shape);
        float *values = malloc((size_t)n * sizeof(float));
        rg_status st;

        if (values == NULL) {
            return RG_STATUS_NO_MEMORY;
        }
        for (int64_t i = 0; i < n; i++) {
            values[i] = content_value(version, t, i);
        }
        st = rg_runtime_write(rt, tensors[t].name, values, n, err);
        free(values);
        if (st != RG_STATUS_OK) {
            return st;
        }
    }
    return RG_STATUS_OK;
}

/*
 * Saves content `step % 2` with `step` in the metadata, so that a loaded
 * file records which content it must contain.
 */
static rg_status save_version(rg_runtime *rt, const char *path,
                              uint64_t step, rg_error *err)
{
    rg_checkpoint_meta meta = {0};
    rg_status st = fill_content(rt, (int)(step % 2), err);

    meta.seed = 1;
    meta.step = step;
    meta.epoch = step % 2;
    if (st == RG_STATUS_OK) {
        st = rg_checkpoint_save(rt, path, &meta, err);
    }
    return st;
}

/* The child: saves forever, starting from `first_step`, until killed. */
static _Noreturn void run_child(const char *path, uint64_t first_step,
                                child_progress *progress)
{
    rg_runtime *rt = new_runtime();
    rg_error err;

    if (rt == NULL) {
        atomic_store(&progress->failed, 1);
        _exit(1);
    }
    atomic_store(&progress->ready, 1);
    for (uint64_t step = first_step;; step++) {
        if (save_version(rt, path, step, &err) != RG_STATUS_OK) {
            atomic_store(&progress->failed, 1);
            fprintf(stderr, "child: save failed: %s\n", err.message);
            _exit(1);
        }
        atomic_fetch_add(&progress->n_saves, 1);
    }
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static double seconds_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/*
 * Loads `path` into a fresh runtime and checks that every value of every
 * tensor belongs to the content its step names. Returns the step.
 */
static uint64_t check_checkpoint(const char *path, int kill_index)
{
    rg_runtime *rt = NULL;
    rg_checkpoint_meta meta = {0};
    rg_error err;
    rg_status st;
    uint64_t step;
    int version;

    ck_assert_int_eq(rg_runtime_new("cpu", 1, &rt, &err), RG_STATUS_OK);
    st = rg_checkpoint_load(rt, path, &meta, &err);
    ck_assert_msg(st == RG_STATUS_OK, "kill %d: the checkpoint does not load: "
                  "%s", kill_index, err.message);
    ck_assert_int_eq(rg_runtime_n_tensors(rt), N_TENSORS);
    version = (int)(meta.step % 2);
    ck_assert_msg(meta.epoch == meta.step % 2, "kill %d: step %llu but "
                  "epoch %llu", kill_index, (unsigned long long)meta.step,
                  (unsigned long long)meta.epoch);

    for (int t = 0; t < N_TENSORS; t++) {
        int64_t n = rg_shape_numel(tensors[t].shape);
        float *values = malloc((size_t)n * sizeof(float));

        ck_assert_ptr_nonnull(values);
        ck_assert_int_eq(rg_runtime_read(rt, tensors[t].name, values, n,
                                         &err), RG_STATUS_OK);
        for (int64_t i = 0; i < n; i++) {
            float want = content_value(version, t, i);
            ck_assert_msg(values[i] == want,
                          "kill %d: %s[%lld] is %g, expected %g (content %d "
                          "of step %llu)", kill_index, tensors[t].name,
                          (long long)i, (double)values[i], (double)want,
                          version, (unsigned long long)meta.step);
        }
        free(values);
    }
    step = meta.step;
    rg_checkpoint_meta_clear(&meta);
    rg_runtime_free(rt);
    return step;
}

/* Counts the files in g_dir other than the checkpoint itself. */
static int count_other_files(const char *checkpoint_name)
{
    DIR *dir = opendir(g_dir);
    struct dirent *e;
    int n = 0;

    ck_assert_ptr_nonnull(dir);
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0
            && strcmp(e->d_name, checkpoint_name) != 0) {
            n++;
        }
    }
    closedir(dir);
    return n;
}

/* Mean seconds of one save, measured in this process. */
static double time_one_save(const char *path)
{
    rg_runtime *rt = new_runtime();
    rg_error err;
    double start;
    enum { N = 5 };

    ck_assert_ptr_nonnull(rt);
    start = seconds_now();
    for (uint64_t step = 0; step < N; step++) {
        ck_assert_int_eq(save_version(rt, path, step, &err), RG_STATUS_OK);
    }
    rg_runtime_free(rt);
    return (seconds_now() - start) / N;
}

START_TEST(killed_saves_leave_whole_checkpoint)
{
    char path[512];
    child_progress *progress;
    uint64_t step = 0;
    long total_saves = 0;
    int n_mid_save = 0;
    double save_seconds;
    long max_delay_us;

    snprintf(path, sizeof(path), "%s/ckpt.npz", g_dir);
    save_seconds = time_one_save(path);
    step = check_checkpoint(path, -1) + 1;

    /* Delays spread over three saves, so kills land in every phase. */
    max_delay_us = (long)(3e6 * save_seconds) + 200;
    progress = mmap(NULL, sizeof(*progress), PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    ck_assert_ptr_ne(progress, MAP_FAILED);

    for (int k = 0; k < N_KILLS; k++) {
        long delay_us = (long)((uint64_t)k * 7919u % (uint64_t)max_delay_us);
        long saves_before;
        int status;
        pid_t pid;

        atomic_store(&progress->ready, 0);
        atomic_store(&progress->n_saves, 0);
        atomic_store(&progress->failed, 0);
        pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
            run_child(path, step, progress);
        }
        while (atomic_load(&progress->ready) == 0
               && atomic_load(&progress->failed) == 0) {
            sleep_us(50);
        }
        saves_before = atomic_load(&progress->n_saves);
        sleep_us(delay_us);
        ck_assert_int_eq(kill(pid, SIGKILL), 0);
        ck_assert_int_eq(waitpid(pid, &status, 0), pid);
        ck_assert_msg(atomic_load(&progress->failed) == 0,
                      "kill %d: the child failed before it was killed", k);
        ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
                      "kill %d: the child ended without SIGKILL", k);
        total_saves += atomic_load(&progress->n_saves);
        n_mid_save += atomic_load(&progress->n_saves) == saves_before;

        /* The file is one of the contents, whole, and the next child
         * starts from the step after it. */
        step = check_checkpoint(path, k) + 1;
    }
    munmap(progress, sizeof(*progress));

    /* The kills must have hit while saves were running. Under load a
     * child may be killed before its first save, so expect only some. */
    ck_assert_msg(total_saves > N_KILLS / 6,
                  "the children completed only %ld saves in %d runs",
                  total_saves, N_KILLS);
    ck_assert_msg(n_mid_save > 0, "no kill landed before a save finished");
    fprintf(stderr, "crash: %d kills, %ld saves completed, %d kills before "
            "a child's first save finished, %d files left beside the "
            "checkpoint, %.2f ms per save\n", N_KILLS, total_saves,
            n_mid_save, count_other_files("ckpt.npz"), 1e3 * save_seconds);

    /* Temporary files left by killed saves do not stop the next one. */
    {
        rg_runtime *rt = new_runtime();
        rg_error err;

        ck_assert_ptr_nonnull(rt);
        ck_assert_int_eq(save_version(rt, path, step, &err), RG_STATUS_OK);
        rg_runtime_free(rt);
        ck_assert_int_eq(check_checkpoint(path, N_KILLS), step);
        /* ... and that save removes them. */
        ck_assert_int_eq(count_other_files("ckpt.npz"), 0);
    }
}
END_TEST

static void remove_tmp_dir(void)
{
    DIR *dir = opendir(g_dir);
    struct dirent *e;
    char path[512];

    if (dir == NULL) {
        return;
    }
    while ((e = readdir(dir)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof(path), "%s/%s", g_dir, e->d_name);
            unlink(path);
        }
    }
    closedir(dir);
    rmdir(g_dir);
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    Suite *s = suite_create("crash");
    TCase *tc = tcase_create("checkpoints");
    SRunner *sr;
    int n_failed;

    /* One thread per runtime, so no runtime starts a worker pool. */
    setenv("RG_THREADS", "1", 1);
    snprintf(g_dir, sizeof(g_dir), "%s/rg-test-crash-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    if (mkdtemp(g_dir) == NULL) {
        perror("mkdtemp");
        return EXIT_FAILURE;
    }
    tcase_add_test(tc, killed_saves_leave_whole_checkpoint);
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    n_failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tmp_dir();
    return n_failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
