/*
 * nfc.h -- Unicode NFC (canonical decomposition, canonical ordering,
 * canonical composition) of UTF-8 text, for the NFC normalizer of
 * tokenizer_pipe.c. Tables: tokenizer_nfc.h, generated from Python's
 * unicodedata by tests/ref/tokenizers_ref.py --nfc-table.
 */
#ifndef COLLIDE_NFC_H
#define COLLIDE_NFC_H

#include <stddef.h>

/* 1 when s[0..n) (valid UTF-8) is certainly in NFC already (quick check). */
int cl_nfc_quick(const char *s, size_t n);

/* The NFC of s[0..n) (valid UTF-8): 0 with *out NULL when the quick check
 * says it is in NFC already (the text is its own NFC), else 0 with *out a
 * malloc'd NUL-terminated string of *nout bytes; -1 out of memory. */
int cl_nfc(const char *s, size_t n, char **out, size_t *nout);

#endif
