/* cli/cmd_features.c — `earshot features`: the feature matrix of one file as .npy. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "earshot/audio.h"
#include "earshot/error.h"
#include "earshot/features.h"
#include "earshot/npy.h"
#include "earshot/resample.h"

static const char help[] =
    "usage: earshot features --config FEATURES.json FILE --out OUT.npy\n"
    "\n"
    "Computes the feature matrix of a whole audio file, as the models see it,\n"
    "and writes it as a NumPy float32 array of shape [F, T] (frequency bins by\n"
    "frames, torchaudio's orientation).\n"
    "\n"
    "  -c, --config FILE  feature description (JSON, the earshot.features vocabulary)\n"
    "  -o, --out FILE     output .npy (written atomically)\n"
    "  -h, --help         this text\n"
    "\n"
    "FILE is any WAV/FLAC/OGG file; channels are mixed to mono and the audio is\n"
    "resampled to the description's sample_rate.\n";

int cmd_features(int argc, char **argv) {
    static const struct option longopts[] = {
        {"config", required_argument, NULL, 'c'},
        {"out", required_argument, NULL, 'o'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *config = NULL, *out = NULL, *in;
    es_feature_desc desc;
    es_audio audio = {0};
    es_features *fx = NULL;
    float *resampled = NULL, *matrix = NULL;
    const float *x;
    size_t n, F, T;
    int opt, rc, status = CLI_FAIL;

    opterr = 0;
    optind = 1;
    while ((opt = getopt_long(argc, argv, ":c:o:h", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c': config = optarg; break;
        case 'o': out = optarg; break;
        case 'h': fputs(help, stdout); return CLI_OK;
        default: return cli_bad_option("features", opt, argv, longopts);
        }
    }
    if (!config) {
        cli_error("features", "--config FEATURES.json is required");
        return CLI_USAGE;
    }
    if (!out) {
        cli_error("features", "--out OUT.npy is required");
        return CLI_USAGE;
    }
    if (argc - optind != 1) {
        cli_error("features", "expected one input FILE, got %d", argc - optind);
        return CLI_USAGE;
    }
    in = argv[optind];

    if ((rc = es_feature_desc_load(&desc, config)) < 0) {
        cli_error("features", "%s", es_errmsg());
        return CLI_FAIL;
    }
    if ((rc = es_audio_read(in, &audio)) < 0) {
        cli_error("features", "%s", es_errmsg());
        return CLI_FAIL;
    }
    x = audio.samples;
    n = audio.n;
    if (audio.rate != desc.sample_rate) {
        if ((rc = es_resample(audio.samples, audio.n, audio.rate, desc.sample_rate, &resampled,
                              &n)) < 0)
            goto fail;
        x = resampled;
    }
    if ((rc = es_features_create(&fx, &desc)) < 0) goto fail;
    F = es_features_nbins(fx);
    T = es_features_nframes(&desc, n);
    if (n < es_features_min_samples(&desc)) {
        cli_error("features", "'%s' is too short: %zu samples at %d Hz, the features need at "
                              "least %zu", in, n, desc.sample_rate, es_features_min_samples(&desc));
        goto out;
    }
    matrix = malloc(F * T * sizeof *matrix);
    if (!matrix) {
        cli_error("features", "out of memory for a %zu x %zu matrix", F, T);
        goto out;
    }
    if ((rc = es_features_compute(fx, x, n, matrix, T)) < 0) goto fail;
    if ((rc = es_npy_write_f32(out, matrix, 2, (size_t[]){F, T})) < 0) goto fail;
    printf("%s: [%zu, %zu] float32, %.3f s at %d Hz\n", out, F, T,
           (double)n / desc.sample_rate, desc.sample_rate);
    status = CLI_OK;
    goto out;
fail:
    cli_error("features", "%s", es_errmsg());
out:
    free(matrix);
    es_features_free(fx);
    es_free(resampled);
    es_audio_free(&audio);
    return status;
}
