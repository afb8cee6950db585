# The soak run's samples (wisp-soak's data file) as a PNG: heap on the left axis,
# live connections and open fds on the right, against seconds since the start.
#   gnuplot -e "datafile='soak.dat'; outfile='bench/soak.png'" tests/soak/plot.gp
# Columns: seconds, transactions ended, wisp heap_in_use, conns_live, open fds,
# process malloc heap (mbedTLS included).
if (!exists("datafile")) datafile = 'soak.dat'
if (!exists("outfile")) outfile = 'soak.png'
if (!exists("title")) title = 'wisp soak run'
set terminal pngcairo size 1200,600 noenhanced font ",10"
set output outfile
set title title
set xlabel 'seconds'
set ylabel 'heap (KiB)'
set y2label 'live connections, open fds'
set ytics nomirror
set y2tics
set yrange [0:*]
set y2range [0:*]
set key top left box opaque
set grid xtics ytics
set autoscale xfix
plot datafile using 1:($6/1024) with lines lw 1 lc rgb '#999999' title 'process malloc heap (mbedTLS included)', \
     datafile using 1:($3/1024) with lines lw 2 lc rgb '#1f77b4' title 'wisp heap_in_use', \
     datafile using 1:4 axes x1y2 with lines lw 1 lc rgb '#d62728' title 'live connections (client + server side)', \
     datafile using 1:5 axes x1y2 with lines lw 1 lc rgb '#2ca02c' title 'open fds'
