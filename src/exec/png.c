/*
 * PNG pictures of tile grids through libpng, written atomically.
 *
 * libpng reports errors by calling an error function that must not
 * return. Ours records the message and longjmps back to the setjmp in
 * fill_png, which destroys the write structs and turns the message into
 * an rg_error. Nothing that needs freeing is allocated between the setjmp
 * and the longjmp except libpng's own structs.
 */
#include "rbmgraph/png.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec/atomic_file.h"
#include "graph/error_internal.h"

/* Largest picture side. PNG allows 2^31 - 1, but a picture of tiles that
 * big comes from a mistake in the arguments. */
#define PNG_MAX_SIDE 65535

/* Gray level of the border between tiles. */
#define PNG_BORDER_GRAY 128

/* What fill_png writes, and the message of a libpng error. */
typedef struct png_job {
    const char *path;
    int width;
    int height;
    const uint8_t *pixels; /* [height, width] */
    char message[256];
} png_job;

static void on_png_error(png_structp png, png_const_charp message)
{
    png_job *job = png_get_error_ptr(png);

    snprintf(job->message, sizeof(job->message), "%s", message);
    png_longjmp(png, 1);
}

static void on_png_warning(png_structp png, png_const_charp message)
{
    (void)png;
    rg_log(RG_LOG_LEVEL_WARN, "libpng: %s", message);
}

static rg_status fill_png(FILE *fp, void *user, rg_error *err)
{
    png_job *job = user;
    png_structp png;
    png_infop info = NULL;

    png = png_create_write_struct(PNG_LIBPNG_VER_STRING, job, on_png_error,
                                  on_png_warning);
    if (png != NULL) {
        info = png_create_info_struct(png);
    }
    if (png == NULL || info == NULL) {
        png_destroy_write_struct(&png, &info);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for the PNG writer",
                            job->path);
    }
    if (setjmp(png_jmpbuf(png))) {
        png_destroy_write_struct(&png, &info);
        return rg_error_set(err, RG_STATUS_IO, "%s: writing the PNG failed: "
                            "%s", job->path, job->message);
    }
    png_init_io(png, fp);
    png_set_compression_level(png, 9);
    png_set_IHDR(png, info, (png_uint_32)job->width,
                 (png_uint_32)job->height, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                 PNG_FILTER_TYPE_DEFAULT);
    png_write_info(png, info);
    for (int y = 0; y < job->height; y++) {
        png_write_row(png, job->pixels + (size_t)y * (size_t)job->width);
    }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    return RG_STATUS_OK;
}

rg_status rg_png_write_gray(const char *path, int width, int height,
                            const uint8_t *pixels, rg_error *err)
{
    png_job job = {path, width, height, pixels, ""};

    if (path == NULL || pixels == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_png_write_gray: path and pixels must not be "
                            "NULL");
    }
    if (width < 1 || height < 1 || width > PNG_MAX_SIDE
        || height > PNG_MAX_SIDE) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: a picture of %d x %d pixels is invalid; "
                            "each side must be 1 to %d pixels",
                            path, width, height, PNG_MAX_SIDE);
    }
    return atomic_file_write(path, fill_png, &job, err);
}

/* Converts one tile to gray levels per the grid's scale. */
static void tile_to_gray(const float *tile, int n, rg_tile_scale scale,
                         uint8_t *gray)
{
    float low = 0.0f;
    float high = 1.0f;

    if (scale == RG_TILE_SCALE_PER_TILE) {
        low = INFINITY;
        high = -INFINITY;
        for (int i = 0; i < n; i++) {
            low = tile[i] < low ? tile[i] : low;
            high = tile[i] > high ? tile[i] : high;
        }
    }
    for (int i = 0; i < n; i++) {
        float v = high > low ? (tile[i] - low) / (high - low) : 0.5f;

        if (!(v > 0.0f)) {
            v = 0.0f; /* also NaN */
        }
        gray[i] = (uint8_t)lrintf((v < 1.0f ? v : 1.0f) * 255.0f);
    }
}

static rg_status check_grid(const char *path, int n_tiles,
                            const rg_tile_grid *g, int *width, int *height,
                            rg_error *err)
{
    if (n_tiles < 1 || g->tile_height < 1 || g->tile_width < 1
        || g->n_columns < 1 || g->border < 0) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: %d tiles of %d x %d pixels in %d columns "
                            "with a border of %d is invalid; counts and "
                            "sizes must be at least 1 and the border at "
                            "least 0", path, n_tiles, g->tile_height,
                            g->tile_width, g->n_columns, g->border);
    }
    int64_t n_columns = n_tiles < g->n_columns ? n_tiles : g->n_columns;
    int64_t n_rows = (n_tiles + g->n_columns - 1) / g->n_columns;
    int64_t w = n_columns * ((int64_t)g->tile_width + g->border) + g->border;
    int64_t h = n_rows * ((int64_t)g->tile_height + g->border) + g->border;
    if (w > PNG_MAX_SIDE || h > PNG_MAX_SIDE) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "%s: the grid would be %lld x %lld pixels; each "
                            "side may be at most %d, so use fewer or "
                            "smaller tiles", path, (long long)w,
                            (long long)h, PNG_MAX_SIDE);
    }
    *width = (int)w;
    *height = (int)h;
    return RG_STATUS_OK;
}

rg_status rg_png_write_tiles(const char *path, const float *tiles,
                             int n_tiles, const rg_tile_grid *grid,
                             rg_error *err)
{
    int width = 0;
    int height = 0;
    rg_status st;

    if (path == NULL || tiles == NULL || grid == NULL) {
        return rg_error_set(err, RG_STATUS_INVALID_ARGUMENT,
                            "rg_png_write_tiles: path, tiles and grid must "
                            "not be NULL");
    }
    st = check_grid(path, n_tiles, grid, &width, &height, err);
    if (st != RG_STATUS_OK) {
        return st;
    }
    int tile_pixels = grid->tile_height * grid->tile_width;
    uint8_t *pixels = malloc((size_t)width * (size_t)height);
    uint8_t *gray = malloc((size_t)tile_pixels);
    if (pixels == NULL || gray == NULL) {
        free(pixels);
        free(gray);
        return rg_error_set(err, RG_STATUS_NO_MEMORY,
                            "%s: out of memory for %d x %d pixels", path,
                            width, height);
    }

    /* Tile t goes to grid row t / n_columns, column t % n_columns. */
    memset(pixels, PNG_BORDER_GRAY, (size_t)width * (size_t)height);
    for (int t = 0; t < n_tiles; t++) {
        int x0 = grid->border
                 + (t % grid->n_columns) * (grid->tile_width + grid->border);
        int y0 = grid->border
                 + (t / grid->n_columns) * (grid->tile_height + grid->border);

        tile_to_gray(tiles + (size_t)t * (size_t)tile_pixels, tile_pixels,
                     grid->scale, gray);
        for (int y = 0; y < grid->tile_height; y++) {
            memcpy(pixels + (size_t)(y0 + y) * (size_t)width + x0,
                   gray + (size_t)y * (size_t)grid->tile_width,
                   (size_t)grid->tile_width);
        }
    }
    st = rg_png_write_gray(path, width, height, pixels, err);
    free(pixels);
    free(gray);
    return st;
}
