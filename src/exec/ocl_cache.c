/*
 * The on-disk cache of OpenCL program binaries. One file per entry, named
 * after the 64-bit hash of its key (device name, driver version, build
 * options and source hash) as DIR/<16 hex digits>.clbin:
 *
 *   offset  bytes  field
 *        0      8  magic "rgclbin1"
 *        8      4  format version (1), native byte order
 *       12      4  key length K
 *       16      8  binary length N
 *       24      4  CRC-32 of the key and the binary
 *       28      4  zero
 *       32      K  key text
 *     32+K      N  binary, as clGetProgramInfo(CL_PROGRAM_BINARIES) gave it
 *
 * An entry whose key differs (a hash collision, or a file from another
 * format) is stale; one whose size or checksum is wrong is corrupt. Both
 * are ignored and then overwritten. Writers create a temporary file in
 * the same directory and rename it over the entry, so readers see either
 * the old file or the new one, never a partial write, and concurrent
 * writers of one entry write the same bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "exec/ocl_internal.h"
#include "graph/error_internal.h"

#define CACHE_MAGIC "rgclbin1"

enum { CACHE_VERSION = 1, HEADER_BYTES = 32 };

typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t key_bytes;
    uint64_t binary_bytes;
    uint32_t crc;
    uint32_t zero;
} cache_header;

_Static_assert(sizeof(cache_header) == HEADER_BYTES,
               "the cache header must have no padding");

uint64_t ocl_hash(const void *data, size_t n, uint64_t hash)
{
    const unsigned char *p = data;

    for (size_t i = 0; i < n; i++) {
        hash = (hash ^ p[i]) * UINT64_C(0x100000001b3);
    }
    return hash;
}

void ocl_cache_default_dir(char *dir, size_t size)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");

    if (xdg != NULL && xdg[0] == '/') {
        snprintf(dir, size, "%s/rbm-graph", xdg);
    } else if (home != NULL && home[0] != '\0') {
        snprintf(dir, size, "%s/.cache/rbm-graph", home);
    } else {
        dir[0] = '\0';
    }
}

void ocl_cache_path(const char *dir, const char *key, char *path,
                    size_t size)
{
    uint64_t h = ocl_hash(key, strlen(key), OCL_HASH_SEED);

    snprintf(path, size, "%s/%016llx.clbin", dir, (unsigned long long)h);
}

static uint32_t entry_crc(const char *key, const unsigned char *binary,
                          size_t size)
{
    uLong crc = crc32(0L, Z_NULL, 0);

    crc = crc32(crc, (const Bytef *)key, (uInt)strlen(key));
    /* crc32 takes uInt lengths; feed large binaries in pieces. */
    for (size_t done = 0; done < size;) {
        size_t piece = size - done > (1u << 30) ? (1u << 30) : size - done;
        crc = crc32(crc, binary + done, (uInt)piece);
        done += piece;
    }
    return (uint32_t)crc;
}

/* Reads the file's header and key; returns the reason it is unusable, or
 * NULL. */
static const char *check_header(FILE *f, const char *key, cache_header *h,
                                long file_bytes)
{
    size_t key_bytes = strlen(key);

    if (fread(h, sizeof(*h), 1, f) != 1 ||
        memcmp(h->magic, CACHE_MAGIC, sizeof(h->magic)) != 0 ||
        h->version != CACHE_VERSION) {
        return "corrupt (bad header)";
    }
    if ((uint64_t)file_bytes != HEADER_BYTES + (uint64_t)h->key_bytes +
                                    h->binary_bytes) {
        return "corrupt (wrong size)";
    }
    if (h->key_bytes != key_bytes) {
        return "stale (another key)";
    }
    char *stored = malloc(key_bytes + 1);
    const char *why = NULL;
    if (stored == NULL) {
        return "unreadable (out of memory)";
    }
    if (fread(stored, 1, key_bytes, f) != key_bytes) {
        why = "corrupt (short key)";
    } else if (memcmp(stored, key, key_bytes) != 0) {
        why = "stale (another key)";
    }
    free(stored);
    return why;
}

unsigned char *ocl_cache_load(const char *dir, const char *key,
                              size_t *size)
{
    char path[1200];
    cache_header h;
    unsigned char *binary = NULL;
    const char *why = NULL;

    ocl_cache_path(dir, key, path, sizeof(path));
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        rg_log(RG_LOG_LEVEL_DEBUG, "opencl: no cache entry %s", path);
        return NULL;
    }
    long file_bytes = -1;
    if (fseek(f, 0, SEEK_END) == 0) {
        file_bytes = ftell(f);
    }
    if (file_bytes < 0 || fseek(f, 0, SEEK_SET) != 0) {
        why = "unreadable";
    } else {
        why = check_header(f, key, &h, file_bytes);
    }
    if (why == NULL && (binary = malloc(h.binary_bytes + 1)) == NULL) {
        why = "unreadable (out of memory)";
    }
    if (why == NULL && fread(binary, 1, h.binary_bytes, f) != h.binary_bytes) {
        why = "corrupt (short binary)";
    }
    if (why == NULL && entry_crc(key, binary, h.binary_bytes) != h.crc) {
        why = "corrupt (checksum mismatch)";
    }
    fclose(f);
    if (why != NULL) {
        rg_log(RG_LOG_LEVEL_DEBUG, "opencl: cache entry %s is %s; rebuilding",
               path, why);
        free(binary);
        return NULL;
    }
    *size = h.binary_bytes;
    return binary;
}

/* mkdir -p with mode 0755. */
static int make_dirs(const char *dir)
{
    char path[1024];

    if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    return mkdir(path, 0755) != 0 && errno != EEXIST ? -1 : 0;
}

/* Writes all of `data`; returns false on a short write. */
static bool write_all(int fd, const void *data, size_t n)
{
    const char *p = data;

    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

void ocl_cache_store(const char *dir, const char *key,
                     const unsigned char *binary, size_t size)
{
    char path[1200], temp[1300];
    cache_header h;

    memset(&h, 0, sizeof(h));
    memcpy(h.magic, CACHE_MAGIC, sizeof(h.magic));
    h.version = CACHE_VERSION;
    h.key_bytes = (uint32_t)strlen(key);
    h.binary_bytes = size;
    h.crc = entry_crc(key, binary, size);

    ocl_cache_path(dir, key, path, sizeof(path));
    snprintf(temp, sizeof(temp), "%s.tmp.%ld", path, (long)getpid());
    if (make_dirs(dir) != 0) {
        rg_log(RG_LOG_LEVEL_WARN, "opencl: cannot create cache directory "
               "%s: %s", dir, strerror(errno));
        return;
    }
    int fd = open(temp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        rg_log(RG_LOG_LEVEL_WARN, "opencl: cannot write cache file %s: %s",
               temp, strerror(errno));
        return;
    }
    bool ok = write_all(fd, &h, sizeof(h)) &&
              write_all(fd, key, h.key_bytes) &&
              write_all(fd, binary, size) && fsync(fd) == 0;
    int saved = errno;
    ok = close(fd) == 0 && ok;
    if (ok && rename(temp, path) == 0) {
        rg_log(RG_LOG_LEVEL_DEBUG, "opencl: stored %zu bytes in cache %s",
               size, path);
        return;
    }
    saved = ok ? errno : saved;
    unlink(temp);
    rg_log(RG_LOG_LEVEL_WARN, "opencl: writing cache file %s failed: %s",
           path, strerror(saved));
}
