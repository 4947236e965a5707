/* core/csv.c — RFC 4180 fields of one line. */
#include "csv.h"

int es__csv_split(char *line, char **fields, int max) {
    char *r = line, *w = line;
    int n = 0;
    for (;;) {
        if (n == max) return -1;
        fields[n++] = w;
        if (*r == '"') {
            r++;
            for (;;) {
                if (*r == '\0') return -1;
                if (*r == '"' && r[1] == '"') {
                    *w++ = '"';
                    r += 2;
                } else if (*r == '"') {
                    r++;
                    break;
                } else {
                    *w++ = *r++;
                }
            }
            if (*r != ',' && *r != '\0') return -1; /* text after the closing quote */
        } else {
            while (*r != ',' && *r != '\0') *w++ = *r++;
        }
        if (*r == '\0') {
            *w = '\0';
            return n;
        }
        r++;      /* the comma */
        *w++ = '\0';
    }
}
