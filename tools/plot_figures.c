/* plot_figures.c -- the figures collide-plot draws, in the order of the
 * issue that asked for them, with the options each takes. */
#include "plot.h"

#include <string.h>

enum { TMS = PLOT_OPT_THRESHOLD | PLOT_OPT_MODULE | PLOT_OPT_SNAPSHOT };

const plot_figure plot_figures[] = {
    {"forgetting-sparsity", "forgetting or BWT against density or Hoyer, per store",
     TMS | PLOT_OPT_XY | PLOT_OPT_LABELS, plot_forgetting_sparsity},
    {"collision-map", "two tasks' active entries and collisions (Fig. 2)",
     TMS | PLOT_OPT_PAIR | PLOT_OPT_AXES, plot_collision_map},
    {"nuclear-norm", "nuclear norm per module, a panel per store (Fig. 3)",
     PLOT_OPT_MODULE | PLOT_OPT_SNAPSHOT | PLOT_OPT_TASK | PLOT_OPT_AXES, plot_nuclear_norm},
    {"collision-orthogonality", "ACR against orthogonality OO, per store (Fig. 1c)",
     TMS | PLOT_OPT_LABELS, plot_collision_orthogonality},
    {"accuracy-matrix", "heatmap of the accuracy matrix R, with AA and BWT", 0,
     plot_accuracy_matrix},
    {"threshold-sweep", "ACR and density against the threshold value",
     TMS | PLOT_OPT_SWEEP, plot_threshold_sweep},
    {"spectra", "singular values of each task's update",
     PLOT_OPT_MODULE | PLOT_OPT_SNAPSHOT | PLOT_OPT_AXES, plot_spectra},
    {"training", "losses and penalties against the optimiser step", 0,
     plot_training},
    {"history", "collision rate and density at every snapshot",
     PLOT_OPT_THRESHOLD | PLOT_OPT_MODULE, plot_history},
    {"explain", "forgetting of each task pair against each interference measure",
     PLOT_OPT_THRESHOLD | PLOT_OPT_MODULE, plot_explain},
};

const int plot_n_figures = (int)(sizeof plot_figures / sizeof plot_figures[0]);

const plot_figure *plot_figure_find(const char *name)
{
    for (int i = 0; i < plot_n_figures; i++)
        if (!strcmp(plot_figures[i].name, name))
            return &plot_figures[i];
    return NULL;
}
