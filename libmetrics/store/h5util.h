/*
 * h5util.h -- small HDF5 helpers for the store: quiet error handling that
 * turns the HDF5 error stack into one line, typed attributes, and 1-D
 * UTF-8 string datasets. Private to the store (libmetrics/store/).
 */
#ifndef CL_H5UTIL_H
#define CL_H5UTIL_H

#include "cl_alloc.h"
#include "cl_store.h"

#include <hdf5.h>

/* HDF5 prints its error stack by default; collide reports errors itself.
 * Every entry point that calls HDF5 brackets the calls with these. */
typedef struct cl_h5_quiet {
    H5E_auto2_t func;
    void *data;
} cl_h5_quiet;

void cl_h5_quiet_begin(cl_h5_quiet *q);
void cl_h5_quiet_end(const cl_h5_quiet *q);

/* The innermost message of the HDF5 error stack ("" if empty); clears it. */
void cl_h5_reason(char *buf, size_t n);

hid_t cl_h5_utf8_type(void);
/* The whole of dataset d from buf; 0 or -1. */
int cl_h5_write_all(hid_t d, hid_t mtype, const void *buf);

int cl_h5_attr_write_str(hid_t obj, const char *name, const char *value);
int cl_h5_attr_write_i64(hid_t obj, const char *name, int64_t value);
int cl_h5_attr_write_u64(hid_t obj, const char *name, uint64_t value);
int cl_h5_attr_write_f64(hid_t obj, const char *name, double value);

/* Readers check presence, class and size; on failure they fill err with
 * "path: /@name: reason". */
int cl_h5_attr_read_str(hid_t obj, const char *path, const char *name,
                        char **value, cl_error *err);
int cl_h5_attr_read_i64(hid_t obj, const char *path, const char *name,
                        int64_t *value, cl_error *err);
int cl_h5_attr_read_u64(hid_t obj, const char *path, const char *name,
                        uint64_t *value, cl_error *err);
int cl_h5_attr_read_f64(hid_t obj, const char *path, const char *name,
                        double *value, cl_error *err);

/* 1-D variable-length UTF-8 string dataset. */
int cl_h5_write_strings(hid_t loc, const char *name, const char *const *s,
                        int n);
/* Reads exactly n strings, validating rank, length and type. */
int cl_h5_read_strings(hid_t loc, const char *path, const char *name, int n,
                       char ***out, cl_error *err);

/* Opens a dataset and checks its class (H5T_INTEGER/H5T_FLOAT/...), element
 * size (0: any) and rank. dims[] receives the extent. */
int cl_h5_open_checked(hid_t loc, const char *path, const char *name,
                       H5T_class_t cls, size_t size, int rank, hsize_t *dims,
                       hid_t *out, cl_error *err);

const char *cl_h5_class_name(H5T_class_t c, size_t size);

#endif
