# Sourced by the shell benches that compare a feature on and off: runs `one on` and `one off`
# (each prints its wall seconds) PAIRS times, alternating which goes first, prints each pair
# and the median ratio on/off. The sourcing script defines one() and PAIRS.
run_pairs() {
  ratios=""
  p=1
  while [ $p -le "$PAIRS" ]; do
    if [ $((p % 2)) -eq 1 ]; then on=$(one on); off=$(one off); else off=$(one off); on=$(one on); fi
    r=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.4f\n", a / b }')
    echo "pair $p: on ${on}s off ${off}s ratio $r"
    ratios="$ratios $r"
    p=$((p + 1))
  done
  echo "$ratios" | tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END {m = NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; print "median ratio on/off: " m " (" NR " pairs)"}'
}
