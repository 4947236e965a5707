/* cli/cli_data.c — datasets from command-line flags, shared by train and eval. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "earshot/error.h"

int cli_load_dataset(const char *cmd, const char *dir, const char *manifest, const char *label_re,
                     const char *group_re, int rate, es_dataset **ds) {
    int rc;
    *ds = NULL;
    if (manifest && manifest[0])
        rc = es_dataset_from_csv(ds, manifest, group_re && group_re[0] ? group_re : NULL);
    else if (dir && dir[0] && label_re && label_re[0])
        rc = es_dataset_scan(ds, dir, label_re, group_re && group_re[0] ? group_re : NULL);
    else {
        cli_error(cmd, "give --data DIR with --label-regex RE, or --manifest CSV");
        return CLI_USAGE;
    }
    if (rc < 0 || (rc = es_dataset_load(*ds, rate)) < 0) {
        cli_error(cmd, "%s", es_errmsg());
        es_dataset_free(*ds);
        *ds = NULL;
        return CLI_FAIL;
    }
    return CLI_OK;
}

int cli_split_groups(const es_dataset *ds, char *const *names, int n_names, size_t **in_idx,
                     size_t *n_in, size_t **out_idx, size_t *n_out) {
    size_t n = es_dataset_size(ds);
    *in_idx = calloc(n ? n : 1, sizeof **in_idx);
    *out_idx = calloc(n ? n : 1, sizeof **out_idx);
    *n_in = *n_out = 0;
    if (!*in_idx || !*out_idx) return -1;
    for (int k = 0; k < n_names; k++) {
        int found = 0;
        for (int g = 0; g < es_dataset_num_groups(ds); g++)
            found |= strcmp(es_dataset_group(ds, g), names[k]) == 0;
        if (!found) return -2 - k;
    }
    for (size_t i = 0; i < n; i++) {
        const char *g = es_dataset_group(ds, es_dataset_clip(ds, i)->group);
        int held = 0;
        for (int k = 0; k < n_names; k++) held |= strcmp(g, names[k]) == 0;
        if (held)
            (*in_idx)[(*n_in)++] = i;
        else
            (*out_idx)[(*n_out)++] = i;
    }
    return 0;
}

int cli_split_list(char *list, char **out, int max) {
    int n = 0;
    char *save = NULL;
    for (char *t = strtok_r(list, ",", &save); t && n < max; t = strtok_r(NULL, ",", &save))
        if (t[0]) out[n++] = t;
    return n;
}
