# spectra.gp -- singular values of each task's update and of the accumulated
# update (dashed), mean over modules, one panel per store.
# Variables: title, npanels; per store p: ptitle<p>, pseries<p> (names, a
# word list, long ones cut), nseries<p>, pylo<p> and pyhi<p> (its y range:
# the same in every panel unless --independent-axes, so the stores compare).
# Data columns used: panel, series, index (1 = largest), sigma.
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
ncols = npanels < 2 ? 1 : 2
nrows = (npanels + ncols - 1) / ncols
set multiplot layout nrows, ncols title title font ',15'
# the key below the plot, in rows: names beside it would squeeze the plot
set key outside below center horizontal Left reverse font ',11' samplen 2 width 1 maxcols 3
set logscale y
set format y '%g'
set xlabel 'index i of the singular value (1 = largest)'
set ylabel 'singular value σ_i of ΔW (mean over modules)'
set mxtics 1

do for [p=1:npanels] {
    ns = v('nseries', p)
    names = v('pseries', p)
    set title v('ptitle', p) font ',13'
    # room below for the axis label and the key's rows (three entries a row
    # at least: names are cut to 22 characters)
    set bmargin 4 + 1.3*ceil(ns/3.0)
    # a one-column stats filters by the y range: unset it first
    set yrange [*:*]
    stats datafile using (column('panel') == p ? column('index') : NaN) nooutput
    set xrange [0.5 : STATS_max + 0.5]
    set yrange [v('pylo', p) : v('pyhi', p)]
    if (STATS_max <= 16) { set xtics 1 } else { set xtics autofreq }
    # tasks in colour (black skipped), the accumulated update (last) black dashed
    plot for [s=1:ns-1] datafile \
        using ((column('panel') == p && column('series') == s) ? column('index') : NaN):'sigma' \
        with linespoints lt (s < 7 ? s : s + 1) ps 1.1 title word(names, s), \
        datafile using ((column('panel') == p && column('series') == ns) ? column('index') : NaN):'sigma' \
        with linespoints lt 7 dt 2 ps 1.1 title word(names, ns)
}
unset multiplot
