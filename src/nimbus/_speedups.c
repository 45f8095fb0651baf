/* nimbus._speedups: the per-record loops of the ingest path in C.
 *
 * Each function does exactly what a pure-Python function next to its caller does (and the tests compare
 * the two on the same inputs); the callers fall back to Python when this module is missing. Nothing here
 * decides an error: on anything unusual a function stops and says where, and Python takes over from
 * there with its own messages.
 *
 *   crc32(data[, value]) -> int
 *       zlib.crc32, with carry-less multiplies where the CPU has them (log frames' CRCs)
 *   frames(payloads, seq, ts, size, index_off, interval) -> (chunk, size, index_off, index) or None
 *       the durable log's frames (None: a payload is not bytes) (nimbus.storage.segments._write_batch)
 *   read_frames(buf, out, seq, last, budget, record_type) -> (status, pos, seq, budget, length)
 *       the durable log's read loop over one buffer (nimbus.storage.segments.SegmentLog.read)
 *   join_frames(buf, seq, last, budget, have, sep) -> (status, pos, seq, budget, length, joined, count, ...)
 *       the same loop, joining the payloads instead (nimbus.storage.segments.SegmentLog.read_joined)
 *   scan_record_batch(body, top_names, records, data, key, max_records, max_data, key_min, key_max, decode)
 *       a plain Kinesis PutRecords / Firehose PutRecordBatch body straight into log payloads, or None
 *       (nimbus.protocol.json JsonCodec.scan)
 *   sequence_numbers(prefix, key, field, count) -> list[str]
 *       Kinesis sequence numbers (nimbus.services.kinesis.sequence.Encoder.range)
 *   decode_blob_member(items, name, decode) -> int
 *       base64 blobs of a list of structures, in place (nimbus.protocol.json read_blob_structures)
 *   check_simple_structures(items, plan) -> int
 *       the validator's fast pass over a list of structures (nimbus.protocol.validate _fast_structures)
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

/* -------------------------------------------------------------------------------------------- crc32 */

/* zlib's CRC-32 (the same values as zlib.crc32), faster on the short buffers of log frames: on x86-64
 * with PCLMULQDQ, 16-byte blocks are folded with carry-less multiplies (Intel's "Fast CRC Computation for
 * Generic Polynomials Using PCLMULQDQ", the constants of the reflected IEEE polynomial) and the rest is
 * table-driven (slicing by 8); elsewhere zlib's own crc32(). tests/unit/test_speedups.py compares it with
 * zlib.crc32 on random buffers. */

static uint32_t crc_table[8][256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = crc_table[0][i];
        for (int t = 1; t < 8; t++) {
            c = crc_table[0][c & 0xFF] ^ (c >> 8);
            crc_table[t][i] = c;
        }
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define NIMBUS_CRC_FOLD 1

/* raw (not inverted) reflected CRC over len bytes; len >= 64, len % 16 == 0 */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_fold(uint32_t crc, const unsigned char *p, size_t len) {
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);
    const __m128i k5 = _mm_set_epi64x(0, 0x163cd6124LL);
    const __m128i mask32 = _mm_set_epi32(0, 0, 0, -1);
    const __m128i poly = _mm_set_epi64x(0x1F7011641LL, 0x1DB710641LL); /* mu, P' */
    __m128i x1 = _mm_loadu_si128((const __m128i *)p);
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)crc));
    p += 64;
    len -= 64;
    while (len >= 64) {
        __m128i t1 = _mm_clmulepi64_si128(x1, k1k2, 0x11), t2 = _mm_clmulepi64_si128(x2, k1k2, 0x11);
        __m128i t3 = _mm_clmulepi64_si128(x3, k1k2, 0x11), t4 = _mm_clmulepi64_si128(x4, k1k2, 0x11);
        x1 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x1, k1k2, 0x00), t1), _mm_loadu_si128((const __m128i *)p));
        x2 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x2, k1k2, 0x00), t2), _mm_loadu_si128((const __m128i *)(p + 16)));
        x3 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x3, k1k2, 0x00), t3), _mm_loadu_si128((const __m128i *)(p + 32)));
        x4 = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x4, k1k2, 0x00), t4), _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
#define FOLD(a, b) _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(a, k3k4, 0x00), _mm_clmulepi64_si128(a, k3k4, 0x11)), b)
    x1 = FOLD(x1, x2);
    x1 = FOLD(x1, x3);
    x1 = FOLD(x1, x4);
    while (len >= 16) {
        x1 = FOLD(x1, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
#undef FOLD
    __m128i t = _mm_clmulepi64_si128(k3k4, x1, 0x01); /* 128 -> 64 bits */
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    __m128i hi = _mm_srli_si128(x1, 4); /* 64 -> 32 bits */
    x1 = _mm_and_si128(x1, mask32);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, k5, 0x00), hi);
    hi = x1; /* Barrett reduction */
    x1 = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, mask32), poly, 0x10), mask32);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(x1, poly, 0x00), hi);
    return (uint32_t)_mm_extract_epi32(x1, 1);
}
#endif

static int crc_use_fold = 0;

/* raw reflected CRC, slicing by 8 (little-endian loads: only used where crc_use_fold is set, x86-64) */
static uint32_t crc_slice8(uint32_t crc, const unsigned char *p, size_t n) {
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint32_t lo = (uint32_t)w ^ crc, hi = (uint32_t)(w >> 32);
        crc = crc_table[7][lo & 0xFF] ^ crc_table[6][(lo >> 8) & 0xFF] ^ crc_table[5][(lo >> 16) & 0xFF] ^
              crc_table[4][lo >> 24] ^ crc_table[3][hi & 0xFF] ^ crc_table[2][(hi >> 8) & 0xFF] ^
              crc_table[1][(hi >> 16) & 0xFF] ^ crc_table[0][hi >> 24];
        p += 8;
        n -= 8;
    }
    while (n--) crc = crc_table[0][(crc ^ *p++) & 0xFF] ^ (crc >> 8);
    return crc;
}

/* zlib's convention: crc_update(0, p, n) == zlib.crc32(p) */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n) {
#ifdef NIMBUS_CRC_FOLD
    if (crc_use_fold) {
        uint32_t raw = ~crc;
        if (n >= 64) {
            size_t m = n & ~(size_t)15;
            raw = crc_fold(raw, p, m);
            p += m;
            n -= m;
        }
        return ~crc_slice8(raw, p, n);
    }
#endif
    while (n > 0) { /* zlib takes at most UINT_MAX bytes per call */
        uInt chunk = n > 0x40000000u ? 0x40000000u : (uInt)n;
        crc = (uint32_t)crc32(crc, p, chunk);
        p += chunk;
        n -= chunk;
    }
    return crc;
}

static PyObject *py_crc32(PyObject *self, PyObject *args) {
    Py_buffer view;
    unsigned int crc = 0;
    if (!PyArg_ParseTuple(args, "y*|I", &view, &crc)) return NULL;
    uint32_t out;
    if (view.len > 65536) { /* a large buffer (an S3 part): other threads run meanwhile */
        Py_BEGIN_ALLOW_THREADS
        out = crc_update(crc, (const unsigned char *)view.buf, (size_t)view.len);
        Py_END_ALLOW_THREADS
    } else {
        out = crc_update(crc, (const unsigned char *)view.buf, (size_t)view.len);
    }
    PyBuffer_Release(&view);
    return PyLong_FromUnsignedLong(out);
}

/* ------------------------------------------------------------------------------------------- frames */

#define HEADER_BYTES 24 /* <IIQQ: payload length, crc32, seq, timestamp_ms */

static void put_u32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v) {
    for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* The copying and CRCs run without the GIL (the event loop parses the next request meanwhile): the
 * payloads are immutable bytes that the caller's list keeps alive, and the caller's list is its own. */
static PyObject *frames(PyObject *self, PyObject *args) {
    PyObject *payloads;
    unsigned long long seq, ts;
    long long size, index_off, interval;
    if (!PyArg_ParseTuple(args, "O!KKLLL", &PyList_Type, &payloads, &seq, &ts, &size, &index_off, &interval))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(payloads);
    Py_ssize_t total = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyList_GET_ITEM(payloads, i);
        if (!PyBytes_CheckExact(p)) Py_RETURN_NONE; /* bytearray, memoryview...: the Python loop */
        Py_ssize_t len = PyBytes_GET_SIZE(p);
        if ((unsigned long long)len > 0xFFFFFFFFULL) {
            PyErr_SetString(PyExc_ValueError, "frames: payload too large");
            return NULL;
        }
        total += HEADER_BYTES + len;
    }
    const char **src = PyMem_Malloc(sizeof(char *) * (size_t)(n ? n : 1));
    Py_ssize_t *lens = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)(n ? n : 1));
    long long *marks = PyMem_Malloc(sizeof(long long) * 2 * (size_t)(n ? n : 1)); /* (seq, offset) pairs */
    PyObject *chunk = PyBytes_FromStringAndSize(NULL, total);
    if (src == NULL || lens == NULL || marks == NULL || chunk == NULL) {
        PyMem_Free(src);
        PyMem_Free(lens);
        PyMem_Free(marks);
        Py_XDECREF(chunk);
        return PyErr_Occurred() ? NULL : PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *p = PyList_GET_ITEM(payloads, i);
        src[i] = PyBytes_AS_STRING(p);
        lens[i] = PyBytes_GET_SIZE(p);
    }
    unsigned char *out = (unsigned char *)PyBytes_AS_STRING(chunk);
    Py_ssize_t nmarks = 0;
    Py_BEGIN_ALLOW_THREADS
    unsigned char tail[16];
    put_u64(tail + 8, ts);
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t len = lens[i];
        if (size - index_off >= interval) {
            marks[2 * nmarks] = (long long)seq;
            marks[2 * nmarks + 1] = size;
            nmarks++;
            index_off = size;
        }
        put_u64(tail, seq);
        put_u32(out, (uint32_t)len);
        memcpy(out + 8, tail, 16);
        memcpy(out + HEADER_BYTES, src[i], (size_t)len);
        /* the crc covers seq, ts and the payload: contiguous here */
        put_u32(out + 4, crc_update(0, out + 8, (size_t)(16 + len)));
        out += HEADER_BYTES + len;
        size += HEADER_BYTES + len;
        seq += 1;
    }
    Py_END_ALLOW_THREADS
    PyMem_Free(src);
    PyMem_Free(lens);
    PyObject *index = PyList_New(2 * nmarks);
    if (index == NULL) {
        PyMem_Free(marks);
        Py_DECREF(chunk);
        return NULL;
    }
    for (Py_ssize_t k = 0; k < 2 * nmarks; k++) {
        PyObject *v = k % 2 ? PyLong_FromLongLong(marks[k]) : PyLong_FromUnsignedLongLong((unsigned long long)marks[k]);
        if (v == NULL) {
            PyMem_Free(marks);
            Py_DECREF(chunk);
            Py_DECREF(index);
            return NULL;
        }
        PyList_SET_ITEM(index, k, v);
    }
    PyMem_Free(marks);
    return Py_BuildValue("NLLN", chunk, size, index_off, index);
}

static uint64_t get_u64(const unsigned char *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static uint32_t get_u32(const unsigned char *p) {
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

enum { FRAMES_DONE = 1, FRAMES_BAD_CRC = 2, FRAMES_PAST_BUFFER = 3 }; /* the reads' statuses (0: buffer used) */

typedef struct {
    long long length;
    unsigned long long seq, ts;
    const unsigned char *payload;
    Py_ssize_t end;
    int wanted; /* seq at least the read's next one: CRC-checked, to take */
} Frame;

/* The frame whose header is at ``pos`` of ``base[0:size]``: FRAMES_PAST_BUFFER when it runs past the end,
 * FRAMES_BAD_CRC when it is wanted and its CRC (one over seq, timestamp and payload) does not match, else 0. */
static inline int frame_at(const unsigned char *base, Py_ssize_t size, Py_ssize_t pos, unsigned long long min_seq, Frame *f) {
    const unsigned char *h = base + pos;
    f->length = (long long)get_u32(h);
    uint32_t crc = get_u32(h + 4);
    f->seq = get_u64(h + 8);
    f->ts = get_u64(h + 16);
    f->payload = h + HEADER_BYTES;
    f->end = pos + HEADER_BYTES + (Py_ssize_t)f->length;
    if (f->end > size) return FRAMES_PAST_BUFFER;
    f->wanted = f->seq >= min_seq;
    if (f->wanted && crc_update(0, h + 8, (size_t)(16 + f->length)) != crc) return FRAMES_BAD_CRC;
    return 0;
}

/* The inner loop of SegmentLog.read over one buffer read from a segment (frames from its start): each
 * frame whose seq is at least ``seq`` is CRC-checked (one CRC over seq, timestamp and payload) and appended
 * to ``out`` as a ``record_type`` (a tuple subclass: seq, timestamp_ms, payload). Returns (status, pos, seq,
 * budget, length): status 0, the buffer holds no further header; 3, the frame at ``pos`` (payload
 * ``length``) runs past the buffer's end; 1, done (``last`` appended, or the next record is over the budget
 * while ``out`` holds one); 2, bad CRC at ``pos``. Python raises the errors and reads on. */
static PyObject *read_frames(PyObject *self, PyObject *args) {
    PyObject *buf, *out, *record_type;
    unsigned long long seq, last;
    long long budget;
    if (!PyArg_ParseTuple(args, "O!O!KKLO!", &PyBytes_Type, &buf, &PyList_Type, &out, &seq, &last, &budget, &PyType_Type,
                          &record_type))
        return NULL;
    PyTypeObject *type = (PyTypeObject *)record_type;
    if (!PyType_IsSubtype(type, &PyTuple_Type)) {
        PyErr_SetString(PyExc_TypeError, "read_frames: record_type must be a tuple subclass");
        return NULL;
    }
    const unsigned char *base = (const unsigned char *)PyBytes_AS_STRING(buf);
    Py_ssize_t size = PyBytes_GET_SIZE(buf);
    Py_ssize_t pos = 0;
    int status = 0;
    long long length = 0;
    while (pos + HEADER_BYTES <= size) {
        Frame f;
        status = frame_at(base, size, pos, seq, &f);
        length = f.length;
        if (status) break;
        if (f.wanted) {
            if (length > budget && PyList_GET_SIZE(out) > 0) {
                status = FRAMES_DONE;
                break;
            }
            budget -= length;
            PyObject *payload = PyBytes_FromStringAndSize((const char *)f.payload, (Py_ssize_t)length);
            PyObject *s = PyLong_FromUnsignedLongLong(f.seq);
            PyObject *t = PyLong_FromUnsignedLongLong(f.ts);
            PyObject *record = type->tp_alloc(type, 3);
            if (payload == NULL || s == NULL || t == NULL || record == NULL) {
                Py_XDECREF(payload);
                Py_XDECREF(s);
                Py_XDECREF(t);
                Py_XDECREF(record);
                return NULL;
            }
            PyTuple_SET_ITEM(record, 0, s);
            PyTuple_SET_ITEM(record, 1, t);
            PyTuple_SET_ITEM(record, 2, payload);
            int rc = PyList_Append(out, record);
            Py_DECREF(record);
            if (rc < 0) return NULL;
            if (f.seq >= last) {
                status = FRAMES_DONE;
                break;
            }
            seq = f.seq + 1;
        }
        pos = f.end;
    }
    return Py_BuildValue("inKLL", status, pos, seq, budget, length);
}

/* ``read_frames`` for a reader that wants the payloads themselves, joined: the payloads of the frames it
 * takes, each followed by ``sep`` (at most 24 bytes), in one bytes object, without a record object per
 * frame (copied and CRC-checked without the GIL: the buffer is the caller's, the result not yet shared). ``have`` is how many the read took before this buffer (the byte budget never refuses the first).
 * Returns (status, pos, seq, budget, length, joined, count, min_ts, first_ts, first_seq, last_seq) with the
 * statuses of ``read_frames``; the last five describe the frames taken from this buffer (meaningless when
 * count is 0). */
static PyObject *join_frames(PyObject *self, PyObject *args) {
    PyObject *buf;
    unsigned long long seq, last;
    long long budget, have;
    Py_buffer sep;
    if (!PyArg_ParseTuple(args, "O!KKLLy*", &PyBytes_Type, &buf, &seq, &last, &budget, &have, &sep)) return NULL;
    if (sep.len > HEADER_BYTES) {
        PyBuffer_Release(&sep);
        PyErr_SetString(PyExc_ValueError, "join_frames: the separator is longer than a frame header");
        return NULL;
    }
    const unsigned char *base = (const unsigned char *)PyBytes_AS_STRING(buf);
    Py_ssize_t size = PyBytes_GET_SIZE(buf);
    PyObject *joined = PyBytes_FromStringAndSize(NULL, size); /* payload + sep <= its frame */
    if (joined == NULL) {
        PyBuffer_Release(&sep);
        return NULL;
    }
    char *w = PyBytes_AS_STRING(joined);
    Py_ssize_t pos = 0;
    int status = 0;
    long long length = 0, count = 0, min_ts = -1, first_ts = -1;
    unsigned long long first_seq = 0, last_seq = 0;
    const char *sep_buf = (const char *)sep.buf;
    Py_ssize_t sep_len = sep.len;
    PyThreadState *released = size > 65536 ? PyEval_SaveThread() : NULL; /* only C memory below */
    while (pos + HEADER_BYTES <= size) {
        Frame f;
        status = frame_at(base, size, pos, seq, &f);
        length = f.length;
        if (status) break;
        if (f.wanted) {
            if (length > budget && have + count > 0) {
                status = FRAMES_DONE;
                break;
            }
            budget -= length;
            memcpy(w, f.payload, (size_t)length);
            w += length;
            if (sep_len) {
                memcpy(w, sep_buf, (size_t)sep_len);
                w += sep_len;
            }
            if (count == 0) {
                first_ts = (long long)f.ts;
                first_seq = f.seq;
            }
            last_seq = f.seq;
            if (min_ts < 0 || (long long)f.ts < min_ts) min_ts = (long long)f.ts;
            count++;
            if (f.seq >= last) {
                status = FRAMES_DONE;
                break;
            }
            seq = f.seq + 1;
        }
        pos = f.end;
    }
    if (released != NULL) PyEval_RestoreThread(released);
    PyBuffer_Release(&sep);
    if (_PyBytes_Resize(&joined, w - PyBytes_AS_STRING(joined)) < 0) return NULL;
    return Py_BuildValue("inKLLNLLLKK", status, pos, seq, budget, length, joined, count, min_ts, first_ts, first_seq, last_seq);
}

/* --------------------------------------------------------------------------------- sequence numbers */

#define M1 0x9E3779B97F4A7C15ULL
#define M2 0xC2B2AE3D27D4EB4FULL
#define CHECK_MOD 1000000000000000000ULL /* 10**18 */

static char two_digits[200]; /* "00", "01", ... "99" */

static void digits(char *p, uint64_t v, int width) { /* width even */
    for (int i = width - 2; i >= 0; i -= 2) {
        memcpy(p + i, two_digits + 2 * (v % 100), 2);
        v /= 100;
    }
}

static PyObject *sequence_numbers(PyObject *self, PyObject *args) {
    PyObject *prefix, *key_obj, *field_obj;
    Py_ssize_t count;
    if (!PyArg_ParseTuple(args, "UO!O!n", &prefix, &PyLong_Type, &key_obj, &PyLong_Type, &field_obj, &count)) return NULL;
    unsigned long long key = PyLong_AsUnsignedLongLong(key_obj);
    if (key == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    unsigned long long field = PyLong_AsUnsignedLongLong(field_obj);
    if (field == (unsigned long long)-1 && PyErr_Occurred()) return NULL;
    if (field > 0xFFFFFFFFFFFFFFFFULL - (unsigned long long)count) {
        PyErr_SetString(PyExc_OverflowError, "sequence_numbers: field out of range");
        return NULL;
    }
    if (!PyUnicode_IS_COMPACT_ASCII(prefix) || count < 0) {
        PyErr_SetString(PyExc_ValueError, "sequence_numbers: ASCII prefix and count >= 0 expected");
        return NULL;
    }
    Py_ssize_t plen = PyUnicode_GET_LENGTH(prefix);
    const char *pdata = (const char *)PyUnicode_DATA(prefix);
    PyObject *out = PyList_New(count);
    if (out == NULL) return NULL;
    for (Py_ssize_t i = 0; i < count; i++, field++) {
        uint64_t x = (key ^ (field * M1)) * M2;
        uint64_t check = (x ^ (x >> 29)) % CHECK_MOD;
        PyObject *s = PyUnicode_New(plen + 38, 127);
        if (s == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        char *d = (char *)PyUnicode_DATA(s);
        memcpy(d, pdata, (size_t)plen);
        digits(d + plen, field, 20);
        digits(d + plen + 20, check, 18);
        PyList_SET_ITEM(out, i, s);
    }
    return out;
}

/* ----------------------------------------------------------------------------- blobs of structures */

#define B64_INLINE_MAX 512

static signed char b64_value[256];

/* Decoded four characters at a time through four tables (a character's 6 bits already shifted into
 * place; bit 31 marks a character outside the alphabet). */
static uint32_t b64_d0[256], b64_d1[256], b64_d2[256], b64_d3[256];

static void b64_init(void) {
    const char *alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    memset(b64_value, -1, sizeof b64_value);
    for (int i = 0; i < 64; i++) b64_value[(unsigned char)alphabet[i]] = (signed char)i;
    for (int c = 0; c < 256; c++) {
        int v = b64_value[c];
        uint32_t bad = 0x80000000u;
        b64_d0[c] = v < 0 ? bad : (uint32_t)v << 18;
        b64_d1[c] = v < 0 ? bad : (uint32_t)v << 12;
        b64_d2[c] = v < 0 ? bad : (uint32_t)v << 6;
        b64_d3[c] = v < 0 ? bad : (uint32_t)v;
    }
}

/* Decoded length of ``n`` characters of canonical base64, or -1 when they cannot be. */
static Py_ssize_t b64_decoded_len(const unsigned char *s, Py_ssize_t n) {
    if (n % 4 != 0) return -1;
    Py_ssize_t pad = 0;
    if (n >= 4 && s[n - 1] == '=') pad = s[n - 2] == '=' ? 2 : 1;
    return n / 4 * 3 - pad;
}

/* Decode ``n`` characters (a multiple of 4) into ``d``; 0, or -1 when not canonical base64. */
static int b64_decode_into(const unsigned char *s, Py_ssize_t n, unsigned char *d) {
    if (n == 0) return 0;
    Py_ssize_t pad = s[n - 1] == '=' ? (s[n - 2] == '=' ? 2 : 1) : 0;
    Py_ssize_t full = pad ? n - 4 : n;
    uint32_t bad = 0;
    for (Py_ssize_t i = 0; i < full; i += 4) {
        uint32_t v = b64_d0[s[i]] | b64_d1[s[i + 1]] | b64_d2[s[i + 2]] | b64_d3[s[i + 3]];
        bad |= v;
        d[0] = (unsigned char)(v >> 16);
        d[1] = (unsigned char)(v >> 8);
        d[2] = (unsigned char)v;
        d += 3;
    }
    if (bad & 0x80000000u) return -1;
    if (pad) {
        const unsigned char *q = s + n - 4;
        int a = b64_value[q[0]], b = b64_value[q[1]];
        if ((a | b) < 0) return -1;
        if (pad == 2) {
            if (b & 0x0F) return -1; /* non-zero bits after the last byte */
            d[0] = (unsigned char)((a << 2) | (b >> 4));
        } else {
            int c = b64_value[q[2]];
            if (c < 0 || (c & 0x03)) return -1;
            d[0] = (unsigned char)((a << 2) | (b >> 4));
            d[1] = (unsigned char)(((b & 0x0F) << 4) | (c >> 2));
        }
    }
    return 0;
}


/* Canonical standard base64 (A-Z a-z 0-9 + /, length a multiple of 4, "=" padding only at the end, zero
 * bits after the last byte), of up to B64_INLINE_MAX characters: decoded here. Anything else goes to
 * the Python decoder, which decides (every decoder agrees on canonical input). Returns NULL without an
 * exception set when it hands over. */
static PyObject *b64_canonical(PyObject *text) {
    if (!PyUnicode_IS_COMPACT_ASCII(text)) return NULL;
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (n > B64_INLINE_MAX) return NULL;
    const unsigned char *s = (const unsigned char *)PyUnicode_DATA(text);
    Py_ssize_t out_len = b64_decoded_len(s, n);
    if (out_len < 0) return NULL;
    PyObject *out = PyBytes_FromStringAndSize(NULL, out_len);
    if (out == NULL) return NULL; /* MemoryError: stays set */
    if (b64_decode_into(s, n, (unsigned char *)PyBytes_AS_STRING(out)) < 0) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

/* For each item of ``items`` (a list): None is skipped; a dict whose ``name`` member is absent or None is
 * skipped; a dict whose member is an exact str gets it replaced by its bytes (decoded here when canonical
 * and short, else by ``decode(member, None, True)``). Returns
 * -1 when every item was handled, else the index of the first item it did not handle (not a dict, a
 * member of another type, or ``decode`` raised: the exception is cleared); items before it are done,
 * it and the ones after are untouched, for the Python loop to take over. */
static PyObject *decode_blob_member(PyObject *self, PyObject *args) {
    PyObject *items, *name, *decode;
    if (!PyArg_ParseTuple(args, "O!UO", &PyList_Type, &items, &name, &decode)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(items);
    PyObject *call_args[3] = {NULL, Py_None, Py_True};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (item == Py_None) continue;
        if (!PyDict_CheckExact(item)) return PyLong_FromSsize_t(i);
        PyObject *data = PyDict_GetItemWithError(item, name); /* borrowed */
        if (data == NULL) {
            if (PyErr_Occurred()) return NULL;
            continue;
        }
        if (data == Py_None) continue;
        if (!PyUnicode_CheckExact(data)) return PyLong_FromSsize_t(i);
        PyObject *decoded = b64_canonical(data);
        if (decoded == NULL) {
            if (PyErr_Occurred()) return NULL;
            call_args[0] = data;
            decoded = PyObject_Vectorcall(decode, call_args, 3, NULL);
        }
        if (decoded == NULL) {
            PyErr_Clear();
            return PyLong_FromSsize_t(i);
        }
        int rc = PyDict_SetItem(item, name, decoded);
        Py_DECREF(decoded);
        if (rc < 0) return NULL;
    }
    return PyLong_FromLong(-1);
}

/* ------------------------------------------------------------------------------- Kinesis payloads */

/* The log payloads of PutRecords entries on the plain path (nimbus.services.kinesis.api._put_plain and
 * engine._plain_payloads): for each entry, a dict with exact-bytes ``data_name``, exact-str ``key_name`` and
 * no (or None) ``ehk_name``: the key's UTF-8 length as 2 little-endian bytes, the key, the data. Returns
 * (payloads, data bytes + key characters, largest payload minus 2), or None for the general path: an
 * entry that is not like that, or a key over 1,024 bytes in UTF-8. */
static PyObject *plain_payloads(PyObject *self, PyObject *args) {
    PyObject *entries, *data_name, *key_name, *ehk_name;
    if (!PyArg_ParseTuple(args, "O!UUU", &PyList_Type, &entries, &data_name, &key_name, &ehk_name)) return NULL;
    Py_ssize_t n = PyList_GET_SIZE(entries);
    PyObject *out = PyList_New(n);
    if (out == NULL) return NULL;
    long long total = 0;
    Py_ssize_t largest = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i);
        if (!PyDict_CheckExact(entry)) goto general;
        PyObject *ehk = PyDict_GetItemWithError(entry, ehk_name);
        if (ehk == NULL && PyErr_Occurred()) goto error;
        if (ehk != NULL && ehk != Py_None) goto general;
        PyObject *key = PyDict_GetItemWithError(entry, key_name);
        if (key == NULL && PyErr_Occurred()) goto error;
        if (key == NULL || !PyUnicode_CheckExact(key)) goto general;
        PyObject *data = PyDict_GetItemWithError(entry, data_name);
        if (data == NULL && PyErr_Occurred()) goto error;
        if (data == NULL || !PyBytes_CheckExact(data)) goto general;
        Py_ssize_t klen;
        const char *kbytes = PyUnicode_AsUTF8AndSize(key, &klen);
        if (kbytes == NULL) { /* a lone surrogate: str.encode fails the same way, on the general path */
            PyErr_Clear();
            goto general;
        }
        if (klen > 1024) goto general;
        Py_ssize_t dlen = PyBytes_GET_SIZE(data);
        PyObject *payload = PyBytes_FromStringAndSize(NULL, 2 + klen + dlen);
        if (payload == NULL) goto error;
        char *d = PyBytes_AS_STRING(payload);
        d[0] = (char)(klen & 0xFF);
        d[1] = (char)(klen >> 8);
        memcpy(d + 2, kbytes, (size_t)klen);
        memcpy(d + 2 + klen, PyBytes_AS_STRING(data), (size_t)dlen);
        PyList_SET_ITEM(out, i, payload);
        total += dlen + PyUnicode_GET_LENGTH(key);
        if (klen + dlen > largest) largest = klen + dlen;
    }
    return Py_BuildValue("NLn", out, total, largest);
general:
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    Py_DECREF(out);
    return NULL;
}

/* ------------------------------------------------------------------------- record batches, scanned */

typedef struct {
    const unsigned char *p, *end;
} Cursor;

static inline void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\n' || *c->p == '\r' || *c->p == '\t')) c->p++;
}

static inline int expect(Cursor *c, unsigned char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) return -1;
    c->p++;
    skip_ws(c);
    return 0;
}

/* After a member or an item: 1 past a comma (and whitespace), 0 past ``close``, -1 at anything else. */
static inline int next_or_close(Cursor *c, unsigned char close) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ',') {
        c->p++;
        skip_ws(c);
        return 1;
    }
    if (c->p < c->end && *c->p == close) {
        c->p++;
        return 0;
    }
    return -1;
}

/* The span of a JSON string at the cursor, up to the next quote, unchecked (base64 decoding checks it). */
static int raw_string(Cursor *c, const unsigned char **s, Py_ssize_t *n) {
    if (c->p >= c->end || *c->p != '"') return -1;
    const unsigned char *q = c->p + 1;
    const unsigned char *close = memchr(q, '"', (size_t)(c->end - q));
    if (close == NULL) return -1;
    *s = q;
    *n = close - q;
    c->p = close + 1;
    return 0;
}

/* A JSON string of printable ASCII without escapes (the only strings taken here; others go to the
 * general parser). */
static int plain_string(Cursor *c, const unsigned char **s, Py_ssize_t *n) {
    if (raw_string(c, s, n) < 0) return -1;
    for (Py_ssize_t i = 0; i < *n; i++) {
        unsigned char ch = (*s)[i];
        if (ch < 0x20 || ch > 0x7e || ch == '\\') return -1;
    }
    return 0;
}

static inline int same(const unsigned char *s, Py_ssize_t n, const char *name, Py_ssize_t name_len) {
    return n == name_len && memcmp(s, name, (size_t)n) == 0;
}

/* The body of a record-batch request (Kinesis PutRecords, Firehose PutRecordBatch) scanned straight into
 * log payloads, without the dicts and strings a JSON parser would build, when it is plain: a JSON object
 * whose members are ``records_name`` (an array of 1..max_records objects) and members named in
 * ``top_names`` with printable-ASCII string values; each record has exactly ``data_name`` (base64 of at most
 * ``max_data`` bytes, decoded here when short, else by ``decode(chars, None, True)``) and, when
 * ``key_name`` is not None, ``key_name`` (printable ASCII, key_min..key_max characters). Payloads are the
 * data (no key), or the key's length as 2 little-endian bytes, the key and the data. Returns (top members,
 * payloads, data bytes + key characters, largest data + key), or None for the general parser, which
 * then answers exactly as it always does: anything else, including every malformed or invalid body. */
static PyObject *scan_record_batch(PyObject *self, PyObject *args) {
    Py_buffer body;
    PyObject *top_names, *decode, *key_obj;
    const char *records_name, *data_name;
    Py_ssize_t records_len, data_len, max_records, max_data, key_min, key_max;
    if (!PyArg_ParseTuple(args, "y*O!s#s#Onnnn" "O", &body, &PyTuple_Type, &top_names, &records_name, &records_len, &data_name,
                          &data_len, &key_obj, &max_records, &max_data, &key_min, &key_max, &decode))
        return NULL;
    const char *key_name = NULL;
    Py_ssize_t key_len = 0;
    if (key_obj != Py_None) {
        key_name = PyUnicode_AsUTF8AndSize(key_obj, &key_len);
        if (key_name == NULL) {
            PyBuffer_Release(&body);
            return NULL;
        }
    }
    PyObject *top = PyDict_New();
    PyObject *payloads = PyList_New(0);
    PyObject *result = NULL;
    if (top == NULL || payloads == NULL) goto done;
    Cursor cur = {(const unsigned char *)body.buf, (const unsigned char *)body.buf + body.len};
    Cursor *c = &cur;
    long long total = 0;
    Py_ssize_t largest = 0;
    int have_records = 0;
    const unsigned char *s;
    Py_ssize_t n;
    if (expect(c, '{') < 0) goto general;
    for (;;) {
        if (plain_string(c, &s, &n) < 0 || expect(c, ':') < 0) goto general;
        if (same(s, n, records_name, records_len)) {
            if (have_records || expect(c, '[') < 0) goto general;
            have_records = 1;
            for (;;) {
                const unsigned char *ds = NULL, *ks = NULL;
                Py_ssize_t dn = 0, kn = 0;
                if (expect(c, '{') < 0) goto general;
                for (;;) {
                    const unsigned char *ms;
                    Py_ssize_t mn;
                    if (plain_string(c, &ms, &mn) < 0 || expect(c, ':') < 0) goto general;
                    if (same(ms, mn, data_name, data_len)) {
                        if (ds != NULL || raw_string(c, &ds, &dn) < 0) goto general;
                    } else if (key_name != NULL && same(ms, mn, key_name, key_len)) {
                        if (ks != NULL || plain_string(c, &ks, &kn) < 0) goto general;
                    } else {
                        goto general;
                    }
                    int more = next_or_close(c, '}');
                    if (more < 0) goto general;
                    if (!more) break;
                }
                if (ds == NULL || (key_name != NULL && (ks == NULL || kn < key_min || kn > key_max))) goto general;
                if (PyList_GET_SIZE(payloads) >= max_records) goto general;
                Py_ssize_t dlen = b64_decoded_len(ds, dn);
                if (dlen < 0 || dlen > max_data) goto general;
                Py_ssize_t head = key_name != NULL ? 2 + kn : 0;
                PyObject *payload;
                if (dn <= B64_INLINE_MAX) {
                    payload = PyBytes_FromStringAndSize(NULL, head + dlen);
                    if (payload == NULL) goto done;
                    if (b64_decode_into(ds, dn, (unsigned char *)PyBytes_AS_STRING(payload) + head) < 0) {
                        Py_DECREF(payload);
                        goto general;
                    }
                } else {
                    PyObject *chars = PyBytes_FromStringAndSize((const char *)ds, dn);
                    if (chars == NULL) goto done;
                    PyObject *call_args[3] = {chars, Py_None, Py_True};
                    PyObject *data = PyObject_Vectorcall(decode, call_args, 3, NULL);
                    Py_DECREF(chars);
                    if (data == NULL || !PyBytes_CheckExact(data) || PyBytes_GET_SIZE(data) != dlen) {
                        Py_XDECREF(data);
                        PyErr_Clear();
                        goto general;
                    }
                    if (head == 0) {
                        payload = data;
                    } else {
                        payload = PyBytes_FromStringAndSize(NULL, head + dlen);
                        if (payload == NULL) {
                            Py_DECREF(data);
                            goto done;
                        }
                        memcpy(PyBytes_AS_STRING(payload) + head, PyBytes_AS_STRING(data), (size_t)dlen);
                        Py_DECREF(data);
                    }
                }
                if (head) {
                    char *d = PyBytes_AS_STRING(payload);
                    d[0] = (char)(kn & 0xFF);
                    d[1] = (char)(kn >> 8);
                    memcpy(d + 2, ks, (size_t)kn);
                }
                int rc = PyList_Append(payloads, payload);
                Py_DECREF(payload);
                if (rc < 0) goto done;
                total += dlen + kn;
                if (dlen + kn > largest) largest = dlen + kn;
                int more = next_or_close(c, ']');
                if (more < 0) goto general;
                if (!more) break;
            }
        } else {
            PyObject *name = NULL;
            Py_ssize_t names = PyTuple_GET_SIZE(top_names);
            for (Py_ssize_t k = 0; k < names; k++) {
                PyObject *candidate = PyTuple_GET_ITEM(top_names, k);
                Py_ssize_t cl;
                const char *cs = PyUnicode_AsUTF8AndSize(candidate, &cl);
                if (cs == NULL) goto done;
                if (same(s, n, cs, cl)) {
                    name = candidate;
                    break;
                }
            }
            const unsigned char *vs;
            Py_ssize_t vn;
            if (name == NULL || plain_string(c, &vs, &vn) < 0) goto general;
            int present = PyDict_Contains(top, name);
            if (present != 0) {
                if (present < 0) goto done;
                goto general;
            }
            PyObject *value = PyUnicode_FromStringAndSize((const char *)vs, vn);
            if (value == NULL) goto done;
            int rc = PyDict_SetItem(top, name, value);
            Py_DECREF(value);
            if (rc < 0) goto done;
        }
        int more = next_or_close(c, '}');
        if (more < 0) goto general;
        if (!more) break;
    }
    skip_ws(c);
    if (c->p != c->end || !have_records || PyList_GET_SIZE(payloads) == 0) goto general;
    result = Py_BuildValue("OOLn", top, payloads, total, largest);
    goto done;
general:
    result = Py_None;
    Py_INCREF(result);
done:
    Py_XDECREF(top);
    Py_XDECREF(payloads);
    PyBuffer_Release(&body);
    return result;
}

/* ------------------------------------------------------------------------------ validator fast pass */

/* ``plan``: a tuple of (name, kind, lo, hi, required) per member, kind a type (or None: the member must be
 * absent). An item passes when it is None, or a dict whose every planned member is absent/None (and not
 * required) or exactly of its kind with lo <= len <= hi. Returns -1 when every item passes, else the index
 * of the first that does not (the Python fast pass then runs over the list and reports it). */
static PyObject *check_simple_structures(PyObject *self, PyObject *args) {
    PyObject *items, *plan;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &items, &PyTuple_Type, &plan)) return NULL;
    Py_ssize_t members = PyTuple_GET_SIZE(plan);
    if (members > 32) {
        PyErr_SetString(PyExc_ValueError, "check_simple_structures: at most 32 members");
        return NULL;
    }
    PyObject *names[32];
    PyObject *kinds[32];
    Py_ssize_t los[32], his[32];
    int required[32];
    for (Py_ssize_t k = 0; k < members; k++) {
        PyObject *entry = PyTuple_GET_ITEM(plan, k);
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 5) {
            PyErr_SetString(PyExc_ValueError, "check_simple_structures: plan entries are 5-tuples");
            return NULL;
        }
        names[k] = PyTuple_GET_ITEM(entry, 0);
        kinds[k] = PyTuple_GET_ITEM(entry, 1);
        los[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 2));
        his[k] = PyLong_AsSsize_t(PyTuple_GET_ITEM(entry, 3));
        required[k] = PyObject_IsTrue(PyTuple_GET_ITEM(entry, 4));
        if ((los[k] == -1 || his[k] == -1 || required[k] < 0) && PyErr_Occurred()) return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (item == Py_None) continue;
        if (!PyDict_CheckExact(item)) return PyLong_FromSsize_t(i);
        for (Py_ssize_t k = 0; k < members; k++) {
            PyObject *m = PyDict_GetItemWithError(item, names[k]);
            if (m == NULL && PyErr_Occurred()) return NULL;
            if (m == NULL || m == Py_None) {
                if (required[k]) return PyLong_FromSsize_t(i);
                continue;
            }
            PyObject *kind = kinds[k];
            if (kind == Py_None || (PyObject *)Py_TYPE(m) != kind) return PyLong_FromSsize_t(i);
            Py_ssize_t len;
            if (PyUnicode_CheckExact(m))
                len = PyUnicode_GET_LENGTH(m);
            else if (PyBytes_CheckExact(m))
                len = PyBytes_GET_SIZE(m);
            else {
                len = PyObject_Length(m);
                if (len < 0) {
                    PyErr_Clear();
                    return PyLong_FromSsize_t(i);
                }
            }
            if (len < los[k] || len > his[k]) return PyLong_FromSsize_t(i);
        }
    }
    return PyLong_FromLong(-1);
}

/* has_none(value): whether a parsed JSON document (dicts and lists, exact types) holds None anywhere:
   the guard before strip_none, which then walks only documents that need it. Deeper than 64 levels it
   answers True and lets strip_none decide. */
static int has_none_at(PyObject *o, int depth) {
    if (o == Py_None || depth > 64) return 1;
    if (PyDict_CheckExact(o)) {
        Py_ssize_t pos = 0;
        PyObject *k, *v;
        while (PyDict_Next(o, &pos, &k, &v)) {
            if (v == Py_None) return 1;
            if ((PyDict_CheckExact(v) || PyList_CheckExact(v)) && has_none_at(v, depth + 1)) return 1;
        }
    } else if (PyList_CheckExact(o)) {
        Py_ssize_t n = PyList_GET_SIZE(o);
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *v = PyList_GET_ITEM(o, i);
            if (v == Py_None) return 1;
            if ((PyDict_CheckExact(v) || PyList_CheckExact(v)) && has_none_at(v, depth + 1)) return 1;
        }
    }
    return 0;
}

static PyObject *has_none(PyObject *self, PyObject *arg) {
    (void)self;
    return PyBool_FromLong(has_none_at(arg, 0));
}

static PyMethodDef methods[] = {
    {"crc32", py_crc32, METH_VARARGS, "zlib.crc32(data[, value]), faster on short buffers."},
    {"plain_payloads", plain_payloads, METH_VARARGS, "Kinesis log payloads of plain PutRecords entries."},
    {"frames", frames, METH_VARARGS, "Frames of the durable log: (chunk, size, index_off, index)."},
    {"read_frames", read_frames, METH_VARARGS, "SegmentLog.read's loop over one buffer."},
    {"join_frames", join_frames, METH_VARARGS, "SegmentLog.read_joined's loop over one buffer."},
    {"sequence_numbers", sequence_numbers, METH_VARARGS, "Kinesis sequence numbers of consecutive fields."},
    {"decode_blob_member", decode_blob_member, METH_VARARGS, "Decode one base64 member of each structure."},
    {"check_simple_structures", check_simple_structures, METH_VARARGS, "The validator's fast pass."},
    {"scan_record_batch", scan_record_batch, METH_VARARGS, "A plain record-batch body straight into log payloads."},
    {"has_none", has_none, METH_O, "Whether a parsed JSON document holds None anywhere."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speedups", "Per-record loops of the ingest path.", -1, methods};

PyMODINIT_FUNC PyInit__speedups(void) {
    b64_init();
    for (int i = 0; i < 100; i++) {
        two_digits[2 * i] = (char)('0' + i / 10);
        two_digits[2 * i + 1] = (char)('0' + i % 10);
    }
    crc_init();
#ifdef NIMBUS_CRC_FOLD
    __builtin_cpu_init();
    crc_use_fold = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
    return PyModule_Create(&module);
}
