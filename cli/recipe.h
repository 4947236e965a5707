/* cli/recipe.h — training recipes: libconfig files holding a model's labels,
 * features and arch, the data, and the hyperparameters. */
#ifndef EARSHOT_CLI_RECIPE_H
#define EARSHOT_CLI_RECIPE_H

#include "earshot/model.h"
#include "earshot/train.h"

#define RECIPE_MAX_LIST 64

typedef struct {
    char *labels[ES_MAX_LABELS];
    int n_labels;              /* including "background" when the recipe asks for it */
    es_feature_desc features;
    es_layer_spec *layers;     /* es_free */
    int n_layers;
    char data_dir[1024], manifest[1024], label_regex[256], group_regex[256];
    char *val_groups[RECIPE_MAX_LIST];
    int n_val_groups;
    char *background_dirs[RECIPE_MAX_LIST];
    int n_background_dirs;
    char *background_manifests[RECIPE_MAX_LIST];
    int n_background_manifests;
    char *weight_kinds[RECIPE_MAX_LIST];  /* train.background_weights: kind = weight */
    double weights[RECIPE_MAX_LIST];
    es_train_config train;
} recipe;

/* Reads and checks a recipe; errors name file:line and the setting. */
int recipe_load(recipe *r, const char *path, char *err, size_t errlen);
void recipe_free(recipe *r);

#endif
