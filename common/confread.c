/* common/confread.c — strict reading of libconfig settings. */
#include "confread.h"

#include <stdio.h>
#include <string.h>

void confread_fail(confread *rd, const config_setting_t *s, const char *fmt, const char *a,
                    const char *b) {
    if (rd->bad) return;
    rd->bad = 1;
    snprintf(rd->err, rd->errlen, "%s:%d: ", rd->path, s ? config_setting_source_line(s) : 0);
    snprintf(rd->err + strlen(rd->err), rd->errlen - strlen(rd->err), fmt, a, b);
}

/* A setting that is present but not a number is an error, never a silent
 * default. */
int confread_int(confread *rd, const config_setting_t *g, const char *name, int def) {
    const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;
    if (!s) return def;
    if (config_setting_type(s) != CONFIG_TYPE_INT) {
        confread_fail(rd, s, "'%s.%s' must be an integer", config_setting_name(g), name);
        return def;
    }
    return config_setting_get_int(s);
}

double confread_num(confread *rd, const config_setting_t *g, const char *name, double def) {
    const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;
    if (!s) return def;
    if (config_setting_type(s) == CONFIG_TYPE_FLOAT) return config_setting_get_float(s);
    if (config_setting_type(s) == CONFIG_TYPE_INT) return config_setting_get_int(s);
    confread_fail(rd, s, "'%s.%s' must be a number", config_setting_name(g), name);
    return def;
}

int confread_bool(confread *rd, const config_setting_t *g, const char *name, int def) {
    const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;
    if (!s) return def;
    if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
        confread_fail(rd, s, "'%s.%s' must be true or false", config_setting_name(g), name);
        return def;
    }
    return config_setting_get_bool(s);
}

/* Every member of group g must be one of the NULL-terminated names: a
 * misspelt setting is an error, not a default. */
void confread_keys(confread *rd, const config_setting_t *g, const char *const *names) {
    for (int i = 0; g && i < config_setting_length(g); i++) {
        const config_setting_t *m = config_setting_get_elem(g, (unsigned)i);
        const char *n = config_setting_name(m);
        int ok = 0;
        for (int k = 0; names[k] && !ok; k++) ok = strcmp(n, names[k]) == 0;
        if (!ok) {
            const char *gn = config_setting_name(g);
            confread_fail(rd, m, "unknown setting '%s' in '%s'", n, gn ? gn : "(top level)");
        }
    }
}

const char *confread_str(confread *rd, const config_setting_t *g, const char *name,
                         const char *def) {
    const config_setting_t *s = g ? config_setting_get_member(g, name) : NULL;
    if (!s) return def;
    if (config_setting_type(s) != CONFIG_TYPE_STRING) {
        confread_fail(rd, s, "'%s.%s' must be a string", config_setting_name(g), name);
        return def;
    }
    return config_setting_get_string(s);
}
