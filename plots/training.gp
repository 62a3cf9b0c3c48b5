# training.gp -- loss and task loss (left axis) and each penalty present
# (right axis, unweighted by lambda) against the optimiser step, one panel
# per store; dashed verticals: the end of each task.
# Variables: title, npanels; per store p: ptitle<p>, plosses<p> and ppens<p>
# (the columns to draw, word lists: a series NaN throughout is left out),
# pbounds<p> (steps where tasks end), pbnames<p> (their names), pbrows<p>
# (the row of labels above the plot each name sits on, so that no two
# overlap), pnrows<p> (rows used), pxlo<p> and pxhi<p> (the steps drawn).
# Data columns used: panel, step and the loss columns named.
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
set multiplot layout npanels, 1 title title font ',15'
set key outside right top vertical Left reverse
set xlabel 'optimiser step (global, over all tasks)'
set ylabel 'loss (nats per token; total = task + λ·penalties)'
pretty(c) = c eq 'loss' ? 'loss (total)' : c eq 'loss_task' ? 'task loss' : \
            c eq 'penalty_orth' ? 'penalty_orth →' : c eq 'penalty_l2' ? 'penalty_l2 →' : \
            c eq 'penalty_sparse' ? 'penalty_sparse →' : c

do for [p=1:npanels] {
    L = v('plosses', p)
    P = v('ppens', p)
    B = v('pbounds', p)
    N = v('pbnames', p)
    R = v('pbrows', p)
    nr = v('pnrows', p)
    set xrange [v('pxlo', p) : v('pxhi', p)]
    # task ends: dashed lines, named above the plot on the rows collide-plot
    # chose (tools/plot_snapshots.c), the title lifted above them
    unset arrow
    unset label
    set tmargin 2.6 + 1.1*nr
    set title v('ptitle', p) font ',13' offset 0, 1.1*nr
    do for [i=1:words(B)] {
        set arrow i from first real(word(B, i)), graph 0 to first real(word(B, i)), graph 1 nohead dt 2 lc rgb '#777777' back
        set label 100+i word(N, i) at first real(word(B, i)), graph 1 offset 0, char (0.7 + 1.1*int(word(R, i))) center font ',10' tc rgb '#555555'
    }
    if (words(P) > 0) {
        set y2label 'penalty (→ in the legend; unweighted by λ)'
        set y2tics
        set ytics nomirror
    } else {
        unset y2label
        unset y2tics
    }
    # (an empty 'for' clause on y2 would still ask for a y2 range: separate cases)
    if (words(L) + words(P) == 0) {
        set label 99 'no losses recorded in this store' at graph 0.5, graph 0.5 center
        plot [][0:1] -1 notitle
        unset label 99
    } else {
        if (words(P) == 0) {
            plot for [i=1:words(L)] datafile using (column('panel') == p ? column('step') : NaN):(column(word(L, i))) \
                     with linespoints lt (i == 1 ? 7 : 9) ps 0.9 title pretty(word(L, i))
        } else {
            plot for [i=1:words(L)] datafile using (column('panel') == p ? column('step') : NaN):(column(word(L, i))) \
                     with linespoints lt (i == 1 ? 7 : 9) ps 0.9 axes x1y1 title pretty(word(L, i)), \
                 for [i=1:words(P)] datafile using (column('panel') == p ? column('step') : NaN):(column(word(P, i))) \
                     with linespoints lt (i == 1 ? 2 : i == 2 ? 3 : 5) ps 0.9 axes x1y2 title pretty(word(P, i))
        }
    }
}
unset multiplot
