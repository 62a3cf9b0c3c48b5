# collision-orthogonality.gp -- average collision rate against O-LoRA's
# orthogonality OO, one point per store, one series per method (the paper's
# Figure 1c). Variables: title, xlabel, ylabel, series (word list), nseries,
# colours and markers (each series' colour and marker: the methods' palette),
# and labels_left, labels_right, labels_center (label places in use, common.gp),
# npoints (stores with both coordinates defined; collide-plot draws nothing
# without one).
# Data columns used: series, oo_pair_mean, acr_mean (fraction; drawn in %), label.
load plotdir.'/common.gp'

set title title font ',15'
set xlabel xlabel
set ylabel ylabel
set key outside right top vertical title 'method' left Left reverse
set format y '%.1f'


# Both axes start near the data's minimum (0 when it is 0), with room for
# the labels on the right and at the top.
# (one column at a time: two columns would also fit a line, and warn)
stats datafile using (column('oo_pair_mean')) nooutput prefix 'SX'
stats datafile using (100*column('acr_mean')) nooutput prefix 'SY'
xlo = SX_min >= 0 ? -0.04*SX_max : SX_min - 0.06*(SX_max - SX_min)
ylo = SY_min >= 0 ? -0.04*SY_max : SY_min - 0.06*(SY_max - SY_min)
xhi = SX_max + 0.16*(SX_max - (xlo < 0 ? xlo : SX_min)) + 1e-9
yhi = SY_max + 0.10*(SY_max - (ylo < 0 ? ylo : SY_min)) + 1e-9
# a single point (or all alike) still gets a range around it
xpad = SX_max > SX_min ? 0 : (SX_max != 0 ? 0.2*abs(SX_max) : 1)
ypad = SY_max > SY_min ? 0 : (SY_max != 0 ? 0.2*abs(SY_max) : 1)
xl = xlo - xpad; xh = xhi + xpad; yl = ylo - ypad; yh = yhi + ypad
# quantities that cannot be negative get no negative axis beyond a margin
if (SX_min >= 0 && xl < -0.04*xh) { xl = -0.04*xh }
if (SY_min >= 0 && yl < -0.04*yh) { yl = -0.04*yh }
set xrange [xl : xh]
set yrange [yl : yh]

plot for [i=1:nseries] datafile \
         using (strcol('series') eq word(series, i) ? column('oo_pair_mean') : NaN):(100*column('acr_mean')) \
         with points lc rgb word(colours, i) pt int(word(markers, i)) ps 2 title word(series, i), \
     for [w=1:words(labels_left)] datafile using (lab_x(lpos(labels_left, w), column('oo_pair_mean'))):(100*column('acr_mean')):'label' \
         with labels left offset char LDX[lpos(labels_left, w)], char LDY[lpos(labels_left, w)] font ',12' notitle, \
     for [w=1:words(labels_right)] datafile using (lab_x(lpos(labels_right, w), column('oo_pair_mean'))):(100*column('acr_mean')):'label' \
         with labels right offset char LDX[lpos(labels_right, w)], char LDY[lpos(labels_right, w)] font ',12' notitle, \
     for [w=1:words(labels_center)] datafile using (lab_x(lpos(labels_center, w), column('oo_pair_mean'))):(100*column('acr_mean')):'label' \
         with labels center offset char LDX[lpos(labels_center, w)], char LDY[lpos(labels_center, w)] font ',12' notitle
