# history.gp -- along the run: the collision rate of every task pair (left)
# and the density of every task (right) at every stored snapshot, one row of
# panels per store; dashed verticals: the end of each task.
# Variables: title, threshold, npanels; per store p: ptitle<p>, npairs<p>,
# ppairs<p> (pair names), ntasks<p>, ptasks<p> (task names), pbounds<p>
# (snapshots where tasks end), pbnames<p>, pbrows<p> (the row of labels
# above the plot each name sits on, so that no two overlap; also the CSV's
# task_end rows), pnrows<p> (rows used), psnaps<p> (snapshots stored).
# Data columns used: panel, quantity, series, snapshot, value (a fraction;
# drawn in %). The rows of one line follow each other in snapshot order.
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
set multiplot layout npanels, 2 title title font ',15'
set key outside right top vertical Left reverse font ',11'
set xlabel 'snapshot (index in the store, in training order)'
set yrange [0:*]
set format y '%.1f'
pick(p, q, s) = (column('panel') == p && strcol('quantity') eq q && column('series') == s) ? column('snapshot') : NaN

do for [p=1:npanels] {
    B = v('pbounds', p)
    N = v('pbnames', p)
    R = v('pbrows', p)
    nr = v('pnrows', p)
    # task ends: dashed lines, named above the plot on the rows collide-plot
    # chose (tools/plot_snapshots.c), the titles lifted above them
    unset arrow
    unset label
    set tmargin 3.6 + 1.1*nr
    do for [i=1:words(B)] {
        set arrow i from first real(word(B, i)), graph 0 to first real(word(B, i)), graph 1 nohead dt 2 lc rgb '#777777' back
        set label 100+i word(N, i) at first real(word(B, i)), graph 1 offset 0, char (0.7 + 1.1*int(word(R, i))) center font ',10' tc rgb '#555555'
    }
    set xrange [-0.3 : v('psnaps', p) - 0.7]
    # snapshots are whole numbers: a tick on each, or automatic ones when many
    if (v('psnaps', p) <= 16) { set xtics 1 } else { set xtics autofreq }
    np = v('npairs', p)
    pairs = v('ppairs', p)
    # more lines than line types (16): unnamed, the key would fill the page
    if (np > 16) { unset key } else { set key }
    set title sprintf("%s\ncollision rate per task pair%s", v('ptitle', p), \
                      np > 16 ? sprintf(' (%d, unnamed: see the CSV)', np) : '') font ',13' offset 0, 1.1*nr
    set ylabel sprintf('collision rate CR (%% of entries, %s)', threshold)
    if (np > 0) {
        plot for [s=1:np] datafile using (pick(p, 'collision_rate', s)):(100*column('value')) \
            with linespoints lt s ps 1 title word(pairs, s)
    } else {
        set label 99 'a single task: no pair to collide' at graph 0.5, graph 0.5 center
        plot [][0:1] -1 notitle
        unset label 99
    }
    nt = v('ntasks', p)
    tasks = v('ptasks', p)
    if (nt > 16) { unset key } else { set key }
    set title sprintf("%s\ndensity per task%s", v('ptitle', p), \
                      nt > 16 ? sprintf(' (%d, unnamed: see the CSV)', nt) : '') font ',13' offset 0, 1.1*nr
    set ylabel sprintf('density of ΔW (%% of entries, %s)', threshold)
    plot for [s=1:nt] datafile using (pick(p, 'density', s)):(100*column('value')) \
        with linespoints lt s ps 1 title word(tasks, s)
}
unset multiplot
