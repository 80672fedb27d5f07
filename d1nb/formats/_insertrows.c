/* The rows of a `wrangler d1 export` dump, split into typed columns natively.
 *
 * split(chunk, first_line, statement_limit) reads a buffer of whole lines. A line that starts
 * with "INSERT INTO " must be one INSERT of literal rows in the forms wrangler and the sqlite3
 * shell write:
 *
 *     INSERT INTO "t" ("a","b") VALUES(1,'it''s',X'00ff',NULL,2.5,replace('a\nb','\n',char(10)));
 *
 * Each value becomes a storage-class tag and its value in per-column buffers (the layout Arrow
 * uses), grouped by the INSERT's head (table and column list). Every other line is handed back
 * as text, in runs of consecutive lines, for the caller to run as SQL. Anything outside this
 * grammar (a space, a function, an integer of 19 digits or more, a number strtod might read
 * otherwise than SQLite, invalid UTF-8, a NUL) stops the split with the line and the reason:
 * the caller then loads the dump the exact way, through SQLite, which names what is wrong.
 *
 * The parsing runs without the GIL, so two chunks split at once on two threads.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { TAG_NULL = 0, TAG_INTEGER = 1, TAG_REAL = 2, TAG_TEXT = 3, TAG_NUMERIC_TEXT = 4, TAG_BLOB = 5 };

typedef struct {
    char *p;
    size_t n, cap;
} Buf;

static int buf_reserve(Buf *b, size_t extra) {
    if (b->n + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->n + extra) cap *= 2;
    char *p = realloc(b->p, cap);
    if (!p) return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *src, size_t len) {
    if (len == 0) return 0; /* an empty string into a buffer not yet allocated */
    if (buf_reserve(b, len)) return -1;
    memcpy(b->p + b->n, src, len);
    b->n += len;
    return 0;
}

typedef struct {
    Buf tags, nums, offsets, data; /* uint8, int64-or-double, int32 (rows + 1), bytes */
} Column;

typedef struct {
    const char *head; /* points into the chunk: "INSERT INTO … VALUES(" */
    size_t head_len;
    Py_ssize_t first_line, last_line, rows;
    int ncols;
    Column *cols;
} Group;

typedef struct {
    Py_ssize_t first_line, last_line;
    size_t start, end; /* byte range in the chunk, without the last line's newline */
} Run;

typedef struct {
    Group *groups;
    int ngroups, cap_groups;
    Run *runs;
    size_t nruns, cap_runs;
    int last_group; /* the group of the last INSERT read */
    Py_ssize_t oversized;
    Py_ssize_t problem_line;
    const char *problem;
    Buf scratch, scratch2;
} Split;

static void split_free(Split *s) {
    for (int g = 0; g < s->ngroups; g++) {
        for (int c = 0; c < s->groups[g].ncols; c++) {
            Column *col = &s->groups[g].cols[c];
            free(col->tags.p);
            free(col->nums.p);
            free(col->offsets.p);
            free(col->data.p);
        }
        free(s->groups[g].cols);
    }
    free(s->groups);
    free(s->runs);
    free(s->scratch.p);
    free(s->scratch2.p);
}

/* ---- UTF-8: what Python's strict decoder accepts (no surrogates, no overlong forms) ---- */

static int valid_utf8(const unsigned char *p, size_t n) {
    size_t i = 0;
    while (i < n) {
        while (i + 8 <= n) { /* eight ASCII bytes, none of them NUL, at a time */
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & 0x8080808080808080ull) || ((w - 0x0101010101010101ull) & ~w & 0x8080808080808080ull))
                break;
            i += 8;
        }
        if (i >= n) break;
        unsigned char c = p[i];
        if (c < 0x80) {
            if (c == 0) return 0; /* a NUL ends SQL text early in SQLite */
            i++;
            continue;
        }
        int need;
        uint32_t cp;
        if (c >= 0xC2 && c <= 0xDF) { need = 1; cp = c & 0x1F; }
        else if (c >= 0xE0 && c <= 0xEF) { need = 2; cp = c & 0x0F; }
        else if (c >= 0xF0 && c <= 0xF4) { need = 3; cp = c & 0x07; }
        else return 0;
        if (i + (size_t)need >= n) return 0;
        for (int k = 1; k <= need; k++) {
            unsigned char d = p[i + k];
            if ((d & 0xC0) != 0x80) return 0;
            cp = (cp << 6) | (d & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10FFFF))) return 0;
        if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
        i += need + 1;
    }
    return 1;
}

/* ---- the grammar ---- */

typedef struct {
    const char *p, *end;
    Split *s;
} Cursor;

static int fail(Cursor *c, const char *why) {
    if (!c->s->problem) c->s->problem = why;
    return -1;
}

static int starts(Cursor *c, const char *lit) {
    size_t n = strlen(lit);
    return (size_t)(c->end - c->p) >= n && memcmp(c->p, lit, n) == 0;
}

/* A quoted SQL string at c->p ('…' with '' for a quote) appended to out. */
static int read_string(Cursor *c, Buf *out) {
    if (c->p >= c->end || *c->p != '\'') return fail(c, "a value that is not a literal");
    c->p++;
    for (;;) {
        const char *q = memchr(c->p, '\'', c->end - c->p);
        if (!q) return fail(c, "a string that does not end on its line");
        if (buf_put(out, c->p, q - c->p)) return fail(c, "out of memory");
        if (q + 1 < c->end && q[1] == '\'') {
            if (buf_put(out, "'", 1)) return fail(c, "out of memory");
            c->p = q + 2;
            continue;
        }
        c->p = q + 1;
        return 0;
    }
}

/* replace(X,'marker',char(N)) with X a string or another replace(…): the text, in out. */
static int read_replace(Cursor *c, Buf *out, int depth) {
    if (depth > 3) return fail(c, "replace() nested too deep");
    c->p += 8; /* "replace(" */
    Buf inner = {0}, marker = {0};
    int rc = -1;
    if (starts(c, "replace(")) {
        if (read_replace(c, &inner, depth + 1)) goto done;
    } else if (read_string(c, &inner)) {
        goto done;
    }
    if (!starts(c, ",")) { fail(c, "replace() not in the form wrangler writes"); goto done; }
    c->p++;
    if (read_string(c, &marker)) goto done;
    if (!starts(c, ",char(")) { fail(c, "replace() not in the form wrangler writes"); goto done; }
    c->p += 6;
    int code = 0, digits = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9' && digits < 4) {
        code = code * 10 + (*c->p - '0');
        c->p++;
        digits++;
    }
    if (!digits || code < 1 || code > 127 || !starts(c, "))")) {
        fail(c, "replace() with a char() other than one ASCII character");
        goto done;
    }
    c->p += 2;
    char ch = (char)code;
    size_t i = 0;
    if (marker.n == 0) { /* SQLite's replace() with an empty pattern returns X unchanged */
        if (buf_put(out, inner.p, inner.n)) { fail(c, "out of memory"); goto done; }
    } else {
        while (i < inner.n) {
            if (i + marker.n <= inner.n && memcmp(inner.p + i, marker.p, marker.n) == 0) {
                if (buf_put(out, &ch, 1)) { fail(c, "out of memory"); goto done; }
                i += marker.n;
            } else {
                if (buf_put(out, inner.p + i, 1)) { fail(c, "out of memory"); goto done; }
                i++;
            }
        }
    }
    rc = 0;
done:
    free(inner.p);
    free(marker.p);
    return rc;
}

static int is_digit(char ch) { return ch >= '0' && ch <= '9'; }

static int is_space(unsigned char ch) {
    return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\v' || ch == '\f' || ch == '\r';
}

/* Text SQLite may turn into a number under a numeric affinity (sqlite3AtoF reading it whole):
 * white space, a sign, digits with at most one point, an exponent with digits, white space.
 * Checked against SQLite on every string of up to six such characters (tests). */
static int numeric_looking(const unsigned char *p, size_t n) {
    size_t i = 0, digits = 0;
    while (i < n && is_space(p[i])) i++;
    if (i < n && (p[i] == '+' || p[i] == '-')) i++;
    while (i < n && is_digit(p[i])) { i++; digits++; }
    if (i < n && p[i] == '.') {
        i++;
        while (i < n && is_digit(p[i])) { i++; digits++; }
    }
    if (!digits) return 0;
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        size_t exponent = 0;
        while (i < n && is_digit(p[i])) { i++; exponent++; }
        if (!exponent) return 0; /* sqlite3AtoF refuses "1e": such text stays text */
    }
    while (i < n && is_space(p[i])) i++;
    return i == n;
}

static int hexval(char ch) {
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int put_value(Column *col, unsigned char tag, const void *num8, const char *bytes,
                     size_t len) {
    if (buf_reserve(&col->tags, 1) || buf_reserve(&col->nums, 8) || buf_reserve(&col->offsets, 4))
        return -1;
    if (bytes && buf_put(&col->data, bytes, len)) return -1;
    if (col->data.n > INT32_MAX) return -1;
    col->tags.p[col->tags.n++] = (char)tag;
    if (num8) memcpy(col->nums.p + col->nums.n, num8, 8);
    else memset(col->nums.p + col->nums.n, 0, 8);
    col->nums.n += 8;
    int32_t off = (int32_t)col->data.n;
    memcpy(col->offsets.p + col->offsets.n, &off, 4);
    col->offsets.n += 4;
    return 0;
}

/* An integer literal beyond 64 bits, which SQLite reads as a REAL: taken only when it is a
 * double's exact value (as JavaScript prints whole doubles below 1e21), where any correct
 * reading gives that double. */
static int read_big_integer(Cursor *c, const char *start, const char *digits, int negative,
                            double *out) {
    char tmp[40], back[48];
    size_t len = c->p - start;
    if (len >= sizeof tmp) return fail(c, "an integer beyond 64 bits");
    memcpy(tmp, start, len);
    tmp[len] = 0;
    errno = 0;
    double d = strtod(tmp, NULL);
    if (errno == ERANGE || !isfinite(d)) return fail(c, "an integer beyond 64 bits");
    int n = snprintf(back, sizeof back, "%s%.0f", negative ? "-" : "", fabs(d));
    size_t want = (size_t)(c->p - digits);
    if (n < 0 || (size_t)n != want + (negative ? 1 : 0) ||
        memcmp(back + (negative ? 1 : 0), digits, want) != 0)
        return fail(c, "an integer beyond 64 bits that no double holds exactly");
    *out = d;
    return 0;
}

/* A decimal whose digits fit 2^53 and whose power of ten is at most 22: m * 10^e or m / 10^e
 * is then one correctly rounded operation on exact doubles (Clinger's fast path), the value
 * strtod gives. Returns 0 for any other form (strtod then reads it). */
static int exact_decimal(const char *p, const char *end, double *out) {
    static const double powers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                    1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
    int negative = *p == '-';
    if (negative) p++;
    uint64_t m = 0;
    int digits = 0, scale = 0, point = 0;
    for (; p < end && (is_digit(*p) || *p == '.'); p++) {
        if (*p == '.') { point = 1; continue; }
        if (m == 0 && *p == '0') { if (point) scale--; continue; }
        if (++digits > 15) return 0;
        m = m * 10 + (uint64_t)(*p - '0');
        if (point) scale--;
    }
    if (p < end) { /* an exponent */
        p++;
        int sign = 1, e = 0;
        if (*p == '+' || *p == '-') { sign = *p == '-' ? -1 : 1; p++; }
        for (; p < end; p++) e = e * 10 + (*p - '0');
        scale += sign * e;
    }
    if (m == 0) return 0; /* zero and its sign: strtod decides */
    if (scale < -22 || scale > 22) return 0;
    double v = (double)m;
    v = scale < 0 ? v / powers[-scale] : v * powers[scale];
    *out = negative ? -v : v;
    return 1;
}

static int read_value(Cursor *c, Column *col) {
    if (c->p >= c->end) return fail(c, "a row that does not end on its line");
    char ch = *c->p;
    if (ch == 'N') {
        if (!starts(c, "NULL")) return fail(c, "a value that is not a literal");
        c->p += 4;
        if (put_value(col, TAG_NULL, NULL, NULL, 0)) return fail(c, "out of memory");
        return 0;
    }
    if (ch == '\'' || ch == 'r') {
        Buf *data = &col->data;
        size_t at = data->n; /* the text goes straight into the column's data */
        if (ch == '\'') {
            if (read_string(c, data)) return -1;
        } else {
            if (!starts(c, "replace(")) return fail(c, "a value that is not a literal");
            if (read_replace(c, data, 0)) return -1;
        }
        const unsigned char *text = (const unsigned char *)data->p + at;
        size_t len = data->n - at;
        if (!valid_utf8(text, len)) return fail(c, "text that is not valid UTF-8, or holds a NUL");
        unsigned char tag = numeric_looking(text, len) ? TAG_NUMERIC_TEXT : TAG_TEXT;
        if (put_value(col, tag, NULL, NULL, 0)) return fail(c, "out of memory");
        return 0;
    }
    if ((ch == 'X' || ch == 'x') && c->p + 1 < c->end && c->p[1] == '\'') {
        const char *q = c->p + 2;
        const char *close = memchr(q, '\'', c->end - q);
        if (!close || (close - q) % 2) return fail(c, "a blob literal that is not whole bytes");
        Buf *raw = &c->s->scratch;
        raw->n = 0;
        if (buf_reserve(raw, (close - q) / 2 + 1)) return fail(c, "out of memory");
        for (const char *h = q; h < close; h += 2) {
            int hi = hexval(h[0]), lo = hexval(h[1]);
            if (hi < 0 || lo < 0) return fail(c, "a blob literal with a non-hex digit");
            raw->p[raw->n++] = (char)(hi * 16 + lo);
        }
        c->p = close + 1;
        if (put_value(col, TAG_BLOB, NULL, raw->p, raw->n)) return fail(c, "out of memory");
        return 0;
    }
    if (ch == '-' || is_digit(ch)) {
        const char *start = c->p;
        int negative = ch == '-';
        if (negative) c->p++;
        const char *digits = c->p;
        while (c->p < c->end && is_digit(*c->p)) c->p++;
        size_t int_digits = c->p - digits;
        if (!int_digits) return fail(c, "a value that is not a literal");
        int real = 0;
        if (c->p < c->end && *c->p == '.') {
            c->p++;
            const char *frac = c->p;
            while (c->p < c->end && is_digit(*c->p)) c->p++;
            if (c->p == frac) return fail(c, "a number in a form JavaScript does not print");
            real = 1;
        }
        if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
            c->p++;
            if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
            const char *exp = c->p;
            while (c->p < c->end && is_digit(*c->p)) c->p++;
            if (c->p == exp || c->p - exp > 3) return fail(c, "a number with an odd exponent");
            real = 1;
        }
        if (!real) { /* SQLite reads it as an INTEGER when it fits 64 bits, -2^63 included */
            const char *d = digits;
            while (d < c->p - 1 && *d == '0') d++;
            uint64_t magnitude = 0;
            int fits = c->p - d <= 19;
            for (const char *e = d; fits && e < c->p; e++)
                magnitude = magnitude * 10 + (uint64_t)(*e - '0');
            if (!fits || magnitude > (uint64_t)INT64_MAX + (negative ? 1u : 0u)) {
                double big;
                if (read_big_integer(c, start, d, negative, &big)) return -1;
                if (put_value(col, TAG_REAL, &big, NULL, 0)) return fail(c, "out of memory");
                return 0;
            }
            int64_t v = negative ? (int64_t)(0 - magnitude) : (int64_t)magnitude;
            if (put_value(col, TAG_INTEGER, &v, NULL, 0)) return fail(c, "out of memory");
            return 0;
        }
        /* significant digits: strtod and SQLite agree on the shortest forms JavaScript
         * prints (17 digits at most); beyond, the exact path decides */
        double fast;
        if (exact_decimal(start, c->p, &fast)) {
            if (put_value(col, TAG_REAL, &fast, NULL, 0)) return fail(c, "out of memory");
            return 0;
        }
        int significant = 0, leading = 1;
        for (const char *d = digits; d < c->p && *d != 'e' && *d != 'E'; d++) {
            if (*d == '.') continue;
            if (leading && *d == '0') continue;
            leading = 0;
            significant++;
        }
        if (significant > 17) return fail(c, "a number of more than 17 significant digits");
        char tmp[64];
        size_t len = c->p - start;
        if (len >= sizeof tmp) return fail(c, "a number too long to read exactly");
        memcpy(tmp, start, len);
        tmp[len] = 0;
        errno = 0;
        char *stop;
        double d = strtod(tmp, &stop);
        if (stop != tmp + len || errno == ERANGE || !isfinite(d) ||
            (d != 0 && fabs(d) < 2.2250738585072014e-308))
            return fail(c, "a number beyond the normal range of a double");
        if (d == 0 && signbit(d)) return fail(c, "a negative zero");
        if (put_value(col, TAG_REAL, &d, NULL, 0)) return fail(c, "out of memory");
        return 0;
    }
    return fail(c, "a value that is not a literal");
}

/* An identifier as wrangler writes it: "…" with "" for a quote, or a bare word. */
static int read_identifier(Cursor *c) {
    if (c->p < c->end && *c->p == '"') {
        c->p++;
        for (;;) {
            const char *q = memchr(c->p, '"', c->end - c->p);
            if (!q) return fail(c, "a quoted name that does not end");
            c->p = q + 1;
            if (c->p < c->end && *c->p == '"') {
                c->p++;
                continue;
            }
            return 0;
        }
    }
    const char *start = c->p;
    while (c->p < c->end && (is_digit(*c->p) || *c->p == '_' || (*c->p >= 'a' && *c->p <= 'z') ||
                             (*c->p >= 'A' && *c->p <= 'Z')))
        c->p++;
    if (c->p == start || is_digit(*start)) return fail(c, "a table name in a form not read here");
    return 0;
}

static Group *group_for(Split *s, const char *head, size_t len, Py_ssize_t line) {
    for (int g = s->ngroups - 1; g >= 0; g--) {
        Group *gr = &s->groups[g];
        if (gr->head_len == len && memcmp(gr->head, head, len) == 0) {
            gr->last_line = line;
            return gr;
        }
    }
    if (s->ngroups == s->cap_groups) {
        int cap = s->cap_groups ? s->cap_groups * 2 : 8;
        Group *p = realloc(s->groups, cap * sizeof(Group));
        if (!p) return NULL;
        s->groups = p;
        s->cap_groups = cap;
    }
    Group *gr = &s->groups[s->ngroups++];
    memset(gr, 0, sizeof *gr);
    gr->head = head;
    gr->head_len = len;
    gr->first_line = gr->last_line = line;
    gr->ncols = -1;
    return gr;
}

static int read_rows(Split *s, Cursor *cursor, Group *gr);

static int read_insert(Split *s, const char *line, const char *end, Py_ssize_t lineno) {
    Cursor c = {line + 12, end, s};
    Group *gr = s->ngroups ? &s->groups[s->last_group] : NULL;
    if (gr && gr->ncols >= 0 && (size_t)(end - line) > gr->head_len &&
        memcmp(line, gr->head, gr->head_len) == 0) { /* the head of the line before */
        gr->last_line = lineno;
        c.p = line + gr->head_len;
        return read_rows(s, &c, gr);
    }
    if (read_identifier(&c)) return -1;
    if (starts(&c, " (")) {
        c.p += 2;
        for (;;) {
            if (read_identifier(&c)) return -1;
            if (starts(&c, ",")) { c.p++; continue; }
            if (starts(&c, ")")) { c.p++; break; }
            return fail(&c, "a column list in a form not read here");
        }
    }
    if (!starts(&c, " VALUES(")) return fail(&c, "an INSERT that is not of literal rows");
    c.p += 8;
    gr = group_for(s, line, c.p - line, lineno);
    if (!gr) return fail(&c, "out of memory");
    s->last_group = (int)(gr - s->groups);
    return read_rows(s, &c, gr);
}

/* The rows after an INSERT's head: "(v,…)" separated by ",", then ";" at the line's end. */
static int read_rows(Split *s, Cursor *cursor, Group *gr) {
    Cursor c = *cursor;
    for (;;) {
        int n = 0;
        for (;;) {
            if (gr->ncols >= 0 && n >= gr->ncols) return fail(&c, "rows of different widths");
            if (gr->ncols < 0) {
                Column *cols = realloc(gr->cols, (n + 1) * sizeof(Column));
                if (!cols) return fail(&c, "out of memory");
                gr->cols = cols;
                memset(&cols[n], 0, sizeof(Column));
                int32_t zero = 0;
                if (buf_put(&cols[n].offsets, &zero, 4)) return fail(&c, "out of memory");
            }
            if (read_value(&c, &gr->cols[n])) return -1;
            n++;
            if (starts(&c, ",")) { c.p++; continue; }
            if (starts(&c, ")")) { c.p++; break; }
            return fail(&c, "values not separated as wrangler writes them");
        }
        if (gr->ncols < 0) gr->ncols = n;
        else if (n != gr->ncols) return fail(&c, "rows of different widths");
        gr->rows++;
        if (starts(&c, ",(")) { c.p += 2; continue; }
        if (c.end - c.p == 1 && *c.p == ';') return 0;
        return fail(&c, "something after the row besides ';'");
    }
}

static int add_run(Split *s, Py_ssize_t line, size_t start, size_t end) {
    if (s->nruns && s->runs[s->nruns - 1].last_line == line - 1) {
        s->runs[s->nruns - 1].last_line = line;
        s->runs[s->nruns - 1].end = end;
        return 0;
    }
    if (s->nruns == s->cap_runs) {
        size_t cap = s->cap_runs ? s->cap_runs * 2 : 16;
        Run *p = realloc(s->runs, cap * sizeof(Run));
        if (!p) return -1;
        s->runs = p;
        s->cap_runs = cap;
    }
    s->runs[s->nruns++] = (Run){line, line, start, end};
    return 0;
}

static Py_ssize_t run_split(Split *s, const char *buf, size_t n, Py_ssize_t first_line,
                            Py_ssize_t limit) {
    size_t pos = 0;
    Py_ssize_t lineno = first_line;
    while (pos < n) {
        const char *nl = memchr(buf + pos, '\n', n - pos);
        size_t stop = nl ? (size_t)(nl - buf) : n;
        size_t text_end = stop;
        if (text_end > pos && buf[text_end - 1] == '\r') text_end--;
        if (text_end - pos >= 12 && memcmp(buf + pos, "INSERT INTO ", 12) == 0) {
            if ((Py_ssize_t)(text_end - pos) > limit) s->oversized++;
            if (read_insert(s, buf + pos, buf + text_end, lineno)) {
                s->problem_line = lineno;
                return lineno;
            }
        } else if (add_run(s, lineno, pos, stop)) {
            s->problem = "out of memory";
            s->problem_line = lineno;
            return lineno;
        }
        pos = stop + 1;
        lineno++;
    }
    return lineno - first_line;
}

static PyObject *bytes_of(Buf *b) { return PyBytes_FromStringAndSize(b->p ? b->p : "", b->n); }

static PyObject *split(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t first_line, limit;
    if (!PyArg_ParseTuple(args, "y*nn", &view, &first_line, &limit)) return NULL;
    Split s;
    memset(&s, 0, sizeof s);
    Py_ssize_t lines;
    Py_BEGIN_ALLOW_THREADS
    lines = run_split(&s, view.buf, (size_t)view.len, first_line, limit);
    Py_END_ALLOW_THREADS
    PyObject *result = NULL, *groups = NULL, *runs = NULL, *problem = NULL;
    if (s.problem) {
        problem = Py_BuildValue("(ns)", s.problem_line, s.problem);
        groups = PyList_New(0);
        runs = PyList_New(0);
    } else {
        problem = Py_NewRef(Py_None);
        groups = PyList_New(s.ngroups);
        runs = PyList_New((Py_ssize_t)s.nruns);
        if (!groups || !runs) goto done;
        for (int g = 0; g < s.ngroups; g++) {
            Group *gr = &s.groups[g];
            PyObject *cols = PyList_New(gr->ncols);
            if (!cols) goto done;
            for (int k = 0; k < gr->ncols; k++) {
                Column *col = &gr->cols[k];
                PyObject *t = Py_BuildValue("(NNNN)", bytes_of(&col->tags), bytes_of(&col->nums),
                                            bytes_of(&col->offsets), bytes_of(&col->data));
                if (!t) { Py_DECREF(cols); goto done; }
                PyList_SET_ITEM(cols, k, t);
            }
            PyObject *item = Py_BuildValue("(y#nnnN)", gr->head, (Py_ssize_t)gr->head_len,
                                           gr->first_line, gr->last_line, gr->rows, cols);
            if (!item) goto done;
            PyList_SET_ITEM(groups, g, item);
        }
        for (size_t r = 0; r < s.nruns; r++) {
            Run *run = &s.runs[r];
            PyObject *item = Py_BuildValue("(nny#)", run->first_line, run->last_line,
                                           (const char *)view.buf + run->start,
                                           (Py_ssize_t)(run->end - run->start));
            if (!item) goto done;
            PyList_SET_ITEM(runs, (Py_ssize_t)r, item);
        }
    }
    if (groups && runs && problem)
        result = Py_BuildValue("(OOnOn)", groups, runs, s.oversized, problem, lines);
done:
    Py_XDECREF(groups);
    Py_XDECREF(runs);
    Py_XDECREF(problem);
    split_free(&s);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"split", split, METH_VARARGS,
     "split(chunk, first_line, statement_limit) -> (groups, runs, oversized, problem, lines)\n\n"
     "groups: (head, first line, last line, rows, [(tags, nums, offsets, data)] per column);\n"
     "runs: (first line, last line, text) of the other lines; oversized: INSERT lines longer\n"
     "than statement_limit bytes; problem: None, or (line, reason) where the split stopped;\n"
     "lines: how many lines the chunk holds (a last line without a newline counted)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_insertrows",
    "The rows of a wrangler d1 export dump, split into typed columns natively.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__insertrows(void) {
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    if (PyModule_AddIntConstant(m, "NULL", TAG_NULL) || PyModule_AddIntConstant(m, "INTEGER", TAG_INTEGER) ||
        PyModule_AddIntConstant(m, "REAL", TAG_REAL) || PyModule_AddIntConstant(m, "TEXT", TAG_TEXT) ||
        PyModule_AddIntConstant(m, "NUMERIC_TEXT", TAG_NUMERIC_TEXT) ||
        PyModule_AddIntConstant(m, "BLOB", TAG_BLOB)) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
