/*
 * encode.h -- turning a task's examples into token ids for the model:
 * prompt (the tokenizer's prefix ids, instruction prefix, text, "\nAnswer:")
 * and target (" <label>", the tokenizer's suffix ids, and end-of-text unless
 * the suffix ends with it), as the base's tokenizer frames a text: the
 * prefix/suffix are cl_tok_prefix / cl_tok_suffix (BOS for Llama-3 and
 * TinyLlama-like tokenizers; none for collide's own, whose encoding is the
 * prompt and " <label>" + end-of-text). Inputs longer than max_len lose the
 * end of their text, never the instruction or the answer.
 *
 * collide's own tokenizer (cl_tok_native) encodes the instruction, the text
 * and "\nAnswer:" one by one, and " <label>" alone, as it always has. Another
 * model's tokenizer encodes the prompt text as ONE string, as that model's
 * tokenizer would, and the target is what its encoding of prompt + " <label>"
 * adds after the prompt's ids; where that encoding does not start with the
 * prompt's (a merge across the boundary) the prompt keeps its own encoding
 * (label-free, as evaluation asks it) and " <label>" is encoded alone. Its
 * text is cut at a UTF-8 character, to the longest cut a bisection finds
 * whose whole encoding fits, at least one character kept; its options are
 * " <label k>" as they follow the instruction and "\nAnswer:" by that rule.
 */
#ifndef CL_ENCODE_H
#define CL_ENCODE_H

#include <stdio.h>
#include "benchmark.h"
#include "tokenizer.h"

typedef struct cl_encoded {
    int32_t *ids;   /* n_prompt prompt ids, then n_target target ids */
    int n_prompt, n_target;
    int label;
} cl_encoded;

typedef struct cl_encoded_task {
    cl_encoded *train, *test;
    int n_train, n_test;
    int truncated;  /* examples whose text was cut */
    /* the answer options for ranked scoring: option k is " <label k>" and
     * the end ids (suffix, end-of-text), the target an example of label k is
     * trained on (for another model's tokenizer: as it follows the
     * instruction and "\nAnswer:", the same for every text unless a merge
     * reaches across "\nAnswer:") */
    int n_options;
    int32_t **option;
    int *n_option;
} cl_encoded_task;

int cl_encode_task(cl_tokenizer *tok, const cl_task_data *t, int max_len, cl_encoded_task *out,
                   cl_error *err);
void cl_encoded_task_free(cl_encoded_task *e);

/* The first training example of d as "PROG: encode NAME prefix=HEX text=HEX
 * suffix=HEX label=HEX ids=PROMPT|TARGET" on f (COLLIDE_DEBUG_ENCODE). */
void cl_encode_dump(FILE *f, const char *prog, const cl_task_data *d, const cl_encoded_task *E);

#endif
