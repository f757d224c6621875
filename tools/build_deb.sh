#!/bin/sh
# build_deb.sh -- builds the Debian package libpam-authelia with
# dpkg-buildpackage -us -uc -b.  The tree (without build/ and .git) is copied
# to build/deb/libpam-authelia-VERSION first, so the package's files land in
# build/deb/ and nothing is written beside the source tree.  Prints the path
# of the .deb on its last line.
set -eu
cd "$(dirname "$0")/.."
version=$(dpkg-parsechangelog -l debian/changelog -S Version)
out=build/deb
src=$out/libpam-authelia-$version
rm -rf "$out"
mkdir -p "$src"
tar -C . --exclude=./build --exclude=./.git --exclude=__pycache__ --exclude='*.pyc' \
	--exclude=./fuzz/corpus-run -cf - . | tar -C "$src" -xf -
(cd "$src" && dpkg-buildpackage -us -uc -b) >"$out/build.log" 2>&1 || {
	tail -40 "$out/build.log" >&2
	echo "dpkg-buildpackage failed; the whole log is $out/build.log" >&2
	exit 1
}
deb=$(ls "$out"/libpam-authelia_"$version"_*.deb)
echo "$deb"
