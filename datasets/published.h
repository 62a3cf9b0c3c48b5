/*
 * published.h -- the numbers the N-LoRA paper (and O-LoRA's, which it
 * compares with) published, kept as data with their source so that
 * collide-reproduce can print them beside ours. See ../shared/docs/paper.md
 * for how each was established.
 */
#ifndef CL_PUBLISHED_H
#define CL_PUBLISHED_H

typedef struct cl_published_acc {
    const char *method;   /* as printed in the paper's table          */
    const char *ours;     /* collide's method name, or NULL            */
    const char *model;
    double order[6];      /* AA (%) after the last task, orders 1..6; NAN: not reported */
    const char *source;
} cl_published_acc;

typedef struct cl_published_geom {
    const char *method;
    double collision_rate;  /* average collision rate C_avg, fraction */
    double orthogonality;   /* "Orthogonality" (OO) average            */
    double nuclear_mean;    /* mean nuclear norm over 144 modules      */
    const char *source;
} cl_published_geom;

int cl_published_acc_count(void);
const cl_published_acc *cl_published_acc_at(int i);
int cl_published_geom_count(void);
const cl_published_geom *cl_published_geom_at(int i);

#endif
