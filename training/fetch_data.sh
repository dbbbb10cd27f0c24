#!/usr/bin/env bash
# Fetch the raw material for training from the package registries (npm, Debian apt) into
# BUILD_DIR/training (default build/training). Nothing is installed system-wide and nothing
# here is committed.
#
#     bash training/fetch_data.sh [BUILD_DIR]
#
#   simple-icons/   npm simple-icons@16.37.0: 3,400+ brand icons (SVG) with brand colours, CC0-1.0
#   fontawesome/    npm @fortawesome/fontawesome-free@7.3.1: its solid and regular icons as extra
#                   training classes (`training.finetune --icons`), icons CC-BY-4.0 (its LICENSE.txt)
#   photos/         photographs and wallpapers used as listing backgrounds:
#                     Debian mate-backgrounds (GPL-2+ / CC-BY-SA per its copyright file),
#                     ukui-wallpapers (GPL-3+/CC-BY-SA), lomiri-wallpapers (CC-BY-SA),
#                     desktop-base GRUB backgrounds (GPL/CC-BY-SA)
#                   scikit-image's bundled samples (public domain / CC0) are read from the
#                   installed package at build time, so they are not copied.
# Each source is optional: one that cannot be fetched is reported and skipped.
set -u
BUILD_DIR="${1:-build}"
OUT="$BUILD_DIR/training"
mkdir -p "$OUT/photos"
OUT="$(cd "$OUT" && pwd)"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

if [ ! -f "$OUT/simple-icons/data/simple-icons.json" ]; then
    if (cd "$WORK" && npm pack --silent simple-icons@16.37.0 >/dev/null 2>&1); then
        mkdir -p "$OUT/simple-icons"
        tar xzf "$WORK"/simple-icons-16.37.0.tgz -C "$OUT/simple-icons" --strip-components=1
        echo "simple-icons: $(ls "$OUT/simple-icons/icons" | wc -l) icons"
    else
        echo "skip: npm pack simple-icons@16.37.0 failed" >&2
    fi
fi

if [ ! -d "$OUT/fontawesome/svgs" ]; then
    if (cd "$WORK" && npm pack --silent @fortawesome/fontawesome-free@7.3.1 >/dev/null 2>&1); then
        mkdir -p "$OUT/fontawesome"
        tar xzf "$WORK"/fortawesome-fontawesome-free-7.3.1.tgz -C "$OUT/fontawesome" --strip-components=1
        echo "fontawesome: $(find "$OUT/fontawesome/svgs/solid" "$OUT/fontawesome/svgs/regular" -name "*.svg" | wc -l) icons"
    else
        echo "skip: npm pack @fortawesome/fontawesome-free@7.3.1 failed" >&2
    fi
fi

fetch() {  # fetch PACKAGE: download and unpack one Debian package under $WORK/PACKAGE
    local package="$1"
    if ! (cd "$WORK" && apt-get download -q "$package" >/dev/null 2>&1); then
        echo "skip: apt-get download $package failed" >&2
        return 1
    fi
    dpkg -x "$(ls "$WORK"/"${package}"_*.deb | head -1)" "$WORK/$package"
}

keep() {  # keep PACKAGE FILE...: copy photos, prefixed with the package name
    local package="$1"; shift
    for file in "$@"; do
        [ -f "$file" ] && cp "$file" "$OUT/photos/${package}--$(basename "$file")"
    done
}

if fetch mate-backgrounds; then
    keep mate-backgrounds "$WORK"/mate-backgrounds/usr/share/backgrounds/mate/nature/*.jpg \
        "$WORK"/mate-backgrounds/usr/share/backgrounds/mate/abstract/Elephants.jpg \
        "$WORK"/mate-backgrounds/usr/share/backgrounds/mate/desktop/GreenTraditional.jpg
    cp "$WORK"/mate-backgrounds/usr/share/doc/mate-backgrounds/copyright "$OUT/photos/COPYRIGHT.mate-backgrounds"
fi
if fetch ukui-wallpapers; then
    # the photographs; the Ubuntu Kylin branded images are left out
    for name in calla.png string.jpg rollpaper.png city.png the-mouse.jpg rhythm.jpg goldfish.png desert.png \
                2004default.jpg firstgeneration.jpg; do
        keep ukui-wallpapers "$WORK/ukui-wallpapers/usr/share/backgrounds/$name"
    done
    cp "$WORK"/ukui-wallpapers/usr/share/doc/ukui-wallpapers/copyright "$OUT/photos/COPYRIGHT.ukui-wallpapers"
fi
if fetch desktop-base; then
    for theme in futureprototype joy joy-inksplat lines moonlight softwaves; do
        source="$WORK/desktop-base/usr/share/desktop-base/$theme-theme/grub/grub-16x9.png"
        [ -f "$source" ] && cp "$source" "$OUT/photos/desktop-base--$theme.png"
    done
    cp "$WORK"/desktop-base/usr/share/doc/desktop-base/copyright "$OUT/photos/COPYRIGHT.desktop-base"
fi
echo "photos: $(ls "$OUT"/photos/*.jpg "$OUT"/photos/*.png 2>/dev/null | wc -l) in $OUT/photos"
exit 0
