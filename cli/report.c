/* cli/report.c — training figures: loss and accuracy curves, the confusion matrix. */
#include "report.h"

#include <stdio.h>
#include <stdlib.h>

#include "plot.h"

int report_curves(const char *path, const float *loss, const float *train_acc,
                  const float *val_acc, int epochs) {
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, 1000, 760);
    cairo_t *cr = cairo_create(s);
    plot_panel pl = {90, 50, 860, 260, 1, epochs > 1 ? epochs : 2, 0, 0};
    plot_panel pa = {90, 420, 860, 260, 1, epochs > 1 ? epochs : 2, 0, 1};
    int rc, has_val = epochs > 0 && val_acc[0] >= 0.0f;
    for (int e = 0; e < epochs; e++)
        if (loss[e] > pl.y1) pl.y1 = loss[e];
    pl.y1 = pl.y1 > 0 ? pl.y1 * 1.05 : 1.0;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    plot_axes(cr, &pl, "training loss (cross-entropy, class-weighted)", "epoch", "loss");
    plot_line(cr, &pl, loss, (size_t)epochs, 0.75, 0.25, 0.1);
    plot_axes(cr, &pa, has_val ? "accuracy: training (blue), held-out groups (green)"
                               : "training accuracy", "epoch", "accuracy");
    plot_line(cr, &pa, train_acc, (size_t)epochs, 0.12, 0.35, 0.65);
    if (has_val) plot_line(cr, &pa, val_acc, (size_t)epochs, 0.1, 0.6, 0.2);
    cairo_surface_flush(s);
    rc = plot_write_png(s, path);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return rc;
}

int report_confusion(const char *path, const es_model *m, const int *conf, const char *title) {
    int K = es_model_num_labels(m), cell = K > 12 ? 40 : 56, rc;
    int w = 160 + K * cell + 40, h = 120 + K * cell + 60;
    if (w < 560) w = 560; /* room for the title */
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, w, h);
    cairo_t *cr = cairo_create(s);
    char buf[32];
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_source_rgb(cr, 0, 0, 0);
    cairo_set_font_size(cr, 15);
    cairo_move_to(cr, 20, 30);
    cairo_show_text(cr, title);
    cairo_set_font_size(cr, 12);
    cairo_move_to(cr, 160, 62);
    cairo_show_text(cr, "predicted →");
    cairo_move_to(cr, 20, 100);
    cairo_show_text(cr, "true ↓");
    for (int k = 0; k < K; k++) {
        int row = 0;
        for (int j = 0; j < K; j++) row += conf[k * K + j];
        cairo_set_source_rgb(cr, 0, 0, 0);
        cairo_move_to(cr, 20, 120 + k * cell + cell / 2.0 + 4);
        cairo_show_text(cr, es_model_label(m, k));
        cairo_save(cr);
        cairo_move_to(cr, 160 + k * cell + cell / 2.0 - 4, 110);
        cairo_rotate(cr, -0.6);
        cairo_show_text(cr, es_model_label(m, k));
        cairo_restore(cr);
        for (int j = 0; j < K; j++) {
            double share = row ? (double)conf[k * K + j] / row : 0.0;
            /* white → deep blue with the share of the row */
            cairo_set_source_rgb(cr, 1.0 - 0.85 * share, 1.0 - 0.65 * share, 1.0 - 0.25 * share);
            cairo_rectangle(cr, 160 + j * cell, 120 + k * cell, cell - 1, cell - 1);
            cairo_fill(cr);
            cairo_set_source_rgb(cr, share > 0.5 ? 1 : 0, share > 0.5 ? 1 : 0, share > 0.5 ? 1 : 0);
            snprintf(buf, sizeof buf, "%d", conf[k * K + j]);
            cairo_move_to(cr, 160 + j * cell + cell / 2.0 - 4.0 * (double)snprintf(NULL, 0, "%d", conf[k * K + j]) / 1.2,
                          120 + k * cell + cell / 2.0 + 4);
            cairo_show_text(cr, buf);
        }
    }
    cairo_surface_flush(s);
    rc = plot_write_png(s, path);
    cairo_destroy(cr);
    cairo_surface_destroy(s);
    return rc;
}
