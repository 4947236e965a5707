/* cli/report.h — `earshot train --report DIR`: the training log and figures. */
#ifndef EARSHOT_CLI_REPORT_H
#define EARSHOT_CLI_REPORT_H

#include "earshot/model.h"

/* Loss, and training/validation accuracy, per epoch (val < 0: none). */
int report_curves(const char *path, const float *loss, const float *train_acc,
                  const float *val_acc, int epochs);

/* The confusion matrix [K × K] (rows true, columns predicted), counts in the
 * cells, rows shaded by the share of the true class. */
int report_confusion(const char *path, const es_model *m, const int *conf, const char *title);

#endif
