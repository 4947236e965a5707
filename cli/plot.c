/* cli/plot.c — axes, lines and heat maps on cairo, for figures people would
 * rather look at than read. */
#include "plot.h"

#include "earshot/file.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A "nice" tick step (1, 2 or 5 × 10^k) giving about n ticks over span. */
static double tick_step(double span, int n) {
    double raw = span / n, mag = pow(10.0, floor(log10(raw))), f = raw / mag;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

static void text(cairo_t *cr, double x, double y, const char *s, double ax, double ay) {
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - e.width * ax - e.x_bearing, y - e.height * ay - e.y_bearing);
    cairo_show_text(cr, s);
}

void plot_axes(cairo_t *cr, const plot_panel *p, const char *title, const char *xlabel,
               const char *ylabel) {
    char buf[32];
    double st;
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_line_width(cr, 1.0);
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_stroke(cr);
    cairo_set_font_size(cr, 12);
    st = tick_step(p->x1 - p->x0, 6);
    for (double v = ceil(p->x0 / st) * st; v <= p->x1 + 1e-9 * st; v += st) {
        double px = p->x + (v - p->x0) / (p->x1 - p->x0) * p->w;
        cairo_move_to(cr, px, p->y + p->h);
        cairo_line_to(cr, px, p->y + p->h + 4);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-12 ? 0.0 : v);
        text(cr, px, p->y + p->h + 7, buf, 0.5, 0.0);
    }
    st = tick_step(p->y1 - p->y0, 4);
    for (double v = ceil(p->y0 / st) * st; v <= p->y1 + 1e-9 * st; v += st) {
        double py = p->y + p->h - (v - p->y0) / (p->y1 - p->y0) * p->h;
        cairo_move_to(cr, p->x - 4, py);
        cairo_line_to(cr, p->x, py);
        cairo_stroke(cr);
        snprintf(buf, sizeof buf, "%g", fabs(v) < 1e-12 ? 0.0 : v);
        text(cr, p->x - 7, py, buf, 1.0, 0.5);
    }
    cairo_set_font_size(cr, 13);
    text(cr, p->x + p->w / 2, p->y + p->h + 24, xlabel, 0.5, 0.0);
    cairo_save(cr);
    cairo_translate(cr, p->x - 52, p->y + p->h / 2);
    cairo_rotate(cr, -1.5707963267948966); /* a quarter turn: the y label reads upwards */
    text(cr, 0, 0, ylabel, 0.5, 0.5);
    cairo_restore(cr);
    cairo_set_font_size(cr, 15);
    text(cr, p->x, p->y - 8, title, 0.0, 1.0);
}

void plot_line(cairo_t *cr, const plot_panel *p, const float *y, size_t n, double r, double g,
               double b) {
    cairo_save(cr);
    cairo_rectangle(cr, p->x, p->y, p->w, p->h);
    cairo_clip(cr);
    cairo_set_source_rgb(cr, r, g, b);
    cairo_set_line_width(cr, 1.0);
    for (size_t i = 0; i < n; i++) {
        double px = p->x + (double)i / (double)(n > 1 ? n - 1 : 1) * p->w;
        double py = p->y + p->h - ((double)y[i] - p->y0) / (p->y1 - p->y0) * p->h;
        if (i == 0)
            cairo_move_to(cr, px, py);
        else
            cairo_line_to(cr, px, py);
    }
    cairo_stroke(cr);
    cairo_restore(cr);
}

/* A perceptually ordered dark-blue → green → yellow map (viridis-like),
 * so equal steps in dB look like equal steps in colour. */
static void colour(double t, unsigned char *rgb) {
    static const double stops[5][3] = {
        {0.267, 0.005, 0.329}, {0.229, 0.322, 0.546}, {0.128, 0.567, 0.551},
        {0.369, 0.789, 0.383}, {0.993, 0.906, 0.144}};
    double f;
    int i;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    f = t * 4.0;
    i = f >= 4.0 ? 3 : (int)f;
    f -= i;
    for (int c = 0; c < 3; c++)
        rgb[c] = (unsigned char)(255.0 * (stops[i][c] + f * (stops[i + 1][c] - stops[i][c])));
}

void plot_heatmap(cairo_t *cr, const plot_panel *p, const float *m, size_t rows, size_t cols,
                  double vmin, double vmax, const char *clabel) {
    cairo_surface_t *img = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)cols, (int)rows);
    unsigned char *px = cairo_image_surface_get_data(img);
    int stride = cairo_image_surface_get_stride(img);
    plot_panel bar = {p->x + p->w + 14, p->y, 14, p->h, 0, 1, vmin, vmax};
    char buf[32];
    cairo_surface_flush(img);
    for (size_t r = 0; r < rows; r++) {
        for (size_t c = 0; c < cols; c++) {
            unsigned char rgb[3], *d = px + (rows - 1 - r) * (size_t)stride + c * 4;
            colour(((double)m[r * cols + c] - vmin) / (vmax - vmin), rgb);
            d[0] = rgb[2], d[1] = rgb[1], d[2] = rgb[0], d[3] = 0xff;
        }
    }
    cairo_surface_mark_dirty(img);
    cairo_save(cr);
    cairo_translate(cr, p->x, p->y);
    cairo_scale(cr, p->w / (double)cols, p->h / (double)rows);
    cairo_set_source_surface(cr, img, 0, 0);
    cairo_pattern_set_filter(cairo_get_source(cr), CAIRO_FILTER_NEAREST);
    cairo_paint(cr);
    cairo_restore(cr);
    cairo_surface_destroy(img);
    /* the colour bar, with its extremes and middle labelled */
    for (int i = 0; i < (int)bar.h; i++) {
        unsigned char rgb[3];
        colour(1.0 - (double)i / bar.h, rgb);
        cairo_set_source_rgb(cr, rgb[0] / 255.0, rgb[1] / 255.0, rgb[2] / 255.0);
        cairo_rectangle(cr, bar.x, bar.y + i, bar.w, 1.2);
        cairo_fill(cr);
    }
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 11);
    for (int k = 0; k <= 2; k++) {
        double v = vmin + (vmax - vmin) * k / 2.0;
        snprintf(buf, sizeof buf, "%.0f", v);
        text(cr, bar.x + bar.w + 4, bar.y + bar.h * (1.0 - k / 2.0), buf, 0.0, 0.5);
    }
    text(cr, bar.x, bar.y - 6, clabel, 0.0, 1.0);
}

typedef struct {
    unsigned char *data;
    size_t len, cap;
} png_buf;

static cairo_status_t write_chunk(void *closure, const unsigned char *data, unsigned int len) {
    png_buf *b = closure;
    if (b->len + len > b->cap) {
        size_t cap = (b->cap ? b->cap * 2 : 65536) + len;
        unsigned char *d = realloc(b->data, cap);
        if (!d) return CAIRO_STATUS_NO_MEMORY;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    return CAIRO_STATUS_SUCCESS;
}

void plot_done(void) { cairo_debug_reset_static_data(); }

int plot_write_png(cairo_surface_t *s, const char *path) {
    png_buf b = {NULL, 0, 0};
    int rc = -1;
    if (cairo_surface_write_to_png_stream(s, write_chunk, &b) == CAIRO_STATUS_SUCCESS)
        rc = es_write_file_atomic(path, b.data, b.len) < 0 ? -1 : 0;
    free(b.data);
    return rc;
}
