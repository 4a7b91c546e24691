/* The fast renderer's common case in C: a list of plain message dicts laid out as header +
 * content + footer per turn (templating/fast.py's `render_turns`, which stays the reference).
 *
 * render(messages, layout, add_generation_prompt) -> Rendered | None
 *
 * `layout` is the tuple templating/fast.py's `layout_of` builds once per template. The result is
 * the same text and spans as `render_turns(spec, plain_turns(messages), ...)`; None wherever that
 * path would do anything but return them (a message that is not a plain dict turn, a refusal, a
 * think block the template splits, a conversation of only a folded system prompt): the caller
 * then takes the Python path, which raises or renders with Jinja as before. The output string is
 * built once, at its final size and width, from its pieces: no intermediate strings. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

enum {
    L_BOS, L_DEFAULT_SYSTEM, L_USER_HEAD, L_USER_FOOT, L_ASSISTANT_HEAD, L_ASSISTANT_FOOT, L_SYSTEM_HEAD,
    L_SYSTEM_FOOT, L_SPAN_PREFIX, L_GENERATION_PROMPT, L_FINAL_EOS, L_FLAGS, L_THINK_PREFIX, L_THINK_CLOSE,
    L_FOLD_OPEN, L_FOLD_CLOSE, L_RENDERED, L_SIZE
};
enum { TRIMS = 1, ALTERNATING = 2, REFUSE_LEADING_SYSTEM = 4, NO_SYSTEM = 8, SYSTEM_FIRST_ONLY = 16,
       FOLD_THEN_TRIM = 32 };
enum { SYSTEM, USER, ASSISTANT };

static PyObject *s_role, *s_content, *s_text, *s_spans, *s_system, *s_user, *s_assistant, *empty_args;

/* A piece of the output: characters [start, end) of str. */
typedef struct { PyObject *str; Py_ssize_t start, end; } Piece;

/* The pieces of one render, on the stack for common sizes. */
typedef struct {
    Piece *items;
    Py_ssize_t n, cap, size; /* size: characters so far */
    Piece local[64];
    PyObject *held; /* substrings made for trimmed contents, released at the end */
} Pieces;

static int add(Pieces *p, PyObject *str, Py_ssize_t start, Py_ssize_t end) {
    if (end <= start) return 0;
    if (p->n == p->cap) {
        Py_ssize_t cap = p->cap * 2;
        Piece *items = p->items == p->local ? PyMem_Malloc(cap * sizeof(Piece))
                                            : PyMem_Realloc(p->items, cap * sizeof(Piece));
        if (!items) { PyErr_NoMemory(); return -1; }
        if (p->items == p->local) memcpy(items, p->local, p->n * sizeof(Piece));
        p->items = items;
        p->cap = cap;
    }
    p->items[p->n++] = (Piece){str, start, end};
    p->size += end - start;
    return 0;
}

static int add_all(Pieces *p, PyObject *str) {
    return str == Py_None ? 0 : add(p, str, 0, PyUnicode_GET_LENGTH(str));
}

/* Pieces [from, p->n) trimmed of leading and trailing whitespace as one text (str.strip()). */
static void strip(Pieces *p, Py_ssize_t from) {
    Py_ssize_t i = from;
    while (i < p->n) {
        Piece *q = &p->items[i];
        int kind = PyUnicode_KIND(q->str);
        const void *data = PyUnicode_DATA(q->str);
        while (q->start < q->end && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, q->start))) q->start++, p->size--;
        if (q->start < q->end) break;
        i++;
    }
    for (Py_ssize_t j = p->n - 1; j >= i; j--) {
        Piece *q = &p->items[j];
        int kind = PyUnicode_KIND(q->str);
        const void *data = PyUnicode_DATA(q->str);
        while (q->end > q->start && Py_UNICODE_ISSPACE(PyUnicode_READ(kind, data, q->end - 1))) q->end--, p->size--;
        if (q->end > q->start) break;
    }
}

/* The first of c in data[from, end) (a string of `kind`), or -1: memchr for one byte a character,
 * 16 bytes at a time for two and four, since the needles looked for are rare in text of any script. */
static Py_ssize_t find_char(int kind, const void *data, Py_ssize_t from, Py_ssize_t end, Py_UCS4 c) {
    Py_ssize_t i = from;
    if (kind == PyUnicode_1BYTE_KIND) {
        if (c > 0xff || end <= from) return -1;
        const Py_UCS1 *found = memchr((const Py_UCS1 *)data + from, (int)c, end - from);
        return found ? found - (const Py_UCS1 *)data : -1;
    }
#ifdef __SSE2__
    if (kind == PyUnicode_2BYTE_KIND && c <= 0xffff) {
        __m128i want = _mm_set1_epi16((short)c);
        for (; i + 8 <= end; i += 8) {
            __m128i block = _mm_loadu_si128((const __m128i *)((const Py_UCS2 *)data + i));
            int hits = _mm_movemask_epi8(_mm_cmpeq_epi16(block, want));
            if (hits) return i + (__builtin_ctz(hits) >> 1);
        }
    } else if (kind == PyUnicode_4BYTE_KIND) {
        __m128i want = _mm_set1_epi32((int)c);
        for (; i + 4 <= end; i += 4) {
            __m128i block = _mm_loadu_si128((const __m128i *)((const Py_UCS4 *)data + i));
            int hits = _mm_movemask_epi8(_mm_cmpeq_epi32(block, want));
            if (hits) return i + (__builtin_ctz(hits) >> 2);
        }
    }
#endif
    for (; i < end; i++)
        if (PyUnicode_READ(kind, data, i) == c) return i;
    return -1;
}

/* Whether `needle` occurs in `text` (as `needle in text`): each place its first character is, compared whole. */
static int contains(PyObject *text, PyObject *needle) {
    Py_ssize_t n = PyUnicode_GET_LENGTH(text), m = PyUnicode_GET_LENGTH(needle);
    if (m == 0) return 1;
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    Py_UCS4 first = PyUnicode_READ_CHAR(needle, 0);
    for (Py_ssize_t at = 0; (at = find_char(kind, data, at, n - m + 1, first)) >= 0; at++) {
        Py_ssize_t same = PyUnicode_Tailmatch(text, needle, at, at + m, -1);
        if (same != 0) return (int)same; /* 1, or -1 with an error set */
    }
    return 0;
}

/* The role of a plain message dict (-1: not one), its content in *content (borrowed). */
static int plain(PyObject *m, PyObject **content) {
    if (!PyDict_CheckExact(m)) return -1;
    PyObject *role = PyDict_GetItemWithError(m, s_role);
    if (!role || !(*content = PyDict_GetItemWithError(m, s_content))) return -1; /* (the caller sees any error) */
    if (!PyUnicode_CheckExact(*content) || !PyUnicode_CheckExact(role)) return -1;
    if (PyUnicode_READY(*content) < 0) return -1; /* (a no-op since 3.12: every string is ready) */
    if (PyDict_GET_SIZE(m) > 2) { /* other keys: only when every one is None */
        Py_ssize_t at = 0;
        PyObject *key, *value;
        while (PyDict_Next(m, &at, &key, &value))
            if (value != Py_None && key != s_role && key != s_content &&
                !(PyUnicode_Check(key) &&
                  (PyUnicode_Compare(key, s_role) == 0 || PyUnicode_Compare(key, s_content) == 0)))
                return -1;
    }
    if (role == s_assistant || PyUnicode_Compare(role, s_assistant) == 0) return ASSISTANT;
    if (role == s_user || PyUnicode_Compare(role, s_user) == 0) return USER;
    if (role == s_system || PyUnicode_Compare(role, s_system) == 0) return SYSTEM;
    return -1;
}

/* Add content, trimmed when the template trims it (a substring only where trimming removes something). */
static int add_content(Pieces *p, PyObject *content, int trim, int lstrip_newlines) {
    Py_ssize_t from = p->n;
    if (add_all(p, content) < 0) return -1;
    if (p->n == from) return 0;
    if (trim) strip(p, from);
    if (lstrip_newlines && p->n > from) {
        Piece *q = &p->items[from];
        while (q->start < q->end && PyUnicode_READ_CHAR(q->str, q->start) == '\n') q->start++, p->size--;
    }
    if (p->n > from && p->items[from].end == p->items[from].start) p->n = from;
    return 0;
}

static PyObject *span(Py_ssize_t start, Py_ssize_t end) {
    PyObject *pair = PyTuple_New(2), *a = PyLong_FromSsize_t(start), *b = PyLong_FromSsize_t(end);
    if (!pair || !a || !b) {
        Py_XDECREF(pair), Py_XDECREF(a), Py_XDECREF(b);
        return NULL;
    }
    PyTuple_SET_ITEM(pair, 0, a);
    PyTuple_SET_ITEM(pair, 1, b);
    PyObject_GC_UnTrack(pair); /* two ints: no cycle can pass through it */
    return pair;
}

/* The output string from the pieces, at its final width: a piece cut from a wider string is
 * made a substring first, so that the text's width is the widest character it holds. */
static PyObject *join(Pieces *p) {
    Py_UCS4 widest = 0;
    for (Py_ssize_t i = 0; i < p->n; i++) {
        Piece *q = &p->items[i];
        if (q->end <= q->start || PyUnicode_IS_ASCII(q->str)) continue;
        if (q->start > 0 || q->end < PyUnicode_GET_LENGTH(q->str)) {
            PyObject *cut = PyUnicode_Substring(q->str, q->start, q->end);
            if (!cut) return NULL;
            if (!p->held && !(p->held = PyList_New(0))) { Py_DECREF(cut); return NULL; }
            if (PyList_Append(p->held, cut) < 0) { Py_DECREF(cut); return NULL; }
            Py_DECREF(cut);
            q->str = cut, q->end -= q->start, q->start = 0;
        }
        Py_UCS4 top = PyUnicode_MAX_CHAR_VALUE(q->str);
        if (top > widest) widest = top;
    }
    PyObject *text = PyUnicode_New(p->size, widest);
    if (!text) return NULL;
    Py_ssize_t at = 0;
    int kind = PyUnicode_KIND(text);
    char *out = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0; i < p->n; i++) {
        Piece *q = &p->items[i];
        Py_ssize_t n = q->end - q->start;
        int from = PyUnicode_KIND(q->str);
        const char *in = (const char *)PyUnicode_DATA(q->str) + q->start * from;
        if (from == kind) /* else a narrower piece widened (the text is as wide as its widest piece) */
            memcpy(out + at * kind, in, n * kind);
        else if (from == PyUnicode_1BYTE_KIND && kind == PyUnicode_2BYTE_KIND)
            for (Py_ssize_t k = 0; k < n; k++) ((Py_UCS2 *)out)[at + k] = ((const Py_UCS1 *)in)[k];
        else if (from == PyUnicode_1BYTE_KIND)
            for (Py_ssize_t k = 0; k < n; k++) ((Py_UCS4 *)out)[at + k] = ((const Py_UCS1 *)in)[k];
        else
            for (Py_ssize_t k = 0; k < n; k++) ((Py_UCS4 *)out)[at + k] = ((const Py_UCS2 *)in)[k];
        at += n;
    }
    return text;
}

/* Where Rendered keeps its two fields: slot offsets, read once from its member descriptors
 * (0: not slots, set them as attributes). */
static PyObject *slots_of;
static Py_ssize_t text_at, spans_at;

static Py_ssize_t slot(PyObject *type, PyObject *name) {
    PyObject *member = PyObject_GetAttr(type, name);
    if (!member) return -1;
    Py_ssize_t at = 0;
    if (Py_IS_TYPE(member, &PyMemberDescr_Type) && ((PyMemberDescrObject *)member)->d_member->type == T_OBJECT_EX)
        at = ((PyMemberDescrObject *)member)->d_member->offset;
    Py_DECREF(member);
    return at;
}

static PyObject *rendered(PyObject *type, PyObject *text, PyObject *spans) {
    if (type != slots_of) {
        if ((text_at = slot(type, s_text)) < 0 || (spans_at = slot(type, s_spans)) < 0) return NULL;
        slots_of = type; /* (borrowed: every layout holds it, and layouts live as long as their templates) */
    }
    PyObject *r = ((PyTypeObject *)type)->tp_new((PyTypeObject *)type, empty_args, NULL);
    if (!r) return NULL;
    if (text_at && spans_at) { /* as the member descriptors set them */
        Py_INCREF(text), Py_INCREF(spans);
        *(PyObject **)((char *)r + text_at) = text;
        *(PyObject **)((char *)r + spans_at) = spans;
    } else if (PyObject_GenericSetAttr(r, s_text, text) < 0 || PyObject_GenericSetAttr(r, s_spans, spans) < 0) {
        Py_DECREF(r); /* object.__setattr__, as a frozen dataclass's __init__ sets its fields */
        return NULL;
    }
    /* Out of the cycle collector, as CPython takes out a tuple or dict that holds only atomic values:
     * a text and pairs of ints refer to nothing. A caller keeping a dataset's renders would otherwise
     * make the collector walk its whole heap every ~10,000 renders (a full collection is due when
     * the survivors reach a quarter of what it tracks), which costs more than rendering them. (What the
     * collector no longer sees: a caller who puts into the spans list an object that refers back to
     * this Rendered makes a cycle it never frees, a leak, as with any untracked container.) */
    PyObject_GC_UnTrack(spans);
    PyObject_GC_UnTrack(r);
    return r;
}

#define NOT_MINE() do { result = Py_None; Py_INCREF(result); goto done; } while (0)
#define FAIL() goto done

PyDoc_STRVAR(render_doc,
"render(messages, layout, add_generation_prompt) -> Rendered | None\n\n"
"Text and assistant spans of a list of plain message dicts under a turn layout (fast.layout_of);\n"
"None where fast.render_turns would not return them, for anything but a list, and without a\n"
"layout (None): the caller takes the Python path.");

static PyObject *render(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs == 3 && (args[1] == Py_None || !PyList_CheckExact(args[0]))) Py_RETURN_NONE; /* not mine */
    if (nargs != 3 || !PyTuple_Check(args[1]) || PyTuple_GET_SIZE(args[1]) != L_SIZE) {
        PyErr_SetString(PyExc_TypeError,
                        "render(messages, layout: fast.layout_of tuple | None, add_generation_prompt)");
        return NULL;
    }
    PyObject *messages = args[0], *layout = args[1];
    int prompt = PyObject_IsTrue(args[2]);
    if (prompt < 0) return NULL;
#define L(i) PyTuple_GET_ITEM(layout, i)
    long flags = PyLong_AsLong(L(L_FLAGS));
    if (flags == -1 && PyErr_Occurred()) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(messages);
    int trims = (flags & TRIMS) != 0;
    PyObject *result = NULL, *spans = NULL;
    Pieces p; /* (its stack array uninitialised: only what `add` wrote is read) */
    p.items = p.local, p.n = 0, p.cap = 64, p.size = 0, p.held = NULL;
    int roles_local[32], *roles = n <= 32 ? roles_local : PyMem_Malloc(n * sizeof(int));
    PyObject *contents_local[32], **contents = n <= 32 ? contents_local : PyMem_Malloc(n * sizeof(PyObject *));
    if (!roles || !contents) {
        if (roles != roles_local) PyMem_Free(roles);
        if (contents != contents_local) PyMem_Free(contents);
        return PyErr_NoMemory();
    }
    if (n == 0) NOT_MINE();
    PyObject *think_close = L(L_THINK_CLOSE);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *content;
        roles[i] = plain(PyList_GET_ITEM(messages, i), &content);
        if (roles[i] < 0) {
            if (PyErr_Occurred()) FAIL();
            NOT_MINE();
        }
        contents[i] = content; /* borrowed: the list holds the dict, the dict the content, for the call */
        if (trims) { /* its last character, which trimming reads first: fetched while the other messages are read */
            Py_ssize_t length = PyUnicode_GET_LENGTH(content);
            const char *data = PyUnicode_DATA(content);
            if (length) __builtin_prefetch(data + (length - 1) * PyUnicode_KIND(content));
        }
        if (roles[i] == ASSISTANT && think_close != Py_None) { /* a think block of its own: Jinja splits it */
            int found = contains(content, think_close);
            if (found < 0) FAIL();
            if (found) NOT_MINE();
        }
        if (roles[i] == SYSTEM && (flags & NO_SYSTEM || (i == 0 && flags & REFUSE_LEADING_SYSTEM) ||
                                   (i > 0 && flags & SYSTEM_FIRST_ONLY)))
            NOT_MINE(); /* refused, or written by Jinja */
    }
    Py_ssize_t first = 0;
    PyObject *folded = NULL; /* the system prompt a fold writes into the first user turn */
    if (L(L_FOLD_OPEN) != Py_None) {
        if (roles[0] == SYSTEM) folded = contents[0], first = 1;
        if (first == n) NOT_MINE();
        for (Py_ssize_t i = first; i < n; i++)
            if (roles[i] == SYSTEM) NOT_MINE(); /* a later system message: Jinja writes it */
    }
    if (add_all(&p, L(L_BOS)) < 0) FAIL();
    if (L(L_DEFAULT_SYSTEM) != Py_None && roles[first] != SYSTEM && add_all(&p, L(L_DEFAULT_SYSTEM)) < 0) FAIL();
    Py_ssize_t replies = 0, reply = 0;
    for (Py_ssize_t i = first; i < n; i++) replies += roles[i] == ASSISTANT;
    if (!(spans = PyList_New(replies))) FAIL(); /* (a list left unfilled holds NULLs, which it releases as such) */
    for (Py_ssize_t i = first; i < n; i++) {
        int role = roles[i];
        Py_ssize_t index = i - first;
        if (flags & ALTERNATING && (role == USER) != (index % 2 == 0)) NOT_MINE(); /* refused */
        PyObject *content = contents[i];
        if (role == ASSISTANT) {
            if (add_all(&p, L(L_ASSISTANT_HEAD)) < 0) FAIL();
            Py_ssize_t start = p.size;
            if (add_all(&p, L(L_SPAN_PREFIX)) < 0 || add_all(&p, L(L_THINK_PREFIX)) < 0 ||
                add_content(&p, content, trims, L(L_THINK_PREFIX) != Py_None) < 0 ||
                add_all(&p, L(L_ASSISTANT_FOOT)) < 0)
                FAIL();
            PyObject *pair = span(start, p.size);
            if (!pair) FAIL();
            PyList_SET_ITEM(spans, reply++, pair);
            continue;
        }
        if (add_all(&p, role == USER ? L(L_USER_HEAD) : L(L_SYSTEM_HEAD)) < 0) FAIL();
        if (index == 0 && folded && role == USER) {
            Py_ssize_t from = p.n;
            int whole = flags & FOLD_THEN_TRIM; /* the folded text trimmed as one, else the user's alone */
            if (add_all(&p, L(L_FOLD_OPEN)) < 0 || add_all(&p, folded) < 0 || add_all(&p, L(L_FOLD_CLOSE)) < 0 ||
                add_content(&p, content, trims && !whole, 0) < 0)
                FAIL();
            if (trims && whole) strip(&p, from);
        } else if (add_content(&p, content, trims, 0) < 0)
            FAIL();
        if (add_all(&p, role == USER ? L(L_USER_FOOT) : L(L_SYSTEM_FOOT)) < 0) FAIL();
    }
    if (prompt) {
        if (add_all(&p, L(L_GENERATION_PROMPT)) < 0) FAIL();
    } else if (PyUnicode_GET_LENGTH(L(L_FINAL_EOS))) {
        if (add_all(&p, L(L_FINAL_EOS)) < 0) FAIL();
        if (roles[n - 1] == ASSISTANT) { /* the reply's span ends with it */
            Py_ssize_t last = PyList_GET_SIZE(spans) - 1;
            PyObject *pair = span(PyLong_AsSsize_t(PyTuple_GET_ITEM(PyList_GET_ITEM(spans, last), 0)), p.size);
            if (!pair) FAIL();
            PyList_SetItem(spans, last, pair);
        }
    }
    PyObject *text = join(&p);
    if (!text) FAIL();
    result = rendered(L(L_RENDERED), text, spans);
    Py_DECREF(text);
done:
    Py_XDECREF(spans);
    Py_XDECREF(p.held);
    if (p.items != p.local) PyMem_Free(p.items);
    if (roles != roles_local) PyMem_Free(roles);
    if (contents != contents_local) PyMem_Free(contents);
    return result;
#undef L
}

static PyMethodDef methods[] = {
    {"render", (PyCFunction)(void (*)(void))render, METH_FASTCALL, render_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_turns", NULL, -1, methods};

PyMODINIT_FUNC PyInit__turns(void) {
    s_role = PyUnicode_InternFromString("role");
    s_content = PyUnicode_InternFromString("content");
    s_text = PyUnicode_InternFromString("text");
    s_spans = PyUnicode_InternFromString("assistant_spans");
    s_system = PyUnicode_InternFromString("system");
    s_user = PyUnicode_InternFromString("user");
    s_assistant = PyUnicode_InternFromString("assistant");
    empty_args = PyTuple_New(0);
    if (!s_role || !s_content || !s_text || !s_spans || !s_system || !s_user || !s_assistant || !empty_args)
        return NULL;
    return PyModule_Create(&module);
}
