/*
 * peft_internal.h -- what the PEFT importer and exporter share inside
 * libmetrics/peft/: adapter_config.json as collide reads it, PEFT's pattern
 * matching, and module-name ordering.
 */
#ifndef PEFT_INTERNAL_H
#define PEFT_INTERNAL_H

#include "cl_alloc.h"
#include "cl_peft.h"

#include <regex.h>

#define PEFT_PREFIX "base_model.model."
#define PEFT_CONFIG "adapter_config.json"
#define PEFT_WEIGHTS "adapter_model.safetensors"
#define PEFT_PICKLE "adapter_model.bin"
#define PEFT_MAX_RANK 65536
#define PEFT_MAX_DIM (1 << 24) /* the store's limit */

/* One rank_pattern / alpha_pattern entry: PEFT matches KEY against a module
 * path as re.match(rf"(.*\.)?({KEY})$", path); collide compiles the same
 * expression as a POSIX extended regex anchored at the start. */
typedef struct peft_pattern {
    char *key;
    regex_t re;
    int compiled;
    double value; /* a rank (integral) or an alpha */
} peft_pattern;

/* adapter_config.json; PEFT's LoraConfig defaults where a key is missing or
 * null. */
typedef struct peft_config {
    char *path;
    int r;                  /* default 8                                    */
    double alpha;           /* lora_alpha, default 8                        */
    int use_rslora;         /* default false                                */
    int fan_in_fan_out;     /* default false                                */
    char *base_model;       /* base_model_name_or_path; "" when missing     */
    char *task_type;        /* "" when missing                              */
    char **targets;         /* target_modules as a list; NULL otherwise     */
    int n_targets;
    char **to_save;         /* modules_to_save                              */
    int n_to_save;
    peft_pattern *rank_pat;
    int n_rank_pat;
    peft_pattern *alpha_pat;
    int n_alpha_pat;
    int has_r_sum;          /* O-LoRA fork: r_sum present                   */
    int64_t r_sum;
    int *enable_lora;       /* old PEFT MergedLinear: enable_lora, or NULL  */
    int n_enable_lora;
} peft_config;

/* torch_read.c (over torch_zip.c, torch_pickle.c and torch_tensors.c,
 * which share torch_internal.h): a torch.save checkpoint (the zip format,
 * or the legacy pickle format) read without running anything from it, into
 * an in-memory safetensors file (*out, malloc'd, for cl_st_parse) holding each tensor of
 * its top-level dict contiguously in its own dtype. name is for messages.
 * flags: CL_TORCH_NO_CRC skips the zip records' CRC-32 check (fuzzing). */
#define CL_TORCH_NO_CRC 1
int cl_torch_parse(const uint8_t *data, size_t n, const char *name, int flags, uint8_t **out,
                   size_t *out_len, cl_error *err);
int cl_torch_read(const char *path, uint8_t **out, size_t *out_len, cl_error *err);

int cl_peft_config_read(const char *path, peft_config *c, cl_error *err);
void cl_peft_config_free(peft_config *c);
/* r and lora_alpha of one module after rank_pattern / alpha_pattern (the
 * first matching key wins, as in PEFT). */
void cl_peft_config_module(const peft_config *c, const char *module, int *r, double *alpha);
/* PEFT's scaling: alpha / r, or alpha / sqrt(r) for rsLoRA (in double, as
 * Python computes it). */
double cl_peft_scale(double alpha, int r, int rslora);

/* Order of module names: digit runs compare as numbers (layers.2 before
 * layers.10); a total order. */
int cl_peft_name_cmp(const char *a, const char *b);

#endif
