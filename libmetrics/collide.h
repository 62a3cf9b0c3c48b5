/*
 * collide.h -- the public API of collide's libraries, in one header.
 *
 * It includes each library's own header, bottom up:
 *   cl_core.h     core/                errors, shared types, RNG, atomic files
 *   cl_kernels.h  kernels/             compute back ends, the dense pass
 *   cl_store.h    libmetrics/store/    the adapter store and its views
 *   cl_peft.h     libmetrics/peft/     safetensors, PEFT import and export
 *   cl_metrics.h  libmetrics/metrics/  the metrics, summaries, synthetic stores
 * The tools and the model include this; a library includes only its own
 * header and those below it (docs/ARCHITECTURE.md, tests/layering.py).
 *
 * The store format is docs/FORMAT.md; the metrics are docs/METRICS.md,
 * computed on any low-rank update dW = s * B * A, with B d_out x k and
 * A k x d_in, both row-major. Conventions: see cl_core.h.
 */
#ifndef COLLIDE_H
#define COLLIDE_H

#include "cl_core.h"
#include "cl_kernels.h"
#include "cl_store.h"
#include "cl_peft.h"
#include "cl_metrics.h"

#endif
