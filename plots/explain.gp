# explain.gp -- forgetting against each interference measure: one panel per
# measure (two a row), one point per ordered task pair of every store, in the
# colour and marker of the store's method; a zero line on y.
# Variables: title, ylabel, npanels, ymin, ymax (forgetting in points, shared
# by the panels); the key: series (word list), colours, markers, nseries;
# per panel p: ptitle<p> (the measure and its pooled Spearman r), pxlabel<p>,
# pcolumn<p> (the CSV column drawn as x), pxscale<p> (100: drawn in %),
# pxmin<p>, pxmax<p> (the x range, drawn units), pseries<p>, pcolours<p>,
# pmarkers<p>, pnseries<p> (the methods with a point in the panel: no plot
# clause is empty), pnpoints<p>.
# Data columns used: series, forgetting (fraction; drawn in points), and the
# measure columns; rows whose part is 'panel' have neither and draw nothing.
load plotdir.'/common.gp'

v(name, p) = value(sprintf('%s%d', name, p))
ncols = 2
nrows = (npanels + ncols - 1) / ncols
# room at the top for the two-line title and the key of methods
set multiplot layout nrows, ncols title title font ',15' margins 0.07, 0.98, 0.04, 0.905 spacing 0.08, 0.07
unset key
set xzeroaxis lt -1 lw 1.2
set yrange [ymin : ymax]
set ylabel ylabel font ',11'
set format y '%g'
set format x '%g'
set xtics font ',11'
set ytics font ',11'

do for [p=1:npanels] {
    set title v('ptitle', p) font ',13'
    set xlabel v('pxlabel', p) font ',11'
    set xrange [v('pxmin', p) : v('pxmax', p)]
    col = v('pcolumn', p)
    sc = v('pxscale', p)
    sl = v('pseries', p)
    cl = v('pcolours', p)
    ml = v('pmarkers', p)
    if (p == 1) {
        # the key of methods, once, above the panels
        set key at screen 0.5, 0.947 center top horizontal maxrows 1 samplen 1 width 2 font ',13'
    } else {
        unset key
    }
    if (v('pnpoints', p) > 0) {
        plot for [i=1:v('pnseries', p)] datafile \
                 using (strcol('series') eq word(sl, i) ? sc*column(col) : NaN):(100*column('forgetting')) \
                 with points lc rgb word(cl, i) pt int(word(ml, i)) ps 1.5 notitle, \
             for [i=1:nseries] keyentry with points lc rgb word(colours, i) pt int(word(markers, i)) ps 2 title word(series, i)
    } else {
        set label 1 'no task pair has both values' at graph 0.5, 0.5 center font ',13'
        set xrange [0 : 1]
        plot for [i=1:nseries] keyentry with points lc rgb word(colours, i) pt int(word(markers, i)) ps 2 title word(series, i), \
             ymax + 1 notitle
        unset label 1
    }
}
unset multiplot
