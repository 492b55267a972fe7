/*
 * Helpers shared by the fuzz targets; see fuzz_util.h.
 */
#define _GNU_SOURCE
#include "fuzz_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

static void drop_message(rg_log_level level, const char *message, void *user)
{
    (void)level;
    (void)message;
    (void)user;
}

void fuzz_quiet_log(void)
{
    rg_log_set(drop_message, NULL, RG_LOG_LEVEL_ERROR);
}

int fuzz_file_open(const uint8_t *data, size_t size, char *path,
                   size_t path_size)
{
    int fd = memfd_create("fuzz-input", MFD_CLOEXEC);
    size_t done = 0;

    if (fd < 0) {
        perror("memfd_create");
        abort();
    }
    while (done < size) {
        ssize_t n = write(fd, data + done, size - done);
        if (n <= 0) {
            perror("write to memfd");
            abort();
        }
        done += (size_t)n;
    }
    snprintf(path, path_size, "/proc/self/fd/%d", fd);
    return fd;
}

void fuzz_file_close(int fd)
{
    close(fd);
}

void fuzz_check_error(rg_status status, const rg_error *err)
{
    if (status == RG_STATUS_OK || err->code != status) {
        fprintf(stderr, "fuzz: status %d but the error record has code %d\n",
                (int)status, (int)err->code);
        abort();
    }
    if (memchr(err->message, '\0', sizeof(err->message)) == NULL
        || err->message[0] == '\0') {
        fprintf(stderr, "fuzz: status %d with an empty or unterminated "
                "message\n", (int)status);
        abort();
    }
    if (memchr(err->file, '\0', sizeof(err->file)) == NULL) {
        fprintf(stderr, "fuzz: unterminated file name in the error\n");
        abort();
    }
    if (err->line < 0 || err->column < 0
        || (err->line == 0) != (err->column == 0)) {
        fprintf(stderr, "fuzz: invalid error location %d:%d in \"%s\"\n",
                err->line, err->column, err->message);
        abort();
    }
}
