/* cli/cmd_inspect.c — `earshot inspect`: waveform, spectrum, spectrogram and
 * mel spectrogram of a file in one PNG. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "earshot/features.h"
#include "plot.h"

static const char help[] =
    "usage: earshot inspect FILE --out FIGURE.png\n"
    "\n"
    "Draws the analysis figure of an audio file: the waveform, its average\n"
    "power spectrum, its spectrogram and its 64-band mel spectrogram (dB,\n"
    "80 dB range), with labelled axes and colour scales.\n"
    "\n"
    "  -o, --out FILE   the PNG to write (atomically)\n"
    "  -h, --help       this text\n";

/* Figure geometry, in pixels. */
#define FIG_W 1200
#define FIG_H 1240
#define LEFT 90
#define PANEL_W 960
#define PANEL_H 210
#define GAP 90

typedef struct {
    float *m;
    size_t F, T;
} matrix;

static int features_of(const es_audio *a, int mel, matrix *out) {
    es_feature_desc d = {0};
    es_features *fx = NULL;
    int rc;
    d.kind = mel ? ES_FEAT_MELSPECTROGRAM : ES_FEAT_SPECTROGRAM;
    d.sample_rate = a->rate;
    d.n_fft = a->rate > 24000 ? 2048 : a->rate > 12000 ? 1024 : 512;
    d.win_length = d.n_fft;
    d.hop_length = d.n_fft / 4;
    d.center = 1;
    d.power = 2.0;
    d.n_mels = 64;
    d.f_max = (double)(a->rate / 2);
    d.mel_scale = ES_MEL_HTK;
    d.log = ES_LOG_DB;
    d.top_db = 80.0;
    if ((rc = es_features_create(&fx, &d)) < 0) return rc;
    out->F = es_features_nbins(fx);
    out->T = es_features_nframes(&d, a->n);
    out->m = malloc(out->F * out->T * sizeof *out->m);
    rc = out->m ? es_features_compute(fx, a->samples, a->n, out->m, out->T) : ES_ENOMEM;
    es_features_free(fx);
    return rc;
}

static void range_of(const float *x, size_t n, double *lo, double *hi) {
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (x[i] < *lo) *lo = x[i];
        if (x[i] > *hi) *hi = x[i];
    }
    if (!(*hi > *lo)) *hi = *lo + 1.0;
}

int cmd_inspect(int argc, char **argv) {
    static const struct option longopts[] = {
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    es_audio a = {0};
    matrix spec = {0}, mel = {0};
    float *wave = NULL, *avg = NULL;
    int opt, status = CLI_FAIL;
    cairo_surface_t *s = NULL;
    cairo_t *cr = NULL;
    char title[512];
    double dur, lo, hi;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'o': out = optarg; break;
        case 'h': fputs(help, stdout); return CLI_OK;
        default: return cli_bad_option("inspect", opt, argv, longopts);
        }
    }
    if (!out) {
        cli_error("inspect", "--out FIGURE.png is required");
        return CLI_USAGE;
    }
    if (argc - optind != 1) {
        cli_error("inspect", "expected one audio FILE, got %d", argc - optind);
        return CLI_USAGE;
    }
    if (es_audio_read(argv[optind], &a) < 0 || features_of(&a, 0, &spec) < 0 ||
        features_of(&a, 1, &mel) < 0) {
        cli_error("inspect", "%s", es_errmsg());
        goto done;
    }
    dur = (double)a.n / a.rate;
    s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, FIG_W, FIG_H);
    cr = cairo_create(s);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    cairo_select_font_face(cr, "sans-serif", CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);

    /* 1. waveform: min/max per pixel column, so no peak is lost */
    {
        plot_panel p = {LEFT, 60, PANEL_W, PANEL_H, 0, dur, -1, 1};
        size_t cols = PANEL_W * 2, per = a.n / cols + 1;
        wave = malloc(cols * 2 * sizeof *wave);
        if (!wave) goto oom;
        for (size_t c = 0; c < cols; c++) {
            float mn = 0, mx = 0;
            for (size_t i = c * per; i < (c + 1) * per && i < a.n; i++) {
                if (a.samples[i] < mn) mn = a.samples[i];
                if (a.samples[i] > mx) mx = a.samples[i];
            }
            wave[2 * c] = mn, wave[2 * c + 1] = mx;
        }
        range_of(wave, cols * 2, &lo, &hi);
        hi = fmax(fabs(lo), fabs(hi)) * 1.05;
        p.y0 = -hi, p.y1 = hi;
        snprintf(title, sizeof title, "%s — %.2f s at %d Hz", argv[optind], dur, a.rate);
        plot_axes(cr, &p, title, "time (s)", "amplitude");
        plot_line(cr, &p, wave, cols * 2, 0.12, 0.35, 0.65);
    }
    /* 2. average power spectrum (dB, the mean over frames of the power) */
    {
        plot_panel p = {LEFT, 60 + (PANEL_H + GAP), PANEL_W, PANEL_H, 0, a.rate / 2000.0, 0, 1};
        avg = malloc(spec.F * sizeof *avg);
        if (!avg) goto oom;
        for (size_t f = 0; f < spec.F; f++) {
            double sum = 0;
            for (size_t t = 0; t < spec.T; t++) sum += pow(10.0, spec.m[f * spec.T + t] / 10.0);
            avg[f] = (float)(10.0 * log10(sum / spec.T + 1e-10));
        }
        range_of(avg, spec.F, &lo, &hi);
        p.y0 = fmax(lo, hi - 90.0), p.y1 = hi + 3;
        plot_axes(cr, &p, "average spectrum", "frequency (kHz)", "power (dB)");
        plot_line(cr, &p, avg, spec.F, 0.75, 0.25, 0.1);
    }
    /* 3. spectrogram and 4. mel spectrogram, 80 dB below each maximum */
    {
        plot_panel p = {LEFT, 60 + 2 * (PANEL_H + GAP), PANEL_W, PANEL_H, 0, dur, 0,
                        a.rate / 2000.0};
        range_of(spec.m, spec.F * spec.T, &lo, &hi);
        plot_axes(cr, &p, "spectrogram", "time (s)", "frequency (kHz)");
        plot_heatmap(cr, &p, spec.m, spec.F, spec.T, hi - 80.0, hi, "dB");
        p.y = 60 + 3 * (PANEL_H + GAP);
        p.y0 = 0, p.y1 = (double)mel.F;
        range_of(mel.m, mel.F * mel.T, &lo, &hi);
        plot_axes(cr, &p, "mel spectrogram (64 bands, HTK)", "time (s)", "mel band");
        plot_heatmap(cr, &p, mel.m, mel.F, mel.T, hi - 80.0, hi, "dB");
    }
    cairo_surface_flush(s);
    if (plot_write_png(s, out) < 0) {
        cli_error("inspect", "cannot write '%s'", out);
        goto done;
    }
    printf("%s: waveform, spectrum, spectrogram and mel spectrogram of %s\n", out, argv[optind]);
    status = CLI_OK;
    goto done;
oom:
    cli_error("inspect", "out of memory");
done:
    if (cr) cairo_destroy(cr);
    if (s) cairo_surface_destroy(s);
    plot_done();
    free(wave);
    free(avg);
    free(spec.m);
    free(mel.m);
    es_audio_free(&a);
    return status;
}
