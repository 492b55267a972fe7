/*
 * Checkpoint helpers shared by the commands that start from a trained
 * model (eval, sample, filters, features and train --resume): the model
 * is rebuilt from the text, dims and hyperparameters stored in the
 * checkpoint, and data is read the way the training data was.
 */
#ifndef RG_CLI_CHECKPOINT_H
#define RG_CLI_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>

#include "cli.h"

#define DEFAULT_TEST_DATA \
    "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

/* Floor on a column's standard deviation under --standardize. */
#define DEFAULT_MIN_STD 0.1

/* A checkpoint opened for use: its metadata, the model rebuilt from it
 * and a runtime holding its tensors. */
typedef struct cli_checkpoint {
    const char *path;
    rg_checkpoint_meta meta;
    rg_model *model;
    rg_runtime *rt;
} cli_checkpoint;

/*
 * Opens the checkpoint at `path`: reads its metadata, rebuilds the model
 * from the stored text, dims and hyperparameters, applies `sets` on top,
 * opens a runtime on `device` with the stored seed and loads the tensors.
 * Returns 0, or prints the error and returns the exit status (EXIT_USAGE
 * for a rejected --set, 1 otherwise).
 */
int cli_checkpoint_open(const char *path, const char *device,
                        const cli_sets *sets, cli_checkpoint *out);

/*
 * Builds another copy of the checkpoint's model with `sets` applied and,
 * when `batch` > 0, the dim "batch" set to it, as sampling and AIS do to
 * run that many chains. Stores the model in *out and returns 0, or prints
 * the error and returns the exit status.
 */
int cli_checkpoint_model(const cli_checkpoint *c, const cli_sets *sets,
                         long long batch, rg_model **out);

/* Releases what cli_checkpoint_open made. A zeroed struct is fine. */
void cli_checkpoint_close(cli_checkpoint *c);

/*
 * Returns the model's dims (hypers false) or hyperparameters (hypers
 * true) as "name=value" lines, in a heap string the caller frees, or NULL
 * when out of memory. Values are printed so that they parse back exactly.
 */
char *cli_format_settings(const rg_model *m, bool hypers);

/*
 * Copies the value of `key` from "key=value" lines into `buf`. Returns
 * false when `lines` is NULL, the key is absent or the value does not fit.
 */
bool cli_settings_get(const char *lines, const char *key, char *buf,
                      size_t size);

/*
 * Loads the data set at `path` with `options` and, when `meta` contains
 * a standardisation, applies it. Prints the error and returns NULL on
 * failure.
 */
rg_dataset *cli_load_dataset(const char *path, const rg_data_options *options,
                             const rg_checkpoint_meta *meta);

/*
 * Returns the data options the checkpoint's training data was read with
 * (binarize; max_rows is left 0, because evaluation reads whole files).
 */
rg_data_options cli_checkpoint_data_options(const rg_checkpoint_meta *meta);

/* Parses "HxW" (for example "28x28") into two sizes from 1 to 65535. */
bool cli_parse_shape(const char *text, int *height, int *width);

/* Commands. Each takes argv with argv[0] the command name. */
int cmd_eval(int argc, char **argv);
int cmd_sample(int argc, char **argv);
int cmd_filters(int argc, char **argv);
int cmd_features(int argc, char **argv);

#endif
