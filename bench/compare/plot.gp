# Delivered msgs/s over time, one line per case, from the sink's per-interval counts
# (bench/compare/run.sh writes one .dat per case: seconds since the first injection, msgs/s).
# Called with -e "files='a.dat b.dat'; size='1024'; out='x.svg'" (add "png=1" for a PNG).
if (exists("png")) { set terminal pngcairo size 1000,560 font 'sans,10' } else {
  set terminal svg size 1000,560 dynamic background rgb 'white' font 'sans,12' }
set output out
set title sprintf('Delivered msgs/s at the sink, %s-byte messages (ringpost sink, 200 ms intervals)', size)
set xlabel 'seconds since the first injection'
set ylabel 'msgs/s'
set logscale y
set grid
set xrange [0:*]
set key outside right top
set datafile separator '\t'
label(f) = system(sprintf("basename '%s' .dat | sed 's/-%s$//'", f, size))
plot for [i = 1:words(files)] word(files, i) using 1:($2 > 0 ? $2 : NaN) with linespoints pt 7 ps 0.3 title label(word(files, i))
