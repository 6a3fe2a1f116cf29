# Sourced (with $root set to the checkout) by the scripts that install, build or run: the
# prefix setup.sh installs into, and how to build binaries that find it on their own.
#
# The prefix is $WASM_SANDBOX_PREFIX, else the one setup.sh recorded in .deps/prefix, else
# /usr/local; so the variable is needed once, for setup, and never again.
prefix=${WASM_SANDBOX_PREFIX:-$(cat "$root/.deps/prefix" 2>/dev/null || echo /usr/local)}
[ ! -d "$prefix" ] || prefix=$(cd "$prefix" && pwd)
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
# SwiftPM refuses -Wl,-rpath in pkg-config files ("prohibited flag(s)"), and unsafe flags in
# Package.swift would keep the package from being a dependency, so the rpath is given here:
# $ORIGIN/../lib first, for binaries installed into $prefix/bin by scripts/install.sh, then
# the prefix itself, for binaries run from .build.
link_flags=(-Xlinker -rpath -Xlinker '$ORIGIN/../lib' -Xlinker -rpath -Xlinker "$prefix/lib")
