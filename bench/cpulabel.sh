# bench/cpulabel.sh, sourced by the benchmark scripts: sets model, the CPU
# as a table labels it, and tag, the CPU class as raw file names carry it
# (amd-zen4-avx512, intel-avx512, ...).
#
# A virtual CPU's model name may be only "AMD EPYC", so model carries
# CPUID's family and model too, and for AMD the core generation they name:
# family 23 is Zen 2, 25 is Zen 3 or, with AVX-512, Zen 4, 26 is Zen 5.
model=$(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -1)
case "$model" in
*EPYC* | *AMD*) tag=amd ;;
*Xeon* | *Intel*) tag=intel ;;
*) tag=cpu ;;
esac
family=$(sed -n 's/^cpu family[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
cpumodel=$(sed -n 's/^model[[:space:]]*:[[:space:]]*//p' /proc/cpuinfo | head -1)
core=
if [ "$tag" = amd ]; then
	case "$family" in
	23) core=zen2 ;;
	25) grep -qw avx512f /proc/cpuinfo && core=zen4 || core=zen3 ;;
	26) core=zen5 ;;
	esac
fi
model="$model (family $family, model $cpumodel${core:+, ${core/zen/Zen }})"
tag=$tag${core:+-$core}
grep -qw avx512f /proc/cpuinfo && tag=$tag-avx512 || tag=$tag-avx2
