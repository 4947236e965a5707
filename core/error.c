/* core/error.c — error names, descriptions and the per-thread detail message. */
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

/* Long enough for a sentence naming a path and a value; longer details are
 * cut, never overflowed. */
#define ES__ERRMSG_MAX 512

static _Thread_local char errmsg[ES__ERRMSG_MAX];
static _Thread_local int errmsg_code;

const char *es_strerror(int code) {
    switch (code) {
    case ES_OK:
        return "success";
#define ES__ERR_DESC(name, val, desc) \
    case ES_##name:                   \
        return desc;
        ES_ERRNO_MAP(ES__ERR_DESC)
#undef ES__ERR_DESC
    default:
        return "unknown error";
    }
}

const char *es_err_name(int code) {
    switch (code) {
    case ES_OK:
        return "ES_OK";
#define ES__ERR_NAME(name, val, desc) \
    case ES_##name:                   \
        return "ES_" #name;
        ES_ERRNO_MAP(ES__ERR_NAME)
#undef ES__ERR_NAME
    default:
        return "ES_EUNKNOWN";
    }
}

int es__fail(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errmsg, sizeof errmsg, fmt, ap);
    va_end(ap);
    errmsg_code = code;
    return code;
}

void es__clear_error(void) {
    errmsg[0] = '\0';
    errmsg_code = 0;
}

const char *es_errmsg(void) {
    if (errmsg[0] != '\0') return errmsg;
    return es_strerror(errmsg_code);
}
