/*
 * tokenizer.h -- a byte-level BPE tokenizer, deterministic and total over any
 * input bytes, saved and loaded as a Hugging Face tokenizer.json (model BPE,
 * pre-tokenizer Split + ByteLevel, decoder ByteLevel) that PyPI's
 * `tokenizers` loads and encodes identically.
 *
 * cl_tok_load / cl_tok_parse also read the BPE tokenizer.json of other models
 * (GPT-2, SmolLM, Llama-3, Qwen2, LLaMA-2 / TinyLlama: see tokenizer_pipe.c)
 * and encode as `tokenizers` does; invalid UTF-8 in their input is read as
 * U+FFFD per maximal invalid subpart (Python's errors="replace").
 */
#ifndef CL_TOKENIZER_H
#define CL_TOKENIZER_H

#include "cl_core.h"

#include <stddef.h>
#include <stdint.h>

typedef struct cl_tokenizer cl_tokenizer;

#define CL_TOK_EOS_TEXT "<|endoftext|>"

/* Learn merges from texts until the vocabulary (256 bytes + merges + the
 * end-of-text token) reaches vocab_size, or no pair occurs twice. */
int cl_tok_train(const char *const *texts, const size_t *lens, size_t n, int vocab_size,
                 cl_tokenizer **out, cl_error *err);
int cl_tok_load(const char *path, cl_tokenizer **out, cl_error *err);
int cl_tok_parse(const char *json, size_t len, const char *name, cl_tokenizer **out,
                 cl_error *err);
int cl_tok_save(const cl_tokenizer *t, const char *path, cl_error *err);
void cl_tok_free(cl_tokenizer *t);

int cl_tok_vocab_size(const cl_tokenizer *t);
int cl_tok_eos(const cl_tokenizer *t);
/* The ids the tokenizer's post-processor (TemplateProcessing, or
 * tokenizer_config.json's add_bos_token / add_eos_token) puts before and
 * after a text: what a trainer adds around each example. None for collide's
 * own tokenizer (returns the count; *ids may be NULL when 0). */
int cl_tok_prefix(const cl_tokenizer *t, const int32_t **ids);
int cl_tok_suffix(const cl_tokenizer *t, const int32_t **ids);
/* 1 when decode(encode(x)) == x for every valid UTF-8 x (collide's own:
 * for any bytes). */
int cl_tok_lossless(const cl_tokenizer *t);
/* 1 for collide's own tokenizer (trained or saved by collide), 0 for another
 * model's tokenizer.json (see tokenizer_pipe.c). */
int cl_tok_native(const cl_tokenizer *t);

/* Append the ids of text[0..len) to *ids (capacity *cap, grown with
 * realloc), count in *n. The end-of-text marker in text becomes its id. */
int cl_tok_encode(cl_tokenizer *t, const char *text, size_t len, int32_t **ids, int *n,
                  int *cap, cl_error *err);
/* Bytes of ids into out (at most cap, always terminated when cap > 0);
 * returns the full length. */
size_t cl_tok_decode(const cl_tokenizer *t, const int32_t *ids, int n, char *out, size_t cap);

/* The pre-tokenizer, exposed for tests: length of the piece at text[i]. */
size_t cl_tok_piece(const char *text, size_t len, size_t i);

#endif
