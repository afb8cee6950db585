# bench/scaling.gp — the plot of bench/scaling.sh: wall time and CPU against the
# number of streams, log-log, four series. Run by scaling.sh as
#   gnuplot -e "datafile='D'; outfile='O.png'; subtitle='...'" bench/scaling.gp
# The data file: N, then wall ms of queued, piped, perconn, curl, then CPU ms of the
# same four ("?" for a missing figure).
if (!exists("datafile")) datafile = 'scaling.dat'
if (!exists("outfile")) outfile = 'scaling.png'
if (!exists("subtitle")) subtitle = ''

set terminal pngcairo size 1400,620 enhanced font 'DejaVu Sans,11'
set output outfile
set datafile missing '?'
set logscale xy
set xrange [7:14000]
set xtics ('10' 10, '100' 100, '1,000' 1000, '10,000' 10000)
set format y '10^{%L}'
set grid xtics ytics mytics lc rgb '#dddddd'
set key top left box opaque
set xlabel 'streams (GETs of /hello to one endpoint)'
set style line 1 lc rgb '#1f77b4' lw 2 pt 7 ps 1.2
set style line 2 lc rgb '#2ca02c' lw 2 pt 5 ps 1.2
set style line 3 lc rgb '#d62728' lw 2 pt 9 ps 1.3
set style line 4 lc rgb '#555555' lw 2 pt 13 ps 1.3 dt 2

set multiplot layout 1,2 title "wisp against curl, N streams to one endpoint\n{/*0.8 ".subtitle."}"
set title 'wall time'
set ylabel 'ms (whole process)'
plot datafile using 1:2 with linespoints ls 1 title 'wisp queued (one connection)', \
     ''       using 1:3 with linespoints ls 2 title 'wisp pipelined (depth 8)', \
     ''       using 1:4 with linespoints ls 3 title 'wisp one connection per stream', \
     ''       using 1:5 with linespoints ls 4 title 'curl (one invocation, N URLs)'
set title 'CPU time (user + system)'
set ylabel 'ms (whole process)'
plot datafile using 1:6 with linespoints ls 1 title 'wisp queued (one connection)', \
     ''       using 1:7 with linespoints ls 2 title 'wisp pipelined (depth 8)', \
     ''       using 1:8 with linespoints ls 3 title 'wisp one connection per stream', \
     ''       using 1:9 with linespoints ls 4 title 'curl (one invocation, N URLs)'
unset multiplot
