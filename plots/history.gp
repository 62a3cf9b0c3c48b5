# history.gp -- along the run: the collision rate of every task pair (left)
# and the density of every task (right) at every stored snapshot, one row of
# panels per store; dashed verticals: the end of each task.
# Variables: title, threshold, npanels; per store p: ptitle<p>, npairs<p>,
# ppairs<p> (pair names), ntasks<p>, ptasks<p> (task names), pbounds<p>
# (snapshots where tasks end), pbnames<p>, psnaps<p> (snapshots stored).
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
    # task ends: dashed lines, named on the top axis, outside the data
    unset arrow
    unset label
    set x2tics () out nomirror font ',10' tc rgb '#555555'
    set link x2
    do for [i=1:words(B)] {
        set arrow i from real(word(B, i)), graph 0 to real(word(B, i)), graph 1 nohead dt 2 lc rgb '#777777' back
        set x2tics add (sprintf('%s ends', word(N, i)) real(word(B, i)))
    }
    set xrange [-0.3 : v('psnaps', p) - 0.7]
    # snapshots are whole numbers: a tick on each, or automatic ones when many
    if (v('psnaps', p) <= 16) { set xtics 1 } else { set xtics autofreq }
    np = v('npairs', p)
    pairs = v('ppairs', p)
    set title sprintf('%s: collision rate per task pair', v('ptitle', p)) font ',13'
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
    set title sprintf('%s: density per task', v('ptitle', p)) font ',13'
    set ylabel sprintf('density of ΔW (%% of entries, %s)', threshold)
    plot for [s=1:nt] datafile using (pick(p, 'density', s)):(100*column('value')) \
        with linespoints lt s ps 1 title word(tasks, s)
}
unset multiplot
