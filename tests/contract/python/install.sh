#!/usr/bin/env bash
set -euo pipefail
echo "nothing to install yet"
