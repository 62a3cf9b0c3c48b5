/*
 * encode.h -- turning a task's examples into token ids for the model:
 * prompt (instruction prefix, text, "\nAnswer:") and target (" <label>" and
 * end-of-text). Inputs longer than max_len lose the end of their text, never
 * the instruction or the answer.
 */
#ifndef CL_ENCODE_H
#define CL_ENCODE_H

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
     * end-of-text, exactly the target an example of label k is trained on */
    int n_options;
    int32_t **option;
    int *n_option;
} cl_encoded_task;

int cl_encode_task(cl_tokenizer *tok, const cl_task_data *t, int max_len, cl_encoded_task *out,
                   cl_error *err);
void cl_encoded_task_free(cl_encoded_task *e);

#endif
