/*
 * One pass over a JSON array of latency events, straight to columns.
 *
 * The batched ingest path spent about half the worker's CPU building one msgspec
 * struct per event and then pulling its fields back out into columns
 * (docs/BENCHMARKS.md). This scanner reads the bytes once and writes the columns
 * directly: per event its timestamp as epoch seconds, its seven latency fields (NaN
 * when absent or null) and small integer codes for the values series are grouped by.
 *
 * It is an accelerator, not a definition: it answers only for compact, ASCII,
 * escape-free arrays of well-formed latency events and returns None for anything
 * else (another payload, an unknown or duplicate key, whitespace before a colon, a
 * malformed value), so the msgspec path and in turn the pydantic models decide.
 * tests/unit/ingest/test_batch_scan.py checks it against those paths, byte for byte.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define DECLINE (-1)
#define MAX_NAMES 64
#define MAX_TAGS 64
#define VALUES_PER_EVENT 8 /* time, total, ttft, tokens/s, queue, processing, network, other */
#define CODES_PER_EVENT 8  /* module, event type, severity, environment, model, tags,
                              count series group, measurement series group */
#define KEY_WIDTH 4

typedef struct {
    const char *p;
    Py_ssize_t n;
} Slice;

typedef struct {
    Slice names[MAX_NAMES];
    int count;
} NameSet;

static NameSet modules, event_types, severities;
static PyObject *configured; /* keeps the configured names' bytes alive */

typedef struct {
    Slice *items;
    Py_ssize_t count, capacity, last;
} Distinct;

typedef struct {
    const char *p, *end;
    int controls; /* raw control characters occur somewhere in the message */
} Cursor;

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\t' || *c->p == '\r'))
        c->p++;
}

static inline int expect(Cursor *c, char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return DECLINE;
    c->p++;
    return 0;
}

static inline int same(Slice a, const char *b, Py_ssize_t n) {
    return a.n == n && memcmp(a.p, b, (size_t)n) == 0;
}
#define IS(slice, literal) same((slice), (literal), (Py_ssize_t)(sizeof(literal) - 1))

/* The whole message is ASCII without backslashes: anything else is declined before
   parsing. Also notes whether raw control characters occur at all (compact JSON has
   none, so then a string ends at its next quote). One branch-free pass the
   compiler vectorises. */
static int screen(Cursor *c) {
    const unsigned char *p = (const unsigned char *)c->p;
    Py_ssize_t n = c->end - c->p;
    unsigned char high = 0, backslash = 0, control = 0; /* bytes: 16 or 32 lanes per step */
    for (Py_ssize_t i = 0; i < n; i++) {
        high |= p[i];
        backslash |= p[i] == '\\';
        control |= p[i] < 0x20;
    }
    high &= 0x80;
    c->controls = control != 0;
    return high || backslash ? DECLINE : 0;
}

/* A string (ASCII without escapes, as ``screen`` made sure) without raw control
   characters, which JSON forbids inside strings. */
static int scan_string(Cursor *c, Slice *out) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') return DECLINE;
    const char *start = ++c->p, *quote = start;
    while (quote < c->end && *quote != '"') quote++; /* short strings: cheaper than memchr */
    if (quote == c->end) return DECLINE;
    if (c->controls) {
        for (const char *q = start; q < quote; q++)
            if ((unsigned char)*q < 0x20) return DECLINE;
    }
    out->p = start;
    out->n = quote - start;
    c->p = quote + 1;
    return 0;
}

/* A key and the colon right after it (whitespace before the colon is left to the
   slower paths, which decline it too). */
static int scan_key(Cursor *c, Slice *key) {
    if (scan_string(c, key) < 0) return DECLINE;
    if (c->p >= c->end || *c->p != ':') return DECLINE;
    c->p++;
    return 0;
}

/* After a member: 1 when another follows, 0 at the object's end. */
static int next_member(Cursor *c) {
    skip_ws(c);
    if (c->p >= c->end) return DECLINE;
    if (*c->p == ',') {
        c->p++;
        return 1;
    }
    if (*c->p == '}') {
        c->p++;
        return 0;
    }
    return DECLINE;
}

/* Opens an object: 1 when it has members, 0 when it is empty. */
static int open_object(Cursor *c) {
    if (expect(c, '{') < 0) return DECLINE;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        c->p++;
        return 0;
    }
    return 1;
}

static int scan_null(Cursor *c) {
    skip_ws(c);
    if (c->end - c->p >= 4 && memcmp(c->p, "null", 4) == 0) {
        c->p += 4;
        return 1;
    }
    return 0;
}

static const double POW10[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                               1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                               1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* m / 10**k correctly rounded, for m < 2**64 and k <= 19, when the quotient's binary
   exponent allows an exact 128-bit check (roughly 0.001 to 2**53; else DECLINE).
   The quotient of the two rounded doubles is within one unit in the last place; it
   or its neighbour is the answer exactly when m / 10**k lies strictly inside its
   rounding interval, checked in integers. A tie or a power of two goes to the
   caller's general parser. */
static int exact_quotient(uint64_t m, int k, double *out) {
    uint64_t power = 1;
    for (int i = 0; i < k; i++) power *= 10;
    double d = (double)m / POW10[k];
    for (int attempt = 0; attempt < 2; attempt++) {
        int e;
        double f = frexp(d, &e); /* d = f * 2**e, f in [0.5, 1) */
        uint64_t M = (uint64_t)ldexp(f, 53);
        int shift = 54 - e; /* d = M * 2**(e - 53); the interval's ends are (2M +- 1) * 2**(e - 54) */
        if (M == (UINT64_C(1) << 52) || shift < 0 || shift > 63) return DECLINE;
        unsigned __int128 scaled = (unsigned __int128)m << shift;
        unsigned __int128 low = (unsigned __int128)(2 * M - 1) * power;
        unsigned __int128 high = (unsigned __int128)(2 * M + 1) * power;
        if (scaled > low && scaled < high) {
            *out = d;
            return 0;
        }
        d = nextafter(d, scaled <= low ? 0.0 : INFINITY);
    }
    return DECLINE;
}

/* A strict JSON number as the correctly rounded finite double: exact integer
   arithmetic for the plain decimals producers write (Clinger's fast path, then
   exact_quotient); anything else through Python's own correctly rounded parser. */
static int scan_number(Cursor *c, double *out) {
    skip_ws(c);
    const char *start = c->p, *end = c->end;
    const char *p = start;
    int negative = 0, digits = 0, dropped = 0, scale = 0;
    uint64_t mantissa = 0;
    if (p < end && *p == '-') {
        negative = 1;
        p++;
    }
    if (p >= end) return DECLINE;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 19) mantissa = mantissa * 10 + (uint64_t)(*p - '0');
            else dropped = 1;
            digits++;
            p++;
        }
    } else {
        return DECLINE;
    }
    if (p < end && *p == '.') {
        p++;
        if (p >= end || *p < '0' || *p > '9') return DECLINE;
        while (p < end && *p >= '0' && *p <= '9') {
            if (digits < 19) {
                mantissa = mantissa * 10 + (uint64_t)(*p - '0');
                scale++;
                digits += mantissa != 0; /* leading zeros of a fraction are not significant */
            } else {
                dropped = 1;
            }
            p++;
        }
    }
    int has_exponent = 0;
    if (p < end && (*p == 'e' || *p == 'E')) {
        has_exponent = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || *p < '0' || *p > '9') return DECLINE;
        while (p < end && *p >= '0' && *p <= '9') p++;
    }
    c->p = p;
    double value = 0.0;
    int known = 0;
    if (!has_exponent && !dropped) {
        if (mantissa <= (UINT64_C(1) << 53) && scale <= 22) {
            value = (double)mantissa / POW10[scale];
            known = 1;
        } else if (scale <= 19 && exact_quotient(mantissa, scale, &value) == 0) {
            known = 1;
        }
        if (known && negative) value = -value;
    }
    if (!known) {
        char buffer[64];
        Py_ssize_t length = p - start;
        if (length >= (Py_ssize_t)sizeof buffer) return DECLINE;
        memcpy(buffer, start, (size_t)length);
        buffer[length] = '\0';
        char *stop = NULL;
        value = PyOS_string_to_double(buffer, &stop, NULL);
        if (value == -1.0 && PyErr_Occurred()) {
            PyErr_Clear();
            return DECLINE;
        }
        if (stop != buffer + length) return DECLINE;
    }
    if (!isfinite(value)) return DECLINE;
    *out = value;
    return 0;
}

static int scan_optional_number(Cursor *c, double *out) {
    if (scan_null(c)) {
        *out = NAN;
        return 0;
    }
    return scan_number(c, out);
}

static unsigned char HEX[256]; /* 1 for the hexadecimal digits, filled at import */

/* The canonical 8-4-4-4-12 form, either case. */
static int is_uuid(Slice s) {
    static const int dashes[] = {8, 13, 18, 23};
    if (s.n != 36) return 0;
    const unsigned char *p = (const unsigned char *)s.p;
    unsigned int ok = 1;
    for (int i = 0; i < 4; i++) ok &= p[dashes[i]] == '-';
    for (int i = 0; i < 36; i++) ok &= HEX[p[i]] | (i == 8) | (i == 13) | (i == 18) | (i == 23);
    return (int)ok;
}

static int digits_at(Slice s, Py_ssize_t at, int count, int64_t *out) {
    int64_t value = 0;
    for (int i = 0; i < count; i++) {
        char ch = s.p[at + i];
        if (ch < '0' || ch > '9') return 0;
        value = value * 10 + (ch - '0');
    }
    *out = value;
    return 1;
}

/* ``1.<digits>.<digits>``, the schema versions this hub reads. */
static int is_schema_version(Slice s) {
    Py_ssize_t i = 2, dots = 0, run = 0;
    if (s.n < 5 || s.p[0] != '1' || s.p[1] != '.') return 0;
    for (; i < s.n; i++) {
        if (s.p[i] == '.') {
            if (run == 0 || ++dots > 1) return 0;
            run = 0;
        } else if (s.p[i] >= '0' && s.p[i] <= '9') {
            run++;
        } else {
            return 0;
        }
    }
    return dots == 1 && run > 0;
}

static const int DAYS_IN_MONTH[] = {0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

/* ``YYYY-MM-DDTHH:MM:SS[.f{1,6}](Z|±HH:MM)`` with a year in 1970-2199, as epoch
   seconds computed in integer microseconds and divided by 10**6, as
   ``datetime.timestamp`` does (pipeline/ingest/fast_timestamps.py has the same rules). */
static int parse_timestamp(Slice s, double *out) {
    int64_t year, month, day, hour, minute, second, micros = 0, offset = 0;
    if (s.n < 20 || s.p[4] != '-' || s.p[7] != '-' || s.p[10] != 'T' || s.p[13] != ':' ||
        s.p[16] != ':')
        return DECLINE;
    if (!digits_at(s, 0, 4, &year) || !digits_at(s, 5, 2, &month) || !digits_at(s, 8, 2, &day) ||
        !digits_at(s, 11, 2, &hour) || !digits_at(s, 14, 2, &minute) ||
        !digits_at(s, 17, 2, &second))
        return DECLINE;
    Py_ssize_t at = 19;
    if (s.p[at] == '.') {
        at++;
        int places = 0;
        while (at < s.n && s.p[at] >= '0' && s.p[at] <= '9') {
            if (++places > 6) return DECLINE;
            micros = micros * 10 + (s.p[at] - '0');
            at++;
        }
        if (places == 0) return DECLINE;
        for (; places < 6; places++) micros *= 10;
    }
    if (s.n - at == 1 && s.p[at] == 'Z') {
        offset = 0;
    } else if (s.n - at == 6 && (s.p[at] == '+' || s.p[at] == '-') && s.p[at + 3] == ':') {
        int64_t zone_hours, zone_minutes;
        if (!digits_at(s, at + 1, 2, &zone_hours) || !digits_at(s, at + 4, 2, &zone_minutes))
            return DECLINE;
        if (zone_hours > 19 || zone_minutes > 59) return DECLINE;
        offset = zone_hours * 3600 + zone_minutes * 60;
        if (s.p[at] == '-') offset = -offset;
    } else {
        return DECLINE;
    }
    if (year < 1970 || year > 2199 || month < 1 || month > 12 || day < 1) return DECLINE;
    int leap = (year % 4 == 0) && ((year % 100 != 0) || (year % 400 == 0));
    if (day > DAYS_IN_MONTH[month] + (leap && month == 2)) return DECLINE;
    if (hour > 23 || minute > 59 || second > 59) return DECLINE;
    int64_t shifted = year - (month <= 2);
    int64_t era = shifted / 400; /* non-negative here: no floor adjustment needed */
    int64_t year_of_era = shifted - era * 400;
    int64_t day_of_year = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    int64_t days = era * 146097 + day_of_era - 719468;
    int64_t total = (days * 86400 + hour * 3600 + minute * 60 + second - offset) * 1000000 + micros;
    *out = (double)total / 1e6;
    return 0;
}

static int name_code(const NameSet *set, Slice s) {
    for (int i = 0; i < set->count; i++)
        if (same(s, set->names[i].p, set->names[i].n)) return i;
    return DECLINE;
}

/* The index of a value among the distinct ones seen so far (the last match first:
   a batch usually repeats one value). */
static Py_ssize_t distinct_code(Distinct *d, Slice s) {
    if (d->last >= 0 && same(s, d->items[d->last].p, d->items[d->last].n)) return d->last;
    for (Py_ssize_t i = 0; i < d->count; i++) {
        if (same(s, d->items[i].p, d->items[i].n)) return d->last = i;
    }
    if (d->count == d->capacity) {
        Py_ssize_t capacity = d->capacity ? 2 * d->capacity : 8;
        Slice *grown = PyMem_Realloc(d->items, (size_t)capacity * sizeof(Slice));
        if (grown == NULL) return DECLINE;
        d->items = grown;
        d->capacity = capacity;
    }
    d->items[d->count] = s;
    return d->last = d->count++;
}

/* A tags object of strings; its identity is its text (Python merges equal ones
   written differently). */
static int scan_tags(Cursor *c, Slice *text) {
    skip_ws(c);
    const char *start = c->p;
    Slice keys[MAX_TAGS];
    int count = 0, more = open_object(c);
    if (more < 0) return DECLINE;
    while (more == 1) {
        Slice key, value;
        if (scan_key(c, &key) < 0 || scan_string(c, &value) < 0) return DECLINE;
        if (count == MAX_TAGS) return DECLINE;
        for (int i = 0; i < count; i++)
            if (same(key, keys[i].p, keys[i].n)) return DECLINE;
        keys[count++] = key;
        more = next_member(c);
        if (more < 0) return DECLINE;
    }
    text->p = start;
    text->n = c->p - start;
    return 0;
}

static int scan_breakdown(Cursor *c, double *fields) {
    if (scan_null(c)) return 0;
    int seen = 0, more = open_object(c);
    if (more < 0) return DECLINE;
    while (more == 1) {
        Slice key;
        int bit, slot;
        if (scan_key(c, &key) < 0) return DECLINE;
        if (IS(key, "queue_time_ms")) bit = 1, slot = 0;
        else if (IS(key, "processing_time_ms")) bit = 2, slot = 1;
        else if (IS(key, "network_time_ms")) bit = 4, slot = 2;
        else if (IS(key, "other_ms")) bit = 8, slot = 3;
        else return DECLINE;
        if (seen & bit) return DECLINE;
        seen |= bit;
        if (scan_number(c, &fields[slot]) < 0) return DECLINE;
        more = next_member(c);
        if (more < 0) return DECLINE;
    }
    return seen == 15 ? 0 : DECLINE;
}

/* ``data`` of a latency payload: values[1..7] and the model's text. */
static int scan_latency_data(Cursor *c, double *values, Slice *model) {
    int seen = 0, more = open_object(c);
    Slice key, text;
    if (more < 0) return DECLINE;
    while (more == 1) {
        int bit;
        if (scan_key(c, &key) < 0) return DECLINE;
        if (IS(key, "telemetry_type")) {
            bit = 1;
            if (scan_string(c, &text) < 0 || !IS(text, "latency")) return DECLINE;
        } else if (IS(key, "model_id")) {
            bit = 2;
            if (scan_string(c, model) < 0) return DECLINE;
        } else if (IS(key, "request_id")) {
            bit = 4;
            if (scan_string(c, &text) < 0) return DECLINE;
        } else if (IS(key, "total_latency_ms")) {
            bit = 8;
            if (scan_number(c, &values[1]) < 0) return DECLINE;
        } else if (IS(key, "ttft_ms")) {
            bit = 16;
            if (scan_optional_number(c, &values[2]) < 0) return DECLINE;
        } else if (IS(key, "tokens_per_second")) {
            bit = 32;
            if (scan_optional_number(c, &values[3]) < 0) return DECLINE;
        } else if (IS(key, "breakdown")) {
            bit = 64;
            if (scan_breakdown(c, &values[4]) < 0) return DECLINE;
        } else {
            return DECLINE;
        }
        if (seen & bit) return DECLINE;
        seen |= bit;
        more = next_member(c);
        if (more < 0) return DECLINE;
    }
    return (seen & 15) == 15 ? 0 : DECLINE;
}

static int scan_payload(Cursor *c, double *values, Slice *model) {
    int seen = 0, more = open_object(c);
    Slice key, text;
    if (more < 0) return DECLINE;
    while (more == 1) {
        int bit;
        if (scan_key(c, &key) < 0) return DECLINE;
        if (IS(key, "payload_type")) {
            bit = 1;
            if (scan_string(c, &text) < 0 || !IS(text, "telemetry")) return DECLINE;
        } else if (IS(key, "data")) {
            bit = 2;
            if (scan_latency_data(c, values, model) < 0) return DECLINE;
        } else {
            return DECLINE;
        }
        if (seen & bit) return DECLINE;
        seen |= bit;
        more = next_member(c);
        if (more < 0) return DECLINE;
    }
    return seen == 3 ? 0 : DECLINE;
}

typedef struct {
    Distinct environments, models, tags;
} Tables;

enum {
    K_TIMESTAMP = 1 << 0,
    K_MODULE = 1 << 1,
    K_EVENT_TYPE = 1 << 2,
    K_SEVERITY = 1 << 3,
    K_ENVIRONMENT = 1 << 4,
    K_PAYLOAD = 1 << 5,
    K_EVENT_ID = 1 << 6,
    K_CORRELATION_ID = 1 << 7,
    K_PARENT_EVENT_ID = 1 << 8,
    K_SCHEMA_VERSION = 1 << 9,
    K_TAGS = 1 << 10,
    K_REQUIRED = K_TIMESTAMP | K_MODULE | K_EVENT_TYPE | K_SEVERITY | K_ENVIRONMENT | K_PAYLOAD,
};

static int scan_event(Cursor *c, double *values, int32_t *codes, Tables *t) {
    int seen = 0, more = open_object(c);
    Slice key, text, model = {NULL, 0};
    Py_ssize_t code;
    if (more < 0) return DECLINE;
    for (int i = 1; i < VALUES_PER_EVENT; i++) values[i] = NAN;
    codes[5] = -1; /* no tags */
    while (more == 1) {
        int bit;
        if (scan_key(c, &key) < 0) return DECLINE;
        if (IS(key, "timestamp")) {
            bit = K_TIMESTAMP;
            if (scan_string(c, &text) < 0 || parse_timestamp(text, &values[0]) < 0) return DECLINE;
        } else if (IS(key, "source_module")) {
            bit = K_MODULE;
            if (scan_string(c, &text) < 0 || (codes[0] = name_code(&modules, text)) < 0)
                return DECLINE;
        } else if (IS(key, "event_type")) {
            bit = K_EVENT_TYPE;
            if (scan_string(c, &text) < 0 || (codes[1] = name_code(&event_types, text)) < 0)
                return DECLINE;
        } else if (IS(key, "severity")) {
            bit = K_SEVERITY;
            if (scan_string(c, &text) < 0 || (codes[2] = name_code(&severities, text)) < 0)
                return DECLINE;
        } else if (IS(key, "environment")) {
            bit = K_ENVIRONMENT;
            if (scan_string(c, &text) < 0 || (code = distinct_code(&t->environments, text)) < 0)
                return DECLINE;
            codes[3] = (int32_t)code;
        } else if (IS(key, "payload")) {
            bit = K_PAYLOAD;
            if (scan_payload(c, values, &model) < 0) return DECLINE;
        } else if (IS(key, "event_id")) {
            bit = K_EVENT_ID;
            if (scan_string(c, &text) < 0 || !is_uuid(text)) return DECLINE;
        } else if (IS(key, "correlation_id") || IS(key, "parent_event_id")) {
            bit = key.n == 14 ? K_CORRELATION_ID : K_PARENT_EVENT_ID;
            if (!scan_null(c) && (scan_string(c, &text) < 0 || !is_uuid(text))) return DECLINE;
        } else if (IS(key, "schema_version")) {
            bit = K_SCHEMA_VERSION;
            if (scan_string(c, &text) < 0 || !is_schema_version(text)) return DECLINE;
        } else if (IS(key, "tags")) {
            bit = K_TAGS;
            if (scan_tags(c, &text) < 0 || (code = distinct_code(&t->tags, text)) < 0)
                return DECLINE;
            codes[5] = (int32_t)code;
        } else {
            return DECLINE;
        }
        if (seen & bit) return DECLINE;
        seen |= bit;
        more = next_member(c);
        if (more < 0) return DECLINE;
    }
    if ((seen & K_REQUIRED) != K_REQUIRED) return DECLINE;
    if ((code = distinct_code(&t->models, model)) < 0) return DECLINE;
    codes[4] = (int32_t)code;
    return 0;
}

typedef struct {
    double *values;
    int32_t *codes;
    Py_ssize_t count, capacity;
} Rows;

static int grow(Rows *rows) {
    Py_ssize_t capacity = rows->capacity ? 2 * rows->capacity : 256;
    double *values = PyMem_Realloc(rows->values, (size_t)capacity * VALUES_PER_EVENT * sizeof(double));
    if (values == NULL) return DECLINE;
    rows->values = values;
    int32_t *codes = PyMem_Realloc(rows->codes, (size_t)capacity * CODES_PER_EVENT * sizeof(int32_t));
    if (codes == NULL) return DECLINE;
    rows->codes = codes;
    rows->capacity = capacity;
    return 0;
}

static int scan_array(Cursor *c, Rows *rows, Tables *t) {
    if (c->p >= c->end || *c->p != '[') return DECLINE;
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
    } else {
        for (;;) {
            if (rows->count == rows->capacity && grow(rows) < 0) return DECLINE;
            Py_ssize_t i = rows->count;
            if (scan_event(c, rows->values + i * VALUES_PER_EVENT, rows->codes + i * CODES_PER_EVENT, t) < 0)
                return DECLINE;
            rows->count++;
            skip_ws(c);
            if (c->p >= c->end) return DECLINE;
            if (*c->p == ',') {
                c->p++;
                continue;
            }
            if (*c->p == ']') {
                c->p++;
                break;
            }
            return DECLINE;
        }
    }
    skip_ws(c);
    return c->p == c->end ? 0 : DECLINE;
}

/* Distinct 4-code keys in order of first appearance (the last match tried first). */
typedef struct {
    int32_t *keys;
    Py_ssize_t count, capacity, last;
} KeyTable;

static Py_ssize_t key_code(KeyTable *k, const int32_t *key) {
    size_t width = KEY_WIDTH * sizeof(int32_t);
    if (k->last >= 0 && memcmp(k->keys + k->last * KEY_WIDTH, key, width) == 0) return k->last;
    for (Py_ssize_t i = 0; i < k->count; i++) {
        if (memcmp(k->keys + i * KEY_WIDTH, key, width) == 0) return k->last = i;
    }
    if (k->count == k->capacity) {
        Py_ssize_t capacity = k->capacity ? 2 * k->capacity : 8;
        int32_t *grown = PyMem_Realloc(k->keys, (size_t)capacity * width);
        if (grown == NULL) return DECLINE;
        k->keys = grown;
        k->capacity = capacity;
    }
    memcpy(k->keys + k->count * KEY_WIDTH, key, width);
    return k->last = k->count++;
}

/* Each event's count series (module, event type, severity, environment) and
   measurement series (module, environment, model, tags text) as group numbers in
   order of first appearance; returns the two group counts. */
static int group_rows(Rows *rows, Py_ssize_t *count_groups, Py_ssize_t *measure_groups) {
    KeyTable counts = {NULL, 0, 0, -1}, measures = {NULL, 0, 0, -1};
    int status = 0;
    for (Py_ssize_t i = 0; i < rows->count && status == 0; i++) {
        int32_t *codes = rows->codes + i * CODES_PER_EVENT;
        int32_t count_key[KEY_WIDTH] = {codes[0], codes[1], codes[2], codes[3]};
        int32_t measure_key[KEY_WIDTH] = {codes[0], codes[3], codes[4], codes[5]};
        Py_ssize_t a = key_code(&counts, count_key), b = key_code(&measures, measure_key);
        if (a < 0 || b < 0) status = DECLINE;
        codes[6] = (int32_t)a;
        codes[7] = (int32_t)b;
    }
    *count_groups = counts.count;
    *measure_groups = measures.count;
    PyMem_Free(counts.keys);
    PyMem_Free(measures.keys);
    return status;
}

/* The values as one column after another (time, then the seven fields), so that
   every column is a contiguous array on the Python side. */
static PyObject *columns(const Rows *rows) {
    Py_ssize_t n = rows->count;
    PyObject *out = PyBytes_FromStringAndSize(NULL, n * VALUES_PER_EVENT * (Py_ssize_t)sizeof(double));
    if (out == NULL) return NULL;
    double *column_major = (double *)PyBytes_AS_STRING(out);
    for (Py_ssize_t i = 0; i < n; i++)
        for (int column = 0; column < VALUES_PER_EVENT; column++)
            column_major[column * n + i] = rows->values[i * VALUES_PER_EVENT + column];
    return out;
}

static PyObject *texts(const Distinct *d, int as_bytes) {
    PyObject *list = PyList_New(d->count);
    if (list == NULL) return NULL;
    for (Py_ssize_t i = 0; i < d->count; i++) {
        PyObject *item = as_bytes ? PyBytes_FromStringAndSize(d->items[i].p, d->items[i].n)
                                  : PyUnicode_DecodeASCII(d->items[i].p, d->items[i].n, NULL);
        if (item == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, item);
    }
    return list;
}

/* The scanner's answer: (n, values, codes, count_groups, measure_groups, environments,
   models, tags), or None when the rows cannot be grouped. Frees nothing. */
static PyObject *answer(Rows *rows, Tables *t) {
    Py_ssize_t count_groups = 0, measure_groups = 0;
    if (group_rows(rows, &count_groups, &measure_groups) < 0) Py_RETURN_NONE;
    PyObject *result = NULL;
    PyObject *values = columns(rows);
    PyObject *codes = PyBytes_FromStringAndSize(
        (const char *)rows->codes, rows->count * CODES_PER_EVENT * (Py_ssize_t)sizeof(int32_t));
    PyObject *environments = texts(&t->environments, 0);
    PyObject *models = texts(&t->models, 0);
    PyObject *tags = texts(&t->tags, 1);
    if (values && codes && environments && models && tags)
        result = Py_BuildValue("(nOOnnOOO)", rows->count, values, codes, count_groups,
                               measure_groups, environments, models, tags);
    Py_XDECREF(values);
    Py_XDECREF(codes);
    Py_XDECREF(environments);
    Py_XDECREF(models);
    Py_XDECREF(tags);
    return result;
}

static void release(Rows *rows, Tables *t) {
    PyMem_Free(rows->values);
    PyMem_Free(rows->codes);
    PyMem_Free(t->environments.items);
    PyMem_Free(t->models.items);
    PyMem_Free(t->tags.items);
}

static PyObject *scan_latency(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) return NULL;
    Cursor c = {(const char *)view.buf, (const char *)view.buf + view.len, 0};
    Rows rows = {NULL, NULL, 0, 0};
    Tables t = {{NULL, 0, 0, -1}, {NULL, 0, 0, -1}, {NULL, 0, 0, -1}};
    PyObject *result;
    if (screen(&c) < 0 || scan_array(&c, &rows, &t) < 0) {
        result = Py_None;
        Py_INCREF(result);
    } else {
        result = answer(&rows, &t);
    }
    release(&rows, &t);
    PyBuffer_Release(&view);
    return result;
}

/* Forget what a declined event added to a table of distinct values. */
static inline void forget(Distinct *d, Py_ssize_t count) {
    d->count = count;
    d->last = -1;
}

/* Many messages of one event each, scanned as one batch: each message must be exactly
   one latency event (as ``scan_latency`` judges an array's elements); the others are
   left to the caller, named by a 0 in the mask of accepted messages. */
static PyObject *scan_latency_each(PyObject *self, PyObject *arg) {
    PyObject *seq = PySequence_Fast(arg, "scan_latency_each() takes a sequence of bytes");
    if (seq == NULL) return NULL;
    Py_ssize_t m = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *mask = PyBytes_FromStringAndSize(NULL, m);
    if (mask == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    char *accepted = PyBytes_AS_STRING(mask);
    Rows rows = {NULL, NULL, 0, 0};
    Tables t = {{NULL, 0, 0, -1}, {NULL, 0, 0, -1}, {NULL, 0, 0, -1}};
    int failed = 0;
    for (Py_ssize_t i = 0; i < m; i++) {
        accepted[i] = 0;
        if (!PyBytes_Check(items[i])) continue;
        const char *p = PyBytes_AS_STRING(items[i]);
        Cursor c = {p, p + PyBytes_GET_SIZE(items[i]), 0};
        if (screen(&c) < 0) continue;
        if (rows.count == rows.capacity && grow(&rows) < 0) {
            failed = 1;
            break;
        }
        Py_ssize_t environments = t.environments.count, models = t.models.count,
                   tags = t.tags.count, r = rows.count;
        skip_ws(&c);
        int ok = scan_event(&c, rows.values + r * VALUES_PER_EVENT,
                            rows.codes + r * CODES_PER_EVENT, &t) == 0;
        if (ok) {
            skip_ws(&c);
            ok = c.p == c.end;
        }
        if (ok) {
            rows.count++;
            accepted[i] = 1;
        } else {
            forget(&t.environments, environments);
            forget(&t.models, models);
            forget(&t.tags, tags);
        }
    }
    PyObject *result = NULL;
    if (failed) {
        PyErr_NoMemory();
    } else {
        PyObject *scanned = answer(&rows, &t);
        if (scanned != NULL) result = Py_BuildValue("(OO)", scanned, mask);
        Py_XDECREF(scanned);
    }
    Py_DECREF(mask);
    release(&rows, &t);
    Py_DECREF(seq);
    return result;
}

static int fill(NameSet *set, PyObject *names) {
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (n > MAX_NAMES) {
        PyErr_SetString(PyExc_ValueError, "too many names");
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(names, i);
        if (!PyBytes_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "names must be bytes");
            return -1;
        }
        set->names[i].p = PyBytes_AS_STRING(item);
        set->names[i].n = PyBytes_GET_SIZE(item);
    }
    set->count = (int)n;
    return 0;
}

static PyObject *configure(PyObject *self, PyObject *args) {
    PyObject *m, *e, *s;
    if (!PyArg_ParseTuple(args, "O!O!O!", &PyTuple_Type, &m, &PyTuple_Type, &e, &PyTuple_Type, &s))
        return NULL;
    /* Keep the new names alive before pointing at them. */
    PyObject *names = Py_BuildValue("(OOO)", m, e, s);
    if (names == NULL) return NULL;
    Py_XSETREF(configured, names);
    if (fill(&modules, m) < 0 || fill(&event_types, e) < 0 || fill(&severities, s) < 0) {
        modules.count = event_types.count = severities.count = 0; /* decline everything */
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(modules, event_types, severities): the accepted names, as tuples of bytes."},
    {"scan_latency_each", scan_latency_each, METH_O,
     "scan_latency_each(messages) -> ((n, values, ...) as scan_latency, or None; mask): "
     "messages of one event each, scanned as one batch; mask[i] = 1 when message i was one "
     "latency event and is among the rows (in order)"},
    {"scan_latency", scan_latency, METH_O,
     "scan_latency(raw) -> (n, values, codes, count_groups, measure_groups, environments, "
     "models, tag_texts) or None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_batch_scan",
                                    "Latency event arrays scanned straight to columns.", -1, methods,
                                    NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__batch_scan(void) {
    for (int ch = 0; ch < 256; ch++)
        HEX[ch] = (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F');
    return PyModule_Create(&module);
}
