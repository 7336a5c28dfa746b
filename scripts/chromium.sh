#!/usr/bin/env bash
# Debian's Chromium for the end-to-end browser tests (Playwright drives it; it never downloads one).
#
#   scripts/chromium.sh   install it when missing (idempotent); the last line on stdout is its path
#
# Installs, with apt and without recommended packages, what is missing of:
#   chromium            the browser, /usr/bin/chromium
#   fonts-wqy-microhei  a CJK font (1.6 MB download), so Chinese text renders instead of boxes;
#                       skipped when a Chinese font is already there (e.g. fonts-noto-cjk).
# Latin text uses DejaVu, which chromium's own dependencies (fontconfig-config) bring.
#
# Run as root, it calls apt-get directly; as another user, through sudo (non-interactively).
# `apt-get update` runs only when the package lists are empty or an install fails with them.
#
# Environment: CALLINTEL_CHROMIUM (default /usr/bin/chromium): a browser to use instead; it must
# be executable, and nothing is installed for it.
set -euo pipefail

CHROMIUM=${CALLINTEL_CHROMIUM:-/usr/bin/chromium}
CJK_FONT_PACKAGE=fonts-wqy-microhei

say() { echo "chromium.sh: $*" >&2; }
die() { say "error: $*"; exit 1; }

if [[ $(id -u) -eq 0 ]]; then
    as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
    as_root() { sudo -n "$@"; }
else
    as_root() { die "not root and no sudo: install the Debian packages '$*' by hand"; }
fi

is_installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

has_cjk_font() {
    is_installed "$CJK_FONT_PACKAGE" && return 0
    is_installed fonts-noto-cjk && return 0
    is_installed fonts-wqy-zenhei && return 0
    command -v fc-list >/dev/null 2>&1 && [[ -n $(fc-list :lang=zh family 2>/dev/null) ]]
}

lists_empty() { ! compgen -G '/var/lib/apt/lists/*_Packages*' >/dev/null; }

apt_install() {
    local install=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@")
    if lists_empty; then
        say "apt-get update (no package lists)"
        as_root apt-get update -qq >&2
    fi
    if ! as_root "${install[@]}" >&2; then
        # Stale lists (a package moved on the mirror, or the candidate is unknown): refresh, retry once.
        say "apt-get install failed; apt-get update and retrying"
        as_root apt-get update -qq >&2
        as_root "${install[@]}" >&2
    fi
}

missing=()
if [[ -n ${CALLINTEL_CHROMIUM:-} ]]; then
    [[ -x $CHROMIUM ]] || die "CALLINTEL_CHROMIUM=$CHROMIUM is not an executable file"
elif [[ ! -x $CHROMIUM ]]; then
    missing+=(chromium)
fi
has_cjk_font || missing+=("$CJK_FONT_PACKAGE")

if ((${#missing[@]})); then
    say "installing the Debian packages: ${missing[*]}"
    started=$SECONDS
    apt_install "${missing[@]}"
    say "installed in $((SECONDS - started))s"
fi

[[ -x $CHROMIUM ]] || die "no executable $CHROMIUM after installing"
# --version needs no display and no sandbox; it checks that the binary and its libraries load.
version=$("$CHROMIUM" --version 2>/dev/null) || die "$CHROMIUM --version failed"
say "$version"
echo "$CHROMIUM"
