/*
 * Atomic file replacement: a temporary file beside the target, fsync,
 * rename, then fsync of the folder so that the rename itself survives a
 * crash.
 *
 * Invariant: atomic_file_write leaves at `path` either the previous file
 * or the complete new one, and no temporary file on any error path. A
 * process killed while writing leaves its temporary file behind; the next
 * successful write of the same path removes such leftovers, which assumes
 * one writer per path at a time.
 */
#include "exec/atomic_file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "graph/error_internal.h"

/*
 * Splits `path` into its folder ("." when it has none) and builds the
 * template "<folder>/.<file name>.tmp-XXXXXX" for mkstemp.
 */
static rg_status make_temp_names(const char *path, char **dir, char **tmpl,
                                 rg_error *err)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    size_t dir_len = slash != NULL ? (size_t)(slash - path) : 1;
    size_t tmpl_len = strlen(path) + sizeof("/..tmp-XXXXXX") + 1;

    *dir = NULL;
    *tmpl = NULL;
    if (*base == '\0') {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: checkpoint path names a folder, not a file",
                            path);
    }
    *dir = malloc(dir_len + 1);
    *tmpl = malloc(tmpl_len);
    if (*dir == NULL || *tmpl == NULL) {
        free(*dir);
        free(*tmpl);
        *dir = NULL;
        *tmpl = NULL;
        return rg_error_set(err, RG_STATUS_NO_MEMORY, "%s: out of memory",
                            path);
    }
    if (slash == NULL) {
        strcpy(*dir, ".");
    } else if (slash == path) {
        strcpy(*dir, "/");
    } else {
        memcpy(*dir, path, dir_len);
        (*dir)[dir_len] = '\0';
    }
    snprintf(*tmpl, tmpl_len, "%.*s.%s.tmp-XXXXXX",
             (int)(base - path), path, base);
    return RG_STATUS_OK;
}

/* Flushes the file to disk and closes it. `*fp` is NULL afterwards. */
static rg_status flush_and_close(FILE **fp, const char *tmp, rg_error *err)
{
    int failed = fflush(*fp) != 0 || fsync(fileno(*fp)) != 0;
    int saved = errno;

    failed |= fclose(*fp) != 0;
    *fp = NULL;
    if (failed) {
        return rg_error_set(err, RG_STATUS_IO, "%s: cannot write: %s", tmp,
                            strerror(saved != 0 ? saved : errno));
    }
    return RG_STATUS_OK;
}

/* Makes the rename durable. Folders that do not support fsync are fine. */
static rg_status sync_dir(const char *dir, rg_error *err)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    int rc;

    if (fd < 0) {
        return rg_error_set(err, RG_STATUS_IO, "%s: cannot open folder: %s",
                            dir, strerror(errno));
    }
    rc = fsync(fd);
    if (rc != 0 && errno != EINVAL) {
        rg_error_set(err, RG_STATUS_IO, "%s: cannot sync folder: %s", dir,
                     strerror(errno));
        close(fd);
        return RG_STATUS_IO;
    }
    close(fd);
    return RG_STATUS_OK;
}

/* Creates the temporary file next to `path`. */
static rg_status open_temp(const char *path, char *tmpl, FILE **out,
                           rg_error *err)
{
    int fd = mkstemp(tmpl);

    *out = NULL;
    if (fd < 0) {
        return rg_error_set(err,
                            errno == ENOENT ? RG_STATUS_NOT_FOUND
                                            : RG_STATUS_IO,
                            "%s: cannot create a temporary file beside it: "
                            "%s",
                            path, strerror(errno));
    }
    /* NOTE: mkstemp creates mode 0600, so checkpoints are set to 0644
     * whatever the umask, which cannot be read without changing it. */
    *out = fdopen(fd, "wb");
    if (*out == NULL || fchmod(fd, 0644) != 0) {
        int saved = errno;
        if (*out != NULL) {
            fclose(*out);
            *out = NULL;
        } else {
            close(fd);
        }
        unlink(tmpl);
        return rg_error_set(err, RG_STATUS_IO, "%s: cannot open: %s", tmpl,
                            strerror(saved));
    }
    return RG_STATUS_OK;
}

/*
 * Removes temporary files of earlier writes of `path` that were killed
 * before their rename: names ".<base>.tmp-" plus six characters in `dir`.
 * Failures are ignored, because the leftovers only waste space.
 */
static void remove_leftovers(const char *dir, const char *path)
{
    const char *slash = strrchr(path, '/');
    const char *base = slash != NULL ? slash + 1 : path;
    size_t base_len = strlen(base);
    DIR *d = opendir(dir);
    struct dirent *entry;

    if (d == NULL) {
        return;
    }
    while ((entry = readdir(d)) != NULL) {
        const char *name = entry->d_name;
        size_t len = strlen(name);

        if (len != base_len + 12 || name[0] != '.' ||
            strncmp(name + 1, base, base_len) != 0 ||
            strncmp(name + 1 + base_len, ".tmp-", 5) != 0) {
            continue;
        }
        char *full = malloc(strlen(dir) + len + 2);
        if (full != NULL) {
            sprintf(full, "%s/%s", dir, name);
            unlink(full);
            free(full);
        }
    }
    closedir(d);
}

rg_status atomic_file_write(const char *path, atomic_file_fill_fn fill,
                            void *user, rg_error *err)
{
    char *dir = NULL;
    char *tmpl = NULL;
    FILE *fp = NULL;
    rg_status st;

    st = make_temp_names(path, &dir, &tmpl, err);
    if (st == RG_STATUS_OK) {
        st = open_temp(path, tmpl, &fp, err);
        if (st != RG_STATUS_OK) {
            free(dir);
            free(tmpl);
            return st;
        }
        st = fill(fp, user, err);
    }
    if (st == RG_STATUS_OK) {
        st = flush_and_close(&fp, tmpl, err);
    }
    if (st == RG_STATUS_OK && rename(tmpl, path) != 0) {
        st = rg_error_set(err, RG_STATUS_IO, "%s: cannot rename %s over it: %s",
                          path, tmpl, strerror(errno));
    }
    if (st != RG_STATUS_OK && tmpl != NULL) {
        if (fp != NULL) {
            fclose(fp);
        }
        unlink(tmpl);
    } else if (st == RG_STATUS_OK) {
        st = sync_dir(dir, err);
        remove_leftovers(dir, path);
    }
    free(dir);
    free(tmpl);
    return st;
}
