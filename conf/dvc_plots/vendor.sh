#!/usr/bin/env bash
# Re-vendor Vega into conf/dvc_plots/offline.html, the template `dvc plots show` uses
# (.dvc/config: plots.html_template). DVC's own template loads Vega from a CDN, so its
# pages are blank offline; this one inlines the same versions DVC asks for.
# Needs npm (the npm registry); writes offline.html and LICENSES.txt beside this script.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
VEGA=5.20.2 VEGA_LITE=5.2.0 VEGA_EMBED=6.18.2   # = dvc_render.vega.VegaRenderer.SCRIPTS
work="$(mktemp -d)"; trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "vega@$VEGA" "vega-lite@$VEGA_LITE" "vega-embed@$VEGA_EMBED" >/dev/null
for spec in "vega-$VEGA" "vega-lite-$VEGA_LITE" "vega-embed-$VEGA_EMBED"; do
  pkg="${spec%-*}"; mkdir "$pkg" && tar xzf "$spec.tgz" -C "$pkg" --strip-components 1
done
{
  printf '<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n{refresh_tag}\n<title>PockNet: DVC plots</title>\n'
  printf '<!-- vega %s, vega-lite %s, vega-embed %s (BSD-3-Clause, LICENSES.txt), inlined: works offline -->\n' "$VEGA" "$VEGA_LITE" "$VEGA_EMBED"
  for js in vega/build/vega.min.js vega-lite/build/vega-lite.min.js vega-embed/build/vega-embed.min.js; do
    printf '<script type="text/javascript">\n'; cat "$js"; printf '\n</script>\n'
  done
  printf '<style>table { border-spacing: 15px; } body { font-family: sans-serif; }</style>\n</head>\n<body>\n{plot_divs}\n</body>\n</html>\n'
} > "$here/offline.html"
{ for pkg in vega vega-lite vega-embed; do echo "== $pkg =="; cat "$pkg/LICENSE"; echo; done; } > "$here/LICENSES.txt"
echo "wrote $here/offline.html ($(wc -c < "$here/offline.html") bytes)"
