/* Read raw JSONL rows of list-of-messages formats in C: validate's fast path and stats' reader.
 *
 * `prove` answers, per line, "certainly clean" (with the row's duplicate hashes and length) or
 * "don't know" (None): validate sends every row it does not clear through orjson and the precise
 * checks, which name each problem. So the parser here may refuse anything it finds unusual (deep
 * nesting, long numbers, a message with extra fields); it must never clear a row that the precise
 * path would flag. tests/validation/test_rowscan.py holds it to that.
 *
 * A row is cleared when it is one strict JSON object (RFC 8259, valid UTF-8, no lone surrogate,
 * no duplicate list key) whose list field holds only {role, content} objects with known roles
 * in the order s?(ua)+, every content a string that is not blank, holds no control character
 * and no special token of the template.
 *
 * `read_messages` turns a span of a JSONL file into stats' columns (conversation, turn, role,
 * content, characters) without the GIL, so threads read parts of one file side by side; the
 * rows it cannot read simply are listed for Python to decode.
 *
 * Duplicate hashes (`hash_conversation`, `conversation_hashes`, `prove`) chain each message:
 * h = hash(content, seed = hash(role, seed = h)), from a fixed seed, over UTF-8 bytes. The folded
 * hash does the same over each content folded as Python's `" ".join(text.split()).lower()`;
 * C folds ASCII text itself and hands other text to the Python `fold` it is given.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define SEP 0x1f
#define MAX_DEPTH 64
#define MAX_MESSAGES 4096
#define CHAIN_SEED 0x243f6a8885a308d3ULL

/* --- growable byte buffer (no GIL needed) ---------------------------------------------------- */

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int failed; /* out of memory */
} Buf;

static int buf_reserve(Buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    unsigned char *data = PyMem_RawRealloc(b->data, cap);
    if (!data) {
        b->failed = 1;
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
}

static int buf_put(Buf *b, const void *p, size_t n) {
    if (buf_reserve(b, n)) return -1;
    memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

static void buf_free(Buf *b) {
    PyMem_RawFree(b->data);
    *b = (Buf){0};
}

/* --- hashing ------------------------------------------------------------------------------- */

#define K1 0x9e3779b97f4a7c15ULL
#define K2 0xc2b2ae3d27d4eb4fULL
#define K3 0x165667b19e3779f9ULL

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t fmix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* 64-bit hash of n bytes, eight at a time (a multiply-rotate chain with a final avalanche). */
static uint64_t hash_bytes(const unsigned char *p, size_t n, uint64_t seed) {
    uint64_t h = seed ^ (n * K3), w;
    for (; n >= 8; p += 8, n -= 8) {
        memcpy(&w, p, 8);
        h = rotl(h ^ (w * K2), 31) * K1;
    }
    if (n) {
        w = 0;
        memcpy(&w, p, n);
        h = rotl(h ^ (w * K2), 31) * K1;
    }
    return fmix(h);
}

/* One message into a conversation's chain. */
static inline uint64_t chain(uint64_t h, const void *role, size_t role_len, const void *content, size_t content_len) {
    return hash_bytes(content, content_len, hash_bytes(role, role_len, h));
}

/* Python's str.split() whitespace among ASCII characters. */
static inline int fold_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

/* " ".join(text.split()).lower() of ASCII bytes onto out (room for n bytes); the folded length. */
static size_t fold_ascii(const unsigned char *p, size_t n, unsigned char *out) {
    unsigned char *o = out;
    int pending = 0, started = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (fold_space(c)) {
            pending = started;
        } else {
            if (pending) *o++ = ' ';
            *o++ = (c >= 'A' && c <= 'Z') ? c + 32 : c;
            pending = 0;
            started = 1;
        }
    }
    return o - out;
}

static int is_ascii(const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80) return 0;
    return 1;
}

/* The folded chain step for one message; non-ASCII content is folded by Python's `fold` (the
 * GIL must be held then). -1 with a Python error set on failure. */
static int chain_folded(uint64_t *h, const char *role, size_t role_len, const char *content, size_t n,
                        PyObject *fold, Buf *scratch) {
    if (is_ascii((const unsigned char *)content, n)) {
        scratch->len = 0;
        if (buf_reserve(scratch, n + 1)) {
            PyErr_NoMemory();
            return -1;
        }
        size_t m = fold_ascii((const unsigned char *)content, n, scratch->data);
        *h = chain(*h, role, role_len, scratch->data, m);
        return 0;
    }
    PyObject *text = PyUnicode_DecodeUTF8(content, n, "strict");
    PyObject *folded = text ? PyObject_CallOneArg(fold, text) : NULL;
    Py_XDECREF(text);
    if (!folded) return -1;
    Py_ssize_t m;
    const char *bytes = PyUnicode_Check(folded) ? PyUnicode_AsUTF8AndSize(folded, &m) : NULL;
    if (!bytes) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "fold must return str");
        Py_DECREF(folded);
        return -1;
    }
    *h = chain(*h, role, role_len, bytes, m);
    Py_DECREF(folded);
    return 0;
}

/* --- strict JSON ----------------------------------------------------------------------------- */

typedef struct {
    const unsigned char *p, *end;
} Cursor;

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) c->p++;
}

static inline int expect(Cursor *c, unsigned char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return -1;
    c->p++;
    return 0;
}

static int hex4(const unsigned char *p, unsigned *out) {
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        unsigned char ch = p[i];
        v <<= 4;
        if (ch >= '0' && ch <= '9') v |= ch - '0';
        else if (ch >= 'a' && ch <= 'f') v |= ch - 'a' + 10;
        else if (ch >= 'A' && ch <= 'F') v |= ch - 'A' + 10;
        else return -1;
    }
    *out = v;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (lead byte >= 0x80), or 0 when invalid. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end) {
    unsigned char b = p[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) {
        n = 3;
        if (b == 0xe0) lo = 0xa0;
        if (b == 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        n = 4;
        if (b == 0xf0) lo = 0x90;
        if (b == 0xf4) hi = 0x8f;
    } else return 0;
    if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (p[i] < 0x80 || p[i] > 0xbf) return 0;
    return n;
}

static void put_utf8(Buf *out, unsigned cp) {
    unsigned char *d = out->data + out->len;
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        out->len += 1;
    } else if (cp < 0x800) {
        d[0] = 0xc0 | (cp >> 6);
        d[1] = 0x80 | (cp & 0x3f);
        out->len += 2;
    } else if (cp < 0x10000) {
        d[0] = 0xe0 | (cp >> 12);
        d[1] = 0x80 | ((cp >> 6) & 0x3f);
        d[2] = 0x80 | (cp & 0x3f);
        out->len += 3;
    } else {
        d[0] = 0xf0 | (cp >> 18);
        d[1] = 0x80 | ((cp >> 12) & 0x3f);
        d[2] = 0x80 | ((cp >> 6) & 0x3f);
        d[3] = 0x80 | (cp & 0x3f);
        out->len += 4;
    }
}

/* A string at c->p ('"'): validated, and decoded onto `out` when out is not NULL. -1: refuse
 * (invalid JSON, or out of memory: then out->failed is set). */
static int parse_string(Cursor *c, Buf *out) {
    if (c->p >= c->end || *c->p != '"') return -1;
    c->p++;
    for (;;) {
        const unsigned char *run = c->p;
#ifdef __SSE2__
        /* sixteen bytes at a time up to the first quote, backslash, control or non-ASCII byte */
        const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
        while (c->end - c->p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)c->p);
            __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                        _mm_cmplt_epi8(v, space)); /* signed: bytes >= 0x80 too */
            int mask = _mm_movemask_epi8(stop);
            if (mask) {
                c->p += __builtin_ctz(mask);
                break;
            }
            c->p += 16;
        }
#endif
        while (c->p < c->end && *c->p >= 0x20 && *c->p < 0x80 && *c->p != '"' && *c->p != '\\') c->p++;
        if (out && c->p > run) {
            if (buf_reserve(out, c->p - run)) return -1;
            memcpy(out->data + out->len, run, c->p - run);
            out->len += c->p - run;
        }
        if (c->p >= c->end) return -1;
        unsigned char ch = *c->p;
        if (ch == '"') {
            c->p++;
            return 0;
        }
        if (ch < 0x20) return -1;
        if (ch >= 0x80) {
            size_t n = utf8_len(c->p, c->end);
            if (!n) return -1;
            if (out) {
                if (buf_reserve(out, n)) return -1;
                memcpy(out->data + out->len, c->p, n);
                out->len += n;
            }
            c->p += n;
            continue;
        }
        /* a backslash escape */
        if (c->end - c->p < 2) return -1;
        unsigned char e = c->p[1];
        unsigned cp;
        c->p += 2;
        switch (e) {
            case '"': cp = '"'; break;
            case '\\': cp = '\\'; break;
            case '/': cp = '/'; break;
            case 'b': cp = '\b'; break;
            case 'f': cp = '\f'; break;
            case 'n': cp = '\n'; break;
            case 'r': cp = '\r'; break;
            case 't': cp = '\t'; break;
            case 'u':
                if (c->end - c->p < 4 || hex4(c->p, &cp)) return -1;
                c->p += 4;
                if (cp >= 0xdc00 && cp <= 0xdfff) return -1;
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    unsigned low;
                    if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || hex4(c->p + 2, &low) ||
                        low < 0xdc00 || low > 0xdfff)
                        return -1;
                    c->p += 6;
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                }
                break;
            default: return -1;
        }
        if (out) {
            if (buf_reserve(out, 4)) return -1;
            put_utf8(out, cp);
        }
    }
}

static int skip_digits(Cursor *c) {
    const unsigned char *start = c->p;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') c->p++;
    return (int)(c->p - start);
}

/* A number that orjson reads exactly as json does: refuse long ones (orjson turns integers
 * beyond 64 bits into floats, and exponents past the double range into errors). */
static int skip_number(Cursor *c) {
    const unsigned char *start = c->p;
    if (c->p < c->end && *c->p == '-') c->p++;
    if (c->p >= c->end) return -1;
    if (*c->p == '0') c->p++;
    else if (skip_digits(c) == 0) return -1;
    if (c->p < c->end && *c->p == '.') {
        c->p++;
        if (skip_digits(c) == 0) return -1;
    }
    if (c->p < c->end && (*c->p == 'e' || *c->p == 'E')) {
        c->p++;
        if (c->p < c->end && (*c->p == '+' || *c->p == '-')) c->p++;
        int digits = skip_digits(c);
        if (digits == 0 || digits > 2) return -1;
    }
    return c->p - start > 18 ? -1 : 0;
}

static int skip_value(Cursor *c, int depth);

static int skip_container(Cursor *c, int depth, unsigned char close, int keyed) {
    c->p++;
    skip_ws(c);
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    for (;;) {
        skip_ws(c);
        if (keyed && (parse_string(c, NULL) || expect(c, ':'))) return -1;
        if (skip_value(c, depth + 1)) return -1;
        skip_ws(c);
        if (c->p >= c->end) return -1;
        if (*c->p == close) {
            c->p++;
            return 0;
        }
        if (*c->p != ',') return -1;
        c->p++;
    }
}

static int literal(Cursor *c, const char *word, size_t n) {
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n)) return -1;
    c->p += n;
    return 0;
}

static int skip_value(Cursor *c, int depth) {
    if (depth > MAX_DEPTH) return -1;
    skip_ws(c);
    if (c->p >= c->end) return -1;
    switch (*c->p) {
        case '"': return parse_string(c, NULL);
        case '{': return skip_container(c, depth, '}', 1);
        case '[': return skip_container(c, depth, ']', 0);
        case 't': return literal(c, "true", 4);
        case 'f': return literal(c, "false", 5);
        case 'n': return literal(c, "null", 4);
        default: return skip_number(c);
    }
}

/* --- role names ---------------------------------------------------------------------------------- */

typedef struct {
    const char *name, *role; /* source name -> canonical role */
    Py_ssize_t name_len, role_len;
} RoleName;

typedef struct {
    RoleName items[32];
    Py_ssize_t n;
    int any; /* no table: every role string stands for itself */
} RoleMap;

/* A dict {bytes: bytes} (or None: any role) as a table; borrowed pointers, GIL held. */
static int load_roles(PyObject *dict, RoleMap *map) {
    map->n = 0;
    map->any = dict == Py_None;
    if (map->any) return 0;
    if (!PyDict_Check(dict)) {
        PyErr_SetString(PyExc_TypeError, "roles must be a dict of bytes or None");
        return -1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!PyBytes_Check(key) || !PyBytes_Check(value) || PyBytes_GET_SIZE(value) == 0 || map->n == 32) {
            PyErr_SetString(PyExc_TypeError, "roles must map at most 32 bytes names to non-empty bytes");
            return -1;
        }
        map->items[map->n++] = (RoleName){PyBytes_AS_STRING(key), PyBytes_AS_STRING(value),
                                          PyBytes_GET_SIZE(key), PyBytes_GET_SIZE(value)};
    }
    return 0;
}

static const RoleName *lookup(const RoleMap *map, const Buf *name) {
    for (Py_ssize_t i = 0; i < map->n; i++)
        if ((size_t)map->items[i].name_len == name->len && memcmp(map->items[i].name, name->data, name->len) == 0)
            return &map->items[i];
    return NULL;
}

static inline int key_is(const Buf *key, const char *name, Py_ssize_t n) {
    return (Py_ssize_t)key->len == n && memcmp(key->data, name, n) == 0;
}

/* --- validate's prover --------------------------------------------------------------------------- */

typedef struct {
    const char *list_key, *role_key, *content_key;
    Py_ssize_t list_len, role_len, content_len;
    RoleMap roles;         /* source name -> "system", "user" or "assistant" */
    PyObject *tokens;      /* tuple of bytes: special tokens that must not appear in content */
    PyObject *forbidden;   /* tuple of bytes: top-level keys the fast path does not handle */
    int allow_system;
} Spec;

typedef struct {
    Buf text;    /* the row's contents joined by SEP */
    Buf folded;  /* scratch: the current content, folded (while the row is ASCII) */
    Buf key;     /* scratch for keys and roles */
    char sig[MAX_MESSAGES + 1];
    int n;
    int ascii;
    Py_ssize_t chars;
    uint64_t exact, folded_hash;
} Row;

/* One byte of content: the fold state (solid: a non-space seen; pending: a space owed before
 * the next one), the folded output, the count of UTF-8 continuation bytes. -1: a control
 * character (or DEL): the row is not clean. */
static inline int content_byte(unsigned char ch, unsigned char **o, int *solid, int *pending, Row *row,
                               Py_ssize_t *continuation) {
    if (ch >= 0x20 && ch < 0x7f) {
        if (ch == ' ') {
            *pending = *solid;
            return 0;
        }
        if (*pending) *(*o)++ = ' ';
        *(*o)++ = (ch >= 'A' && ch <= 'Z') ? ch + 32 : ch;
        *pending = 0;
        *solid = 1;
    } else if (ch < 0x80) {
        if (ch != '\t' && ch != '\n' && ch != '\r') return -1;
        *pending = *solid;
    } else {
        row->ascii = 0;
        if (ch < 0xc0) ++*continuation;
        /* lead bytes of every non-ASCII whitespace character are C2, E1, E2 and E3 */
        else if (ch != 0xc2 && ch != 0xe1 && ch != 0xe2 && ch != 0xe3) *solid = 1;
    }
    return 0;
}

/* Checks of one decoded content (text->data[start:]): not blank, no control character, no
 * special token. Adds its code points to row->chars and, while the row is ASCII, leaves its
 * folded form in row->folded. */
static int check_content(Row *row, size_t start, const Spec *spec) {
    const unsigned char *p = row->text.data + start, *end = row->text.data + row->text.len, *q = p;
    row->folded.len = 0;
    if (buf_reserve(&row->folded, end - p + 1)) return -1;
    unsigned char *o = row->folded.data;
    int solid = 0, pending = 0;
    Py_ssize_t continuation = 0;
#ifdef __SSE2__
    /* Sixteen bytes at a time where folding is only lower-casing: printable ASCII whose spaces
     * stand alone between other characters. Any other block goes byte by byte. */
    const __m128i below = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f), space = _mm_set1_epi8(' ');
    const __m128i before_a = _mm_set1_epi8('A' - 1), after_z = _mm_set1_epi8('Z' + 1), bit = _mm_set1_epi8(0x20);
    while (end - q >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)q);
        int printable = _mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(v, below), _mm_cmplt_epi8(v, del)));
        unsigned spaces = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, space));
        if (printable == 0xffff && !(spaces & (spaces >> 1)) && !(spaces & 0x8000) &&
            !((spaces & 1) && (!solid || pending))) {
            if (pending) *o++ = ' ';
            __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, before_a), _mm_cmplt_epi8(v, after_z));
            _mm_storeu_si128((__m128i *)o, _mm_add_epi8(v, _mm_and_si128(upper, bit)));
            o += 16;
            solid = 1;
            pending = 0;
        } else {
            for (int i = 0; i < 16; i++)
                if (content_byte(q[i], &o, &solid, &pending, row, &continuation)) return -1;
        }
        q += 16;
    }
#endif
    for (; q < end; q++)
        if (content_byte(*q, &o, &solid, &pending, row, &continuation)) return -1;
    if (!solid) return -1;
    row->chars += (end - p) - continuation; /* code points */
    row->folded.len = o - row->folded.data;
    Py_ssize_t ntok = PyTuple_GET_SIZE(spec->tokens);
    for (Py_ssize_t i = 0; i < ntok; i++) {
        PyObject *tok = PyTuple_GET_ITEM(spec->tokens, i);
        if (memmem(p, end - p, PyBytes_AS_STRING(tok), PyBytes_GET_SIZE(tok))) return -1;
    }
    return 0;
}

static int parse_message(Cursor *c, Row *row, const Spec *spec) {
    if (expect(c, '{')) return -1;
    const RoleName *role = NULL;
    int have_content = 0;
    size_t start = 0;
    for (int field = 0; field < 2; field++) {
        skip_ws(c);
        row->key.len = 0;
        if (parse_string(c, &row->key) || expect(c, ':')) return -1;
        skip_ws(c);
        if (!role && key_is(&row->key, spec->role_key, spec->role_len)) {
            row->key.len = 0;
            if (c->p >= c->end || *c->p != '"' || parse_string(c, &row->key)) return -1;
            if (!(role = lookup(&spec->roles, &row->key))) return -1;
        } else if (!have_content && key_is(&row->key, spec->content_key, spec->content_len)) {
            have_content = 1;
            if (row->n > 0) {
                if (buf_reserve(&row->text, 1)) return -1;
                row->text.data[row->text.len++] = SEP;
            }
            start = row->text.len;
            if (c->p >= c->end || *c->p != '"' || parse_string(c, &row->text) || check_content(row, start, spec))
                return -1;
        } else return -1;
        if (field == 0 && expect(c, ',')) return -1;
    }
    if (expect(c, '}')) return -1;
    row->sig[row->n++] = role->role[0];
    row->exact = chain(row->exact, role->role, role->role_len, row->text.data + start, row->text.len - start);
    if (row->ascii) row->folded_hash = chain(row->folded_hash, role->role, role->role_len, row->folded.data,
                                             row->folded.len);
    return 0;
}

/* s?(ua)+ ; a system prompt only where the template takes one */
static int clean_order(const Row *row, const Spec *spec) {
    int i = 0;
    if (row->n > 0 && row->sig[0] == 's') {
        if (!spec->allow_system) return -1;
        i = 1;
    }
    if (row->n - i < 2 || (row->n - i) % 2) return -1;
    for (; i < row->n; i += 2)
        if (row->sig[i] != 'u' || row->sig[i + 1] != 'a') return -1;
    return 0;
}

static int parse_list(Cursor *c, Row *row, const Spec *spec) {
    if (expect(c, '[')) return -1;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') return -1; /* no messages: the precise path says so */
    for (;;) {
        if (row->n >= MAX_MESSAGES || parse_message(c, row, spec)) return -1;
        skip_ws(c);
        if (c->p >= c->end) return -1;
        if (*c->p == ']') {
            c->p++;
            return clean_order(row, spec);
        }
        if (*c->p != ',') return -1;
        c->p++;
    }
}

static int forbidden_key(const Buf *key, const Spec *spec) {
    Py_ssize_t n = PyTuple_GET_SIZE(spec->forbidden);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(spec->forbidden, i);
        if (key_is(key, PyBytes_AS_STRING(name), PyBytes_GET_SIZE(name))) return 1;
    }
    return 0;
}

static int parse_row(const unsigned char *p, Py_ssize_t n, Row *row, const Spec *spec) {
    Cursor c = {p, p + n};
    int found = 0;
    row->text.len = 0;
    row->n = 0;
    row->ascii = 1;
    row->chars = 0;
    row->exact = row->folded_hash = CHAIN_SEED;
    if (expect(&c, '{')) return -1;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') return -1;
    for (;;) {
        skip_ws(&c);
        row->key.len = 0;
        if (parse_string(&c, &row->key) || expect(&c, ':')) return -1;
        if (key_is(&row->key, spec->list_key, spec->list_len)) {
            if (found++ || parse_list(&c, row, spec)) return -1;
        } else if (forbidden_key(&row->key, spec) || skip_value(&c, 1)) {
            return -1;
        }
        skip_ws(&c);
        if (c.p >= c.end) return -1;
        if (*c.p == '}') {
            c.p++;
            break;
        }
        if (*c.p != ',') return -1;
        c.p++;
    }
    skip_ws(&c);
    return found && c.p == c.end ? 0 : -1;
}

static PyObject *row_result(const Row *row) {
    PyObject *folded;
    if (row->ascii) {
        folded = PyLong_FromUnsignedLongLong(row->folded_hash);
    } else { /* the duplicate text `sig SEP contents`, for Python to fold */
        PyObject *sig = PyUnicode_FromStringAndSize(row->sig, row->n);
        PyObject *body = PyUnicode_DecodeUTF8((const char *)row->text.data, row->text.len, "strict");
        folded = sig && body ? PyUnicode_FromFormat("%U\x1f%U", sig, body) : NULL;
        Py_XDECREF(sig);
        Py_XDECREF(body);
    }
    if (!folded) return NULL;
    return Py_BuildValue("(KNn)", (unsigned long long)row->exact, folded, row->chars);
}

PyDoc_STRVAR(prove_doc,
"prove(lines, list_key, role_key, content_key, roles, tokens, forbidden, allow_system) -> list\n\n"
"Per raw JSONL line: None when the row is not certainly clean, else (exact_hash, folded, chars)\n"
"where folded is the folded hash, or the row's duplicate text (str) when it holds non-ASCII\n"
"text. roles maps source role names (bytes) to b'system', b'user' or b'assistant'; tokens and\n"
"forbidden are tuples of bytes.");

static PyObject *prove(PyObject *self, PyObject *args) {
    PyObject *lines, *roles;
    Spec spec;
    if (!PyArg_ParseTuple(args, "O!y#y#y#OO!O!p", &PyList_Type, &lines, &spec.list_key, &spec.list_len,
                          &spec.role_key, &spec.role_len, &spec.content_key, &spec.content_len, &roles,
                          &PyTuple_Type, &spec.tokens, &PyTuple_Type, &spec.forbidden, &spec.allow_system))
        return NULL;
    if (roles == Py_None || load_roles(roles, &spec.roles)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "prove needs a roles table");
        return NULL;
    }
    Py_ssize_t ntok = PyTuple_GET_SIZE(spec.tokens), nforb = PyTuple_GET_SIZE(spec.forbidden);
    for (Py_ssize_t i = 0; i < ntok; i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(spec.tokens, i)) || PyBytes_GET_SIZE(PyTuple_GET_ITEM(spec.tokens, i)) == 0)
            return PyErr_Format(PyExc_TypeError, "tokens must be non-empty bytes");
    for (Py_ssize_t i = 0; i < nforb; i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(spec.forbidden, i)))
            return PyErr_Format(PyExc_TypeError, "forbidden keys must be bytes");
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    Row row = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i), *result;
        if (!PyBytes_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "lines must be bytes");
            Py_CLEAR(out);
            break;
        }
        if (parse_row((const unsigned char *)PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line), &row, &spec) == 0)
            result = row_result(&row);
        else if (row.text.failed || row.folded.failed || row.key.failed)
            result = PyErr_NoMemory();
        else
            result = Py_NewRef(Py_None);
        if (!result) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, result);
    }
    buf_free(&row.text);
    buf_free(&row.folded);
    buf_free(&row.key);
    return out;
}

PyDoc_STRVAR(hash_conversation_doc,
"hash_conversation(roles: list[str], contents: list[str], fold) -> (exact_hash, folded_hash)\n\n"
"The duplicate hashes of one conversation, as `prove` and `conversation_hashes` give them;\n"
"fold(str) -> str folds non-ASCII content.");

static PyObject *hash_conversation(PyObject *self, PyObject *args) {
    PyObject *roles, *contents, *fold;
    if (!PyArg_ParseTuple(args, "O!O!O", &PyList_Type, &roles, &PyList_Type, &contents, &fold)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(roles);
    if (PyList_GET_SIZE(contents) != n) return PyErr_Format(PyExc_ValueError, "roles and contents differ in length");
    uint64_t exact = CHAIN_SEED, folded = CHAIN_SEED;
    Buf scratch = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t rn, cn;
        const char *role = PyUnicode_Check(PyList_GET_ITEM(roles, i)) ?
            PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(roles, i), &rn) : NULL;
        const char *content = PyUnicode_Check(PyList_GET_ITEM(contents, i)) ?
            PyUnicode_AsUTF8AndSize(PyList_GET_ITEM(contents, i), &cn) : NULL;
        if (!role || !content) {
            if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "roles and contents must be str");
            buf_free(&scratch);
            return NULL;
        }
        exact = chain(exact, role, rn, content, cn);
        if (chain_folded(&folded, role, rn, content, cn, fold, &scratch)) {
            buf_free(&scratch);
            return NULL;
        }
    }
    buf_free(&scratch);
    return Py_BuildValue("(KK)", (unsigned long long)exact, (unsigned long long)folded);
}

/* --- stats' reader ------------------------------------------------------------------------------ */

typedef struct {
    Buf conversation, turn, role_offsets, roles, content_offsets, contents, chars, deferred;
    Buf key;
    int64_t records, empty;
} Columns;

static int put_u32(Buf *b, uint32_t v) { return buf_put(b, &v, 4); }
static int put_i64(Buf *b, int64_t v) { return buf_put(b, &v, 8); }

static Py_ssize_t code_points(const unsigned char *p, size_t n) {
    Py_ssize_t continuation = 0;
    for (size_t i = 0; i < n; i++) continuation += (p[i] & 0xc0) == 0x80;
    return (Py_ssize_t)n - continuation;
}

/* One message {role, content, ...} onto the columns; -1: not one this reader takes. */
static int read_message(Cursor *c, Columns *out, const Spec *spec, int64_t record, uint32_t turn) {
    if (expect(c, '{')) return -1;
    int have_role = 0, have_content = 0;
    size_t content_start = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') return -1;
    for (;;) {
        skip_ws(c);
        out->key.len = 0;
        if (parse_string(c, &out->key) || expect(c, ':')) return -1;
        skip_ws(c);
        if (key_is(&out->key, spec->role_key, spec->role_len)) {
            if (have_role++ || c->p >= c->end || *c->p != '"') return -1;
            if (spec->roles.any) {
                if (parse_string(c, &out->roles)) return -1;
            } else {
                out->key.len = 0;
                const RoleName *role;
                if (parse_string(c, &out->key) || !(role = lookup(&spec->roles, &out->key)) ||
                    buf_put(&out->roles, role->role, role->role_len))
                    return -1;
            }
        } else if (key_is(&out->key, spec->content_key, spec->content_len)) {
            if (have_content++ || c->p >= c->end || *c->p != '"') return -1;
            content_start = out->contents.len;
            if (parse_string(c, &out->contents)) return -1;
        } else if (skip_value(c, 3)) {
            return -1;
        }
        skip_ws(c);
        if (c->p >= c->end) return -1;
        if (*c->p == '}') {
            c->p++;
            break;
        }
        if (*c->p != ',') return -1;
        c->p++;
    }
    if (!have_role || !have_content) return -1;
    size_t n = out->contents.len - content_start;
    return put_u32(&out->conversation, (uint32_t)record) || buf_put(&out->turn, &(uint16_t){(uint16_t)turn}, 2) ||
           put_i64(&out->role_offsets, (int64_t)out->roles.len) ||
           put_i64(&out->content_offsets, (int64_t)out->contents.len) ||
           put_u32(&out->chars, (uint32_t)code_points(out->contents.data + content_start, n)) ? -1 : 0;
}

/* One line onto the columns: 1 taken, 0 taken with no message (an empty list), -1 not taken
 * (the columns are rolled back). */
static int read_line(const unsigned char *p, const unsigned char *end, Columns *out, const Spec *spec,
                     int64_t record) {
    size_t marks[7] = {out->conversation.len, out->turn.len, out->role_offsets.len, out->roles.len,
                       out->content_offsets.len, out->contents.len, out->chars.len};
    Cursor c = {p, end};
    int found = 0;
    uint32_t turns = 0;
    if (expect(&c, '{')) goto refuse;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') goto refuse;
    for (;;) {
        skip_ws(&c);
        out->key.len = 0;
        if (parse_string(&c, &out->key) || expect(&c, ':')) goto refuse;
        if (key_is(&out->key, spec->list_key, spec->list_len)) {
            if (found++ || expect(&c, '[')) goto refuse;
            skip_ws(&c);
            if (c.p < c.end && *c.p == ']') {
                c.p++;
            } else {
                for (;;) {
                    if (turns >= 65535 || read_message(&c, out, spec, record, turns++)) goto refuse;
                    skip_ws(&c);
                    if (c.p >= c.end) goto refuse;
                    if (*c.p == ']') {
                        c.p++;
                        break;
                    }
                    if (*c.p != ',') goto refuse;
                    c.p++;
                }
            }
        } else if (skip_value(&c, 1)) {
            goto refuse;
        }
        skip_ws(&c);
        if (c.p >= c.end) goto refuse;
        if (*c.p == '}') {
            c.p++;
            break;
        }
        if (*c.p != ',') goto refuse;
        c.p++;
    }
    skip_ws(&c);
    if (!found || c.p != c.end) goto refuse;
    return turns > 0;
refuse:
    out->conversation.len = marks[0];
    out->turn.len = marks[1];
    out->role_offsets.len = marks[2];
    out->roles.len = marks[3];
    out->content_offsets.len = marks[4];
    out->contents.len = marks[5];
    out->chars.len = marks[6];
    return -1;
}

static int is_blank(const unsigned char *p, const unsigned char *end) {
    for (; p < end; p++)
        if (!(*p == ' ' || (*p >= '\t' && *p <= '\r'))) return 0;
    return 1;
}

static void read_span(const unsigned char *base, const unsigned char *p, const unsigned char *end, Columns *out,
                      const Spec *spec) {
    if (put_i64(&out->role_offsets, 0) || put_i64(&out->content_offsets, 0)) return;
    if (p == base && end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', end - p), *stop = nl ? nl : end;
        if (!is_blank(p, stop)) {
            int64_t record = out->records++;
            int taken = read_line(p, stop, out, spec, record);
            if (taken == 0) out->empty++;
            else if (taken < 0 && (put_i64(&out->deferred, record) || put_i64(&out->deferred, p - base) ||
                                   put_i64(&out->deferred, stop - p)))
                return;
        }
        p = nl ? nl + 1 : end;
    }
}

static PyObject *take(Buf *b) {
    PyObject *bytes = PyBytes_FromStringAndSize((const char *)b->data, b->len);
    buf_free(b);
    return bytes;
}

PyDoc_STRVAR(read_messages_doc,
"read_messages(data, start, end, list_key, role_key, content_key, roles) -> tuple\n\n"
"The rows of data[start:end] (whole JSONL lines; a BOM skipped at 0) as column buffers:\n"
"(records, empty, conversation u32, turn u16, role offsets i64, roles, content offsets i64,\n"
"contents, chars u32, deferred i64 triples). Conversations count the span's non-blank lines\n"
"from 0; offsets are Arrow's (one more than messages, from 0).\n"
"Rows not read (anything but an object whose list holds {role: str, content: str, ...}\n"
"objects; roles mapped by the table, or any string with None) are listed in deferred as\n"
"(record, byte offset in data, length). Runs without the GIL.");

static PyObject *read_messages(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, end;
    PyObject *roles;
    Spec spec = {0};
    if (!PyArg_ParseTuple(args, "y*nny#y#y#O", &view, &start, &end, &spec.list_key, &spec.list_len,
                          &spec.role_key, &spec.role_len, &spec.content_key, &spec.content_len, &roles))
        return NULL;
    if (start < 0 || end > view.len || start > end || load_roles(roles, &spec.roles)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "start and end must lie within data");
        PyBuffer_Release(&view);
        return NULL;
    }
    Columns out = {0};
    const unsigned char *base = view.buf;
    Py_BEGIN_ALLOW_THREADS
    read_span(base, base + start, base + end, &out, &spec);
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    Buf *all[] = {&out.conversation, &out.turn, &out.role_offsets, &out.roles, &out.content_offsets,
                  &out.contents, &out.chars, &out.deferred, &out.key};
    int failed = 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) failed |= all[i]->failed;
    if (failed) {
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
        return PyErr_NoMemory();
    }
    buf_free(&out.key);
    PyObject *result = Py_BuildValue("(LLNNNNNNNN)", (long long)out.records, (long long)out.empty,
                                     take(&out.conversation), take(&out.turn), take(&out.role_offsets),
                                     take(&out.roles), take(&out.content_offsets), take(&out.contents),
                                     take(&out.chars), take(&out.deferred));
    return result;
}

PyDoc_STRVAR(conversation_hashes_doc,
"conversation_hashes(conversation, role_offsets, roles, content_offsets, contents, fold)\n"
"    -> (exact u64 bytes, folded u64 bytes)\n\n"
"Per run of equal conversation ids (u32, in order): the hashes `hash_conversation` gives its\n"
"messages. Offsets are i64 Arrow offsets (one more than messages). fold folds non-ASCII text.");

static PyObject *conversation_hashes(PyObject *self, PyObject *args) {
    Py_buffer conv, ro, rd, co, cd;
    PyObject *fold;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*O", &conv, &ro, &rd, &co, &cd, &fold)) return NULL;
    PyObject *result = NULL;
    Py_ssize_t n = conv.len / 4;
    const uint32_t *ids = conv.buf;
    const int64_t *role_at = ro.buf, *content_at = co.buf;
    const char *role_data = rd.buf, *content_data = cd.buf;
    Buf exact = {0}, folded = {0}, scratch = {0};
    if (ro.len / 8 != n + 1 || co.len / 8 != n + 1) {
        PyErr_SetString(PyExc_ValueError, "offsets must hold one more entry than conversation ids");
        goto done;
    }
    uint64_t h = CHAIN_SEED, f = CHAIN_SEED;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *role = role_data + role_at[i], *content = content_data + content_at[i];
        size_t rn = role_at[i + 1] - role_at[i], cn = content_at[i + 1] - content_at[i];
        h = chain(h, role, rn, content, cn);
        if (chain_folded(&f, role, rn, content, cn, fold, &scratch)) goto done;
        if (i + 1 == n || ids[i + 1] != ids[i]) {
            if (buf_put(&exact, &h, 8) || buf_put(&folded, &f, 8)) {
                PyErr_NoMemory();
                goto done;
            }
            h = f = CHAIN_SEED;
        }
    }
    result = Py_BuildValue("(NN)", take(&exact), take(&folded));
done:
    buf_free(&exact);
    buf_free(&folded);
    buf_free(&scratch);
    PyBuffer_Release(&conv);
    PyBuffer_Release(&ro);
    PyBuffer_Release(&rd);
    PyBuffer_Release(&co);
    PyBuffer_Release(&cd);
    return result;
}

static PyMethodDef methods[] = {
    {"prove", prove, METH_VARARGS, prove_doc},
    {"hash_conversation", hash_conversation, METH_VARARGS, hash_conversation_doc},
    {"read_messages", read_messages, METH_VARARGS, read_messages_doc},
    {"conversation_hashes", conversation_hashes, METH_VARARGS, conversation_hashes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rowscan(void) { return PyModule_Create(&module); }
