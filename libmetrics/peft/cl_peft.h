/*
 * cl_peft.h -- safetensors and Hugging Face PEFT adapters (libmetrics/peft/,
 * target collide_peft): the bounds-checked safetensors reader and writer the
 * model loader shares, and PEFT adapters imported into and exported from a
 * store (docs/IMPORT.md).
 */
#ifndef CL_PEFT_H
#define CL_PEFT_H

#include "cl_store.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------ safetensors */

/* A bounds-checked safetensors reader (and writer), shared by the model
 * loader and the PEFT importer. Hostile input gives an error naming the file,
 * the tensor and the reason, never a crash. */
typedef enum {
    CL_ST_F64, CL_ST_F32, CL_ST_F16, CL_ST_BF16, CL_ST_I64, CL_ST_I32, CL_ST_I16,
    CL_ST_I8, CL_ST_U8, CL_ST_BOOL
} cl_st_dtype;

#define CL_ST_MAX_DIMS 8

typedef struct cl_st_tensor {
    char *name;
    cl_st_dtype dtype;
    int ndim;
    int64_t shape[CL_ST_MAX_DIMS];
    int64_t count;              /* elements */
    uint64_t begin, end;        /* byte range in the data buffer */
} cl_st_tensor;

typedef struct cl_safetensors cl_safetensors;

int cl_st_open(const char *path, cl_safetensors **out, cl_error *err);
/* Parse an in-memory file (buf must outlive the object); name is for messages. */
int cl_st_parse(const uint8_t *buf, size_t len, const char *name, cl_safetensors **out,
                cl_error *err);
void cl_st_close(cl_safetensors *st);
const char *cl_st_path(const cl_safetensors *st);
int cl_st_count(const cl_safetensors *st);
const cl_st_tensor *cl_st_get(const cl_safetensors *st, int i);
const cl_st_tensor *cl_st_find(const cl_safetensors *st, const char *name);
const char *cl_st_metadata(const cl_safetensors *st, const char *key);
const char *cl_st_dtype_name(cl_st_dtype d);
int cl_st_dtype_size(cl_st_dtype d);
/* F32, F16, BF16 or F64 converted to float32 into out[t->count]. */
int cl_st_read_f32(cl_safetensors *st, const cl_st_tensor *t, float *out, cl_error *err);
/* I32 or I64 (range-checked) into out[t->count]. */
int cl_st_read_i32(cl_safetensors *st, const cl_st_tensor *t, int32_t *out, cl_error *err);
/* Where t's bytes lie in the file behind st, for a caller that maps them
 * itself (the model loader maps float32 weights rather than copying them):
 * the open file descriptor (owned by st; a mapping outlives its close) with
 * *offset the file offset of t's first byte; -1 for an in-memory buffer. */
int cl_st_file_offset(const cl_safetensors *st, const cl_st_tensor *t, uint64_t *offset);
float cl_half_to_float(uint16_t h);

typedef struct cl_st_write_tensor {
    const char *name;
    cl_st_dtype dtype;
    int ndim;
    int64_t shape[CL_ST_MAX_DIMS];
    const void *data;           /* little-endian elements, row-major */
} cl_st_write_tensor;

/* Write tensors in order (8-byte aligned data, written beside path and
 * renamed over it). meta: n_meta key/value pairs, or NULL. */
int cl_st_write(const char *path, const cl_st_write_tensor *t, int n,
                const char *const *meta, int n_meta, cl_error *err);

/* ------------------------------------------------- PEFT import and export */

/*
 * Adapters trained with Hugging Face PEFT (docs/IMPORT.md). An adapter
 * directory holds adapter_config.json and adapter_model.safetensors; the
 * tensors base_model.model.<module>.lora_A.weight (r x d_in) and
 * .lora_B.weight (d_out x r) become module <module> with dW = scale * B * A,
 * d_out x d_in in nn.Linear orientation whatever fan_in_fan_out says (PEFT
 * stores the factors the same way for GPT-2's Conv1D; only its merge
 * transposes). scale is PEFT's: lora_alpha / r, or lora_alpha / sqrt(r) with
 * use_rslora, after rank_pattern / alpha_pattern. A cumulative checkpoint of
 * the O-LoRA / N-LoRA code (earlier tasks concatenated along the rank in
 * lora_A / lora_B, the current one in loranew_A / loranew_B) holds one task
 * per r-slice.
 */

/* Something read but not imported (a non-LoRA tensor, a target that matches
 * no tensor, ...): reported, never dropped in silence. */
typedef void (*cl_peft_note_fn)(void *ctx, const char *file, const char *object,
                                const char *reason);

typedef struct cl_peft_module {
    const char *name;     /* module path, e.g. model.layers.0.self_attn.q_proj */
    int64_t d_out, d_in;
    int32_t rank;
    double alpha;         /* lora_alpha after alpha_pattern                     */
    double scale;         /* PEFT's scaling                                     */
} cl_peft_module;

/* What adapter_config.json says (PEFT's defaults where a key is missing) and
 * what the safetensors file holds. */
typedef struct cl_peft_info {
    const char *dir;
    const char *base_model;   /* base_model_name_or_path; "" when missing       */
    const char *task_type;    /* "" when missing                                */
    const char *dtype;        /* factor dtypes in the file, e.g. "BF16", "F16+F32" */
    int r;
    double alpha;             /* lora_alpha                                      */
    int use_rslora;
    int fan_in_fan_out;
    int cumulative;           /* an O-LoRA / N-LoRA cumulative checkpoint        */
    int n_tasks;              /* 1, or the tasks of a cumulative checkpoint      */
    int n_modules;
    int n_skipped;            /* tensors reported through the note callback      */
} cl_peft_info;

typedef struct cl_peft_adapter cl_peft_adapter;

/* Read and validate dir's config and weights header (no tensor data yet):
 * adapter_model.safetensors, or a torch.save adapter_model.bin read without
 * running anything from it (anything but a dict of tensors is refused, naming
 * the opcode or global). With both, the safetensors file is read and note
 * says so. note (may be NULL) hears about every tensor skipped. */
int cl_peft_open(const char *dir, cl_peft_note_fn note, void *ctx, cl_peft_adapter **out,
                 cl_error *err);
void cl_peft_close(cl_peft_adapter *a);
const cl_peft_info *cl_peft_get_info(const cl_peft_adapter *a);
/* Module m (natural order of names) of task t. */
const cl_peft_module *cl_peft_module_at(const cl_peft_adapter *a, int t, int m);
/* Task t's factors of module m as float32, checked for NaN/Inf: A rank x d_in,
 * B d_out x rank (row-major). */
int cl_peft_read(cl_peft_adapter *a, int t, int m, float *A, float *B, cl_error *err);

/* The adapters at path, in import order: path itself when it is an adapter
 * (or anything that is not a folder of adapters), then each subfolder that
 * holds an adapter_config.json, in name order (layers.2 before layers.10):
 * PEFT's save of several adapters (the "default" one on top, the others in
 * subfolders named after them), or a folder of adapter folders. Release
 * with cl_peft_paths_free. */
int cl_peft_find(const char *path, char ***out, int *n, cl_error *err);
void cl_peft_paths_free(char **paths, int n);

typedef struct cl_peft_import_spec {
    const char *const *task_names; /* NULL: from the directory names           */
    int n_task_names;              /* must equal the number of tasks            */
    const char *created_by;        /* NULL: "collide-import <version>"          */
    void (*progress)(void *ctx, int task, int n_tasks); /* NULL: none           */
    void *progress_ctx;
    cl_peft_note_fn note;          /* NULL: none; hears e.g. differing bases    */
    void *note_ctx;
    const cl_run_labels *labels;   /* NULL: method "imported", no name; its
                                      accuracy and baseline are not used       */
    const char *accuracy_file;     /* NULL: none; CSV or JSON by task name
                                      (cl_accuracy_file_read), read once the
                                      task names are known                    */
    cl_eval accuracy_eval;         /* the protocol of accuracy_file            */
    int common_modules;            /* 1: the modules every adapter has (each
                                      one dropped is a note); 0: every adapter
                                      must have the same modules               */
} cl_peft_import_spec;

/* Write a store holding every task of the n adapters in training order, one
 * end-of-task snapshot each, origin "imported" and method "imported" unless
 * labels say otherwise. Module sets (or, with common_modules, the shared
 * modules) and shapes must agree (the first mismatch is the error); ranks
 * and scales may differ. The store is written under a temporary name and
 * renamed over path only once complete, so a failure leaves path as it
 * was. */
int cl_peft_import(const char *path, cl_peft_adapter *const *a, int n,
                   const cl_peft_import_spec *spec, cl_error *err);

typedef struct cl_peft_export_spec {
    const char *snapshot;  /* "task-ends" (NULL), "last" or a snapshot id      */
    const char *task_type; /* written as task_type; NULL: null                  */
    int fan_in_fan_out;    /* CL_PEFT_FIFO_*                                    */
    /* Called with every file path the export would write, before any is
     * written; nonzero (with err set) stops the export. NULL: none. */
    int (*check_output)(void *ctx, const char *path, cl_error *err);
    void *check_ctx;
} cl_peft_export_spec;

/* fan_in_fan_out of exported configs. AUTO (0): true when every module is
 * named like a GPT-2 Conv1D (c_attn, c_proj, c_fc); PEFT corrects a wrong
 * value itself, with a warning. */
enum { CL_PEFT_FIFO_AUTO = 0, CL_PEFT_FIFO_FALSE = 1, CL_PEFT_FIFO_TRUE = 2 };

/* One adapter directory written by cl_peft_export. */
typedef struct cl_peft_exported {
    char *task;
    char *dir;             /* <out_dir>/<task name>                             */
    int64_t snapshot;
    int n_modules;
    int r;
    double alpha;
    int use_rslora;
    int fan_in_fan_out;
    int n_rank_pattern, n_alpha_pattern;
    int inexact;           /* modules whose scale no lora_alpha reproduces
                              exactly (PEFT's scale is then within 1 ulp)        */
} cl_peft_exported;

/* Write one PEFT adapter directory per task of the view (F32 factors; every
 * file written atomically), loadable with PeftModel.from_pretrained. */
int cl_peft_export(cl_store *s, const char *out_dir, const cl_peft_export_spec *spec,
                   cl_peft_exported **out, int *n_out, cl_error *err);
void cl_peft_exported_free(cl_peft_exported *e, int n);

#ifdef __cplusplus
}
#endif
#endif
