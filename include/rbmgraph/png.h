/*
 * Pictures: grids of grayscale tiles, such as an RBM's weight filters or
 * the states of sampling chains, written as 8-bit grayscale PNG files
 * with libpng. Files are written atomically like checkpoints: a temporary
 * file beside the target, fsync, rename.
 */
#ifndef RBMGRAPH_PNG_H
#define RBMGRAPH_PNG_H

#include <stdint.h>

#include "rbmgraph/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* How tile values become gray levels 0 (black) to 255 (white). */
typedef enum rg_tile_scale {
    /* v in [0, 1] becomes round(255 v). Values outside are clipped and
     * NaN is black. For pixel intensities and probabilities. */
    RG_TILE_SCALE_CLIP = 0,
    /* Each tile's minimum becomes 0 and its maximum 255, and a constant
     * tile is mid-gray. For weights, whose range varies from tile to
     * tile. */
    RG_TILE_SCALE_PER_TILE,
} rg_tile_scale;

/* Layout of a grid of tiles. */
typedef struct rg_tile_grid {
    int tile_height; /* pixels */
    int tile_width;  /* pixels */
    int n_columns;   /* tiles per row of the grid */
    int border;      /* pixels of mid-gray between and around tiles */
    rg_tile_scale scale;
} rg_tile_grid;

/*
 * Writes `n_tiles` tiles as a PNG grid, filled row by row. Tile t is
 * tile_height * tile_width floats in row-major order starting at
 * tiles + t * tile_height * tile_width. The picture is
 * min(n_tiles, n_columns) * (tile_width + border) + border pixels wide
 * and n_rows * (tile_height + border) + border high, where
 * n_rows = ceil(n_tiles / n_columns). Fails with
 * RG_STATUS_INVALID_ARGUMENT for sizes below 1 (border below 0) or a
 * picture wider or higher than 65535 pixels, and with RG_STATUS_IO when
 * the file cannot be written.
 */
rg_status rg_png_write_tiles(const char *path, const float *tiles,
                             int n_tiles, const rg_tile_grid *grid,
                             rg_error *err);

/*
 * Writes `pixels` (height rows of width gray levels, top row first) as an
 * 8-bit grayscale PNG. Sizes run from 1 to 65535 pixels.
 */
rg_status rg_png_write_gray(const char *path, int width, int height,
                            const uint8_t *pixels, rg_error *err);

#ifdef __cplusplus
}
#endif

#endif
