#!/bin/sh
# utrace developer bootstrap, as root on Debian 12:
#   tools/bootstrap.sh        install what is missing, build, trace the example program
#   tools/bootstrap.sh test   install what is missing, then the whole suite: a -Werror
#                             build, and an ASan+UBSan build
set -eu
cd "$(dirname "$0")/.."

PACKAGES="gcc g++ libc6-dev binutils lld meson ninja-build pkg-config python3 libelf-dev libdw-dev
libunwind-dev libcapstone-dev libcmocka-dev"
# the suite also reads libc's debug information from its own file, by build-id
TEST_PACKAGES="libc6-dbg"

install_missing() { # packages...
	missing=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
			missing="$missing $p"
	done
	[ -z "$missing" ] && return 0
	echo "installing:$missing"
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

build() { # dir [meson options...]
	dir=$1
	shift
	[ -f "$dir/build.ninja" ] || meson setup "$dir" "$@" >/dev/null
	ninja -C "$dir" >/dev/null
}

case "${1:-demo}" in
test) install_missing $PACKAGES $TEST_PACKAGES ;;
*) install_missing $PACKAGES ;;
esac
case "${1:-demo}" in
demo)
	build build
	echo "+ build/utrace run build/tests/progs/s-demo -f 'work_*'"
	exec build/utrace run build/tests/progs/s-demo -f 'work_*'
	;;
test)
	build build -Dwerror=true
	# what the tests that need it will find (they skip, saying why, without it)
	UTRACE=build/utrace UTRACE_PROGS=build/tests/progs python3 -c \
		'import sys; sys.path.insert(0, "tests/integration"); import harness
harness.print_capabilities(sys.stdout)'
	meson test -C build --print-errorlogs
	build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		meson test -C build-asan --print-errorlogs
	;;
*)
	echo "usage: $0 [demo|test]" >&2
	exit 2
	;;
esac
