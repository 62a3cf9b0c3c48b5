# forgetting-sparsity.gp -- forgetting (or BWT) against sparsity, one point per
# store, one series per method, lambda as point labels.
# Variables: title, xlabel, ylabel, series (word list), nseries, colours and
# markers (each series' colour and marker: the methods' palette), and
# labels_left, labels_right, labels_center (label places in use, common.gp),
# npoints (stores with both coordinates defined; collide-plot draws nothing
# without one); with a second threshold,
# x2label and labels_left2, labels_right2, labels_center2: a second panel
# drawn from column x2 with the labels at label_pos2.
# Data columns used: series, x (fraction), y (fraction; drawn in %), label
# (x2, label_pos2 for the second panel).
load plotdir.'/common.gp'

two = exists('x2label')
if (two) { set multiplot layout 1, 2 title title font ',15' } else { set title title font ',15' }
set xlabel xlabel
set ylabel ylabel
set key outside right top vertical title 'method' left Left reverse
set xzeroaxis lt -1 lw 1
set format y '%.1f'



# Both axes start near the data's minimum (0 when it is 0), with room for
# the labels on the right and at the top. One panel per x column.
# (one column at a time: two columns would also fit a line, and warn)
# every stats before any range is set: stats of one column filters by yrange
stats datafile using (100*column('y')) nooutput prefix 'SY'
stats datafile using (column('x')) nooutput prefix 'SXA'
if (two) { stats datafile using (column('x2')) nooutput prefix 'SXB' }
ylo = SY_min >= 0 ? -0.04*SY_max : SY_min - 0.06*(SY_max - SY_min)
yhi = SY_max + 0.10*(SY_max - (ylo < 0 ? ylo : SY_min)) + 1e-9
ypad = SY_max > SY_min ? 0 : (SY_max != 0 ? 0.2*abs(SY_max) : 1)
yl = ylo - ypad; yh = yhi + ypad
if (SY_min >= 0 && yl < -0.04*yh) { yl = -0.04*yh }
set yrange [yl : yh]
lab_x2(pos, x) = (strcol('label_pos2') + 0 == pos ? x : NaN)

do for [panel=1:(two ? 2 : 1)] {
    xc = panel == 1 ? 'x' : 'x2'
    if (panel == 2) { set xlabel x2label; unset key }
    SX_min = panel == 1 ? SXA_min : SXB_min
    SX_max = panel == 1 ? SXA_max : SXB_max
    xlo = SX_min >= 0 ? -0.04*SX_max : SX_min - 0.06*(SX_max - SX_min)
    xhi = SX_max + 0.16*(SX_max - (xlo < 0 ? xlo : SX_min)) + 1e-9
    # a single point (or all alike) still gets a range around it
    xpad = SX_max > SX_min ? 0 : (SX_max != 0 ? 0.2*abs(SX_max) : 1)
    xl = xlo - xpad; xh = xhi + xpad
    # quantities that cannot be negative get no negative axis beyond a margin
    if (SX_min >= 0 && xl < -0.04*xh) { xl = -0.04*xh }
    set xrange [xl : xh]
    ll = panel == 1 ? labels_left : labels_left2
    lr = panel == 1 ? labels_right : labels_right2
    lc = panel == 1 ? labels_center : labels_center2
    if (panel == 1) {
        plot for [i=1:nseries] datafile \
                 using (strcol('series') eq word(series, i) ? column('x') : NaN):(100*column('y')) \
                 with points lc rgb word(colours, i) pt int(word(markers, i)) ps 2 title word(series, i), \
             for [w=1:words(ll)] datafile using (lab_x(lpos(ll, w), column('x'))):(100*column('y')):'label' \
                 with labels left offset char LDX[lpos(ll, w)], char LDY[lpos(ll, w)] font ',12' notitle, \
             for [w=1:words(lr)] datafile using (lab_x(lpos(lr, w), column('x'))):(100*column('y')):'label' \
                 with labels right offset char LDX[lpos(lr, w)], char LDY[lpos(lr, w)] font ',12' notitle, \
             for [w=1:words(lc)] datafile using (lab_x(lpos(lc, w), column('x'))):(100*column('y')):'label' \
                 with labels center offset char LDX[lpos(lc, w)], char LDY[lpos(lc, w)] font ',12' notitle
    } else {
        plot for [i=1:nseries] datafile \
                 using (strcol('series') eq word(series, i) ? column('x2') : NaN):(100*column('y')) \
                 with points lc rgb word(colours, i) pt int(word(markers, i)) ps 2 notitle, \
             for [w=1:words(ll)] datafile using (lab_x2(lpos(ll, w), column('x2'))):(100*column('y')):'label' \
                 with labels left offset char LDX[lpos(ll, w)], char LDY[lpos(ll, w)] font ',12' notitle, \
             for [w=1:words(lr)] datafile using (lab_x2(lpos(lr, w), column('x2'))):(100*column('y')):'label' \
                 with labels right offset char LDX[lpos(lr, w)], char LDY[lpos(lr, w)] font ',12' notitle, \
             for [w=1:words(lc)] datafile using (lab_x2(lpos(lc, w), column('x2'))):(100*column('y')):'label' \
                 with labels center offset char LDX[lpos(lc, w)], char LDY[lpos(lc, w)] font ',12' notitle
    }
}
if (two) { unset multiplot }
