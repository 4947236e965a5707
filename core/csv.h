/* core/csv.h — one line of comma-separated values, split in place. */
#ifndef EARSHOT_CORE_CSV_H
#define EARSHOT_CORE_CSV_H

/* Splits line (NUL-terminated, no newline) into at most max fields,
 * rewriting it in place: fields[i] point into it. A field in double quotes
 * may hold commas, and "" inside it stands for one quote (RFC 4180).
 * Returns the field count, or -1 when the line has more than max fields or
 * a quote is not closed. */
int es__csv_split(char *line, char **fields, int max);

#endif
