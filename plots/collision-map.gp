# collision-map.gp -- the paper's Figure 2: on one module, an excerpt of the
# entries active in task i, in task j, and in both (red), one row of three
# panels per store.
# Variables: npanels; per store p: pheader<p> (two lines), ptitlei<p>,
# ptitlej<p>, ptitlec<p>, prows<p>, pcols<p>, prow0<p>, pcol0<p>, pxstep<p>
# and pystep<p> (tick steps that keep long numbers apart).
# Data columns used: row, col, active_i, active_j, collision (rows of store p
# follow those of store p-1, prows<p> x pcols<p> of them).
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
set multiplot
top = 1.0
rowh = top / npanels
unset key
unset grid
set border 15 lw 1
set xlabel 'column of ΔW (input dimension index)'
set ylabel 'row of ΔW (output dimension index)'
# white inactive; blue, green: active in task i, j; red: both; grey: one only
shade(a, full, none) = int(a) ? full : none
both(x) = int(column('collision'))
anyact(x) = int(column('active_i')) + int(column('active_j')) > 0

first = 0
do for [p=1:npanels] {
    R = v('prows', p); C = v('pcols', p); r0 = v('prow0', p); c0 = v('pcol0', p)
    last = first + R*C - 1
    set xrange [c0 - 0.5 : c0 + C - 0.5]
    set yrange [r0 + R - 0.5 : r0 - 0.5]
    set xtics v('pxstep', p) out nomirror
    set ytics v('pystep', p) out nomirror
    ybase = top - p*rowh
    set label 1 v('pheader', p) at screen 0.5, ybase + rowh - 0.025/npanels center front font ',14'
    do for [c=1:3] {
        set title font ',12'
        set size ratio -1 0.333, rowh*0.92
        set origin (c-1)*0.333, ybase
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
    first = last + 1
}
unset multiplot
