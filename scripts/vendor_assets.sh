#!/usr/bin/env bash
# Copy the front-end assets installed by npm into static/vendor so Flask serves them locally.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=static/vendor
rm -rf "$dest" && mkdir -p "$dest/bootstrap" "$dest/bootstrap-icons" "$dest/chartjs"
cp node_modules/bootstrap/dist/css/bootstrap.min.css "$dest/bootstrap/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js "$dest/bootstrap/"
cp node_modules/bootstrap-icons/font/bootstrap-icons.min.css "$dest/bootstrap-icons/"
cp -r node_modules/bootstrap-icons/font/fonts "$dest/bootstrap-icons/"
cp node_modules/chart.js/dist/chart.umd.min.js "$dest/chartjs/"
cp node_modules/chartjs-plugin-annotation/dist/chartjs-plugin-annotation.min.js "$dest/chartjs/"
