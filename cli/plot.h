/* cli/plot.h — small cairo plotting helpers: panels with axes, ticks and
 * labels, line plots, heat maps with a colour bar. */
#ifndef EARSHOT_CLI_PLOT_H
#define EARSHOT_CLI_PLOT_H

#include <cairo.h>
#include <stddef.h>

typedef struct {
    double x, y, w, h;           /* the plotting area, in pixels */
    double x0, x1, y0, y1;       /* data range */
} plot_panel;

/* Frames a panel with a title, axis labels and about five ticks per axis. */
void plot_axes(cairo_t *cr, const plot_panel *p, const char *title, const char *xlabel,
               const char *ylabel);

/* y[n] against x from x0 to x1, evenly spaced. */
void plot_line(cairo_t *cr, const plot_panel *p, const float *y, size_t n, double r, double g,
               double b);

/* m[rows, cols] (row 0 at the bottom) between vmin and vmax, with a colour
 * bar labelled clabel to the panel's right. */
void plot_heatmap(cairo_t *cr, const plot_panel *p, const float *m, size_t rows, size_t cols,
                  double vmin, double vmax, const char *clabel);

/* Releases cairo's caches once every surface is destroyed (for leak
 * checkers; the process is about to end anyway). */
void plot_done(void);

/* Writes the surface as PNG atomically (es_write_file_atomic). 0 or -1. */
int plot_write_png(cairo_surface_t *s, const char *path);

#endif
