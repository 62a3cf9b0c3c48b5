# accuracy-matrix.gp -- the accuracy matrix R as a heatmap, one panel per store and protocol,
# values printed in the cells (up to 12 tasks), AA and BWT in the title.
# Variables: title, npanels, ncols; per store p: ptitle<p>, ptasks<p>,
# pnames<p> (task names, a word list, long ones cut).
# Data columns used: after_task (row i), task (column j), accuracy (fraction;
# empty when not evaluated). Store p's T*T rows follow store p-1's.
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
nrows = (npanels + ncols - 1) / ncols
set multiplot layout nrows, ncols title title font ',15'
unset key
unset grid
set border 15 lw 1
set palette defined (0 '#f7fbff', 0.25 '#c6dbef', 0.5 '#6baed6', 0.75 '#2171b5', 1 '#08306b')
set cbrange [0:100]
set cblabel 'accuracy (%)'
set cbtics 20
set colorbox vertical default
set xlabel 'task evaluated (j)'
set ylabel 'after training task (i)'
set size ratio -1
# accuracy in %; an empty field (not evaluated) reads as NaN: its cell is
# drawn grey, over the palette's (a NaN colour leaves it white). Every cell
# is a point of both clauses (the grey box of an evaluated cell has no
# size), so neither clause is ever empty: gnuplot would warn.
acc(x) = 100*column('accuracy')
known(x) = acc(0) == acc(0)
dark(x) = known(0) && acc(0) >= 60
grey = '#bdbdbd'

first = 0
do for [p=1:npanels] {
    T = v('ptasks', p)
    names = v('pnames', p)
    last = first + T*T - 1
    set title v('ptitle', p) font ',13'
    set xrange [-0.5 : T - 0.5]
    set yrange [T - 0.5 : -0.5]
    set xtics () rotate by -30 left
    set ytics ()
    do for [i=1:T] {
        set xtics add (word(names, i) i - 1)
        set ytics add (word(names, i) i - 1)
    }
    fs = T <= 6 ? 13 : T <= 9 ? 11 : 9
    if (T <= 12) {
        # one labels clause (white on dark cells): gnuplot 5.4 crashes on a
        # labels clause without a valid point in a one-row file
        plot datafile every ::first::last using 'task':'after_task':(0.5):(0.5):(acc(0)) with boxxyerror fs solid 1 noborder fc palette, \
             '' every ::first::last using 'task':'after_task':(known(0) ? 0 : 0.5):(known(0) ? 0 : 0.5) with boxxyerror fs solid 1 noborder fc rgb grey, \
             '' every ::first::last using 'task':'after_task':(known(0) ? sprintf('%.1f', acc(0)) : '-'):(dark(0) ? 0xffffff : 0x000000) \
                 with labels tc rgb variable font sprintf(',%d', fs)
    } else {
        plot datafile every ::first::last using 'task':'after_task':(0.5):(0.5):(acc(0)) with boxxyerror fs solid 1 noborder fc palette, \
             '' every ::first::last using 'task':'after_task':(known(0) ? 0 : 0.5):(known(0) ? 0 : 0.5) with boxxyerror fs solid 1 noborder fc rgb grey
    }
    first = last + 1
}
unset multiplot
