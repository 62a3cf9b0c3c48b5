# nuclear-norm.gp -- the paper's Figure 3: the nuclear norm of every module's
# update as bars, their mean as a dashed line, one panel per store.
# Variables: title, npanels; per store p: ptitle<p>, pmodules<p> (its rows),
# pcolour<p> (the colour of the store's method, the palette every figure
# shares), pymax<p> (the top of its y axis: the same in every panel unless
# --independent-axes, so the stores compare).
# Data columns used: module_index, module, nuclear (rows of store p follow
# those of store p-1).
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
set multiplot layout npanels, 1 title title font ',15'
set key outside right top vertical Left reverse
set ylabel 'nuclear norm ‖ΔW‖_* = Σ_i σ_i'
set grid noxtics ytics
set boxwidth 0.8 relative
set rmargin 24

first = 0
do for [p=1:npanels] {
    n = v('pmodules', p)
    last = first + n - 1
    # a one-column stats filters by the y range: the previous panel's is unset
    set yrange [*:*]
    stats datafile every ::first::last using 'nuclear' nooutput
    set title v('ptitle', p) font ',13'
    set xrange [-0.7 : n - 0.3]
    set yrange [0 : v('pymax', p)]
    if (n <= 24) {
        set xtics rotate by -35 left font ',10'
        set xlabel 'module'
        plot datafile every ::first::last using 'module_index':'nuclear':xticlabels(strcol('module')) \
                 with boxes fs solid 1 noborder lc rgb v('pcolour', p) title 'per module', \
             STATS_mean with lines dt 2 lw 2.5 lc rgb '#000000' title sprintf('mean %.4g', STATS_mean)
    } else {
        set xtics norotate autofreq font ',12'
        set xlabel sprintf('module (position among the %d modules, in store order)', n)
        plot datafile every ::first::last using 'module_index':'nuclear' \
                 with boxes fs solid 1 noborder lc rgb v('pcolour', p) title 'per module', \
             STATS_mean with lines dt 2 lw 2.5 lc rgb '#000000' title sprintf('mean %.4g', STATS_mean)
    }
    first = last + 1
}
unset multiplot
