# collide-plot: the figures (plot_*.c, one file per figure or family) over
# the metric tools' shared code, drawn by gnuplot with the scripts in plots/.
# The source's plots/ is baked in as the last place the tool looks.
collide_target(collide_plot LIBRARY
  SOURCES plot_args.c plot_figures.c plot_data.c plot_gnuplot.c plot_report.c
          plot_scatter.c plot_collmap.c plot_panels.c plot_matrix.c plot_sweep.c
          plot_snapshots.c plot_explain.c
  COLLIDE_LIBS collide_cli LIBS PkgConfig::JANSSON)
collide_target(collide-plot EXECUTABLE SOURCES collide-plot.c COLLIDE_LIBS collide_plot)
foreach(t collide_plot collide_plot_asan)
  if(TARGET ${t})
    target_compile_definitions(${t} PRIVATE COLLIDE_PLOTS_DIR="${CMAKE_SOURCE_DIR}/plots")
  endif()
endforeach()
