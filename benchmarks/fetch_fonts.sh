#!/usr/bin/env bash
# Fetch extra font families (and, optionally, a few wallpapers) for the image-level
# altered-name benchmark (benchmarks/image_text_set.py). Nothing is installed system-wide:
# the Debian packages are downloaded with `apt-get download` and unpacked with `dpkg -x`.
#
#     bash benchmarks/fetch_fonts.sh [BUILD_DIR]     # default: build
#
# Writes BUILD_DIR/fonts/**/*.ttf|otf and BUILD_DIR/wallpapers/*.png. Every package is
# optional: one that cannot be fetched is reported and skipped, and image_text_set.py works
# with whatever is there (the system DejaVu fonts and scikit-image photos at the least).
#
# Fonts (all free licences, see each package's copyright file under BUILD_DIR/fonts/.../doc):
#   fonts-liberation2 (SIL OFL), fonts-freefont-ttf (GPL+font exception),
#   fonts-urw-base35 (AGPL+font exception), fonts-open-sans (Apache-2.0), fonts-lato (SIL OFL),
#   fonts-droid-fallback (Apache-2.0; the only one here with fullwidth Latin such as "ＮＩＫＥ")
# Wallpapers: desktop-base (Debian artwork, GPL/CC-BY-SA); only the GRUB backgrounds without
#   any lettering are kept. They stay under build/ and are never committed.
set -u
BUILD_DIR="${1:-build}"
FONT_PACKAGES=(fonts-liberation2 fonts-freefont-ttf fonts-urw-base35 fonts-open-sans fonts-lato fonts-droid-fallback)
WALLPAPER_THEMES=(futureprototype joy joy-inksplat lines moonlight softwaves)

mkdir -p "$BUILD_DIR/fonts" "$BUILD_DIR/wallpapers"
BUILD_DIR="$(cd "$BUILD_DIR" && pwd)"
DEBS="$(mktemp -d)"
trap 'rm -rf "$DEBS"' EXIT

fetch() {  # fetch PACKAGE DEST: download and unpack one package; 0 on success
    local package="$1" dest="$2"
    if ! (cd "$DEBS" && apt-get download -q "$package" >/dev/null 2>&1); then
        echo "skip: apt-get download $package failed" >&2
        return 1
    fi
    local deb
    deb="$(ls "$DEBS"/"${package}"_*.deb 2>/dev/null | head -1)"
    if [ -z "$deb" ] || ! dpkg -x "$deb" "$dest"; then
        echo "skip: cannot unpack $package" >&2
        return 1
    fi
}

for package in "${FONT_PACKAGES[@]}"; do
    if fetch "$package" "$BUILD_DIR/fonts/$package"; then
        count="$(find "$BUILD_DIR/fonts/$package" -name '*.ttf' -o -name '*.otf' | wc -l)"
        echo "fonts: $package ($count files)"
    fi
done

if fetch desktop-base "$DEBS/desktop-base"; then
    for theme in "${WALLPAPER_THEMES[@]}"; do
        source="$DEBS/desktop-base/usr/share/desktop-base/$theme-theme/grub/grub-16x9.png"
        [ -f "$source" ] && cp "$source" "$BUILD_DIR/wallpapers/$theme.png"
    done
    echo "wallpapers: $(ls "$BUILD_DIR/wallpapers" | wc -l) in $BUILD_DIR/wallpapers"
fi
exit 0
