/* Read raw JSONL rows of list-of-messages formats in C: validate's fast path and stats' reader.
 *
 * `prove` answers, per line, "certainly clean" (with the row's duplicate hashes and length) or
 * "don't know" (None): validate sends every row it does not clear through orjson and the precise
 * checks, which name each problem. `prove_pairs` does the same for preference pairs (three
 * layouts: explicit prompt, two whole conversations, HH transcripts), and `prove_block` either of
 * them over a block of lines it splits itself, returning columns. So the parser here may refuse
 * anything it finds unusual (deep nesting, long numbers, a message with extra fields); it must
 * never clear a row that the precise path would flag. tests/validation/test_rowscan.py holds it to that.
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
 * Duplicate hashes (`hash_conversation`, `conversation_hashes`, `prove`, `read_messages`) chain
 * each message: h = chain(h, XXH64(role), XXH64(content)) from a fixed seed, over UTF-8 bytes.
 * The folded hash does the same over each content's near-duplicate fold (validation/checks/fold.py:
 * whitespace runs by str.isspace() to one space, each character lower-cased on its own), done
 * here for all of Unicode with the tables of _foldtable.h.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include "_foldtable.h"

#define SEP 0x1f
#define MAX_DEPTH 64
#define MAX_MESSAGES 4096
#define CHAIN_SEED 0x243f6a8885a308d3ULL
#define VALID_CHUNK (64 << 10) /* stats' reader checks the UTF-8 of this many bytes of lines at a time */

/* --- growable byte buffer (no GIL needed) ---------------------------------------------------- */

typedef struct {
    unsigned char *data;
    size_t len, cap;
    int failed; /* out of memory */
} Buf;

/* Room for `extra` more bytes (the doubling, out of line: the common case is one comparison). */
static int buf_grow(Buf *b, size_t extra) {
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

static inline int buf_reserve(Buf *b, size_t extra) {
    return b->len + extra <= b->cap ? 0 : buf_grow(b, extra);
}

/* Inline, so that a constant n (a view, a number) is copied without a call. */
static inline int buf_put(Buf *b, const void *p, size_t n) {
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

#define P1 0x9E3779B185EBCA87ULL
#define P2 0xC2B2AE3D27D4EB4FULL
#define P3 0x165667B19E3779F9ULL
#define P4 0x85EBCA77C2B2AE63ULL
#define P5 0x27D4EB2F165667C5ULL

static inline uint64_t rotl(uint64_t x, int r) { return (x << r) | (x >> (64 - r)); }

static inline uint64_t read64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t input) { return rotl(acc + input * P2, 31) * P1; }

static inline uint64_t xxh_merge(uint64_t acc, uint64_t v) { return (acc ^ xxh_round(0, v)) * P1 + P4; }

/* XXH64 of n bytes (seed 0): four independent lanes over 32-byte stripes. */
static uint64_t hash_bytes(const unsigned char *p, size_t n) {
    const unsigned char *end = p + n;
    uint64_t h;
    if (n >= 32) {
        uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = -P1;
        do {
            v1 = xxh_round(v1, read64(p));
            v2 = xxh_round(v2, read64(p + 8));
            v3 = xxh_round(v3, read64(p + 16));
            v4 = xxh_round(v4, read64(p + 24));
            p += 32;
        } while (end - p >= 32);
        h = rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18);
        h = xxh_merge(h, v1);
        h = xxh_merge(h, v2);
        h = xxh_merge(h, v3);
        h = xxh_merge(h, v4);
    } else {
        h = P5;
    }
    h += n;
    for (; end - p >= 8; p += 8) h = rotl(h ^ xxh_round(0, read64(p)), 27) * P1 + P4;
    if (end - p >= 4) {
        uint32_t w;
        memcpy(&w, p, 4);
        h = rotl(h ^ ((uint64_t)w * P1), 23) * P2 + P3;
        p += 4;
    }
    for (; p < end; p++) h = rotl(h ^ (*p * P5), 11) * P1;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    return h ^ (h >> 32);
}

/* One message, given its role's and content's hashes, into a conversation's chain. */
static inline uint64_t chain(uint64_t h, uint64_t role, uint64_t content) {
    h = rotl(h ^ role, 29) * P1 ^ content;
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    return h;
}

/* Python's str.split() whitespace among ASCII characters. */
static inline int fold_space(unsigned char c) {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= 0x1c && c <= 0x1f);
}

static inline void fold_byte(unsigned char c, unsigned char **o, int *pending, int *started) {
    if (fold_space(c)) {
        *pending = *started;
    } else {
        if (*pending) *(*o)++ = ' ';
        *(*o)++ = (c >= 'A' && c <= 'Z') ? c + 32 : c;
        *pending = 0;
        *started = 1;
    }
}

/* The code point at p (valid UTF-8, at most `left` bytes), and its length in *n. */
static inline unsigned code_point(const unsigned char *p, size_t left, size_t *n) {
    if (p[0] < 0x80) { *n = 1; return p[0]; }
    if (p[0] < 0xe0 && left >= 2) { *n = 2; return ((p[0] & 0x1f) << 6) | (p[1] & 0x3f); }
    if (p[0] < 0xf0 && left >= 3) { *n = 3; return ((p[0] & 0x0f) << 12) | ((p[1] & 0x3f) << 6) | (p[2] & 0x3f); }
    if (left >= 4) {
        *n = 4;
        return ((p[0] & 0x07) << 18) | ((p[1] & 0x3f) << 12) | ((p[2] & 0x3f) << 6) | (p[3] & 0x3f);
    }
    *n = left; /* cut short: not valid UTF-8, kept as it is */
    return 0x110000;
}

/* The length of the character a lead byte (>= 0xc0) begins. */
static inline unsigned lead_bytes(unsigned char lead) {
    return lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : 2;
}

static inline void put_code_point(unsigned char **o, unsigned cp) {
    unsigned char *d = *o;
    if (cp < 0x80) {
        *d++ = (unsigned char)cp;
    } else if (cp < 0x800) {
        *d++ = 0xc0 | (cp >> 6);
        *d++ = 0x80 | (cp & 0x3f);
    } else if (cp < 0x10000) {
        *d++ = 0xe0 | (cp >> 12);
        *d++ = 0x80 | ((cp >> 6) & 0x3f);
        *d++ = 0x80 | (cp & 0x3f);
    } else {
        *d++ = 0xf0 | (cp >> 18);
        *d++ = 0x80 | ((cp >> 12) & 0x3f);
        *d++ = 0x80 | ((cp >> 6) & 0x3f);
        *d++ = 0x80 | (cp & 0x3f);
    }
    *o = d;
}

static inline void copy_char(const unsigned char *p, size_t k, unsigned char **o) {
    unsigned char *d = *o;
    d[0] = p[0];
    if (k > 1) d[1] = p[1];
    if (k > 2) d[2] = p[2];
    if (k > 3) d[3] = p[3];
    *o += k;
}

/* The fold_two entry of the two-byte character at p: its fold's length << 24 | the fold's bytes
 * (length 0: a whitespace). */
static inline uint32_t two_byte_fold(const unsigned char *p) {
    return fold_two[(((p[0] & 0x1f) << 6) | (p[1] & 0x3f)) - 0x80];
}

/* The lower-case table's entry of code point cp (< 0x110000): 0 (folds to itself), what to add to
 * cp, or below FOLD_EXPANDED a fold_expand string. */
static inline int32_t fold_entry(unsigned cp) {
    return fold_stage2[fold_stage1[cp / FOLD_BLOCK]][cp % FOLD_BLOCK];
}

static inline int keeps_pair(unsigned char lead, unsigned char second) {
    return (second & 0xc0) == 0x80 && fold_second_kept[fold_pair_row[lead]][second & 0x3f];
}

#ifdef __SSE2__
/* The fold of the character of k bytes at p (its lead p[0] >= 0xc2, valid UTF-8) written over the
 * copy of it at d, when that fold is k bytes long too: 1. Else 0, d left alone: a whitespace, a
 * fold of another length (İ to i̇). Capitals of Latin, Greek, Cyrillic, full-width forms... */
static inline int fold_in_place(const unsigned char *p, size_t k, unsigned char *d) {
    if (k == 2) {
        uint32_t entry = two_byte_fold(p);
        if (entry >> 24 != 2) return 0;
        d[0] = (unsigned char)entry;
        d[1] = (unsigned char)(entry >> 8);
        return 1;
    }
    size_t m;
    unsigned cp = code_point(p, k, &m);
    if (fold_space_lead(p[0]) && fold_is_space(cp)) return 0;
    int32_t entry = fold_entry(cp);
    if (entry == 0) return 1; /* folds to itself */
    if (entry < FOLD_EXPANDED) return 0;
    unsigned low = cp + entry;
    if ((low < 0x800 ? 2u : low < 0x10000 ? 3u : 4u) != k) return 0;
    put_code_point(&d, low);
    return 1;
}

/* A character's first two bytes (lead >= 0xc0, then its second), indexed as one native uint16_t:
 * the first two bytes of its fold, where that takes no more than them: a two-byte character
 * whose fold is two bytes (fold_two), or a longer one its first two bytes say folds to itself
 * (keeps_pair). Else LEAD_OTHER is set: fold_in_place decides. */
static uint16_t lead_fold[1 << 16];

/* The flag of lead_fold, read as one uint16_t: bit 6 of the second byte, which a continuation
 * byte never has. */
static const uint16_t LEAD_OTHER =
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    0x40;
#else
    0x40 << 8;
#endif

static void init_lead_fold(void) {
    for (unsigned lead = 0; lead < 256; lead++)
        for (unsigned second = 0; second < 256; second++) {
            unsigned char two[2] = {(unsigned char)lead, (unsigned char)second}, fold[2] = {0, 0x40};
            if ((second & 0xc0) == 0x80 && lead >= 0xc2 && lead <= 0xdf) {
                uint32_t entry = two_byte_fold(two);
                if (entry >> 24 == 2) fold[0] = (unsigned char)entry, fold[1] = (unsigned char)(entry >> 8);
            } else if (lead >= 0xe0 && lead <= 0xf4 && (fold_keeps_lead[lead] || keeps_pair(two[0], two[1]))) {
                fold[0] = two[0], fold[1] = two[1];
            }
            uint16_t at;
            memcpy(&at, two, 2);
            memcpy(&lead_fold[at], fold, 2);
        }
}

/* The ASCII whitespace of v (fold_space) as a mask; *spaced: v with each of them made a space;
 * *odd: its ASCII control bytes and DEL, whitespace or not (bytes >= 0x80, `wide`, are none). */
static inline unsigned block_spaces(__m128i v, unsigned wide, unsigned *odd, __m128i *spaced) {
    const __m128i space = _mm_set1_epi8(' ');
    unsigned spaces = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, space));
    /* a signed comparison: the bytes >= 0x80 are below 0x20 too */
    *odd = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)),
                                                    _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f)))) & ~wide;
    *spaced = v;
    if (*odd) { /* the rest of fold_space: \t-\r and \x1c-\x1f */
        __m128i ws = _mm_or_si128(
            _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('\t' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('\r' + 1))),
            _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8(0x1b)), _mm_cmplt_epi8(v, _mm_set1_epi8(0x20))));
        spaces |= (unsigned)_mm_movemask_epi8(ws);
        *spaced = _mm_or_si128(_mm_andnot_si128(ws, v), _mm_and_si128(ws, space));
    }
    return spaces;
}

/* Sixteen bytes whose fold lower-cases their ASCII capitals, makes each ASCII whitespace a space
 * (each alone between other characters, none owed from before the block unless the block starts
 * with a character; a last one is owed to what follows) and folds each other character to one as
 * long as itself (fold_in_place): folded onto *o; 16. A character cut by the block's end whose lead
 * fold_keeps_lead keeps is finished as it is. Else the bytes before the first that is none of that
 * (a character whose fold is longer or shorter, or cut by the block's end, a control character, a
 * second whitespace in a row) are folded so, and their number returned (0: none): the caller
 * folds what follows character by character. They end where a character begins. */
static inline size_t fold_block(const unsigned char *p, unsigned char **o, int *pending, int *started) {
    const __m128i v = _mm_loadu_si128((const __m128i *)p);
    unsigned wide = (unsigned)_mm_movemask_epi8(v); /* bytes >= 0x80 */
    unsigned odd;
    __m128i spaced;
    unsigned spaces = block_spaces(v, wide, &odd, &spaced);
    /* leads (bytes >= 0xc0) that fold_keeps_lead does not keep */
    unsigned leads = wide & ~fold_kept_bytes(v);
    unsigned bad = (odd & ~spaces) | (spaces & (spaces >> 1)) | ((spaces & 1) && (!*started || *pending));
    if (bad & 1) return 0;
    unsigned char *d = *o + (*pending ? 1 : 0);
    __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)), _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
    _mm_storeu_si128((__m128i *)d, _mm_add_epi8(spaced, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
    unsigned limit = bad ? (unsigned)__builtin_ctz(bad) : 16;
    if (leads) { /* a character the block's end cuts (kept as it is when its lead keeps): the block ends before it */
        unsigned last = 31 - (unsigned)__builtin_clz(leads), k = lead_bytes(p[last]);
        if (last + k > 16 && last < limit) limit = last;
        leads &= (1u << limit) - 1;
    }
    for (; leads; leads &= leads - 1) {
        unsigned j = (unsigned)__builtin_ctz(leads);
        const unsigned char *c = p + j;
        uint16_t at, fold;
        memcpy(&at, c, 2); /* the character ends before the block does */
        fold = lead_fold[at];
        if (!(fold & LEAD_OTHER)) {
            memcpy(d + j, &fold, 2);
            continue;
        }
        if (fold_in_place(c, lead_bytes(c[0]), d + j)) continue;
        limit = j;
        break;
    }
    size_t n = limit;
    if (n == 0) return 0;
    if (*pending) **o = ' ';
    /* a space at the end is owed to the next character, if one comes */
    *pending = (spaces >> (n - 1)) & 1;
    *o = d + n - *pending;
    *started = 1;
    return n;
}
#endif

/* The fold of the character of at least two bytes at p (at most `left`); its length. */
static inline size_t fold_wide(const unsigned char *p, size_t left, unsigned char **o, int *pending, int *started) {
    size_t k;
    if (p[0] < 0xe0 && left >= 2) { /* two bytes (Latin, Greek, Cyrillic...): their fold from one table */
        uint32_t entry = two_byte_fold(p);
        size_t m = entry >> 24;
        if (m == 0) { /* whitespace */
            *pending = *started;
            return 2;
        }
        if (*pending) *(*o)++ = ' ';
        *pending = 0;
        *started = 1;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        memcpy(*o, &entry, 4); /* the fold in the low bytes; out has room (fold_text) */
#else
        for (size_t j = 0; j < m; j++) (*o)[j] = (unsigned char)(entry >> (8 * j));
#endif
        *o += m;
        return 2;
    }
    if (fold_keeps_lead[p[0]]) { /* CJK, Hangul, Indic...: no decoding needed (two bytes: only cut short) */
        k = lead_bytes(p[0]);
        if (k > left) k = left;
        if (*pending) *(*o)++ = ' ';
        *pending = 0;
        *started = 1;
        copy_char(p, k, o);
        return k;
    }
    unsigned cp = code_point(p, left, &k);
    if (fold_space_lead(p[0]) && fold_is_space(cp)) {
        *pending = *started;
        return k;
    }
    if (*pending) *(*o)++ = ' ';
    *pending = 0;
    *started = 1;
    int32_t entry = cp < 0x110000 ? fold_entry(cp) : 0;
    if (entry == 0) {
        copy_char(p, k, o);
    } else if (entry < FOLD_EXPANDED) {
        const char *text = fold_expand[FOLD_EXPANDED - 1 - entry];
        size_t m = strlen(text);
        memcpy(*o, text, m);
        *o += m;
    } else {
        put_code_point(o, cp + entry);
    }
    return k;
}

/* The near-duplicate fold (validation/checks/fold.py) of UTF-8 text onto out, which has room for 2n
 * bytes (a lower case is at most 1.5 times as long); the folded length. `started`: text came
 * before (folded already), `pending`: a space is owed to it if a character follows. */
static size_t fold_from(const unsigned char *p, size_t n, unsigned char *out, int pending, int started) {
    unsigned char *o = out;
    size_t i = 0;
    while (i < n) {
        size_t stop = n;
#ifdef __SSE2__
        if (n - i >= 16) {
            size_t folded = fold_block(p + i, &o, &pending, &started);
            if (folded == 16) {
                i += 16;
                continue;
            }
            unsigned char next = p[i + folded];
            if (folded && next >= 0xc0 && folded + lead_bytes(next) > 16) {
                i += folded; /* the block ended before a character its end cut: the next block holds it */
                continue;
            }
            stop = i + 16; /* character by character past this block, then blocks again */
            i += folded;
        }
#endif
        while (i < stop) {
            if (p[i] < 0x80) fold_byte(p[i++], &o, &pending, &started);
            else if (p[i] < 0xc0) *o++ = p[i++]; /* the rest of a character a block began */
            else i += fold_wide(p + i, n - i, &o, &pending, &started);
        }
    }
    return o - out;
}

static inline size_t fold_text(const unsigned char *p, size_t n, unsigned char *out) {
    return fold_from(p, n, out, 0, 0);
}

/* Whether the character at p (a lead >= 0xc0, at most `left` bytes) folds to itself. */
static inline int folds_to_itself(const unsigned char *p, size_t left) {
    size_t k;
    unsigned cp = code_point(p, left, &k);
    if (cp >= 0x110000 || (fold_space_lead(p[0]) && fold_is_space(cp))) return 0; /* cut short, a space */
    return fold_entry(cp) == 0;
}

/* The fold of valid UTF-8 text that folding maps byte for byte, in the common case: ASCII capitals
 * lowered, each ASCII whitespace a space (none at either end, none next to another), every other
 * character one that folds to itself (fold_kept_wide, keeps_pair): written onto out (n bytes), and
 * 1; *changed: whether a byte changed. Else 0 (a capital of another script, a no-break space, two
 * spaces in a row...): the first *done bytes (whole blocks of sixteen) are such text, folded onto
 * out, save that the last may be a whitespace (written as a space, owed to what follows), and they
 * may end inside a character. */
static int fold_simple(const unsigned char *p, size_t n, unsigned char *out, size_t *done, int *changed) {
    *done = 0;
    *changed = 0;
    if (n == 0) return 1;
    if (fold_space(p[0]) || fold_space(p[n - 1])) return 0;
    unsigned prev_space = 0, change = 0;
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i)), spaced;
        unsigned wide = (unsigned)_mm_movemask_epi8(v), odd; /* bytes >= 0x80 */
        unsigned spaces = block_spaces(v, wide, &odd, &spaced);
        if ((odd & ~spaces) || (spaces & (spaces >> 1)) || (prev_space && (spaces & 1))) return 0;
        change |= odd; /* whitespace other than the space, made one */
        /* leads the tables cannot tell by their first bytes (，ế, a lead in the last byte): their code points */
        if (wide)
            for (unsigned other = wide & ~fold_kept_wide(v, wide); other; other &= other - 1)
                if (!folds_to_itself(p + i + __builtin_ctz(other), n - i - __builtin_ctz(other))) return 0;
        __m128i upper = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('A' - 1)),
                                      _mm_cmplt_epi8(v, _mm_set1_epi8('Z' + 1)));
        change |= (unsigned)_mm_movemask_epi8(upper);
        _mm_storeu_si128((__m128i *)(out + i), _mm_add_epi8(spaced, _mm_and_si128(upper, _mm_set1_epi8(0x20))));
        prev_space = spaces >> 15;
        *done = i + 16;
    }
#endif
    for (; i < n; i++) {
        unsigned char c = p[i];
        if (c >= 0x80) {
            /* the tables first: decoding every lead of the last bytes costs more than the tables */
            if (c >= 0xc0 && !fold_keeps_lead[c] && !(i + 1 < n && keeps_pair(c, p[i + 1])) &&
                !folds_to_itself(p + i, n - i))
                return 0;
            prev_space = 0;
        } else if (fold_space(c)) {
            if (prev_space) return 0;
            prev_space = 1;
            change |= c != ' ';
            c = ' ';
        } else {
            if (c < 0x20 || c == 0x7f) return 0;
            prev_space = 0;
            if (c >= 'A' && c <= 'Z') {
                c += 32;
                change = 1;
            }
        }
        out[i] = c;
    }
    *changed = change != 0;
    return 1;
}

/* The exact and folded hashes of one content's UTF-8 bytes, and the length of its fold in
 * *kept (0: the text is empty or whitespace). -1: out of memory. */
static int content_hashes(const unsigned char *p, size_t n, uint64_t *exact, uint64_t *folded, size_t *kept,
                          Buf *scratch) {
    *exact = hash_bytes(p, n);
    scratch->len = 0;
    if (buf_reserve(scratch, 2 * n + 1)) return -1;
    size_t done;
    int changed;
    if (fold_simple(p, n, scratch->data, &done, &changed)) {
        *kept = n;
        *folded = changed ? hash_bytes(scratch->data, n) : *exact;
        return 0;
    }
    /* the head folded byte for byte (a whitespace at its end owed to what follows), the rest folded */
    int owed = done && fold_space(p[done - 1]);
    size_t head = done - owed;
    *kept = head + fold_from(p + done, n - done, scratch->data + head, owed, done > 0);
    *folded = *kept == n && memcmp(scratch->data, p, n) == 0 ? *exact : hash_bytes(scratch->data, *kept);
    return 0;
}

/* Both chain steps of one message. -1: out of memory (a Python error set). */
static int chain_message(uint64_t *exact, uint64_t *folded, const char *role, size_t rn, const char *content,
                         size_t cn, Buf *scratch) {
    uint64_t rh = hash_bytes((const unsigned char *)role, rn), ch, fh;
    size_t kept;
    if (content_hashes((const unsigned char *)content, cn, &ch, &fh, &kept, scratch)) {
        PyErr_NoMemory();
        return -1;
    }
    *exact = chain(*exact, rh, ch);
    *folded = chain(*folded, rh, fh);
    return 0;
}

/* --- strict JSON ----------------------------------------------------------------------------- */

/* Lines whose UTF-8 is checked at once (utf8_valid) when a string first holds a byte >= 0x80. */
typedef struct {
    const unsigned char *start, *end;
    int valid; /* -1: not checked yet */
} Span;

typedef struct {
    const unsigned char *p, *end;
    Span *span; /* the lines the cursor is in, or NULL: strings check their UTF-8 themselves */
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

/* The value of two hex digits, indexed by the two bytes as a native uint16_t; 0x100: not two hex
 * digits. (128 KiB, of which escaped text touches a few lines: the first two digits of Hangul or CJK
 * take a few dozen values.) */
static uint16_t hex_pair[1 << 16];

/* The three UTF-8 bytes of `\uXXXX` in two lookups: utf8_high[XX] | utf8_low[YY], each indexed as
 * hex_pair, is the character's bytes in memory order, then a fourth byte that is not 0 where the
 * digits are not hex or the character is not one of three bytes (below U+0800, or a surrogate):
 * those take u_escape. Built byte by byte, so the same on either byte order. */
static uint32_t utf8_high[1 << 16], utf8_low[1 << 16];

/* 1 for the ASCII bytes a JSON string holds as they are: not a control byte, quote or backslash. */
static unsigned char json_plain[256];

static void init_hex(void) {
    unsigned char value[256];
    memset(value, 0xff, sizeof value);
    for (int i = 0; i < 10; i++) value['0' + i] = i;
    for (int i = 0; i < 6; i++) value['a' + i] = value['A' + i] = 10 + i;
    for (int b = 0x20; b < 0x80; b++) json_plain[b] = b != '"' && b != '\\';
    for (unsigned a = 0; a < 256; a++)
        for (unsigned b = 0; b < 256; b++) {
            unsigned char two[2] = {(unsigned char)a, (unsigned char)b};
            uint16_t at;
            memcpy(&at, two, 2);
            int bad = value[a] == 0xff || value[b] == 0xff;
            unsigned x = bad ? 0 : (unsigned)(value[a] << 4 | value[b]);
            hex_pair[at] = bad ? 0x100 : (uint16_t)x;
            unsigned char high[4] = {(unsigned char)(0xe0 | x >> 4), (unsigned char)(0x80 | (x & 0xf) << 2), 0,
                                     (unsigned char)(bad || x < 0x08 || (x >= 0xd8 && x <= 0xdf))};
            unsigned char low[4] = {0, (unsigned char)(x >> 6), (unsigned char)(0x80 | (x & 0x3f)), (unsigned char)bad};
            memcpy(&utf8_high[at], high, 4);
            memcpy(&utf8_low[at], low, 4);
        }
}

/* The fourth byte of a utf8_high | utf8_low entry read as one uint32_t: set when the escape is not
 * a three-byte character in hex digits. */
static const uint32_t UTF8_OTHER =
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    0xffu;
#else
    0xffu << 24;
#endif

/* The two bytes `\u` read as one uint16_t. */
static const uint16_t BACKSLASH_U =
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    '\\' << 8 | 'u';
#else
    'u' << 8 | '\\';
#endif

static inline int hex4(const unsigned char *p, unsigned *out) {
    uint16_t high, low;
    memcpy(&high, p, 2);
    memcpy(&low, p + 2, 2);
    unsigned a = hex_pair[high], b = hex_pair[low];
    if ((a | b) & 0x100) return -1;
    *out = a << 8 | b;
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

/* Whole spans of UTF-8 checked at once, with the lookup tables of Keiser and Lemire ("Validating
 * UTF-8 in less than one instruction per byte", 2021; simdjson's lookup4): three pshufb lookups on
 * each byte and the one before it flag every error of utf8_len's rules (a missing or extra
 * continuation byte, overlong forms, surrogates, past U+10FFFF), two saturating subtractions the
 * third and fourth bytes. SSSE3 only, chosen at run time (use_ssse3); without it the strings are
 * checked one by one as before. */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#include <tmmintrin.h>
#define UTF8_SPANS 1
static int ssse3_on; /* the CPU has SSSE3 (and use_ssse3 did not turn it off) */

enum { TOO_SHORT = 1, TOO_LONG = 2, OVERLONG_3 = 4, TOO_LARGE = 8, SURROGATE = 16, OVERLONG_2 = 32,
       TOO_LARGE_1000 = 64, OVERLONG_4 = 64, TWO_CONTS = 128, CARRY = TOO_SHORT | TOO_LONG | TWO_CONTS };

__attribute__((target("ssse3"))) static int utf8_valid_ssse3(const unsigned char *p, size_t n) {
    const __m128i first_high = _mm_setr_epi8(  /* by the high nibble of the byte before */
        TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG, TOO_LONG,
        (char)TWO_CONTS, (char)TWO_CONTS, (char)TWO_CONTS, (char)TWO_CONTS, TOO_SHORT | OVERLONG_2, TOO_SHORT,
        TOO_SHORT | OVERLONG_3 | SURROGATE, TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4);
    const __m128i first_low = _mm_setr_epi8(  /* by its low nibble */
        (char)(CARRY | OVERLONG_3 | OVERLONG_2 | OVERLONG_4), (char)(CARRY | OVERLONG_2), (char)CARRY, (char)CARRY,
        (char)(CARRY | TOO_LARGE), (char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (char)(CARRY | TOO_LARGE | TOO_LARGE_1000), (char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (char)(CARRY | TOO_LARGE | TOO_LARGE_1000), (char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (char)(CARRY | TOO_LARGE | TOO_LARGE_1000), (char)(CARRY | TOO_LARGE | TOO_LARGE_1000),
        (char)(CARRY | TOO_LARGE | TOO_LARGE_1000), (char)(CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE),
        (char)(CARRY | TOO_LARGE | TOO_LARGE_1000), (char)(CARRY | TOO_LARGE | TOO_LARGE_1000));
    const __m128i second_high = _mm_setr_epi8(  /* by the high nibble of the byte itself */
        TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT,
        (char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4),
        (char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | OVERLONG_3 | TOO_LARGE),
        (char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE),
        (char)(TOO_LONG | OVERLONG_2 | TWO_CONTS | SURROGATE | TOO_LARGE), TOO_SHORT, TOO_SHORT, TOO_SHORT, TOO_SHORT);
    /* a lead in the last three bytes whose character needs more bytes than are left */
    const __m128i last_room = _mm_setr_epi8(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, (char)(0xf0 - 1),
                                            (char)(0xe0 - 1), (char)(0xc0 - 1));
    const __m128i nibble = _mm_set1_epi8(0x0f), zero = _mm_setzero_si128();
    __m128i prev = zero, error = zero, incomplete = zero;
    for (size_t i = 0; i < n; i += 16) {
        __m128i in;
        if (n - i >= 16) {
            in = _mm_loadu_si128((const __m128i *)(p + i));
        } else { /* the last bytes, then zeros (ASCII: a character cut by the end is an error) */
            unsigned char tail[16] = {0};
            memcpy(tail, p + i, n - i);
            in = _mm_loadu_si128((const __m128i *)tail);
        }
        if (!_mm_movemask_epi8(in)) { /* ASCII: an error only if the block before left a character open */
            error = _mm_or_si128(error, incomplete);
            incomplete = zero;
        } else {
            __m128i prev1 = _mm_alignr_epi8(in, prev, 15);
            __m128i flags = _mm_and_si128(
                _mm_and_si128(_mm_shuffle_epi8(first_high, _mm_and_si128(_mm_srli_epi16(prev1, 4), nibble)),
                              _mm_shuffle_epi8(first_low, _mm_and_si128(prev1, nibble))),
                _mm_shuffle_epi8(second_high, _mm_and_si128(_mm_srli_epi16(in, 4), nibble)));
            /* the third and fourth bytes of a character must be continuation bytes (bit 7) */
            __m128i third = _mm_subs_epu8(_mm_alignr_epi8(in, prev, 14), _mm_set1_epi8((char)(0xe0 - 0x80)));
            __m128i fourth = _mm_subs_epu8(_mm_alignr_epi8(in, prev, 13), _mm_set1_epi8((char)(0xf0 - 0x80)));
            __m128i must = _mm_and_si128(_mm_or_si128(third, fourth), _mm_set1_epi8((char)0x80));
            error = _mm_or_si128(error, _mm_xor_si128(must, flags));
            incomplete = _mm_subs_epu8(in, last_room);
        }
        prev = in;
    }
    error = _mm_or_si128(error, incomplete);
    return _mm_movemask_epi8(_mm_cmpeq_epi8(error, zero)) == 0xffff;
}
#endif

/* 1: p[0..n) is valid UTF-8 (as utf8_len has it). 0: it is not, or this CPU cannot tell fast. */
static int utf8_valid(const unsigned char *p, size_t n) {
#ifdef UTF8_SPANS
    if (ssse3_on) return utf8_valid_ssse3(p, n);
#endif
    return 0;
}

/* Whether the cursor's span is valid UTF-8 (then its strings only count their characters). */
static inline int span_valid(const Cursor *c) {
    if (!c->span) return 0;
    if (c->span->valid < 0) c->span->valid = utf8_valid(c->span->start, (size_t)(c->span->end - c->span->start));
    return c->span->valid;
}

/* Set bits of a 16-bit mask, without the library call __builtin_popcount makes on x86-64's baseline. */
static inline int popcount16(unsigned x) {
    x = x - ((x >> 1) & 0x5555);
    x = (x & 0x3333) + ((x >> 2) & 0x3333);
    x = (x + (x >> 4)) & 0x0f0f;
    return (x + (x >> 8)) & 0x1f;
}

#ifdef __SSE2__
static inline unsigned bytes_in(__m128i v, unsigned char lo, unsigned char hi) { /* 0x80 <= lo <= hi < 0xff */
    return (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8((char)(lo - 1))),
                                                     _mm_cmplt_epi8(v, _mm_set1_epi8((char)(hi + 1)))));
}

/* Sixteen bytes (starting at a character, no quote, backslash or control byte; `wide`: the mask
 * of bytes >= 0x80) of valid characters of one to three bytes: how many bytes to take (16, or
 * up to a character the block's end cuts), their characters in *chars; -1 for anything else (a
 * four-byte character, invalid UTF-8), left to the byte-by-byte path. The rules of utf8_len:
 * continuation bytes exactly after their lead, no overlong forms (C0, C1, E0 80-9F) and no
 * surrogates (ED A0-BF). */
static inline int utf8_block(__m128i v, unsigned wide, Py_ssize_t *chars) {
    unsigned cont = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, _mm_set1_epi8((char)0xc0))) & wide;
    unsigned lead2 = bytes_in(v, 0xc2, 0xdf), lead3 = bytes_in(v, 0xe0, 0xef);
    unsigned e0 = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xe0)));
    unsigned ed = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8((char)0xed)));
    unsigned high = bytes_in(v, 0xa0, 0xbf); /* E0 needs a second byte from A0, ED one below it */
    unsigned cut = (lead2 & 0x8000) | (lead3 & 0xc000); /* a character that goes on past the block */
    if ((cont | lead2 | lead3) != wide || (e0 & ~(high >> 1) & ~cut) || (ed & (high >> 1)))
        return -1;
    if (cont != (((lead2 | lead3) << 1 | lead3 << 2) & 0xffff)) return -1;
    int n = cut ? __builtin_ctz(cut) : 16;
    *chars += n - popcount16(cont & ((1u << n) - 1));
    return n;
}
#endif

/* The \uXXXX escape at c->p (a surrogate pair as one code point) into *cp; -1: invalid, or a
 * lone surrogate. */
static inline int u_escape(Cursor *c, unsigned *cp) {
    if (c->end - c->p < 6 || hex4(c->p + 2, cp)) return -1;
    c->p += 6;
    if (*cp >= 0xdc00 && *cp <= 0xdfff) return -1;
    if (*cp >= 0xd800 && *cp <= 0xdbff) {
        unsigned low;
        if (c->end - c->p < 6 || c->p[0] != '\\' || c->p[1] != 'u' || hex4(c->p + 2, &low) || low < 0xdc00 ||
            low > 0xdfff)
            return -1;
        c->p += 6;
        *cp = 0x10000 + ((*cp - 0xd800) << 10) + (low - 0xdc00);
    }
    return 0;
}

/* What parse_string saw: the raw bytes between the quotes, whether they hold an escape (else
 * they are the decoded text), and its code points. */
typedef struct {
    const unsigned char *raw;
    size_t raw_len;
    Py_ssize_t chars;
    int escaped;
} Str;

/* A string at c->p ('"'): validated, and decoded onto `out` when out is not NULL; described in
 * `info` when that is not NULL. -1: refuse (invalid JSON, or out of memory: out->failed). */
static int parse_string(Cursor *c, Buf *out, Str *info) {
    if (c->p >= c->end || *c->p != '"') return -1;
    c->p++;
    Str seen = {c->p, 0, 0, 0};
    for (;;) {
        /* a run of characters that stand for themselves, copied onto out in one piece */
        const unsigned char *run = c->p;
        for (;;) {
#ifdef __SSE2__
            /* sixteen bytes at a time up to the first quote, backslash or control byte, through
             * text of one- to three-byte characters (utf8_block), or any text of a span whose
             * UTF-8 is known valid (span_valid) */
            const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), below = _mm_set1_epi8(0x1f);
            while (c->end - c->p >= 16) {
                __m128i v = _mm_loadu_si128((const __m128i *)c->p);
                __m128i stop = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, slash)),
                                            _mm_cmpeq_epi8(_mm_min_epu8(v, below), v)); /* v <= 0x1f, unsigned */
                unsigned stops = (unsigned)_mm_movemask_epi8(stop), wide = (unsigned)_mm_movemask_epi8(v);
                if (!(stops | wide)) {
                    c->p += 16;
                    seen.chars += 16;
                    continue;
                }
                if (wide && span_valid(c)) { /* valid UTF-8: characters are the bytes that are not continuation bytes */
                    int n = stops ? __builtin_ctz(stops) : 16;
                    unsigned cont = (unsigned)_mm_movemask_epi8(_mm_cmplt_epi8(v, _mm_set1_epi8((char)0xc0))) & wide;
                    c->p += n;
                    seen.chars += n - popcount16(cont & ((1u << n) - 1));
                    if (stops) break; /* at the quote, backslash or control byte */
                    continue;
                }
                int taken = stops ? -1 : utf8_block(v, wide, &seen.chars);
                if (taken > 0) {
                    c->p += taken;
                    continue;
                }
                int plain = __builtin_ctz(stops | wide); /* ASCII up to there; the rest byte by byte */
                c->p += plain;
                seen.chars += plain;
                break;
            }
#endif
            const unsigned char *ascii = c->p;
            while (c->p < c->end && *c->p >= 0x20 && *c->p < 0x80 && *c->p != '"' && *c->p != '\\') c->p++;
            seen.chars += c->p - ascii;
            if (c->p >= c->end || *c->p < 0x80) break;
            if (span_valid(c)) { /* valid UTF-8 (maybe from inside a character): the bytes that begin one */
                do {
                    seen.chars += (*c->p & 0xc0) != 0x80;
                    c->p++;
                } while (c->p < c->end && *c->p >= 0x80);
                continue;
            }
            do { /* multi-byte characters, checked one by one */
                size_t n = utf8_len(c->p, c->end);
                if (!n) return -1;
                c->p += n;
                seen.chars++;
            } while (c->p < c->end && *c->p >= 0x80);
        }
        if (out && c->p > run) {
            size_t n = c->p - run;
            if (buf_reserve(out, n)) return -1;
            if (n <= 8) /* the space between two escaped words: no call */
                for (size_t i = 0; i < n; i++) out->data[out->len + i] = run[i];
            else
                memcpy(out->data + out->len, run, n);
            out->len += n;
        }
        if (c->p >= c->end) return -1;
        unsigned char ch = *c->p;
        if (ch == '"') {
            seen.raw_len = c->p - seen.raw;
            c->p++;
            if (info) *info = seen;
            return 0;
        }
        if (ch < 0x20) return -1;
        seen.chars++;
        /* a backslash escape */
        seen.escaped = 1;
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
            case 'u': {
                /* a run of \uXXXX escapes (json.dumps writes all non-ASCII text so), decoded in one
                 * loop on local pointers (a store through `d` would otherwise make the compiler
                 * reload the cursor); it takes no more bytes decoded than escaped (6 -> 3, 12 -> 4),
                 * plus one: a three-byte character is stored as four bytes */
                const unsigned char *q = c->p - 2, *end = c->end, *first = q;
                if (out && buf_reserve(out, (size_t)(end - q) + 1)) return -1;
                unsigned char *d = out ? out->data + out->len : NULL;
                Py_ssize_t decoded = 0;
                for (;; decoded++) {
                    uint16_t two;
                    if (end - q >= 6 && (memcpy(&two, q, 2), two == BACKSLASH_U)) {
                        uint16_t high, low;
                        memcpy(&high, q + 2, 2);
                        memcpy(&low, q + 4, 2);
                        uint32_t bytes = utf8_high[high] | utf8_low[low];
                        if (!(bytes & UTF8_OTHER)) {
                            /* the common case: a character of three UTF-8 bytes (most of the BMP,
                             * Hangul and CJK among them) */
                            if (d) {
                                memcpy(d, &bytes, 4);
                                d += 3;
                            }
                            q += 6;
                        } else { /* ASCII, two bytes, a surrogate pair, or not hex digits (refused there) */
                            c->p = q;
                            if (u_escape(c, &cp)) return -1;
                            q = c->p;
                            if (d) put_code_point(&d, cp);
                        }
                    } else if (end - q >= 3 && json_plain[q[0]] && (memcpy(&two, q + 1, 2), two == BACKSLASH_U)) {
                        if (d) *d++ = q[0]; /* one ASCII character between escaped words (a space) */
                        q++;
                    } else {
                        break;
                    }
                }
                if (q == first) return -1; /* the first escape cut short (fewer than six bytes left) */
                c->p = q;
                seen.chars += decoded - 1; /* the first was counted above */
                if (out) out->len = d - out->data;
                continue;
            }
            default: return -1;
        }
        if (out) { /* the other escapes stand for ASCII characters */
            if (buf_reserve(out, 1)) return -1;
            out->data[out->len++] = (unsigned char)cp;
        }
    }
}

/* After an item of an object or array: 1 past its `close` bracket, 0 past a comma (another item
 * follows), -1 at anything else. */
static int next_item(Cursor *c, unsigned char close) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != close && *c->p != ',')) return -1;
    return *c->p++ == close;
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
        if (keyed && (parse_string(c, NULL, NULL) || expect(c, ':'))) return -1;
        if (skip_value(c, depth + 1)) return -1;
        int last = next_item(c, close);
        if (last) return last > 0 ? 0 : -1;
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
        case '"': return parse_string(c, NULL, NULL);
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

/* Past `"name"` when the cursor is at it, written without escapes: 1. Else 0, the cursor left. */
static inline int take_key(Cursor *c, const char *name, Py_ssize_t n) {
    if (c->end - c->p < n + 2 || c->p[0] != '"' || c->p[n + 1] != '"' || memcmp(c->p + 1, name, (size_t)n)) return 0;
    c->p += n + 2;
    return 1;
}

/* --- validate's prover --------------------------------------------------------------------------- */

typedef struct {
    const char *list_key, *role_key, *content_key;
    Py_ssize_t list_len, role_len, content_len;
    RoleMap roles;         /* source name -> "system", "user" or "assistant" */
    PyObject *tokens;      /* tuple of bytes: special tokens that must not appear in content */
    PyObject *forbidden;   /* tuple of bytes: top-level keys the fast path does not handle */
    Py_ssize_t max_line;   /* read_messages: a longer line is deferred unread (stats: row-too-large) */
    const char *parts;     /* the roles ('s', 'u', 'a') whose content may be text parts; NULL or "": none */
    Py_ssize_t parts_len;
} Spec;

/* One cleared message: its role's and content's hashes, and where its content lies in Row.text. */
typedef struct {
    uint64_t role, exact, folded;
    size_t start, len;
} Hashed;

typedef struct {
    Buf text;    /* the row's contents joined by SEP */
    Buf folded;  /* scratch: the current content, folded */
    Buf key;     /* scratch for keys and roles */
    Buf hashed;  /* per message: a Hashed, in the order read */
    char sig[MAX_MESSAGES + 1];
    int n;
    Py_ssize_t chars;
    /* A pair's second whole conversation: its messages from index mirror_base on are checked against
     * those of the first (mirror_count of them from mirror_first); one equal to its counterpart is the
     * same message, its checks and hashes already done (the shared prompt is read twice, checked once). */
    int mirror_first, mirror_count, mirror_base;
} Row;

static inline const Hashed *hashed_at(const Row *row, int i) { return (const Hashed *)row->hashed.data + i; }

/* Where the next message's content starts in row->text: after a SEP when a message came before. -1: out of
 * memory. */
static inline int begin_content(Row *row, size_t *start) {
    static const unsigned char sep = SEP;
    if (row->n > 0 && buf_put(&row->text, &sep, 1)) return -1;
    *start = row->text.len;
    return 0;
}

/* 1 when the row's buffers ran out of memory. */
static inline int row_failed(const Row *row) {
    return row->text.failed || row->folded.failed || row->key.failed || row->hashed.failed;
}

static void row_free(Row *row) {
    buf_free(&row->text);
    buf_free(&row->folded);
    buf_free(&row->key);
    buf_free(&row->hashed);
}

/* A control character as `checks.CONTROL` finds it: U+0000-U+001F but tab, newline and carriage
 * return, and DEL. */
static inline int is_control(Py_UCS4 c) {
    return (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f;
}

/* 1 when the bytes hold a control character (`is_control`). */
static int has_control(const unsigned char *p, size_t n) {
    size_t i = 0;
#ifdef __SSE2__
    const __m128i below = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);
    const __m128i tab = _mm_set1_epi8('\t'), newline = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r');
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i low = _mm_cmpeq_epi8(_mm_min_epu8(v, below), v); /* v <= 0x1f, unsigned */
        __m128i allowed = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, tab), _mm_cmpeq_epi8(v, newline)),
                                       _mm_cmpeq_epi8(v, cr));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_andnot_si128(allowed, low), _mm_cmpeq_epi8(v, del)))) return 1;
    }
#endif
    for (; i < n; i++)
        if (is_control(p[i])) return 1;
    return 0;
}

/* 1 when UTF-8 bytes hold a bidirectional embedding, override or isolate (U+202A-U+202E,
 * U+2066-U+2069, as `checks.BIDI` finds them): they reorder what a reviewer sees, so the row goes
 * to the precise path, which warns. Every one is E2 80 AA-AE or E2 81 A6-A9. */
static int has_bidi(const unsigned char *p, size_t n) {
    const unsigned char *end = p + n;
    while ((p = memchr(p, 0xe2, end - p)) != NULL && end - p >= 3) {
        if ((p[1] == 0x80 && p[2] >= 0xaa && p[2] <= 0xae) || (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9))
            return 1;
        p++;
    }
    return 0;
}

/* Checks of one decoded content (text->data[start:], `info` from parse_string): not blank, no
 * control character or bidirectional control, no special token; then its hashes go into the row's
 * chains. */
static int check_content(Row *row, size_t start, const Str *info, const RoleName *role, const Spec *spec) {
    const unsigned char *p = row->text.data + start;
    size_t n = row->text.len - start, kept;
    int k = row->n - row->mirror_base;
    if (k >= 0 && k < row->mirror_count) {
        Hashed same = *hashed_at(row, row->mirror_first + k);
        if (row->sig[row->mirror_first + k] == role->role[0] && same.len == n &&
            memcmp(row->text.data + same.start, p, n) == 0) {
            row->chars += info->chars;
            row->sig[row->n++] = role->role[0];
            return buf_put(&row->hashed, &same, sizeof same);
        }
    }
    if (has_control(p, n) || has_bidi(p, n)) return -1;
    Py_ssize_t ntok = PyTuple_GET_SIZE(spec->tokens);
    for (Py_ssize_t i = 0; i < ntok; i++) {
        PyObject *tok = PyTuple_GET_ITEM(spec->tokens, i);
        if (memmem(p, n, PyBytes_AS_STRING(tok), PyBytes_GET_SIZE(tok))) return -1;
    }
    Hashed h = {hash_bytes((const unsigned char *)role->role, role->role_len), 0, 0, start, n};
    if (content_hashes(p, n, &h.exact, &h.folded, &kept, &row->folded)) return -1;
    if (kept == 0) return -1; /* blank: the precise path says so */
    row->chars += info->chars;
    row->sig[row->n++] = role->role[0];
    return buf_put(&row->hashed, &h, sizeof h);
}

/* A message's next key and the colon after it: 1 the role key, 2 the content key, 0 another (in
 * `key`), -1 not a key. The two as a file most often spells them are compared in place. */
static inline __attribute__((always_inline)) int message_key(Cursor *c, Buf *key, const Spec *spec) {
    skip_ws(c);
    int which = take_key(c, spec->role_key, spec->role_len) ? 1
              : take_key(c, spec->content_key, spec->content_len) ? 2 : 0;
    if (!which) {
        key->len = 0;
        if (parse_string(c, key, NULL)) return -1;
        which = key_is(key, spec->role_key, spec->role_len) ? 1
              : key_is(key, spec->content_key, spec->content_len) ? 2 : 0;
    }
    if (expect(c, ':')) return -1;
    skip_ws(c);
    return which;
}

/* A content written as text parts, [{"type": "text", "text": "..."}, ...] (the two keys in either order,
 * nothing else in a part): their texts decoded one after another onto `out`, joined with nothing as
 * `validation.content.text_of` joins them, so that the row hashes as its text does; `info` counts their
 * characters. -1: anything else (an image, another key, an escaped key, no part): Python reads it. */
static int text_parts(Cursor *c, Buf *out, Str *info) {
    Str part;
    info->chars = 0;
    c->p++; /* '[' */
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') return -1;
    for (;;) {
        if (expect(c, '{')) return -1;
        int have_type = 0, have_text = 0;
        for (int field = 0; field < 2; field++) {
            skip_ws(c);
            if (!have_type && take_key(c, "type", 4)) {
                have_type = 1;
                if (expect(c, ':')) return -1;
                skip_ws(c);
                if (!take_key(c, "text", 4)) return -1; /* the value "text", as the key is matched */
            } else if (!have_text && take_key(c, "text", 4)) {
                have_text = 1;
                if (expect(c, ':')) return -1;
                skip_ws(c);
                if (c->p >= c->end || *c->p != '"' || parse_string(c, out, &part)) return -1;
                info->chars += part.chars;
            } else return -1;
            if (field == 0 && expect(c, ',')) return -1;
        }
        if (expect(c, '}')) return -1;
        int last = next_item(c, ']');
        if (last) return last > 0 ? 0 : -1;
    }
}

static inline int parse_text_parts(Cursor *c, Row *row, Str *info) { return text_parts(c, &row->text, info); }

static int parse_message(Cursor *c, Row *row, const Spec *spec) {
    if (expect(c, '{')) return -1;
    const RoleName *role = NULL;
    int have_content = 0, parts = 0;
    size_t start = 0;
    Str content;
    for (int field = 0; field < 2; field++) {
        int key = message_key(c, &row->key, spec);
        if (key < 0) return -1;
        if (!role && key == 1) {
            row->key.len = 0;
            if (c->p >= c->end || *c->p != '"' || parse_string(c, &row->key, NULL)) return -1;
            if (!(role = lookup(&spec->roles, &row->key))) return -1;
        } else if (!have_content && key == 2) {
            have_content = 1;
            if (begin_content(row, &start)) return -1;
            if (c->p < c->end && *c->p == '[' && spec->parts_len) {
                if (parse_text_parts(c, row, &content)) return -1;
                parts = 1;
            } else if (c->p >= c->end || *c->p != '"' || parse_string(c, &row->text, &content)) return -1;
        } else return -1;
        if (field == 0 && expect(c, ',')) return -1;
    }
    if (parts && !memchr(spec->parts, role->role[0], (size_t)spec->parts_len)) return -1;
    return expect(c, '}') || check_content(row, start, &content, role, spec) ? -1 : 0;
}

/* s?(ua)+ (the role table holds only the roles the template takes) */
static int clean_order(const char *sig, int n) {
    int i = n > 0 && sig[0] == 's';
    if (n - i < 2 || (n - i) % 2) return -1;
    for (; i < n; i += 2)
        if (sig[i] != 'u' || sig[i + 1] != 'a') return -1;
    return 0;
}

/* A list of messages, each checked and hashed into the row (their order is the caller's to check). */
static int parse_messages(Cursor *c, Row *row, const Spec *spec) {
    if (expect(c, '[')) return -1;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') return -1; /* no messages: the precise path says so */
    for (;;) {
        if (row->n >= MAX_MESSAGES || parse_message(c, row, spec)) return -1;
        int last = next_item(c, ']');
        if (last) return last > 0 ? 0 : -1;
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

#define MAX_ROW_KEYS 32 /* a row with more top-level keys is left to the precise path */

static int first_duplicate(const unsigned char *base, const unsigned char *end, Py_ssize_t *at, Py_ssize_t *len);

/* Reads one field's value when the key (in row->key) is one the format reads: 1 read, 0 not its key
 * (the value is skipped, unless the key is forbidden), -1 not cleared. */
typedef int (*FieldReader)(Cursor *c, Row *row, const Spec *spec, void *state);

/* One row: a strict JSON object and nothing after it, its fields handed to `field`. */
static int parse_object(const unsigned char *p, Py_ssize_t n, Row *row, const Spec *spec, FieldReader field,
                        void *state) {
    Cursor c = {p, p + n};
    row->text.len = row->hashed.len = 0;
    row->n = 0;
    row->chars = 0;
    row->mirror_count = 0;
    if (expect(&c, '{')) return -1;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') return -1;
    /* the row's keys as written: one written twice leaves the row to the precise path, which warns */
    const unsigned char *keys[MAX_ROW_KEYS];
    size_t lens[MAX_ROW_KEYS];
    int nkeys = 0;
    for (;;) {
        skip_ws(&c);
        row->key.len = 0;
        const unsigned char *written = c.p;
        if (parse_string(&c, &row->key, NULL) || expect(&c, ':')) return -1;
        size_t len = (size_t)(c.p - written);
        if (nkeys == MAX_ROW_KEYS) return -1;
        for (int k = 0; k < nkeys; k++)
            if (lens[k] == len && memcmp(keys[k], written, len) == 0) return -1;
        keys[nkeys] = written;
        lens[nkeys++] = len;
        const unsigned char *value = (skip_ws(&c), c.p);
        int took = field(&c, row, spec, state);
        if (took < 0 || (!took && (forbidden_key(&row->key, spec) || skip_value(&c, 1)))) return -1;
        Py_ssize_t dup_at, dup_len;
        if (!took && value < c.end && (*value == '{' || *value == '[') &&
            first_duplicate(value, c.p, &dup_at, &dup_len))
            return -1; /* a key written twice inside a field it skips (or no memory): the precise path says so */
        int last = next_item(&c, '}');
        if (last < 0) return -1;
        if (last) break;
    }
    skip_ws(&c);
    return c.p == c.end ? 0 : -1;
}

/* Chains messages [from, to) of the row into (exact, folded). */
static void chain_range(const Row *row, int from, int to, uint64_t *exact, uint64_t *folded) {
    for (int i = from; i < to; i++) {
        const Hashed *h = hashed_at(row, i);
        *exact = chain(*exact, h->role, h->exact);
        *folded = chain(*folded, h->role, h->folded);
    }
}

/* What a prover found of a row it cleared: its duplicate hashes, and (pairs) where the two replies
 * begin alike, in Row.text (shared_len 0: they do not). */
typedef struct {
    uint64_t exact, folded;
    size_t shared_at, shared_len;
} Hashes;

/* A conversation row: its list field, read once. */
static int conversation_field(Cursor *c, Row *row, const Spec *spec, void *state) {
    if (!key_is(&row->key, spec->list_key, spec->list_len)) return 0;
    int *found = state;
    return (*found)++ || parse_messages(c, row, spec) || clean_order(row->sig, row->n) ? -1 : 1;
}

static int parse_conversation(const unsigned char *p, Py_ssize_t n, Row *row, const Spec *spec, int layout,
                              Hashes *out) {
    int found = 0;
    if (parse_object(p, n, row, spec, conversation_field, &found) || !found) return -1;
    *out = (Hashes){CHAIN_SEED, CHAIN_SEED, 0, 0};
    chain_range(row, 0, row->n, &out->exact, &out->folded);
    return 0;
}

/* --- validate's prover of preference pairs ----------------------------------------------------- */

/* What `validation.readers.pairs.fast_pair` clears, in each pair layout (the formats `preference`,
 * `preference-implicit`, `hh-text`): a prompt, then the chosen reply in a clean order, the rejected
 * reply one assistant message too, the two replies different even after folding.
 * - PAIR_EXPLICIT: {prompt, chosen, rejected}, all three strings (a user turn, two assistant replies)
 *   or all three message lists;
 * - PAIR_IMPLICIT: {chosen, rejected}, two message lists, the prompt the messages both start with;
 * - PAIR_TRANSCRIPT: {chosen, rejected}, two "\n\nHuman: ...\n\nAssistant: ..." transcripts, split
 *   into turns, the prompt the turns both start with; replies that begin alike are cleared with the
 *   text they share, which `reply-shares-start` warns of.
 * A pair's duplicate hashes are those of its duplicate text: the prompt, the chosen reply, a system
 * message REJECTED_MARK, the rejected reply. */
#define REJECTED_MARK "rejected:" /* validation.readers.pairs.REJECTED */
enum { PAIR_EXPLICIT, PAIR_IMPLICIT, PAIR_TRANSCRIPT };

static const char *const PAIR_KEYS[] = {"prompt", "chosen", "rejected"};
static uint64_t system_hash, rejected_mark_hash; /* of "system" and REJECTED_MARK: set when the module loads */

typedef struct {
    int layout;
    int read[3];  /* whether the part was read: 1 a string, 2 a message list */
    int first[3]; /* index of its first message */
    int count[3];
} PairParts;

/* The role table's entry of canonical `role` (NULL when the template does not take it). */
static const RoleName *role_entry(const RoleMap *map, const char *role) {
    size_t n = strlen(role);
    for (Py_ssize_t i = 0; i < map->n; i++)
        if ((size_t)map->items[i].role_len == n && memcmp(map->items[i].role, role, n) == 0) return &map->items[i];
    return NULL;
}

/* One message of `role` whose content is bytes p[0:n] (valid UTF-8) into the row; its characters are
 * the caller's to count. */
static int add_message(Row *row, const unsigned char *p, size_t n, const RoleName *role, const Spec *spec) {
    size_t start;
    if (!role || row->n >= MAX_MESSAGES || begin_content(row, &start)) return -1;
    Str info = {p, n, 0, 0};
    return buf_put(&row->text, p, n) || check_content(row, start, &info, role, spec);
}

/* The turns of a transcript (decoded, in row->key; `chars` its characters) as messages; -1 when it is
 * not one. */
static int transcript_turns(Row *row, const Spec *spec, Py_ssize_t chars) {
    const unsigned char *p = row->key.data, *end = p + row->key.len;
    const RoleName *user = role_entry(&spec->roles, "user"), *assistant = role_entry(&spec->roles, "assistant");
    const RoleName *role = NULL;
    const unsigned char *content = NULL;
    for (const unsigned char *from = p;;) {
        const unsigned char *at = from < end ? memchr(from, '\n', end - from) : NULL;
        if (at && (end - at < 2 || at[1] != '\n')) {
            from = at + 1;
            continue;
        }
        const RoleName *next = NULL;
        size_t mark = 0;
        if (at && (size_t)(end - at) >= 9 && memcmp(at + 2, "Human: ", 7) == 0) next = user, mark = 9;
        else if (at && (size_t)(end - at) >= 13 && memcmp(at + 2, "Assistant: ", 11) == 0) next = assistant, mark = 13;
        if (at && !mark) {
            from = at + 1;
            continue;
        }
        if (!role && (!at || at != p)) return -1; /* it must start with a turn */
        if (role && add_message(row, content, (at ? at : end) - content, role, spec)) return -1;
        if (!at) {
            row->chars += chars;
            return 0;
        }
        if (!next) return -1; /* the template does not take the role */
        role = next;
        from = content = at + mark;
        chars -= mark; /* the markers are ASCII */
    }
}

static int pair_field(Cursor *c, Row *row, const Spec *spec, void *state) {
    PairParts *parts = state;
    int part = -1;
    for (int k = 0; k < 3; k++)
        if (key_is(&row->key, PAIR_KEYS[k], (Py_ssize_t)strlen(PAIR_KEYS[k]))) part = k;
    if (part < 0) return 0;
    if (parts->read[part] || (part == 0 && parts->layout != PAIR_EXPLICIT)) return -1; /* twice, or not this format */
    skip_ws(c);
    parts->first[part] = row->n;
    int other = part ? 3 - part : 0; /* chosen <-> rejected */
    if (parts->layout != PAIR_EXPLICIT && parts->read[other])
        row->mirror_first = parts->first[other], row->mirror_count = parts->count[other], row->mirror_base = row->n;
    int string = c->p < c->end && *c->p == '"';
    if (string && parts->layout == PAIR_EXPLICIT) { /* the user's turn, or an assistant reply */
        Str info;
        const RoleName *role = role_entry(&spec->roles, part == 0 ? "user" : "assistant");
        size_t start;
        if (!role || row->n >= MAX_MESSAGES || begin_content(row, &start)) return -1;
        if (parse_string(c, &row->text, &info) || check_content(row, start, &info, role, spec)) return -1;
    } else if (string && parts->layout == PAIR_TRANSCRIPT) {
        Str info;
        row->key.len = 0;
        if (parse_string(c, &row->key, &info) || transcript_turns(row, spec, info.chars)) return -1;
    } else if (string || parts->layout == PAIR_TRANSCRIPT || parse_messages(c, row, spec)) {
        return -1;
    }
    parts->read[part] = string ? 1 : 2;
    parts->count[part] = row->n - parts->first[part];
    row->mirror_count = 0;
    return 1;
}

static int same_content(const Row *row, const Hashed *a, const Hashed *b) {
    return a->len == b->len && memcmp(row->text.data + a->start, row->text.data + b->start, a->len) == 0;
}

/* Bytes of the characters two texts begin with in common (TRL's extract_prompt would move them into the
 * prompt of a text pair: `validation.readers.pairs.shared_start_issue`). */
static size_t shared_start(const unsigned char *a, size_t an, const unsigned char *b, size_t bn) {
    size_t n = 0, most = an < bn ? an : bn;
    while (n < most && a[n] == b[n]) n++;
    if (n < most)
        while (n > 0 && (a[n] & 0xc0) == 0x80) n--; /* they differ inside a character: not shared */
    return n;
}

static int parse_pair(const unsigned char *p, Py_ssize_t n, Row *row, const Spec *spec, int layout, Hashes *out) {
    PairParts parts = {layout, {0}, {0}, {0}};
    if (parse_object(p, n, row, spec, pair_field, &parts) || !parts.read[1] || !parts.read[2]) return -1;
    int prompt = parts.first[0], prompt_len = parts.count[0], chosen = parts.first[1], rejected = parts.first[2];
    if (layout == PAIR_EXPLICIT) {
        if (parts.read[0] != parts.read[1] || parts.read[2] != parts.read[1]) return -1;
        if (parts.count[1] != 1 || parts.count[2] != 1) return -1;
    } else { /* two whole conversations: the prompt is the messages both start with */
        int shared = 0;
        while (shared < parts.count[1] && shared < parts.count[2] &&
               row->sig[chosen + shared] == row->sig[rejected + shared] &&
               same_content(row, hashed_at(row, chosen + shared), hashed_at(row, rejected + shared)))
            shared++;
        if (shared == 0 || parts.count[1] != shared + 1 || parts.count[2] != shared + 1) return -1;
        prompt = chosen, prompt_len = shared, chosen += shared, rejected += shared;
    }
    const Hashed *c = hashed_at(row, chosen), *r = hashed_at(row, rejected);
    char sig[MAX_MESSAGES + 1];
    memcpy(sig, row->sig + prompt, prompt_len);
    sig[prompt_len] = row->sig[chosen];
    if (clean_order(sig, prompt_len + 1) || row->sig[rejected] != 'a') return -1;
    if (c->folded == r->folded || same_content(row, c, r)) return -1; /* the same reply, or nearly */
    *out = (Hashes){CHAIN_SEED, CHAIN_SEED, c->start, 0};
    if (layout == PAIR_TRANSCRIPT) out->shared_len = shared_start(row->text.data + c->start, c->len,
                                                                  row->text.data + r->start, r->len);
    chain_range(row, prompt, prompt + prompt_len, &out->exact, &out->folded);
    chain_range(row, chosen, chosen + 1, &out->exact, &out->folded);
    out->exact = chain(out->exact, system_hash, rejected_mark_hash);
    out->folded = chain(out->folded, system_hash, rejected_mark_hash);
    chain_range(row, rejected, rejected + 1, &out->exact, &out->folded);
    return 0;
}

/* --- the provers' entry points ------------------------------------------------------------------ */

typedef int (*RowParser)(const unsigned char *p, Py_ssize_t n, Row *row, const Spec *spec, int layout,
                         Hashes *out);

/* The spec's tables checked (GIL held); -1 with a Python error set. */
static int check_spec(PyObject *roles, Spec *spec) {
    if (roles == Py_None || load_roles(roles, &spec->roles)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "prove needs a roles table");
        return -1;
    }
    Py_ssize_t ntok = PyTuple_GET_SIZE(spec->tokens), nforb = PyTuple_GET_SIZE(spec->forbidden);
    for (Py_ssize_t i = 0; i < ntok; i++) {
        PyObject *token = PyTuple_GET_ITEM(spec->tokens, i);
        if (!PyBytes_Check(token) || PyBytes_GET_SIZE(token) == 0) {
            PyErr_SetString(PyExc_TypeError, "tokens must be non-empty bytes");
            return -1;
        }
    }
    for (Py_ssize_t i = 0; i < nforb; i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(spec->forbidden, i))) {
            PyErr_SetString(PyExc_TypeError, "forbidden keys must be bytes");
            return -1;
        }
    return 0;
}

/* Per line: None, or (exact hash, folded hash, characters) when `parse` clears it. */
static PyObject *prove_lines(PyObject *lines, const Spec *spec, RowParser parse, int layout) {
    Py_ssize_t n = PyList_GET_SIZE(lines);
    PyObject *out = PyList_New(n);
    if (!out) return NULL;
    Row row = {0};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *line = PyList_GET_ITEM(lines, i), *result;
        Hashes hashes;
        if (!PyBytes_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "lines must be bytes");
            Py_CLEAR(out);
            break;
        }
        int cleared = parse((const unsigned char *)PyBytes_AS_STRING(line), PyBytes_GET_SIZE(line), &row, spec,
                            layout, &hashes) == 0;
        if (cleared && parse == parse_pair) /* and the replies' shared start (None: none) */
            result = Py_BuildValue("(KKnz#)", (unsigned long long)hashes.exact, (unsigned long long)hashes.folded,
                                   row.chars, hashes.shared_len ? (const char *)row.text.data + hashes.shared_at : NULL,
                                   (Py_ssize_t)hashes.shared_len);
        else if (cleared)
            result = Py_BuildValue("(KKn)", (unsigned long long)hashes.exact, (unsigned long long)hashes.folded,
                                   row.chars);
        else if (row_failed(&row))
            result = PyErr_NoMemory();
        else
            result = Py_NewRef(Py_None);
        if (!result) {
            Py_CLEAR(out);
            break;
        }
        PyList_SET_ITEM(out, i, result);
    }
    row_free(&row);
    return out;
}

/* The lines of a block of JSONL, proved: (lines, records, cleared rows i64, exact hashes u64, folded
 * hashes u64, characters i64, [(row, shared start)] of pairs, [(row, line)] of the records not cleared).
 * Rows count from row0 + 1 over every line; blank lines (ASCII whitespace only) are not records; a
 * BOM at the block's start is skipped when `bom`. */
static PyObject *prove_span(const unsigned char *data, Py_ssize_t size, Py_ssize_t row0, int bom, const Spec *spec,
                            RowParser parse, int layout) {
    Buf rows = {0}, exact = {0}, folded = {0}, chars = {0};
    Row row = {0};
    PyObject *shared = PyList_New(0), *rest = PyList_New(0), *result = NULL;
    Py_ssize_t lines = 0, records = 0;
    const unsigned char *p = data, *end = data + size;
    if (!shared || !rest) goto done;
    if (bom && size >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', end - p), *line_end = nl ? nl + 1 : end;
        int64_t at = row0 + ++lines;
        const unsigned char *q = p;
        while (q < line_end && (*q == ' ' || (*q >= '\t' && *q <= '\r'))) q++;
        if (q == line_end) { /* blank */
            p = line_end;
            continue;
        }
        records++;
        Hashes h;
        if (parse(p, line_end - p, &row, spec, layout, &h) == 0) {
            int64_t n = row.chars;
            if (buf_put(&rows, &at, 8) || buf_put(&exact, &h.exact, 8) || buf_put(&folded, &h.folded, 8) ||
                buf_put(&chars, &n, 8))
                goto nomem;
            if (h.shared_len) {
                PyObject *item = Py_BuildValue("(Ls#)", (long long)at, (const char *)row.text.data + h.shared_at,
                                               (Py_ssize_t)h.shared_len);
                if (!item || PyList_Append(shared, item)) {
                    Py_XDECREF(item);
                    goto done;
                }
                Py_DECREF(item);
            }
        } else if (row_failed(&row)) {
            goto nomem;
        } else {
            PyObject *item = Py_BuildValue("(Ly#)", (long long)at, (const char *)p, (Py_ssize_t)(line_end - p));
            if (!item || PyList_Append(rest, item)) {
                Py_XDECREF(item);
                goto done;
            }
            Py_DECREF(item);
        }
        p = line_end;
    }
#define BYTES_OF(b) (const char *)((b).data ? (b).data : (unsigned char *)""), (Py_ssize_t)(b).len
    result = Py_BuildValue("(nny#y#y#y#OO)", lines, records, BYTES_OF(rows), BYTES_OF(exact), BYTES_OF(folded),
                           BYTES_OF(chars), shared, rest);
#undef BYTES_OF
    goto done;
nomem:
    PyErr_NoMemory();
done:
    Py_XDECREF(shared);
    Py_XDECREF(rest);
    buf_free(&rows);
    buf_free(&exact);
    buf_free(&folded);
    buf_free(&chars);
    row_free(&row);
    return result;
}

PyDoc_STRVAR(prove_block_doc,
"prove_block(data, row0, bom, layout, list_key, role_key, content_key, roles, tokens, forbidden, parts) -> tuple\n\n"
"`prove` (layout -1) or `prove_pairs` (layout 0-2: list_key unused) over the lines of a block of JSONL:\n"
"(lines, records, cleared rows, exact hashes, folded hashes, characters, [(row, shared start)],\n"
"[(row, line)] not cleared); the four columns are bytes of 64-bit integers. Rows count from row0 + 1\n"
"over every line; blank lines are not records; bom: skip a BOM at the start. parts: bytes, the first\n"
"letters of the roles whose content may be text parts (b'' for none).");

static PyObject *prove_block(PyObject *self, PyObject *args) {
    PyObject *roles;
    Py_buffer data;
    Py_ssize_t row0;
    int bom, layout;
    Spec spec = {0};
    if (!PyArg_ParseTuple(args, "y*npiy#y#y#OO!O!y#", &data, &row0, &bom, &layout, &spec.list_key, &spec.list_len,
                          &spec.role_key, &spec.role_len, &spec.content_key, &spec.content_len, &roles,
                          &PyTuple_Type, &spec.tokens, &PyTuple_Type, &spec.forbidden, &spec.parts, &spec.parts_len))
        return NULL;
    PyObject *result = NULL;
    if (layout < -1 || layout > PAIR_TRANSCRIPT)
        PyErr_Format(PyExc_ValueError, "no layout %d", layout);
    else if (!check_spec(roles, &spec))
        result = prove_span(data.buf, data.len, row0, bom, &spec, layout < 0 ? parse_conversation : parse_pair,
                            layout);
    PyBuffer_Release(&data);
    return result;
}

PyDoc_STRVAR(prove_doc,
"prove(lines, list_key, role_key, content_key, roles, tokens, forbidden, parts) -> list\n\n"
"Per raw JSONL line: None when the row is not certainly clean, else (exact_hash, folded_hash,\n"
"chars). roles maps source role names (bytes) to b'system', b'user' or b'assistant'; tokens and\n"
"forbidden are tuples of bytes; parts: the first letters of the roles whose content may be text parts.");

static PyObject *prove(PyObject *self, PyObject *args) {
    PyObject *lines, *roles;
    Spec spec = {0};
    if (!PyArg_ParseTuple(args, "O!y#y#y#OO!O!y#", &PyList_Type, &lines, &spec.list_key, &spec.list_len,
                          &spec.role_key, &spec.role_len, &spec.content_key, &spec.content_len, &roles,
                          &PyTuple_Type, &spec.tokens, &PyTuple_Type, &spec.forbidden, &spec.parts, &spec.parts_len)
        || check_spec(roles, &spec))
        return NULL;
    return prove_lines(lines, &spec, parse_conversation, 0);
}

PyDoc_STRVAR(prove_pairs_doc,
"prove_pairs(lines, layout, role_key, content_key, roles, tokens, forbidden) -> list\n\n"
"`prove` for preference pairs; layout 0: {prompt, chosen, rejected} (all strings or all message\n"
"lists), 1: {chosen, rejected} message lists, 2: {chosen, rejected} transcripts. The hashes are\n"
"those of the pair's duplicate text (validation.readers.pairs.check_pair).");

static PyObject *prove_pairs(PyObject *self, PyObject *args) {
    PyObject *lines, *roles;
    int layout;
    Spec spec = {.list_key = "", .list_len = 0};
    if (!PyArg_ParseTuple(args, "O!iy#y#OO!O!", &PyList_Type, &lines, &layout, &spec.role_key, &spec.role_len,
                          &spec.content_key, &spec.content_len, &roles, &PyTuple_Type, &spec.tokens,
                          &PyTuple_Type, &spec.forbidden) || check_spec(roles, &spec))
        return NULL;
    if (layout < PAIR_EXPLICIT || layout > PAIR_TRANSCRIPT)
        return PyErr_Format(PyExc_ValueError, "no pair layout %d", layout);
    return prove_lines(lines, &spec, parse_pair, layout);
}

PyDoc_STRVAR(fold_doc,
"fold(text: str) -> str\n\n"
"The near-duplicate fold of text (validation/checks/fold.py), as the hashes here fold it.");

static PyObject *fold(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    const char *text = PyUnicode_Check(arg) ? PyUnicode_AsUTF8AndSize(arg, &n) : NULL;
    if (!text) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_TypeError, "fold takes a str");
        return NULL;
    }
    Buf out = {0};
    if (buf_reserve(&out, 2 * (size_t)n + 1)) return PyErr_NoMemory();
    size_t m = fold_text((const unsigned char *)text, n, out.data);
    PyObject *result = PyUnicode_DecodeUTF8((const char *)out.data, m, "strict");
    buf_free(&out);
    return result;
}

PyDoc_STRVAR(duplicate_key_doc,
"duplicate_key(line: bytes) -> bytes | None\n\n"
"The first key that one object of a JSON line holds twice, as written (escapes included), or None.\n"
"JSON readers keep the last value of such a key without a word; the line must be JSON (it is\n"
"scanned, not checked). Keys are compared as written: \"a\" and \"\\u0061\" are not the same here.");

/* The first key that one object of the JSON text [base, end) holds twice, as written: 1 and its
 * (start, length) from base, 0 when none (or the text is not JSON), -1 out of memory. Needs no GIL. */
static int first_duplicate(const unsigned char *base, const unsigned char *end, Py_ssize_t *at, Py_ssize_t *len) {
    enum { KEY_DEPTH = 1100 }; /* deeper than decode.MAX_DEPTH (512): such a row is an error anyway */
    char kind[KEY_DEPTH];
    Py_ssize_t first[KEY_DEPTH];
    Buf spans = {0}; /* (start, length) of the keys of the open objects, innermost last */
    const unsigned char *p = base;
    int depth = 0, at_key = 0, found = 0;
    while (p < end) {
        unsigned char c = *p;
        if (c == '"') {
            const unsigned char *s = p + 1;
            for (;;) { /* the closing quote: one not escaped by an odd run of backslashes */
                s = memchr(s, '"', end - s);
                if (!s) goto done;
                const unsigned char *b = s;
                while (b > p + 1 && b[-1] == '\\') b--;
                if ((s - b) % 2 == 0) break;
                s++;
            }
            if (at_key) {
                Py_ssize_t start = p + 1 - base, n = s - p - 1, count = (Py_ssize_t)(spans.len / sizeof(Py_ssize_t));
                const Py_ssize_t *seen = (const Py_ssize_t *)spans.data;
                for (Py_ssize_t k = first[depth - 1]; k + 1 < count; k += 2)
                    if (seen[k + 1] == n && memcmp(base + seen[k], p + 1, (size_t)n) == 0) {
                        *at = start;
                        *len = n;
                        found = 1;
                        goto done;
                    }
                if (buf_put(&spans, &start, sizeof start) || buf_put(&spans, &n, sizeof n)) {
                    found = -1;
                    goto done;
                }
                at_key = 0;
            }
            p = s + 1;
            continue;
        }
        if (c == '{' || c == '[') {
            if (depth == KEY_DEPTH) goto done;
            kind[depth] = (char)c;
            first[depth++] = (Py_ssize_t)(spans.len / sizeof(Py_ssize_t));
            at_key = c == '{';
        } else if (c == '}' || c == ']') {
            if (depth == 0) goto done;
            spans.len = (size_t)first[--depth] * sizeof(Py_ssize_t);
            at_key = 0;
        } else if (c == ',') {
            at_key = depth > 0 && kind[depth - 1] == '{';
        }
        p++;
    }
done:
    buf_free(&spans);
    return found;
}

static PyObject *duplicate_key(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    Py_ssize_t at = 0, len = 0;
    int found = first_duplicate(view.buf, (const unsigned char *)view.buf + view.len, &at, &len);
    PyObject *result = found < 0 ? PyErr_NoMemory()
                     : found ? PyBytes_FromStringAndSize((const char *)view.buf + at, len) : Py_NewRef(Py_None);
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(has_control_char_doc,
"has_control_char(text: str) -> bool\n\n"
"Does text hold a control character (U+0000-U+001F but tab, newline and carriage return, and DEL)\n"
"or a bidirectional control (U+202A-U+202E, U+2066-U+2069)? The tests `checks.CONTROL` and\n"
"`checks.BIDI` make, read from the string's own storage (no copy, any script).");

/* A bidirectional embedding, override or isolate (`checks.BIDI`); none fits Latin-1 storage. */
static inline int is_bidi(Py_UCS4 c) { return (c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069); }

/* has_control over the code units of a 2- or 4-byte str (UCS-2 / UCS-4 storage). */
static int has_control_ucs2(const Py_UCS2 *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
#ifdef __SSE2__
    /* unsigned "v < 0x20" as a signed compare of v ^ 0x8000 against 0x8020 ^ 0x8000 */
    const __m128i flip = _mm_set1_epi16((short)0x8000), limit = _mm_set1_epi16((short)(0x20 ^ 0x8000));
    const __m128i del = _mm_set1_epi16(0x7f), tab = _mm_set1_epi16('\t'), newline = _mm_set1_epi16('\n'),
                  cr = _mm_set1_epi16('\r');
    const __m128i bidi1 = _mm_set1_epi16(0x202a), bidi1n = _mm_set1_epi16((short)(5 ^ 0x8000)),
                  bidi2 = _mm_set1_epi16(0x2066), bidi2n = _mm_set1_epi16((short)(4 ^ 0x8000));
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i low = _mm_cmplt_epi16(_mm_xor_si128(v, flip), limit);
        __m128i allowed = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi16(v, tab), _mm_cmpeq_epi16(v, newline)),
                                       _mm_cmpeq_epi16(v, cr));
        /* bidi: unsigned "v - base < count" for both ranges, as signed compares of flipped values */
        __m128i bidi = _mm_or_si128(_mm_cmplt_epi16(_mm_xor_si128(_mm_sub_epi16(v, bidi1), flip), bidi1n),
                                    _mm_cmplt_epi16(_mm_xor_si128(_mm_sub_epi16(v, bidi2), flip), bidi2n));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_andnot_si128(allowed, low), _mm_cmpeq_epi16(v, del)),
                                           bidi)))
            return 1;
    }
#endif
    for (; i < n; i++)
        if (is_control(p[i]) || is_bidi(p[i])) return 1;
    return 0;
}

static int has_control_ucs4(const Py_UCS4 *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
#ifdef __SSE2__
    /* code points stay below 0x110000: a signed compare is an unsigned one */
    const __m128i limit = _mm_set1_epi32(0x20), del = _mm_set1_epi32(0x7f), tab = _mm_set1_epi32('\t'),
                  newline = _mm_set1_epi32('\n'), cr = _mm_set1_epi32('\r');
    const __m128i flip = _mm_set1_epi32((int)0x80000000u), bidi1 = _mm_set1_epi32(0x202a),
                  bidi1n = _mm_set1_epi32((int)(5 ^ 0x80000000u)), bidi2 = _mm_set1_epi32(0x2066),
                  bidi2n = _mm_set1_epi32((int)(4 ^ 0x80000000u));
    for (; i + 4 <= n; i += 4) {
        __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
        __m128i low = _mm_cmplt_epi32(v, limit);
        __m128i allowed = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi32(v, tab), _mm_cmpeq_epi32(v, newline)),
                                       _mm_cmpeq_epi32(v, cr));
        __m128i bidi = _mm_or_si128(_mm_cmplt_epi32(_mm_xor_si128(_mm_sub_epi32(v, bidi1), flip), bidi1n),
                                    _mm_cmplt_epi32(_mm_xor_si128(_mm_sub_epi32(v, bidi2), flip), bidi2n));
        if (_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_andnot_si128(allowed, low), _mm_cmpeq_epi32(v, del)),
                                           bidi)))
            return 1;
    }
#endif
    for (; i < n; i++)
        if (is_control(p[i]) || is_bidi(p[i])) return 1;
    return 0;
}

static PyObject *has_control_char(PyObject *self, PyObject *arg) {
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "has_control_char takes a str");
        return NULL;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(arg);
    const void *data = PyUnicode_DATA(arg);
    int found = 0;
    switch (PyUnicode_KIND(arg)) {
    case PyUnicode_1BYTE_KIND: /* Latin-1 storage: C1 controls (0x80-0x9F) are not what CONTROL finds */
        found = has_control((const unsigned char *)data, (size_t)n);
        break;
    case PyUnicode_2BYTE_KIND:
        found = has_control_ucs2((const Py_UCS2 *)data, n);
        break;
    default:
        found = has_control_ucs4((const Py_UCS4 *)data, n);
    }
    return PyBool_FromLong(found);
}

PyDoc_STRVAR(lone_surrogate_escape_doc,
"lone_surrogate_escape(row: bytes) -> bool\n\n"
"Whether a row that decoded as JSON escapes a lone surrogate (a \\uD800-\\uDFFF escape outside a\n"
"high-low pair): the one way stdlib json gives a string UTF-8 cannot hold. Each backslash is found\n"
"with memchr; escaped text of any script, pairs for emoji included, reads at memory speed.");

static PyObject *lone_surrogate_escape(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    const unsigned char *p = view.buf, *end = p + view.len;
    int lone = 0;
    while (!lone && p < end && (p = memchr(p, '\\', (size_t)(end - p)))) {
        if (end - p >= 2 && p[1] == 'u') { /* (the row decoded: its four hex digits are there) */
            Cursor c = {.p = p, .end = end, .span = NULL};
            unsigned cp;
            lone = u_escape(&c, &cp) < 0;
            p = c.p;
        } else {
            p += 2; /* \\, \", \n ...: the escaped character is not a backslash that opens one */
        }
    }
    PyBuffer_Release(&view);
    return PyBool_FromLong(lone);
}

PyDoc_STRVAR(opens_over_doc,
"opens_over(row: bytes, limit: int) -> bool\n\n"
"Whether the bytes hold more than `limit` of `[` and `{` together: an upper bound of how deep a JSON row\n"
"nests (brackets in strings count too), so a row that does not is never walked for its depth.");

static PyObject *opens_over(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "opens_over(row: bytes, limit: int)");
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[1]), count = 0;
    if (limit == -1 && PyErr_Occurred()) return NULL;
    const unsigned char *p = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    const unsigned char *end = p + PyBytes_GET_SIZE(args[0]);
#ifdef __SSE2__
    /* a match is -1 in its byte lane: up to 255 blocks are summed per lane, then the lanes at once */
    const __m128i square = _mm_set1_epi8('['), curly = _mm_set1_epi8('{'), zero = _mm_setzero_si128();
    while (end - p >= 16 && count <= limit) {
        __m128i lanes = zero;
        for (int k = 0; k < 255 && end - p >= 16; k++, p += 16) {
            __m128i block = _mm_loadu_si128((const __m128i *)p);
            lanes = _mm_sub_epi8(lanes, _mm_or_si128(_mm_cmpeq_epi8(block, square), _mm_cmpeq_epi8(block, curly)));
        }
        __m128i sums = _mm_sad_epu8(lanes, zero);
        count += _mm_cvtsi128_si32(sums) + _mm_cvtsi128_si32(_mm_unpackhi_epi64(sums, sums));
    }
#endif
    for (; p < end && count <= limit; p++) count += *p == '[' || *p == '{';
    return PyBool_FromLong(count > limit);
}

PyDoc_STRVAR(hash_conversation_doc,
"hash_conversation(roles: list[str], contents: list[str]) -> (exact_hash, folded_hash)\n\n"
"The duplicate hashes of one conversation, as `prove` and `conversation_hashes` give them.");

static PyObject *hash_conversation(PyObject *self, PyObject *args) {
    PyObject *roles, *contents;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &roles, &PyList_Type, &contents)) return NULL;
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
        if (chain_message(&exact, &folded, role, rn, content, cn, &scratch)) {
            buf_free(&scratch);
            return NULL;
        }
    }
    buf_free(&scratch);
    return Py_BuildValue("(KK)", (unsigned long long)exact, (unsigned long long)folded);
}

/* --- stats' reader ------------------------------------------------------------------------------ */

/* Per conversation, as numpy reads it (validation/statistics/conversations.py: CONVERSATION_DTYPE). */
typedef struct {
    uint64_t exact, folded;
    int64_t length, assistant_start, assistant_end; /* characters; start -1: no assistant turn */
    uint32_t conversation, messages;
} Conv;

#define THINK_CLOSE "</think>" /* validation.checks.reasoning.CLOSE */

typedef struct {
    Buf conversation, turn, roles, contents, chars; /* per message: u32, u16, view, view, u32 */
    Buf reasonings, sources;                        /* per message: view, u8 (REASONING_FIELDS index + 1, 0: none) */
    Buf decoded;                                    /* views' buffer 1: strings that held escapes */
    Buf convs, deferred, key, scratch;
    int64_t records, empty_rows, empty_messages, blank_messages, tool_rows, reasoning_replies;
} Columns;

static int put_u32(Buf *b, uint32_t v) { return buf_put(b, &v, 4); }
static int put_i64(Buf *b, int64_t v) { return buf_put(b, &v, 8); }

/* An Arrow string view: the length, then the text inline (up to 12 bytes) or its first four
 * bytes, buffer index and offset. */
static int put_view(Buf *views, const unsigned char *p, size_t n, uint32_t buffer, size_t offset) {
    if (buf_reserve(views, 16)) return -1;
    unsigned char *v = views->data + views->len;
    uint32_t len = (uint32_t)n, at = (uint32_t)offset;
    memset(v, 0, 16);
    memcpy(v, &len, 4);
    if (n > 12) {
        memcpy(v + 4, p, 4);
        memcpy(v + 8, &buffer, 4);
        memcpy(v + 12, &at, 4);
    } else if (n >= 4) { /* the first and the last bytes, overlapping: no call for a length not known here */
        if (n >= 8) memcpy(v + 4, p, 8);
        else memcpy(v + 4, p, 4);
        memcpy(v + n, p + n - 4, 4);
    } else {
        for (size_t i = 0; i < n; i++) v[4 + i] = p[i];
    }
    views->len += 16;
    return 0;
}

/* A string's text, read in one pass: its raw bytes (buffer 0) when it holds no escape, else
 * decoded onto out->decoded (buffer 1), which is rolled back otherwise. */
typedef struct {
    Str info;
    size_t start, n;     /* where the text starts in its buffer, its length */
    uint32_t buffer;
} Text;

static int read_text(Cursor *c, const unsigned char *base, Columns *out, Text *t) {
    t->start = out->decoded.len;
    if (parse_string(c, &out->decoded, &t->info)) return -1;
    if (t->info.escaped) {
        t->n = out->decoded.len - t->start;
        t->buffer = 1;
    } else {
        out->decoded.len = t->start;
        t->start = t->info.raw - base;
        t->n = t->info.raw_len;
        t->buffer = 0;
    }
    return 0;
}

static inline const unsigned char *text_of(const Text *t, const unsigned char *base, const Columns *out) {
    return (t->buffer ? out->decoded.data : base) + t->start;
}

/* validation/checks/reasoning.py: REASONING_FIELDS, in its order */
static const char *const REASONING_FIELDS[] = {"reasoning_content", "reasoning", "thinking"};

/* 1 + the index of the reasoning field `key` names, else 0. */
static int reasoning_field(const Buf *key) {
    for (int i = 0; i < 3; i++)
        if (key_is(key, REASONING_FIELDS[i], (Py_ssize_t)strlen(REASONING_FIELDS[i]))) return i + 1;
    return 0;
}

/* One message {role: str, content: str or text parts, ...} onto the columns and `conv`; -1: not read here.
 * A reasoning field (a string, or null: none) is read too; a second one, or one of another
 * type, leaves the row to Python. */
static int read_message(Cursor *c, const unsigned char *base, Columns *out, const Spec *spec, Conv *conv,
                        int64_t *empty, int64_t *blank, int64_t *think, int *tools) {
    Text role = {0}, content = {0}, reasoning = {0};
    int have_role = 0, have_content = 0, field;
    uint8_t source = 0;
    if (expect(c, '{')) return -1;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') return -1;
    for (;;) {
        int key = message_key(c, &out->key, spec);
        if (key < 0) return -1;
        if (key == 1) {
            if (have_role++ || c->p >= c->end || *c->p != '"' || read_text(c, base, out, &role)) return -1;
        } else if (key == 2) {
            if (have_content++ || c->p >= c->end) return -1;
            if (*c->p == '[') { /* text parts: their joined text, decoded (buffer 1) */
                content.start = out->decoded.len;
                if (text_parts(c, &out->decoded, &content.info)) return -1;
                content.n = out->decoded.len - content.start;
                content.buffer = 1;
            } else if (*c->p != '"' || read_text(c, base, out, &content)) {
                return -1;
            }
        } else if ((field = reasoning_field(&out->key)) != 0) {
            if (c->p < c->end && *c->p == 'n') {
                if (skip_value(c, 3)) return -1; /* null: no reasoning */
            } else if (source || c->p >= c->end || *c->p != '"' || read_text(c, base, out, &reasoning)) {
                return -1;
            } else {
                source = (uint8_t)field;
            }
        } else {
            if (key_is(&out->key, "tool_calls", 10)) *tools = 1;
            if (skip_value(c, 3)) return -1;
        }
        int last = next_item(c, '}');
        if (last < 0) return -1;
        if (last) break;
    }
    if (!have_role || !have_content) return -1;
    /* all read, so the decoded buffer no longer moves */
    const unsigned char *rp = text_of(&role, base, out), *cp = text_of(&content, base, out);
    const unsigned char *tp = source ? text_of(&reasoning, base, out) : (const unsigned char *)"";
    size_t rn = role.n, cn = content.n, ro = role.start, co = content.start;
    uint32_t rb = role.buffer, cb = content.buffer;
    if (!spec->roles.any) { /* the source name -> its canonical role, stored inline */
        Buf name = {(unsigned char *)rp, rn, rn, 0};
        const RoleName *mapped = lookup(&spec->roles, &name);
        if (!mapped || mapped->role_len > 12) return -1;
        rp = (const unsigned char *)mapped->role;
        rn = mapped->role_len;
    }
    if (put_u32(&out->conversation, conv->conversation) ||
        buf_put(&out->turn, &(uint16_t){(uint16_t)conv->messages}, 2) || put_view(&out->roles, rp, rn, rb, ro) ||
        put_view(&out->contents, cp, cn, cb, co) || put_u32(&out->chars, (uint32_t)content.info.chars) ||
        put_view(&out->reasonings, tp, source ? reasoning.n : 0, reasoning.buffer, reasoning.start) ||
        buf_put(&out->sources, &source, 1))
        return -1;
    uint64_t rh = hash_bytes(rp, rn), ch, fh;
    size_t kept;
    if (content_hashes(cp, cn, &ch, &fh, &kept, &out->scratch)) return -1;
    conv->exact = chain(conv->exact, rh, ch);
    conv->folded = chain(conv->folded, rh, fh);
    int64_t start = conv->length;
    conv->length += content.info.chars;
    if (rn == 9 && memcmp(rp, "assistant", 9) == 0) {
        if (conv->assistant_start < 0) conv->assistant_start = start;
        conv->assistant_end = conv->length;
        /* a reply that reasons, in its own field or in a think block (stats_read.reasoning_split) */
        if (source || (memchr(cp, '<', cn) && memmem(cp, cn, THINK_CLOSE, strlen(THINK_CLOSE)))) ++*think;
    }
    if (cn == 0) ++*empty;
    else if (kept == 0) ++*blank; /* whitespace only */
    conv->messages++;
    return 0;
}

/* One line: 1 read, 0 read but holding no message (an empty list), -1 not read (the columns
 * are rolled back). */
static int read_line(const unsigned char *base, const unsigned char *p, const unsigned char *end, Columns *out,
                     const Spec *spec, int64_t record, Span *span) {
    Buf *rolled[] = {&out->conversation, &out->turn, &out->roles, &out->contents, &out->chars, &out->decoded,
                     &out->reasonings, &out->sources};
    size_t marks[8];
    for (int i = 0; i < 8; i++) marks[i] = rolled[i]->len;
    Conv conv = {CHAIN_SEED, CHAIN_SEED, 0, -1, 0, (uint32_t)record, 0};
    int64_t empty = 0, blank = 0, think = 0;
    Cursor c = {p, end, span};
    int found = 0, tools = 0; /* tools: the row declares tools or makes calls (stats counts them) */
    if (expect(&c, '{')) goto refuse;
    skip_ws(&c);
    if (c.p < c.end && *c.p == '}') goto refuse;
    for (;;) {
        skip_ws(&c);
        out->key.len = 0;
        if (parse_string(&c, &out->key, NULL) || expect(&c, ':')) goto refuse;
        if (key_is(&out->key, spec->list_key, spec->list_len)) {
            if (found++ || expect(&c, '[')) goto refuse;
            skip_ws(&c);
            if (c.p < c.end && *c.p == ']') {
                c.p++;
            } else {
                for (;;) {
                    if (conv.messages >= 65535 || read_message(&c, base, out, spec, &conv, &empty, &blank, &think, &tools))
                        goto refuse;
                    int last = next_item(&c, ']');
                    if (last < 0) goto refuse;
                    if (last) break;
                }
            }
        } else {
            if (key_is(&out->key, "tools", 5)) tools = 1;
            if (skip_value(&c, 1)) goto refuse;
        }
        int last = next_item(&c, '}');
        if (last < 0) goto refuse;
        if (last) break;
    }
    skip_ws(&c);
    if (!found || c.p != c.end) goto refuse;
    out->tool_rows += tools;
    if (conv.messages == 0) return 0;
    if (buf_put(&out->convs, &conv, sizeof conv)) goto refuse;
    out->empty_messages += empty;
    out->blank_messages += blank;
    out->reasoning_replies += think;
    return 1;
refuse:
    for (int i = 0; i < 8; i++) rolled[i]->len = marks[i];
    return -1;
}

static int is_blank_line(const unsigned char *p, const unsigned char *end) {
    for (; p < end; p++)
        if (!(*p == ' ' || (*p >= '\t' && *p <= '\r'))) return 0;
    return 1;
}

static void read_span(const unsigned char *base, const unsigned char *end, int file_start, Columns *out,
                      const Spec *spec) {
    const unsigned char *p = base;
    Span span = {base, base, 0};
    if (file_start && end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) p += 3;
    while (p < end) {
        const unsigned char *nl = memchr(p, '\n', end - p), *stop = nl ? nl : end;
        if (p >= span.end) { /* the next VALID_CHUNK bytes of whole lines: checked at once if need be */
            const unsigned char *last = end - p > VALID_CHUNK ? memchr(p + VALID_CHUNK, '\n', end - p - VALID_CHUNK)
                                                               : NULL;
            span = (Span){p, last ? last + 1 : end, -1};
        }
        if (!is_blank_line(p, stop)) {
            int64_t record = out->records++;
            int taken = stop - p > spec->max_line ? -1 : read_line(base, p, stop, out, spec, record, &span);
            if (taken == 0) out->empty_rows++;
            else if (taken < 0 && (put_i64(&out->deferred, record) || put_i64(&out->deferred, p - base) ||
                                   put_i64(&out->deferred, stop - p)))
                return;
        }
        p = nl ? nl + 1 : end;
    }
}

/* A read-only buffer that owns a Buf's memory: handed to numpy and Arrow without a copy. */
typedef struct {
    PyObject_HEAD
    Buf buf;
    Py_ssize_t exports;
} Block;

static int block_getbuffer(PyObject *self, Py_buffer *view, int flags) {
    Block *block = (Block *)self;
    if (PyBuffer_FillInfo(view, self, block->buf.data ? block->buf.data : (void *)"", block->buf.len, 1, flags))
        return -1;
    block->exports++;
    return 0;
}

static void block_releasebuffer(PyObject *self, Py_buffer *view) { ((Block *)self)->exports--; }

static void block_dealloc(PyObject *self) {
    buf_free(&((Block *)self)->buf);
    Py_TYPE(self)->tp_free(self);
}

static Py_ssize_t block_len(PyObject *self) { return ((Block *)self)->buf.len; }

static PyBufferProcs block_as_buffer = {block_getbuffer, block_releasebuffer};
static PySequenceMethods block_as_sequence = {.sq_length = block_len};

static PyTypeObject BlockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "validation._rowscan.Block",
    .tp_basicsize = sizeof(Block),
    .tp_dealloc = block_dealloc,
    .tp_as_buffer = &block_as_buffer,
    .tp_as_sequence = &block_as_sequence,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Read-only bytes owned by the C reader (buffer protocol; len() is the byte count).",
};

/* The Buf's memory as a Block (the Buf is left empty). */
static PyObject *take(Buf *b) {
    Block *block = PyObject_New(Block, &BlockType);
    if (!block) {
        buf_free(b);
        return NULL;
    }
    block->buf = *b;
    block->exports = 0;
    *b = (Buf){0};
    return (PyObject *)block;
}

PyDoc_STRVAR(read_messages_doc,
"read_messages(data, list_key, role_key, content_key, roles, file_start, max_line=None) -> tuple\n\n"
"The JSONL lines of data as stats' columns, without the GIL: (records, empty rows, empty\n"
"messages, whitespace-only messages, rows read here with a top-level `tools` or a message's\n"
"`tool_calls`, conversation u32, turn u16, role views, content views,\n"
"chars u32, decoded, conversations, deferred, reasoning views, reasoning sources u8, replies that\n"
"reason: in a reasoning field or with `</think>` in the content). Views are\n"
"Arrow string views over buffer 0 =\n"
"data and buffer 1 = decoded; conversations are `Conv` records (numpy: stats'\n"
"CONVERSATION_DTYPE); conversation ids count data's non-blank lines from 0. Rows not read here\n"
"(anything but an object whose list holds {role: str, content: str, ...} objects, roles\n"
"mapped by the table or any string with None), and lines longer than max_line bytes (unread), are\n"
"listed in deferred as i64 triples (record, byte offset, length). file_start: skip a BOM. data must\n"
"be under 4 GiB.");

/* stats reads a file through a memory map. Another program that truncates the file meanwhile
 * takes the pages past its new end away, and the next read of one raises SIGBUS. While
 * read_messages reads, that returns to it (the thread's `bus_jump`), and it raises OSError;
 * a SIGBUS anywhere else goes to the handling there was before (the fault repeats on return). */
#ifdef SA_SIGINFO
static _Thread_local sigjmp_buf *bus_jump;
static struct sigaction bus_before;
static int bus_guarded;

static void on_bus(int sig, siginfo_t *info, void *context) {
    if (bus_jump) siglongjmp(*bus_jump, 1);
    sigaction(SIGBUS, &bus_before, NULL);
}

static void guard_bus(void) { /* with the GIL */
    if (bus_guarded) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_bus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    bus_guarded = sigaction(SIGBUS, &sa, &bus_before) == 0;
}
#endif

static PyObject *read_messages(PyObject *self, PyObject *args) {
    Py_buffer view;
    PyObject *roles;
    int file_start;
    Spec spec = {0};
    spec.max_line = PY_SSIZE_T_MAX;
    if (!PyArg_ParseTuple(args, "y*y#y#y#Op|n", &view, &spec.list_key, &spec.list_len, &spec.role_key,
                          &spec.role_len, &spec.content_key, &spec.content_len, &roles, &file_start,
                          &spec.max_line))
        return NULL;
    if (view.len >= (Py_ssize_t)UINT32_MAX || load_roles(roles, &spec.roles)) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "data must be under 4 GiB");
        PyBuffer_Release(&view);
        return NULL;
    }
    Columns *out = PyMem_RawCalloc(1, sizeof *out); /* not a local: read_span's writes survive a jump back */
    if (!out) {
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    const unsigned char *base = view.buf;
    volatile int shrank = 0;
#ifdef SA_SIGINFO
    guard_bus();
    sigjmp_buf jump;
#endif
    Py_BEGIN_ALLOW_THREADS
#ifdef SA_SIGINFO
    if (sigsetjmp(jump, 1) == 0) {
        bus_jump = &jump;
        read_span(base, base + view.len, file_start, out, &spec);
    } else {
        shrank = 1;
    }
    bus_jump = NULL;
#else
    read_span(base, base + view.len, file_start, out, &spec);
#endif
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    Buf *all[] = {&out->conversation, &out->turn, &out->roles, &out->contents, &out->chars, &out->decoded,
                  &out->convs, &out->deferred, &out->key, &out->scratch, &out->reasonings, &out->sources};
    int failed = 0;
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) failed |= all[i]->failed;
    buf_free(&out->key);
    buf_free(&out->scratch);
    PyObject *result = NULL;
    if (shrank || failed) {
        for (size_t i = 0; i < sizeof all / sizeof *all; i++) buf_free(all[i]);
        if (shrank)
            PyErr_SetString(PyExc_OSError, /* stats_parts.SHRANK */
                            "the file changed while it was read (it is shorter now); "
                            "read it again once nothing writes to it");
        else
            PyErr_NoMemory();
    } else {
        result = Py_BuildValue("(LLLLLNNNNNNNNNNL)", (long long)out->records, (long long)out->empty_rows,
                               (long long)out->empty_messages, (long long)out->blank_messages,
                               (long long)out->tool_rows, take(&out->conversation), take(&out->turn),
                               take(&out->roles), take(&out->contents), take(&out->chars), take(&out->decoded),
                               take(&out->convs), take(&out->deferred), take(&out->reasonings),
                               take(&out->sources), (long long)out->reasoning_replies);
    }
    PyMem_RawFree(out);
    return result;
}

PyDoc_STRVAR(conversation_hashes_doc,
"conversation_hashes(conversation, role_offsets, roles, content_offsets, contents)\n"
"    -> (exact u64 bytes, folded u64 bytes)\n\n"
"Per run of equal conversation ids (u32, in order): the hashes `hash_conversation` gives its\n"
"messages. Offsets are i64 Arrow offsets (one more than messages).");

static PyObject *conversation_hashes(PyObject *self, PyObject *args) {
    Py_buffer conv, ro, rd, co, cd;
    if (!PyArg_ParseTuple(args, "y*y*y*y*y*", &conv, &ro, &rd, &co, &cd)) return NULL;
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
        if (chain_message(&h, &f, role, rn, content, cn, &scratch)) goto done;
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

PyDoc_STRVAR(use_ssse3_doc,
"use_ssse3(on) -> bool\n\n"
"Check UTF-8 a span at a time with SSSE3 (read_messages) when on and the CPU has it, else\n"
"string by string; whether it now does (tests run both ways).");

static PyObject *use_ssse3(PyObject *self, PyObject *arg) {
    int on = PyObject_IsTrue(arg);
    if (on < 0) return NULL;
#ifdef UTF8_SPANS
    ssse3_on = on && __builtin_cpu_supports("ssse3");
    return PyBool_FromLong(ssse3_on);
#else
    return PyBool_FromLong(0);
#endif
}

PyDoc_STRVAR(utf8_valid_doc,
"utf8_valid(data) -> bool | None\n\n"
"Whether data is valid UTF-8, by the span check read_messages uses; None without SSSE3.");

static PyObject *utf8_valid_py(PyObject *self, PyObject *arg) {
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE)) return NULL;
    PyObject *result = Py_None;
#ifdef UTF8_SPANS
    if (ssse3_on) result = utf8_valid_ssse3(view.buf, (size_t)view.len) ? Py_True : Py_False;
#endif
    PyBuffer_Release(&view);
    Py_INCREF(result);
    return result;
}

static PyMethodDef methods[] = {
    {"use_ssse3", use_ssse3, METH_O, use_ssse3_doc},
    {"utf8_valid", utf8_valid_py, METH_O, utf8_valid_doc},
    {"prove", prove, METH_VARARGS, prove_doc},
    {"prove_pairs", prove_pairs, METH_VARARGS, prove_pairs_doc},
    {"prove_block", prove_block, METH_VARARGS, prove_block_doc},
    {"fold", fold, METH_O, fold_doc},
    {"has_control_char", has_control_char, METH_O, has_control_char_doc},
    {"lone_surrogate_escape", lone_surrogate_escape, METH_O, lone_surrogate_escape_doc},
    {"opens_over", (PyCFunction)(void (*)(void))opens_over, METH_FASTCALL, opens_over_doc},
    {"duplicate_key", duplicate_key, METH_O, duplicate_key_doc},
    {"hash_conversation", hash_conversation, METH_VARARGS, hash_conversation_doc},
    {"read_messages", read_messages, METH_VARARGS, read_messages_doc},
    {"conversation_hashes", conversation_hashes, METH_VARARGS, conversation_hashes_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_rowscan", NULL, -1, methods};

PyMODINIT_FUNC PyInit__rowscan(void) {
    if (PyType_Ready(&BlockType) < 0) return NULL;
    init_hex();
#ifdef __SSE2__
    init_lead_fold(); /* fold_block's */
#endif
#ifdef UTF8_SPANS
    ssse3_on = __builtin_cpu_supports("ssse3");
#endif
    system_hash = hash_bytes((const unsigned char *)"system", 6);
    rejected_mark_hash = hash_bytes((const unsigned char *)REJECTED_MARK, strlen(REJECTED_MARK));
    return PyModule_Create(&module);
}
