# collision-map.gp -- per store: the heat map of the collision rate of every
# task pair (tasks in training order or clustered, with a dendrogram strip and
# a key of task names), then the paper's Figure 2: on one module, an excerpt
# of the entries active in task i, in task j, and in both (red).
# Variables: npanels, width, height (pixels); per store p: the heat map's
# pmaptitle<p>, pmat0<p> (first row of its cells), pmerge0<p>, pmerges<p>
# (its dendrogram's rows), pdendro<p>, pdmax<p>, pn<p> (tasks), pnamed<p>
# (names, not indices, on the axes), pvalues<p> (values in the cells),
# pticks<p> (tick labels in display order), pkeycols<p>, pkey1_<p>... (the
# key's columns), pcbmax<p> (colour scale top, %), ppi<p>, ppj<p> (the
# excerpt's pair, in display order), pmaptop<p>, pmapy<p>, pmapside<p>
# (pixels from the top); the excerpt's pheader<p> (two lines), ptitlei<p>,
# ptitlej<p>, ptitlec<p>, prows<p>, pcols<p>, prow0<p>, pcol0<p>, pxstep<p>,
# pystep<p>, pex0<p> (its first row) and pexy<p> (its top, pixels).
# Data columns used: heat map: pos_i, pos_j, collision_rate; dendrogram:
# x_left, h_left, x_right, h_right, height; excerpt: row, col, active_i,
# active_j, collision.
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
sx(px) = px / (1.0 * width)
sy(px) = 1.0 - px / (1.0 * height)
set multiplot
unset key
unset grid
set border 15 lw 1
# white inactive; blue, green: active in task i, j; red: both; grey: one only
shade(a, full, none) = int(a) ? full : none
both(x) = int(column('collision'))
anyact(x) = int(column('active_i')) + int(column('active_j')) > 0
# the heat map: white to dark red (YlOrRd); the diagonal (each task's
# density) drawn grey over it
set palette defined (0 '#ffffff', 0.15 '#ffffb2', 0.35 '#fecc5c', 0.6 '#fd8d3c', 0.8 '#e31a1c', 1 '#67000d')
cr(x) = 100 * column('collision_rate')
diag(x) = column('pos_i') == column('pos_j')

do for [p=1:npanels] {
    # ---------------------------------------------------------- heat map
    N = v('pn', p); S = v('pmapside', p); Y = v('pmapy', p); L = 150
    m0 = v('pmat0', p); m1 = m0 + N*N - 1
    set label 1 v('pmaptitle', p) at screen 0.5, sy(v('pmaptop', p) + 14) center front font ',12'
    if (v('pdendro', p)) {
        # the dendrogram strip, over the heat map's columns
        set lmargin at screen sx(L); set rmargin at screen sx(L + S)
        set tmargin at screen sy(Y - 8 - 120); set bmargin at screen sy(Y - 8)
        set xrange [-0.5 : N - 0.5]
        set yrange [0 : v('pdmax', p)]
        unset xtics; unset x2tics
        set ytics 0.25 out nomirror font ',9'
        set ylabel '1 - Jaccard' font ',10' offset 1, 0
        unset xlabel; unset title
        set border 2 lw 1
        g0 = v('pmerge0', p); g1 = g0 + v('pmerges', p) - 1
        plot datafile every ::g0::g1 using 'x_left':'h_left':(0):(column('height') - column('h_left')) with vectors nohead lc rgb '#303030' lw 1.2, \
             '' every ::g0::g1 using 'x_right':'h_right':(0):(column('height') - column('h_right')) with vectors nohead lc rgb '#303030' lw 1.2, \
             '' every ::g0::g1 using 'x_left':'height':(column('x_right') - column('x_left')):(0) with vectors nohead lc rgb '#303030' lw 1.2
        unset label 1
        set border 15 lw 1
    }
    set lmargin at screen sx(L); set rmargin at screen sx(L + S)
    set tmargin at screen sy(Y); set bmargin at screen sy(Y + S)
    set xrange [-0.5 : N - 0.5]
    set yrange [N - 0.5 : -0.5]
    ticks = v('pticks', p)
    fs = S / N >= 60 ? 11 : S / N >= 40 ? 10 : S / N >= 18 ? 9 : 7
    if (v('pnamed', p)) {
        set xtics () rotate by -35 left out nomirror font ',10'
        set ytics () out nomirror font ',10'
        set xlabel 'task j' font ',11'
        set ylabel 'task i' font ',11' offset 0, 0
    } else {
        tf = sprintf(',%d', fs)
        set xtics () out nomirror font tf
        set ytics () out nomirror font tf
        set xlabel 'task j (index; names in the key)' font ',11'
        set ylabel 'task i (index)' font ',11' offset 0, 0
    }
    do for [i=1:N] {
        set xtics add (word(ticks, i) i - 1)
        set ytics add (word(ticks, i) i - 1)
    }
    set cbrange [0 : v('pcbmax', p)]
    set cbtics out font ',10'
    set cblabel 'collision rate (%)' font ',11'
    set colorbox user origin screen sx(L + S + 20), sy(Y + S) size screen sx(22), S / (1.0 * height)
    set object 1 rect from v('ppj', p) - 0.5, v('ppi', p) - 0.5 to v('ppj', p) + 0.5, v('ppi', p) + 0.5 front fs empty border lc rgb '#0072B2' lw 2.5
    set object 2 rect from v('ppi', p) - 0.5, v('ppj', p) - 0.5 to v('ppi', p) + 0.5, v('ppj', p) + 0.5 front fs empty border lc rgb '#0072B2' lw 2.5
    # the key: every task in display order (index, name, density)
    do for [c=1:v('pkeycols', p)] {
        set label 10 + c v(sprintf('pkey%d_', c), p) at screen sx(L + S + 170 + (c - 1) * 330), sy(Y + 28) left front font ',11'
    }
    set label 9 'task  name  (density)' at screen sx(L + S + 170), sy(Y + 6) left front font ',11'
    unset title
    if (v('pvalues', p)) {
        plot datafile every ::m0::m1 using 'pos_j':'pos_i':(0.5):(0.5):(cr(0)) with boxxyerror fs solid 1 noborder fc palette, \
             '' every ::m0::m1 using 'pos_j':'pos_i':(diag(0) ? 0.5 : 0):(diag(0) ? 0.5 : 0) with boxxyerror fs solid 1 noborder fc rgb '#bdbdbd', \
             '' every ::m0::m1 using 'pos_j':'pos_i':(sprintf(cr(0) >= 10 ? '%.1f' : '%.2f', cr(0))):(diag(0) || cr(0) < 0.6 * v('pcbmax', p) ? 0x000000 : 0xffffff) with labels tc rgb variable font sprintf(',%d', fs)
    } else {
        plot datafile every ::m0::m1 using 'pos_j':'pos_i':(0.5):(0.5):(cr(0)) with boxxyerror fs solid 1 noborder fc palette, \
             '' every ::m0::m1 using 'pos_j':'pos_i':(diag(0) ? 0.5 : 0):(diag(0) ? 0.5 : 0) with boxxyerror fs solid 1 noborder fc rgb '#bdbdbd'
    }
    unset object 1; unset object 2
    unset label 1; unset label 9
    do for [c=1:v('pkeycols', p)] { unset label 10 + c }
    unset colorbox
    set lmargin -1; set rmargin -1; set tmargin -1; set bmargin -1
    set xtics font ''; set ytics font ''
    set xtics norotate

    # ---------------------------------------------------------- excerpt
    R = v('prows', p); C = v('pcols', p); r0 = v('prow0', p); c0 = v('pcol0', p)
    first = v('pex0', p)
    last = first + R*C - 1
    rowh = 560.0 / height
    ybase = sy(v('pexy', p) + 560)
    set xlabel 'column of ΔW (input dimension index)' font ''
    set ylabel 'row of ΔW (output dimension index)' font '' offset 0, 0
    set xrange [c0 - 0.5 : c0 + C - 0.5]
    set yrange [r0 + R - 0.5 : r0 - 0.5]
    set xtics v('pxstep', p) out nomirror
    set ytics v('pystep', p) out nomirror
    set label 1 v('pheader', p) at screen 0.5, ybase + rowh - 0.025 * 560 / height center front font ',14'
    do for [c=1:3] {
        set title font ',12'
        set size ratio -1 0.333 * 1560 / width, rowh*0.92
        set origin (c-1)*0.333 * 1560 / width, ybase
        if (c == 1) {
            set title v('ptitlei', p)
            plot datafile every ::first::last using 'col':'row':(shade(column('active_i'), 0, 255)):(shade(column('active_i'), 114, 255)):(shade(column('active_i'), 178, 255)) with rgbimage
        }
        if (c == 2) {
            set title v('ptitlej', p)
            plot datafile every ::first::last using 'col':'row':(shade(column('active_j'), 0, 255)):(shade(column('active_j'), 158, 255)):(shade(column('active_j'), 115, 255)) with rgbimage
        }
        if (c == 3) {
            set title v('ptitlec', p)
            # red where both are active, grey where only one is
            plot datafile every ::first::last using 'col':'row':(both(0) ? 213 : anyact(0) ? 205 : 255):(both(0) ? 20 : anyact(0) ? 205 : 255):(both(0) ? 20 : anyact(0) ? 205 : 255) with rgbimage
        }
        unset label 1
    }
    set size noratio 1, 1
    set origin 0, 0
}
unset multiplot
