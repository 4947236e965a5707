/* common/confread.h — strict reading of libconfig files, shared by the
 * training recipes (cli/recipe.c) and the daemon's config: a setting that is
 * present but of the wrong type, or a key nobody knows, is an error naming
 * file:line, never a silent default. The first error wins. */
#ifndef EARSHOT_CONFREAD_H
#define EARSHOT_CONFREAD_H

#include <libconfig.h>
#include <stddef.h>

typedef struct {
    const char *path;   /* the file, for messages */
    char *err;          /* the first error, "path:line: what" */
    size_t errlen;
    int bad;
} confread;

/* Records an error at setting s (fmt takes two strings). */
void confread_fail(confread *rd, const config_setting_t *s, const char *fmt, const char *a,
                   const char *b);
/* Member `name` of group g, or def when absent. */
int confread_int(confread *rd, const config_setting_t *g, const char *name, int def);
double confread_num(confread *rd, const config_setting_t *g, const char *name, double def);
int confread_bool(confread *rd, const config_setting_t *g, const char *name, int def);
const char *confread_str(confread *rd, const config_setting_t *g, const char *name,
                         const char *def);
/* Every member of g must be one of the NULL-terminated names. */
void confread_keys(confread *rd, const config_setting_t *g, const char *const *names);

#endif
