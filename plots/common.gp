# common.gp -- what every collide figure shares: the terminal, fonts,
# colours and axes. Each plots/<figure>.gp loads it first.
#
# collide-plot sets (gnuplot -e): datafile, outfile, fmt (png, svg or pdf),
# width and height (pixels), plotdir, and the figure's own variables.

set datafile separator comma
set datafile columnheaders
# Task and store names may hold _ ^ { }: never read them as markup.
if (fmt eq 'svg') {
    set terminal svg size width,height font 'DejaVu Sans,13' noenhanced background rgb 'white'
} else {
    if (fmt eq 'pdf') {
        set terminal pdfcairo size width/100.0,height/100.0 font 'DejaVu Sans,9' noenhanced
    } else {
        if (strstrt(GPVAL_TERMINALS, 'pngcairo') > 0) {
            set terminal pngcairo size width,height font 'DejaVu Sans,13' noenhanced background rgb 'white'
        } else {
            set terminal png size width,height noenhanced
        }
    }
}
set output outfile

# Okabe-Ito colours (distinguishable with colour blindness) for series that
# are not methods (tasks, pairs, losses); lines 9-16 repeat them dashed, so
# up to 16 series stay apart. A method's colour and marker are not taken
# from here: collide-plot passes them (the variables colours and markers, or
# a colour column), from the one palette every figure shares
# (plot_method_colour in tools/plot_data.c), so a method looks the same in
# every figure.
array okabe[8] = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#999999']
array points[8] = [7, 5, 9, 11, 13, 15, 6, 4]
do for [i=1:8] {
    set linetype i lc rgb okabe[i] lw 2 pt points[i] ps 1.4 dt 1
    set linetype i+8 lc rgb okabe[i] lw 2 pt points[i] ps 1.4 dt 2
}
set linetype cycle 16

set border 3 lw 1.2
set tics out nomirror
set grid lc rgb '#c8c8c8' lw 1 dt 3
set key noopaque nobox
set style fill solid 0.85 noborder

# w-th word of a list, or '' past its end
wordor(list, w) = (w <= words(list) ? word(list, w) : '')

# Point labels of the scatter figures: collide-plot picks each label's place
# (label_pos 1..16: right-above, right-below, left-above, left-below, above,
# below, right, left, then the same a row or two further out for points that
# crowd together; tools/plot_scatter.c) so that labels cover neither each
# other nor the points. labels_left, labels_right, labels_center list the
# places in use by alignment; LDX, LDY are each place's offset in characters.
array LDX[16] = [0.9, 0.9, -0.9, -0.9, 0, 0, 1.3, -1.3, 0.9, 0.9, -0.9, -0.9, 0, 0, 0.9, -0.9]
array LDY[16] = [0.6, -0.6, 0.6, -0.6, 1.3, -1.3, 0, 0, 1.8, -1.8, 1.8, -1.8, 2.6, -2.6, 3.0, -3.0]
lab_x(pos, x) = (strcol('label_pos') + 0 == pos ? x : NaN)
# the w-th place of a list; 1 past its end (an empty 'for' still evaluates
# its options once)
lpos(list, w) = w <= words(list) ? int(word(list, w)) : 1
