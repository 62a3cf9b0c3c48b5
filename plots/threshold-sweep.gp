# threshold-sweep.gp -- ACR (left) and mean density (right) against the
# threshold value, one line per store; dashed: the threshold the other
# figures state. Variables: title, keyx (where the legend starts, screen
# fraction), xlabel, ticks (the values swept), xmode (energy: x is 1 - F on a
# log scale, reversed, ticks labelled F; log: x on a log scale), stated,
# has_acr (some store has two tasks), npanels; per store p: pname<p>,
# pcolour<p> (its method's colour, the palette every figure shares), pdash<p>
# and ppoint<p> (apart for stores of one method).
# Data columns used: panel (the store), value, acr_mean, density_mean
# (fractions; drawn in %). A store's rows run in increasing value.
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
set multiplot layout 1, 2 title title font ',14' margins 0.055, keyx - 0.02, 0.17, 0.87 spacing 0.07, 0.1
set logscale x
if (xmode eq 'energy') {
    # 1 - F, reversed so F grows to the right; a tick at every value swept
    xv(x) = 1 - x
    set arrow 1 from 1 - stated, graph 0 to 1 - stated, graph 1 nohead dt 2 lw 1.5 lc rgb '#555555' back
} else {
    xv(x) = x
    set arrow 1 from stated, graph 0 to stated, graph 1 nohead dt 2 lw 1.5 lc rgb '#555555' back
}
set xlabel xlabel font ',11'
# a tick at every value swept (the word list ticks), labelled with the value
set xtics () rotate by -40 left font ',11'
do for [i=1:words(ticks)] { set xtics add (word(ticks, i) xv(real(word(ticks, i)))) }
# x: the values swept, with a little room either side (reversed for energy)
stats datafile using (xv(column('value'))) nooutput
if (xmode eq 'energy') { set xrange [STATS_max*1.25 : STATS_min/1.25] } else { set xrange [STATS_min/1.25 : STATS_max*1.25] }
set yrange [0:*]
set format y '%.0f'
# one legend for both panels, right of the second
unset key
set ylabel 'average collision rate ACR (% of entries)'
set title 'collisions: ACR, mean over task pairs and modules' font ',13'
if (has_acr) {
    plot for [p=1:npanels] datafile using (column('panel') == p ? xv(column('value')) : NaN):(100*column('acr_mean')) \
        with linespoints lc rgb v('pcolour', p) dt v('pdash', p) pt v('ppoint', p) lw 2 title v('pname', p)
} else {
    set label 99 'no task pairs: ACR is undefined' at graph 0.5, graph 0.5 center
    plot [][0:1] -1 notitle
    unset label 99
}

set ylabel 'density of ΔW (% of entries active)'
set key at screen keyx, graph 1 left top vertical Left reverse title 'store [method]'
set title 'density: mean over tasks and modules' font ',13'
plot for [p=1:npanels] datafile using (column('panel') == p ? xv(column('value')) : NaN):(100*column('density_mean')) \
    with linespoints lc rgb v('pcolour', p) dt v('pdash', p) pt v('ppoint', p) lw 2 title v('pname', p)
unset multiplot
