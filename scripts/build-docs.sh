#!/usr/bin/env bash
# Writes the manual pages and shell completion scripts, generated from the code, for packaging:
#
#   dist/man/man8/export-cleanup.8                   the command and its subcommands (ArgumentParser's
#                                                    generate-manual plugin, section 8)
#   dist/man/man5/export-cleanup.conf.5              every setting (export-cleanup generate-conf-manual,
#                                                    from the settings table of ExportCleanupConfig)
#   dist/completions/bash/export-cleanup             -> /usr/share/bash-completion/completions/
#   dist/completions/zsh/_export-cleanup             -> /usr/share/zsh/vendor-completions/
#   dist/completions/fish/export-cleanup.fish        -> /usr/share/fish/vendor_completions.d/
#
# Usage: scripts/build-docs.sh [OUTPUT_DIR]   (default: dist; CONFIGURATION=release to build in release mode)
# Needs the toolchain only: the plugin and its tool come with swift-argument-parser (no network).
# The pages are dated by the last commit (or SOURCE_DATE_EPOCH), so a rebuild gives the same bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

out=${1:-dist}
configuration=${CONFIGURATION:-debug}
if [ -n "${SOURCE_DATE_EPOCH:-}" ]; then
    date=$(date -u -d "@$SOURCE_DATE_EPOCH" +%F)
else
    date=$(git log -1 --format=%cd --date=format:%F 2>/dev/null || date -u +%F)
fi

echo "== build ($configuration)"
swift build -c "$configuration" --product export-cleanup
bin=$(swift build -c "$configuration" --show-bin-path)/export-cleanup

echo "== export-cleanup(8): swift package plugin generate-manual"
# The plugin builds the package's products, then runs generate-manual on each executable into its work directory.
plugin_log=$(mktemp)
trap 'rm -f "$plugin_log"' EXIT
swift package plugin generate-manual --configuration "$configuration" --section 8 --date "$date" \
    --authors "export-cleanup maintainers" | tee "$plugin_log"
generated=$(sed -n "s/^Generated manual in '\(.*\)'$/\1/p" "$plugin_log" | grep '/export-cleanup/\?$' | head -n 1)
generated=${generated#file://}
page="${generated%/}/export-cleanup.8"
[ -f "$page" ] || { echo "build-docs: the plugin did not write $page" >&2; exit 1; }

rm -rf "$out/man" "$out/completions"
mkdir -p "$out/man/man8" "$out/man/man5" "$out/completions/bash" "$out/completions/zsh" "$out/completions/fish"
# Two touches to the plugin's mdoc: the hidden generate-conf-manual subcommand (which the plugin lists anyway) is
# left out, and the blank lines between paragraphs of the help become .Pp (groff warns on empty input lines).
awk '
    /^\.It Em generate-conf-manual$/ { skipping = 1; next }
    skipping { if ($0 == ".El") skipping = 0; next }
    /^$/ { print ".Pp"; next }
    { print }
' "$page" > "$out/man/man8/export-cleanup.8"
if grep -q 'generate-conf-manual' "$out/man/man8/export-cleanup.8"; then
    echo "build-docs: the hidden subcommand is still in export-cleanup.8" >&2; exit 1
fi

echo "== export-cleanup.conf(5)"
"$bin" generate-conf-manual --date "$date" > "$out/man/man5/export-cleanup.conf.5"

echo "== completions"
"$bin" --generate-completion-script bash > "$out/completions/bash/export-cleanup"
"$bin" --generate-completion-script zsh > "$out/completions/zsh/_export-cleanup"
"$bin" --generate-completion-script fish > "$out/completions/fish/export-cleanup.fish"

find "$out/man" "$out/completions" -type f | sort
