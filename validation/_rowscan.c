/* Prove raw JSONL rows clean in one pass over their bytes, and hash them for duplicates.
 *
 * `prove` answers, per line, "certainly clean" (with the row's duplicate hashes and length) or
 * "don't know" (None): the caller sends every row it does not clear through orjson and the
 * precise checks, which name each problem. So the parser here may refuse anything it finds
 * unusual (deep nesting, long numbers, a message with extra fields); it must never clear a row
 * that the precise path would flag. tests/validation/test_rowscan.py holds it to that.
 *
 * A row is cleared when it is one strict JSON object (RFC 8259, valid UTF-8, no lone surrogate,
 * no duplicate list key) whose list field holds only {role, content} objects with known roles
 * in the order s?(ua)+, every content a string that is not blank, holds no control character
 * and no special token of the template.
 *
 * A duplicate text is `sig SEP content SEP content ...` (sig: one letter per role), exactly
 * what `validation.checks.dup_text` builds. Its exact hash is `hash(body, seed=hash(sig))` over
 * the UTF-8 bytes, body being everything after the first SEP; its folded hash is the same over
 * the body with every SEP-separated part folded: whitespace runs collapsed to one space, the ends
 * trimmed, ASCII letters lower-cased. For a row with non-ASCII text the fold is left to Python
 * (Unicode case rules), and `prove` returns the row's duplicate text instead of that hash.
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

/* --- growable byte buffer ------------------------------------------------------------------ */

typedef struct {
    unsigned char *data;
    size_t len, cap;
} Buf;

static int buf_reserve(Buf *b, size_t extra) {
    if (b->len + extra <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + extra) cap *= 2;
    unsigned char *data = PyMem_Realloc(b->data, cap);
    if (!data) {
        PyErr_NoMemory();
        return -1;
    }
    b->data = data;
    b->cap = cap;
    return 0;
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

/* Python's str.split() whitespace among ASCII characters (SEP is a segment boundary instead). */
static inline int fold_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1e);
}

/* Fold ASCII bytes onto out: per SEP-separated segment, " ".join(segment.split()).lower().
 * out must have room for n bytes. Returns the folded length. */
static size_t fold_ascii(const unsigned char *p, size_t n, unsigned char *out) {
    unsigned char *o = out;
    int pending = 0, started = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = p[i];
        if (c == SEP) {
            *o++ = SEP;
            pending = started = 0;
        } else if (fold_space(c)) {
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
 * (invalid JSON, or out of memory with a Python error set: the caller checks PyErr_Occurred). */
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

/* --- the row ----------------------------------------------------------------------------------- */

typedef struct {
    const char *list_key, *role_key, *content_key;
    Py_ssize_t list_len, role_len, content_len;
    PyObject *roles;       /* dict: role name (bytes) -> one-letter code (bytes) */
    PyObject *tokens;      /* tuple of bytes: special tokens that must not appear in content */
    PyObject *forbidden;   /* tuple of bytes: top-level keys the fast path does not handle */
    int allow_system;
} Spec;

typedef struct {
    Buf text;    /* the row's contents joined by SEP */
    Buf folded;  /* the same, folded (while the row is ASCII) */
    Buf key;     /* scratch for keys and roles */
    char sig[MAX_MESSAGES + 1];
    int n;
    int ascii;
    Py_ssize_t chars;
} Row;

static inline int key_is(const Buf *key, const char *name, Py_ssize_t n) {
    return (Py_ssize_t)key->len == n && memcmp(key->data, name, n) == 0;
}

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
 * special token. Adds its code points to row->chars and, while the row is ASCII, its folded
 * form (after a SEP when it is not the first) to row->folded. */
static int check_content(Row *row, size_t start, const Spec *spec) {
    const unsigned char *p = row->text.data + start, *end = row->text.data + row->text.len, *q = p;
    if (buf_reserve(&row->folded, end - p + 1)) return -1;
    unsigned char *o = row->folded.data + row->folded.len;
    if (row->n > 0) *o++ = SEP; /* as parse_message put one before the content */
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
    int have_role = 0, have_content = 0;
    char code = 0;
    for (int field = 0; field < 2; field++) {
        skip_ws(c);
        row->key.len = 0;
        if (parse_string(c, &row->key) || expect(c, ':')) return -1;
        skip_ws(c);
        if (!have_role && key_is(&row->key, spec->role_key, spec->role_len)) {
            have_role = 1;
            row->key.len = 0;
            if (c->p >= c->end || *c->p != '"' || parse_string(c, &row->key)) return -1;
            PyObject *name = PyBytes_FromStringAndSize((const char *)row->key.data, row->key.len);
            if (!name) return -1;
            PyObject *letter = PyDict_GetItemWithError(spec->roles, name);
            Py_DECREF(name);
            if (!letter) return -1;
            code = PyBytes_AS_STRING(letter)[0];
        } else if (!have_content && key_is(&row->key, spec->content_key, spec->content_len)) {
            have_content = 1;
            if (row->n > 0) {
                if (buf_reserve(&row->text, 1)) return -1;
                row->text.data[row->text.len++] = SEP;
            }
            size_t start = row->text.len;
            if (c->p >= c->end || *c->p != '"' || parse_string(c, &row->text) || check_content(row, start, spec))
                return -1;
        } else return -1;
        if (field == 0 && expect(c, ',')) return -1;
    }
    if (expect(c, '}')) return -1;
    row->sig[row->n++] = code;
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
    row->folded.len = 0;
    row->n = 0;
    row->ascii = 1;
    row->chars = 0;
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

/* --- Python functions ------------------------------------------------------------------------ */

static PyObject *hashes_of(const Row *row) {
    uint64_t seed = hash_bytes((const unsigned char *)row->sig, row->n, 0);
    uint64_t exact = hash_bytes(row->text.data, row->text.len, seed);
    PyObject *folded_or_text;
    if (row->ascii) {
        folded_or_text = PyLong_FromUnsignedLongLong(hash_bytes(row->folded.data, row->folded.len, seed));
    } else {
        PyObject *sig = PyUnicode_FromStringAndSize(row->sig, row->n);
        PyObject *body = PyUnicode_DecodeUTF8((const char *)row->text.data, row->text.len, "strict");
        folded_or_text = sig && body ? PyUnicode_FromFormat("%U\x1f%U", sig, body) : NULL;
        Py_XDECREF(sig);
        Py_XDECREF(body);
    }
    if (!folded_or_text) return NULL;
    return Py_BuildValue("(KNn)", (unsigned long long)exact, folded_or_text, row->chars);
}

PyDoc_STRVAR(prove_doc,
"prove(lines, list_key, role_key, content_key, roles, tokens, forbidden, allow_system) -> list\n\n"
"Per raw JSONL line: None when the row is not certainly clean, else (exact_hash, folded, chars)\n"
"where folded is the folded hash, or the row's duplicate text (str) when it holds non-ASCII\n"
"text. roles maps role names (bytes) to one-letter codes b's', b'u', b'a'; tokens and\n"
"forbidden are tuples of bytes.");

static PyObject *prove(PyObject *self, PyObject *args) {
    PyObject *lines;
    Spec spec;
    if (!PyArg_ParseTuple(args, "O!y#y#y#O!O!O!p", &PyList_Type, &lines, &spec.list_key, &spec.list_len,
                          &spec.role_key, &spec.role_len, &spec.content_key, &spec.content_len, &PyDict_Type,
                          &spec.roles, &PyTuple_Type, &spec.tokens, &PyTuple_Type, &spec.forbidden,
                          &spec.allow_system))
        return NULL;
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
            Py_DECREF(out);
            out = PyErr_Format(PyExc_TypeError, "lines must be bytes");
            break;
        }
        if (parse_row((const unsigned char *)PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line), &row, &spec) == 0)
            result = hashes_of(&row);
        else {
            if (PyErr_Occurred()) result = NULL;
            else result = Py_NewRef(Py_None);
        }
        if (!result) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, result);
    }
    PyMem_Free(row.text.data);
    PyMem_Free(row.folded.data);
    PyMem_Free(row.key.data);
    return out;
}

/* The exact hash of a duplicate text `sig SEP body` (a text without SEP is all sig). */
static uint64_t text_hash(const unsigned char *p, size_t n) {
    const unsigned char *sep = memchr(p, SEP, n);
    size_t head = sep ? (size_t)(sep - p) : n, rest = sep ? n - head - 1 : 0;
    return hash_bytes(sep ? sep + 1 : p + n, rest, hash_bytes(p, head, 0));
}

PyDoc_STRVAR(fingerprint_doc,
"fingerprint(text: bytes) -> (exact_hash, folded_hash)\n\n"
"The hashes `prove` gives a row, of a duplicate text's UTF-8 bytes; the folded hash is None\n"
"when the text is not ASCII (Python folds it and hashes the result with `text_hash`).");

static PyObject *fingerprint(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    const unsigned char *p = view.buf;
    size_t n = view.len;
    uint64_t exact = text_hash(p, n);
    int ascii = 1;
    for (size_t i = 0; i < n; i++)
        if (p[i] >= 0x80) {
            ascii = 0;
            break;
        }
    PyObject *result = NULL;
    if (!ascii) {
        result = Py_BuildValue("(KO)", (unsigned long long)exact, Py_None);
    } else {
        unsigned char *folded = PyMem_Malloc(n ? n : 1);
        if (folded) {
            uint64_t h = text_hash(folded, fold_ascii(p, n, folded));
            result = Py_BuildValue("(KK)", (unsigned long long)exact, (unsigned long long)h);
            PyMem_Free(folded);
        } else PyErr_NoMemory();
    }
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(text_hash_doc, "text_hash(text: bytes) -> int\n\nThe exact hash of a duplicate text's UTF-8 bytes.");

static PyObject *py_text_hash(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    uint64_t h = text_hash(view.buf, view.len);
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLongLong(h);
}

static PyMethodDef methods[] = {
    {"prove", prove, METH_VARARGS, prove_doc},
    {"fingerprint", fingerprint, METH_O, fingerprint_doc},
    {"text_hash", py_text_hash, METH_O, text_hash_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rowscan(void) { return PyModule_Create(&module); }
