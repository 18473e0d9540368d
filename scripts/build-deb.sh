#!/usr/bin/env bash
# Builds dist/export-cleanup_<version>_<arch>.deb with dpkg-deb from a release build linked with
# --static-swift-stdlib (the host needs no Swift runtime; Depends: lists the shared libraries the binary
# still loads, computed by dpkg-shlibdeps).
#
#   scripts/build-deb.sh                 # build, package, print the path of the .deb
#   SKIP_BUILD=1 scripts/build-deb.sh    # package the release binary already built
#   LINTIAN=1 scripts/build-deb.sh       # and run lintian on it (fails on errors)
#
# Version: the VERSION file (one line, e.g. 0.1.0), else `git describe --tags`, else 0.1.0; the Debian
# revision is DEB_REVISION (default 1). Needs: swift, dpkg-dev (dpkg-shlibdeps), binutils (strip), gzip;
# lintian for LINTIAN=1. Runs as any user; the package's files are owned by root (--root-owner-group).
#
# Contents: /usr/bin/export-cleanup; the units of systemd/ in /usr/lib/systemd/system (ExecStart= and
# Documentation= rewritten from /usr/local to /usr); config/export-cleanup.conf as the conffile
# /etc/export-cleanup/export-cleanup.conf; /usr/lib/sysusers.d/export-cleanup.conf; README.md,
# docs/INSTALL.md, copyright and changelog.Debian.gz in /usr/share/doc/export-cleanup; and, when the
# repository has them, systemd/export-cleanup.catalog, man pages (man/, docs/man/: *.1 ... *.8) and shell
# completions (completions/: bash, zsh, fish; generated from the binary when absent).
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGE=export-cleanup
fail() { echo "build-deb: $*" >&2; exit 1; }

for tool in dpkg-deb dpkg-shlibdeps dpkg-architecture strip gzip; do
    command -v "$tool" >/dev/null || fail "$tool not found (apt-get install dpkg-dev binutils gzip)"
done

# ---- version (one place: VERSION)
if [ -s VERSION ]; then
    upstream=$(head -n 1 VERSION | tr -d '[:space:]')
elif upstream=$(git describe --tags --abbrev=0 2>/dev/null); then
    upstream=${upstream#v}
else
    upstream=0.1.0
fi
[[ $upstream =~ ^[0-9][A-Za-z0-9.+~]*$ ]] || fail "bad upstream version '$upstream' (VERSION)"
version="$upstream-${DEB_REVISION:-1}"
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
maintainer=${DEB_MAINTAINER:-"export-cleanup maintainers <maintainers@users.noreply.r-seed-79fe091e.example>"}

# ---- the binary
if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== build-deb: swift build -c release --static-swift-stdlib --product export-cleanup"
    swift build -c release --static-swift-stdlib --product export-cleanup
fi
binary="$(swift build -c release --show-bin-path)/export-cleanup"
[ -x "$binary" ] || fail "$binary is missing (run without SKIP_BUILD=1)"
# Refuse a binary that still needs the Swift runtime (a build without --static-swift-stdlib).
if objdump -p "$binary" | grep -E 'NEEDED +lib(swiftCore|Foundation|dispatch)' >/dev/null; then
    fail "$binary loads the Swift runtime: it was not linked with --static-swift-stdlib"
fi

# ---- staging tree
work=$(mktemp -d "${TMPDIR:-/tmp}/export-cleanup-deb.XXXXXX")
trap 'rm -rf "$work"' EXIT
root=$work/root
doc=$root/usr/share/doc/$PACKAGE
install -d -m 0755 "$root/DEBIAN" "$root/usr/bin" "$root/usr/lib/systemd/system" "$root/usr/lib/sysusers.d" \
    "$root/etc/$PACKAGE" "$doc"

# Stripped as dh_strip does (the Swift metadata sections stay; only symbols and .comment/.note go).
install -m 0755 "$binary" "$root/usr/bin/$PACKAGE"
strip --remove-section=.comment --remove-section=.note --strip-unneeded "$root/usr/bin/$PACKAGE"

# Units: the repository's units run /usr/local/bin/export-cleanup (the from-source install); the package's
# run /usr/bin/export-cleanup and point at the documentation in /usr/share/doc.
for unit in systemd/*.service systemd/*.timer; do
    [ -e "$unit" ] || continue
    target="$root/usr/lib/systemd/system/$(basename "$unit")"
    sed -e 's#/usr/local/bin/export-cleanup#/usr/bin/export-cleanup#g' \
        -e 's#file:/usr/local/share/doc/export-cleanup/#file:/usr/share/doc/export-cleanup/#g' "$unit" > "$target"
    chmod 0644 "$target"
    if grep -n '/usr/local' "$target"; then fail "$unit still names /usr/local after the rewrite (above)"; fi
done
ls "$root/usr/lib/systemd/system/$PACKAGE.service" >/dev/null || fail "systemd/$PACKAGE.service is missing"

if [ -f "systemd/$PACKAGE.catalog" ]; then
    install -D -m 0644 "systemd/$PACKAGE.catalog" "$root/usr/lib/systemd/catalog/$PACKAGE.catalog"
fi

install -m 0644 packaging/deb/sysusers.conf "$root/usr/lib/sysusers.d/$PACKAGE.conf"
install -m 0644 "config/$PACKAGE.conf" "$root/etc/$PACKAGE/$PACKAGE.conf"

# Man pages, when the repository has them (man/ or docs/man/, named <name>.<section>).
shopt -s nullglob
for page in man/*.[1-8] docs/man/*.[1-8] dist/man/man[1-8]/*.[1-8]; do
    section=${page##*.}
    install -d -m 0755 "$root/usr/share/man/man$section"
    gzip -9n < "$page" > "$root/usr/share/man/man$section/$(basename "$page").gz"
    chmod 0644 "$root/usr/share/man/man$section/$(basename "$page").gz"
done
shopt -u nullglob

# Shell completions: completions/ in the repository when present, else generated by the binary
# (swift-argument-parser's --generate-completion-script).
completion() { # <shell> <destination> <candidate>...
    local shell=$1 dest=$root$2 src= candidate
    shift 2
    for candidate in "$@"; do
        if [ -f "$candidate" ]; then src=$candidate; break; fi
    done
    install -d -m 0755 "$(dirname "$dest")"
    if [ -n "$src" ]; then
        install -m 0644 "$src" "$dest"
    else
        # (without the #! line: completion files are sourced, not run)
        "$binary" --generate-completion-script "$shell" | sed '1{/^#!/d}' > "$dest"
        chmod 0644 "$dest"
    fi
}
completion bash "/usr/share/bash-completion/completions/$PACKAGE" \
    "completions/$PACKAGE.bash" "completions/bash/$PACKAGE" "completions/$PACKAGE" "dist/completions/bash/$PACKAGE"
completion zsh "/usr/share/zsh/vendor-completions/_$PACKAGE" "completions/_$PACKAGE" "completions/zsh/_$PACKAGE" "dist/completions/zsh/_$PACKAGE"
completion fish "/usr/share/fish/vendor_completions.d/$PACKAGE.fish" \
    "completions/$PACKAGE.fish" "completions/fish/$PACKAGE.fish" "dist/completions/fish/$PACKAGE.fish"

# Documentation. The units' Documentation= names INSTALL.md here: it stays uncompressed.
install -m 0644 README.md "$doc/README.md"
install -m 0644 docs/INSTALL.md "$doc/INSTALL.md"
install -m 0644 packaging/deb/copyright "$doc/copyright"
commit=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
date=$(date -R -u -d "@${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}")
{
    echo "$PACKAGE ($version) unstable; urgency=medium"
    echo
    echo "  * Built by scripts/build-deb.sh from commit $commit."
    echo
    echo " -- $maintainer  $date"
} | gzip -9n > "$doc/changelog.Debian.gz"
chmod 0644 "$doc/changelog.Debian.gz"

# ---- control files
install -m 0755 packaging/deb/postinst packaging/deb/prerm packaging/deb/postrm "$root/DEBIAN/"
echo "/etc/$PACKAGE/$PACKAGE.conf" > "$root/DEBIAN/conffiles"
if [ -f packaging/deb/lintian-overrides ]; then
    install -D -m 0644 packaging/deb/lintian-overrides "$root/usr/share/lintian/overrides/$PACKAGE"
fi

# Depends: the shared libraries the binary links (dpkg-shlibdeps maps them to packages and versions), libpq5
# (loaded with dlopen when the database is PostgreSQL, which dpkg-shlibdeps cannot see), plus what the units and
# maintainer scripts run: systemd (systemd-sysusers, the units), procps (ExecReload=/bin/kill). dpkg-shlibdeps wants a debian/control in its working directory.
mkdir -p "$work/shlibs/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$PACKAGE" "$PACKAGE" > "$work/shlibs/debian/control"
shlibs=$(cd "$work/shlibs" && dpkg-shlibdeps -O "$root/usr/bin/$PACKAGE" 2>"$work/shlibdeps.err") ||
    { cat "$work/shlibdeps.err" >&2; fail "dpkg-shlibdeps failed"; }
shlibs=${shlibs#shlibs:Depends=}
[ -n "$shlibs" ] || fail "dpkg-shlibdeps found no dependencies"
depends="$shlibs, libpq5, systemd, procps"

installed_size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s|@VERSION@|$version|" -e "s|@ARCH@|$arch|" -e "s|@MAINTAINER@|$maintainer|" \
    -e "s|@INSTALLED_SIZE@|$installed_size|" -e "s|@DEPENDS@|$depends|" packaging/deb/control.in > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z | xargs -0 md5sum) \
    > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/control" "$root/DEBIAN/conffiles" "$root/DEBIAN/md5sums"

# ---- build
mkdir -p dist
deb="dist/${PACKAGE}_${version}_${arch}.deb"
rm -f "dist/${PACKAGE}_"*"_${arch}.deb"
dpkg-deb --root-owner-group -Zxz --build "$root" "$deb" >/dev/null
echo "== build-deb: $deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb" | sed -n 's/^ \(Version\|Depends\|Installed-Size\):/  \1:/p'
dpkg-deb --contents "$deb" | awk '{print "  " $1 " " $2 " " $6}'

if [ "${LINTIAN:-0}" = 1 ]; then
    command -v lintian >/dev/null || fail "lintian not found (apt-get install lintian)"
    echo "== build-deb: lintian $deb"
    # Errors fail; warnings and below are shown (the accepted ones are listed in docs/INSTALL.md).
    lintian --fail-on error --display-info "$deb"
fi
